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
	// session runs a TCP session from port to the server's port 443+i: each
	// i is a pair of its own.
	session := func(ts int64, port uint16, close bool, i uint16) {
		sp := 443 + i
		pkts := []decode.Packet{
			{Src: mac, Dst: srv, SrcPort: port, DstPort: sp, TCPFlags: decode.TCPSyn},
			{Src: srv, Dst: mac, SrcPort: sp, DstPort: port, TCPFlags: decode.TCPSyn | decode.TCPAck},
			// A first request that names nothing (no TLS, no HTTP): the
			// session, which no DNS answer named, beats now.
			{Src: mac, Dst: srv, SrcPort: port, DstPort: sp, TCPFlags: decode.TCPAck | decode.TCPPsh, Payload: []byte("\x00\x01ping"), PayloadLen: 6},
		}
		if close {
			pkts = append(pkts,
				decode.Packet{Src: mac, Dst: srv, SrcPort: port, DstPort: sp, TCPFlags: decode.TCPFin | decode.TCPAck},
				decode.Packet{Src: srv, Dst: mac, SrcPort: sp, DstPort: port, TCPFlags: decode.TCPFin | decode.TCPAck})
		}
		for i := range pkts {
			pkts[i].TS, pkts[i].Proto = ts+int64(i)*int64(time.Millisecond), decode.ProtoTCP
			w.read(&pkts[i], decode.OK)
		}
	}
	for i := 0; i < 3; i++ {
		session(t0+int64(i)*int64(100*time.Millisecond), uint16(50000+i), true, uint16(i))
	}
	if len(f.batches) != 0 || f.singles != 0 {
		t.Fatalf("counts taken before a second had passed: %d batches, %d single takes", len(f.batches), f.singles)
	}
	session(t0+int64(1200*time.Millisecond), 51000, false, 9) // a packet a second later takes the batch
	if len(f.batches) != 1 || f.singles != 0 {
		t.Fatalf("%d batches and %d single takes, want one batch", len(f.batches), f.singles)
	}
	// The first 5-tuple again while its last session waits: the new start
	// takes the counts first, and tells the old session apart as a restart.
	session(t0+int64(1500*time.Millisecond), 50001, true, 1)
	session(t0+int64(1600*time.Millisecond), 50001, false, 1)
	if len(f.batches) != 2 || len(f.batches[1]) != 2 || !f.batches[1][0].Restarted {
		t.Fatalf("reopened 5-tuple: batches %d, last %+v; want a second batch of one restarted session", len(f.batches), f.batches[len(f.batches)-1])
	}
	b := f.batches[0]
	if len(b) != 6 {
		t.Fatalf("batch of %d directions, want 6 (3 sessions, both ways)", len(b))
	}
	for i, r := range b {
		if r.Restarted {
			t.Errorf("request %d (%s:%d -> %s:%d): restarted, no 5-tuple was reused", i, r.Src, r.SrcPort, r.Dst, r.DstPort)
		}
		if sp := uint16(443 + i/2); i%2 == 0 && (r.Src != mac || r.Dst != srv || r.DstPort != sp) || i%2 == 1 && (r.Src != srv || r.SrcPort != sp) {
			t.Errorf("request %d: %s:%d -> %s:%d is not the session's direction", i, r.Src, r.SrcPort, r.Dst, r.DstPort)
		}
	}
	// Three pairs of one beat each, then the reopened pair's first session
	// again: its sizes were in, the second start is grouped into its beat.
	if st := w.det.Stats(); st.Sizes != 3 || st.SizesLost != 1 {
		t.Errorf("sizes recorded %d, refused %d; want 3 and 1", st.Sizes, st.SizesLost)
	}
	// A new session of the pair whose sessions wait for their counts takes
	// them before its beat is scored, whatever the time.
	session(t0+int64(20*time.Second), 50100, true, 5)
	if len(f.batches) != 2 {
		t.Fatalf("%d batches before the pair's next beat, want still 2", len(f.batches))
	}
	session(t0+int64(20500*time.Millisecond), 50101, false, 5)
	if len(f.batches) != 3 || len(f.batches[2]) != 2 {
		t.Fatalf("the pair's next beat did not take its ended session first: %d batches", len(f.batches))
	}
	if st := w.det.Stats(); st.Sizes != 4 {
		t.Errorf("sizes recorded %d, want 4", st.Sizes)
	}
	w.flush() // the end of the capture takes what is left
	if n := len(f.batches); n != 4 || len(f.batches[3]) != 6 {
		t.Errorf("after flush: %d batches, want a fourth one of 6 directions (the three open sessions)", n)
	}
}
