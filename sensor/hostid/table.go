// Package hostid identifies the operating system of internal hosts from
// their traffic — TCP SYN fingerprints (p0f v3 signature format), DHCP and
// DHCPv6 requests, Bonjour/mDNS announcements, OS-specific DNS names and
// cleartext HTTP User-Agents — and keeps a bounded host table with the
// evidence, so alerts can say whether they come from a Mac and how sure the
// sensor is.
//
// A Table is owned by one pipeline worker (no locks); workers are sharded by
// host address. Observe is called for every decoded packet and returns at
// once for packets that carry no signal.
package hostid

import (
	"fmt"
	"net/netip"
	"strconv"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/launchtap/launchtap/sensor/decode"
	hostkey "github.com/launchtap/launchtap/sensor/host"
	"github.com/launchtap/launchtap/sensor/hostid/dhcp"
	"github.com/launchtap/launchtap/sensor/hostid/httpua"
	"github.com/launchtap/launchtap/sensor/hostid/mdns"
	"github.com/launchtap/launchtap/sensor/hostid/p0f"
)

// PlatformLookup is the authoritative inventory (MDM or file), which names
// the platform in the same vocabulary as the verdict (ParsePlatform).
type PlatformLookup interface {
	PlatformLookup(ip netip.Addr, mac [6]byte) (platform Platform, ok bool)
}

const (
	ipHostIdle  = 4  // an address-keyed host idle this many bind TTLs starts over
	ringSize    = 8  // recent addresses kept per MAC host
	maxEvidence = 16 // evidence entries kept per host
	maxHostname = 128
)

// hostKey is a MAC (ip zero) or, for hosts seen only behind a router or
// without Ethernet, an IP address (mac zero).
type hostKey struct {
	mac [6]byte
	ip  netip.Addr
}

type ipSeen struct {
	addr netip.Addr
	last int64
}

type evidence struct {
	key         uint32 // kind<<24 | id: identical evidence is counted, not repeated
	kind        kind
	claim       claim
	weight      float64
	text        string
	count       uint32
	first, last int64
}

type host struct {
	key         hostKey
	ips         [ringSize]ipSeen
	router      bool
	first, last int64
	hostname    string
	hostPrio    uint8
	ev          []evidence
	lastSYN     uint64 // fingerprint key of the last SYN, to skip re-matching
	lastSYNEv   uint32 // its evidence key
	signals     [numKinds]uint32
}

type binding struct {
	mac   [6]byte
	until int64 // Unix ns
	dhcp  bool
}

type staticNet struct {
	prefix netip.Prefix
	os     Platform
}

// Stats are the table's counters.
type Stats struct {
	Hosts            int    `json:"hosts"`
	Evictions        uint64 `json:"evictions"`
	Bindings         int    `json:"bindings"`
	BindingEvictions uint64 `json:"binding_evictions"`
	Routers          uint64 `json:"routers"` // MACs demoted to routers
	Churn            uint64 `json:"churn"`   // addresses that moved to another MAC
	SYNs             uint64 `json:"syns"`
	SYNUnmatched     uint64 `json:"syns_unmatched"`
	DHCP             uint64 `json:"dhcp"`
	DHCPErrors       uint64 `json:"dhcp_errors"`
	DHCPv6           uint64 `json:"dhcpv6"`
	DHCPv6Errors     uint64 `json:"dhcpv6_errors"`
	MDNS             uint64 `json:"mdns"`
	MDNSErrors       uint64 `json:"mdns_errors"`
	MDNSProxied      uint64 `json:"mdns_proxied"` // records about another host (sleep proxy), ignored
	HTTPUserAgents   uint64 `json:"http_user_agents"`
	DNSNames         uint64 `json:"dns_names"`
}

// Table is the host table of one pipeline worker. It is not safe for
// concurrent use.
type Table struct {
	cfg      Config
	db       *p0f.DB
	hosts    genLRU[hostKey, *host]
	binds    genLRU[netip.Addr, binding]
	static   []staticNet
	platform PlatformLookup
	bindTTL  int64
	now      int64
	stats    Stats

	// gen counts the calls that reorder or change hosts or binds (their
	// Get, Add and Remove bump it); recent is valid while it is unchanged.
	gen    uint64
	recent recentSender

	// Scratch space reused across packets so parsing does not allocate.
	syn   p0f.SYN
	d4    dhcp.V4
	d6    dhcp.V6
	mdnsI mdns.Info
}

// NewTable builds a table. It loads cfg.P0fDB, or the embedded database.
func NewTable(cfg Config) (*Table, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	t := &Table{cfg: c, bindTTL: int64(c.BindTTL), platform: c.Platform}
	if c.P0fDB != "" {
		t.db, err = p0f.Load(c.P0fDB)
	} else {
		t.db, err = p0f.Default()
	}
	if err != nil {
		return nil, fmt.Errorf("hostid: %w", err)
	}
	t.hosts.gen, t.binds.gen = &t.gen, &t.gen
	if t.hosts.LRU, err = simplelru.NewLRU[hostKey, *host](c.MaxHosts, nil); err != nil {
		return nil, fmt.Errorf("hostid: host table: %w", err)
	}
	if t.binds.LRU, err = simplelru.NewLRU[netip.Addr, binding](c.MaxHosts, nil); err != nil {
		return nil, fmt.Errorf("hostid: binding table: %w", err)
	}
	if len(c.MacOS) > 0 {
		if err := t.SetStatic(c.MacOS, MacOS); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// SetStatic declares that hosts in prefixes run os (a family name). Later
// calls add to earlier ones; the most specific prefix wins.
func (t *Table) SetStatic(prefixes []netip.Prefix, os Platform) error {
	switch os {
	case MacOS, IOS, Windows, Linux, Other:
	default:
		return fmt.Errorf("hostid: static OS %q is not one of macos, ios, windows, linux, other", os)
	}
	for _, p := range prefixes {
		if !p.IsValid() {
			return fmt.Errorf("hostid: invalid static prefix %v", p)
		}
		t.static = append(t.static, staticNet{p.Masked(), os})
	}
	return nil
}

// SetPlatformLookup installs the authoritative inventory consulted by Lookup.
func (t *Table) SetPlatformLookup(p PlatformLookup) { t.platform = p }

// Stats returns the counters.
func (t *Table) Stats() Stats {
	s := t.stats
	s.Hosts, s.Bindings = t.hosts.Len(), t.binds.Len()
	return s
}

// Observe takes every decoded packet. Packets that carry no OS signal cost
// a few comparisons and never allocate.
func (t *Table) Observe(p *decode.Packet) {
	if p.TS > t.now {
		t.now = p.TS
	}
	switch p.Proto {
	case decode.ProtoTCP:
		f := p.TCPFlags & (decode.TCPSyn | decode.TCPAck | decode.TCPRst)
		if f == decode.TCPSyn {
			t.observeSYN(p)
			return
		}
		if f == decode.TCPAck && len(p.Payload) > 16 && (p.DstPort == 80 || p.DstPort == 8080) && httpua.IsRequest(p.Payload) {
			t.observeHTTP(p)
		}
	case decode.ProtoUDP:
		switch {
		case p.DstPort == dhcp.ServerPort || p.DstPort == dhcp.ClientPort:
			t.observeDHCP(p)
		case p.DstPort == dhcp.Server6Port:
			t.observeDHCP6(p)
		case p.SrcPort == mdns.Port && p.DstPort == mdns.Port:
			t.observeMDNS(p)
		}
	}
}

// internal reports whether src is a host the table tracks.
func (t *Table) internal(a netip.Addr) bool {
	if !a.IsValid() || a.IsUnspecified() || a.IsMulticast() {
		return false
	}
	if a.IsLinkLocalUnicast() {
		return true
	}
	if t.cfg.InternalSet != nil {
		return t.cfg.InternalSet.Contains(a)
	}
	if len(t.cfg.Internal) == 0 {
		return true
	}
	for _, p := range t.cfg.Internal {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func usableMAC(m [6]byte) bool { return m != [6]byte{} && m[0]&1 == 0 }

// macHost returns the host keyed by mac, creating it.
func (t *Table) macHost(mac [6]byte, ts int64) *host {
	k := hostKey{mac: mac}
	if h, ok := t.hosts.Get(k); ok {
		h.touch(ts)
		return h
	}
	h := &host{key: k, first: ts, last: ts}
	if t.hosts.Add(k, h) {
		t.stats.Evictions++
	}
	return h
}

// ipHost returns the host keyed by address a, creating it.
func (t *Table) ipHost(a netip.Addr, ts int64) *host {
	k := hostKey{ip: a}
	if h, ok := t.hosts.Get(k); ok {
		if ts-h.last > ipHostIdle*t.bindTTL {
			// Idle long enough for the address to have been reassigned
			// unseen (its DHCP may be out of view): start over.
			*h = host{key: k, first: ts, last: ts}
			h.ips[0] = ipSeen{a, ts}
			return h
		}
		h.touch(ts)
		return h
	}
	h := &host{key: k, first: ts, last: ts}
	h.ips[0] = ipSeen{a, ts}
	if t.hosts.Add(k, h) {
		t.stats.Evictions++
	}
	return h
}

func (h *host) touch(ts int64) {
	if ts > h.last {
		h.last = ts
	}
	if ts < h.first {
		h.first = ts
	}
}

// hostFor picks the host a signal sent by src in a frame from mac belongs
// to. routed says the packet crossed a router (its TTL is below the initial
// value), so the frame's MAC is the router's, not the sender's.
func (t *Table) hostFor(src netip.Addr, mac [6]byte, hasMAC, routed bool, ts int64) *host {
	if hasMAC && !routed && usableMAC(mac) {
		if h := t.sameSender(src, mac, ts); h != nil {
			return h
		}
		h := t.macHost(mac, ts)
		if !h.router && !t.noteIP(h, src, ts) {
			t.bind(src, mac, ts+t.bindTTL, false)
			t.remember(src, mac, h)
			return h
		}
	}
	if b, ok := t.binds.Get(src); ok && b.until >= ts {
		if h, ok := t.hosts.Get(hostKey{mac: b.mac}); ok && !h.router {
			h.touch(ts)
			return h
		}
	}
	return t.ipHost(src, ts)
}

// genLRU is an LRU whose calls that may reorder or change it (Get, Add,
// Remove) count in gen, so sameSender knows when its shortcut still holds
// whatever code used the table in between.
type genLRU[K comparable, V any] struct {
	*simplelru.LRU[K, V]
	gen *uint64
}

func (l genLRU[K, V]) Get(k K) (V, bool) {
	*l.gen++
	return l.LRU.Get(k)
}

func (l genLRU[K, V]) Add(k K, v V) bool {
	*l.gen++
	return l.LRU.Add(k, v)
}

func (l genLRU[K, V]) Remove(k K) bool {
	*l.gen++
	return l.LRU.Remove(k)
}

// recentSender is the host the latest signal from a MAC with an address
// went to, and the binding of that address then.
type recentSender struct {
	src   netip.Addr
	mac   [6]byte
	h     *host
	gen   uint64
	until int64
}

// remember notes that src in frames from mac is h, after hostFor's MAC path
// left h at the front of hosts and bound src to mac.
func (t *Table) remember(src netip.Addr, mac [6]byte, h *host) {
	b, ok := t.binds.Peek(src)
	if !ok || b.mac != mac || b.dhcp {
		t.recent.h = nil
		return
	}
	t.recent = recentSender{src: src, mac: mac, h: h, gen: t.gen, until: b.until}
}

// sameSender is hostFor's MAC path for the sender of the previous signal
// when nothing reordered or changed the tables since: a scan's SYNs all come
// from one host. macHost would find h already at the front, noteIP would
// find src among its addresses and bind would find the binding fresh, so
// only their updates of times are left to do. It returns nil when any of
// that does not hold.
func (t *Table) sameSender(src netip.Addr, mac [6]byte, ts int64) *host {
	r := &t.recent
	if r.h == nil || r.gen != t.gen || r.src != src || r.mac != mac || r.h.router ||
		ts+t.bindTTL-r.until >= t.bindTTL/16 {
		return nil
	}
	h := r.h
	for i := range h.ips {
		if h.ips[i].addr == src {
			h.touch(ts)
			h.ips[i].last = ts
			return h
		}
	}
	return nil
}

// noteIP records that h sent from a, and reports whether that made h a
// router: more distinct recent IPv4 addresses (or IPv6 /64s) than any host
// uses means the MAC forwards other hosts' traffic.
func (t *Table) noteIP(h *host, a netip.Addr, ts int64) (router bool) {
	if !a.IsValid() || a.IsUnspecified() {
		return false
	}
	oldest := 0
	found := false
	for i := range h.ips {
		if h.ips[i].addr == a {
			h.ips[i].last = ts
			found = true
			break
		}
		if h.ips[i].last < h.ips[oldest].last {
			oldest = i
		}
	}
	if found {
		return false
	}
	h.ips[oldest] = ipSeen{a, ts}
	v4, n6 := hostkey.RecentAddrs(len(h.ips), func(i int) (netip.Addr, int64) { return h.ips[i].addr, h.ips[i].last }, ts, t.bindTTL)
	if v4 <= t.cfg.RouterIPs && n6 <= t.cfg.RouterIPs {
		return false
	}
	h.router = true
	h.ev, h.hostname, h.hostPrio = nil, "", 0
	t.stats.Routers++
	return true
}

// bind records that address a belongs to mac until the given time. When the
// previous binding named another MAC, the address changed hands (DHCP churn,
// a private Wi-Fi address): whatever was learned about it without a MAC is
// dropped, so one host's evidence is not carried to another.
func (t *Table) bind(a netip.Addr, mac [6]byte, until int64, fromDHCP bool) {
	if !a.IsValid() || a.IsUnspecified() {
		return
	}
	if b, ok := t.binds.Peek(a); ok {
		if b.mac == mac && b.dhcp == fromDHCP && until-b.until < t.bindTTL/16 {
			return // fresh enough: skip the LRU update on every SYN
		}
		if b.mac != mac {
			t.stats.Churn++
			t.hosts.Remove(hostKey{ip: a})
			if old, ok := t.hosts.Peek(hostKey{mac: b.mac}); ok {
				for i := range old.ips {
					if old.ips[i].addr == a {
						old.ips[i] = ipSeen{}
					}
				}
			}
		} else if b.mac == mac && b.dhcp && !fromDHCP && b.until > until {
			until, fromDHCP = b.until, true // traffic does not shorten a lease
		}
	}
	if t.binds.Add(a, binding{mac: mac, until: until, dhcp: fromDHCP}) {
		t.stats.BindingEvictions++
	}
}

func (t *Table) routedHint(src netip.Addr) bool {
	return t.hosts.Contains(hostKey{ip: src})
}

func (h *host) find(key uint32) int {
	for i := range h.ev {
		if h.ev[i].key == key {
			return i
		}
	}
	return -1
}

// add records evidence, or counts it again when already known. text is
// built by the caller only when find says the key is new.
func (h *host) add(e evidence) {
	if i := h.find(e.key); i >= 0 {
		h.bump(i, e.last)
		return
	}
	e.count, e.first = 1, e.last
	if len(h.ev) < maxEvidence {
		h.ev = append(h.ev, e)
		return
	}
	// Full: replace the weakest, oldest entry if the new one is at least as strong.
	w := 0
	for i := range h.ev {
		if h.ev[i].weight < h.ev[w].weight || h.ev[i].weight == h.ev[w].weight && h.ev[i].last < h.ev[w].last {
			w = i
		}
	}
	if e.weight >= h.ev[w].weight {
		h.ev[w] = e
	}
}

func (h *host) bump(i int, ts int64) {
	h.ev[i].count++
	if ts > h.ev[i].last {
		h.ev[i].last = ts
	}
}

// Hostname sources, in rising priority.
const (
	prioDHCP6 = 1 + iota
	prioDHCP
	prioMDNS
)

func (h *host) setHostname(name string, prio uint8) {
	if prio < h.hostPrio || name == "" {
		return
	}
	if len(name) > maxHostname {
		name = name[:maxHostname]
	}
	h.hostname, h.hostPrio = name, prio
}

func evKey(k kind, id uint32) uint32 { return uint32(k)<<24 | id&0xffffff }

func (t *Table) observeSYN(p *decode.Packet) {
	if !t.internal(p.Src) || !p0f.FromPacket(p, &t.syn) {
		return
	}
	t.stats.SYNs++
	h := t.hostFor(p.Src, p.SrcMAC, p.HasMAC, p0f.GuessDist(p.TTL) > 0, p.TS)
	h.signals[kindSYN]++
	fp := t.syn.Key()
	if fp == h.lastSYN {
		if i := h.find(h.lastSYNEv); i >= 0 {
			h.bump(i, p.TS)
			return
		}
	}
	m, ok := t.db.Match(&t.syn)
	key := evKey(kindSYN, 0xffffff)
	if ok {
		key = evKey(kindSYN, uint32(m.Sig.Line))
	} else {
		t.stats.SYNUnmatched++
	}
	h.lastSYN, h.lastSYNEv = fp, key
	if i := h.find(key); i >= 0 {
		h.bump(i, p.TS)
		return
	}
	e := evidence{key: key, kind: kindSYN, last: p.TS}
	if !ok {
		e.text = "TCP SYN not in the signature database: " + t.syn.Raw()
		h.add(e)
		return
	}
	e.claim = familyOfLabel(m.Sig.Label)
	how := "matches"
	switch {
	case m.Fuzzy:
		how, e.weight = "fuzzily matches", wSYNFuzzy
	case m.Sig.Label.Generic:
		how, e.weight = "matches generic", wSYNGeneric
	default:
		e.weight = wSYNExact
	}
	if e.claim == claimNone {
		e.weight = 0
	}
	e.text = fmt.Sprintf("TCP SYN %s '%s' (ttl %d, %d hops, win %d, ws %d%s)", how, m.Sig.Label,
		p.TTL, m.Dist, p.Window, t.syn.Scale, synExtras(&t.syn, p))
	h.add(e)
}

func synExtras(s *p0f.SYN, p *decode.Packet) string {
	var x string
	if s.Quirks&p0f.QECN != 0 {
		x += ", ECN"
	}
	if !p.IPv6 && p.IPID == 0 {
		x += ", IP ID 0"
	}
	if p.IPv6 {
		x += ", IPv6"
	}
	return x
}

func (t *Table) observeHTTP(p *decode.Packet) {
	if !t.internal(p.Src) {
		return
	}
	ua := httpua.UserAgent(p.Payload)
	if ua == nil {
		return
	}
	t.stats.HTTPUserAgents++
	g := httpua.Classify(ua)
	c := claimFromString(g.OS)
	if c == claimNone {
		return
	}
	h := t.hostFor(p.Src, p.SrcMAC, p.HasMAC, p0f.GuessDist(p.TTL) > 0, p.TS)
	h.signals[kindHTTP]++
	key := evKey(kindHTTP, uint32(c))
	if i := h.find(key); i >= 0 {
		h.bump(i, p.TS)
		return
	}
	if len(ua) > 120 {
		ua = ua[:120]
	}
	h.add(evidence{key: key, kind: kindHTTP, claim: c, weight: wHTTPUA, last: p.TS,
		text: fmt.Sprintf("HTTP User-Agent %q (%s)", ua, g.Reason)})
}

func (t *Table) observeDHCP(p *decode.Packet) {
	if err := dhcp.ParseV4(p.Payload, &t.d4); err != nil {
		t.stats.DHCPErrors++
		return
	}
	t.stats.DHCP++
	m := &t.d4
	if (!m.HasCHAd || !usableMAC(m.CHAddr)) && len(m.ClientID) == 7 && m.ClientID[0] == 1 && usableMAC([6]byte(m.ClientID[1:])) {
		// No usable chaddr, but option 61 carries the Ethernet address.
		m.CHAddr, m.HasCHAd = [6]byte(m.ClientID[1:]), true
	}
	if !m.HasCHAd || !usableMAC(m.CHAddr) {
		return
	}
	switch {
	case m.Op == 1:
		h := t.macHost(m.CHAddr, p.TS)
		if h.router {
			return
		}
		h.signals[kindDHCP]++
		if m.CIAddr.IsValid() && !m.CIAddr.IsUnspecified() && !t.noteIP(h, m.CIAddr, p.TS) {
			t.bind(m.CIAddr, m.CHAddr, p.TS+t.bindTTL, false)
		}
		if g := dhcp.ClassifyV4(m); g.OS != "" {
			c := claimFromString(g.OS)
			key := evKey(kindDHCP, 0x100|uint32(c))
			if i := h.find(key); i >= 0 {
				h.bump(i, p.TS)
			} else {
				w := wDHCPOther
				switch c {
				case claimMacOS, claimIOS:
					w = wDHCPApple
				case claimDarwin:
					w = wDHCPDarwin
				}
				h.add(evidence{key: key, kind: kindDHCP, claim: c, weight: w, last: p.TS, text: "DHCP " + g.Reason})
			}
		} else if len(m.PRL) > 0 {
			key := evKey(kindDHCP, 0x400)
			if h.find(key) < 0 {
				h.add(evidence{key: key, kind: kindDHCP, last: p.TS, text: "DHCP option 55 " + dhcp.PRLString(m.PRL) + " (no known client)"})
			}
		}
		if len(m.ClientID) > 0 && m.ClientID[0] == 0xff {
			// RFC 4361 IAID+DUID (systemd-networkd, dhcpcd); Apple and
			// Windows clients send their hardware address (type 1).
			key := evKey(kindDHCP, 0x500)
			if i := h.find(key); i >= 0 {
				h.bump(i, p.TS)
			} else {
				h.add(evidence{key: key, kind: kindDHCP, claim: claimLinux, weight: wDHCPClientID, last: p.TS,
					text: "DHCP option 61 client id is an RFC 4361 IAID+DUID (systemd-networkd, dhcpcd; Apple and Windows send their hardware address)"})
			}
		}
		if len(m.Hostname) > 0 && string(m.Hostname) != h.hostname {
			name := string(m.Hostname)
			h.setHostname(name, prioDHCP)
			if c, why := hostnameClaim(name); c != claimNone {
				h.add(evidence{key: evKey(kindDHCP, 0x200|uint32(c)), kind: kindDHCP, claim: c, weight: wHostname,
					last: p.TS, text: fmt.Sprintf("DHCP hostname %q looks like a %s name", name, why)})
			}
		}
	case m.Op == 2 && m.Type == dhcp.Ack && m.YIAddr.IsValid() && !m.YIAddr.IsUnspecified():
		lease := t.bindTTL
		if m.HasLease && m.LeaseSecs != 0xffffffff {
			lease = int64(m.LeaseSecs) * 1e9
		}
		h := t.macHost(m.CHAddr, p.TS)
		if !h.router {
			t.noteIP(h, m.YIAddr, p.TS)
		}
		t.bind(m.YIAddr, m.CHAddr, p.TS+lease, true)
	}
}

func (t *Table) observeDHCP6(p *decode.Packet) {
	if err := dhcp.ParseV6(p.Payload, &t.d6); err != nil {
		t.stats.DHCPv6Errors++
		return
	}
	t.stats.DHCPv6++
	m := &t.d6
	switch m.Type {
	case dhcp.Advertise6, dhcp.Reply6:
		return // server messages describe the server's offer, not the client
	}
	var h *host
	if p.SrcPort == dhcp.Client6Port && p.Src.IsLinkLocalUnicast() {
		h = t.hostFor(p.Src, p.SrcMAC, p.HasMAC, false, p.TS)
	} else if mac, ok := dhcp.DUIDMAC(m.ClientDUID); ok && usableMAC(mac) {
		h = t.macHost(mac, p.TS) // relayed: the DUID's link-layer address
	} else {
		return
	}
	if h.router {
		return
	}
	h.signals[kindDHCP6]++
	if len(m.FQDN) > 0 {
		if name := dhcp.FQDNString(m.FQDN); name != "" && name != h.hostname {
			h.setHostname(name, prioDHCP6)
		}
	}
	if g := dhcp.ClassifyV6(m); g.OS != "" {
		c := claimFromString(g.OS)
		key := evKey(kindDHCP6, uint32(c))
		if h.find(key) < 0 {
			h.add(evidence{key: key, kind: kindDHCP6, claim: c, weight: wDHCPOther, last: p.TS, text: g.Reason})
		}
	}
	if len(m.ORO) > 0 {
		key := evKey(kindDHCP6, 0x100)
		if i := h.find(key); i >= 0 {
			h.bump(i, p.TS)
		} else {
			h.add(evidence{key: key, kind: kindDHCP6, last: p.TS, text: "DHCPv6 option request " + dhcp.OROString(m.ORO)})
		}
	}
}

func (t *Table) observeMDNS(p *decode.Packet) {
	if !t.internal(p.Src) {
		return
	}
	info := &t.mdnsI
	if err := mdns.Parse(p.Payload, p.Src, info); err != nil {
		t.stats.MDNSErrors++
		return
	}
	t.stats.MDNS++
	if !info.Response {
		return
	}
	if info.OtherAddr && !info.SelfAddr {
		t.stats.MDNSProxied++ // a sleep proxy speaking for another host
		return
	}
	h := t.hostFor(p.Src, p.SrcMAC, p.HasMAC, false, p.TS)
	if h.router {
		return
	}
	h.signals[kindMDNS]++
	if info.Hostname != "" {
		h.setHostname(info.Hostname, prioMDNS)
	}
	if info.Model != "" {
		var (
			c    claim
			w    = wMDNSModel
			what string
		)
		switch mdns.ModelKind(info.Model) {
		case mdns.KindMac:
			c, what = claimMacOS, "a Mac"
		case mdns.KindIOS:
			c, what = claimIOS, "an iPhone/iPad"
		case mdns.KindAppleOth:
			c, what, w = claimOther, "an Apple device that is not a Mac or iPhone", 2.0
		case mdns.KindSamba:
			c, what, w = claimOther, "a Samba server imitating a Mac (spoofable, not macOS evidence)", wMDNSSamba
		default:
			c, what, w = claimNone, "an unknown model", 0
		}
		key := evKey(kindMDNS, 0x100|uint32(c))
		if i := h.find(key); i >= 0 {
			h.bump(i, p.TS)
		} else {
			h.add(evidence{key: key, kind: kindMDNS, claim: c, weight: w, last: p.TS,
				text: fmt.Sprintf("mDNS _device-info model=%s: %s", info.Model, what)})
		}
	}
	if info.OSXVers > 0 {
		key := evKey(kindMDNS, 0x200)
		if h.find(key) < 0 {
			h.add(evidence{key: key, kind: kindMDNS, claim: claimMacOS, weight: wMDNSOSX, last: p.TS,
				text: "mDNS osxvers=" + strconv.Itoa(info.OSXVers) + " (macOS " + mdns.MacOSVersion(info.OSXVers) + ")"})
		}
	}
	if info.CompanionLink {
		key := evKey(kindMDNS, 0x300)
		if i := h.find(key); i >= 0 {
			h.bump(i, p.TS)
		} else {
			h.add(evidence{key: key, kind: kindMDNS, claim: claimDarwin, weight: wMDNSComp, last: p.TS,
				text: "mDNS advertises _companion-link._tcp (Apple device)"})
		}
	}
}

// ObserveDNSQuery takes a DNS query name asked by src (sent in a frame from
// mac when hasMAC), at capture time ts (Unix ns). Names that say nothing
// about the OS return at once without allocating.
func (t *Table) ObserveDNSQuery(src netip.Addr, mac [6]byte, hasMAC bool, name string, ts int64) {
	i := matchDNS(name)
	if i < 0 || dnsRules[i].claim == claimNone || !t.internal(src) {
		return
	}
	if ts > t.now {
		t.now = ts
	}
	t.stats.DNSNames++
	r := &dnsRules[i]
	h := t.hostFor(src, mac, hasMAC, t.routedHint(src), ts)
	if h.router {
		return
	}
	h.signals[kindDNS]++
	key := evKey(kindDNS, uint32(i))
	if j := h.find(key); j >= 0 {
		h.bump(j, ts)
		return
	}
	h.add(evidence{key: key, kind: kindDNS, claim: r.claim, weight: r.weight, last: ts,
		text: fmt.Sprintf("DNS query %s (%s)", name, r.why)})
}
