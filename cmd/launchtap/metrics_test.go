package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/launchtap/launchtap/sensor/capture/live"
)

const metricNamesGolden = "testdata/metric-names.golden"

// TestMetricNamesArePinned keeps the Prometheus metric names (with their type
// and labels) and the stats-line / SENSOR-STATS keys exactly as they were
// when the names moved into one table: they are contracts with dashboards,
// alert rules and SIEM parsers. Adding a name means updating the golden file
// with -update; a name that disappears or changes fails here.
func TestMetricNamesArePinned(t *testing.T) {
	s := testSensor(t)
	// Statuses appear once an alert left with them; give each one.
	for _, status := range []string{"matched", "no-match", "host-not-found", "unavailable", "not-configured"} {
		s.stage.Counters.EnrichmentsByCode.Store(status, new(atomic.Uint64))
	}
	kernel := func(add func(sample)) { addCaptureStats(&live.Capture{}, add, s.log) }

	var b strings.Builder
	fmt.Fprintln(&b, "# Prometheus series under `launchtap run` with one --syslog destination: name type {labels}")
	for _, line := range promSeries(t, func() snapshot { return s.snapshot(kernel) }) {
		fmt.Fprintln(&b, line)
	}
	fmt.Fprintln(&b, "# stats line and SENSOR-STATS keys under `launchtap replay`")
	fmt.Fprintln(&b, strings.Join(sortedKeys(headline(s.snapshot(nil).counters)), " "))
	fmt.Fprintln(&b, "# stats line and SENSOR-STATS keys under `launchtap run`")
	fmt.Fprintln(&b, strings.Join(sortedKeys(headline(s.snapshot(kernel).counters)), " "))
	got := b.String()

	if *update {
		if err := os.WriteFile(metricNamesGolden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(metricNamesGolden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("metric names or stats keys differ from %s (they are contracts: add, never rename or drop; -update when adding):\ngot:\n%s\nwant:\n%s", metricNamesGolden, got, want)
	}
}

// testSensor builds the sensor `make demo` builds, with one syslog
// destination that nothing listens on (UDP: nothing is sent before an alert).
func testSensor(t *testing.T) *sensor {
	t.Helper()
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o := newSensorFlags(fs)
	args := []string{"--sensor-name", "demo", "--inventory", "../../testdata/inventory.json", "--workers", "1",
		"--syslog", "udp://127.0.0.1:9", "--stats-interval", "0"}
	if err := parseFlags(fs, args, o); err != nil {
		t.Fatal(err)
	}
	s, err := o.build(io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.finish(context.Background()) })
	return s
}

// promSeries lists every series the collector exposes, values left out.
func promSeries(t *testing.T, snap func() snapshot) []string {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{snap: snap})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gathering metrics: %v", err)
	}
	var lines []string
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			lines = append(lines, fmt.Sprintf("%s %s {%s}", mf.GetName(), strings.ToLower(mf.GetType().String()), strings.Join(labels, ",")))
		}
	}
	slices.Sort(lines)
	return lines
}

func sortedKeys(m map[string]uint64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
