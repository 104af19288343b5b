// Package match ranks a host's launchd jobs against a periodic-egress alert
// and explains the ranking: which job most plausibly produced the traffic,
// with a score in 0..1 and plain-language reasons.
//
// Evidence is combined as a noisy-or, 1 − Π(1 − wᵢ), so each independent
// clue raises the score without any one of them reaching 1. Only timing
// (StartInterval, StartCalendarInterval) or naming (the program's arguments
// name the destination) can explain traffic; location, label, KeepAlive and
// recency only make a job more suspicious, so a job without explanatory
// evidence is never "matched".
package match

import (
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strings"
	"time"

	"golang.org/x/net/publicsuffix"

	"github.com/launchtap/launchtap/enrich/inventory"
	"github.com/launchtap/launchtap/sensor/alert"
)

// Tunables, documented in docs/enrichment/README.md ("How the job is chosen").
const (
	// MatchThreshold is the score the best job needs, with explanatory
	// evidence, for status "matched".
	MatchThreshold = 0.5
	// MaxJobs is how many ranked jobs an alert carries.
	MaxJobs = 5
	// RecentWindow is how long before the first beat a plist change counts as recent.
	RecentWindow = 30 * 24 * time.Hour
	maxMultiple  = 8
)

// Evidence weights.
const (
	wInterval       = 0.5
	wIntervalMult   = 0.25
	wCalendar       = 0.5
	wCalendarWeak   = 0.2
	wNamesFQDN      = 0.45
	wNamesAddr      = 0.45
	wNamesDomain    = 0.3
	wUserAgentDir   = 0.1
	wTempDir        = 0.2
	wHidden         = 0.2
	wAppleLookalike = 0.3
	wNonApple       = 0.05
	wKeepAlive      = 0.15
	wRunAtLoad      = 0.08
	wRecent         = 0.15
	fAppleSystem    = 0.4
	fDisabled       = 0.3
)

// Observation is what the detector saw, taken from the alert.
type Observation struct {
	FQDN      string
	DstIPs    []string
	PeriodS   float64
	Jitter    float64 // fraction of the period
	Beats     int
	BeatTimes []time.Time
	FirstSeen time.Time
}

// FromAlert builds the observation for an alert.
func FromAlert(a *alert.Alert) Observation {
	o := Observation{
		FQDN:      strings.ToLower(strings.TrimSuffix(a.DstFQDN, ".")),
		DstIPs:    a.DstIPs,
		PeriodS:   a.PeriodS,
		Jitter:    a.Jitter,
		Beats:     max(a.Beats, len(a.BeatTimes)),
		BeatTimes: a.BeatTimes,
		FirstSeen: a.FirstSeen,
	}
	if o.FirstSeen.IsZero() && len(a.BeatTimes) > 0 {
		o.FirstSeen = a.BeatTimes[0]
	}
	if o.FirstSeen.IsZero() {
		o.FirstSeen = a.TS
	}
	return o
}

// Result is the ranking for one alert.
type Result struct {
	Status string      // alert.EnrichMatched or alert.EnrichNoMatch
	Jobs   []alert.Job // best first, at most MaxJobs
}

// Rank scores every job and returns the best ones. Whether a job is
// approved is not its concern: the alert stage judges that against the
// baseline.
func Rank(o Observation, jobs []inventory.Job) Result {
	type scored struct {
		job         alert.Job
		explanatory bool
	}
	pre := prepare(o)
	all := make([]scored, 0, len(jobs))
	for i := range jobs {
		j, expl := scoreJob(o, &pre, &jobs[i])
		all = append(all, scored{j, expl})
	}
	// Jobs that explain the traffic come first; suspicion alone never
	// outranks an explanation.
	sort.SliceStable(all, func(a, b int) bool {
		if all[a].explanatory != all[b].explanatory {
			return all[a].explanatory
		}
		if all[a].job.MatchScore != all[b].job.MatchScore {
			return all[a].job.MatchScore > all[b].job.MatchScore
		}
		return all[a].job.Label < all[b].job.Label
	})
	res := Result{Status: alert.EnrichNoMatch}
	if len(all) > 0 && all[0].explanatory && all[0].job.MatchScore >= MatchThreshold {
		res.Status = alert.EnrichMatched
	}
	for i, s := range all {
		if i >= MaxJobs || (i > 0 && s.job.MatchScore <= 0) {
			break
		}
		res.Jobs = append(res.Jobs, s.job)
	}
	return res
}

// evidence accumulates weights and reasons for one job.
type evidence struct {
	miss   float64 // Π(1 − w)
	factor float64 // Π of dampening factors
	why    []string
}

func (e *evidence) add(w float64, format string, args ...any) {
	e.miss *= 1 - w
	e.why = append(e.why, fmt.Sprintf(format, args...))
}

func (e *evidence) damp(f float64, format string, args ...any) {
	e.factor *= f
	e.why = append(e.why, fmt.Sprintf(format, args...))
}

// prepared holds what every job is compared with, computed once per alert.
type prepared struct {
	reg   string   // registered domain of the FQDN when it differs from it
	addrs []string // destination addresses in canonical lower-case form
}

func prepare(o Observation) prepared {
	var p prepared
	if o.FQDN != "" {
		if reg, err := publicsuffix.EffectiveTLDPlusOne(o.FQDN); err == nil && reg != o.FQDN {
			p.reg = reg
		}
	}
	for _, ip := range o.DstIPs {
		if a, err := netip.ParseAddr(ip); err == nil {
			p.addrs = append(p.addrs, strings.ToLower(a.String()))
		}
	}
	return p
}

func scoreJob(o Observation, pre *prepared, j *inventory.Job) (alert.Job, bool) {
	e := evidence{miss: 1, factor: 1}
	explanatory := false
	if timing(&e, o, j) {
		explanatory = true
	}
	if naming(&e, o, pre, j) {
		explanatory = true
	}
	location(&e, j)
	label(&e, j)
	if j.StartInterval == 0 && len(j.StartCalendarInterval) == 0 {
		switch {
		case j.KeepAlive:
			e.add(wKeepAlive, "KeepAlive with no schedule: the program keeps its own timing")
		case j.RunAtLoad:
			e.add(wRunAtLoad, "RunAtLoad with no schedule: the program keeps its own timing")
		}
	}
	if !j.Modified.IsZero() && !o.FirstSeen.IsZero() {
		// Within RecentWindow either side: installed shortly before the
		// beacon started, or rewritten while it ran (an inventory taken
		// later). Changes long before or after say nothing.
		d := o.FirstSeen.Sub(j.Modified)
		switch {
		case d >= 0 && d <= RecentWindow:
			e.add(wRecent, "plist modified %s before the first beat", human(d))
		case d < 0 && -d <= RecentWindow:
			e.add(wRecent, "plist modified %s after the first beat", human(-d))
		}
	}
	if j.Disabled {
		e.damp(fDisabled, "Disabled in its plist (runs only if re-enabled by an override)")
	}
	score := (1 - e.miss) * e.factor
	score = math.Round(score*1000) / 1000
	if e.why == nil {
		e.why = []string{}
	}
	return alert.Job{
		Label:            j.Label,
		Path:             j.Path,
		Program:          j.Program,
		ProgramArguments: j.ProgramArguments,
		StartInterval:    j.StartInterval,
		RunAtLoad:        j.RunAtLoad,
		KeepAlive:        j.KeepAlive,
		Username:         j.Username,
		TeamID:           j.TeamID,
		MatchScore:       score,
		Why:              e.why,
	}, explanatory
}

// tolerance is how far a launchd interval may sit from the observed period.
// Jitter spreads single intervals, but the period estimate averages them, so
// its uncertainty is about jitter·P/√beats: allow twice that, at least 2 %
// (the detector's period error target) and 2 s, at most a quarter period.
func tolerance(o Observation) float64 {
	p := o.PeriodS
	n := math.Max(float64(o.Beats), 4)
	t := math.Max(2, math.Max(2*o.Jitter*p/math.Sqrt(n), 0.02*p))
	return math.Min(t, 0.25*p)
}

func timing(e *evidence, o Observation, j *inventory.Job) bool {
	if o.PeriodS <= 0 {
		return false
	}
	tol := tolerance(o)
	if j.StartInterval > 0 {
		s := float64(j.StartInterval)
		if d := math.Abs(s - o.PeriodS); d <= tol {
			e.add(wInterval-0.2*d/tol, "StartInterval %d s matches the observed period %s (±%s)", j.StartInterval, secs(o.PeriodS), secs(tol))
			return true
		}
		for k := 2; k <= maxMultiple; k++ {
			if d := math.Abs(float64(k)*s - o.PeriodS); d <= tol {
				e.add(wIntervalMult-0.15*d/tol, "observed period %s is %d× StartInterval %d s (missed beats: asleep or offline)", secs(o.PeriodS), k, j.StartInterval)
				return true
			}
		}
	}
	if len(j.StartCalendarInterval) > 0 {
		return calendar(e, o, j.StartCalendarInterval)
	}
	return false
}

// calendar checks the beat times against the schedule in every plausible
// host time zone (the sensor does not know the Mac's), in 15-minute steps.
func calendar(e *evidence, o Observation, cal []inventory.Calendar) bool {
	implied, ok := impliedPeriod(cal)
	periodFits := false
	if ok {
		k := o.PeriodS / implied
		n := math.Round(k)
		periodFits = n >= 1 && n <= maxMultiple && math.Abs(k-n)*implied <= math.Max(tolerance(o), 60)
	}
	if ok && !periodFits {
		return false // the schedule's cadence cannot produce this period
	}
	beats := o.BeatTimes
	if len(beats) >= 3 {
		bestHits, bestOff := 0, 0
		for step := 0; step <= 2*14*4; step++ {
			// 0, +15m, −15m, +30m … so ties prefer the smallest offset.
			off := (step + 1) / 2 * 15
			if step%2 == 0 {
				off = -off
			}
			if off < -12*60 || off > 14*60 {
				continue
			}
			hits := 0
			for _, b := range beats {
				if firesNear(cal, b.UTC().Add(time.Duration(off)*time.Minute)) {
					hits++
				}
			}
			if hits > bestHits {
				bestHits, bestOff = hits, off
			}
		}
		frac := float64(bestHits) / float64(len(beats))
		if frac >= 0.8 {
			e.add(wCalendar*frac, "StartCalendarInterval %s fits %d of %d beat times (host clock UTC%s)", calString(cal), bestHits, len(beats), zone(bestOff))
			return true
		}
		return false
	}
	if periodFits {
		e.add(wCalendarWeak, "StartCalendarInterval %s fires every %s, consistent with the observed period", calString(cal), secs(implied))
		return true
	}
	return false
}

// firesNear reports whether the schedule fires in the two minutes before t:
// launchd starts the job at the top of the minute and the connection follows.
func firesNear(cal []inventory.Calendar, t time.Time) bool {
	for back := 0; back <= 2; back++ {
		m := t.Add(-time.Duration(back) * time.Minute)
		_, month, day := m.Date()
		hour, minute, _ := m.Clock()
		wd := int(m.Weekday())
		for _, c := range cal {
			if (c.Minute == inventory.Any || c.Minute == minute) &&
				(c.Hour == inventory.Any || c.Hour == hour) &&
				(c.Day == inventory.Any || c.Day == day) &&
				(c.Weekday == inventory.Any || c.Weekday == wd) &&
				(c.Month == inventory.Any || c.Month == int(month)) {
				return true
			}
		}
	}
	return false
}

// impliedPeriod is the mean spacing of the schedule's firings, for schedules
// that repeat daily or faster.
func impliedPeriod(cal []inventory.Calendar) (float64, bool) {
	perDay := 0
	for _, c := range cal {
		if c.Day != inventory.Any || c.Weekday != inventory.Any || c.Month != inventory.Any {
			return 0, false
		}
		n := 1
		if c.Minute == inventory.Any {
			n *= 60
		}
		if c.Hour == inventory.Any {
			n *= 24
		}
		perDay += n
	}
	if perDay == 0 {
		return 0, false
	}
	return 86400 / float64(perDay), true
}

func naming(e *evidence, o Observation, pre *prepared, j *inventory.Job) bool {
	var b strings.Builder
	b.WriteString(strings.ToLower(j.Program))
	for _, a := range j.ProgramArguments {
		b.WriteByte(' ')
		b.WriteString(strings.ToLower(a))
	}
	text := b.String()
	found := false
	if o.FQDN != "" {
		if containsName(text, o.FQDN, false) {
			e.add(wNamesFQDN, "program arguments name %s", o.FQDN)
			found = true
		} else if pre.reg != "" && containsName(text, pre.reg, true) {
			e.add(wNamesDomain, "program arguments name the registered domain %s", pre.reg)
			found = true
		}
	}
	for _, a := range pre.addrs {
		if containsAddr(text, a) {
			e.add(wNamesAddr, "program arguments name the destination address %s", a)
			found = true
			break
		}
	}
	return found
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// containsName finds name in text as a whole DNS name. With subdomains, a
// longer name ending in ".name" also counts (api.example.net for example.net).
func containsName(text, name string, subdomains bool) bool {
	for i := 0; ; {
		k := strings.Index(text[i:], name)
		if k < 0 {
			return false
		}
		start, end := i+k, i+k+len(name)
		okBefore := start == 0 || !isNameByte(text[start-1]) && (text[start-1] != '.' || subdomains)
		okAfter := end == len(text) || !isNameByte(text[end]) && !(text[end] == '.' && end+1 < len(text) && isNameByte(text[end+1]))
		if okBefore && okAfter {
			return true
		}
		i = start + 1
	}
}

func containsAddr(text, addr string) bool {
	v6 := strings.Contains(addr, ":")
	isAddrByte := func(c byte) bool {
		return c >= '0' && c <= '9' || v6 && (c >= 'a' && c <= 'f' || c == ':')
	}
	for i := 0; ; {
		k := strings.Index(text[i:], addr)
		if k < 0 {
			return false
		}
		start, end := i+k, i+k+len(addr)
		okBefore := start == 0 || !isAddrByte(text[start-1]) && text[start-1] != '.'
		okAfter := end == len(text) || !isAddrByte(text[end]) && !(text[end] == '.' && end+1 < len(text) && text[end+1] >= '0' && text[end+1] <= '9')
		if okBefore && okAfter {
			return true
		}
		i = start + 1
	}
}

var tempDirs = []string{"/tmp/", "/private/tmp/", "/var/tmp/", "/private/var/tmp/", "/Users/Shared/", "/private/var/folders/", "/var/folders/"}

func location(e *evidence, j *inventory.Job) {
	prog := j.Program
	if prog == "" && len(j.ProgramArguments) > 0 {
		prog = j.ProgramArguments[0]
	}
	if rest, ok := strings.CutPrefix(j.Path, "/Users/"); ok {
		if _, after, ok := strings.Cut(rest, "/"); ok && strings.HasPrefix(after, "Library/LaunchAgents/") {
			e.add(wUserAgentDir, "plist in the user-writable ~/Library/LaunchAgents")
		}
	}
	if p, d := inTempDir(append([]string{prog, j.Path}, argPaths(j.ProgramArguments)...)...); p != "" {
		e.add(wTempDir, "%s is under %s (writable by any user)", p, d)
	}
	for _, p := range []string{prog, j.Path} {
		if h := hiddenComponent(p); h != "" {
			e.add(wHidden, "hidden path component %q", h)
			return
		}
	}
}

// argPaths returns the absolute-path-looking words of the arguments, so a
// shell one-liner that drops a file in /tmp is seen.
func argPaths(args []string) []string {
	var out []string
	for _, a := range args {
		for _, w := range strings.FieldsFunc(a, func(r rune) bool {
			return r == ' ' || r == '\'' || r == '"' || r == '=' || r == ';' || r == '&' || r == '|'
		}) {
			if strings.HasPrefix(w, "/") {
				out = append(out, w)
			}
		}
	}
	return out
}

func inTempDir(paths ...string) (path, dir string) {
	for _, p := range paths {
		for _, d := range tempDirs {
			if strings.HasPrefix(p, d) {
				return p, strings.TrimSuffix(d, "/")
			}
		}
	}
	return "", ""
}

func hiddenComponent(p string) string {
	for _, seg := range strings.Split(p, "/") {
		if len(seg) > 1 && seg[0] == '.' && seg != ".." {
			return seg
		}
	}
	return ""
}

func label(e *evidence, j *inventory.Job) {
	apple := strings.HasPrefix(strings.ToLower(j.Label), "com.apple.")
	inSystem := strings.HasPrefix(j.Path, "/System/Library/")
	switch {
	case apple && !inSystem:
		e.add(wAppleLookalike, "Apple-looking label outside /System/Library (Apple ships its own jobs on the sealed system volume)")
	case apple && inSystem:
		e.damp(fAppleSystem, "Apple job on the sealed system volume")
	default:
		e.add(wNonApple, "non-Apple label")
	}
}

func calString(cal []inventory.Calendar) string {
	parts := make([]string, 0, len(cal))
	for i, c := range cal {
		if i == 4 {
			parts = append(parts, fmt.Sprintf("… %d more", len(cal)-4))
			break
		}
		parts = append(parts, c.String())
	}
	return strings.Join(parts, ",")
}

func zone(offMin int) string {
	sign := "+"
	if offMin < 0 {
		sign, offMin = "-", -offMin
	}
	return fmt.Sprintf("%s%02d:%02d", sign, offMin/60, offMin%60)
}

func secs(s float64) string {
	if s == math.Trunc(s) {
		return fmt.Sprintf("%d s", int64(s))
	}
	return fmt.Sprintf("%.1f s", s)
}

func human(d time.Duration) string {
	switch {
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d.Hours()))
	default:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	}
}
