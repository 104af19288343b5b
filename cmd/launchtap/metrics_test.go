package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

// kernelSnap is a snapshot with two interfaces' kernel counters, as
// addCaptureStats reports them.
func kernelSnap(drops0, drops1 uint64) snapshot {
	var snap snapshot
	snap.counters = map[string]uint64{}
	add := func(name string, v uint64, iface string) {
		snap.metrics = append(snap.metrics, sample{name: name, help: name, counter: true, value: float64(v), labels: labelNames(name), labelVals: []string{iface}})
		snap.counters[name+"_"+iface] = v
	}
	add("kernel_packets", 1000, "eth0")
	add("kernel_drops", drops0, "eth0")
	add("kernel_packets", 500, "eth1")
	add("kernel_drops", drops1, "eth1")
	snap.counters["packets"] = 1500
	return snap
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
// the interface that dropped, naming it; the headline has the total.
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
	if h := headline(kernelSnap(4, 5).counters); h["drops"] != 9 || h["kernel_drops"] != 9 {
		t.Errorf("headline drops %d, kernel_drops %d: want the sum over interfaces, 9", h["drops"], h["kernel_drops"])
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
