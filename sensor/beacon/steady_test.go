package beacon

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// TestSteadyNeverHidesARealert checks steady against the estimate it
// skips: whenever it says an alerted pair's history cannot move the period,
// a full estimate must agree (not alertable, or the same period), over
// check-ins with jitter, sleeps, extra sessions and period changes.
func TestSteadyNeverHidesARealert(t *testing.T) {
	cfgs := map[string]Config{"default": DefaultConfig()}
	wide := DefaultConfig()
	wide.Realert, wide.MaxJitter, wide.MinBeats = 0.45, 0.1, 3
	cfgs["wide"] = wide
	for name, cfg := range cfgs {
		t.Run(name, func(t *testing.T) {
			d := NewDetector(cfg)
			rng := rand.New(rand.NewPCG(7, 8))
			dst := netip.MustParseAddr("203.0.113.10")
			steady, checked := 0, 0
			keys := benchKeys(400)
			for pairNo, k := range keys {
				period := 30 + rng.Float64()*600
				jitter := []float64{0, 0.02, 0.1, 0.25}[rng.IntN(4)]
				ts := int64(1e12)
				for beat := 0; beat < 200; beat++ {
					x := period * (1 + jitter*(2*rng.Float64()-1))
					switch r := rng.Float64(); {
					case r < 0.03: // a sleep
						x += period * (3 + rng.Float64()*20)
					case r < 0.06: // a person's session in between
						x *= rng.Float64()
					case r < 0.07: // the schedule changes
						period *= 0.5 + rng.Float64()*1.5
					}
					ts += int64(max(x, 4) * 1e9)
					d.Beat(k, dst, ts)
					p, ok := d.peek(k)
					if !ok || p.alerted == 0 || p.hist == nil || int(p.hist.n) < cfg.MinBeats {
						continue
					}
					checked++
					if !d.steady(p) {
						continue
					}
					steady++
					est := d.estimate(p)
					if d.alertable(&est) && !d.samePeriod(p, &est) {
						t.Fatalf("pair %d beat %d: steady, but the estimate (period %.3f s) moved from the alerted %.3f s", pairNo, beat, est.period, p.alerted)
					}
				}
			}
			if steady < checked/10 {
				t.Fatalf("steady held for %d of %d alerted histories: the test no longer exercises it", steady, checked)
			}
			t.Logf("steady for %d of %d alerted histories", steady, checked)
		})
	}
}
