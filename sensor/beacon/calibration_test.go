package beacon

import (
	"math"
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

// Human and machine traffic that is not periodic, as the detector sees it:
// times of beats and the sizes of each beat.

// video: a player refilling its buffer inside one session is one burst
// until the viewer pauses or seeks (a silence of at least the burst gap):
// bursts at pause times, each a segment or several of 0.3–5 MB.
func video(r *rand.Rand, n int) []float64 {
	t := make([]float64, n)
	t[0] = 1000
	for i := 1; i < n; i++ {
		t[i] = t[i-1] + 8 + r.ExpFloat64()*90
	}
	return t
}

func videoSizes(r *rand.Rand) (uint64, uint64) {
	return uint64(350 + r.IntN(600)), uint64(300e3 * math.Exp(2.8*r.Float64()))
}

// downloads: software updates and files, minutes to hours apart, 1–500 MB.
func downloadSizes(r *rand.Rand) (uint64, uint64) {
	return uint64(500 + r.IntN(3000)), uint64(1e6 * math.Exp(6.2*r.Float64()))
}

// TestHumanAndRandomTrafficStaysBelowTheAlertLevel runs whole lives of
// traffic that is not a beacon through the detector with every signal on
// (timing from 1 s, the adaptive group window, sizes of sessions and of
// bursts) and counts lives that alert. People's traffic (browsing bursts of
// connections, think times, video, downloads, fast clicking) never does;
// constant-size traffic at Poisson times, which only timing can tell from a
// beacon, alerts in a small, stated share of lives (see TimingEvidence).
func TestHumanAndRandomTrafficStaysBelowTheAlertLevel(t *testing.T) {
	if testing.Short() {
		t.Skip("Monte Carlo")
	}
	for _, c := range []struct {
		name  string
		s     series
		sz    sizer
		beats int
		lives int
		max   int // lives that may alert
	}{
		{"Poisson sessions, browsing sizes", poisson(300), heavy, 32, 1000, 0},
		{"page loads (bursts of 1-6 connections)", browsing(120), heavy, 32, 1000, 0},
		{"log-normal think times", lognormalS(60, 1.1), heavy, 32, 1000, 0},
		{"fast clicking (Poisson, mean 3 s)", poisson(3), heavy, 32, 1000, 0},
		{"video: bursts at pauses and seeks", video, videoSizes, 32, 1000, 0},
		{"software downloads", poisson(1800), downloadSizes, 20, 1000, 0},
		{"DNS lookups at Poisson times (no sizes)", poisson(30), nil, 32, 1000, 0},
		{"constant sizes at Poisson times", poisson(300), steady(1450, 750), 32, 3000, 15},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(11, 12))
			alerted := 0
			for i := 0; i < c.lives; i++ {
				if fs := runSized(DefaultConfig(), c.s(r, c.beats), c.sz, r); len(fs) > 0 {
					alerted++
					if c.max == 0 {
						t.Fatalf("life %d alerted at beat %d: %q", i, fs[0].beat, fs[0].f.Reasons)
					}
				}
			}
			if alerted > c.max {
				t.Errorf("%d of %d lives alerted, want at most %d", alerted, c.lives, c.max)
			}
			t.Logf("%d of %d lives alerted", alerted, c.lives)
		})
	}
}

// TestJitteredCheckInsWithRepeatedSizesAlertByTheTenthBeat: the power the
// size evidence buys. A sleep jittered by ±25 % whose check-ins repeat their
// request and answer alerts by its 10th beat in most lives; the same timing
// with browsing-like sizes needs more beats.
func TestJitteredCheckInsWithRepeatedSizesAlertByTheTenthBeat(t *testing.T) {
	if testing.Short() {
		t.Skip("Monte Carlo")
	}
	r := rand.New(rand.NewPCG(13, 14))
	by10 := 0
	const lives = 300
	for i := 0; i < lives; i++ {
		if fs := runSized(DefaultConfig(), symmetric(50, 0.25)(r, 10), steady(1450, 580), r); len(fs) > 0 {
			by10++
		}
	}
	t.Logf("±25 %% jitter with repeated sizes: %d/%d lives alert by beat 10", by10, lives)
	if by10 < lives*8/10 {
		t.Errorf("±25 %% jitter with repeated sizes: %d/%d lives alert by beat 10, want >= 80 %%", by10, lives)
	}
}
