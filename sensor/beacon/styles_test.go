package beacon

import (
	"math/rand/v2"
	"testing"
)

// TestBeaconStyles runs each real beacon style many times and checks the
// share of runs alerted by a given beat, and the period at the end of the
// run (the full history) against the style's true mean spacing.
func TestBeaconStyles(t *testing.T) {
	cases := []struct {
		name      string
		s         series
		sz        sizer
		beats     int     // beats per run
		byBeat    int     // alert by this beat ...
		recall    float64 // ... in at least this share of runs
		mean      float64 // true mean spacing, s
		periodTol float64 // relative error allowed on the final estimate
	}{
		{"launchd StartInterval 300s ±1s", clock(300, 1), nil, 30, 6, 1, 300, 0.005},
		{"launchd StartInterval 10s", clock(10, 0.2), nil, 30, 8, 1, 10, 0.01},
		{"launchd StartInterval 24h", clock(86400, 2), nil, 10, 6, 1, 86400, 0.001},
		{"sleeping laptop", sleepy(300, 10), nil, 32, 8, 1, 300, 0.005},
		{"StartCalendarInterval hourly, asleep some hours", calendar(3600, 0.3), nil, 30, 8, 1, 3600, 0.002},
		{"StartCalendarInterval daily, weekends off", calendar(86400, 2.0/7), nil, 20, 8, 1, 86400, 0.001},
		{"missed beats 30%", missing(clock(600, 1), 0.3), nil, 30, 8, 1, 600, 0.005},
		{"missed beats 40%, jitter 10%", missing(symmetric(60, 0.1), 0.4), nil, 32, 20, 0.98, 60, 0.03},
		{"KeepAlive agent, own sleep loop", additive(120, 3), nil, 30, 8, 1, 121.5, 0.01},
		{"C2 one-sided jitter 20%", oneSided(60, 0.2), steady(700, 300), 30, 8, 0.98, 54, 0.03},
		{"C2 symmetric jitter 10%", symmetric(60, 0.1), nil, 30, 10, 0.98, 60, 0.02},
		{"C2 one-sided jitter 50% (Cobalt Strike)", oneSided(60, 0.5), steady(700, 300), 32, 16, 0.98, 45, 0.06},
		{"C2 symmetric jitter 50% (Empire/Mythic)", symmetric(60, 0.5), steady(700, 300), 32, 20, 0.98, 60, 0.08},
		{"C2 additive jitter 50% (Sliver)", additive(60, 30), steady(700, 300), 32, 16, 0.98, 75, 0.06},
		{"C2 symmetric jitter 50%, sizes unknown", symmetric(60, 0.5), nil, 32, 30, 0.9, 60, 0.08},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(7, 11))
			const trials = 100
			hit, unflagged := 0, 0
			for i := 0; i < trials; i++ {
				times := c.s(r, c.beats)
				fs := runSized(DefaultConfig(), times, c.sz, r)
				if len(fs) > 0 && fs[0].beat <= c.byBeat {
					hit++
				}
				if len(fs) > 2 {
					t.Errorf("run %d: %d findings, want at most 2 (no flapping)", i, len(fs))
				}
				if len(fs) > 0 && c.mean/c.periodTol < 1000 { // jittered styles
					f := fs[0].f
					if !hasReason(f, "known to about") && !hasReason(f, "off the schedule") && relErr(f.PeriodS, c.mean) > 0.05 {
						// Early on, a few sleeps can bunch by chance; the
						// reasons must flag an uncertain period in nearly all runs.
						if unflagged++; unflagged > 3 {
							t.Errorf("run %d: period %.1f s is %.0f %% off and the reasons do not say it is uncertain: %q", i, f.PeriodS, 100*relErr(f.PeriodS, c.mean), f.Reasons)
						}
					}
					if hasReason(f, "silence") && f.Gaps == 0 {
						t.Errorf("run %d: reasons speak of a silence without one: %q", i, f.Reasons)
					}
				}
				if i < 20 { // final estimate over the whole history
					if got := finalPeriod(times, c.sz, r); relErr(got, c.mean) > c.periodTol {
						t.Errorf("run %d: final period %.3f s, want %.3f ± %.1f %%", i, got, c.mean, 100*c.periodTol)
					}
				}
			}
			if got := float64(hit) / trials; got < c.recall {
				t.Errorf("alerted by beat %d in %.2f of runs, want >= %.2f", c.byBeat, got, c.recall)
			}
		})
	}
}

// finalPeriod feeds the whole series and scores the pair once more.
func finalPeriod(times []float64, sz sizer, r *rand.Rand) float64 {
	d := NewDetector(DefaultConfig())
	feed(d, times, sz, r)
	p, _ := d.peek(testKey)
	e := d.estimate(p)
	return e.period
}

func TestBenignPatternsNeverAlert(t *testing.T) {
	cases := []struct {
		name   string
		s      series
		sz     sizer
		beats  int
		trials int
	}{
		{"Poisson arrivals", poisson(300), heavy, 60, 1000},
		{"Poisson arrivals, constant sizes", poisson(300), steady(600, 4000), 60, 1000},
		{"Poisson arrivals, fast", poisson(20), heavy, 200, 200},
		{"browsing page-load bursts", browsing(600), heavy, 120, 500},
		{"log-normal think times", lognormalS(600, 1.1), heavy, 60, 1000},
		{"host with only 3 connections", clock(300, 0), nil, 3, 10},
		{"sub-second polling (below beacon-min-period)", clock(0.5, 0.01), nil, 120, 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(3, 5))
			for i := 0; i < c.trials; i++ {
				if fs := runSized(DefaultConfig(), c.s(r, c.beats), c.sz, r); len(fs) > 0 {
					t.Fatalf("run %d alerted at beat %d: %q", i, fs[0].beat, fs[0].f.Reasons)
				}
			}
		})
	}
}
