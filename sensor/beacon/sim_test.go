package beacon

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/launchtap/launchtap/sensor/host"
)

// Timestamp simulators for the beacon styles and benign patterns. They
// produce beat times in seconds from 0; feed runs them through a Detector.

type series func(r *rand.Rand, n int) []float64

// clock: launchd StartInterval with small network jitter (±net seconds).
func clock(p, net float64) series {
	return func(r *rand.Rand, n int) []float64 {
		t := make([]float64, n)
		for i := range t {
			t[i] = 1000 + float64(i)*p + (r.Float64()*2-1)*net
		}
		return t
	}
}

// oneSided: sleep uniform in [P(1-j), P] (Cobalt Strike style).
func oneSided(p, j float64) series {
	return renewal(func(r *rand.Rand) float64 { return p * (1 - j*r.Float64()) })
}

// symmetric: sleep uniform in [P(1-j), P(1+j)] (Empire/Mythic style).
func symmetric(p, j float64) series {
	return renewal(func(r *rand.Rand) float64 { return p * (1 + j*(2*r.Float64()-1)) })
}

// additive: P + U(0, J) seconds (Sliver style).
func additive(p, jj float64) series {
	return renewal(func(r *rand.Rand) float64 { return p + jj*r.Float64() })
}

// poisson: exponential intervals with the given mean.
func poisson(mean float64) series {
	return renewal(func(r *rand.Rand) float64 { return r.ExpFloat64() * mean })
}

func renewal(sleep func(*rand.Rand) float64) series {
	return func(r *rand.Rand, n int) []float64 {
		t := make([]float64, n)
		t[0] = 1000
		for i := 1; i < n; i++ {
			t[i] = t[i-1] + sleep(r)
		}
		return t
	}
}

// missing drops each beat of s with probability q (never the first).
func missing(s series, q float64) series {
	return func(r *rand.Rand, n int) []float64 {
		var out []float64
		for len(out) < n {
			all := s(r, 4*n)
			out = out[:0]
			for i, x := range all {
				if i == 0 || r.Float64() >= q {
					out = append(out, x)
				}
			}
		}
		return out[:n]
	}
}

// sleepy: a clock whose host sleeps: after every `awake` beats a silence of
// 2–8 h, then one coalesced start on wake and the schedule restarts from it.
func sleepy(p float64, awake int) series {
	return func(r *rand.Rand, n int) []float64 {
		t := make([]float64, n)
		t[0] = 1000
		for i := 1; i < n; i++ {
			if i%awake == 0 {
				t[i] = t[i-1] + 7200 + r.Float64()*6*3600
				continue
			}
			t[i] = t[i-1] + p + (r.Float64()*2-1)*0.5
		}
		return t
	}
}

// calendar: StartCalendarInterval at a fixed minute every hour (or day),
// skipping the hours when the laptop is asleep (nights).
func calendar(every float64, skipFrac float64) series {
	return func(r *rand.Rand, n int) []float64 {
		var t []float64
		for i := 0; len(t) < n; i++ {
			if r.Float64() < skipFrac {
				continue
			}
			t = append(t, 1000+float64(i)*every+r.Float64()*0.3)
		}
		return t
	}
}

// browsing: Poisson page visits, each a burst of 1–6 connections spread
// over 0–8 s (some escape the group window).
func browsing(mean float64) series {
	return func(r *rand.Rand, n int) []float64 {
		var t []float64
		now := 1000.0
		for len(t) < n {
			now += r.ExpFloat64() * mean
			k := 1 + r.IntN(6)
			for i := 0; i < k && len(t) < n; i++ {
				t = append(t, now+r.Float64()*8)
			}
		}
		slicesSortF(t)
		return t
	}
}

func slicesSortF(t []float64) {
	for i := 1; i < len(t); i++ {
		for j := i; j > 0 && t[j] < t[j-1]; j-- {
			t[j], t[j-1] = t[j-1], t[j]
		}
	}
}

var testKey = PairKey{Host: host.AddrKey(netip.MustParseAddr("10.20.1.15")), Dest: "cdn.example.net", Port: 443, Proto: 6}

// run feeds times through a fresh detector and returns every finding with
// the beat number (1-based, counting grouped beats once) it fired at.
type fired struct {
	beat int
	f    *Finding
}

func run(cfg Config, times []float64) []fired { return runSized(cfg, times, nil, nil) }

// sizer returns the bytes out and in of one session.
type sizer func(r *rand.Rand) (uint64, uint64)

// steady: a beacon's check-in, ±8 % around fixed sizes.
func steady(out, in float64) sizer {
	return func(r *rand.Rand) (uint64, uint64) {
		return uint64(out * (0.92 + 0.16*r.Float64())), uint64(in * (0.92 + 0.16*r.Float64()))
	}
}

// heavy: browsing objects, log-normal with a heavy tail.
func heavy(r *rand.Rand) (uint64, uint64) {
	return uint64(600 + r.IntN(1500)), uint64(12000 * math.Exp(1.6*r.NormFloat64()))
}

// runSized is run with each session's sizes reported when the next beat
// starts (sessions are short).
func runSized(cfg Config, times []float64, sz sizer, r *rand.Rand) []fired {
	return feed(NewDetector(cfg), times, sz, r)
}

func feed(d *Detector, times []float64, sz sizer, r *rand.Rand) []fired {
	var out []fired
	dst := netip.MustParseAddr("203.0.113.10")
	prev := int64(-1)
	for _, s := range times {
		ts := int64(s * float64(time.Second))
		if sz != nil && prev >= 0 {
			o, i := sz(r)
			d.Sizes(testKey, prev, o, i)
		}
		prev = ts
		if f := d.Beat(testKey, dst, ts); f != nil {
			out = append(out, fired{f.Beats, f})
		}
	}
	return out
}

func relErr(a, b float64) float64 { return math.Abs(a-b) / b }

func lognormalS(med, sigma float64) series {
	return renewal(func(r *rand.Rand) float64 { return med * math.Exp(sigma*r.NormFloat64()) })
}
