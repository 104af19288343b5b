package pipeline

import (
	"cmp"
	"context"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/launchtap/launchtap/sensor/beacon"
	"github.com/launchtap/launchtap/sensor/dnstrack"
	"github.com/launchtap/launchtap/sensor/host"
	"github.com/launchtap/launchtap/sensor/hostid"
	"github.com/launchtap/launchtap/sensor/shard"
)

// Snapshot is what the workers copy out for a checkpoint: the pairs beaten
// since a time, the coverage counted since the previous snapshot, and the
// hosts they know. Coverage is by hour of capture time, so a capture
// replayed in two runs adds up to what one run counts.
type Snapshot struct {
	Clock     int64 // newest capture time any worker has seen, Unix ns
	Pairs     []*beacon.PairState
	Hours     []HourCounts
	HostHours []HostHourCounts
	Hosts     []hostid.Host
	Learned   []LearnedPrefix // internal IPv6 prefixes learned from router advertisements (at most netset.MaxLearned)
	// HostStates are the host tables' hosts observed at or after since, the
	// copies of one host that several workers hold merged (a dual-stack
	// Mac's IPv4 and IPv6 are sharded apart); Bindings are the unexpired
	// address bindings of those hosts.
	HostStates []*hostid.HostState
	Bindings   []hostid.BindingState
	// DNSAnswers are the live DNS answers each worker stored at or after
	// since, at most maxExportAnswers per worker, the most recently used.
	DNSAnswers []dnstrack.Answer
	// DoHHosts are the hosts that started sessions to encrypted-DNS
	// resolvers since the previous snapshot, Sessions counting only those
	// new ones (so a store adds them up across checkpoints and runs): the
	// hosts whose lookups the span cannot see.
	DoHHosts []DoHHost
	Lost     uint64 // hour buckets or host-hours dropped because a worker held too many between snapshots
	// Identity is the host binder's state — its learned joins, the
	// bindings its keys rest on, routers' MACs — from the binder that
	// resolves hosts: a sharded replay's reader, else the workers' (live
	// workers' binders mirror each other's, merged here).
	Identity host.Saved
}

// maxExportAnswers bounds the DNS answers one worker hands a checkpoint: a
// worker that stored more since the last one (a scan of many names) saves
// the most recently used.
const maxExportAnswers = 1 << 14

// LearnedPrefix is an internal IPv6 prefix learned from a router
// advertisement, and when.
type LearnedPrefix struct {
	Prefix netip.Prefix
	First  int64 // capture time it was first learned, Unix ns (this run or an earlier one)
	// Source is how it was learned: LearnedFromRA or LearnedFromMAC; empty
	// for a prefix restored from a state that did not record it.
	Source string
}

// prefixTimes remembers when each learned prefix was learned. It is written
// only when netset.Set.Learn adds a prefix (at most netset.MaxLearned
// times), so its map is bounded as the set is.
type prefixTimes struct {
	mu   sync.Mutex
	at   map[netip.Prefix]int64
	from map[netip.Prefix]string
}

// noteFrom is note for a prefix learned this run, from source.
func (t *prefixTimes) noteFrom(p netip.Prefix, ts int64, source string) {
	if t == nil {
		return
	}
	t.note(p, ts)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.from == nil {
		t.from = map[netip.Prefix]string{}
	}
	if _, ok := t.from[p]; !ok {
		t.from[p] = source
	}
}

func (t *prefixTimes) note(p netip.Prefix, ts int64) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.at[p]; !ok || ts < old {
		t.at[p] = ts
	}
}

// LearnedPrefixes lists the prefixes learned from router advertisements, in
// the order learned, with when.
func (p *Pipeline) LearnedPrefixes() []LearnedPrefix {
	l, _ := p.cfg.Internal.Learned()
	out := make([]LearnedPrefix, 0, len(l))
	p.cfg.learnedAt.mu.Lock()
	defer p.cfg.learnedAt.mu.Unlock()
	for _, pf := range l {
		out = append(out, LearnedPrefix{Prefix: pf, First: p.cfg.learnedAt.at[pf], Source: p.cfg.learnedAt.from[pf]})
	}
	return out
}

// RestoreLearned adds prefixes learned by an earlier run to the internal
// networks, oldest first, so that the hosts in them are internal from the
// first packet on. Call it before Replay or Run. It returns how many were
// added; one already inside the set, or beyond netset.MaxLearned, is not.
func (p *Pipeline) RestoreLearned(ps []LearnedPrefix) (added int) {
	ps = slices.Clone(ps)
	slices.SortStableFunc(ps, func(a, b LearnedPrefix) int { return cmp.Compare(a.First, b.First) })
	for _, l := range ps {
		if p.cfg.Internal.Learn(l.Prefix) {
			if l.Source != "" {
				p.cfg.learnedAt.noteFrom(l.Prefix.Masked(), l.First, l.Source)
			} else {
				p.cfg.learnedAt.note(l.Prefix.Masked(), l.First)
			}
			added++
		}
	}
	return added
}

// HourCounts are one worker's coverage counters for one hour.
type HourCounts struct {
	Start      int64 // Unix seconds of the hour
	Packets    uint64
	Sessions   uint64 // external session starts
	OneSided   uint64 // sessions that ended with packets one way only: the span sees one direction
	NamedDNS   uint64 // session starts named from the client's DNS answers
	NamedMAC   uint64 // named from answers to the client's MAC (dual stack)
	NamedWire  uint64 // named from the session's own bytes: TLS SNI, QUIC, HTTP Host, CONNECT
	Unnamed    uint64
	DNSQueries uint64
	Evictions  uint64 // entries evicted from any of the worker's tables
}

func (h *HourCounts) add(o *HourCounts) {
	h.Packets += o.Packets
	h.Sessions += o.Sessions
	h.OneSided += o.OneSided
	h.NamedDNS += o.NamedDNS
	h.NamedMAC += o.NamedMAC
	h.NamedWire += o.NamedWire
	h.Unnamed += o.Unnamed
	h.DNSQueries += o.DNSQueries
	h.Evictions += o.Evictions
}

// HostHourCounts is one internal host's external sessions in one hour.
type HostHourCounts struct {
	Host     netip.Addr
	Start    int64
	Sessions uint64
	Named    uint64
}

// Bounds of what a worker holds between snapshots.
const (
	maxHeldHours     = 8 * 24  // hour buckets (a capture read faster than checkpoints)
	maxHostsPerHour  = 1 << 14 // distinct hosts counted in the current hour
	maxHeldHostHours = 1 << 16
)

// coverage is a worker's hourly counting. The per-packet cost is one
// compare (has the hour ended?); the rest runs per session or per hour.
type coverage struct {
	start, end int64 // the current hour, Unix ns
	cur        HourCounts
	evictBase  uint64 // the tables' eviction total when cur began
	hosts      map[netip.Addr]*HostHourCounts
	held       []HourCounts
	heldHosts  []HostHourCounts
	lost       uint64
}

const hourNS = int64(time.Hour)

// roll closes the current hour (if any) and opens the one holding ts.
func (w *worker) rollHour(ts int64) {
	c := &w.cov
	if c.start != 0 {
		w.closeHour()
	}
	c.start = ts - ((ts%hourNS)+hourNS)%hourNS
	c.end = c.start + hourNS
	c.cur = HourCounts{Start: c.start / int64(time.Second)}
}

// closeHour moves the current counts to the held buckets.
func (w *worker) closeHour() {
	c := &w.cov
	ev := w.evictions()
	c.cur.Evictions += ev - c.evictBase
	c.evictBase = ev
	if len(c.held) >= maxHeldHours {
		c.held = c.held[1:]
		c.lost++
	}
	c.held = append(c.held, c.cur)
	c.cur = HourCounts{Start: c.cur.Start}
	for _, h := range c.hosts {
		if len(c.heldHosts) >= maxHeldHostHours {
			c.lost++
			continue
		}
		c.heldHosts = append(c.heldHosts, *h)
	}
	clear(c.hosts)
}

func (w *worker) evictions() uint64 {
	f, d, b, h := w.flows.Stats(), w.dns.Stats(), w.det.Stats(), w.hosts.Stats()
	return f.Evictions + d.Evictions + b.Evictions + h.Evictions
}

// namedFromWire moves a session that SessionStart counted unnamed (no DNS
// answer) to the sessions named by their own bytes, in the current hour.
func (w *worker) namedFromWire(host netip.Addr) {
	c := &w.cov
	c.cur.NamedWire++
	if c.cur.Unnamed > 0 { // the hour may have turned since the start was counted
		c.cur.Unnamed--
	}
	if h, ok := c.hosts[host]; ok && h.Named < h.Sessions {
		h.Named++
	}
}

// hostSession counts an external session start of host in the current hour.
func (w *worker) hostSession(host netip.Addr, named bool) {
	c := &w.cov
	if c.hosts == nil {
		c.hosts = make(map[netip.Addr]*HostHourCounts)
	}
	h, ok := c.hosts[host]
	if !ok {
		if len(c.hosts) >= maxHostsPerHour {
			c.lost++
			return
		}
		h = &HostHourCounts{Host: host, Start: c.cur.Start}
		c.hosts[host] = h
	}
	h.Sessions++
	if named {
		h.Named++
	}
}

// snapshotReq asks the workers for a Snapshot; each answers on out once.
type snapshotReq struct {
	since int64
	out   chan *Snapshot
}

// serveSnapshot answers a pending request; the worker calls it between
// batches, never per packet.
func (w *worker) serveSnapshot() {
	if w.snapReq.Load() == nil {
		return
	}
	if r := w.snapReq.Swap(nil); r != nil {
		r.out <- w.snapshot(r.since)
	}
}

func (w *worker) snapshot(since int64) *Snapshot {
	s := &Snapshot{Clock: w.clock, Hosts: w.hosts.Hosts()}
	// Every host, not only those observed since: a host one worker saw
	// lately is merged with the other workers' copies of it before it is
	// written, so the stored state is whole.
	w.hosts.Export(func(h *hostid.HostState) { s.HostStates = append(s.HostStates, h) },
		func(b hostid.BindingState) { s.Bindings = append(s.Bindings, b) })
	w.dns.Export(since, w.clock, maxExportAnswers, func(a dnstrack.Answer) { s.DNSAnswers = append(s.DNSAnswers, a) })
	w.det.Export(since, func(p *beacon.PairState) { s.Pairs = append(s.Pairs, p) })
	if w.own != nil {
		s.Identity = w.own.binder.Export()
	}
	for _, a := range w.nm.doh.Keys() {
		if h, ok := w.nm.doh.Peek(a); ok && h.Sessions > h.saved {
			d := *h
			d.Sessions -= h.saved
			h.saved = h.Sessions
			s.DoHHosts = append(s.DoHHosts, d)
		}
	}
	c := &w.cov
	if c.start != 0 {
		w.closeHour() // the partial hour: later snapshots add to it
	}
	s.Hours, c.held = c.held, nil
	s.HostHours, c.heldHosts = c.heldHosts, nil
	s.Lost, c.lost = c.lost, 0
	return s
}

// Snapshot asks every worker to copy its state out between batches and
// returns the union: pairs beaten at or after since (capture time), and the
// coverage counted since the previous Snapshot. After Replay or Run has
// returned it reads the stopped workers directly; call it then for the
// final checkpoint.
func (p *Pipeline) Snapshot(ctx context.Context, since int64) (*Snapshot, error) {
	req := &snapshotReq{since: since, out: make(chan *Snapshot, len(p.workers))}
	p.snapMu.Lock()
	defer p.snapMu.Unlock()
	for _, w := range p.workers {
		w.snapReq.Store(req)
	}
	p.snapWanted.Store(true)
	all := &Snapshot{}
	var ids []host.Saved
	for got := 0; got < len(p.workers); {
		var s *Snapshot
		select {
		case s = <-req.out:
		case <-p.stopped:
			for _, w := range p.workers {
				w.serveSnapshot() // the workers have returned: their state is ours
			}
			continue
		case <-ctx.Done():
			for _, w := range p.workers {
				w.snapReq.CompareAndSwap(req, nil)
			}
			return nil, ctx.Err()
		}
		got++
		all.Clock = max(all.Clock, s.Clock)
		all.Pairs = append(all.Pairs, s.Pairs...)
		all.Hours = append(all.Hours, s.Hours...)
		all.HostHours = append(all.HostHours, s.HostHours...)
		all.Hosts = append(all.Hosts, s.Hosts...)
		all.HostStates = append(all.HostStates, s.HostStates...)
		all.Bindings = append(all.Bindings, s.Bindings...)
		all.DNSAnswers = append(all.DNSAnswers, s.DNSAnswers...)
		all.DoHHosts = append(all.DoHHosts, s.DoHHosts...)
		all.Lost += s.Lost
		ids = append(ids, s.Identity)
	}
	p.reader.mu.Lock()
	if r := p.reader.saved; r != nil {
		// A sharded replay: the reader's binder resolves hosts, saved as
		// it handed the workers the batches they answered after; the
		// workers' binders sit idle with what was restored.
		ids = []host.Saved{*r}
	}
	p.reader.mu.Unlock()
	all.Identity = mergeIdentity(ids)
	all.Learned = p.LearnedPrefixes()
	all.HostStates, all.Bindings = mergeHosts(all.HostStates, all.Bindings, since)
	return all, nil
}

// mergeHosts joins the workers' copies of each host, keeps those observed
// at or after since, and the bindings of the hosts kept (one per address,
// the longest lasting).
func mergeHosts(hosts []*hostid.HostState, binds []hostid.BindingState, since int64) ([]*hostid.HostState, []hostid.BindingState) {
	byKey := make(map[string]*hostid.HostState, len(hosts))
	var out []*hostid.HostState
	for _, h := range hosts {
		k := h.Key()
		if m, ok := byKey[k]; ok {
			m.Merge(h)
			continue
		}
		byKey[k] = h
		out = append(out, h)
	}
	out = slices.DeleteFunc(out, func(h *hostid.HostState) bool { return h.Last < since })
	kept := make(map[[6]byte]bool, len(out))
	for _, h := range out {
		if h.MAC != [6]byte{} {
			kept[h.MAC] = true
		}
	}
	byAddr := make(map[netip.Addr]int, len(binds))
	var bs []hostid.BindingState
	for _, b := range binds {
		if !kept[b.MAC] {
			continue
		}
		if i, ok := byAddr[b.Addr]; ok {
			if b.Until > bs[i].Until {
				bs[i] = b
			}
			continue
		}
		byAddr[b.Addr] = len(bs)
		bs = append(bs, b)
	}
	return out, bs
}

// RestoreHosts gives each host state to the workers that own its addresses
// (every worker, for a host seen with none: DHCP from a host without an
// address reaches them all) and each binding to the worker that owns its
// address, so that the verdicts of the previous run are there before the
// first packet. Call it before Replay or Run; a state a table refuses is
// counted.
func (p *Pipeline) RestoreHosts(hosts func(fn func(*hostid.HostState)) error, binds func(fn func(hostid.BindingState)) error) (restored, refused int, err error) {
	n := len(p.workers)
	owner := func(a netip.Addr) int {
		if n == 1 {
			return 0
		}
		return shard.Worker(shard.Hash(a), n)
	}
	err = hosts(func(h *hostid.HostState) {
		var to []int
		switch {
		case h.IP.IsValid():
			to = append(to, owner(h.IP))
		case host.UsableMAC(h.MAC) && !h.Router:
			// A host with its own MAC is sharded by it (sensor/host), and by
			// its addresses until the first of its frames binds them again.
			to = append(to, shard.Worker(shard.HashKey(host.MACKey(h.MAC)), n))
			for _, a := range h.Addrs {
				if i := owner(a.Addr); !slices.Contains(to, i) {
					to = append(to, i)
				}
			}
		default:
			for _, a := range h.Addrs {
				if i := owner(a.Addr); !slices.Contains(to, i) {
					to = append(to, i)
				}
			}
			if len(to) == 0 {
				for i := range n {
					to = append(to, i)
				}
			}
		}
		for _, i := range to {
			if p.workers[i].hosts.Import(h) != nil {
				refused++
				return
			}
		}
		restored++
	})
	if err != nil {
		return restored, refused, err
	}
	err = binds(func(b hostid.BindingState) {
		to := []int{owner(b.Addr)}
		if host.UsableMAC(b.MAC) {
			if i := shard.Worker(shard.HashKey(host.MACKey(b.MAC)), n); i != to[0] {
				to = append(to, i)
			}
		}
		for _, i := range to {
			if p.workers[i].hosts.ImportBinding(b) != nil {
				refused++
				return
			}
		}
	})
	return restored, refused, err
}

// saveReaderIdentity keeps the sharded reader's binder state for the next
// Snapshot; the reader calls it when a snapshot is wanted and at its end.
func (p *Pipeline) saveReaderIdentity(b *host.Binder) {
	s := b.Export()
	p.reader.mu.Lock()
	p.reader.saved = &s
	p.reader.mu.Unlock()
}

// mergeIdentity is the union of binders' states: for each member its
// latest join, for each address its latest binding, every router. Live
// workers' binders mirror each other (livehosts.go), so the union is one
// binder's size.
func mergeIdentity(ids []host.Saved) host.Saved {
	if len(ids) == 1 {
		return ids[0]
	}
	var out host.Saved
	joins := map[[6]byte]newest{}
	binds := map[netip.Addr]newest{}
	routers := map[[6]byte]bool{}
	for _, id := range ids {
		out.Clock = max(out.Clock, id.Clock)
		for _, j := range id.Joins {
			out.Joins = keepNewest(out.Joins, joins, j.Member, j, j.Last)
		}
		for _, b := range id.Bindings {
			out.Bindings = keepNewest(out.Bindings, binds, b.Addr, b, b.Last)
		}
		for _, m := range id.Routers {
			if !routers[m] {
				routers[m] = true
				out.Routers = append(out.Routers, m)
			}
		}
	}
	return out
}

// keepNewest adds v (last seen at last) to list under key k, where at
// indexes list by key: appended when k is new, else in place of k's entry
// when v is newer.
func keepNewest[K comparable, V any](list []V, at map[K]newest, k K, v V, last int64) []V {
	n, ok := at[k]
	if !ok {
		at[k] = newest{len(list), last}
		return append(list, v)
	}
	if last > n.last {
		list[n.i] = v
		at[k] = newest{n.i, last}
	}
	return list
}

// newest is where keepNewest keeps a key's entry, and its time.
type newest struct {
	i    int
	last int64
}

// IdentityRestore counts what RestoreIdentity restored.
type IdentityRestore struct {
	Joins, Bindings int // restored
	Refused         int // would break one of the binder's rules
	Aged            int // older than the binder's windows at the checkpoint's time
}

// RestoreIdentity gives every binder that resolves hosts — each worker's,
// and a sharded replay's reader, made when Replay starts — the joins and
// bindings a checkpoint kept, through the binder's own rules, so that a
// docked Mac's host keeps the canonical MAC it had before the restart. All
// take it in one order and end alike. Call it before Replay or Run, after
// the inventory's joins (Config.HostMACs) are in.
func (p *Pipeline) RestoreIdentity(s host.Saved) IdentityRestore {
	p.cfg.identity = &s
	var st host.Stats
	for i, w := range p.workers {
		if w.own == nil {
			continue
		}
		w.own.binder.Restore(s)
		if i == 0 {
			st = w.own.binder.Stats()
		}
	}
	return IdentityRestore{Joins: int(st.RestoredJoins), Bindings: int(st.RestoredBindings), Refused: int(st.RestoreRefused), Aged: int(st.RestoreAged)}
}

// RestoreDNS gives each DNS answer to every worker, so a name resolved
// before a restart still names the client's sessions after it until the
// answer expires: the client's host is sharded by its MAC, which the answer
// does not name (each worker's table keeps its bound). Call it before
// Replay or Run; an answer a tracker refuses is counted.
func (p *Pipeline) RestoreDNS(next func(fn func(dnstrack.Answer)) error) (restored, refused int, err error) {
	err = next(func(a dnstrack.Answer) {
		for _, w := range p.workers {
			if w.dns.Import(a) != nil {
				refused++
				return
			}
		}
		restored++
	})
	return restored, refused, err
}

// Restore gives each pair state to the worker that owns its source host.
// Call it before Replay or Run; a state the detector refuses is counted.
func (p *Pipeline) Restore(next func(fn func(*beacon.PairState)) error) (restored, refused int, err error) {
	n := len(p.workers)
	err = next(func(st *beacon.PairState) {
		i := 0
		if n > 1 {
			i = shard.Worker(shard.HashKey(st.Key.Host), n)
		}
		if p.workers[i].det.Import(st) != nil {
			refused++
			return
		}
		restored++
	})
	return restored, refused, err
}
