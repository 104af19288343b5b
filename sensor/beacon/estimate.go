package beacon

import (
	"math"
	"time"
	"unsafe"
)

const (
	unsafeSizeofPair    = unsafe.Sizeof(pair{})
	unsafeSizeofHistory = unsafe.Sizeof(history{})

	// maxMultiple is the largest multiple of the period an interval may be
	// and still count as "missed beats" rather than a silence (sleep, outage).
	maxMultiple = 5
	// resolution is the timing noise floor (capture timestamps, scheduler,
	// network): bands are never narrower than this.
	resolution = 0.05 // seconds
	minJitter  = 0.001
)

// scratch holds the per-detector buffers scoring reuses, so rescoring a pair
// allocates nothing until a Finding is built.
type scratch struct {
	t    [HistoryLen]float64 // beat times, s, oldest first
	d    [HistoryLen]float64 // intervals, chronological
	s    [HistoryLen]float64 // sorted intervals
	r    [HistoryLen]float64 // residuals
	u    [HistoryLen]float64 // describe's sorted singles
	cnd  [8]float64
	seen [8]float64    // candidate fundamentals after their first refinement
	memo bandMemo      // the last band looked up
	exp  []explanation // candidate explanations of the current pair
}

// bandMemo remembers the last bandLogsQ lookup: consecutive k of one family
// mostly share a band (the floor of resolution or minJitter, or a residual
// shared by several intervals), and the lookup costs a logarithm.
type bandMemo struct {
	j          float64
	m          int
	lq, l1q, q float64
}

// band is bandLogsQ(j, m) through the memo.
func (sc *scratch) band(j float64, m int) (lq, l1q, q float64) {
	b := &sc.memo
	if j != b.j || m != b.m {
		b.j, b.m = j, m
		b.lq, b.l1q, b.q = bandLogsQ(j, m)
	}
	return b.lq, b.l1q, b.q
}

// explanation is one candidate period: centre c, k intervals explained,
// folded multiples or not, and its evidence.
type explanation struct {
	ev     float64
	c      float64
	k      int
	folded bool
}

// estimate is the outcome of scoring one pair's history.
type estimate struct {
	period   float64 // seconds
	jitter   float64 // robust relative spread of single-period intervals
	evidence float64 // timing + size evidence
	timing   float64 // -log10 chance under Poisson arrivals (after the search penalty)
	size     float64 // -log10 chance that sizes are this regular by accident
	sized    int     // beats with sizes known
	sameSize int     // of those, beats within ±15 % of the median both ways
	fit, n   int     // intervals explained / intervals
	missed   int     // sum of (multiple-1) over explained intervals
	gaps     int     // intervals not explained that are longer than the period (silences)
	maxGap   float64 // longest of them, seconds
	off      int     // intervals not explained that are shorter (off the schedule)
	minOff   float64 // shortest of them, seconds
	wlo, whi float64 // range of all intervals within ±MaxJitter of the period
	lo, hi   float64 // range of explained single-period intervals, seconds
	singles  int     // explained single-period intervals
	chained  int     // beats in the dominant regular sub-sequence, when it set the period (see unmix)
	span     float64 // seconds
}

// estimate finds the period that explains the most intervals most tightly and
// how unlikely that is for random arrivals. Two families of explanations are
// tried: a band of single intervals [c(1-j), c(1+j)] (jittered sleeps, C2
// style), and bands around the first few multiples of c (a clock with missed
// beats, launchd style). Each is scored by the binomial tail of "k of n
// exponential intervals fall in such bands", with the band probability
// maximised over the unknown Poisson rate, so the test is scale-free.
func (d *Detector) estimate(p *pair) estimate {
	e, _ := d.estimateAbove(p, math.Inf(-1))
	return e
}

// estimateAbove is estimate, stopped once the search over explanations has
// found the timing evidence below floor: then n, span, timing and evidence
// are set (as estimate sets them), nothing else, and described is false. No
// explanation at all stops it too. Nothing after the search changes timing,
// and alertable needs timing >= TimingEvidence, so with that floor a stopped
// estimate is one that would not alert: describing it (period, jitter, fit,
// gaps) and weighing its sizes would change nothing score decides.
func (d *Detector) estimateAbove(p *pair, floor float64) (e estimate, described bool) {
	h, sc := p.hist, &d.sc
	n := int(h.n)
	for i := 0; i < n; i++ {
		sc.t[i] = float64(h.t[h.at(i)]) / 1000
	}
	ni := n - 1
	for i := 0; i < ni; i++ {
		sc.d[i] = sc.t[i+1] - sc.t[i]
	}
	ds := sc.d[:ni]
	ss := sc.s[:ni]
	copy(ss, ds)
	sortSmall(ss)
	kmin := minFit(ni, d.cfg.MinBeats)
	maxJ := d.cfg.MaxJitter
	minP, maxP := d.minP, d.maxP
	penalty := d.penalty[ni]

	best := estimate{n: ni, span: sc.t[ni] - sc.t[0], evidence: math.Inf(-1)}
	bestC := 0.0
	sc.exp = sc.exp[:0]

	// Single band: the tightest window of k sorted intervals, for each k.
	for k := ni; k >= kmin; k-- {
		bj, bc := math.Inf(1), 0.0
		for i := 0; i+k <= ni; i++ {
			lo, hi := ss[i], ss[i+k-1]
			if lo <= 0 {
				continue
			}
			if j := (hi - lo) / (hi + lo); j < bj {
				bj, bc = j, (hi+lo)/2
			}
		}
		if bc < minP*(1-maxJ) || bc > maxP*(1+maxJ) {
			continue
		}
		j := max(bj, resolution/bc, minJitter)
		if j > maxJ {
			continue
		}
		lq, l1q, q := sc.band(j, 1)
		ev := -logBinomTailQ(ni, k, lq, l1q, q)
		sc.exp = append(sc.exp, explanation{ev, bc, k, false})
		if ev > best.evidence {
			best.evidence, bestC = ev, bc
		}
	}

	// Multiples: candidate fundamentals from the smallest intervals and the
	// single-band centre, each refined twice to the mean spacing.
	nc := 0
	for i := 0; i < ni && nc < 4; i++ {
		if ss[i] >= minP*(1-maxJ) {
			sc.cnd[nc] = ss[i]
			nc++
		}
	}
	if bestC > 0 {
		sc.cnd[nc] = bestC
		nc++
	}
	nseen := 0
candidates:
	for _, c := range sc.cnd[:nc] {
		if !mayFold(ss, c, maxJ, kmin) {
			continue // as len(r) < kmin below, without the passes
		}
		// What follows the first refinement depends on nothing but its
		// result: a candidate refined to the bits of an earlier one (a
		// clock's smallest intervals all are) would add the same
		// explanations again, which change neither the best evidence nor,
		// being no stronger and no wider, the one that describes the pair.
		c = refine(ds, c, maxJ)
		for _, s := range sc.seen[:nseen] {
			if s == c {
				continue candidates
			}
		}
		sc.seen[nseen] = c
		nseen++
		if !mayFoldRefined(ss, c, maxJ, kmin) {
			continue // as len(r) < kmin below, without the passes
		}
		c, r := residuals(ds, refine(ds, c, maxJ), maxJ, sc.r[:0])
		if c < 0.9*minP || c > 1.1*maxP {
			continue
		}
		if len(r) < kmin {
			continue // too few intervals near a multiple: no band to score
		}
		// Only r[k-1] for k >= kmin is read: the order statistics from
		// kmin-1 up, not a full sort.
		sortFrom(r, kmin-1)
		for k := min(len(r), ni); k >= kmin; k-- {
			j := max(r[k-1], resolution/c, minJitter)
			if j > maxJ {
				continue
			}
			lq, l1q, q := sc.band(j, maxMultiple)
			ev := -logBinomTailQ(ni, k, lq, l1q, q)
			sc.exp = append(sc.exp, explanation{ev, c, k, true})
			best.evidence = max(best.evidence, ev)
		}
	}
	if math.IsInf(best.evidence, -1) {
		best.evidence = 0
		return best, false
	}
	// Describe the pair by the explanation that covers the most intervals
	// among those nearly as strong as the best (within a factor of 10): a
	// few intervals that happen to bunch tightly must not hide the spread of
	// a jittered sleep.
	desc := explanation{ev: math.Inf(-1)}
	for _, x := range sc.exp {
		if x.ev >= best.evidence-1 && (x.k > desc.k || x.k == desc.k && x.ev > desc.ev) {
			desc = x
		}
	}
	best.evidence -= penalty
	best.timing = best.evidence
	if best.timing < floor {
		return best, false
	}
	best.fit = desc.k
	d.describe(&best, desc.c, desc.folded)
	if best.timing >= d.cfg.TimingEvidence && best.timing < d.cfg.Evidence {
		d.sizeEvidence(p, &best)
		best.evidence += best.size
	}
	return best, true
}

// minFit is the fewest of ni intervals an explanation must cover: at most a
// quarter unexplained, and MinBeats-1 at least.
func minFit(ni, minBeats int) int { return max(minBeats-1, (3*ni+3)/4) }

// searchPenalty is the evidence estimate takes off the best explanation's
// for having searched many (log10 of ni·(ni-kmin+1)·2), per history length.
func searchPenalty(ni, minBeats int) float64 {
	return math.Log10(float64(ni) * float64(ni-minFit(ni, minBeats)+1) * 2)
}

// foldResiduals refines candidate fundamental c twice to the mean spacing
// of the intervals ds near its first maxMultiple multiples, then returns it
// with those intervals' residuals within maxJ (relative to c, appended to
// r, unsorted).
func foldResiduals(ds []float64, c, maxJ float64, r []float64) (float64, []float64) {
	return residuals(ds, refine(ds, refine(ds, c, maxJ), maxJ), maxJ, r)
}

// refine returns the mean spacing of the intervals ds within maxJ·c of one
// of the first maxMultiple multiples of c, or c when there are none.
func refine(ds []float64, c, maxJ float64) float64 {
	sum, cnt := 0.0, 0
	tol := maxJ * c
	for _, x := range ds {
		q := x / c
		if q < 0.5 || q >= maxMultiple+0.5 {
			continue // rounds to no multiple from 1 to maxMultiple
		}
		m := roundHalf(q)
		if math.Abs(x-m*c) > tol {
			continue
		}
		sum += x
		cnt += int(m)
	}
	if cnt == 0 {
		return c
	}
	return sum / float64(cnt)
}

// residuals appends to r the residuals within maxJ (relative to c) of the
// intervals ds near one of the first maxMultiple multiples of c.
func residuals(ds []float64, c, maxJ float64, r []float64) (float64, []float64) {
	for _, x := range ds {
		q := x / c
		if q < 0.5 || q >= maxMultiple+0.5 {
			continue
		}
		m := roundHalf(q)
		// A residual beyond maxJ can only be the edge of a band wider
		// than maxJ, which is never scored; leaving it out keeps the
		// order of the others and the bands that are scored.
		if v := math.Abs(x-m*c) / c; v <= maxJ {
			r = append(r, v)
		}
	}
	return c, r
}

// roundHalf is math.Round(q) for 0.5 <= q < 2⁵², in an addition and two
// conversions: q+0.5 is exact while it stays in q's binade (0.5 is a
// multiple of q's ulp), so truncating it rounds half away from zero; past
// it, the sum lies between a power of two, an integer, and that plus ½,
// and so does its rounding. (Below 0.5 it is wrong: 0.49999999999999994
// plus ½ rounds to 1.)
func roundHalf(q float64) float64 { return float64(int64(q + 0.5)) }

// mayFold reports whether candidate fundamental c can end with kmin
// residuals to score, given the intervals sorted. Each refinement pass makes
// c a mean of x/m over intervals x within maxJ·c of a multiple m·c, which
// lies within a factor 1±maxJ of c, and a residual is kept only for an
// interval within maxJ·c of one of the first maxMultiple multiples: every
// interval that can count lies in [(1-maxJ)³c, (maxMultiple+maxJ)(1+maxJ)²c]
// (widened by a margin for rounding). A person's visits to a site make the
// smallest intervals candidates with most others far beyond their fifth
// multiple; this spares them the passes.
func mayFold(sorted []float64, c, maxJ float64, kmin int) bool {
	lo := c * (1 - maxJ) * (1 - maxJ) * (1 - maxJ) * (1 - 1e-9)
	hi := c * (maxMultiple + maxJ) * (1 + maxJ) * (1 + maxJ) * (1 + 1e-9)
	return countWithin(sorted, lo, hi) >= kmin
}

// countWithin counts the sorted values in [lo, hi].
func countWithin(sorted []float64, lo, hi float64) int {
	n := 0
	for _, x := range sorted {
		if x > hi {
			break
		}
		if x >= lo {
			n++
		}
	}
	return n
}

// mayFoldRefined is mayFold after the first refinement, to c1: the second
// makes c a mean of x/m over intervals x within maxJ·c1 of a multiple m·c1,
// each within a factor 1±maxJ of c1 (or leaves c1), and a residual is kept
// only for an interval within maxJ·c of one of the first maxMultiple
// multiples of c: every interval that can count lies in
// [(1-maxJ)²c1, (maxMultiple+maxJ)(1+maxJ)c1], a third of mayFold's range.
// On an office day it spares one fold in four that mayFold let through
// (nearly half of those that end with too few residuals).
func mayFoldRefined(sorted []float64, c1, maxJ float64, kmin int) bool {
	lo := c1 * (1 - maxJ) * (1 - maxJ) * (1 - 1e-9)
	hi := c1 * (maxMultiple + maxJ) * (1 + maxJ) * (1 + 1e-9)
	return countWithin(sorted, lo, hi) >= kmin
}

// sameSizeProb is the chance assumed for a non-beacon session to land within
// ±15 % of the pair's median size both ways. Browsing and downloads have
// heavy-tailed sizes (far below this); it is deliberately generous because
// nothing calibrates it the way the exponential bound calibrates timing.
const sameSizeProb = 0.25

// sizeEvidence scores how many beats repeat the same request/response sizes.
func (d *Detector) sizeEvidence(p *pair, e *estimate) {
	h, sc := p.hist, &d.sc
	outs, ins := sc.t[:0], sc.r[:0] // times are no longer needed
	for i := 0; i < int(h.n); i++ {
		j := h.at(i)
		if h.out[j] != 0 || h.in[j] != 0 {
			outs = append(outs, decodeSize(h.out[j]))
			ins = append(ins, decodeSize(h.in[j]))
		}
	}
	n := len(outs)
	e.sized = n
	if n < 4 {
		return
	}
	mo := medianOf(outs, sc.s[:0])
	mi := medianOf(ins, sc.s[:0])
	if p.key.Kind == KindBurst && max(mo, mi) < minInformativeSize {
		// A burst's size is its first exchange. Within the absolute ±48 B,
		// "the same size" is true of every keystroke and echo of any
		// interactive protocol, so repeating it says nothing about a beacon
		// (typing with reading pauses in one SSH session,
		// TestTypingWithReadingPausesIsNoBeacon). A session's size is all
		// its bytes, handshakes included, so a small one that repeats still
		// tells (QuasarRAT's 236 B out, 141 B in per connection).
		return
	}
	k := 0
	for i := range outs {
		if near(outs[i], mo) && near(ins[i], mi) {
			k++
		}
	}
	e.sameSize = k
	e.size = max(0, -logBinomTail(n, k, sameSizeProb)-math.Log10(float64(n)))
}

// near: a check-in repeats its request and answer, give or take headers,
// cookies and padding — ±15 % (at least ±48 bytes); people's traffic spreads
// over orders of magnitude.
func near(x, med float64) bool { return math.Abs(x-med) <= max(sizeTol*med, sizeTolMin) }

const (
	sizeTol    = 0.15
	sizeTolMin = 48
	// minInformativeSize is where the relative tolerance takes over from the
	// absolute one (48 B / 15 % = 320 B): a burst pair's sizes add evidence
	// only when one direction's median is at least this large.
	minInformativeSize = sizeTolMin / sizeTol
)

// medianOf returns the median of v using buf as scratch (v is not changed).
func medianOf(v, buf []float64) float64 {
	buf = append(buf[:0], v...)
	sortSmall(buf)
	return median(buf)
}

// describe fills period, jitter, missed beats and gaps for the chosen
// explanation with fundamental c.
//
// A clock (tight band, possibly with missed beats) is described by the bands
// that won: period = total explained time / beats it spans. A jittered sleep
// is described by every interval within ±75 % of the median interval, and its
// period is the midrange of those intervals: jitter implementations draw
// sleeps uniformly, where the midrange estimates the mean spacing several
// times more accurately than the sample mean, and the band that maximised
// the evidence may cover only part of the range.
func (d *Detector) describe(e *estimate, c float64, folded bool) {
	sc := &d.sc
	ds := sc.d[:e.n]
	ss := sc.s[:e.n] // sorted by estimate
	res := sc.r[:0]
	for _, x := range ds {
		m := 1.0
		if folded {
			if q := x / c; q >= 0.5 {
				m = roundHalf(q) // else m is 1 all the same
			}
		}
		res = append(res, math.Abs(x-m*c)/c)
	}
	sortFrom(res, e.fit-1) // only res[e.fit-1] is read
	w := res[e.fit-1] + 1e-9
	if w > 0.1 && !folded {
		// Jittered: every interval within ±75 % of the median interval near
		// c. Sleeps drawn from [P(1-j), P(1+j)] with j <= 0.5 span a ratio
		// of at most 3, which fits; two sleeps in a row (a missed check-in)
		// are at least twice the shortest and mostly fall outside.
		// Taken from the sorted intervals, they come sorted.
		near := sc.r[:0]
		for _, x := range ss {
			if x > 0.25*c && x < 2*c {
				near = append(near, x)
			}
		}
		if len(near) >= 3 {
			c = median(near)
		}
		w, folded = 0.75, false
	}
	sum, cnt := 0.0, 0
	e.fit, e.gaps, e.missed, e.maxGap, e.off, e.minOff = 0, 0, 0, 0, 0, math.Inf(1)
	e.wlo, e.whi = math.Inf(1), 0
	for _, x := range ds {
		m := 1.0
		if folded {
			if q := x / c; q >= 0.5 {
				m = roundHalf(q) // else m is 1 all the same
			}
		}
		if math.Abs(x-c) <= d.cfg.MaxJitter*c {
			e.wlo, e.whi = min(e.wlo, x), max(e.whi, x)
		}
		if m > maxMultiple || math.Abs(x-m*c) > w*c {
			if x > c {
				e.gaps++
				e.maxGap = max(e.maxGap, x)
			} else {
				e.off++
				e.minOff = min(e.minOff, x)
			}
			continue
		}
		e.fit++
		sum += x
		cnt += int(m)
		e.missed += int(m) - 1
	}
	e.period = sum / float64(cnt)
	// The explained single-period intervals, by the test of the loop above
	// (m is 1 and the residual within w), taken from the sorted intervals
	// so they come sorted: m grows with x, and so does x-c.
	singles := sc.u[:0]
	for _, x := range ss {
		if folded && x/c >= 1.5 {
			break // rounds to 2 or more: a multiple, as is every x after it
		}
		if math.Abs(x-c) > w*c {
			if x > c {
				break
			}
			continue
		}
		singles = append(singles, x)
	}
	e.singles = len(singles)
	if len(singles) < 3 {
		e.lo, e.hi = e.period, e.period
		return
	}
	lo, hi := singles[0], singles[len(singles)-1]
	e.lo, e.hi = lo, hi
	med := median(singles)
	dev := absDevSorted(singles, med, sc.r[:0])
	spread := 1.4826 * median(dev)
	switch {
	case (hi-lo)/(hi+lo) <= 0.05 || folded:
		// A clock, or missed beats: total time over beats spanned.
	case spread < 0.1*(hi-lo):
		// A clock plus an outlier or two (a late start on wake): the range
		// says nothing about the schedule; average the intervals near the
		// median.
		sum, n := 0.0, 0
		for _, x := range singles {
			if math.Abs(x-med) <= max(3*spread, resolution) {
				sum, n = sum+x, n+1
			}
		}
		e.period = sum / float64(n)
	default:
		e.period = (lo + hi) / 2
	}
	e.jitter = spread / e.period
}

// absDevSorted appends |x-med| for every x of sorted s to dev, in ascending
// order: the values below med, walked down, and those from med up, walked
// up, are each ascending (subtraction is monotone, and x-med is exactly
// -(med-x)), so merging them sorts the deviations without a sort.
func absDevSorted(s []float64, med float64, dev []float64) []float64 {
	j := 0
	for j < len(s) && s[j] < med {
		j++
	}
	i := j - 1
	for i >= 0 || j < len(s) {
		if j >= len(s) || i >= 0 && med-s[i] <= s[j]-med {
			dev = append(dev, med-s[i])
			i--
		} else {
			dev = append(dev, s[j]-med)
			j++
		}
	}
	return dev
}

func median(s []float64) float64 {
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func (d *Detector) alertable(e *estimate) bool {
	return e.evidence >= d.cfg.Evidence && e.timing >= d.cfg.TimingEvidence && e.fit >= d.cfg.MinBeats-1 &&
		e.period >= 0.9*d.minP && e.period <= 1.1*d.maxP &&
		e.jitter <= d.cfg.MaxJitter
}

// logBinomTail returns log10 P(X >= k) for X ~ Binomial(n, q), or an upper
// bound on it (so evidence is never overstated): when terms fall from the
// k-th on, the tail is at most the k-th term over (1 - ratio of successive
// terms), which is exact to a few percent in the region that matters and
// costs one term instead of n-k+1.
func logBinomTail(n, k int, q float64) float64 {
	if q >= 1 || k <= 0 {
		return 0
	}
	return logBinomTailLn(n, k, math.Log(q), math.Log1p(-q))
}

// logBinomTailLn is logBinomTail with q given as ln q and ln(1-q).
func logBinomTailLn(n, k int, lq, l1q float64) float64 {
	if lq >= 0 || k <= 0 {
		return 0
	}
	return logBinomTailQ(n, k, lq, l1q, math.Exp(lq))
}

// logBinomTailQ is logBinomTailLn given q = e^lq too (bandLogsQ has it
// from a table).
func logBinomTailQ(n, k int, lq, l1q, q float64) float64 {
	if lq >= 0 || k <= 0 {
		return 0
	}
	first := logChoose(n, k) + float64(k)*lq + float64(n-k)*l1q
	if r := float64(n-k) / float64(k+1) * q / (1 - q); r < 0.5 {
		return min(0, (first-math.Log1p(-r))/math.Ln10)
	}
	acc := math.Inf(-1)
	for i := k; i <= n; i++ {
		acc = logAdd(acc, logChoose(n, i)+float64(i)*lq+float64(n-i)*l1q)
	}
	return min(0, acc/math.Ln10)
}

func logAdd(a, b float64) float64 {
	if math.IsInf(a, -1) {
		return b
	}
	if a < b {
		a, b = b, a
	}
	return a + math.Log1p(math.Exp(b-a))
}

var lchoose = func() (t [HistoryLen + 1][HistoryLen + 1]float64) {
	for n := 0; n <= HistoryLen; n++ {
		for k := 0; k <= n; k++ {
			a, _ := math.Lgamma(float64(n + 1))
			b, _ := math.Lgamma(float64(k + 1))
			c, _ := math.Lgamma(float64(n - k + 1))
			t[n][k] = a - b - c
		}
	}
	return
}()

func logChoose(n, k int) float64 { return lchoose[n][k] }

// bandProb returns the largest probability, over all Poisson rates, that an
// exponential interval falls within relative half-width j of one of the first
// m multiples of a period. Looked up in a table on a log grid of j, rounding j
// up so the answer is never an underestimate.
func bandProb(j float64, m int) float64 {
	t := &bandTab[0]
	if m > 1 {
		t = &bandTab[1]
	}
	if j <= bandJMin {
		return t[0] * j / bandJMin
	}
	x := math.Log(j/bandJMin) / math.Log(bandJMax/bandJMin) * (bandN - 1)
	i := int(math.Ceil(x))
	if i >= bandN {
		return 1
	}
	return t[i]
}

const (
	bandN    = 256
	bandJMin = 1e-4
	bandJMax = 0.6
)

// bandTab (bandtab.go) holds maxBand on the grid of j, for one multiple and
// for maxMultiple; it is generated because computing it costs tens of
// milliseconds, at every start. TestBandTable checks it against maxBand.
//go:generate go test -run ^TestBandTable$ -update-band-table

// bandLog is ln q and ln(1-q) of bandTab.
var bandLog = func() (l [2][bandN][2]float64) {
	for m := range l {
		for i, q := range bandTab[m] {
			l[m][i] = [2]float64{math.Log(q), math.Log1p(-q)}
		}
	}
	return
}()

// bandGrid returns the grid's i-th j.
func bandGrid(i int) float64 {
	return bandJMin * math.Pow(bandJMax/bandJMin, float64(i)/(bandN-1))
}

var bandInvStep = (bandN - 1) / math.Log(bandJMax/bandJMin)

// bandLogsQ is bandProb returning ln q, ln(1-q) and e^(ln q), from tables
// when j is on the grid (the common case) so scoring does no logarithms and
// no exponentials.
func bandLogsQ(j float64, m int) (lq, l1q, q float64) {
	t := 0
	if m > 1 {
		t = 1
	}
	if j <= bandJMin || j >= bandJMax {
		q := bandProb(j, m)
		lq, l1q = math.Log(q), math.Log1p(-q)
		return lq, l1q, math.Exp(lq)
	}
	i := int(math.Ceil(math.Log(j/bandJMin) * bandInvStep))
	if i >= bandN {
		return 0, math.Inf(-1), 1
	}
	return bandLog[t][i][0], bandLog[t][i][1], bandExp[t][i]
}

// bandExp is e^(ln q) of bandLog: not always q's own bits, but those
// logBinomTailLn computes from ln q.
var bandExp = func() (x [2][bandN]float64) {
	for m := range x {
		for i := range x[m] {
			x[m][i] = math.Exp(bandLog[m][i][0])
		}
	}
	return
}()

// maxBand maximises sum_{k=1..m} P(|X - k·c| <= j·c) for X ~ Exp(1) over c.
func maxBand(j float64, m int) float64 {
	f := func(c float64) float64 {
		s := 0.0
		for k := 1; k <= m; k++ {
			lo, hi := (float64(k)-j)*c, (float64(k)+j)*c
			s += math.Exp(-max(lo, 0)) - math.Exp(-hi)
		}
		return s
	}
	best := 0.0
	for i := 0; i <= 600; i++ { // c from 1e-3 to 1e2 on a log grid
		c := 1e-3 * math.Pow(1e5, float64(i)/600)
		best = max(best, f(c))
	}
	return min(1, best*1.03) // grid slack (2 % steps in c): round up
}

// secs formats a duration in seconds for reasons.
func secs(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case s < 120:
		return trimFloat(s, 1) + " s"
	case s < 7200:
		return trimFloat(s/60, 1) + " min"
	case s < 172800:
		return trimFloat(s/3600, 1) + " h"
	}
	return trimFloat(d.Hours()/24, 1) + " days"
}

// unmix re-estimates the period of a pair about to alert whose beats do
// not fit one schedule well (some off it, or more beats "missed" than
// fitted): a beacon's destination that a person also uses gets the
// person's sessions between the beacon's, which split its intervals, so
// the spacing of all beats says too short a period (or a fraction of it,
// with "missed" beats). The dominant regular sub-sequence
// (regularChain), looked for between the estimate and 2.5 times it, gives
// the beacon's own period when it holds at least MinBeats beats and half
// the history (a comb at a multiple of the period holds fewer) and, for a
// pair with no beat off its schedule, differs from the estimate by more
// than 10 % (otherwise the estimate, made for jittered sleeps, stands).
func (d *Detector) unmix(p *pair, e *estimate) {
	h, sc := p.hist, &d.sc
	n := int(h.n)
	for i := 0; i < n; i++ {
		sc.t[i] = float64(h.t[h.at(i)]) / 1000
	}
	period, caught, ok := regularChain(sc.t[:n], 0.9*e.period, 2.5*e.period)
	if !ok || caught < d.cfg.MinBeats || 2*caught < n || period > d.cfg.MaxPeriod.Seconds() ||
		e.off == 0 && math.Abs(period-e.period) <= 0.1*e.period {
		return
	}
	e.period, e.chained, e.missed = period, caught, 0
}

// chainJitter is the window, as a fraction of the period, in which the
// next beat of a regular sub-sequence is looked for.
const chainJitter = 0.3

// regularChain finds the dominant regular sub-sequence of beat times t
// (sorted, seconds): the period d and phase whose comb of windows
// [k·d(1-chainJitter), k·d(1+chainJitter)] after a start beat catches far
// more beats than the pair's overall rate of beats would by chance. People
// using the same destination add beats between a beacon's, which split its
// intervals and drag the mean spacing down; the comb skips them. It returns
// the least-squares period of the beats the best comb caught, and how many
// it caught; ok is false when no comb does clearly better than chance.
//
// It costs O(n³) for n = HistoryLen beats at most and runs only when a pair
// is about to alert with beats off its schedule.
func regularChain(t []float64, lo, hi float64) (period float64, caught int, ok bool) {
	n := len(t)
	if n < 4 {
		return 0, 0, false
	}
	span := t[n-1] - t[0]
	rate := float64(n-1) / span
	best := 0.0
	starts := min(n, 6)
	for i := 0; i < starts; i++ {
		for j := i + 1; j < n; j++ {
			d := t[j] - t[i]
			if d < lo || d > hi {
				continue
			}
			for s := 0; s < starts; s++ {
				p, k, score := comb(t, s, d, rate)
				if score > best {
					best, period, caught = score, p, k
				}
			}
		}
	}
	if caught < 4 || best < 2 {
		return 0, 0, false
	}
	// Refine once around the estimate: the candidate spacing came from
	// one interval, the period from every beat caught.
	for s := 0; s < starts; s++ {
		if p, k, score := comb(t, s, period, rate); score >= best && k >= caught {
			best, period, caught = score, p, k
		}
	}
	return period, caught, true
}

// comb walks windows of period d from beat s, taking in each the beat
// closest to the window's centre (re-anchoring the phase there), counting a
// miss when a window is empty. Its score is the beats caught minus those
// the pair's rate would put in that many windows by chance. The period is
// the mean of the caught beats' spacings over the windows between them,
// with the shortest and longest eighth left out (a person's beat caught
// instead of the beacon's shortens one spacing and lengthens the next).
func comb(t []float64, s int, d, rate float64) (period float64, caught int, score float64) {
	w := chainJitter * d
	pHit := 1 - math.Exp(-rate*2*w)
	var sp [HistoryLen]float64
	nsp := 0
	caught = 1
	anchor, anchorK := t[s], 0
	tries := 0
	m := s + 1
	end := t[len(t)-1]
	for k := 1; anchor+float64(k-anchorK)*d-w <= end; k++ {
		target := anchor + float64(k-anchorK)*d
		tries++
		for m < len(t) && t[m] < target-w {
			m++
		}
		bestM := -1
		for q := m; q < len(t) && t[q] <= target+w; q++ {
			if bestM < 0 || math.Abs(t[q]-target) < math.Abs(t[bestM]-target) {
				bestM = q
			}
		}
		if bestM < 0 {
			continue
		}
		if nsp < len(sp) {
			sp[nsp] = (t[bestM] - anchor) / float64(k-anchorK)
			nsp++
		}
		caught++
		anchor, anchorK, m = t[bestM], k, bestM+1
	}
	if nsp < 2 {
		return 0, caught, 0
	}
	v := sp[:nsp]
	sortSmall(v)
	cut := nsp / 8
	sum := 0.0
	for _, x := range v[cut : nsp-cut] {
		sum += x
	}
	period = sum / float64(nsp-2*cut)
	return period, caught, float64(caught-1) - float64(tries)*pHit
}

// sortSmall sorts at most HistoryLen values in place by insertion, about
// twice as fast as slices.Sort at that size, which scoring does several
// times per beat. The values are intervals, residuals and deviations:
// never NaN and never -0, so every correct sort gives the same bytes.
func sortSmall(a []float64) {
	for i := 1; i < len(a); i++ {
		x := a[i]
		j := i
		for j > 0 && a[j-1] > x {
			a[j] = a[j-1]
			j--
		}
		a[j] = x
	}
}

// sortFrom leaves in a[from:] what a full sort would put there, sorted, and
// the smaller values, in no order, before it. Scoring reads only the few
// largest residuals: the tail is sorted, then every value before it larger
// than the tail's smallest takes that one's place and sinks to its own (in
// random order, about l·ln(n/l) of n values do, for a tail of l).
func sortFrom(a []float64, from int) {
	if from <= 0 {
		sortSmall(a)
		return
	}
	sortSmall(a[from:])
	for i := 0; i < from; i++ {
		x := a[i]
		if x <= a[from] {
			continue
		}
		a[i] = a[from]
		j := from
		for j+1 < len(a) && a[j+1] < x {
			a[j] = a[j+1]
			j++
		}
		a[j] = x
	}
}
