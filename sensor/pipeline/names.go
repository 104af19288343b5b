package pipeline

import (
	"errors"
	"hash/maphash"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/launchtap/launchtap/sensor/beacon"
	"github.com/launchtap/launchtap/sensor/decode"
	"github.com/launchtap/launchtap/sensor/doh"
	"github.com/launchtap/launchtap/sensor/flow"
	"github.com/launchtap/launchtap/sensor/names"
	"github.com/launchtap/launchtap/sensor/ndp"
	"github.com/launchtap/launchtap/sensor/netset"
)

// Where a destination name came from, in the order they are trusted: the
// DNS answer the host received, then what the session itself says.
const (
	srcNone    uint8 = iota
	srcDNS           // an answer the host received (dnstrack)
	srcSNI           // a TLS ClientHello's server_name
	srcQUIC          // the server_name of a QUIC client Initial's ClientHello
	srcHTTP          // an HTTP request's Host, or an absolute-URI request's host
	srcConnect       // the authority of an HTTP CONNECT
)

var sourceNames = [...]string{srcNone: "", srcDNS: "dns", srcSNI: "sni", srcQUIC: "quic", srcHTTP: "http", srcConnect: "connect"}

// NameSourceString is the alert's dst_name_source for a source code.
func nameSource(s uint8) string {
	if int(s) < len(sourceNames) {
		return sourceNames[s]
	}
	return ""
}

// NameStats count what the naming layer read and decided.
type NameStats struct {
	SNI, QUIC, HTTP, Connect uint64 // sessions named by each source
	Unnamed                  uint64 // sessions that waited for a name on the wire and found none

	HelloIncomplete    uint64 // ClientHellos whose name lies beyond the first two segments (keyed by address)
	HelloHeld          uint64 // first segments of ClientHellos held for the second (the name lies beyond the first)
	HelloJoined        uint64 // ClientHellos named from their first two segments joined
	HelloHoldEvictions uint64 // held first segments whose slot a newer hello took
	HelloMalformed     uint64
	QUICIncomplete     uint64 // QUIC Initials whose hello the first packets did not complete
	QUICMalformed      uint64 // undecryptable or malformed QUIC Initials (also non-Initial long headers)
	HTTPMalformed      uint64 // requests with a malformed request line, Host or CONNECT target

	ProxyRequests    uint64 // CONNECT and absolute-URI requests beaten as egress
	ProxyNotRequests uint64 // sessions to a proxy that sent no proxy request
	ProxyEgress      uint64 // sessions from a proxy's address (its clients' egress, not its own)
	ProxiesLearned   uint64 // recognised by the whole pipeline (not summed per worker)
	ProxiesRefused   uint64 // recognised beyond the bound of known proxies, not kept

	DoHSessions        uint64 // sessions to encrypted-DNS resolvers, not beacon destinations
	DoHHosts           uint64 // hosts in the DoH table now
	DoHHostEvictions   uint64
	PairMetaEvictions  uint64
	RouterAdverts      uint64
	RouterAdvertErrors uint64
	PrefixesLearned    uint64 // learned by the whole pipeline (not summed per worker)
	PrefixesIgnored    uint64 // RA prefixes not learned: not global unicast, or longer than /64 or shorter than /48
	PrefixesRefused    uint64 // learnable prefixes beyond netset.MaxLearned, not kept
	PrefixesFromMACs   uint64 // of PrefixesLearned, learned from a global address of an internal host's MAC
	ExternalHostWarns  uint64 // prefixes warned about: an internal host's MAC sent from them, learning off
	LearnMACEvictions  uint64 // MACs dropped from the table of internal hosts' MACs
}

// pairMeta is what an alert says about a pair beyond its key.
type pairMeta struct {
	source uint8
	via    netip.AddrPort // the explicit proxy, when the pair's beats are requests to one
}

// DoHHost is a host seen using an encrypted-DNS resolver: its lookups are a
// blind spot of the span.
type DoHHost struct {
	Addr     netip.Addr `json:"addr"`
	Provider string     `json:"provider"`
	Sessions uint64     `json:"sessions"`
	First    time.Time  `json:"first"`
	Last     time.Time  `json:"last"`
	saved    uint64     // sessions already handed to a Snapshot: each checkpoint adds only the new ones
}

// namer is a worker's naming state: caller-owned parser scratch and bounded
// tables.
type namer struct {
	quic    names.QUIC
	quicFor flow.Key // the session whose CRYPTO data quic holds
	ra      [8]ndp.Prefix
	hold    helloHold
	meta    *simplelru.LRU[beacon.PairKey, pairMeta]
	doh     *simplelru.LRU[netip.Addr, *DoHHost]
	c       NameStats
}

const maxDoHHosts = 4096

func (w *worker) newNamer() error {
	var err error
	n := &w.nm
	size := max(1024, w.cfg.Beacon.PerWorker(w.cfg.Workers).MaxPairs/4)
	if n.meta, err = simplelru.NewLRU[beacon.PairKey, pairMeta](size, func(beacon.PairKey, pairMeta) { n.c.PairMetaEvictions++ }); err != nil {
		return err
	}
	n.doh, err = simplelru.NewLRU[netip.Addr, *DoHHost](maxDoHHosts, func(netip.Addr, *DoHHost) { n.c.DoHHostEvictions++ })
	return err
}

// startSession decides how a new session beats: now, keyed by the DNS
// name (or the address), or once its first payload names it; or never.
func (w *worker) startSession(s *flow.Session) {
	if !s.ServerAddr.IsGlobalUnicast() {
		// Multicast and broadcast (mDNS announcements, DHCP, SSDP) reach
		// the local link, not a destination: a host re-announcing itself
		// as it changes address is no beacon.
		w.c.localLink++
		s.NoBeat = true
		return
	}
	px := w.cfg.proxies
	if px.isProxyAddr(s.ClientAddr) {
		w.nm.c.ProxyEgress++
		s.NoBeat = true
		return
	}
	if s.Key.Proto == decode.ProtoTCP && px.IsProxy(s.ServerAddr, s.Key.ServerPort) {
		s.Proxied, s.Pending, s.Watch = true, true, 1
		return
	}
	if s.Name != "" {
		s.NameSource = srcDNS
	}
	if provider, ok := doh.Session(s.Name, s.ServerAddr, s.Key.ServerPort); ok {
		w.dohSession(s, provider)
		return
	}
	if s.Name == "" {
		switch {
		case s.Key.Proto == decode.ProtoTCP:
			s.Pending, s.Watch = true, 1
			return
		case s.Key.Proto == decode.ProtoUDP && s.Key.ServerPort == 443:
			s.Pending, s.Watch = true, 2 // a large hello spans two Initials
			return
		}
	}
	w.fire(s, s.Start)
}

// Payload reads the name of a pending session from its first payload. When
// the server speaks first there is no name to wait for: the session beats
// now, keyed by what it has.
func (w *worker) Payload(s *flow.Session, p *decode.Packet, out bool) {
	if !s.Pending {
		return
	}
	if !out {
		switch {
		case s.Key.Proto != decode.ProtoTCP:
			// A QUIC server acknowledges the first Initial while the
			// client's second may still be on its way.
		case s.Proxied:
			w.nm.c.ProxyNotRequests++
			s.NoBeat, s.Pending, s.Watch = true, false, 0
		default:
			w.fire(s, s.Start)
		}
		return
	}
	if s.Proxied {
		w.proxyRequest(s, p)
		return
	}
	var (
		name []byte
		src  uint8
		err  error
	)
	switch s.Key.Proto {
	case decode.ProtoTCP:
		name, err = w.nm.hold.hello(s, p)
		src = srcSNI
		switch {
		case errors.Is(err, errHeld):
			s.Watch = 1 // the name is in the next segment
			return
		case errors.Is(err, names.ErrIncomplete):
			w.nm.c.HelloIncomplete++
		case errors.Is(err, names.ErrMalformed):
			w.nm.c.HelloMalformed++
		case errors.Is(err, names.ErrNotMine):
			var q names.Request
			q, err = names.ParseRequest(p.Payload)
			if err == nil && q.Kind != names.Origin {
				// A request to a proxy the sensor was not told of, outside
				// the internal networks: the same egress as a configured one.
				s.Proxied = true
				w.proxyRequest(s, p)
				return
			}
			name, src = q.Host, srcHTTP
			if errors.Is(err, names.ErrMalformed) {
				w.nm.c.HTTPMalformed++
			}
		}
	case decode.ProtoUDP:
		if w.nm.quicFor != s.Key {
			w.nm.quic.Reset()
			w.nm.quicFor = s.Key
		}
		name, err = w.nm.quic.Datagram(p.Payload)
		src = srcQUIC
		switch {
		case errors.Is(err, names.ErrIncomplete):
			if s.Watch > 0 {
				return // the next Initial may complete the hello
			}
			w.nm.c.QUICIncomplete++
		case errors.Is(err, names.ErrMalformed):
			w.nm.c.QUICMalformed++
		}
	}
	if err == nil && !isAddrLiteral(name) {
		w.named(s, lowerName(name), src)
		if s.NoBeat {
			return
		}
	}
	w.fire(s, s.Start)
}

// named gives a session the name its payload carried.
func (w *worker) named(s *flow.Session, name string, src uint8) {
	s.Name, s.NameSource = name, src
	switch src {
	case srcSNI:
		w.nm.c.SNI++
	case srcQUIC:
		w.nm.c.QUIC++
	case srcHTTP:
		w.nm.c.HTTP++
	case srcConnect:
		w.nm.c.Connect++
	}
	if provider, ok := doh.ByName(name); ok {
		w.dohSession(s, provider)
	}
}

// proxyRequest reads the request a client sent to an explicit proxy: a
// CONNECT or absolute-URI request is egress to the host it names, beating
// at the request's time.
func (w *worker) proxyRequest(s *flow.Session, p *decode.Packet) {
	s.Pending, s.Watch = false, 0
	q, err := names.ParseRequest(p.Payload)
	if err != nil || q.Kind == names.Origin {
		if errors.Is(err, names.ErrMalformed) {
			w.nm.c.HTTPMalformed++
		}
		w.nm.c.ProxyNotRequests++
		s.NoBeat = true
		return
	}
	w.nm.c.ProxyRequests++
	s.DestPort = q.Port
	if s.DestPort == 0 {
		s.DestPort = 80
	}
	src := srcHTTP
	if q.Kind == names.Connect {
		src = srcConnect
	}
	if a, err := netip.ParseAddr(string(q.Host)); err == nil {
		s.DestAddr = a.Unmap()
		s.NameSource = src
	} else {
		w.named(s, lowerName(q.Host), src)
		if s.NoBeat {
			return
		}
	}
	w.fire(s, p.TS)
}

// fire is a session's beat at ts, keyed by what is known of it now.
func (w *worker) fire(s *flow.Session, ts int64) {
	wasPending := s.Pending
	s.Pending, s.Watch = false, 0
	if s.NoBeat {
		return
	}
	switch {
	case wasPending && s.Name == "" && !s.Proxied:
		w.nm.c.Unnamed++
	case wasPending && s.Name != "":
		w.namedFromWire(s.ClientAddr)
	}
	k := w.pairKey(s, beacon.KindSession)
	if s.Name != "" && !s.Proxied {
		// Beats keyed by the address before the name was known join the name.
		for _, kind := range []beacon.Kind{beacon.KindSession, beacon.KindBurst} {
			from := beacon.PairKey{Host: sessionHost(s), DestIP: s.ServerAddr, Port: s.Key.ServerPort, Proto: s.Key.Proto, Kind: kind}
			to := k
			to.Kind = kind
			if _, ok := w.endedPairs[from]; ok {
				w.takeEnded() // the address pair's ended sessions are sized before it moves
			}
			if w.det.Rekey(from, to) {
				w.nm.meta.Remove(from)
			}
		}
	}
	w.noteMeta(k, s)
	dst := s.ServerAddr
	if s.Proxied {
		dst = s.DestAddr // the proxy is not where the beacon goes
	}
	w.beat(k, s.ClientAddr, dst, ts, s.ClientMAC, s.HasMAC)
}

// noteMeta records where a pair's name came from and the proxy it goes
// through. Pairs named by DNS with no proxy, the common case, are recorded
// only to overwrite an earlier source.
func (w *worker) noteMeta(k beacon.PairKey, s *flow.Session) {
	m := pairMeta{source: s.NameSource}
	if s.Proxied {
		m.via = netip.AddrPortFrom(s.ServerAddr, s.Key.ServerPort)
	}
	if m.source <= srcDNS && !m.via.IsValid() {
		if _, ok := w.nm.meta.Peek(k); !ok {
			return
		}
	}
	w.nm.meta.Add(k, m)
}

// meta returns what is known of a pair beyond its key.
func (w *worker) meta(k beacon.PairKey) pairMeta {
	if m, ok := w.nm.meta.Peek(k); ok {
		return m
	}
	if k.Dest != "" {
		return pairMeta{source: srcDNS}
	}
	return pairMeta{}
}

// dohSession marks a session to an encrypted-DNS resolver: not a beacon
// destination, and its host's lookups are invisible to the span.
func (w *worker) dohSession(s *flow.Session, provider string) {
	s.NoBeat, s.Pending, s.Watch = true, false, 0
	w.nm.c.DoHSessions++
	a := s.ClientAddr
	if h, ok := w.nm.doh.Get(a); ok {
		h.Sessions++
		h.Last = time.Unix(0, s.Start).UTC()
		return
	}
	t := time.Unix(0, s.Start).UTC()
	w.nm.doh.Add(a, &DoHHost{Addr: a, Provider: provider, Sessions: 1, First: t, Last: t})
	w.cfg.Log.Info("host resolves names over encrypted DNS: its lookups are invisible to the span",
		"host", a, "provider", provider, "resolver", s.ServerAddr, "port", s.Key.ServerPort)
}

// routerAdvert learns the global prefixes a router advertisement announces
// as internal (--learn-internal), and counts it.
func (w *worker) routerAdvert(p *decode.Packet) {
	w.nm.c.RouterAdverts++
	ignored, err := learnPrefixes(w.cfg, p, w.nm.ra[:0])
	if err != nil {
		w.nm.c.RouterAdvertErrors++
	}
	w.nm.c.PrefixesIgnored += uint64(ignored)
}

// learnPrefixes adds the global prefixes of the router advertisement p to
// the internal networks, logging each once. The replay reader calls it too,
// before it shards the packets that follow, so that a host's traffic is
// sharded by the new rule from the advertisement on (the worker that later
// handles the advertisement finds nothing new). buf is caller-owned scratch.
func learnPrefixes(cfg *Config, p *decode.Packet, buf []ndp.Prefix) (ignored int, err error) {
	if cfg.macs != nil && p.HasMAC {
		cfg.macs.router(p.SrcMAC) // its frames carry other hosts' addresses
	}
	return LearnRouterAdvert(cfg.Internal, p, buf, func(pf ndp.Prefix) {
		cfg.learnedAt.noteFrom(pf.Prefix, p.TS, LearnedFromRA)
		cfg.Log.Info("learned an internal IPv6 prefix from a router advertisement",
			"prefix", pf.Prefix, "router", p.Src, "router_mac", netMAC(p.SrcMAC), "autonomous", pf.Autonomous)
	})
}

// LearnRouterAdvert adds to set the global prefixes of the router
// advertisement p (IsRouterAdvert), calling learned once for each it adds,
// and returns how many it ignored. It is the one rule for what an
// advertisement may teach, used by replay, live capture and launchtap hosts.
// buf is caller-owned scratch.
func LearnRouterAdvert(set *netset.Set, p *decode.Packet, buf []ndp.Prefix, learned func(ndp.Prefix)) (ignored int, err error) {
	ps, err := ndp.RouterAdvert(p.Payload, buf)
	if err != nil {
		return 0, err
	}
	for _, pf := range ps {
		a := pf.Prefix.Addr()
		// Only global unicast /48../64 prefixes still valid: a forged
		// advertisement must not make a whole provider's space internal.
		if !a.IsGlobalUnicast() || a.IsPrivate() || pf.Prefix.Bits() < 48 || pf.Prefix.Bits() > 64 || pf.Valid == 0 {
			ignored++
			continue
		}
		if set.Learn(pf.Prefix) && learned != nil {
			learned(pf)
		}
	}
	return ignored, nil
}

// IsRouterAdvert is the cheap test of whether p is worth LearnRouterAdvert.
func IsRouterAdvert(p *decode.Packet) bool { return isRouterAdvert(p) }

func isRouterAdvert(p *decode.Packet) bool {
	return p.Proto == decode.ProtoICMPv6 && len(p.Payload) > 0 && p.Payload[0] == ndp.TypeRouterAdvert
}

// connectToInternal recognises an explicit proxy from a CONNECT request
// between two internal hosts that no configured proxy explains, and beats
// the request that taught it: its session began before the proxy was known,
// so the flow tracker did not follow it. In a sharded replay the reader has
// already learned the proxy from the same packet (recognizeProxy); the
// worker then finds the packet recorded as the proxy's first.
func (w *worker) connectToInternal(p *decode.Packet) {
	recognizeProxy(w.cfg, p)
	proxy := netip.AddrPortFrom(p.Dst, p.DstPort)
	if !w.cfg.proxies.taughtBy(proxy, p.Src, p.TS) {
		return
	}
	var s flow.Session
	s.ClientAddr, s.ServerAddr = p.Src, p.Dst
	s.ClientMAC, s.HasMAC = p.SrcMAC, p.HasMAC
	s.HostMAC, s.HostKnown = w.hostOf(p.Src).MAC, true
	s.Key = flow.Key{Client: p.Src.As16(), Server: p.Dst.As16(), ClientPort: p.SrcPort, ServerPort: p.DstPort, Proto: decode.ProtoTCP}
	s.Start = p.TS
	s.Proxied, s.Pending = true, true
	w.proxyRequest(&s, p)
}

// recognizeProxy learns an internal proxy from a CONNECT request to it.
func recognizeProxy(cfg *Config, p *decode.Packet) {
	if p.Proto != decode.ProtoTCP || len(p.Payload) < 8 || string(p.Payload[:8]) != "CONNECT " ||
		!cfg.Internal.Contains(p.Src) || !cfg.Internal.Contains(p.Dst) || cfg.proxies.IsProxy(p.Dst, p.DstPort) {
		return
	}
	q, err := names.ParseRequest(p.Payload)
	if err != nil || q.Kind != names.Connect {
		return
	}
	proxy := netip.AddrPortFrom(p.Dst, p.DstPort)
	if cfg.proxies.learn(proxy, p.Src, p.TS) {
		cfg.Log.Info("recognised an explicit proxy from a CONNECT request to an internal address",
			"proxy", proxy, "client", p.Src, "target", string(q.Host))
	}
}

func isAddrLiteral(b []byte) bool {
	for _, c := range b {
		if c == ':' {
			return true
		}
	}
	_, err := netip.ParseAddr(string(b))
	return err == nil
}

// lowerName is the name as pairs are keyed: lower case, no trailing dot.
func lowerName(b []byte) string {
	if n := len(b); n > 0 && b[n-1] == '.' {
		b = b[:n-1]
	}
	out := make([]byte, len(b))
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return string(out)
}

// proxySet is the explicit proxies: configured ones and those recognised
// from CONNECT traffic, shared by the workers. It is replaced whole and read
// with one atomic load, at session starts and for internal ↔ internal TCP
// packets (a short scan: at most maxProxies entries).
type proxySet struct {
	mu      sync.Mutex
	list    atomic.Pointer[[]Proxy]
	refused atomic.Uint64
}

// Proxy is an explicit web proxy the sensor knows.
type Proxy struct {
	Addr    netip.AddrPort `json:"addr"`
	Learned bool           `json:"learned"`         // recognised from CONNECT traffic, not configured
	Client  netip.Addr     `json:"client,omitzero"` // the first client seen using a learned proxy
	First   time.Time      `json:"first,omitzero"`  // when it was learned
}

const maxProxies = 64

func newProxySet(configured []netip.AddrPort) *proxySet {
	ps := &proxySet{}
	l := make([]Proxy, 0, len(configured))
	for _, a := range configured {
		l = append(l, Proxy{Addr: netip.AddrPortFrom(a.Addr().Unmap(), a.Port())})
	}
	ps.list.Store(&l)
	return ps
}

// IsProxy reports whether a:port is a known proxy.
func (ps *proxySet) IsProxy(a netip.Addr, port uint16) bool {
	if ps == nil {
		return false
	}
	for _, p := range *ps.list.Load() {
		if p.Addr.Port() == port && p.Addr.Addr() == a {
			return true
		}
	}
	return false
}

func (ps *proxySet) isProxyAddr(a netip.Addr) bool {
	if ps == nil {
		return false
	}
	for _, p := range *ps.list.Load() {
		if p.Addr.Addr() == a {
			return true
		}
	}
	return false
}

func (ps *proxySet) learn(a netip.AddrPort, client netip.Addr, ts int64) bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	cur := *ps.list.Load()
	for _, p := range cur {
		if p.Addr == a {
			return false
		}
	}
	if len(cur) >= maxProxies {
		ps.refused.Add(1)
		return false
	}
	next := append(append(make([]Proxy, 0, len(cur)+1), cur...), Proxy{Addr: a, Learned: true, Client: client, First: time.Unix(0, ts).UTC()})
	ps.list.Store(&next)
	return true
}

// taughtBy reports whether a is a learned proxy first seen in a request
// from client at ts.
func (ps *proxySet) taughtBy(a netip.AddrPort, client netip.Addr, ts int64) bool {
	for _, p := range *ps.list.Load() {
		if p.Addr == a {
			return p.Learned && p.Client == client && p.First.UnixNano() == ts
		}
	}
	return false
}

// Proxies lists the explicit proxies, configured then learned.
func (p *Pipeline) Proxies() []Proxy { return append([]Proxy(nil), *p.cfg.proxies.list.Load()...) }

// LearnedInternal lists the IPv6 prefixes learned from router advertisements
// and from global addresses of internal hosts' MACs (LearnedPrefixes says which).
func (p *Pipeline) LearnedInternal() []netip.Prefix {
	l, _ := p.cfg.Internal.Learned()
	return l
}

// DoHHosts lists the hosts seen using encrypted-DNS resolvers, by address.
// Call it only after Replay or Run has returned: it reads the workers' tables.
func (p *Pipeline) DoHHosts() []DoHHost {
	var out []DoHHost
	for _, w := range p.workers {
		for _, a := range w.nm.doh.Keys() {
			if h, ok := w.nm.doh.Peek(a); ok {
				out = append(out, *h)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr.Less(out[j].Addr) })
	return out
}

// errHeld: the first segment of a ClientHello is held for the next one.
var errHeld = errors.New("pipeline: first segment held")

// A ClientHello with post-quantum key shares is larger than a segment, and
// a client that orders its extensions at random may put server_name in the
// second segment. helloHold keeps such first segments, in a small
// direct-mapped table (a newer hello takes an older one's slot), until the
// next segment of the session arrives in order.
const (
	holdSlots = 32
	holdBytes = 4096
)

type helloHold struct {
	slots                 [holdSlots]heldHello
	seed                  maphash.Seed
	seeded                bool
	held, joined, evicted uint64
}

type heldHello struct {
	key  flow.Key
	next uint32 // sequence number of the segment that continues it
	n    int
	buf  [holdBytes]byte
	used bool
}

func (h *helloHold) slot(k flow.Key) *heldHello {
	if !h.seeded {
		h.seed, h.seeded = maphash.MakeSeed(), true
	}
	return &h.slots[maphash.Comparable(h.seed, k)%holdSlots]
}

// hello reads the ClientHello of session s from its first segment, or from
// its first two: errHeld means the first is held and the next is needed.
func (h *helloHold) hello(s *flow.Session, p *decode.Packet) ([]byte, error) {
	b := p.Payload
	if sl := h.slot(s.Key); sl.used && sl.key == s.Key {
		// The second segment, if it continues the first. Anything else (a
		// retransmitted first segment, a new session on the same ports, a
		// segment after a lost one) is read as a first segment.
		sl.used = false
		if p.Seq != sl.next {
			return h.first(s, p)
		}
		n := copy(sl.buf[sl.n:], b)
		name, err := names.HelloSNI(sl.buf[:sl.n+n])
		if err == nil {
			h.joined++
		}
		return name, err
	}
	return h.first(s, p)
}

// first reads the first segment of a session's ClientHello, holding it
// when the name is beyond it.
func (h *helloHold) first(s *flow.Session, p *decode.Packet) ([]byte, error) {
	b := p.Payload
	name, err := names.HelloSNI(b)
	if !errors.Is(err, names.ErrIncomplete) || len(b) < 5 || uint32(len(b)) != p.PayloadLen || len(b) >= holdBytes ||
		5+(int(b[3])<<8|int(b[4])) <= len(b) {
		return name, err
	}
	sl := h.slot(s.Key)
	if sl.used {
		h.evicted++
	}
	sl.key, sl.next, sl.n, sl.used = s.Key, p.Seq+uint32(len(b)), copy(sl.buf[:], b), true
	h.held++
	return nil, errHeld
}

// helloFollow lets the sharded replay reader keep the segment that
// continues a ClientHello whose first segment did not hold all of it: the
// reader keeps no other bulk payload, and the worker's helloHold needs those
// bytes. A 256-slot direct-mapped table by ports; a newer first segment
// takes an older one's slot. While no continuation is awaited the cost per
// TCP packet is one compare.
type helloFollow struct {
	slots [256]followSlot
	n     int // slots in use
}

type followSlot struct {
	src, dst     netip.Addr
	sport, dport uint16
	seq          uint32
	used         bool
}

func followIndex(p *decode.Packet) int {
	return int((uint32(p.SrcPort)*2654435761)>>24^uint32(p.DstPort)) & 255
}

// keep returns how many payload bytes of p the reader keeps, given that
// keptPayload said kept.
func (f *helloFollow) keep(p *decode.Packet, kept int) int {
	if p.Proto != decode.ProtoTCP || len(p.Payload) == 0 {
		return kept
	}
	b := p.Payload
	if kept > 0 {
		if len(b) > 5 && b[0] == 22 && b[5] == 1 && uint32(len(b)) == p.PayloadLen && 5+(int(b[3])<<8|int(b[4])) > len(b) {
			sl := &f.slots[followIndex(p)]
			if !sl.used {
				f.n++
			}
			*sl = followSlot{src: p.Src, dst: p.Dst, sport: p.SrcPort, dport: p.DstPort, seq: p.Seq + uint32(len(b)), used: true}
		}
		return kept
	}
	if f.n == 0 {
		return 0
	}
	sl := &f.slots[followIndex(p)]
	if sl.used && sl.seq == p.Seq && sl.sport == p.SrcPort && sl.dport == p.DstPort && sl.src == p.Src && sl.dst == p.Dst {
		sl.used = false
		f.n--
		return min(len(b), holdBytes)
	}
	return 0
}
