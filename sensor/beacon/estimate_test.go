package beacon

import (
	"math"
	"math/rand/v2"
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
