package beacon

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

func TestCleanBeaconAlertsAtMinBeats(t *testing.T) {
	minBeats := DefaultConfig().MinBeats
	fs := run(DefaultConfig(), clock(300, 1)(rand.New(rand.NewPCG(1, 1)), 30))
	if len(fs) != 1 {
		t.Fatalf("findings = %d, want exactly 1 (alert once, no re-alert at the same period)", len(fs))
	}
	f := fs[0].f
	if fs[0].beat != minBeats {
		t.Errorf("first alert at beat %d, want %d", fs[0].beat, minBeats)
	}
	if relErr(f.PeriodS, 300) > 0.01 {
		t.Errorf("period %.2f s, want 300 ± 1 %%", f.PeriodS)
	}
	if f.Key != testKey || len(f.DstIPs) != 1 || len(f.BeatTimes) != minBeats || len(f.Reasons) == 0 {
		t.Errorf("finding incomplete: %+v", f)
	}
	if f.Score <= 0.5 || f.Score > 1 {
		t.Errorf("score %.3f, want (0.5, 1]", f.Score)
	}
}

func TestPoissonNeverAlerts(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	for i := 0; i < 200; i++ {
		if fs := run(DefaultConfig(), poisson(300)(r, 60)); len(fs) > 0 {
			t.Fatalf("trial %d: Poisson arrivals alerted: %v", i, fs[0].f.Reasons)
		}
	}
}

func TestGroupingMergesSessionsOfOneCheckIn(t *testing.T) {
	d := NewDetector(DefaultConfig())
	dst := netip.MustParseAddr("203.0.113.10")
	var got *Finding
	minBeats := DefaultConfig().MinBeats
	for i := 0; i < minBeats; i++ {
		base := int64(1000+i*60) * int64(time.Second)
		for s := 0; s < 3; s++ { // three sessions within 1.5 s
			if f := d.Beat(testKey, dst, base+int64(s)*int64(500*time.Millisecond)); f != nil {
				got = f
			}
		}
	}
	if got == nil || got.Beats != minBeats || relErr(got.PeriodS, 60) > 0.01 {
		t.Fatalf("got %+v, want one finding at %d grouped beats, period 60 s", got, minBeats)
	}
	if st := d.Stats(); st.Grouped != uint64(2*minBeats) || st.Beats != uint64(3*minBeats) || st.Pairs != 1 || st.Findings != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestGroupWindowAdaptsToTheRhythm: loops faster than the configured group
// window are beats at their own spacing (a reconnect loop every 2.2 s, a DNS
// poll every 1.3 s), while a check-in opening three sessions within a second
// every 60 s stays one beat per check-in.
func TestGroupWindowAdaptsToTheRhythm(t *testing.T) {
	for _, c := range []struct {
		name   string
		period float64
		burst  int     // sessions per check-in
		within float64 // spread of a check-in's sessions, s
	}{
		{"curl loop every 2.2 s", 2.2, 1, 0},
		{"DNS poll every 1.3 s", 1.3, 1, 0},
		{"reconnect loop every 3.5 s", 3.5, 1, 0},
		{"three sessions per check-in every 60 s", 60, 3, 0.9},
		{"two sessions per check-in every 10 s", 10, 2, 1.5},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := NewDetector(DefaultConfig())
			dst := netip.MustParseAddr("203.0.113.10")
			var got *Finding
			for i := 0; i < 40 && got == nil; i++ {
				for s := 0; s < c.burst; s++ {
					ts := 1000 + float64(i)*c.period + float64(s)*c.within/float64(max(1, c.burst-1))
					if f := d.Beat(testKey, dst, sec(ts)); f != nil && got == nil {
						got = f
					}
				}
			}
			if got == nil {
				t.Fatal("no finding")
			}
			if relErr(got.PeriodS, c.period) > 0.01 {
				t.Errorf("period %.3f s, want %.3f", got.PeriodS, c.period)
			}
			if got.Beats > 8 {
				t.Errorf("first alert at beat %d, want by the 8th", got.Beats)
			}
		})
	}
}
