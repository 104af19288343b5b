package beacon

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

func TestCleanBeaconAlertsAtSixthBeat(t *testing.T) {
	fs := run(DefaultConfig(), clock(300, 1)(rand.New(rand.NewPCG(1, 1)), 30))
	if len(fs) != 1 {
		t.Fatalf("findings = %d, want exactly 1 (alert once, no re-alert at the same period)", len(fs))
	}
	f := fs[0].f
	if fs[0].beat != 6 {
		t.Errorf("first alert at beat %d, want 6", fs[0].beat)
	}
	if relErr(f.PeriodS, 300) > 0.01 {
		t.Errorf("period %.2f s, want 300 ± 1 %%", f.PeriodS)
	}
	if f.Key != testKey || len(f.DstIPs) != 1 || len(f.BeatTimes) != 6 || len(f.Reasons) == 0 {
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
	for i := 0; i < 6; i++ {
		base := int64(1000+i*60) * int64(time.Second)
		for s := 0; s < 3; s++ { // three sessions within 1.5 s
			if f := d.Beat(testKey, dst, base+int64(s)*int64(500*time.Millisecond)); f != nil {
				got = f
			}
		}
	}
	if got == nil || got.Beats != 6 || relErr(got.PeriodS, 60) > 0.01 {
		t.Fatalf("got %+v, want one finding at 6 grouped beats, period 60 s", got)
	}
	if st := d.Stats(); st.Grouped != 12 || st.Beats != 18 || st.Pairs != 1 || st.Findings != 1 {
		t.Errorf("stats %+v", st)
	}
}
