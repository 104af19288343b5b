package pipeline

import (
	"reflect"
	"sync"
	"time"

	"github.com/launchtap/launchtap/sensor/beacon"
	"github.com/launchtap/launchtap/sensor/decode"
	"github.com/launchtap/launchtap/sensor/dnstrack"
	"github.com/launchtap/launchtap/sensor/flow"
	"github.com/launchtap/launchtap/sensor/host"
	"github.com/launchtap/launchtap/sensor/hostid"
)

// workerCounters are written by one worker goroutine only.
type workerCounters struct {
	packets           uint64 // decoded packets handled
	findings          uint64
	suppressedOS      uint64
	dnsShadows        uint64     // DNS-poll findings that only repeat a connection pair's lookups
	dnsNameEvictions  uint64     // DNS-channel state forgotten (names per domain, polled names: a table was full)
	hostSeenEvictions uint64     // hosts whose recent beat addresses were forgotten (the table was full)
	localLink         uint64     // sessions to multicast, broadcast or link-local addresses: never beats
	read              readCounts // live mode: the worker reads and decodes its own source
	hub               HubStats
}

// published is a worker's latest snapshot, copied once per batch so that
// readers never touch the worker's live state.
type published struct {
	mu     sync.Mutex
	c      workerCounters
	flow   flow.Stats
	dns    dnstrack.Stats
	beacon beacon.Stats
	hosts  hostid.Stats
	names  NameStats
	ident  host.Stats // the worker's own binder (one-worker replay, live)
}

func (w *worker) publish() {
	if w.hub != nil {
		w.hub.flush()
		w.c.hub = w.hub.c
	}
	fs, ds, bs, hs := w.flows.Stats(), w.dns.Stats(), w.det.Stats(), w.hosts.Stats()
	var is host.Stats
	if w.own != nil {
		is = w.own.binder.Stats()
	}
	w.nm.c.DoHHosts = uint64(w.nm.doh.Len())
	w.nm.c.HelloHeld, w.nm.c.HelloJoined, w.nm.c.HelloHoldEvictions = w.nm.hold.held, w.nm.hold.joined, w.nm.hold.evicted
	w.pub.mu.Lock()
	w.pub.c, w.pub.flow, w.pub.dns, w.pub.beacon, w.pub.hosts, w.pub.names, w.pub.ident = w.c, fs, ds, bs, hs, w.nm.c, is
	w.pub.mu.Unlock()
}

// Stats is a snapshot of the whole data path.
type Stats struct {
	Frames           uint64                     // frames read from the capture
	Bytes            uint64                     // their wire length
	Decode           [decode.NumErrKinds]uint64 // decoder verdicts by kind (index decode.ErrKind)
	Decapsulated     [decode.NumTunnels]uint64  // encapsulation layers removed, by kind (index decode.Tunnel)
	FirstFrags       uint64                     // first fragments of fragmented datagrams (also counted as OK)
	Packets          uint64                     // packets handed to workers
	Findings         uint64                     // periodic pairs found (before OS policy and baseline)
	SuppressedOS     uint64                     // findings dropped because the host is not macOS
	DNSShadows       uint64                     // DNS-poll findings dropped: one lookup before each connection of an alerting pair
	DNSNameEvictions uint64                     // the DNS-channel detector's per-domain last names evicted
	Flow             flow.Stats
	DNS              dnstrack.Stats
	Beacon           beacon.Stats
	Hosts            hostid.Stats
	Names            NameStats // names from the wire, proxies, encrypted DNS, learned prefixes
	// Identity counts how packets' owners resolved to hosts (sensor/host):
	// bindings, joins, routers, and packets keyed by MAC or by address.
	Identity          host.Stats
	HostSeenEvictions uint64 // hosts whose recent beat addresses were forgotten
	LocalLink         uint64 // sessions to multicast, broadcast or link-local addresses, not scored
	// LiveHosts count the host changes live workers shared with each other
	// and wrote to the kernel fanout's hosts map (livehosts.go).
	LiveHosts HostsCounters
	Hub       HubStats // what the workers handed the hub (--hub-url)
	Workers   int
	Elapsed   time.Duration // wall time since the run started
}

// DecodeErrors sums the decoder verdicts that are real errors (not "ok",
// "not IP" or "other transport").
func (s *Stats) DecodeErrors() uint64 {
	var n uint64
	for k, v := range s.Decode {
		switch decode.ErrKind(k) {
		case decode.OK, decode.ErrNotIP, decode.ErrOtherTransport:
		default:
			n += v
		}
	}
	return n
}

// Stats sums the workers' latest snapshots. Safe to call at any time.
func (p *Pipeline) Stats() Stats {
	var s Stats
	s.Workers = len(p.workers)
	mirrored := p.live.Load() != nil
	var restored host.Stats // the workers' binders' restore counters, the most of any
	for _, w := range p.workers {
		w.pub.mu.Lock()
		c := w.pub.c
		addCounters(&s.Flow, &w.pub.flow)
		addCounters(&s.DNS, &w.pub.dns)
		addCounters(&s.Beacon, &w.pub.beacon)
		addCounters(&s.Hosts, &w.pub.hosts)
		addCounters(&s.Names, &w.pub.names)
		addIdentity(&s.Identity, &w.pub.ident, mirrored)
		restoredMax(&restored, &w.pub.ident)
		w.pub.mu.Unlock()
		s.Packets += c.packets
		s.Findings += c.findings
		s.SuppressedOS += c.suppressedOS
		s.DNSShadows += c.dnsShadows
		s.DNSNameEvictions += c.dnsNameEvictions
		s.HostSeenEvictions += c.hostSeenEvictions
		s.LocalLink += c.localLink
		s.addRead(&c.read)
		addCounters(&s.Hub, &c.hub)
	}
	learned, refused := p.cfg.Internal.Learned()
	s.Names.PrefixesLearned, s.Names.PrefixesRefused = uint64(len(learned)), refused
	s.Names.PrefixesFromMACs = p.cfg.macs.learned.Load()
	s.Names.ExternalHostWarns = p.cfg.macs.warnings.Load()
	s.Names.LearnMACEvictions = p.cfg.macs.evictions.Load()
	s.Names.ProxiesRefused = p.cfg.proxies.refused.Load()
	s.Names.ProxiesLearned = 0
	for _, px := range p.Proxies() {
		if px.Learned {
			s.Names.ProxiesLearned++
		}
	}
	p.reader.mu.Lock()
	s.addRead(&p.reader.c)
	if r := &p.reader.ident; r.ByMAC+r.ByAddr > 0 {
		// A sharded replay: the reader's binder resolves hosts; the
		// workers' sit idle with only what RestoreIdentity gave them.
		s.Identity = *r
	} else {
		s.Identity.RestoredJoins, s.Identity.RestoredBindings = restored.RestoredJoins, restored.RestoredBindings
		s.Identity.RestoreRefused, s.Identity.RestoreAged = restored.RestoreRefused, restored.RestoreAged
	}
	p.reader.mu.Unlock()
	s.LiveHosts = p.live.Load().counters()
	if start := p.start.Load(); start != 0 {
		s.Elapsed = time.Since(time.Unix(0, start))
	}
	return s
}

// addCounters adds every integer field of src to dst (same struct type).
// Stats paths only: the reflection never runs per packet.
// addIdentity adds one binder's counters to dst. Live workers' binders
// mirror each other's bindings and joins (mirrored): those are counted as
// the most any binder holds, not once per worker; what each binder did
// alone (its lookups, conflicts, errors) is summed.
func addIdentity(dst, src *host.Stats, mirrored bool) {
	d := *dst
	addCounters(dst, src)
	if !mirrored {
		return
	}
	dst.Bindings, dst.MACs, dst.JoinKeys, dst.Joined = max(d.Bindings, src.Bindings), max(d.MACs, src.MACs),
		max(d.JoinKeys, src.JoinKeys), max(d.Joined, src.Joined)
	dst.Joins, dst.JoinsRefused, dst.JoinEvictions = max(d.Joins, src.Joins), max(d.JoinsRefused, src.JoinsRefused),
		max(d.JoinEvictions, src.JoinEvictions)
	dst.BindingEvictions, dst.JoinKeyEvictions = max(d.BindingEvictions, src.BindingEvictions), max(d.JoinKeyEvictions, src.JoinKeyEvictions)
}

// restoredMax keeps in acc the most any binder counted of a restore:
// every worker's binder restores the same checkpoint, so their sum would
// count it once per binder.
func restoredMax(acc, s *host.Stats) {
	acc.RestoredJoins, acc.RestoredBindings = max(acc.RestoredJoins, s.RestoredJoins), max(acc.RestoredBindings, s.RestoredBindings)
	acc.RestoreRefused, acc.RestoreAged = max(acc.RestoreRefused, s.RestoreRefused), max(acc.RestoreAged, s.RestoreAged)
}

func addCounters[T any](dst, src *T) {
	d, s := reflect.ValueOf(dst).Elem(), reflect.ValueOf(src).Elem()
	for i := 0; i < d.NumField(); i++ {
		switch f := d.Field(i); f.Kind() {
		case reflect.Uint64:
			f.SetUint(f.Uint() + s.Field(i).Uint())
		case reflect.Int:
			f.SetInt(f.Int() + s.Field(i).Int())
		}
	}
}

// addRead adds a read loop's counters.
func (s *Stats) addRead(c *readCounts) {
	s.Frames += c.frames
	s.Bytes += c.bytes
	for k := range c.decode {
		s.Decode[k] += c.decode[k]
	}
	for k := range c.decaps {
		s.Decapsulated[k] += c.decaps[k]
	}
	s.FirstFrags += c.firstFrags
}

// publishReader records the replay read loop's counters.
func (p *Pipeline) publishReader(c readCounts, ident host.Stats) {
	p.reader.mu.Lock()
	p.reader.c, p.reader.ident = c, ident
	p.reader.mu.Unlock()
}

// Workers is how many workers the pipeline runs.
func (p *Pipeline) Workers() int { return len(p.workers) }

// DistinctHosts counts the hosts of every worker's table once, where Stats
// sums the tables (a host seen before it had an address is in each). Call it
// only after Replay or Run has returned: it reads the workers' tables.
func (p *Pipeline) DistinctHosts() int {
	set := map[string]struct{}{}
	for _, w := range p.workers {
		w.hosts.AddKeys(set)
	}
	return len(set)
}
