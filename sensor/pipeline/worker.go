package pipeline

import (
	"fmt"
	"hash/fnv"
	"hash/maphash"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/miekg/dns"
	"golang.org/x/net/publicsuffix"

	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/beacon"
	"github.com/launchtap/launchtap/sensor/decode"
	"github.com/launchtap/launchtap/sensor/dnstrack"
	"github.com/launchtap/launchtap/sensor/flow"
	"github.com/launchtap/launchtap/sensor/host"
	"github.com/launchtap/launchtap/sensor/hostid"
	"github.com/launchtap/launchtap/sensor/slru"
)

// worker owns the state of the hosts sharded to it: nothing in it is shared,
// so nothing in it is locked.
type worker struct {
	id        int
	cfg       *Config
	flows     *flow.Tracker
	dns       *dnstrack.Tracker
	det       *beacon.Detector
	hosts     *hostid.Table
	out       chan<- *alert.Alert
	ordered   chan<- orderedAlert                  // sharded replay: alerts go through orderAlerts instead of out
	raised    uint64                               // alerts sent to ordered
	dnsNew    *slru.Table[dnsPairKey, *dnsChannel] // names changing under (client, registered domain)
	dnsPolls  *slru.Table[dnsPairKey, *dnsChannel] // one name asked again and again, by (client, name)
	polls     pollMemo                             // dnsPolls' channels used last
	lastQuery lastQuery                            // what DNSQuery last did to dnsNew and dnsPolls (only it may Get or Add there)
	nm        namer                                // names from the wire, proxies, DoH (names.go)

	// own learns and resolves hosts when this worker reads its own packets
	// (one-worker replay, live: selfRead, hosts resolved on demand by
	// hostOf); a sharded replay's reader resolves every packet's host
	// before sharding it, and batch.hosts[idx] says what it found. (Indexes,
	// not pointers or addresses, are written per packet: no GC write
	// barrier on the hot path.)
	own        *owners
	selfRead   bool
	pkt        *decode.Packet                      // the packet in hand, when selfRead (the read loop's one packet)
	batch      *batch                              // the batch in hand, when sharded
	batchSeq   uint64                              // its sequence number; flushBatch once the capture ended
	sweeping   bool                                // sweeping at another worker's packet (sweepUpTo)
	idx        int                                 // the packet in hand in batch
	seen       *simplelru.LRU[host.Key, *hostSeen] // addresses and MACs hosts beat from, for alerts
	regDomains regDomains                          // registered domains of recent DNS names

	c     workerCounters // written by this worker only
	pub   published      // copied from c once per batch, read by Stats
	clock int64          // capture time of the latest packet

	cov        coverage                    // hourly counters for checkpoints
	snapReq    atomic.Pointer[snapshotReq] // a checkpoint's request, served between batches
	batched    BatchFilterCounters         // cfg.Filtered when it takes in batches
	ended      []endedSession              // sessions waiting for the filter's counts
	endedPairs map[beacon.PairKey]struct{} // their pairs, so that a pair's next beat takes them first
	endedSince int64                       // capture time of the oldest of them
	takes      []FlowTake

	synMemo synMemo

	hub *hubOut // nil without Config.Hub
}

// endedSession is what the detector needs of a session that ended, held
// until the kernel filter's counts are added.
type endedSession struct {
	pair      beacon.PairKey
	key       flow.Key
	client    netip.Addr
	server    netip.Addr
	start     int64
	bytesOut  uint64
	bytesIn   uint64
	pktsOut   uint32
	pktsIn    uint32
	noSize    bool // midstream, never answered, or no beacon candidate
	restarted bool
	uncounted bool // !flow.Session.MayBeCounted: nothing in the kernel
}

// maxPendingEnds bounds the ended sessions a worker holds for the filter's
// counts; they are taken at the latest a second of capture time after the
// oldest ended (pendingEndsAge).
const (
	maxPendingEnds = 1 << 16
	pendingEndsAge = int64(time.Second)
)

// dnsChannel is what a client's lookups of one name, or under one
// registered domain, looked like lately: enough to tell a beat of a DNS
// channel from a cached lookup, and to say in the alert what the channel
// asked and through which resolver.
type dnsChannel struct {
	name     string // the latest name asked
	pending  int64  // a lookup not yet known to be a poll (see dnsPoll), Unix ns; 0 none
	expires  int64  // when the latest answer for name may be cached until, Unix ns; 0 unknown
	answered int64  // when that answer came, Unix ns
	// answeredTypes are the record types of that round of answers.
	answeredTypes [2]uint16
	polls, conns  uint32 // poll beats of the name, and sessions the client started to it
	internal      bool   // the name answers with an internal address: an internal service, never a beacon
	resolver      netip.Addr
	types         [4]uint16 // record types of its beats, first seen first
}

func (c *dnsChannel) addType(t uint16) {
	for i, x := range c.types {
		if x == t {
			return
		}
		if x == 0 {
			c.types[i] = t
			return
		}
	}
}

func newWorker(id int, cfg *Config, out chan<- *alert.Alert) (*worker, error) {
	w := &worker{id: id, cfg: cfg, out: out}
	var err error
	if w.flows, err = flow.NewTracker(cfg.Flow, cfg.Internal, w); err != nil {
		return nil, err
	}
	if w.dns, err = dnstrack.New(cfg.DNS, w); err != nil {
		return nil, err
	}
	w.flows.TrackProxies(cfg.proxies)
	if err = w.newNamer(); err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	if b, ok := cfg.Filtered.(BatchFilterCounters); ok {
		w.batched = b
		w.endedPairs = make(map[beacon.PairKey]struct{})
	}
	w.det = beacon.NewDetector(cfg.Beacon.PerWorker(cfg.Workers))
	if w.own, err = newOwners(cfg); err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	if w.hosts, err = hostid.NewTable(cfg.HostID); err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	w.regDomains.seed = maphash.MakeSeed()
	gone := func(dnsPairKey, *dnsChannel) { w.polls.gen++ }
	if w.dnsNew, err = newDNSNames(max(16, cfg.DNS.MaxAnswers/4), w.regDomains.seed, gone); err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	if w.dnsPolls, err = newDNSNames(max(16, cfg.DNS.MaxAnswers/4), w.regDomains.seed, gone); err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	if w.seen, err = simplelru.NewLRU(max(16, cfg.DNS.MaxAnswers/4), func(host.Key, *hostSeen) { w.c.hostSeenEvictions++ }); err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	if cfg.Hub != nil {
		w.hub = newHubOut(cfg.Hub, cfg.Sensor)
	}
	return w, nil
}

// read is the per-packet path of a worker that reads its own packets: it
// resolves the packet's host, then handles it.
func (w *worker) read(p *decode.Packet, kind decode.ErrKind) {
	// What changes how the packet is owned is learned first, in the order
	// the sharded replay's reader learns it.
	if w.cfg.LearnInternal && isRouterAdvert(p) {
		learnPrefixes(w.cfg, p, w.nm.ra[:0])
	}
	if wantsSYN(p) {
		w.cfg.macs.syn(w.cfg, p, w.cfg.LearnInternal, &w.synMemo)
	}
	w.own.binder.Learn(p)
	w.selfRead = true
	if w.pkt != p {
		w.pkt = p
	}
	w.handle(p, kind)
}

// handle is the per-packet path once a packet is decoded (kind is the
// decoder's verdict: OK, or an IP-only result whose addresses are valid).
func (w *worker) handle(p *decode.Packet, kind decode.ErrKind) {
	w.c.packets++
	w.clock = p.TS
	if len(w.ended) > 0 && p.TS-w.endedSince >= pendingEndsAge {
		w.takeEnded() // before the hour turns: their one-sided count is that hour's
	}
	if p.TS >= w.cov.end {
		w.rollHour(p.TS)
	}
	w.cov.cur.Packets++
	w.hosts.Observe(p)
	if kind != decode.OK {
		if w.cfg.LearnInternal && isRouterAdvert(p) {
			w.routerAdvert(p)
		}
		return
	}
	if dnstrack.IsDNS(p) {
		w.dns.Packet(p)
	}
	if p.Proto == decode.ProtoTCP && len(p.Payload) >= 8 && p.Payload[0] == 'C' {
		w.connectToInternal(p)
	}
	w.flows.Packet(p)
}

// flush ends every session (end of a capture) so that their sizes are recorded.
func (w *worker) flush() {
	w.flows.Flush()
	w.takeEnded()
	if w.hub != nil {
		w.hub.finish()
	}
}

// SessionStart is a beat: the pair is keyed by the name the host resolved,
// or, when it resolved none the span saw, by the name its first payload
// carries (startSession).
func (w *worker) SessionStart(s *flow.Session) {
	var ok bool
	s.Name, ok = w.dns.Name(s.ClientAddr, s.ServerAddr, s.Start)
	w.cov.cur.Sessions++
	s.HostMAC, s.HostKnown = w.hostOf(s.ClientAddr).MAC, true
	switch {
	case ok:
		w.cov.cur.NamedDNS++
	case s.HasMAC && s.HostMAC != [6]byte{} && s.ClientAddr.Is6() && !s.ClientAddr.Is4In6():
		// A dual-stack host may have resolved the name from its IPv4
		// address. Only a host known by its MAC: a frame's MAC that keys
		// no host (a router's, in front of hosts known by address) would
		// lend one host's lookups to another's sessions.
		if s.Name, ok = w.dns.NameByMAC(s.ClientMAC, s.ServerAddr, s.Start); ok {
			w.cov.cur.NamedMAC++
		} else {
			w.cov.cur.Unnamed++
		}
	default:
		w.cov.cur.Unnamed++
	}
	w.hostSession(s.ClientAddr, ok)
	w.sessionBeat(s)
}

// sessionBeat counts the session against its DNS name's poll state (see
// dnsShadow), then starts its beat (startSession).
func (w *worker) sessionBeat(s *flow.Session) {
	if s.Name != "" {
		if ch, ok := w.peekPoll(w.dnsKey(sessionHost(s), s.Name)); ok {
			ch.conns++
		}
	}
	w.startSession(s)
}

func (w *worker) SessionEnd(s *flow.Session) {
	if s.Pending {
		// No payload named it: it beats keyed by its address, as at its start.
		w.fire(s, s.Start)
	}
	if w.batched != nil {
		if len(w.ended) == 0 {
			w.endedSince = w.clock
		}
		pk := w.pairKey(s, beacon.KindSession)
		noSize := s.Midstream || s.Handshaking || s.NoBeat // no beat, so nothing to size
		w.ended = append(w.ended, endedSession{
			pair: pk, key: s.Key, client: s.ClientAddr, server: s.ServerAddr, start: s.Start,
			bytesOut: s.BytesOut, bytesIn: s.BytesIn, pktsOut: s.PktsOut, pktsIn: s.PktsIn,
			noSize: noSize, restarted: s.Restarted, uncounted: !s.MayBeCounted(),
		})
		if !noSize {
			w.endedPairs[pk] = struct{}{}
		}
		if len(w.ended) >= maxPendingEnds {
			w.takeEnded()
		}
		return
	}
	if f := w.cfg.Filtered; f != nil {
		k := &s.Key
		po, bo := f.Take(s.ClientAddr, s.ServerAddr, k.ClientPort, k.ServerPort, k.Proto, s.Restarted)
		pi, bi := f.Take(s.ServerAddr, s.ClientAddr, k.ServerPort, k.ClientPort, k.Proto, s.Restarted)
		s.PktsOut += uint32(po)
		s.PktsIn += uint32(pi)
		s.BytesOut += bo
		s.BytesIn += bi
	}
	if s.Midstream || s.Handshaking || s.NoBeat {
		return // no beat, so nothing to size
	}
	if s.PktsIn == 0 || s.PktsOut == 0 {
		w.cov.cur.OneSided++ // of the sessions counted at their start
	}
	w.sizes(w.pairKey(s, beacon.KindSession), s.Start, s.BytesOut, s.BytesIn)
}

// takeEnded adds the kernel filter's counts to the sessions that ended since
// the last call, in one batch, and records their sizes in order.
func (w *worker) takeEnded() {
	if len(w.ended) == 0 {
		return
	}
	w.takes = w.takes[:0]
	for i := range w.ended {
		e := &w.ended[i]
		// A session begun on the 5-tuple since this one ended owns the
		// counts after the kernel's split, as with a restart. (An uncounted
		// session has no such counts: no need to look.)
		restarted := e.restarted || !e.uncounted && w.flows.Tracking(e.key)
		k := &e.key
		w.takes = append(w.takes,
			FlowTake{Src: e.client, Dst: e.server, SrcPort: k.ClientPort, DstPort: k.ServerPort, Proto: k.Proto, Restarted: restarted, Uncounted: e.uncounted},
			FlowTake{Src: e.server, Dst: e.client, SrcPort: k.ServerPort, DstPort: k.ClientPort, Proto: k.Proto, Restarted: restarted, Uncounted: e.uncounted})
	}
	w.batched.TakeBatch(w.takes)
	for i := range w.ended {
		e := &w.ended[i]
		if !e.noSize {
			if uint64(e.pktsOut)+w.takes[2*i].Pkts == 0 || uint64(e.pktsIn)+w.takes[2*i+1].Pkts == 0 {
				w.cov.cur.OneSided++ // of the sessions counted at their start
			}
			w.sizes(e.pair, e.start, e.bytesOut+w.takes[2*i].Bytes, e.bytesIn+w.takes[2*i+1].Bytes)
		}
		*e = endedSession{}
	}
	w.ended = w.ended[:0]
	clear(w.endedPairs)
}

// BurstEnd sizes a keep-alive beat by its first exchange: a check-in
// repeats its request and the answer to it.
func (w *worker) BurstEnd(s *flow.Session, start int64, reqOut, respIn uint64) {
	w.sizes(w.pairKey(s, beacon.KindBurst), start, reqOut, respIn)
}

// sizes gives the detector (and the hub, with --hub-url) the sizes of the
// beat that began at start.
func (w *worker) sizes(k beacon.PairKey, start int64, out, in uint64) {
	w.det.Sizes(k, start, out, in)
	if w.hub != nil {
		w.hub.sized(k, start, out, in)
	}
}

// Burst is a beat of a keep-alive channel inside one long session.
func (w *worker) Burst(s *flow.Session, ts int64) {
	if s.NoBeat || s.Pending {
		return
	}
	if !s.HostKnown {
		// Joined mid-stream (the sensor started, or the session was
		// evicted and came back): no SessionStart named its host.
		s.HostMAC, s.HostKnown = w.hostOf(s.ClientAddr).MAC, true
	}
	w.beat(w.pairKey(s, beacon.KindBurst), s.ClientAddr, s.ServerAddr, ts, s.ClientMAC, s.HasMAC)
}

func (w *worker) pairKey(s *flow.Session, kind beacon.Kind) beacon.PairKey {
	k := beacon.PairKey{Host: sessionHost(s), Dest: s.Name, Port: s.Key.ServerPort, Proto: s.Key.Proto, Kind: kind}
	if s.DestPort != 0 {
		k.Port = s.DestPort
	}
	if s.Name == "" {
		k.DestIP = s.ServerAddr
		if s.DestAddr.IsValid() {
			k.DestIP = s.DestAddr
		}
	}
	return k
}

// DNSQuery feeds host identification and the two kinds of DNS-channel
// pair. A lookup is a beat when it is not what a cache would do:
//   - the name changed under its registered domain (DNS-channel C2 puts
//     data in the labels, or asks random labels whose answer is a CNAME
//     chain): a beat of the domain's pair (dnsLabels);
//   - the same name is asked again with a record type that clients do not
//     cache or ask on their own (TXT, NULL, ANY, ...: a command channel
//     polling for a new answer), or before the last answer's TTL ran out, or
//     the moment it did (within dnsRefreshSlack: a program in a loop keeping
//     a name resolved without a pause, as a RAT re-resolving its
//     dynamic-DNS name does): a beat of the name's pair (dnsPoll).
//
// A host that asks for an address it then caches, or asks again after a
// pause, is scored by its connections instead.
//
// Both tables are keyed by the client's host, resolved once, and the
// regDomains cache gives the name's and the domain's hashes with the
// domain: a name costs two probes and no string hashing, and the same name
// asked again at once by the same host (A, then AAAA) none (lastQuery).
func (w *worker) DNSQuery(client netip.Addr, mac [6]byte, hasMAC bool, resolver netip.Addr, name string, qtype uint16, ts int64) {
	w.hosts.ObserveDNSQuery(client, mac, hasMAC, name, ts)
	w.cov.cur.DNSQueries++
	if !w.cfg.Internal.Contains(client) || name == "" {
		return
	}
	rd := w.regDomains.of(name)
	if !rd.ok || rd.local {
		return
	}
	h := w.hostOf(client)
	lk := dnsPairKey{client: h, domain: rd.domain, hash: rd.domHash}
	pk := dnsPairKey{client: h, domain: name, hash: rd.nameHash}
	if q := &w.lastQuery; q.poll != nil && q.gen == w.polls.gen && q.host == h && q.name == name {
		// Only queries add to the tables or reorder them (everything else
		// Peeks): the last one left both its keys in place as their
		// tables' most recently used, unless a channel has left since, so
		// Gets would find these channels and move nothing.
		if q.labels != nil {
			w.labelsAsked(q.labels, lk, client, mac, hasMAC, resolver, name, qtype, ts)
		}
		w.polls.remember(pk, q.poll)
		w.pollAsked(q.poll, pk, client, mac, hasMAC, resolver, qtype, ts)
		return
	}
	var labels *dnsChannel
	if rd.domain != name {
		labels = w.dnsLabels(lk, client, mac, hasMAC, resolver, name, qtype, ts)
	}
	poll := w.dnsPoll(pk, client, mac, hasMAC, resolver, qtype, ts)
	w.lastQuery = lastQuery{host: h, name: name, labels: labels, poll: poll, gen: w.polls.gen}
}

// lastQuery is the last query that reached the DNS-channel tables, with
// the channels it left there (labels nil for an apex) and the memos'
// generation then.
type lastQuery struct {
	host         host.Key
	name         string
	labels, poll *dnsChannel
	gen          uint64
}

// dnsLabels beats the pair of k's domain when the name asked under it
// changed, and returns the domain's channel. The apex carries no data: it
// neither beats nor resets the last name (DNSQuery does not call it).
func (w *worker) dnsLabels(k dnsPairKey, client netip.Addr, mac [6]byte, hasMAC bool, resolver netip.Addr, name string, qtype uint16, ts int64) *dnsChannel {
	ch, ok := w.dnsNew.Get(k)
	if !ok {
		ch = &dnsChannel{} // no name: the one asked is a change
		if w.dnsNew.Add(k, ch) {
			w.c.dnsNameEvictions++
		}
	}
	w.labelsAsked(ch, k, client, mac, hasMAC, resolver, name, qtype, ts)
	return ch
}

// labelsAsked is dnsLabels once k's channel ch is found.
func (w *worker) labelsAsked(ch *dnsChannel, k dnsPairKey, client netip.Addr, mac [6]byte, hasMAC bool, resolver netip.Addr, name string, qtype uint16, ts int64) {
	if ch.name == name {
		return
	}
	ch.name, ch.resolver = name, resolver
	ch.addType(qtype)
	w.beat(beacon.PairKey{Host: k.client, Dest: k.domain, Port: 53, Proto: decode.ProtoUDP, Kind: beacon.KindDNS}, client, resolver, ts, mac, hasMAC)
}

// dnsPoll beats the pair of k's name when the same name is asked again as
// no cache would. The first lookup of a name is held back (one time stamp in
// the table) and becomes a beat only when a repeat shows it was the first
// poll, so one-off lookups never make a pair. It returns the name's channel.
func (w *worker) dnsPoll(k dnsPairKey, client netip.Addr, mac [6]byte, hasMAC bool, resolver netip.Addr, qtype uint16, ts int64) *dnsChannel {
	ch, ok := w.dnsPolls.Get(k)
	if !ok {
		ch = &dnsChannel{name: k.domain, pending: ts, resolver: resolver, types: [4]uint16{qtype}}
		if w.dnsPolls.Add(k, ch) {
			w.c.dnsNameEvictions++
		}
		w.polls.remember(k, ch)
		return ch
	}
	w.polls.remember(k, ch)
	w.pollAsked(ch, k, client, mac, hasMAC, resolver, qtype, ts)
	return ch
}

// pollAsked is dnsPoll once k's channel ch, asked before, is found.
func (w *worker) pollAsked(ch *dnsChannel, k dnsPairKey, client netip.Addr, mac [6]byte, hasMAC bool, resolver netip.Addr, qtype uint16, ts int64) {
	name := k.domain
	if ch.internal {
		return // like connections to internal hosts, never a beacon
	}
	if cachedType(qtype) && !ch.cached(qtype, ts) {
		ch.pending, ch.expires = ts, 0 // a fresh lookup: perhaps the first of a new run
		return
	}
	ch.resolver = resolver
	ch.addType(qtype)
	pk := beacon.PairKey{Host: k.client, Dest: name, Port: 53, Proto: decode.ProtoUDP, Kind: beacon.KindDNS}
	if ch.pending != 0 {
		ch.polls++
		w.beat(pk, client, resolver, ch.pending, mac, hasMAC)
		ch.pending = 0
	}
	ch.polls++
	w.beat(pk, client, resolver, ts, mac, hasMAC)
}

// dnsShadow reports whether a DNS-poll pair only repeats the lookup a
// client without a cache makes before each connection to the name: about
// one session per poll. Its rhythm is the connections' rhythm, which their
// own pair reports; a second alert would say the same thing twice. A name
// polled on a rhythm of its own (a RAT re-resolving its dynamic-DNS name
// every minute while it reconnects every few seconds) has many sessions
// per poll and is its own channel.
func (w *worker) dnsShadow(k beacon.PairKey) bool {
	if k.Kind != beacon.KindDNS {
		return false
	}
	ch, ok := w.peekPoll(w.dnsKey(k.Host, k.Dest))
	return ok && ch.conns > 0 && 2*ch.conns <= 3*ch.polls
}

// DNSAnswer records how long the client may cache the name it asked, so a
// repeat of the same lookup can be told from a cache refresh.
func (w *worker) DNSAnswer(client netip.Addr, name string, qtype uint16, ttl time.Duration, addr netip.Addr, ts int64) {
	ch, ok := w.peekPoll(w.dnsKey(w.hostOf(client), name))
	if !ok {
		return
	}
	if addr.IsValid() && w.cfg.Internal.Contains(addr) {
		ch.internal = true
	}
	exp := ts + int64(ttl) + max(int64(dnsRefreshSlack), int64(ttl)/10)
	if ch.expires != 0 && ts-ch.answered < int64(time.Second) {
		// Answers to one round of lookups (A and AAAA asked together): the
		// name must be refreshed when the first of them runs out.
		exp = min(exp, ch.expires)
		if ch.answeredTypes[1] == 0 && ch.answeredTypes[0] != qtype {
			ch.answeredTypes[1] = qtype
		}
	} else {
		ch.answeredTypes = [2]uint16{qtype}
	}
	ch.expires, ch.answered = exp, ts
}

// cached reports whether a lookup of type t at ts asks again for an answer
// the client already holds: the same type, before that answer ran out. (An
// AAAA lookup right after the A answer is the same round, not a repeat.)
func (c *dnsChannel) cached(t uint16, ts int64) bool {
	return c.expires != 0 && ts <= c.expires && (c.answeredTypes[0] == t || c.answeredTypes[1] == t)
}

// dnsRefreshSlack is how late after a TTL runs out a repeat still counts as
// asked "the moment it did": a loop that needs the name re-asks within its
// own period (seconds); a person comes back to a site after minutes.
const dnsRefreshSlack = 2 * time.Second

// cachedType reports whether answers of record type t are what clients ask
// for and cache in the ordinary course (addresses, service bindings, reverse
// names, service records). Anything else asked again and again is a poll.
func cachedType(t uint16) bool {
	switch t {
	case dns.TypeA, dns.TypeAAAA, dns.TypeHTTPS, dns.TypeSVCB, dns.TypePTR, dns.TypeSRV,
		dns.TypeSOA, dns.TypeNS, dns.TypeDS, dns.TypeDNSKEY:
		return true
	}
	return false
}

// describeDNS names a DNS-channel alert's registered domain, record types
// and resolver.
func (w *worker) describeDNS(a *alert.Alert, k beacon.PairKey) {
	a.DNSDomain, _ = publicsuffix.EffectiveTLDPlusOne(k.Dest)
	what := "polls " + k.Dest
	key := w.dnsKey(k.Host, k.Dest)
	ch, ok := w.dnsPolls.Peek(key)
	if !ok {
		what = "asks changing names under " + k.Dest
		if ch, ok = w.dnsNew.Peek(key); !ok {
			return // forgotten since (the table is bounded): the alert still stands
		}
	}
	a.DNSResolver = ch.resolver.String()
	for _, t := range ch.types {
		if t != 0 {
			a.DNSRecordTypes = append(a.DNSRecordTypes, dnsTypeName(t))
		}
	}
	a.Reasons = append(a.Reasons, fmt.Sprintf("DNS channel: %s (%s records, registered domain %s) through resolver %s",
		what, strings.Join(a.DNSRecordTypes, "/"), a.DNSDomain, a.DNSResolver))
}

func dnsTypeName(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return "TYPE" + strconv.Itoa(int(t))
}

func isLocalName(domain string) bool {
	switch domain {
	case "local", "arpa", "in-addr.arpa", "ip6.arpa", "home.arpa", "localhost":
		return true
	}
	return false
}

// beat is one beat of pair k, sent from src (in a frame from mac when
// hasMAC) to dst at ts.
func (w *worker) beat(k beacon.PairKey, src, dst netip.Addr, ts int64, mac [6]byte, hasMAC bool) {
	if w.cfg.NoDetection {
		return
	}
	w.sawHost(k.Host, src, mac, hasMAC, ts)
	if len(w.endedPairs) > 0 {
		// The pair's last session has ended but waits for the filter's
		// counts: its sizes must be in before this beat is scored, as they
		// are without batching (a client that reconnects on the same
		// 5-tuple ends one session just as it starts the next).
		if _, ok := w.endedPairs[k]; ok {
			w.takeEnded()
		}
	}
	if w.hub != nil {
		w.hub.beat(k, src, dst, ts, mac, hasMAC)
		w.hub.host(k.Host, src, mac, hasMAC, ts, func() hostid.Verdict { return w.hosts.Lookup(src, mac, hasMAC) })
	}
	f := w.det.Beat(k, dst, ts)
	if f == nil {
		return
	}
	w.c.findings++
	if w.hub != nil {
		w.hub.finding(f, src)
	}
	if w.dnsShadow(f.Key) {
		w.c.dnsShadows++
		return
	}
	a := w.alertFor(f, src, mac, hasMAC)
	if a == nil {
		return
	}
	w.send(a)
}

// send hands a to the alert stage: directly, or when sharded through
// orderAlerts, tagged with the packet in hand.
func (w *worker) send(a *alert.Alert) {
	if w.ordered == nil {
		w.out <- a
		return
	}
	w.raised++
	// A sweep at another worker's packet comes before what that packet
	// raises, as in one worker's flow table.
	idx := 2*w.idx + 1
	if w.sweeping {
		idx--
	}
	w.ordered <- orderedAlert{a: a, batch: w.batchSeq, idx: idx, worker: w.id, n: w.raised}
}

// alertFor turns a finding into an alert, applying the host-OS policy: by
// default only macOS hosts alert, and hosts of unknown OS alert at low
// severity; --os any lets every host alert.
func (w *worker) alertFor(f *beacon.Finding, src netip.Addr, mac [6]byte, hasMAC bool) *alert.Alert {
	v := w.hosts.Lookup(src, mac, hasMAC)
	severity, why, ok := w.cfg.OS.Judge(f.Score, alert.HostOS{MacOS: v.OS == hostid.MacOS, Unknown: v.OS == hostid.Unknown, Confidence: v.Confidence},
		w.cfg.UnknownMinScore)
	if !ok {
		w.c.suppressedOS++
		if v.OS == hostid.Unknown {
			w.cfg.Log.Debug("finding suppressed: host OS unknown and the beacon not strong enough", "host", f.Key.Host, "src", src,
				"dest", destName(f.Key), "score", f.Score, "min", w.cfg.UnknownMinScore)
		} else {
			w.cfg.Log.Debug("finding suppressed: host is not macOS", "host", f.Key.Host, "src", src, "dest", destName(f.Key), "os", v.OS)
		}
		return nil
	}
	var extra []string
	if why != "" {
		extra = append(extra, why)
	}
	a := alert.FromFinding(f, w.cfg.Sensor, severity, extra)
	a.SrcIP, a.HostID = src.String(), f.Key.Host.String()
	a.HostOS, a.HostOSConfidence, a.Hostname, a.HostEvidence = string(v.OS), v.Confidence, v.Hostname, v.Evidence
	switch {
	case v.MAC != "":
		a.SrcMAC = v.MAC
	case hasMAC:
		a.SrcMAC = netMAC(mac)
	}
	w.describeHost(a, f)
	if f.Key.Kind == beacon.KindDNS {
		w.describeDNS(a, f.Key)
	}
	m := w.meta(f.Key)
	a.DstNameSource = nameSource(m.source)
	if m.via.IsValid() {
		a.ViaProxy = m.via.String()
	}
	a.ID = alertID(f)
	return a
}

// alertID is stable for a pair and its period, whichever sensor or run saw it,
// so a SIEM can deduplicate re-deliveries and re-alerts of the same finding.
func alertID(f *beacon.Finding) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s|%s|%s|%d|%d|%d|%d", f.Key.Host, f.Key.Dest, f.Key.DestIP, f.Key.Port, f.Key.Proto, f.Key.Kind, int64(f.PeriodS+0.5))
	return strconv.FormatUint(h.Sum64(), 16)
}

func destName(k beacon.PairKey) string {
	if k.Dest != "" {
		return k.Dest
	}
	return k.DestIP.String()
}

func netMAC(m [6]byte) string {
	const hex = "0123456789abcdef"
	b := make([]byte, 0, 17)
	for i, x := range m {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hex[x>>4], hex[x&0xf])
	}
	return string(b)
}
