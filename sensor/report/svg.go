package report

import (
	"fmt"
	"html/template"
	"math"
	"slices"
	"strings"
	"time"
)

// The pictures are plain SVG built here, so the page needs nothing from
// anywhere. Only numbers and escaped text go into them.

const svgFont = `font-family="system-ui,sans-serif" font-size="11"`

// timelineSVG draws each beat as a tick on the time axis from the first to
// the last beat.
func timelineSVG(beats []time.Time) template.HTML {
	const w, h, pad = 640, 54, 10
	if len(beats) == 0 {
		return ""
	}
	lo, hi := beats[0], beats[len(beats)-1]
	span := hi.Sub(lo).Seconds()
	if span <= 0 {
		span = 1
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="pic" viewBox="0 0 %d %d" role="img" aria-label="beats on a timeline">`, w, h)
	fmt.Fprintf(&b, `<line x1="%d" y1="26" x2="%d" y2="26" stroke="#888"/>`, pad, w-pad)
	for _, t := range beats {
		x := pad + (w-2*pad)*t.Sub(lo).Seconds()/span
		fmt.Fprintf(&b, `<line x1="%.1f" y1="12" x2="%.1f" y2="40" stroke="#b3261e" stroke-width="2"><title>%s</title></line>`, x, x, template.HTMLEscapeString(t.UTC().Format(time.RFC3339)))
	}
	fmt.Fprintf(&b, `<text x="%d" y="52" %s>%s</text>`, pad, svgFont, lo.UTC().Format("2006-01-02 15:04"))
	fmt.Fprintf(&b, `<text x="%d" y="52" text-anchor="end" %s>%s</text>`, w-pad, svgFont, hi.UTC().Format("2006-01-02 15:04"))
	fmt.Fprintf(&b, `<text x="%d" y="9" text-anchor="middle" %s>%d beats over %s</text>`, w/2, svgFont, len(beats), human(span))
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// histogramSVG draws the intervals between beats in bins, with the period
// marked: a beacon is one tall bar (and its multiples, for missed beats).
func histogramSVG(intervals []float64, period float64) template.HTML {
	const w, h, pad, bins = 640, 120, 28, 30
	if len(intervals) == 0 {
		return ""
	}
	s := slices.Clone(intervals)
	slices.Sort(s)
	lo, hi := math.Min(s[0], period)*0.9, math.Max(s[len(s)-1], period)*1.1
	if hi <= lo {
		hi = lo + 1
	}
	count := make([]int, bins)
	for _, v := range s {
		i := int(float64(bins) * (v - lo) / (hi - lo))
		count[min(max(i, 0), bins-1)]++
	}
	top := slices.Max(count)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="pic" viewBox="0 0 %d %d" role="img" aria-label="histogram of intervals">`, w, h)
	bw := float64(w-2*pad) / bins
	for i, n := range count {
		if n == 0 {
			continue
		}
		bh := float64(h-2*pad) * float64(n) / float64(top)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#3465a4"><title>%d interval(s) %s–%s</title></rect>`,
			float64(pad)+float64(i)*bw+1, float64(h-pad)-bh, bw-2, bh, n,
			human(lo+float64(i)*(hi-lo)/bins), human(lo+float64(i+1)*(hi-lo)/bins))
	}
	px := float64(pad) + float64(w-2*pad)*(period-lo)/(hi-lo)
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#b3261e" stroke-dasharray="4 3"/>`, px, pad-8, px, h-pad)
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" %s>period %s</text>`, px, pad-10, svgFont, human(period))
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#888"/>`, pad, h-pad, w-pad, h-pad)
	fmt.Fprintf(&b, `<text x="%d" y="%d" %s>%s</text>`, pad, h-pad+14, svgFont, human(lo))
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" %s>%s</text>`, w-pad, h-pad+14, svgFont, human(hi))
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" %s>%d intervals</text>`, w/2, h-pad+14, svgFont, len(intervals))
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// hoursSVG draws packets per hour (bars), kernel drops (red) and gaps
// (shaded) over the window; beyond 14 days it draws days.
func hoursSVG(c *Coverage, from, to time.Time) template.HTML {
	const w, h, pad = 900, 150, 30
	step := time.Hour
	if to.Sub(from) > 14*24*time.Hour {
		step = 24 * time.Hour
	}
	start := from.UTC().Truncate(step)
	n := int(to.Sub(start)/step) + 1
	if n <= 0 || n > 20000 {
		return ""
	}
	pk, dr := make([]uint64, n), make([]uint64, n)
	for _, r := range c.Hours {
		i := int(r.Hour.Sub(start) / step)
		if i >= 0 && i < n {
			pk[i] += r.Packets
			dr[i] += r.Drops
		}
	}
	top := max(slices.Max(pk), 1)
	bw := float64(w-2*pad) / float64(n)
	x := func(t time.Time) float64 {
		return float64(pad) + float64(w-2*pad)*float64(t.Sub(start))/float64(time.Duration(n)*step)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="pic wide" viewBox="0 0 %d %d" role="img" aria-label="packets per hour">`, w, h)
	for _, g := range c.Gaps {
		x0, x1 := max(x(g.From), pad), min(x(g.To), w-pad)
		if x1 > x0 {
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="#f3d9d6"><title>%s: %s – %s</title></rect>`, x0, pad-10, x1-x0, h-2*pad+10,
				template.HTMLEscapeString(g.Why), g.From.Format("2006-01-02 15:04"), g.To.Format("2006-01-02 15:04"))
		}
	}
	for i := range pk {
		if pk[i] > 0 {
			bh := float64(h-2*pad) * float64(pk[i]) / float64(top)
			fmt.Fprintf(&b, `<rect x="%.2f" y="%.1f" width="%.2f" height="%.1f" fill="#3465a4"/>`, float64(pad)+float64(i)*bw, float64(h-pad)-bh, math.Max(bw-0.5, 0.5), bh)
		}
		if dr[i] > 0 {
			bh := math.Max(3, float64(h-2*pad)*float64(dr[i])/float64(top))
			fmt.Fprintf(&b, `<rect x="%.2f" y="%.1f" width="%.2f" height="%.1f" fill="#b3261e"><title>%d drops</title></rect>`, float64(pad)+float64(i)*bw, float64(h-pad)-bh, math.Max(bw-0.5, 0.5), bh, dr[i])
		}
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#888"/>`, pad, h-pad, w-pad, h-pad)
	fmt.Fprintf(&b, `<text x="%d" y="%d" %s>%s</text>`, pad, h-pad+14, svgFont, start.Format("2006-01-02 15:04"))
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" %s>%s</text>`, w-pad, h-pad+14, svgFont, to.UTC().Format("2006-01-02 15:04"))
	unit := "hour"
	if step > time.Hour {
		unit = "day"
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" %s>max %d packets per %s; red: kernel drops; shaded: gaps</text>`, pad, 12, svgFont, top, unit)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// human writes seconds as the unit that reads best.
func human(s float64) string {
	switch {
	case s >= 86400:
		return trim(s/86400) + " d"
	case s >= 3600:
		return trim(s/3600) + " h"
	case s >= 60:
		return trim(s/60) + " min"
	}
	return trim(s) + " s"
}

func trim(v float64) string {
	out := fmt.Sprintf("%.1f", v)
	return strings.TrimSuffix(out, ".0")
}
