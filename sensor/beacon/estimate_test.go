package beacon

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

func TestLogBinomTailBoundsTheExactTail(t *testing.T) {
	exact := func(n, k int, q float64) float64 {
		s := 0.0
		for i := k; i <= n; i++ {
			s += math.Exp(logChoose(n, i)) * math.Pow(q, float64(i)) * math.Pow(1-q, float64(n-i))
		}
		return math.Log10(s)
	}
	for n := 3; n <= HistoryLen-1; n++ {
		for k := 1; k <= n; k++ {
			for _, q := range []float64{1e-4, 0.01, 0.07, 0.2, 0.385, 0.7} {
				got, want := logBinomTail(n, k, q), exact(n, k, q)
				if got < want-1e-9 || got > want+0.31 {
					t.Fatalf("logBinomTail(%d,%d,%g) = %.4f, exact %.4f: must bound it from above, within log10 2", n, k, q, got, want)
				}
			}
		}
	}
}

func TestBandProbIsTheWorstCasePoissonMass(t *testing.T) {
	// Single band, j = 0.5: max over c of e^{-c/2} - e^{-3c/2} is at c = ln 3:
	// 3^{-1/2} - 3^{-3/2} = 0.3849.
	if got := bandProb(0.5, 1); got < 0.3849 || got > 0.3849*1.05 {
		t.Errorf("bandProb(0.5, 1) = %.4f, want 0.3849 (+5 %% slack at most)", got)
	}
	// Small j: about 2j/e.
	if got := bandProb(0.01, 1); got < 0.02/math.E || got > 0.02/math.E*1.06 {
		t.Errorf("bandProb(0.01, 1) = %.5f, want %.5f", got, 0.02/math.E)
	}
	if bandProb(0.1, maxMultiple) <= bandProb(0.1, 1) {
		t.Error("folded bands must be more probable than one band")
	}
}

func TestSortSmall(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range HistoryLen + 1 {
		for range 50 {
			a := make([]float64, n)
			for i := range a {
				a[i] = float64(r.IntN(8)) * 0.25 // with repeats
				if r.IntN(2) == 0 {
					a[i] = r.ExpFloat64() * 60
				}
			}
			want := slices.Clone(a)
			slices.Sort(want)
			sortSmall(a)
			if !slices.Equal(a, want) {
				t.Fatalf("sortSmall gave %v, want %v", a, want)
			}
		}
	}
}

// TestTinyBurstSizesAddNoEvidence: a burst whose first exchange is a few
// dozen bytes each way (a keystroke and its echo) repeats "the same size"
// within the absolute ±48 B tolerance whatever it carries, so it adds no
// size evidence; a burst check-in of hundreds of bytes does, and so does a
// whole session of a couple of hundred bytes.
func TestTinyBurstSizesAddNoEvidence(t *testing.T) {
	for _, c := range []struct {
		name    string
		kind    Kind
		out, in uint64
		adds    bool
	}{
		{"keystroke echo burst", KindBurst, 44, 68, false},
		{"burst just under the relative tolerance", KindBurst, 300, 300, false},
		{"check-in burst", KindBurst, 704, 580, true},
		{"small request, larger answer burst", KindBurst, 52, 400, true},
		{"small whole session", KindSession, 236, 141, true},
		{"keystroke-sized whole session", KindSession, 44, 68, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := NewDetector(DefaultConfig())
			k := testKey
			k.Kind = c.kind
			for i := range 10 {
				start := sec(1000 + 60*float64(i))
				d.Beat(k, netip.Addr{}, start)
				d.Sizes(k, start, c.out, c.in)
			}
			p, ok := d.peek(k)
			if !ok || p.hist == nil {
				t.Fatal("pair has no history")
			}
			var e estimate
			d.sizeEvidence(p, &e)
			if got := e.size > 0; got != c.adds {
				t.Errorf("%d B out, %d B in: size evidence %.2f, want it to add: %v", c.out, c.in, e.size, c.adds)
			}
		})
	}
}

// TestMayFoldNeverSkipsAScoredCandidate: whenever mayFold rules a candidate
// out, or mayFoldRefined its first refinement, its refinement would have
// kept fewer than kmin residuals, over Poisson, jittered-clock and clustered
// intervals and every jitter bound.
func TestMayFoldNeverSkipsAScoredCandidate(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	skipped, tried := 0, 0
	skippedRefined, triedRefined := 0, 0
	for trial := 0; trial < 20000; trial++ {
		n := 2 + rng.IntN(HistoryLen-2)
		ds := make([]float64, n)
		for i := range ds {
			switch trial % 3 {
			case 0: // a person's visits
				ds[i] = 1 + rng.ExpFloat64()*300
			case 1: // a clock with jitter and missed beats
				ds[i] = 60 * float64(1+rng.IntN(3)) * (1 + 0.3*(2*rng.Float64()-1))
			default: // bursts and pauses
				ds[i] = []float64{2, 30, 900}[rng.IntN(3)] * (0.5 + rng.Float64())
			}
		}
		sorted := append([]float64(nil), ds...)
		slices.Sort(sorted)
		maxJ := []float64{0.5, 0.25, 0.1, 0.02}[rng.IntN(4)]
		kmin := 2 + rng.IntN(n-1)
		c := sorted[rng.IntN(n)]
		if rng.IntN(4) == 0 {
			c *= 0.2 + 3*rng.Float64()
		}
		tried++
		if mayFold(sorted, c, maxJ, kmin) {
			c1 := refine(ds, c, maxJ)
			triedRefined++
			if mayFoldRefined(sorted, c1, maxJ, kmin) {
				continue
			}
			skippedRefined++
			if _, r := residuals(ds, refine(ds, c1, maxJ), maxJ, nil); len(r) >= kmin {
				t.Fatalf("candidate %.3f refined to %.3f (maxJ %v, kmin %d) ruled out, but %d residuals kept: %v", c, c1, maxJ, kmin, len(r), ds)
			}
			continue
		}
		skipped++
		if _, r := foldResiduals(ds, c, maxJ, nil); len(r) >= kmin {
			t.Fatalf("candidate %.3f (maxJ %v, kmin %d) ruled out, but %d residuals kept: %v", c, maxJ, kmin, len(r), ds)
		}
	}
	if skipped < tried/10 {
		t.Fatalf("only %d of %d candidates ruled out: the test no longer exercises mayFold", skipped, tried)
	}
	if skippedRefined < triedRefined/20 {
		t.Fatalf("only %d of %d refined candidates ruled out: the test no longer exercises mayFoldRefined", skippedRefined, triedRefined)
	}
	t.Logf("mayFold ruled out %d of %d candidates, mayFoldRefined %d of the %d left", skipped, tried, skippedRefined, triedRefined)
}
