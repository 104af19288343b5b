package beacon

// The estimator as it was before scoring was made cheaper (issue 15): a
// full sort wherever order statistics are read, every candidate fundamental
// folded, describe on every estimate. TestEstimateMatchesReference holds the
// estimator to it bit for bit.

import "math"

// refEstimate is estimate, computed the plain way.
func (d *Detector) refEstimate(p *pair) estimate {
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
	kmin := max(d.cfg.MinBeats-1, (3*ni+3)/4) // at most a quarter unexplained
	maxJ := d.cfg.MaxJitter
	minP, maxP := d.cfg.MinPeriod.Seconds(), d.cfg.MaxPeriod.Seconds()
	penalty := math.Log10(float64(ni) * float64(ni-kmin+1) * 2)

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
		lq, l1q := refBandLogs(j, 1)
		ev := -logBinomTailLn(ni, k, lq, l1q)
		sc.exp = append(sc.exp, explanation{ev, bc, k, false})
		if ev > best.evidence {
			best.evidence, bestC = ev, bc
		}
	}

	// Multiples: candidate fundamentals from the smallest intervals and the
	// single-band centre, each refined once to the mean spacing.
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
	for _, c := range sc.cnd[:nc] {
		if !mayFold(ss, c, maxJ, kmin) {
			continue // as len(r) < kmin below, without the passes
		}
		c, r := refFoldResiduals(ds, c, maxJ, sc.r[:0])
		if c < 0.9*minP || c > 1.1*maxP {
			continue
		}
		if len(r) < kmin {
			continue // too few intervals near a multiple: no band to score
		}
		sortSmall(r)
		for k := min(len(r), ni); k >= kmin; k-- {
			j := max(r[k-1], resolution/c, minJitter)
			if j > maxJ {
				continue
			}
			lq, l1q := refBandLogs(j, maxMultiple)
			ev := -logBinomTailLn(ni, k, lq, l1q)
			sc.exp = append(sc.exp, explanation{ev, c, k, true})
			best.evidence = max(best.evidence, ev)
		}
	}
	if math.IsInf(best.evidence, -1) {
		best.evidence = 0
		return best
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
	best.fit = desc.k
	best.evidence -= penalty
	best.timing = best.evidence
	d.refDescribe(&best, desc.c, desc.folded)
	if best.timing >= d.cfg.TimingEvidence && best.timing < d.cfg.Evidence {
		d.sizeEvidence(p, &best)
		best.evidence += best.size
	}
	return best
}

// foldResiduals refines candidate fundamental c twice to the mean spacing
// of the intervals ds near its first maxMultiple multiples, then returns it
// with those intervals' residuals within maxJ (relative to c, appended to
// r, unsorted).
func refFoldResiduals(ds []float64, c, maxJ float64, r []float64) (float64, []float64) {
	for iter := 0; iter < 2; iter++ {
		sum, cnt := 0.0, 0
		for _, x := range ds {
			m := math.Round(x / c)
			if m < 1 || m > maxMultiple || math.Abs(x-m*c) > maxJ*c {
				continue
			}
			sum += x
			cnt += int(m)
		}
		if cnt == 0 {
			break
		}
		c = sum / float64(cnt)
	}
	for _, x := range ds {
		m := math.Round(x / c)
		if m < 1 || m > maxMultiple {
			continue
		}
		// A residual beyond maxJ can only be the edge of a band wider
		// than maxJ, which is never scored; leaving it out keeps the
		// order of the others and the bands that are scored.
		if v := math.Abs(x-m*c) / c; v <= maxJ {
			r = append(r, v)
		}
	}
	return c, r
}

// refDescribe is describe, computed the plain way.
func (d *Detector) refDescribe(e *estimate, c float64, folded bool) {
	sc := &d.sc
	ds := sc.d[:e.n]
	res := sc.r[:0]
	for _, x := range ds {
		m := 1.0
		if folded {
			m = max(1, math.Round(x/c))
		}
		res = append(res, math.Abs(x-m*c)/c)
	}
	sortSmall(res)
	w := res[e.fit-1] + 1e-9
	if w > 0.1 && !folded {
		// Jittered: every interval within ±75 % of the median interval near
		// c. Sleeps drawn from [P(1-j), P(1+j)] with j <= 0.5 span a ratio
		// of at most 3, which fits; two sleeps in a row (a missed check-in)
		// are at least twice the shortest and mostly fall outside.
		near := sc.s[:0]
		for _, x := range ds {
			if x > 0.25*c && x < 2*c {
				near = append(near, x)
			}
		}
		if len(near) >= 3 {
			sortSmall(near)
			c = median(near)
		}
		w, folded = 0.75, false
	}
	sum, cnt, lo, hi := 0.0, 0, math.Inf(1), 0.0
	singles := sc.s[:0] // the sorted copy is no longer needed
	e.fit, e.gaps, e.missed, e.maxGap, e.off, e.minOff = 0, 0, 0, 0, 0, math.Inf(1)
	e.wlo, e.whi = math.Inf(1), 0
	for _, x := range ds {
		m := 1.0
		if folded {
			m = max(1, math.Round(x/c))
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
		if m == 1 {
			singles = append(singles, x)
			lo, hi = min(lo, x), max(hi, x)
		}
	}
	e.period = sum / float64(cnt)
	e.singles = len(singles)
	if len(singles) < 3 {
		e.lo, e.hi = e.period, e.period
		return
	}
	e.lo, e.hi = lo, hi
	sortSmall(singles)
	med := median(singles)
	dev := sc.r[:0]
	for _, x := range singles {
		dev = append(dev, math.Abs(x-med))
	}
	sortSmall(dev)
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

// refBandLogs is bandProb returning ln q and ln(1-q), from the table when j is
// on the grid (the common case) so scoring does no logarithms.
func refBandLogs(j float64, m int) (float64, float64) {
	t := 0
	if m > 1 {
		t = 1
	}
	if j <= bandJMin || j >= bandJMax {
		q := bandProb(j, m)
		return math.Log(q), math.Log1p(-q)
	}
	i := int(math.Ceil(math.Log(j/bandJMin) * bandInvStep))
	if i >= bandN {
		return 0, math.Inf(-1)
	}
	return bandLog[t][i][0], bandLog[t][i][1]
}
