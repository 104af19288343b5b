package hostid

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// TestDemoHostsGolden pins the host table for the committed demo capture
// (DEMO.md: alices-mbp and bobs-mbp are macOS, win-desk-07 Windows,
// build-linux Debian). Run with -update after an intended change.
func TestDemoHostsGolden(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	demo := filepath.Join(filepath.Dir(file), "..", "..", "testdata", "demo.pcapng")
	if _, err := os.Stat(demo); err != nil {
		t.Skipf("demo capture absent: %v", err)
	}
	tb := newTable(t, Config{Internal: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	replayFile(t, tb, demo, false)
	hosts := tb.Hosts()
	slices.SortFunc(hosts, func(a, b Host) int { return strings.Compare(a.IP+a.MAC, b.IP+b.MAC) })
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	want := map[string]Platform{"10.20.1.15": MacOS, "10.20.1.22": MacOS, "10.20.2.40": Windows, "10.20.3.9": Linux}
	for _, h := range hosts {
		if os, ok := want[h.IP]; ok && h.OS != os {
			t.Errorf("%s (%s): %s, want %s", h.IP, h.Hostname, h.OS, os)
		}
		// Pin the verdict and the evidence, not packet counts or times, so
		// the golden follows launchtap's behaviour rather than synth's exact
		// packet schedule.
		row := struct {
			IP, MAC, OS, Hostname string
			Confidence            float64
			Evidence              []string
		}{h.IP, h.MAC, string(h.OS), h.Hostname, h.Confidence, nil}
		for _, e := range h.Evidence {
			if i := strings.LastIndex(e, " ×"); i > 0 {
				e = e[:i]
			}
			row.Evidence = append(row.Evidence, e)
		}
		if err := enc.Encode(row); err != nil {
			t.Fatal(err)
		}
	}
	golden := filepath.Join("testdata", "demo.hosts.jsonl")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, buf.Bytes()) {
		g, w := strings.Split(string(got), "\n"), strings.Split(buf.String(), "\n")
		for i := range max(len(g), len(w)) {
			var a, b string
			if i < len(g) {
				a = g[i]
			}
			if i < len(w) {
				b = w[i]
			}
			if a != b {
				t.Errorf("host table differs from %s at line %d (run with -update if intended):\n golden: %s\n    now: %s", golden, i+1, a, b)
				break
			}
		}
	}
}
