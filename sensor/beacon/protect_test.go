package beacon

import (
	"net/netip"
	"testing"
	"time"

	"github.com/launchtap/launchtap/sensor/host"
	"github.com/launchtap/launchtap/sensor/slru"
)

// scanPairs beats n pairs once each (a scan): they churn probation.
func scanPairs(d *Detector, ts int64, n int) {
	for i := 0; i < n; i++ {
		k := PairKey{Host: host.AddrKey(netip.MustParseAddr("10.0.0.9")), DestIP: netip.AddrFrom4([4]byte{44, byte(i >> 16), byte(i >> 8), byte(i)}), Port: 80, Proto: 6}
		d.Beat(k, k.DestIP, ts+int64(i))
	}
}

// A pair that arrives with its beats — moved to its name by Rekey, or
// restored by Import after a restart — is protected like the pair it was, so
// a scan cannot push its history out.
func TestPairsWithHistoryStayProtected(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxPairs = 64
	src, dst := netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("198.51.100.7")
	byAddr := PairKey{Host: host.AddrKey(src), DestIP: dst, Port: 443, Proto: 6}
	named := PairKey{Host: host.AddrKey(src), Dest: "c2.example", Port: 443, Proto: 6}
	beat := func(d *Detector, k PairKey, n int) {
		for i := 0; i < n; i++ {
			d.Beat(k, dst, int64(i)*int64(time.Minute))
		}
	}
	for _, tc := range []struct {
		name string
		run  func() (*Detector, PairKey)
	}{
		{"rekeyed", func() (*Detector, PairKey) {
			d := NewDetector(cfg)
			beat(d, byAddr, 3)
			d.Rekey(byAddr, named)
			return d, named
		}},
		{"rekeyed onto a one-beat pair", func() (*Detector, PairKey) {
			d := NewDetector(cfg)
			beat(d, byAddr, 3)
			d.Beat(named, dst, 30*int64(time.Second))
			d.Rekey(byAddr, named)
			return d, named
		}},
		{"imported", func() (*Detector, PairKey) {
			d := NewDetector(cfg)
			beat(d, named, 4)
			var states []*PairState
			d.Export(0, func(s *PairState) { states = append(states, s) })
			d2 := NewDetector(cfg)
			for _, s := range states {
				if err := d2.Import(s); err != nil {
					t.Fatal(err)
				}
			}
			return d2, named
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, k := tc.run()
			if seg, ok := d.lru.SegmentOf(d.id(k)); !ok || seg != slru.Protected {
				t.Fatalf("pair in %v (tracked %v), want protected", seg, ok)
			}
			scanPairs(d, 10*int64(time.Minute), 1000)
			if _, ok := d.peek(k); !ok {
				t.Error("a scan evicted the pair's history")
			}
		})
	}
}
