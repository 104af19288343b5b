package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/baseline"
)

// Enricher adds what the MDM inventory knows to an alert. It must return by
// the context's deadline.
type Enricher interface {
	Enrich(ctx context.Context, a *alert.Alert)
}

// Sink delivers alerts (JSON Lines, syslog, ...).
type Sink interface {
	Alert(a *alert.Alert) error
}

// Ledger remembers what became of every alert, across restarts
// (sensor/state): the evidence of which periodic communicators were
// approved and by what, and the ids already delivered.
type Ledger interface {
	// Alerted reports an id delivered before: the same pair and period.
	Alerted(id string) bool
	// Record notes an alert's fate: FateAlerted, or approved with the
	// baseline rule (and the launchd label, for an approved job).
	Record(a *alert.Alert, fate, rule, label string)
}

// Fates an alert stage records in its Ledger.
const (
	FateAlerted             = "alerted"
	FateApprovedDestination = "approved_destination"
	FateApprovedLabel       = "approved_label"
)

// AlertStage owns the organisation's baseline: it judges each alert's
// destination, enriches the alert, judges the launchd job enrichment names,
// groups what is left by destination and period across hosts (Fleet;
// docs/fleet-grouping.md), and delivers. Alerts leave in the order they came, whatever the
// enrichment concurrency.
//
// The detector reports a pair once, so an alert the baseline suppressed is
// held (bounded, least recently suppressed evicted): when the baseline is
// reloaded, Rescan judges the held alerts again and delivers those it no
// longer approves. The baseline thereby applies retroactively, both ways:
// a new approval suppresses the pairs not yet alerted, a withdrawn one
// releases the pairs it had silenced.
type AlertStage struct {
	Baseline    *baseline.Live // nil: nothing is approved
	Enricher    Enricher       // nil: no enrichment
	Sinks       []Sink
	Concurrency int         // enrichments in flight; default 1
	MaxHeld     int         // suppressed alerts kept for Rescan; default DefaultMaxHeld
	Fleet       FleetConfig // fleet grouping; the zero value turns it off
	Log         *slog.Logger
	Ledger      Ledger // nil: nothing is remembered beyond this process

	Counters AlertCounters

	initOnce sync.Once
	rescan   chan struct{}
	heldMu   sync.Mutex // guards held: Run and the delivering goroutine both suppress
	held     *simplelru.LRU[string, heldAlert]
	fleet    *fleetTable
}

// DefaultMaxHeld bounds the suppressed alerts held for a baseline reload.
const DefaultMaxHeld = 4096

// heldAlert is a suppressed alert and why.
type heldAlert struct {
	a        *alert.Alert
	label    string // the approved launchd label; "" when the destination was approved
	rule     string
	since    time.Time
	enriched bool // its enrichment status was counted
}

// AlertCounters count what became of the workers' alerts.
type AlertCounters struct {
	Received          atomic.Uint64
	Emitted           atomic.Uint64
	SuppressedDest    atomic.Uint64 // destination approved by the baseline
	SuppressedLabel   atomic.Uint64 // explained by a launchd job the baseline approves
	Masquerades       atomic.Uint64 // delivered: the best job took an approved label but not the rest of the rule
	Released          atomic.Uint64 // suppressed, then delivered after a baseline reload withdrew the approval
	HeldEvictions     atomic.Uint64 // suppressed alerts forgotten because MaxHeld were held
	Duplicates        atomic.Uint64 // not delivered: the Ledger says this id was delivered before
	SinkErrors        atomic.Uint64
	EnrichmentsByCode sync.Map // status → *atomic.Uint64
}

// EnrichmentStatus returns how many alerts left with each enrichment status.
func (c *AlertCounters) EnrichmentStatus() map[string]uint64 {
	m := map[string]uint64{}
	c.EnrichmentsByCode.Range(func(k, v any) bool {
		m[k.(string)] = v.(*atomic.Uint64).Load()
		return true
	})
	return m
}

func (c *AlertCounters) enriched(status string) {
	v, _ := c.EnrichmentsByCode.LoadOrStore(status, new(atomic.Uint64))
	v.(*atomic.Uint64).Add(1)
}

func (s *AlertStage) init() {
	s.initOnce.Do(func() {
		if s.Log == nil {
			s.Log = slog.Default()
		}
		n := s.MaxHeld
		if n <= 0 {
			n = DefaultMaxHeld
		}
		s.rescan = make(chan struct{}, 1)
		s.held, _ = simplelru.NewLRU[string, heldAlert](n, func(string, heldAlert) { s.Counters.HeldEvictions.Add(1) })
		s.fleet = newFleetTable(s.Fleet)
	})
}

// Rescan asks Run to judge the held alerts against the current baseline;
// call it after the baseline was reloaded. It does not wait.
func (s *AlertStage) Rescan() {
	s.init()
	select {
	case s.rescan <- struct{}{}:
	default: // one is pending already
	}
}

// FleetCounters returns what fleet grouping has done so far.
func (s *AlertStage) FleetCounters() FleetCounters {
	s.init()
	return s.fleet.counters()
}

// Held returns how many suppressed alerts are held for a reload.
func (s *AlertStage) Held() int {
	s.init()
	s.heldMu.Lock()
	defer s.heldMu.Unlock()
	return s.held.Len()
}

// pairKey names the pair an alert is about, for holding it.
func pairKey(a *alert.Alert) string {
	dst := a.DstFQDN
	if dst == "" {
		dst = strings.Join(a.DstIPs, ",")
	}
	return fmt.Sprintf("%s %s %d/%s", a.SrcIP, dst, a.DstPort, a.Proto)
}

// hold keeps a suppressed alert for Rescan. h.since is when it was first
// suppressed (zero: now).
func (s *AlertStage) hold(h heldAlert) {
	if h.since.IsZero() {
		h.since = time.Now()
	}
	s.heldMu.Lock()
	defer s.heldMu.Unlock()
	s.held.Add(pairKey(h.a), h)
}

// releasable removes from the held alerts those the current baseline no
// longer approves and returns them, oldest first.
func (s *AlertStage) releasable() []heldAlert {
	var b *baseline.Baseline
	if s.Baseline != nil {
		b = s.Baseline.Get()
	}
	s.heldMu.Lock()
	defer s.heldMu.Unlock()
	var out []heldAlert
	for _, k := range s.held.Keys() {
		h, _ := s.held.Peek(k)
		still := false
		switch {
		case b == nil:
		case h.label != "":
			_, still, _ = judgeJobsCopy(b, h.a)
		default:
			_, still = approvedDest(b, h.a)
		}
		if !still {
			s.held.Remove(k)
			out = append(out, h)
		}
	}
	return out
}

// judgeJobsCopy judges a held alert's jobs again without changing them.
func judgeJobsCopy(b *baseline.Baseline, a *alert.Alert) (string, bool, baseline.Verdict) {
	if a.Enrichment == nil {
		return "", false, baseline.Verdict{}
	}
	e := *a.Enrichment
	e.Jobs = nil
	if len(a.Enrichment.Jobs) > 0 {
		best := a.Enrichment.Jobs[0]
		best.Why = nil
		e.Jobs = []alert.Job{best}
	}
	c := *a
	c.Enrichment = &e
	return judgeJobs(b, &c)
}

// Run handles alerts until in is closed and every alert is delivered.
//
// The stage alone judges an alert against the baseline, each part once:
// the destination as the alert arrives (an approved one is not worth an MDM
// lookup), the launchd job when enrichment has said which jobs the host
// runs. Enrichment only reports what the inventory says.
func (s *AlertStage) Run(ctx context.Context, in <-chan *alert.Alert) {
	s.init()
	n := max(1, s.Concurrency)
	type pending struct {
		a      *alert.Alert
		rel    *heldAlert         // set when a reload released the alert
		judged *baseline.Baseline // the baseline that judged its destination
		done   chan struct{}
	}
	// Enrichments run concurrently; a FIFO of their completions keeps order.
	queue := make(chan pending, n)
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for p := range queue {
			<-p.done
			s.deliver(p.a, p.rel, p.judged)
		}
	}()
	submit := func(a *alert.Alert, rel *heldAlert, judged *baseline.Baseline) {
		p := pending{a: a, rel: rel, judged: judged, done: make(chan struct{})}
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; close(p.done) }()
			if s.Enricher != nil {
				s.Enricher.Enrich(ctx, a)
			}
		}()
		queue <- p
	}
	for {
		var a *alert.Alert
		select {
		case a = <-in:
		case <-s.rescan:
			for _, h := range s.releasable() {
				// Judged whole by the new baseline: its destination first (a
				// label-held alert's may be approved now), then its job.
				b := s.current()
				if rule, ok := approvedDest(b, h.a); ok {
					h.label, h.rule = "", rule
					s.hold(h)
					continue
				}
				s.Log.Info("baseline reload withdrew an approval: judging again the alert it had suppressed",
					"src", h.a.SrcIP, "dst", h.a.DstFQDN, "port", h.a.DstPort, "rule", h.rule)
				h.a.Enrichment = nil // enriched again: the inventory may have changed too
				submit(h.a, &h, b)
			}
			continue
		}
		if a == nil {
			break // in is closed
		}
		s.Counters.Received.Add(1)
		b := s.current()
		if rule, ok := approvedDest(b, a); ok {
			s.Counters.SuppressedDest.Add(1)
			s.Log.Debug("alert suppressed by baseline", "src", a.SrcIP, "dst", a.DstFQDN, "dst_ips", a.DstIPs, "port", a.DstPort, "rule", rule)
			s.hold(heldAlert{a: a, rule: rule})
			s.record(a, FateApprovedDestination, rule, "")
			continue
		}
		submit(a, nil, b)
	}
	close(queue)
	wg.Wait()
}

// current is the baseline in force, or nil when none is configured.
func (s *AlertStage) current() *baseline.Baseline {
	if s.Baseline == nil {
		return nil
	}
	return s.Baseline.Get()
}

// destination is what the baseline judges of an alert's far end.
func destination(a *alert.Alert) baseline.Destination {
	d := baseline.Destination{Name: a.DstFQDN, Port: a.DstPort, Addrs: make([]netip.Addr, 0, len(a.DstIPs))}
	for _, ip := range a.DstIPs {
		addr, err := netip.ParseAddr(ip)
		if err != nil {
			d.Addrs = nil // an address it cannot read is not approved
			break
		}
		d.Addrs = append(d.Addrs, addr)
	}
	return d
}

// approvedDest reports whether baseline b (nil: none) approves a's
// destination without a launchd job, and by which rule.
func approvedDest(b *baseline.Baseline, a *alert.Alert) (string, bool) {
	if b == nil {
		return "", false
	}
	return b.DestinationRule(destination(a))
}

// jobOf is what the baseline judges of an enriched job.
func jobOf(j *alert.Job) baseline.Job {
	prog := j.Program
	if prog == "" && len(j.ProgramArguments) > 0 {
		prog = j.ProgramArguments[0]
	}
	return baseline.Job{Label: j.Label, Plist: j.Path, Program: prog, TeamID: j.TeamID}
}

// judgeJobs judges every job enrichment listed, marking the approved ones
// and saying why a rule did not approve the others. It returns the rule
// when the best job explains the traffic (status matched) and is approved:
// the alert is then suppressed; and the verdict on the best job.
func judgeJobs(b *baseline.Baseline, a *alert.Alert) (rule string, ok bool, best baseline.Verdict) {
	e := a.Enrichment
	if b == nil || e == nil {
		return "", false, best
	}
	d := destination(a)
	for i := range e.Jobs {
		j := &e.Jobs[i]
		v := b.JudgeJob(jobOf(j), d)
		j.Approved = v.Approved // only this stage judges
		if v.Why != "" {
			j.Why = append(j.Why, v.Why)
		}
		if i == 0 {
			best = v
		}
	}
	if e.Status != alert.EnrichMatched || len(e.Jobs) == 0 || !best.Approved {
		return "", false, best
	}
	return best.Rule.Name, true, best
}

// deliver judges an enriched alert's launchd job, suppresses it when the
// job is approved, and sends the others. judged is the baseline that judged
// its destination before enrichment: when a reload has replaced it since,
// the new baseline judges the destination again, so one baseline judges the
// whole alert. rel is set for an alert a reload released: it was counted
// once already (received, suppressed, and its enrichment status if that was
// counted), so only its fate now is counted: released when it leaves. At
// quiescence received = suppressed (dest + label) + duplicates + emitted −
// released + fleet joined − fleet groups − fleet raised: a group alert is
// emitted in place of the alert that completed the group, and update
// records are not alerts.
func (s *AlertStage) deliver(a *alert.Alert, rel *heldAlert, judged *baseline.Baseline) {
	b := s.current()
	h := heldAlert{a: a}
	if rel != nil {
		h.since, h.enriched = rel.since, rel.enriched
	}
	suppress := func(label, rule string) {
		h.label, h.rule = label, rule
		s.hold(h)
		if label != "" {
			s.record(a, FateApprovedLabel, rule, label)
		} else {
			s.record(a, FateApprovedDestination, rule, "")
		}
		if b != s.current() {
			// A reload landed after b was read: its Rescan may have run
			// before this alert was held, so ask for another.
			s.Rescan()
		}
	}
	if b != judged {
		if rule, ok := approvedDest(b, a); ok {
			if rel == nil {
				s.Counters.SuppressedDest.Add(1)
			}
			suppress("", rule)
			return
		}
	}
	var masq *baseline.Verdict // counted and logged only if the alert leaves
	if e := a.Enrichment; e != nil {
		if !h.enriched {
			s.Counters.enriched(e.Status)
			h.enriched = true
		}
		rule, ok, v := judgeJobs(b, a)
		if ok {
			best := &e.Jobs[0]
			if rel == nil {
				s.Counters.SuppressedLabel.Add(1)
			}
			s.Log.Debug("alert suppressed: explained by an approved launchd job", "src", a.SrcIP, "dst", a.DstFQDN, "label", best.Label, "rule", rule)
			suppress(best.Label, rule)
			return
		}
		if e.Status == alert.EnrichMatched && len(e.Jobs) > 0 && e.Jobs[0].MatchScore >= 0.5 && a.Severity != alert.SeverityLow {
			a.Severity = alert.SeverityHigh
		}
		if v.Masquerade {
			// The job explaining the traffic wears a vendor's label but not
			// its program, plist location or signature: evidence in itself.
			a.Severity = alert.SeverityHigh
			a.Reasons = append(a.Reasons, fmt.Sprintf("launchd job %s masquerades: %s (masquerading is itself evidence: severity high)", e.Jobs[0].Label, v.Why))
			masq = &v
		}
	}
	if rel != nil {
		s.Counters.Released.Add(1)
		what := "its destination"
		if rel.label != "" {
			what = "launchd label " + rel.label
		}
		a.Reasons = append(a.Reasons, fmt.Sprintf("suppressed since %s by baseline rule %q on %s; a baseline reload withdrew that approval",
			rel.since.UTC().Format(time.RFC3339), rel.rule, what))
	}
	// Grouped last: only what the baseline left standing, enriched, can
	// make or join a group (docs/fleet-grouping.md).
	switch s.fleet.observe(a) {
	case recordUpdate:
		// Not a new alert: the group alert again (its id delivered, so
		// known to the ledger), grown. Counted by the fleet table.
		if s.Fleet.NoUpdates {
			return
		}
	case recordGroup:
		if s.duplicate(a, rel) {
			return
		}
		s.Log.Info("fleet group alert: one destination at one period from many hosts",
			"group", a.GroupID, "id", a.ID, "dst", a.DstFQDN, "port", a.DstPort, "hosts", a.HostCount, "severity", a.Severity)
		s.Counters.Emitted.Add(1)
	default:
		if s.duplicate(a, rel) {
			return
		}
		s.Counters.Emitted.Add(1)
	}
	if masq != nil {
		s.Counters.Masquerades.Add(1)
		s.Log.Info("launchd job masquerades as an approved one", "src", a.SrcIP, "dst", a.DstFQDN, "label", a.Enrichment.Jobs[0].Label, "rule", masq.Rule.Name)
	}
	for _, sink := range s.Sinks {
		if err := sink.Alert(a); err != nil {
			s.Counters.SinkErrors.Add(1)
			s.Log.Error("alert delivery failed", "err", err)
		}
	}
}

// duplicate reports an alert the Ledger says was delivered before (by an
// earlier run, or before its pair was evicted): a SIEM has it, and the same
// id again is noise. Otherwise it records the alert as delivered.
func (s *AlertStage) duplicate(a *alert.Alert, rel *heldAlert) bool {
	if s.Ledger == nil {
		return false
	}
	if rel == nil && s.Ledger.Alerted(a.ID) {
		s.Counters.Duplicates.Add(1)
		return true
	}
	s.record(a, FateAlerted, "", bestLabel(a))
	return false
}

func (s *AlertStage) record(a *alert.Alert, fate, rule, label string) {
	if s.Ledger != nil {
		s.Ledger.Record(a, fate, rule, label)
	}
}

// bestLabel is the launchd job the MDM named for an alert, if any.
func bestLabel(a *alert.Alert) string {
	if e := a.Enrichment; e != nil && e.Status == alert.EnrichMatched && len(e.Jobs) > 0 {
		return e.Jobs[0].Label
	}
	return ""
}
