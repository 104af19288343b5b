package beacon

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

// maxTiming returns the highest timing evidence over the life of a series,
// scoring after every beat as the detector does.
func maxTiming(times []float64) float64 {
	d := NewDetector(DefaultConfig())
	dst := netip.MustParseAddr("203.0.113.10")
	best := 0.0
	for _, s := range times {
		d.Beat(testKey, dst, int64(s*float64(time.Second)))
		p, _ := d.peek(testKey)
		if p.hist != nil && int(p.hist.n) >= d.cfg.MinBeats {
			if e := d.estimate(p); e.period >= 0.9*d.cfg.MinPeriod.Seconds() {
				best = max(best, e.timing)
			}
		}
	}
	return best
}

// TestEvidenceIsCalibratedOnPoissonArrivals checks that the timing evidence
// means what it says: over whole 12-beat lives of Poisson (and log-normal,
// σ = 1.1, like human think times) arrivals, rescored at every beat, evidence
// of x is reached in well under 10^-x·(rescorings) of lives, and never the
// alerting level. It also checks the same statistic has power: 50 %-jittered
// sleeps reach the size-assisted level in most lives.
func TestEvidenceIsCalibratedOnPoissonArrivals(t *testing.T) {
	if testing.Short() {
		t.Skip("Monte Carlo")
	}
	const lives = 3000
	for _, c := range []struct {
		name      string
		s         series
		atLeast4  float64 // max share of lives reaching evidence 4
		alertable float64 // max share reaching DefaultConfig().Evidence
	}{
		{"Poisson", poisson(300), 0.01, 0},
		{"log-normal think times", lognormalS(300, 1.1), 0.01, 0},
	} {
		r := rand.New(rand.NewPCG(5, 6))
		n4, n7 := 0, 0
		for i := 0; i < lives; i++ {
			ev := maxTiming(c.s(r, 12))
			if ev >= 4 {
				n4++
			}
			if ev >= DefaultConfig().Evidence {
				n7++
			}
		}
		if got := float64(n4) / lives; got > c.atLeast4 {
			t.Errorf("%s: %.4f of lives reach evidence 4, want <= %.4f", c.name, got, c.atLeast4)
		}
		if n7 > 0 {
			t.Errorf("%s: %d of %d lives reach the alerting evidence", c.name, n7, lives)
		}
	}
	r := rand.New(rand.NewPCG(5, 7))
	hit := 0
	for i := 0; i < 300; i++ {
		if maxTiming(oneSided(300, 0.5)(r, 16)) >= DefaultConfig().TimingEvidence {
			hit++
		}
	}
	if hit < 270 {
		t.Errorf("one-sided 50 %% jitter, 16 beats: %d/300 lives reach timing evidence %.0f, want >= 270", hit, DefaultConfig().TimingEvidence)
	}
}
