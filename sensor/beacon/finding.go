package beacon

import (
	"fmt"
	"math"

	"slices"
	"strconv"
	"strings"
	"time"
)

// finding builds the Finding for pair k from its scored history.
func (d *Detector) finding(k PairKey, p *pair, e *estimate) *Finding {
	h := p.hist
	n := int(h.n)
	f := &Finding{
		Key:         k,
		PeriodS:     round3(e.period),
		Jitter:      round3(e.jitter),
		Beats:       int(p.beats),
		Missed:      e.missed,
		First:       p.first,
		Last:        p.lastBeat(),
		Evidence:    round3(e.evidence),
		Fit:         e.fit,
		Intervals:   e.n,
		Gaps:        e.gaps,
		SpanS:       round3(e.span),
		SizeRegular: -1,
		BeatTimes:   make([]int64, n),
		DstIPs:      slices.Clone(h.dst[:h.ndst]),
	}
	var outs, ins, so, si []float64
	for i := 0; i < n; i++ {
		j := h.at(i)
		f.BeatTimes[i] = p.base + int64(h.t[j])*int64(time.Millisecond)
		if o := decodeSize(h.out[j]); o >= 0 {
			outs = append(outs, o)
			ins = append(ins, decodeSize(h.in[j]))
		}
	}
	if len(outs) > 0 {
		so, si = slices.Clone(outs), slices.Clone(ins)
		slices.Sort(so)
		slices.Sort(si)
		f.BytesOutMedian, f.BytesInMedian = median(so), median(si)
		if len(outs) >= 3 {
			f.SizeRegular = sizeRegularity(outs, ins, f.BytesOutMedian, f.BytesInMedian)
		}
	}
	f.Score = score(e, f.SizeRegular)
	f.Reasons = reasons(k, e, f)
	return f
}

// sizeRegularity is the fraction of sessions whose bytes out and in are both
// near the medians (see near): beacons repeat the same exchange, people do not.
func sizeRegularity(outs, ins []float64, mo, mi float64) float64 {
	k := 0
	for i := range outs {
		if near(outs[i], mo) && near(ins[i], mi) {
			k++
		}
	}
	return float64(k) / float64(len(outs))
}

// score combines the explained components into 0..1. Significance dominates;
// tight timing, few gaps and missed beats, and regular sizes raise it.
func score(e *estimate, sizeReg float64) float64 {
	sig := min(1, e.evidence/20)
	timing := 1 - min(1, e.jitter/0.5)
	coverage := float64(e.fit) / float64(max(1, e.n))
	missed := 1 - float64(e.missed)/float64(max(1, e.missed+e.fit))
	size := 0.5
	if sizeReg >= 0 {
		size = sizeReg
	}
	s := 0.35*sig + 0.25*timing + 0.15*coverage + 0.1*missed + 0.15*size
	return round3(max(0, min(1, s)))
}

func reasons(k PairKey, e *estimate, f *Finding) []string {
	what := map[Kind]string{KindSession: "connects", KindBurst: "sends a burst inside one long session", KindDNS: "queries DNS names under this domain"}[k.Kind]
	r := make([]string, 0, 6)
	r = append(r, fmt.Sprintf("%s every %s (%d beats over %s)", what, secs(e.period), f.Beats, secs(e.span)))
	switch {
	case e.jitter < 0.01:
		r = append(r, "timing is machine-exact: intervals vary by less than 1 % of the period")
	case e.hi > e.lo:
		r = append(r, fmt.Sprintf("intervals vary by about %s %% (between %s and %s), the pattern of a sleep with jitter", trimFloat(100*e.jitter, 0), secs(e.lo), secs(e.hi)))
		// The midrange of n uniform sleeps spread over w is off by about
		// w/sqrt(2(n+1)(n+2)): say so while it is still coarse. The spread
		// counts every interval near the period, fitted or not.
		lo, hi := min(e.lo, e.wlo), max(e.hi, e.whi)
		if u := (hi - lo) / e.period / math.Sqrt(2*float64(e.singles+1)*float64(e.singles+2)); u >= 0.02 {
			r = append(r, fmt.Sprintf("with this much jitter the period is known to about ±%s %% so far", trimFloat(100*u, 0)))
		}
	}
	r = append(r, fmt.Sprintf("%d of %d intervals fit the period", e.fit, e.n))
	if e.chained > 0 {
		r = append(r, fmt.Sprintf("%d of the last %d beats form a regular sequence every %s; the others fall between them (another program, or a person using the same destination)",
			e.chained, e.n+1, secs(e.period)))
	}
	if e.missed > 0 {
		r = append(r, fmt.Sprintf("%d beats were skipped but the schedule resumed in step (missed-beat fraction %s %%)", e.missed, trimFloat(100*float64(e.missed)/float64(e.missed+e.fit), 0)))
	}
	if e.off > 0 {
		r = append(r, fmt.Sprintf("%d interval(s) off the schedule, the shortest %s (an extra run, or more jitter than seen so far)", e.off, secs(e.minOff)))
	}
	if e.gaps > 0 {
		r = append(r, fmt.Sprintf("%d longer silence(s), the longest %s (a sleeping or offline host), then it resumed", e.gaps, secs(e.maxGap)))
	}
	if f.SizeRegular >= 0 {
		if f.SizeRegular >= 0.8 {
			r = append(r, fmt.Sprintf("same size each time: about %s out and %s in", bytesStr(f.BytesOutMedian), bytesStr(f.BytesInMedian)))
		} else {
			r = append(r, fmt.Sprintf("sizes vary (median %s out, %s in)", bytesStr(f.BytesOutMedian), bytesStr(f.BytesInMedian)))
		}
	}
	if len(f.DstIPs) > 1 {
		r = append(r, fmt.Sprintf("reached %d different addresses under one name (rotating CDN or load balancer)", len(f.DstIPs)))
	}
	r = append(r, fmt.Sprintf("random traffic would look this regular about once in 10^%s tries", trimFloat(e.evidence, 0)))
	return r
}

func bytesStr(b float64) string {
	switch {
	case b >= 1<<20:
		return trimFloat(b/(1<<20), 1) + " MB"
	case b >= 1<<10:
		return trimFloat(b/(1<<10), 1) + " KB"
	}
	return strconv.Itoa(int(b)) + " B"
}

func trimFloat(v float64, prec int) string {
	s := strconv.FormatFloat(v, 'f', prec, 64)
	if prec > 0 {
		s = strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
	}
	return s
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
