package pipeline

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"

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

// AlertStage applies the organisation's baseline, enriches, and delivers.
// Alerts leave in the order they came, whatever the enrichment concurrency.
type AlertStage struct {
	Baseline    *baseline.Live // nil: nothing is approved
	Enricher    Enricher       // nil: no enrichment
	Sinks       []Sink
	Concurrency int // enrichments in flight; default 1
	Log         *slog.Logger

	Counters AlertCounters
}

// AlertCounters count what became of the workers' alerts.
type AlertCounters struct {
	Received          atomic.Uint64
	Emitted           atomic.Uint64
	SuppressedDest    atomic.Uint64 // destination approved by the baseline
	SuppressedLabel   atomic.Uint64 // explained by an approved launchd job
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

// Run handles alerts until in is closed and every alert is delivered.
func (s *AlertStage) Run(ctx context.Context, in <-chan *alert.Alert) {
	if s.Log == nil {
		s.Log = slog.Default()
	}
	n := max(1, s.Concurrency)
	type pending struct {
		a    *alert.Alert
		done chan struct{}
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
			s.deliver(p.a)
		}
	}()
	for a := range in {
		s.Counters.Received.Add(1)
		if rule, ok := s.approvedDest(a); ok {
			s.Counters.SuppressedDest.Add(1)
			s.Log.Debug("alert suppressed by baseline", "src", a.SrcIP, "dst", a.DstFQDN, "dst_ips", a.DstIPs, "port", a.DstPort, "rule", rule)
			continue
		}
		p := pending{a: a, done: make(chan struct{})}
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; close(p.done) }()
			if s.Enricher != nil {
				s.Enricher.Enrich(ctx, a)
			}
		}()
		queue <- p
	}
	close(queue)
	wg.Wait()
}

func (s *AlertStage) approvedDest(a *alert.Alert) (string, bool) {
	if s.Baseline == nil {
		return "", false
	}
	b := s.Baseline.Get()
	if a.DstFQDN != "" {
		if rule, ok := b.ApprovedDestination(a.DstFQDN, netip.Addr{}); ok {
			return rule, true
		}
	}
	// Every address the pair reached must be approved for the pair to be.
	var rule string
	for _, ip := range a.DstIPs {
		addr, err := netip.ParseAddr(ip)
		if err != nil {
			return "", false
		}
		r, ok := b.ApprovedDestination("", addr)
		if !ok {
			return "", false
		}
		rule = r
	}
	return rule, rule != ""
}

func (s *AlertStage) deliver(a *alert.Alert) {
	if e := a.Enrichment; e != nil {
		s.Counters.enriched(e.Status)
		if e.Status == alert.EnrichMatched && len(e.Jobs) > 0 {
			best := e.Jobs[0]
			if best.Approved {
				s.Counters.SuppressedLabel.Add(1)
				s.Log.Debug("alert suppressed: explained by an approved launchd job", "src", a.SrcIP, "dst", a.DstFQDN, "label", best.Label)
				return
			}
			if best.MatchScore >= 0.5 && a.Severity != "low" {
				a.Severity = "high"
			}
		}
	}
	s.Counters.Emitted.Add(1)
	for _, sink := range s.Sinks {
		if err := sink.Alert(a); err != nil {
			s.Counters.SinkErrors.Add(1)
			s.Log.Error("alert delivery failed", "err", err)
		}
	}
}
