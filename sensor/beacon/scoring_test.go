package beacon

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// intervalStyle draws the n-1 intervals (ms) of a history.
type intervalStyle struct {
	name string
	gen  func(r *rand.Rand, n int) []uint32
}

// renewalMs draws each interval from f (seconds), at least 0.
func renewalMs(f func(r *rand.Rand) float64) func(*rand.Rand, int) []uint32 {
	return func(r *rand.Rand, n int) []uint32 {
		iv := make([]uint32, n-1)
		for i := range iv {
			iv[i] = uint32(max(0, math.Round(f(r)*1000)))
		}
		return iv
	}
}

// scoringStyles are the histories the cheaper scoring must score as the
// reference does: the beacon styles, people's traffic, and shapes chosen to
// hit the edges of the shortcuts (repeated values, zero and tiny intervals,
// quotients on a rounding boundary, values far apart).
var scoringStyles = []intervalStyle{
	{"clock", renewalMs(func(r *rand.Rand) float64 { return 300 + 0.3*(2*r.Float64()-1) })},
	{"clock with missed beats and sleeps", renewalMs(func(r *rand.Rand) float64 {
		x := 120 * (1 + 0.01*(2*r.Float64()-1))
		switch v := r.Float64(); {
		case v < 0.25:
			x *= float64(2 + r.IntN(4))
		case v < 0.3:
			x *= 10 + 40*r.Float64()
		}
		return x
	})},
	{"jittered sleep", renewalMs(func(r *rand.Rand) float64 {
		return 60 * (1 + []float64{0.05, 0.2, 0.5}[r.IntN(3)]*(2*r.Float64()-1))
	})},
	{"browsing", renewalMs(func(r *rand.Rand) float64 {
		if r.IntN(3) == 0 {
			return 0.2 + 4*r.Float64() // a burst of page loads
		}
		return 5 + r.ExpFloat64()*300
	})},
	{"clock and a person", renewalMs(func(r *rand.Rand) float64 {
		x := 600 * (1 + 0.02*(2*r.Float64()-1))
		if r.IntN(4) == 0 {
			x *= r.Float64() // a session of the person's in between
		}
		return x
	})},
	{"two values", renewalMs(func(r *rand.Rand) float64 { return []float64{60, 90}[r.IntN(2)] })},
	{"one value", renewalMs(func(*rand.Rand) float64 { return 45 })},
	{"half multiples", renewalMs(func(r *rand.Rand) float64 {
		return 20 * []float64{1, 1, 1, 1.5, 2.5, 3.5, 4.5, 5.5, 0.5}[r.IntN(9)]
	})},
	{"zeros and milliseconds", renewalMs(func(r *rand.Rand) float64 {
		return []float64{0, 0.001, 0.002, 1, 1.001, 30}[r.IntN(6)]
	})},
	{"whole seconds", renewalMs(func(r *rand.Rand) float64 { return float64(1 + r.IntN(12)) })},
	{"far apart", renewalMs(func(r *rand.Rand) float64 {
		return math.Pow(10, -1+7*r.Float64())
	})},
	{"band edges", renewalMs(func(r *rand.Rand) float64 {
		return 100 * []float64{1, 0.5, 1.5, 2 - 0.5, 2 + 0.5, 1.05, 0.95, 1}[r.IntN(8)]
	})},
}

// scoringConfigs are the configurations the equivalence is checked under.
func scoringConfigs() map[string]Config {
	cfgs := map[string]Config{"default": DefaultConfig()}
	wide := DefaultConfig()
	wide.Realert, wide.MaxJitter, wide.MinBeats = 0.45, 0.1, 3
	cfgs["tight jitter, 3 beats"] = wide
	low := DefaultConfig()
	low.Evidence, low.TimingEvidence, low.MaxJitter = 3, 1, 0.25
	cfgs["low evidence"] = low
	short := DefaultConfig()
	short.MinPeriod, short.MaxPeriod, short.MinBeats = 100*time.Millisecond, time.Hour, 8
	cfgs["short periods"] = short
	return cfgs
}

// styledHistory is a pair whose history holds n beats of style st, its
// times offset so seconds-from-base carry rounding, some beats sized.
func styledHistory(r *rand.Rand, st intervalStyle, n int) *pair {
	h := &history{}
	t := uint32(r.IntN(1 << 30))
	iv := st.gen(r, n)
	sizes := r.IntN(3)
	for i := 0; i < n; i++ {
		if i > 0 {
			t += iv[i-1]
		}
		h.push(t)
		j := h.at(int(h.n) - 1)
		switch sizes {
		case 1: // a check-in's sizes
			h.out[j], h.in[j] = encodeSize(uint64(700+r.IntN(40))), encodeSize(uint64(4000+r.IntN(300)))
		case 2: // browsing objects, some unknown
			if r.IntN(4) > 0 {
				h.out[j], h.in[j] = encodeSize(uint64(600+r.IntN(1500))), encodeSize(uint64(12000*math.Exp(1.6*r.NormFloat64())))
			}
		}
	}
	// A ring that has wrapped starts anywhere.
	if n == HistoryLen {
		rot := r.IntN(HistoryLen)
		var g history
		for i := 0; i < HistoryLen; i++ {
			k := (rot + i) % HistoryLen
			g.t[k], g.out[k], g.in[k] = h.t[i], h.out[i], h.in[i]
		}
		g.head, g.n = uint8(rot), HistoryLen
		*h = g
	}
	kind := KindSession
	if r.IntN(4) == 0 {
		kind = KindBurst
	}
	return &pair{key: PairKey{Kind: kind}, hist: h}
}

// TestEstimateMatchesReference holds estimate to the plain computation it
// replaced (reference_test.go) bit for bit, field by field, over every
// style, history length and configuration; and holds estimateAbove to
// stopping only where the plain estimate cannot alert, and otherwise to
// the same estimate.
func TestEstimateMatchesReference(t *testing.T) {
	trials := 400
	if testing.Short() {
		trials = 60
	}
	for name, cfg := range scoringConfigs() {
		t.Run(name, func(t *testing.T) {
			d := NewDetector(cfg)
			r := rand.New(rand.NewPCG(15, uint64(len(name))))
			stopped, described, alertable := 0, 0, 0
			for _, st := range scoringStyles {
				for trial := 0; trial < trials; trial++ {
					n := cfg.MinBeats + trial%(HistoryLen-cfg.MinBeats+1)
					if trial%3 == 0 {
						n = HistoryLen // the common case of a busy pair
					}
					p := styledHistory(r, st, n)
					want := fmt.Sprintf("%+v", d.refEstimate(p))
					ref := d.refEstimate(p)
					if got := fmt.Sprintf("%+v", d.estimate(p)); got != want {
						t.Fatalf("%s, %d beats %v:\n got %s\nwant %s", st.name, n, beatTimes(p), got, want)
					}
					e, ok := d.estimateAbove(p, cfg.TimingEvidence)
					switch {
					case !ok && d.alertable(&ref):
						t.Fatalf("%s, %d beats %v: estimate stopped at timing %v, but the reference alerts: %+v", st.name, n, beatTimes(p), e.timing, ref)
					case !ok:
						stopped++
					case fmt.Sprintf("%+v", e) != want:
						t.Fatalf("%s, %d beats: estimateAbove gave %+v, want %s", st.name, n, e, want)
					default:
						described++
					}
					if d.alertable(&ref) {
						alertable++
					}
				}
			}
			if stopped == 0 || described == 0 || alertable == 0 {
				t.Fatalf("stopped %d, described %d, alertable %d: the test no longer exercises every path", stopped, described, alertable)
			}
			t.Logf("stopped %d, described %d (alertable %d)", stopped, described, alertable)
		})
	}
}

var netip0 = netip.MustParseAddr("203.0.113.10")

func beatTimes(p *pair) []uint32 {
	h := p.hist
	t := make([]uint32, h.n)
	for i := range t {
		t[i] = h.t[h.at(i)]
	}
	return t
}

// TestScoreMatchesReference replays whole lives of pairs, beat by beat,
// through two detectors: one scoring as score does, one whose every
// rescoring is the reference estimate's verdict. The findings (every field)
// must be the same, and the skips counted.
func TestScoreMatchesReference(t *testing.T) {
	cfg := DefaultConfig()
	d := NewDetector(cfg)
	r := rand.New(rand.NewPCG(16, 17))
	findings := 0
	for _, st := range scoringStyles {
		for life := 0; life < 30; life++ {
			k := testKey
			k.Port = uint16(life)
			k.Dest = st.name
			iv := st.gen(r, 120)
			ts := int64(1e12)
			for i, x := range iv {
				ts += int64(x)*int64(time.Millisecond) + int64(r.IntN(1000))
				var want *Finding
				if p, ok := d.peek(k); ok && p.hist != nil {
					want = d.refScore(k, p, ts)
				}
				got := d.Beat(k, netip0, ts)
				if want == nil && got != nil || want != nil && fmt.Sprintf("%+v", *want) != fmt.Sprintf("%+v", *got) {
					t.Fatalf("%s life %d beat %d: got %+v, want %+v", st.name, life, i, got, want)
				}
				if got != nil {
					findings++
				}
			}
		}
	}
	s := d.Stats()
	if findings == 0 || s.Unalertable == 0 || s.Unalertable >= s.Scored {
		t.Fatalf("%d findings, %d of %d rescorings unalertable: the test no longer exercises every path", findings, s.Unalertable, s.Scored)
	}
	t.Logf("%d findings; %d of %d rescorings unalertable", findings, s.Unalertable, s.Scored)
}

// refScore is what Beat would return for a beat of k at ts if score used
// the reference estimate, computed on a copy of the pair's state.
func (d *Detector) refScore(k PairKey, p *pair, ts int64) *Finding {
	last := p.lastBeat()
	if ts < last+d.window && ts < last+p.groupWindow(d.window) {
		return nil // grouped or out of order
	}
	q := *p
	h := *p.hist
	q.hist = &h
	if ts-q.base > maxOffset {
		rebase(&q, ts)
	}
	h.push(uint32((ts - q.base) / int64(time.Millisecond)))
	h.addDst(netip0)
	q.beats++
	if int(h.n) < d.cfg.MinBeats || q.alerted != 0 && q.beats-q.alertAt < HistoryLen/2 || q.alerted != 0 && d.steady(&q) {
		return nil
	}
	est := d.refEstimate(&q)
	if !d.alertable(&est) || q.alerted != 0 && d.samePeriod(&q, &est) {
		return nil
	}
	if est.off > 0 || est.missed >= est.fit {
		d.unmix(&q, &est)
		if q.alerted != 0 && d.samePeriod(&q, &est) {
			return nil
		}
	}
	q.alerted, q.alertAt = float32(est.period), q.beats
	return d.finding(k, &q, &est)
}

// TestSelection checks sortFrom and absDevSorted against a full
// sort, with repeated values and every length up to HistoryLen.
func TestSelection(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for n := 1; n <= HistoryLen; n++ {
		for range 300 {
			a := make([]float64, n)
			for i := range a {
				switch r.IntN(3) {
				case 0:
					a[i] = float64(r.IntN(4)) * 0.25
				case 1:
					a[i] = r.ExpFloat64() * 60
				default:
					a[i] = float64(i) // runs in order
				}
			}
			if r.IntN(4) == 0 {
				slices.Reverse(a)
			}
			want := slices.Sorted(slices.Values(a))
			k := r.IntN(n)

			b := slices.Clone(a)
			sortFrom(b, k)
			if !slices.Equal(b[k:], want[k:]) {
				t.Fatalf("sortFrom(%v, %d) = %v, want the tail %v", a, k, b, want[k:])
			}
			for _, x := range b[:k] {
				if x > b[k] {
					t.Fatalf("sortFrom(%v, %d) = %v: %v before the tail is larger than its smallest", a, k, b, x)
				}
			}
			if !slices.Equal(slices.Sorted(slices.Values(b)), want) {
				t.Fatalf("sortFrom(%v, %d) = %v: values changed", a, k, b)
			}

			med := median(want)
			if r.IntN(3) == 0 {
				med = want[r.IntN(n)] + r.NormFloat64()
			}
			dev := absDevSorted(want, med, nil)
			wantDev := make([]float64, n)
			for i, x := range want {
				wantDev[i] = math.Abs(x - med)
			}
			slices.Sort(wantDev)
			if !slices.Equal(dev, wantDev) {
				t.Fatalf("absDevSorted(%v, %v) = %v, want %v", want, med, dev, wantDev)
			}
		}
	}
}

func TestRoundHalf(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	vals := []float64{0.5, 1.5, 2.5, 5.5, 1 << 51, 1<<52 - 0.5, 1<<52 - 1, math.Nextafter(1<<52, 0)}
	for k := 0; k < 70; k++ {
		for _, h := range []float64{float64(k) + 0.5, math.Ldexp(1, k-1)} {
			if h < 0.5 || h >= 1<<52 {
				continue
			}
			vals = append(vals, h, math.Nextafter(h, 0), math.Nextafter(h, 1<<53))
		}
	}
	for range 200000 {
		vals = append(vals, 0.5+r.Float64()*6, 0.5+r.ExpFloat64()*1e6, math.Ldexp(1+r.Float64(), r.IntN(52)))
	}
	for _, v := range vals {
		if v < 0.5 || v >= 1<<52 {
			continue
		}
		if got, want := roundHalf(v), math.Round(v); math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("roundHalf(%v) = %v, want %v", v, got, want)
		}
	}
}
