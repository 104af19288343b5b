package eval

import (
	"math"
	"slices"
)

// RITA v5's beacon score, reimplemented from its published analysis
// (activecm/rita analysis/beacons.go, default config) so the evaluation can
// print it beside launchtap's verdict for the same pairs. It scores a pair's
// connection start times (whole seconds) and per-connection originator IP
// bytes over the whole dataset:
//
//	score = 0.25·timestamp + 0.25·data size + 0.25·histogram + 0.25·duration
//
// timestamp and data size: mean of a Bowley-skewness score (1 − |skew|) and a
// MAD score ((median − MAD) / median) of the non-zero intervals / the sizes;
// histogram: the better of a flatness score (1 − coefficient of variation) of
// connection counts in 24 equal bins across the dataset and a bimodal-fit
// score; duration: the better of dataset coverage and the longest run of
// non-empty bins / 12, once at least 6 bins are non-empty. Pairs need 4
// unique timestamps. RITA's default thresholds: 0.5 base, 0.75 low, 0.9 medium.
const (
	ritaUniqueThreshold   = 4
	ritaHistBins          = 24
	ritaModeSensitivity   = 0.05
	ritaBimodalOutliers   = 1
	ritaBimodalMinHours   = 11
	ritaDurMinHours       = 6
	ritaDurIdealHours     = 12
	ritaWeightTS          = 0.25
	ritaWeightDS          = 0.25
	ritaWeightHist        = 0.25
	ritaWeightDur         = 0.25
	ritaThresholdMedium   = 0.9
	ritaThresholdLow      = 0.75
	ritaStrobeConnections = 86400
)

// ritaScore is RITA's beacon score and its parts; ok is false when RITA
// would not score the pair (too few unique timestamps, or a strobe).
type ritaScore struct {
	Score, TS, DS, Hist, Dur float64
	ok                       bool
}

// rita scores one pair. ts are connection start times (Unix seconds, any
// order), bytes the originator IP bytes of each connection; dsMin/dsMax the
// dataset's first and last timestamps.
func rita(ts []int64, bytes []float64, dsMin, dsMax int64) ritaScore {
	if len(ts) >= ritaStrobeConnections || dsMax <= dsMin {
		return ritaScore{}
	}
	ts = slices.Clone(ts)
	slices.Sort(ts)
	if len(slices.Compact(slices.Clone(ts))) < ritaUniqueThreshold {
		return ritaScore{}
	}
	var deltas []float64
	for i := 1; i < len(ts); i++ {
		if d := ts[i] - ts[i-1]; d > 0 {
			deltas = append(deltas, float64(d))
		}
	}
	if len(deltas) < 3 || len(bytes) < 3 {
		return ritaScore{}
	}
	slices.Sort(deltas)
	tsScore := statScore(deltas, 1)
	b := slices.Clone(bytes)
	slices.Sort(b)
	dsScore := statScore(b, 0)
	hist, bars, run := ritaHistogram(ts, dsMin, dsMax)
	histScore := max(cvScore(hist), bimodalScore(hist, bars))
	durScore := 0.0
	if bars >= ritaDurMinHours && ts[len(ts)-1] > ts[0] {
		coverage := min(1, math.Ceil(float64(ts[len(ts)-1]-ts[0])/float64(dsMax-dsMin)*1000)/1000)
		consistency := min(1, math.Ceil(float64(run)/ritaDurIdealHours*1000)/1000)
		durScore = max(coverage, consistency)
	}
	s := ritaScore{TS: tsScore, DS: dsScore, Hist: histScore, Dur: durScore, ok: true}
	s.Score = math.Round((tsScore*ritaWeightTS+dsScore*ritaWeightDS+durScore*ritaWeightDur+histScore*ritaWeightHist)*1000) / 1000
	return s
}

// statScore is the mean of the Bowley-skewness score and the MAD score of
// sorted values; madDefault is used when the median is below 1.
func statScore(v []float64, madDefault float64) float64 {
	q1, q2, q3 := quartiles(v)
	skew := 0.0
	if den := q3 - q1; den >= 10 && q2 != q1 && q2 != q3 {
		skew = (q1 + q3 - 2*q2) / den
	}
	skewScore := 1 - math.Abs(skew)
	med := medianSorted(v)
	dev := make([]float64, len(v))
	for i, x := range v {
		dev[i] = math.Abs(x - med)
	}
	slices.Sort(dev)
	mad := medianSorted(dev)
	madScore := madDefault
	if med >= 1 {
		madScore = (med - mad) / med
	}
	if madScore < 0 || math.IsNaN(madScore) {
		madScore = 0
	}
	return math.Round((skewScore+madScore)/2*1000) / 1000
}

// quartiles follows the montanaflynn/stats convention RITA uses: Q1 and Q3
// are the medians of the lower and upper halves, excluding the middle value
// when the count is odd.
func quartiles(v []float64) (q1, q2, q3 float64) {
	n := len(v)
	c1, c2 := n/2, n/2
	if n%2 == 1 {
		c1 = (n - 1) / 2
		c2 = c1 + 1
	}
	return medianSorted(v[:c1]), medianSorted(v), medianSorted(v[c2:])
}

func medianSorted(v []float64) float64 {
	n := len(v)
	switch {
	case n == 0:
		return 0
	case n%2 == 1:
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// ritaHistogram counts connections in 24 equal bins over the dataset and
// returns the counts, the number of non-empty bins and the longest run of
// non-empty bins (wrapping around).
func ritaHistogram(ts []int64, dsMin, dsMax int64) ([]int, int, int) {
	h := make([]int, ritaHistBins)
	step := float64(dsMax-dsMin) / ritaHistBins
	for _, t := range ts {
		i := int(float64(t-dsMin) / step)
		h[max(0, min(ritaHistBins-1, i))]++
	}
	bars, run, best := 0, 0, 0
	for i := 0; i < 2*len(h); i++ {
		if h[i%len(h)] > 0 {
			run++
			if i < len(h) {
				bars++
			}
		} else {
			best, run = max(best, run), 0
		}
	}
	best = min(max(best, run), len(h))
	return h, bars, best
}

func cvScore(h []int) float64 {
	total := 0
	for _, x := range h {
		total += x
	}
	if total == 0 {
		return 0
	}
	mean := float64(total) / float64(len(h))
	sd := 0.0
	for _, x := range h {
		sd += (float64(x) - mean) * (float64(x) - mean)
	}
	cv := math.Sqrt(sd/float64(len(h))) / mean
	if cv > 1 {
		return 0
	}
	return math.Round((1-cv)*1000) / 1000
}

// bimodalScore: the share of non-empty bins whose heights fall in the two
// most common height classes (classes 5 % of the tallest bar wide), after
// discarding one outlier bin; only with at least 11 non-empty bins.
func bimodalScore(h []int, bars int) float64 {
	if bars < ritaBimodalMinHours {
		return 0
	}
	tallest := slices.Max(h)
	size := math.Ceil(float64(tallest) * ritaModeSensitivity)
	classes := map[int]int{}
	for _, x := range h {
		if x > 0 {
			classes[int(math.Floor(float64(x)/size)*size)]++
		}
	}
	first, second := 0, 0
	for _, c := range classes {
		if c > first {
			first, second = c, first
		} else if c > second {
			second = c
		}
	}
	fit := float64(first+second) / max(float64(bars-ritaBimodalOutliers), 1)
	return min(1, math.Round(fit*1000)/1000)
}
