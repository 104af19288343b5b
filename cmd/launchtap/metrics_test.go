package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/launchtap/launchtap/sensor/capture/live"
	"github.com/launchtap/launchtap/sensor/decode"
	"github.com/launchtap/launchtap/sensor/hub/proc"
	"github.com/launchtap/launchtap/sensor/pipeline"
	"github.com/launchtap/launchtap/sensor/syslog"
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
	kernel := captureReadings(&live.Capture{}, s.log)

	var b strings.Builder
	fmt.Fprintln(&b, "# Prometheus series under `launchtap run` with one --syslog destination: name type {labels}")
	for _, line := range promSeries(t, func() snapshot { return s.snapshot(kernel) }) {
		fmt.Fprintln(&b, line)
	}
	fmt.Fprintln(&b, "# stats line and SENSOR-STATS keys under `launchtap replay`")
	fmt.Fprintln(&b, strings.Join(sortedKeys(s.snapshot(nil).stats), " "))
	fmt.Fprintln(&b, "# stats line and SENSOR-STATS keys under `launchtap run`")
	fmt.Fprintln(&b, strings.Join(sortedKeys(s.snapshot(kernel).stats), " "))
	hub := proc.Stats{Records: map[string]uint64{"beat": 1, "host": 1}}
	fmt.Fprintln(&b, "# Prometheus series under `launchtap hub` with one --syslog destination")
	for _, line := range promSeries(t, func() snapshot { return s.hubSnapshot(hub) }) {
		fmt.Fprintln(&b, line)
	}
	fmt.Fprintln(&b, "# stats line keys under `launchtap hub`")
	fmt.Fprintln(&b, strings.Join(sortedKeys(s.hubSnapshot(hub).stats), " "))
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
	o, _ := testFlags(t, "--sensor-name", "demo", "--inventory", "../../testdata/inventory.json", "--workers", "1",
		"--syslog", "udp://127.0.0.1:9", "--stats-interval", "0")
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

// fullReadings has every source present, each counter a distinct value.
func fullReadings() *readings {
	r := &readings{alerts: new(pipeline.AlertCounters), kernel: &live.Stats{Packets: 900, Drops: 7, Freezes: 3},
		state: &stateReading{bytes: 4096, at: time.Unix(1.8e9, 0), durationMs: 12, errors: 1},
		hub:   &hubReading{reloads: 1}}
	for k := range r.pipe.Decode {
		r.pipe.Decode[k] = uint64(10 + k) // OK, then every error kind
	}
	r.pipe.Frames, r.pipe.Bytes = 1000, 64000
	r.pipe.Beacon.Pairs = 42
	r.pipe.Hosts.Evictions, r.pipe.Flow.Evictions, r.pipe.DNSNameEvictions = 1, 2, 4
	r.alerts.HeldEvictions.Add(8)
	r.alerts.Emitted.Add(5)
	r.fleet = pipeline.FleetCounters{Groups: 1, Joined: 13, Updates: 12, Evictions: 16}
	r.enrich.Lookups, r.enrich.Failures = 6, 2
	r.syslog = []syslog.DestCounters{
		{URL: "udp://a:514", Queued: 9, Dropped: 1},
		{URL: "tcp://b:514", Queued: 9, Dropped: 20},
	}
	m := new(atomic.Uint64)
	m.Add(4)
	r.alerts.EnrichmentsByCode.Store("matched", m)
	return r
}

func TestStatsLineTotals(t *testing.T) {
	r := fullReadings()
	var decodeErrs uint64
	for k, v := range r.pipe.Decode {
		switch decode.ErrKind(k) {
		case decode.OK, decode.ErrNotIP, decode.ErrOtherTransport: // not errors
		default:
			decodeErrs += v
		}
	}
	got := r.snapshot(metricDefs).stats
	for k, want := range map[string]uint64{
		"packets":             1000,
		"bytes":               64000,
		"pairs":               42, // the name for pairs_tracked
		"pairs_tracked":       42,
		"alerts":              5,
		"drops":               7, // the kernel's: nothing else drops packets
		"kernel_drops":        7,
		"kernel_freezes":      3,
		"decode_errors":       decodeErrs,
		"evictions":           1 + 2 + 4 + 8 + 16,
		"fleet_groups":        1,
		"fleet_joined":        13,
		"fleet_updates":       12,
		"mdm_failures":        2,
		"enrichment_failures": 2,
		"mdm_lookups":         6,
		"enrichment_matched":  4,
		"syslog_dropped":      21, // both destinations
	} {
		if got[k] != want {
			t.Errorf("stats %s = %d, want %d", k, got[k], want)
		}
	}
	if got, want := decodeErrs, r.pipe.DecodeErrors(); got != want {
		t.Errorf("stats decode_errors %d, pipeline.Stats.DecodeErrors %d: the summary and the stats line disagree", got, want)
	}
	if _, ok := got["kernel_packets"]; ok {
		t.Error("kernel_packets is Prometheus-only, yet on the stats line")
	}

	// Under replay there is no kernel: its keys are absent, drops is 0.
	r.kernel = nil
	got = r.snapshot(metricDefs).stats
	if v, ok := got["drops"]; !ok || v != 0 {
		t.Errorf("replay: drops = %d (present %v), want 0", v, ok)
	}
	if _, ok := got["kernel_drops"]; ok {
		t.Error("replay: kernel_drops on the stats line")
	}
}

// TestMetricDefs checks what Prometheus and RFC 5424 would only reject at
// run time: unique names, help, one value per label, short stats keys.
func TestMetricDefs(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range metricDefs {
		if seen[d.promName()] {
			t.Errorf("metric %s defined twice", d.promName())
		}
		seen[d.promName()] = true
		if d.help == "" {
			t.Errorf("metric %s has no help", d.name)
		}
		if (d.stats == statsSum || d.stats == statsPerLabel) && len(d.labels) == 0 {
			t.Errorf("metric %s: a labelled stats rule on an unlabelled metric", d.name)
		}
	}
	snap := fullReadings().snapshot(metricDefs)
	for _, m := range snap.metrics {
		if len(m.labelVals) != len(m.def.labels) {
			t.Errorf("metric %s: %d label values for labels %v", m.def.name, len(m.labelVals), m.def.labels)
		}
	}
	for k := range snap.stats {
		if len(k) > 32 {
			t.Errorf("stats key %q is longer than an RFC 5424 PARAM-NAME (32)", k)
		}
	}
	// The collector must accept every series.
	if lines := promSeries(t, func() snapshot { return snap }); len(lines) < len(metricDefs) {
		t.Errorf("%d series for %d metrics", len(lines), len(metricDefs))
	}
}

// TestMetricsDocumented keeps docs/metrics.md, the reference a dashboard or
// SIEM parser is written against, naming every metric and stats key.
func TestMetricsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range metricDefs {
		names := []string{d.promName(), d.alias, d.statsAs}
		switch {
		case d.stats == statsAsIs, d.stats == statsSum && d.statsAs == "":
			names = append(names, d.name)
		case d.stats == statsPerLabel:
			names = append(names, d.name+"_")
		}
		for _, n := range names {
			if n != "" && !strings.Contains(string(doc), "`"+n+"`") {
				t.Errorf("docs/metrics.md does not name `%s`", n)
			}
		}
	}
}

// kernelSnap is a snapshot with two interfaces' kernel counters, as
// captureReadings reads them.
func kernelSnap(drops0, drops1 uint64) snapshot {
	r := &readings{alerts: new(pipeline.AlertCounters), kernel: &live.Stats{Drops: drops0 + drops1},
		ifaces: []ifaceKernel{{name: "eth0", packets: 1000, drops: drops0}, {name: "eth1", packets: 500, drops: drops1}}}
	r.pipe.Frames = 1500
	return r.snapshot(metricDefs)
}

func TestMetricsEndpoint(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := serveMetrics(ctx, "127.0.0.1:0", func() snapshot { return kernelSnap(3, 0) }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`launchtap_kernel_drops_total{interface="eth0"} 3`,
		`launchtap_kernel_drops_total{interface="eth1"} 0`,
		"process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds", // process collector
		"go_goroutines", "go_memstats_heap_alloc_bytes", // Go collector
		"go_build_info{", // build-info collector
		`launchtap_build_info{version="` + version + `"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestDropsWarnPerInterface: a drop burst is one WARN line per interval for
// the interface that dropped, naming it; the stats line has the total.
func TestDropsWarnPerInterface(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	var n int
	snap := func() snapshot {
		n++
		return kernelSnap(uint64(7*n), 0)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { logStats(ctx, 20*time.Millisecond, snap, log, nil); close(done) }()
	time.Sleep(110 * time.Millisecond)
	cancel()
	<-done
	out := buf.String()
	if !strings.Contains(out, `level=WARN msg="kernel dropped packets in the last interval: the capture ring overflowed" interface=eth0 drops=7`) {
		t.Errorf("no drop warning for eth0:\n%s", out)
	}
	if strings.Contains(out, "interface=eth1") {
		t.Errorf("warning for eth1, which dropped nothing:\n%s", out)
	}
	if !strings.Contains(out, "level=INFO msg=stats") || !strings.Contains(out, " drops=") {
		t.Errorf("no stats line with the total drops:\n%s", out)
	}
	if h := kernelSnap(4, 5).stats; h["drops"] != 9 || h["kernel_drops"] != 9 {
		t.Errorf("stats drops %d, kernel_drops %d: want the sum over interfaces, 9", h["drops"], h["kernel_drops"])
	}
}

// TestRatesRounded: the stats line's rate has three significant digits.
func TestRatesRounded(t *testing.T) {
	var buf bytes.Buffer
	log, err := newLogger("info", "text", &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("stats", "packets_per_s", float64(1004)/60)
	if !strings.Contains(buf.String(), "packets_per_s=16.7\n") {
		t.Errorf("got %q", buf.String())
	}
}
