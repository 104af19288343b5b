package floodcap

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/launchtap/launchtap/internal/synth"
	"github.com/launchtap/launchtap/sensor/capture"
	"github.com/launchtap/launchtap/sensor/decode"
)

// The flood decodes to n scan SYNs to n distinct destinations, plus one
// whole beacon session per period, in timestamp order.
func TestWrite(t *testing.T) {
	var buf bytes.Buffer
	w, err := synth.NewWriter(&buf, false)
	if err != nil {
		t.Fatal(err)
	}
	const n = 25_000
	if err := Write(w, Options{Packets: n, Rate: 1000, Period: 10e9}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	src, err := capture.Options{Stdin: &buf}.Open("-")
	if err != nil {
		t.Fatal(err)
	}
	var (
		dec                 decode.Decoder
		f                   capture.Frame
		p                   decode.Packet
		scans, beacon, last int64
	)
	dsts := map[netip.Addr]bool{}
	scanner, mac := netip.AddrFrom4(Scanner), netip.AddrFrom4(Mac)
	for src.Next(&f) == nil {
		if k := dec.Decode(&f, &p); k != decode.OK {
			t.Fatalf("frame %d: %v", scans+beacon, k)
		}
		if p.TS < last {
			t.Fatalf("timestamps go back at %d", p.TS)
		}
		last = p.TS
		switch {
		case p.Src == scanner && p.TCPFlags == decode.TCPSyn:
			scans++
			dsts[p.Dst] = true
		case p.Src == mac || p.Dst == mac:
			beacon++
		default:
			t.Fatalf("unexpected packet %v -> %v", p.Src, p.Dst)
		}
	}
	if scans != n || len(dsts) != n {
		t.Errorf("%d scan SYNs to %d destinations, want %d each", scans, len(dsts), n)
	}
	// 25 s at 1000/s with a 10 s period: beats at 0, 10 and 20 s, 5 packets each.
	if beacon != 15 {
		t.Errorf("%d beacon packets, want 15", beacon)
	}
	if err := Write(w, Options{}); err == nil {
		t.Error("no error for zero packets")
	}
}
