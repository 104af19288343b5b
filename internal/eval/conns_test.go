package eval

import (
	"path/filepath"
	"testing"

	"github.com/launchtap/launchtap/internal/synth"
	"github.com/launchtap/launchtap/sensor/netset"
)

// TestConnectionsRebuildsTheDemoBeacon re-reads a generated demo capture and
// checks that the planted beacon comes out as one RITA pair, named by DNS,
// with one connection per labelled beat, and that RITA scores it high.
func TestConnectionsRebuildsTheDemoBeacon(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a 2.5 h capture")
	}
	path := filepath.Join(t.TempDir(), "demo.pcap")
	labels, _, err := synth.WriteFile(path, "", "demo", 1, synth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	conns, first, last, err := connections(path, netset.MustParse(netset.DefaultInternal))
	if err != nil {
		t.Fatal(err)
	}
	if last-first < 9000 {
		t.Fatalf("dataset spans %d s, want the scenario's ~9300 s", last-first)
	}
	var want int
	for _, l := range labels {
		if l.DstFQDN == synth.DemoBeaconFQDN {
			want = l.Beats
		}
	}
	var got []ritaPair
	for _, p := range ritaPairs(conns, first, last) {
		if p.src == synth.DemoBeaconIP && p.fqdn == synth.DemoBeaconFQDN {
			got = append(got, p)
		}
		if p.src == "10.20.3.9" && p.fqdn == "ci.corp.example" {
			t.Error("internal destination kept; RITA filters internal-to-internal")
		}
	}
	if len(got) != 1 || got[0].conns != want || len(got[0].dst) < 2 {
		t.Fatalf("beacon pairs %+v, want one with %d connections over the rotating addresses", got, want)
	}
	if got[0].score.Score < 0.9 {
		t.Errorf("RITA score of the planted beacon %.3f, want >= 0.9", got[0].score.Score)
	}
}
