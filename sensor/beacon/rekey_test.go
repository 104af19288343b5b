package beacon

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/launchtap/launchtap/sensor/host"
)

func TestRekey(t *testing.T) {
	dst := netip.MustParseAddr("203.0.113.10")
	src := netip.MustParseAddr("10.0.0.5")
	byAddr := PairKey{Host: host.AddrKey(src), DestIP: dst, Port: 443, Proto: 6}
	named := PairKey{Host: host.AddrKey(src), Dest: "updates.example.com", Port: 443, Proto: 6}
	const period = 300 * int64(time.Second)
	for _, tc := range []struct {
		name            string
		addrBeats       []int // beat numbers keyed by address
		namedBeats      []int // and by name, before the rekey
		wantBeats, hist int
	}{
		{"move", []int{0, 1, 2}, nil, 3, 3},
		{"merge", []int{0, 2, 4}, []int{1, 3, 5}, 6, 6},
		{"merge with a beat in both", []int{0, 1}, []int{1, 2}, 3, 3},
		{"single beat each", []int{0}, []int{1}, 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDetector(DefaultConfig())
			for _, i := range tc.addrBeats {
				d.Beat(byAddr, dst, int64(i)*period)
			}
			for _, i := range tc.namedBeats {
				d.Beat(named, dst, int64(i)*period+int64(time.Second))
			}
			if !d.Rekey(byAddr, named) {
				t.Fatal("Rekey found no pair")
			}
			if _, ok := d.peek(byAddr); ok {
				t.Fatal("the address-keyed pair is still tracked")
			}
			p, ok := d.peek(named)
			if !ok {
				t.Fatal("no named pair")
			}
			if int(p.beats) != tc.wantBeats {
				t.Fatalf("beats %d, want %d", p.beats, tc.wantBeats)
			}
			if got := len(beatsOf(p)); got != tc.hist {
				t.Fatalf("history of %d, want %d", got, tc.hist)
			}
			bs := beatsOf(p)
			for i := 1; i < len(bs); i++ {
				if bs[i].t <= bs[i-1].t {
					t.Fatalf("history out of order: %v", bs)
				}
			}
			if d.Rekey(byAddr, named) {
				t.Fatal("second Rekey moved something")
			}
		})
	}
}

// TestRekeyThenAlert: beats split between an address and a name alert as
// one pair once merged.
func TestRekeyThenAlert(t *testing.T) {
	src := netip.MustParseAddr("10.0.0.5")
	named := PairKey{Host: host.AddrKey(src), Dest: "updates.example.com", Port: 443, Proto: 6}
	d := NewDetector(DefaultConfig())
	const period = 300 * int64(time.Second)
	var f *Finding
	for i := range 12 {
		dst := netip.AddrFrom4([4]byte{203, 0, 113, byte(i % 5)})
		k := named
		if i%2 == 0 {
			k = PairKey{Host: host.AddrKey(src), DestIP: dst, Port: 443, Proto: 6}
		}
		d.Beat(k, dst, int64(i)*period)
		if k != named {
			d.Rekey(k, named)
		}
		if p, ok := d.peek(named); ok && p.beats != uint32(i+1) {
			t.Fatalf("after beat %d the named pair has %d", i, p.beats)
		}
	}
	f = d.Beat(named, netip.AddrFrom4([4]byte{203, 0, 113, 1}), 12*period)
	if f == nil {
		// It may already have alerted on an earlier beat: check the state.
		p, _ := d.peek(named)
		if p.alerted == 0 {
			t.Fatal("the merged pair never alerted")
		}
	}
}

// TestAddrPairsCountTable checks Rekey's shortcut against the table: after
// beats, evictions, renames and removals, addrPairs holds exactly the
// address-keyed pairs tracked, so a zero never hides one.
func TestAddrPairsCountTable(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxPairs = 64 // small: most pairs are evicted along the way
	d := NewDetector(cfg)
	rng := rand.New(rand.NewPCG(1, 2))
	src := host.AddrKey(netip.MustParseAddr("10.0.0.5"))
	for i := range 20000 {
		dst := netip.AddrFrom4([4]byte{203, 0, 113, byte(rng.IntN(40))})
		k := PairKey{Host: src, DestIP: dst, Port: 443, Proto: 6, Kind: Kind(rng.IntN(2))}
		ts := int64(i) * int64(time.Second)
		switch rng.IntN(4) {
		case 0, 1:
			d.Beat(k, dst, ts)
		case 2:
			named := k
			named.DestIP, named.Dest = netip.Addr{}, "n"+dst.String()
			d.Rekey(k, named)
		case 3:
			d.Beat(PairKey{Host: src, Dest: "other.example", Port: 443, Proto: 6}, dst, ts)
		}
	}
	// Imports of pairs already tracked replace them in place (a restart's
	// restore over a pair beaten since): each still counts once.
	d.Export(0, func(s *PairState) {
		if err := d.Import(s); err != nil {
			t.Fatal(err)
		}
	})
	var want [len(d.addrPairs)]uint32
	for _, p := range d.lru.Values() {
		if p.key.Dest == "" {
			want[addrSlot(p.key.DestIP)]++
		}
	}
	if want != d.addrPairs {
		t.Fatal("addrPairs does not count the address-keyed pairs tracked")
	}
	if d.Stats().Evictions == 0 || d.Stats().Rekeyed == 0 {
		t.Fatalf("the test made no evictions or renames: %+v", d.Stats())
	}
}
