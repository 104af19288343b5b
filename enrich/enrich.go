// Package enrich answers, for a periodic-egress alert, "which managed device
// is this and which of its launchd jobs explains the traffic?". It asks the
// configured inventories — a JSON file (enrich/file) first, then the remote
// providers in the order providers.go builds them: Fleet (enrich/fleet), Jamf
// Pro (enrich/jamf), Kandji (enrich/kandji); the first that knows the host
// answers — ranks the host's jobs with enrich/match and fills the alert's
// enrichment object. docs/enrichment/ has a page per provider.
//
// Lookups run off the packet path: Enrich blocks only its caller (an alert
// worker), never longer than Config.Timeout, with a bounded number of
// concurrent provider calls, an expiring cache of answers, a longer-lived
// cache of last good answers for hosts that are offline, and a circuit
// breaker per remote provider.
package enrich

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/launchtap/launchtap/enrich/file"
	"github.com/launchtap/launchtap/enrich/internal/httpx"
	"github.com/launchtap/launchtap/enrich/inventory"
	"github.com/launchtap/launchtap/enrich/match"
	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/hostid"
)

// remote is a network inventory provider.
type remote struct {
	name   string
	lookup inventory.Lookuper
	client *httpx.Client
}

// answer is a lookup outcome, cached and shared by concurrent waiters.
type answer struct {
	host     *inventory.Host
	provider string
	at       time.Time // when the inventory was read
	err      error     // ErrHostNotFound, ErrUnavailable (maybe *NoJobsError)
}

type call struct {
	done chan struct{}
	ans  answer
}

// Service enriches alerts. It is safe for concurrent use.
type Service struct {
	cfg Config
	log *slog.Logger

	file    *file.Provider
	remotes []remote

	fresh *expirable.LRU[string, answer]    // good answers, CacheTTL
	stale *expirable.LRU[string, answer]    // last good answer, StaleTTL
	neg   *expirable.LRU[string, time.Time] // host not found, NegativeTTL

	sem      chan struct{}
	mu       sync.Mutex
	inflight map[string]*call

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	st counters
}

type counters struct {
	lookups, cacheHits, staleHits, negHits, remoteLookups, failures, timeouts, rejected atomic.Uint64
	matched, noMatch, notFound, unavailable, notConfigured                              atomic.Uint64
}

// New builds the service. It reports what the inventories say; whether a
// job is approved is the alert stage's judgement (sensor/pipeline).
func New(cfg Config, log *slog.Logger) (*Service, error) {
	cfg.setDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	base := log // providers tag their own component ("enrich/file", ...)
	log = log.With("component", "enrich")
	s := &Service{
		cfg:      cfg,
		log:      log,
		fresh:    expirable.NewLRU[string, answer](cfg.CacheSize, nil, cfg.CacheTTL),
		stale:    expirable.NewLRU[string, answer](cfg.CacheSize, nil, cfg.StaleTTL),
		neg:      expirable.NewLRU[string, time.Time](cfg.CacheSize, nil, cfg.NegativeTTL),
		sem:      make(chan struct{}, cfg.Concurrency),
		inflight: make(map[string]*call),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if cfg.Inventory != "" {
		fp, err := file.Open(cfg.Inventory, base)
		if err != nil {
			s.cancel()
			return nil, fmt.Errorf("enrich: %w", err)
		}
		s.file = fp
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			fp.Watch(s.ctx, cfg.InventoryPoll)
		}()
	}
	remotes, err := newRemotes(&cfg, base)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.remotes = remotes
	return s, nil
}

// Configured reports whether any provider is set up.
func (s *Service) Configured() bool { return s.file != nil || len(s.remotes) > 0 }

// Enrich sets a.Enrichment. It returns within Config.Timeout (or earlier if
// ctx ends); a lookup still running then goes on in the background and fills
// the cache for the next alert.
func (s *Service) Enrich(ctx context.Context, a *alert.Alert) {
	e := s.enrich(ctx, a)
	a.Enrichment = e
	switch e.Status {
	case alert.EnrichMatched:
		s.st.matched.Add(1)
	case alert.EnrichNoMatch:
		s.st.noMatch.Add(1)
	case alert.EnrichHostNotFound:
		s.st.notFound.Add(1)
	case alert.EnrichUnavailable:
		s.st.unavailable.Add(1)
	case alert.EnrichNotConfigured:
		s.st.notConfigured.Add(1)
	}
}

func (s *Service) enrich(ctx context.Context, a *alert.Alert) *alert.Enrichment {
	if !s.Configured() {
		return &alert.Enrichment{Status: alert.EnrichNotConfigured}
	}
	s.st.lookups.Add(1)
	ip, err := netip.ParseAddr(a.SrcIP)
	if err != nil {
		return &alert.Enrichment{Status: alert.EnrichHostNotFound, Error: fmt.Sprintf("source address %q is not an IP address", a.SrcIP)}
	}
	q := inventory.Query{IP: ip.Unmap(), Hostname: a.Hostname, PeriodS: a.PeriodS}
	if m, err := inventory.NormalizeMAC(a.SrcMAC); err == nil {
		q.MAC = m
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	ans := s.lookup(ctx, q)
	return s.build(a, ans)
}

func (s *Service) build(a *alert.Alert, ans answer) *alert.Enrichment {
	e := &alert.Enrichment{Provider: ans.provider}
	if ans.host != nil {
		h := ans.host
		e.Device = &alert.Device{Serial: h.Serial, Hostname: h.Hostname, OSVersion: h.OSVersion, User: h.User, Platform: string(h.Platform)}
	}
	if ans.err != nil {
		var off *inventory.NoJobsError
		switch {
		case errors.Is(ans.err, inventory.ErrHostNotFound):
			e.Status = alert.EnrichHostNotFound
		case errors.As(ans.err, &off) && off.Host != nil && ans.host == nil:
			e.Status = alert.EnrichUnavailable
			h := off.Host
			e.Device = &alert.Device{Serial: h.Serial, Hostname: h.Hostname, OSVersion: h.OSVersion, User: h.User, Platform: string(h.Platform)}
		default:
			e.Status = alert.EnrichUnavailable
		}
		if ans.host == nil {
			e.Error = ans.err.Error()
			return e
		}
		// A cached answer stands in for the provider: say how old it is.
		e.Error = ans.err.Error() + "; using the last inventory read"
	}
	if !ans.at.IsZero() && ans.err != nil {
		e.CacheAgeS = time.Since(ans.at).Round(time.Second).Seconds()
	}
	res := match.Rank(match.FromAlert(a), ans.host.Jobs)
	e.Status, e.Jobs = res.Status, res.Jobs
	return e
}

// lookup asks the file inventory, then the caches, then the remote providers.
func (s *Service) lookup(ctx context.Context, q inventory.Query) answer {
	if s.file != nil {
		h, err := s.file.Lookup(ctx, q)
		if err == nil {
			return answer{host: h, provider: "file"}
		}
		if len(s.remotes) == 0 {
			return answer{provider: "file", err: err}
		}
	}
	key := cacheKey(q.IP, q.MAC)
	if a, ok := s.fresh.Get(key); ok && !a.host.NeedsCalendar(q.PeriodS) {
		s.st.cacheHits.Add(1)
		return answer{host: a.host, provider: a.provider}
	}
	if _, ok := s.neg.Get(key); ok {
		s.st.negHits.Add(1)
		return answer{provider: s.remotes[0].name, err: fmt.Errorf("%s: %w (cached)", key, inventory.ErrHostNotFound)}
	}
	c, err := s.start(key, q)
	if err != nil {
		s.st.rejected.Add(1)
		return answer{provider: s.remotes[0].name, err: err}
	}
	select {
	case <-c.done:
		return c.ans
	case <-ctx.Done():
		s.st.timeouts.Add(1)
		err := fmt.Errorf("no inventory answer within %s; the lookup continues and will serve the next alert: %w", s.cfg.Timeout, inventory.ErrUnavailable)
		if st, ok := s.stale.Get(key); ok {
			s.st.staleHits.Add(1)
			return answer{host: st.host, provider: st.provider, at: st.at, err: err}
		}
		return answer{provider: s.remotes[0].name, err: err}
	}
}

// start joins the lookup in flight for key or starts one, bounded by MaxPending.
func (s *Service) start(key string, q inventory.Query) (*call, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.inflight[key]; ok {
		return c, nil
	}
	if len(s.inflight) >= s.cfg.MaxPending {
		return nil, fmt.Errorf("%d lookups already pending: %w", len(s.inflight), inventory.ErrUnavailable)
	}
	if s.ctx.Err() != nil {
		return nil, fmt.Errorf("enrichment service closed: %w", inventory.ErrUnavailable)
	}
	c := &call{done: make(chan struct{})}
	s.inflight[key] = c
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		c.ans = s.remoteLookup(key, q)
		s.mu.Lock()
		delete(s.inflight, key)
		s.mu.Unlock()
		close(c.done)
	}()
	return c, nil
}

// remoteLookup runs detached from any one alert so a slow answer (a Fleet
// live query takes up to ~25 s) still lands in the cache.
func (s *Service) remoteLookup(key string, q inventory.Query) answer {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.Timeout+s.cfg.RequestTimeout)
	defer cancel()
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	case <-ctx.Done():
		return answer{provider: s.remotes[0].name, err: fmt.Errorf("waiting for a lookup slot: %w", inventory.ErrUnavailable)}
	}
	s.st.remoteLookups.Add(1)
	var firstErr error
	var offline *inventory.NoJobsError
	provider := s.remotes[0].name
	allNotFound := true
	for _, r := range s.remotes {
		h, err := r.lookup.Lookup(ctx, q)
		if err == nil {
			a := answer{host: h, provider: r.name, at: time.Now()}
			s.fresh.Add(key, a)
			s.stale.Add(key, a)
			s.neg.Remove(key)
			return a
		}
		if !errors.Is(err, inventory.ErrHostNotFound) {
			allNotFound = false
			s.st.failures.Add(1)
			s.log.Warn("inventory lookup failed", "provider", r.name, "src_ip", key, "err", err)
			if firstErr == nil {
				firstErr, provider = err, r.name
			}
			if offline == nil {
				errors.As(err, &offline)
			}
		}
	}
	if allNotFound {
		s.neg.Add(key, time.Now())
		return answer{provider: provider, err: fmt.Errorf("%s: %w", key, inventory.ErrHostNotFound)}
	}
	if st, ok := s.stale.Get(key); ok {
		s.st.staleHits.Add(1)
		return answer{host: st.host, provider: st.provider, at: st.at, err: firstErr}
	}
	if offline != nil && offline.Host != nil {
		return answer{provider: provider, err: fmt.Errorf("%w and no earlier inventory is cached", firstErr)}
	}
	return answer{provider: provider, err: firstErr}
}

// Platform returns the inventory's platform for a host from the file
// inventory or the cache only; it never blocks on the network.
func (s *Service) Platform(ip netip.Addr, mac [6]byte) (hostid.Platform, bool) {
	if s.file != nil {
		if inv := s.file.Current(); inv != nil {
			if h := inv.Find(ip, inventory.MACString(mac), ""); h != nil && h.Platform != "" {
				return h.Platform, true
			}
		}
	}
	if !ip.IsValid() {
		return "", false
	}
	key := cacheKey(ip.Unmap(), inventory.MACString(mac))
	for _, c := range []*expirable.LRU[string, answer]{s.fresh, s.stale} {
		if a, ok := c.Peek(key); ok && a.host != nil && a.host.Platform != "" {
			return a.host.Platform, true
		}
	}
	return "", false
}

// DeviceMACs lists, for each device of the file inventory with more than
// one MAC, its MACs: the sensor joins them into one host from the start (a
// laptop's Wi-Fi and its dock's Ethernet). Remote providers are asked per
// alert and list no devices.
func (s *Service) DeviceMACs() [][][6]byte {
	if s.file == nil {
		return nil
	}
	inv := s.file.Current()
	if inv == nil {
		return nil
	}
	var out [][][6]byte
	for _, h := range inv.Hosts {
		var macs [][6]byte
		for _, m := range h.MACs {
			if hw, err := net.ParseMAC(m); err == nil && len(hw) == 6 {
				macs = append(macs, [6]byte(hw))
			}
		}
		if len(macs) > 1 {
			out = append(out, macs)
		}
	}
	return out
}

// cacheKey includes the MAC when known so a DHCP address handed to another
// machine is not answered from the previous holder's inventory.
func cacheKey(ip netip.Addr, mac string) string {
	if mac == "" {
		return ip.String()
	}
	return ip.String() + "/" + mac
}

// Reload re-reads the file inventory (SIGHUP) and forgets cached remote
// "not found" answers so a newly enrolled host is looked up again.
func (s *Service) Reload() error {
	s.neg.Purge()
	if s.file == nil {
		return nil
	}
	return s.file.Reload()
}

// Close stops the file watcher and waits for lookups in flight.
func (s *Service) Close() error {
	s.cancel()
	s.wg.Wait()
	return nil
}

// ProviderStats describes one remote provider's HTTP client.
type ProviderStats struct {
	Name         string `json:"name"`
	Breaker      string `json:"breaker"` // closed, open, half-open
	BreakerOpens uint64 `json:"breaker_opens"`
	Requests     uint64 `json:"requests"`
	Retries      uint64 `json:"retries"`
	Failures     uint64 `json:"failures"`
	RateLimited  uint64 `json:"rate_limited"`
}

// Stats are the service's counters since New.
type Stats struct {
	Lookups       uint64 `json:"lookups"`        // alerts enriched with a provider configured
	CacheHits     uint64 `json:"cache_hits"`     // fresh cached answers
	StaleHits     uint64 `json:"stale_hits"`     // last good answer used for an offline/unavailable host
	NegativeHits  uint64 `json:"negative_hits"`  // cached "host not found"
	RemoteLookups uint64 `json:"remote_lookups"` // provider round trips started
	Failures      uint64 `json:"failures"`       // provider lookups that failed
	Timeouts      uint64 `json:"timeouts"`       // alerts that left before the answer
	Rejected      uint64 `json:"rejected"`       // lookups refused: MaxPending reached
	InFlight      int    `json:"in_flight"`

	Matched       uint64 `json:"matched"`
	NoMatch       uint64 `json:"no_match"`
	HostNotFound  uint64 `json:"host_not_found"`
	Unavailable   uint64 `json:"unavailable"`
	NotConfigured uint64 `json:"not_configured"`

	InventoryReloads      uint64 `json:"inventory_reloads"`
	InventoryReloadErrors uint64 `json:"inventory_reload_errors"`
	CacheEntries          int    `json:"cache_entries"`

	Providers []ProviderStats `json:"providers"`
}

// Stats returns a snapshot of the counters.
func (s *Service) Stats() Stats {
	st := Stats{
		Lookups: s.st.lookups.Load(), CacheHits: s.st.cacheHits.Load(), StaleHits: s.st.staleHits.Load(),
		NegativeHits: s.st.negHits.Load(), RemoteLookups: s.st.remoteLookups.Load(), Failures: s.st.failures.Load(),
		Timeouts: s.st.timeouts.Load(), Rejected: s.st.rejected.Load(),
		Matched: s.st.matched.Load(), NoMatch: s.st.noMatch.Load(), HostNotFound: s.st.notFound.Load(),
		Unavailable: s.st.unavailable.Load(), NotConfigured: s.st.notConfigured.Load(),
		CacheEntries: s.fresh.Len(),
	}
	s.mu.Lock()
	st.InFlight = len(s.inflight)
	s.mu.Unlock()
	if s.file != nil {
		st.InventoryReloads = s.file.Reloads.Load()
		st.InventoryReloadErrors = s.file.ReloadErrors.Load()
	}
	for _, r := range s.remotes {
		ps := ProviderStats{Name: r.name}
		if c := r.client; c != nil {
			ps.Requests, ps.Retries, ps.Failures, ps.RateLimited = c.Requests.Load(), c.Retries.Load(), c.Failures.Load(), c.RateLimited.Load()
			if c.Breaker != nil {
				ps.Breaker, ps.BreakerOpens = c.Breaker.State(), c.Breaker.Opens()
			}
		}
		st.Providers = append(st.Providers, ps)
	}
	return st
}
