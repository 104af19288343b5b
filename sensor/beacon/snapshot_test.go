package beacon

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"

	"github.com/launchtap/launchtap/sensor/host"
)

// A detector restored from another's exported state must go on exactly as
// the original: same findings at the same beats, with the same evidence.
func TestExportImportContinuesAsOneDetector(t *testing.T) {
	for _, split := range []int{1, 2, 5, 6, 9, 33, 40} {
		r := rand.New(rand.NewPCG(uint64(split), 7))
		keys := []PairKey{testKey, {Host: host.AddrKey(netip.MustParseAddr("10.0.0.9")), DestIP: netip.MustParseAddr("198.51.100.7"), Port: 8443, Proto: 6}}
		type ev struct {
			k   PairKey
			dst netip.Addr
			ts  int64
		}
		var evs []ev
		for i := 0; i < 60; i++ {
			for j, k := range keys {
				ts := sec(5000 + float64(i)*(120+60*float64(j)) + r.Float64()*2)
				evs = append(evs, ev{k, netip.AddrFrom4([4]byte{203, 0, 113, byte(i % 6)}), ts})
			}
		}
		one, a := NewDetector(DefaultConfig()), NewDetector(DefaultConfig())
		var want, got []*Finding
		for i, e := range evs {
			if f := one.Beat(e.k, e.dst, e.ts); f != nil {
				want = append(want, f)
			}
			if i == 2*split {
				b := NewDetector(DefaultConfig())
				a.Export(0, func(s *PairState) {
					raw, err := s.MarshalBinary()
					if err != nil {
						t.Fatal(err)
					}
					var back PairState
					if err := back.UnmarshalBinary(raw); err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(&back, s) {
						t.Fatalf("round trip: got %+v, want %+v", back, *s)
					}
					if err := b.Import(&back); err != nil {
						t.Fatal(err)
					}
				})
				a = b
			}
			one.Sizes(e.k, e.ts, 600, 4096)
			if f := a.Beat(e.k, e.dst, e.ts); f != nil {
				got = append(got, f)
			}
			a.Sizes(e.k, e.ts, 600, 4096)
		}
		if len(want) == 0 {
			t.Fatal("no findings in the single run")
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("split after %d beats: restored detector found %d, single run %d", split, len(got), len(want))
			for i := range min(len(got), len(want)) {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Errorf("first difference at %d:\n got %+v\nwant %+v", i, got[i], want[i])
					break
				}
			}
		}
	}
}

func TestExportSince(t *testing.T) {
	d := NewDetector(DefaultConfig())
	k2 := testKey
	k2.Port = 22
	d.Beat(testKey, netip.Addr{}, sec(100))
	d.Beat(k2, netip.Addr{}, sec(200))
	var n int
	d.Export(sec(150), func(s *PairState) {
		n++
		if s.Key != k2 {
			t.Errorf("exported %v, want only the pair beaten after the cut", s.Key)
		}
	})
	if n != 1 {
		t.Errorf("exported %d pairs, want 1", n)
	}
}

func TestUnmarshalRejects(t *testing.T) {
	good := &PairState{Key: testKey, First: sec(10), Beats: 2, Times: []int64{sec(10), sec(70)}, Out: []uint16{0, 0}, In: []uint16{0, 0}}
	raw, err := good.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"empty":     nil,
		"version":   append([]byte{9}, raw[1:]...),
		"truncated": raw[:len(raw)-3],
		"trailing":  append(append([]byte(nil), raw...), 0),
	} {
		var s PairState
		if err := s.UnmarshalBinary(b); !errors.Is(err, ErrBadState) {
			t.Errorf("%s: err %v, want ErrBadState", name, err)
		}
	}
}

func FuzzPairState(f *testing.F) {
	good := &PairState{Key: testKey, First: sec(10), Beats: 3, Alerted: 60, AlertAt: 3,
		Times: []int64{sec(10), sec(70), sec(130)}, Out: []uint16{1, 2, 3}, In: []uint16{4, 5, 6},
		DstIPs: []netip.Addr{netip.MustParseAddr("2001:db8::1")}}
	raw, _ := good.MarshalBinary()
	f.Add(raw)
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var s PairState
		if err := s.UnmarshalBinary(b); err != nil {
			return
		}
		again, err := s.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded state does not encode: %v", err)
		}
		var s2 PairState
		if err := s2.UnmarshalBinary(again); err != nil || !reflect.DeepEqual(s, s2) {
			t.Fatalf("re-encoding changed the state: %v", err)
		}
		if err := NewDetector(DefaultConfig()).Import(&s); err != nil {
			t.Fatalf("decoded state not importable: %v", err)
		}
	})
}

// BenchmarkExport is what a checkpoint costs a worker: the time it stops
// reading packets to copy its pairs out, all of them (the first checkpoint)
// or the 1 % beaten since the last one.
func BenchmarkExport(b *testing.B) {
	const n = 100000
	d := NewDetector(DefaultConfig())
	for i := 0; i < n; i++ {
		k := testKey
		k.Host = host.AddrKey(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
		for j := 0; j < 8; j++ {
			ts := sec(1000 + float64(j)*60)
			if i < n/100 {
				ts += sec(3600) // the recently beaten 1 %
			}
			d.Beat(k, netip.Addr{}, ts)
		}
	}
	for _, c := range []struct {
		name  string
		since int64
	}{{"all", 0}, {"changed", sec(3000)}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var got int
			for i := 0; i < b.N; i++ {
				got = 0
				d.Export(c.since, func(*PairState) { got++ })
			}
			b.ReportMetric(float64(got), "pairs")
		})
	}
}

// A restored pair remembers its alert: the same period does not alert again,
// a material change of period does.
func TestRestoredPairRealertsOnlyOnChange(t *testing.T) {
	a := NewDetector(DefaultConfig())
	var ts float64 = 1000
	alerts := 0
	for i := 0; i < 20; i++ {
		if a.Beat(testKey, netip.Addr{}, sec(ts)) != nil {
			alerts++
		}
		ts += 60
	}
	if alerts != 1 {
		t.Fatalf("%d alerts before the restart, want 1", alerts)
	}
	b := NewDetector(DefaultConfig())
	a.Export(0, func(s *PairState) {
		if err := b.Import(s); err != nil {
			t.Fatal(err)
		}
	})
	for i := 0; i < 20; i++ {
		if f := b.Beat(testKey, netip.Addr{}, sec(ts)); f != nil {
			t.Fatalf("re-alerted the same period after the restart: %v", f.Reasons)
		}
		ts += 60
	}
	var changed *Finding
	for i := 0; i < 40 && changed == nil; i++ {
		ts += 300
		changed = b.Beat(testKey, netip.Addr{}, sec(ts))
	}
	if changed == nil || changed.PeriodS < 250 {
		t.Fatalf("a period changed from 60 s to 300 s after the restart did not re-alert: %+v", changed)
	}
}
