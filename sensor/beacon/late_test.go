package beacon

import (
	"net/netip"
	"testing"
	"time"

	"github.com/launchtap/launchtap/sensor/host"
)

// TestLate feeds the beats of one 2-hour schedule in the orders a hub
// receives them from two sensors: whatever the order, Late alerts once,
// on the same evidence as the beats in order, where Beat drops the late ones.
func TestLate(t *testing.T) {
	dst := netip.MustParseAddr("198.51.100.77")
	k := PairKey{Host: host.AddrKey(netip.MustParseAddr("10.20.7.50")), Dest: "sync.roamer-agent.example", Port: 443, Proto: 6}
	const period = 2 * int64(time.Hour)
	for _, tc := range []struct {
		name     string
		order    []int
		wantLate uint64
	}{
		{"in order", []int{0, 1, 2, 3, 4, 5, 6, 7}, 0},
		{"two halves, later half first", []int{4, 5, 6, 7, 0, 1, 2, 3}, 4},
		{"alternating stints, B first", []int{2, 3, 6, 7, 0, 1, 4, 5}, 4},
		{"a late beat joins its beat", []int{0, 1, 2, 3, 4, 5, 6, 7, 3}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDetector(DefaultConfig())
			var found []*Finding
			seen := map[int]bool{}
			for _, i := range tc.order {
				ts := int64(i) * period
				if seen[i] {
					ts += int64(time.Second) // the same beat, a second session
				}
				seen[i] = true
				if f := d.Late(k, dst, ts); f != nil {
					found = append(found, f)
				}
			}
			if len(found) != 1 {
				t.Fatalf("%d findings, want 1", len(found))
			}
			f := found[0]
			if f.PeriodS != 7200 {
				t.Errorf("period %v, want 7200", f.PeriodS)
			}
			for i := 1; i < len(f.BeatTimes); i++ {
				if f.BeatTimes[i] <= f.BeatTimes[i-1] {
					t.Fatalf("beat times out of order: %v", f.BeatTimes)
				}
			}
			st := d.Stats()
			if st.Late != tc.wantLate || st.OutOfOrder != 0 {
				t.Errorf("late %d out of order %d, want %d and 0", st.Late, st.OutOfOrder, tc.wantLate)
			}
		})
	}
	t.Run("Beat drops what Late keeps", func(t *testing.T) {
		d := NewDetector(DefaultConfig())
		for _, i := range []int{4, 5, 6, 7, 0, 1, 2, 3} {
			if f := d.Beat(k, dst, int64(i)*period); f != nil {
				t.Fatal("Beat alerted on four beats in order")
			}
		}
		if st := d.Stats(); st.OutOfOrder != 4 {
			t.Fatalf("out of order %d, want 4", st.OutOfOrder)
		}
	})
}
