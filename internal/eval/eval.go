package eval

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/launchtap/launchtap/internal/synth"
)

// ritaPair is one pair as RITA groups connections: by source and server
// name when one is known (its SNI/HTTP beacons), else by source and address.
type ritaPair struct {
	src, fqdn string
	dst       map[string]bool
	score     ritaScore
	conns     int
}

func ritaPairs(conns []conn, dsMin, dsMax int64) []ritaPair {
	type acc struct {
		p     ritaPair
		ts    []int64
		bytes []float64
	}
	by := map[[2]string]*acc{}
	var order [][2]string
	for _, c := range conns {
		k := [2]string{c.src.String(), c.fqdn}
		if c.fqdn == "" {
			k[1] = "ip:" + c.dst.String()
		}
		a := by[k]
		if a == nil {
			a = &acc{p: ritaPair{src: k[0], fqdn: c.fqdn, dst: map[string]bool{}}}
			by[k] = a
			order = append(order, k)
		}
		a.p.dst[c.dst.String()] = true
		a.ts = append(a.ts, c.ts)
		a.bytes = append(a.bytes, c.origBytes)
	}
	out := make([]ritaPair, 0, len(order))
	for _, k := range order {
		a := by[k]
		a.p.score = rita(a.ts, a.bytes, dsMin, dsMax)
		a.p.conns = len(a.ts)
		out = append(out, a.p)
	}
	return out
}

// nameMatch: the alerted name is the label's, or a name under the label's
// registered domain (DNS-channel beacons), or, without a name, one of the
// label's addresses.
func nameMatch(l *synth.Label, fqdn string, ips []string) bool {
	want := strings.ToLower(strings.TrimSuffix(l.DstFQDN, "."))
	if fqdn != "" {
		return fqdn == want || strings.HasSuffix(fqdn, "."+want)
	}
	for _, ip := range ips {
		if slices.Contains(l.DstIPs, ip) || ip == want {
			return true
		}
	}
	return false
}

// matchAlert returns the index of the label an alert belongs to, or -1.
// Specific labels win over a host's "*" (all its traffic) label.
func matchAlert(a *alertRec, labels []synth.Label) int {
	for i := range labels {
		l := &labels[i]
		if l.DstFQDN == "*" || l.SrcIP != a.SrcIP {
			continue
		}
		if l.DstPort != 0 && a.Kind != "dns" && (a.DstPort != l.DstPort || !strings.EqualFold(a.Proto, l.Proto)) {
			continue
		}
		if nameMatch(l, a.DstFQDN, a.DstIPs) {
			return i
		}
	}
	for i := range labels {
		if labels[i].DstFQDN == "*" && labels[i].SrcIP == a.SrcIP {
			return i
		}
	}
	return -1
}

// ritaFor is RITA's highest score among the pairs a label covers (-1: RITA
// scored none of them, e.g. DNS-only or one long session). A host's "*"
// label covers its pairs that no specific label of that host covers.
func ritaFor(l *synth.Label, labels []synth.Label, pairs []ritaPair) float64 {
	best := -1.0
	for i := range pairs {
		p := &pairs[i]
		if p.src != l.SrcIP || !p.score.ok {
			continue
		}
		covered := func(l *synth.Label) bool { return nameMatch(l, p.fqdn, pairIPs(p)) }
		if l.DstFQDN != "*" && !covered(l) {
			continue
		}
		if l.DstFQDN == "*" && slices.ContainsFunc(labels, func(o synth.Label) bool {
			return o.SrcIP == l.SrcIP && o.DstFQDN != "*" && covered(&o)
		}) {
			continue
		}
		best = max(best, p.score.Score)
	}
	return best
}

func pairIPs(p *ritaPair) []string {
	if p.fqdn != "" {
		return nil
	}
	ips := make([]string, 0, len(p.dst))
	for ip := range p.dst {
		ips = append(ips, ip)
	}
	return ips
}

// oneSidedStyles are the generator's styles whose sleeps are uniform in
// [P(1-j), P] (sensor/synth scen_eval.go); additive ones sleep P + U(0, jP);
// every other style is centred on P.
var oneSidedStyles = map[string]bool{"c2-one-sided-jitter": true, "multi-connection": true, "quic-udp443": true, "dns-channel": true}

// refPeriod is the true mean spacing of single beats for the label's style.
func refPeriod(l *synth.Label) float64 {
	s := strings.ToLower(l.Style)
	switch {
	case oneSidedStyles[s] || strings.Contains(s, "one-sided"):
		return l.PeriodS * (1 - l.Jitter/2)
	case strings.Contains(s, "additive"):
		return l.PeriodS * (1 + l.Jitter/2)
	}
	return l.PeriodS
}

// Row aggregates one labelled pair over seeds.
type Row struct {
	Scenario  string    `json:"scenario"`
	Style     string    `json:"style"`
	Pair      string    `json:"pair"`
	Expected  [2]bool   `json:"expected"` // default, --os any
	Runs      int       `json:"runs"`
	Alerted   [2]int    `json:"alerted"`
	Beats     []int     `json:"label_beats"`
	Jitter    float64   `json:"jitter"`
	FirstBeat []int     `json:"first_alert_beat"`
	PeriodErr []float64 `json:"period_err"`
	RITA      []float64 `json:"rita"`
	False     int       `json:"false_alerts"`
}

// Report is the evaluation's verdict: one row per labelled pair (or per
// scenario and style when Compact), the summary lines, and the targets missed.
type Report struct {
	Compact bool // one row per scenario and style
	rows    []*Row
	lines   []string // summary lines
	missed  []string
}

const (
	firstBeatTarget = 8
	// cleanJitter bounds the "clean beacon" class (launchd schedules with
	// network jitter): first alert by the 8th beat, period error <= 2 %.
	cleanJitter = 0.02
)

// Missed lists the targets the runs missed, one line each; empty when every
// target is met.
func (rep *Report) Missed() []string { return rep.missed }

// Rows returns every per-pair result, for JSON output.
func (rep *Report) Rows() []*Row { return rep.rows }

// Summarise matches each run's alerts to its labels and computes recall,
// precision, false alerts, period error, the beat of the first alert and
// RITA's scores for the same pairs.
func Summarise(runs []*ScenarioRun) *Report {
	rep := &Report{}
	byKey := map[string]*Row{}
	var (
		pos, posHit, tgt, tgtHit [2]int
		falseAlerts              [2]int
		alertedPairs, truePairs  [2]int
		cleanErr, allErr         []float64
		midErr, heavyErr         []float64
		ritaFPNoise              [2]int
		cleanFirst               []int
		ritaTgt                  int
		ritaHit                  [2]int // >= 0.9, >= 0.75
		ritaFP                   [2]int
		unlabelled               = map[string]*Row{}
	)
	for _, r := range runs {
		for li := range r.labels {
			l := &r.labels[li]
			dst := fmt.Sprintf("%s:%d/%s", l.DstFQDN, l.DstPort, l.Proto)
			if l.DstFQDN == "*" {
				dst = "* (all its traffic)"
			}
			key := r.scenario + "|" + l.Style + "|" + l.SrcIP + "|" + dst
			rw := byKey[key]
			if rw == nil {
				rw = &Row{Scenario: r.scenario, Style: l.Style, Pair: l.SrcIP + " → " + dst,
					Expected: [2]bool{l.ShouldAlert, l.ShouldAlertOSAny}, Jitter: l.Jitter}
				byKey[key] = rw
				rep.rows = append(rep.rows, rw)
			}
			rw.Runs++
			rw.Beats = append(rw.Beats, l.Beats)
			rs := ritaFor(l, r.labels, r.rita)
			rw.RITA = append(rw.RITA, rs)
			target := l.Beats >= 8 && l.Jitter <= 0.5
			if l.ShouldAlertOSAny && target {
				ritaTgt++
				if rs >= ritaThresholdMedium {
					ritaHit[0]++
				}
				if rs >= ritaThresholdLow {
					ritaHit[1]++
				}
			}
			for mode := range 2 {
				want := rw.Expected[mode]
				// The first alert is the earliest on the label's own port:
				// a DNS alert on the beacon's name (its lookups, which have
				// their own rhythm) counts as found, but its period is not
				// the beats' and it is used only when nothing else alerted.
				var first, firstOwn *alertRec
				n := 0
				for ai := range r.alerts[mode] {
					a := &r.alerts[mode][ai]
					if matchAlert(a, r.labels) == li {
						n++
						if first == nil || a.TS.Before(first.TS) {
							first = a
						}
						if (l.DstPort == 0 || a.DstPort == l.DstPort) && (firstOwn == nil || a.TS.Before(firstOwn.TS)) {
							firstOwn = a
						}
					}
				}
				if firstOwn != nil {
					first = firstOwn
				}
				if n > 0 {
					rw.Alerted[mode]++
				}
				if !want {
					rw.False += n
					continue
				}
				pos[mode]++
				if target {
					tgt[mode]++
				}
				if first == nil {
					continue
				}
				posHit[mode]++
				if target {
					tgtHit[mode]++
				}
				fb := beatAt(l, first.TS)
				ref := refPeriod(l)
				pe := math.Abs(first.PeriodS-ref) / ref
				if mode == modeDefault || !rw.Expected[modeDefault] {
					rw.FirstBeat = append(rw.FirstBeat, fb)
					rw.PeriodErr = append(rw.PeriodErr, pe)
					allErr = append(allErr, pe)
					switch {
					case l.Jitter <= cleanJitter:
						cleanErr = append(cleanErr, pe)
						cleanFirst = append(cleanFirst, fb)
					case l.Jitter <= 0.2:
						midErr = append(midErr, pe)
					default:
						heavyErr = append(heavyErr, pe)
					}
				}
			}
		}
		// Alerts: false ones and pair-level precision.
		for mode := range 2 {
			seen := map[string]bool{}
			for ai := range r.alerts[mode] {
				a := &r.alerts[mode][ai]
				li := matchAlert(a, r.labels)
				ok := li >= 0 && ((mode == modeDefault && r.labels[li].ShouldAlert) || (mode == modeOSAny && r.labels[li].ShouldAlertOSAny))
				pk := fmt.Sprintf("%s|%s|%v|%d|%s|%s", a.SrcIP, a.DstFQDN, a.DstIPs, a.DstPort, a.Proto, a.Kind)
				if !ok {
					falseAlerts[mode]++
				}
				if seen[pk] {
					continue
				}
				seen[pk] = true
				alertedPairs[mode]++
				if ok {
					truePairs[mode]++
				}
				if li < 0 {
					u := unlabelled[r.scenario]
					if u == nil {
						u = &Row{Scenario: r.scenario, Style: "(unlabelled)", Pair: "alerts matching no label"}
						unlabelled[r.scenario] = u
					}
					u.False++
					u.Alerted[mode]++
				}
			}
		}
		// RITA false positives: scored pairs not covered by a positive label.
		for pi := range r.rita {
			p := &r.rita[pi]
			if !p.score.ok {
				continue
			}
			positive := false
			for li := range r.labels {
				l := &r.labels[li]
				if l.ShouldAlertOSAny && l.DstFQDN != "*" && l.SrcIP == p.src {
					if nameMatch(l, p.fqdn, pairIPs(p)) {
						positive = true
						break
					}
				}
			}
			if positive {
				continue
			}
			noise := slices.ContainsFunc(r.labels, func(l synth.Label) bool { return l.SrcIP == p.src && l.DstFQDN == "*" }) &&
				!slices.ContainsFunc(r.labels, func(l synth.Label) bool {
					return l.SrcIP == p.src && l.DstFQDN != "*" && nameMatch(&l, p.fqdn, pairIPs(p))
				})
			for i, thr := range []float64{ritaThresholdMedium, ritaThresholdLow} {
				if p.score.Score >= thr {
					ritaFP[i]++
					if noise {
						ritaFPNoise[i]++
					}
				}
			}
		}
	}
	for _, s := range sortedKeys(unlabelled) {
		rep.rows = append(rep.rows, unlabelled[s])
	}
	sort.SliceStable(rep.rows, func(i, j int) bool { return rep.rows[i].Scenario < rep.rows[j].Scenario })

	ratio := func(a, b int) string {
		if b == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.3f (%d/%d)", float64(a)/float64(b), a, b)
	}
	recallT := frac(tgtHit[0]+tgtHit[1], tgt[0]+tgt[1])
	maxClean, medAll := maxF(cleanErr), medianF(allErr)
	maxFirst := 0
	late := 0
	for _, b := range cleanFirst {
		maxFirst = max(maxFirst, b)
		if b > firstBeatTarget {
			late++
		}
	}
	rep.lines = []string{
		fmt.Sprintf("runs: %d (scenarios × seeds)", len(runs)),
		fmt.Sprintf("recall, beacons with >= 8 beats and jitter <= 50 %%: %s   [target >= 0.98]", ratio(tgtHit[0]+tgtHit[1], tgt[0]+tgt[1])),
		fmt.Sprintf("recall, all expected alerts: default %s, --os any %s", ratio(posHit[0], pos[0]), ratio(posHit[1], pos[1])),
		fmt.Sprintf("precision (alerted pairs that should alert): %s", ratio(truePairs[0]+truePairs[1], alertedPairs[0]+alertedPairs[1])),
		fmt.Sprintf("false alerts (benign, noise, unlabelled): default %d, --os any %d   [target 0]", falseAlerts[0], falseAlerts[1]),
		fmt.Sprintf("period error at first alert, clean beacons (jitter <= 2 %%): median %.2f %%, max %.2f %%   [target <= 2 %%]", 100*medianF(cleanErr), 100*maxClean),
		fmt.Sprintf("period error at first alert, jitter 2-20 %%: median %.2f %%, max %.2f %%; jitter 20-50 %%: median %.2f %%, max %.2f %%; all: median %.2f %%",
			100*medianF(midErr), 100*maxF(midErr), 100*medianF(heavyErr), 100*maxF(heavyErr), 100*medAll),
		fmt.Sprintf("first alert, clean beacons: latest at beat %d, %d of %d after beat %d   [target <= %d]", maxFirst, late, len(cleanFirst), firstBeatTarget, firstBeatTarget),
		fmt.Sprintf("RITA v5 (same captures, OS-agnostic truth): recall at >= 0.90 %s, at >= 0.75 %s", ratio(ritaHit[0], ritaTgt), ratio(ritaHit[1], ritaTgt)),
		fmt.Sprintf("RITA v5 false-positive pairs: at >= 0.90 %d (%d of them browsing noise), at >= 0.75 %d (%d noise); the rest are Apple, NTP, MDM/EDR and other benign periodic pairs",
			ritaFP[0], ritaFPNoise[0], ritaFP[1], ritaFPNoise[1]),
	}
	if tgt[0]+tgt[1] == 0 || recallT < 0.98 {
		rep.missed = append(rep.missed, fmt.Sprintf("recall %.3f < 0.98", recallT))
	}
	if falseAlerts[0]+falseAlerts[1] > 0 {
		rep.missed = append(rep.missed, fmt.Sprintf("%d false alerts", falseAlerts[0]+falseAlerts[1]))
	}
	if maxClean > 0.02 {
		rep.missed = append(rep.missed, fmt.Sprintf("period error %.2f %% > 2 %%", 100*maxClean))
	}
	if late > 0 {
		rep.missed = append(rep.missed, fmt.Sprintf("%d clean beacons first alerted after beat %d", late, firstBeatTarget))
	}
	return rep
}

// beatAt is the label's beat number (1-based) at which an alert fired.
func beatAt(l *synth.Label, ts time.Time) int {
	n := 0
	for _, b := range l.BeatTimes {
		if !b.After(ts.Add(3 * time.Second)) {
			n++
		}
	}
	return n
}

// compact merges the rows of one scenario and style with the same
// expectation (e.g. six C2 beacons of one family); styles present in three
// or more scenarios (the background every scenario carries: browsing hosts,
// NTP, push) become one row across all scenarios.
func compact(rows []*Row) []*Row {
	scen := map[string]map[string]bool{}
	for _, r := range rows {
		if scen[r.Style] == nil {
			scen[r.Style] = map[string]bool{}
		}
		scen[r.Style][r.Scenario] = true
	}
	var out []*Row
	by := map[string]*Row{}
	n := map[*Row]int{}
	for _, r := range rows {
		sc := r.Scenario
		if len(scen[r.Style]) >= 3 {
			sc = "(all, background)"
		}
		k := fmt.Sprintf("%s|%s|%v", sc, r.Style, r.Expected)
		m := by[k]
		if m == nil {
			c := *r
			c.Scenario = sc
			c.Beats, c.FirstBeat, c.PeriodErr, c.RITA = slices.Clone(r.Beats), slices.Clone(r.FirstBeat), slices.Clone(r.PeriodErr), slices.Clone(r.RITA)
			m = &c
			by[k] = m
			out = append(out, m)
			n[m] = 1
			continue
		}
		n[m]++
		m.Runs += r.Runs
		m.Alerted[0] += r.Alerted[0]
		m.Alerted[1] += r.Alerted[1]
		m.False += r.False
		m.Beats = append(m.Beats, r.Beats...)
		m.FirstBeat = append(m.FirstBeat, r.FirstBeat...)
		m.PeriodErr = append(m.PeriodErr, r.PeriodErr...)
		m.RITA = append(m.RITA, r.RITA...)
		m.Jitter = max(m.Jitter, r.Jitter)
	}
	for _, m := range out {
		if n[m] > 1 {
			m.Pair = fmt.Sprintf("%d labelled pairs", n[m])
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Scenario < out[j].Scenario })
	return out
}

// Write prints the table and the summary, as Markdown when md.
func (rep *Report) Write(w io.Writer, md bool) {
	rows := rep.rows
	if rep.Compact {
		rows = compact(rows)
	}
	head := []string{"scenario", "labelled pair", "style", "expected (default / --os any)", "alerted", "beats (label)", "beat at 1st alert", "period err (median / max)", "RITA v5 score"}
	var lines [][]string
	for _, r := range rows {
		exp := yn(r.Expected[0]) + " / " + yn(r.Expected[1])
		al := fmt.Sprintf("%d/%d / %d/%d", r.Alerted[0], r.Runs, r.Alerted[1], r.Runs)
		if r.Style == "(unlabelled)" {
			exp, al = "no / no", fmt.Sprintf("%d / %d", r.Alerted[0], r.Alerted[1])
		}
		lines = append(lines, []string{r.Scenario, r.Pair, r.Style, exp, al, rangeI(r.Beats), rangeI(r.FirstBeat), pctRange(r.PeriodErr), ritaStr(r.RITA)})
	}
	if md {
		fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat("---|", len(head)))
		for _, l := range lines {
			fmt.Fprintf(w, "| %s |\n", strings.Join(l, " | "))
		}
		fmt.Fprintln(w)
		for _, s := range rep.lines {
			fmt.Fprintf(w, "- %s\n", s)
		}
		return
	}
	width := make([]int, len(head))
	for i, h := range head {
		width[i] = len([]rune(h))
	}
	for _, l := range lines {
		for i, c := range l {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	pr := func(cells []string) {
		for i, c := range cells {
			fmt.Fprintf(w, "%s%s  ", c, strings.Repeat(" ", width[i]-len([]rune(c))))
		}
		fmt.Fprintln(w)
	}
	pr(head)
	for _, l := range lines {
		pr(l)
	}
	fmt.Fprintln(w)
	for _, s := range rep.lines {
		fmt.Fprintln(w, s)
	}
}

func yn(b bool) string {
	if b {
		return "alert"
	}
	return "quiet"
}

func rangeI(v []int) string {
	if len(v) == 0 {
		return "–"
	}
	lo, hi := slices.Min(v), slices.Max(v)
	if lo == hi {
		return fmt.Sprint(lo)
	}
	return fmt.Sprintf("%d–%d", lo, hi)
}

func pctRange(v []float64) string {
	if len(v) == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f / %.2f %%", 100*medianF(v), 100*maxF(v))
}

func ritaStr(v []float64) string {
	var s []float64
	for _, x := range v {
		if x >= 0 {
			s = append(s, x)
		}
	}
	if len(s) == 0 {
		return "not scored"
	}
	lo, hi := slices.Min(s), slices.Max(s)
	if lo == hi {
		return fmt.Sprintf("%.3f", lo)
	}
	return fmt.Sprintf("%.3f–%.3f", lo, hi)
}

func frac(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func maxF(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return slices.Max(v)
}

func medianF(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return medianSorted(s)
}

func sortedKeys[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}
