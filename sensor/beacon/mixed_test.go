package beacon

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// mixedUse is a beacon every p s ±j (uniform) to a destination that its
// host's user also browses: page loads (1–6 connections over up to 8 s) at
// Poisson times with the given mean, over the beacon's n beats.
func mixedUse(p, j, humanMean float64) series {
	return func(r *rand.Rand, n int) []float64 {
		b := symmetric(p, j)(r, n)
		end := b[len(b)-1]
		all := slices.Clone(b)
		for _, x := range browsing(humanMean)(r, 4*n) {
			if x < end {
				all = append(all, x)
			}
		}
		slices.Sort(all)
		return all
	}
}

// TestPeriodOfABeaconMixedWithHumanUse: the period reported is the
// beacon's, from its dominant regular sub-sequence, not the mean spacing
// of its beats and the person's together (which was 25–30 % short).
func TestPeriodOfABeaconMixedWithHumanUse(t *testing.T) {
	if testing.Short() {
		t.Skip("Monte Carlo")
	}
	r := rand.New(rand.NewPCG(21, 22))
	var errs []float64
	for i := 0; i < 200; i++ {
		for _, f := range runSized(DefaultConfig(), mixedUse(120, 0.2, 600)(r, 60), nil, r) {
			errs = append(errs, relErr(f.f.PeriodS, 120))
		}
	}
	if len(errs) < 100 {
		t.Fatalf("only %d alerts in 200 lives", len(errs))
	}
	slices.Sort(errs)
	within := 0
	for _, e := range errs {
		if e <= 0.05 {
			within++
		}
	}
	med := errs[len(errs)/2]
	t.Logf("%d alerts: median period error %.1f %%, %d within 5 %%, max %.1f %%", len(errs), 100*med, within, 100*errs[len(errs)-1])
	if med > 0.03 || within < len(errs)*80/100 {
		t.Errorf("median period error %.1f %% (want <= 3 %%), %d of %d within 5 %% (want >= 80 %%)", 100*med, within, len(errs))
	}
}
