package pipeline

import (
	"net/netip"
	"testing"
	"time"

	"github.com/launchtap/launchtap/sensor/decode"
)

// batchFilter is a kernel pre-filter's counters: every direction counted 3
// packets of 100 payload bytes. It records the batches it was asked.
type batchFilter struct {
	batches [][]FlowTake
	singles int
}

func (f *batchFilter) Take(netip.Addr, netip.Addr, uint16, uint16, uint8, bool) (uint64, uint64) {
	f.singles++
	return 3, 100
}

func (f *batchFilter) TakeBatch(reqs []FlowTake) {
	for i := range reqs {
		reqs[i].Pkts, reqs[i].Bytes = 3, 100
	}
	f.batches = append(f.batches, append([]FlowTake(nil), reqs...))
}

// Sessions that end are taken from the filter in batches, a second of
// capture time after the first of them ended, not one kernel call each; a
// session begun again on the same 5-tuple is told apart as a restart.
func TestFilteredCountsTakenInBatches(t *testing.T) {
	f := &batchFilter{}
	cfg := DefaultConfig()
	cfg.Workers = 1
	cfg.Filtered = f
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := p.workers[0]
	mac, srv := netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("198.51.100.7")
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC).UnixNano()
	session := func(ts int64, port uint16, close bool) {
		pkts := []decode.Packet{
			{Src: mac, Dst: srv, SrcPort: port, DstPort: 443, TCPFlags: decode.TCPSyn},
			{Src: srv, Dst: mac, SrcPort: 443, DstPort: port, TCPFlags: decode.TCPSyn | decode.TCPAck},
		}
		if close {
			pkts = append(pkts,
				decode.Packet{Src: mac, Dst: srv, SrcPort: port, DstPort: 443, TCPFlags: decode.TCPFin | decode.TCPAck},
				decode.Packet{Src: srv, Dst: mac, SrcPort: 443, DstPort: port, TCPFlags: decode.TCPFin | decode.TCPAck})
		}
		for i := range pkts {
			pkts[i].TS, pkts[i].Proto = ts+int64(i)*int64(time.Millisecond), decode.ProtoTCP
			w.handle(&pkts[i], decode.OK)
		}
	}
	for i := 0; i < 3; i++ {
		session(t0+int64(i)*int64(100*time.Millisecond), uint16(50000+i), true)
	}
	session(t0+int64(500*time.Millisecond), 50000, false) // the first 5-tuple again, still open
	if len(f.batches) != 0 || f.singles != 0 {
		t.Fatalf("counts taken before a second had passed: %d batches, %d single takes", len(f.batches), f.singles)
	}
	session(t0+int64(1200*time.Millisecond), 51000, false) // a packet a second later takes the batch
	if len(f.batches) != 1 || f.singles != 0 {
		t.Fatalf("%d batches and %d single takes, want one batch", len(f.batches), f.singles)
	}
	b := f.batches[0]
	if len(b) != 6 {
		t.Fatalf("batch of %d directions, want 6 (3 sessions, both ways)", len(b))
	}
	for i, r := range b {
		wantRestart := i < 2 // port 50000 is in use again
		if r.Restarted != wantRestart {
			t.Errorf("request %d (%s:%d -> %s:%d): restarted %v, want %v", i, r.Src, r.SrcPort, r.Dst, r.DstPort, r.Restarted, wantRestart)
		}
		if i%2 == 0 && (r.Src != mac || r.Dst != srv || r.DstPort != 443) || i%2 == 1 && (r.Src != srv || r.SrcPort != 443) {
			t.Errorf("request %d: %s:%d -> %s:%d is not the session's direction", i, r.Src, r.SrcPort, r.Dst, r.DstPort)
		}
	}
	// One beat (three starts within the group window): its first session's
	// sizes count, the other two are offered and refused.
	if st := w.det.Stats(); st.Sizes != 1 || st.SizesLost != 2 {
		t.Errorf("sizes recorded %d, refused %d; want 1 and 2", st.Sizes, st.SizesLost)
	}
	w.flush() // the end of the capture takes what is left
	if len(f.batches) != 2 || len(f.batches[1]) != 4 {
		t.Errorf("after flush: %d batches, want a second one of 4 directions", len(f.batches))
	}
}
