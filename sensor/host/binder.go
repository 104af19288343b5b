package host

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/launchtap/launchtap/sensor/decode"
	"github.com/launchtap/launchtap/sensor/hostid/dhcp"
	"github.com/launchtap/launchtap/sensor/hostid/mdns"
	"github.com/launchtap/launchtap/sensor/hostid/p0f"
	"github.com/launchtap/launchtap/sensor/ndp"
	"github.com/launchtap/launchtap/sensor/slru"
)

// Networks says which addresses are internal hosts'.
type Networks interface {
	Contains(netip.Addr) bool
}

// Config bounds a Binder and sets its rules.
type Config struct {
	// BindTTL (--host-bind-ttl) is the window of the router rule, how
	// often a MAC's name or DUID announcements are read, and how long a
	// host's member MAC must be quiet to give its place up. Bindings do not
	// expire by it: they last until moved, released or evicted.
	BindTTL time.Duration
	// RouterIPs: a MAC sending from more distinct recent IPv4 addresses (or
	// IPv6 /64s) than this forwards other hosts' traffic.
	RouterIPs int
	// MaxBindings bounds address bindings, MaxMACs the MACs known (with
	// their joins), MaxJoinKeys the hostnames and DUIDs remembered for
	// joining.
	MaxBindings, MaxMACs, MaxJoinKeys int
	// MaxMACsPerHost bounds how many MACs one host may gather by joins
	// (Ethernet, Wi-Fi, a dock, a rotated private Wi-Fi address).
	MaxMACsPerHost int
	// Internal are the internal networks; link-local addresses are always
	// a host's own.
	Internal Networks
	// Notify, when set, is told every change of what an address or a MAC
	// resolves to, so that live capture can give the kernel's fanout
	// program the same answers (sensor/shard).
	Notify func(Change)
	// ShareKeys, with Notify, makes the binder tell each join key a MAC
	// announces (Change.Key) instead of acting on it, and act when the
	// change comes back through Apply: live capture's workers each hear
	// some announcements, and two MACs announcing one hostname on two
	// workers must still join, the same way on every worker.
	ShareKeys bool
}

// Change is a change of what Resolve answers for Addr, or of the host a
// MAC belongs to (Addr invalid): Host is the new answer; Gone says there is
// no entry any more (an address is its own host again, a MAC its own). For
// an address, MAC is the MAC it is (or was) bound to. Another Binder takes
// a Change with Apply.
type Change struct {
	Addr netip.Addr
	MAC  [6]byte
	Host Key
	Gone bool
	// Key, when set, is a join key (a hostname, a DHCPv6 DUID) that MAC
	// announced (Config.ShareKeys): no change of what anything resolves
	// to yet.
	Key string
	// Router says MAC was found forwarding other hosts' traffic: every
	// address bound to it is its own host from now on (the changes of the
	// addresses the finder knew follow); NotRouter that it is a host again
	// (its addresses aged below --router-ips).
	Router, NotRouter bool
	// TS is when a join key was announced (Key), for the name's
	// freshness, or when a join was made (Host another MAC's).
	TS int64
}

// Defaults of Config.
const (
	DefaultBindTTL        = 30 * time.Minute
	DefaultRouterIPs      = 4
	DefaultMaxBindings    = 1 << 16
	DefaultMaxMACs        = 1 << 16
	DefaultMaxJoinKeys    = 1 << 14
	DefaultMaxMACsPerHost = 4
)

// Timing of the rules that resist spoofing.
const (
	// conflictQuiet: an address bound to a MAC that sent from it this
	// recently does not move to another MAC on traffic alone (anyone can
	// put any source address in a frame); a DHCP lease moves it at once.
	conflictQuiet = int64(2 * time.Minute)
	// refreshEvery bounds how stale a binding's last-seen time may be.
	refreshEvery = int64(10 * time.Second)
	// nameFresh: a name or DUID joins a MAC to the host that announced it
	// only while that host still announces it; a name last heard longer
	// ago is free for the next device (two Johns' MacBooks a week apart).
	nameFresh = int64(24 * time.Hour)
)

// Stats are a Binder's counters.
type Stats struct {
	Bindings         int    `json:"bindings"`
	BindingEvictions uint64 `json:"binding_evictions"`
	MACs             int    `json:"macs"`
	MACEvictions     uint64 `json:"mac_evictions"`
	JoinKeys         int    `json:"join_keys"`
	JoinKeyEvictions uint64 `json:"join_key_evictions"`
	Routers          uint64 `json:"routers"`       // MACs found forwarding others' traffic
	Conflicts        uint64 `json:"conflicts"`     // frames claiming a bound address from another MAC while its holder is active: not moved
	DHCPMismatch     uint64 `json:"dhcp_mismatch"` // DHCP client messages (not relayed) whose chaddr is not the frame's sender, and replies not from port 67: not learned from
	Joined           int    `json:"joined"`        // MACs joined to another's host now (learned joins)
	JoinEvictions    uint64 `json:"join_evictions"`
	Moved            uint64 `json:"moved"`    // addresses bound to another MAC than before
	Released         uint64 `json:"released"` // bindings ended by a DHCP RELEASE
	Joins            uint64 `json:"joins"`    // MACs joined to another MAC's host
	JoinsRefused     uint64 `json:"joins_refused"`
	JoinsGeneric     uint64 `json:"joins_generic"` // joins not made: a default name many devices share
	JoinsShared      uint64 `json:"joins_shared"`  // joins not made (or ended): a name or DUID more MACs announce than one host has
	ByMAC            uint64 `json:"by_mac"`        // Resolve calls answered with a MAC-keyed host
	ByAddr           uint64 `json:"by_addr"`       // Resolve calls answered with the address itself
	Applied          uint64 `json:"applied"`       // changes taken from other binders (Apply) that changed something
	// What Restore took from a checkpoint: joins and bindings restored,
	// refused (they would break a rule: a host's MAC bound, a router's
	// MAC, an inventory join), and aged (older than the binder's windows at
	// the checkpoint's time or the first packet's).
	RestoredJoins    uint64 `json:"restored_joins"`
	RestoredBindings uint64 `json:"restored_bindings"`
	RestoreRefused   uint64 `json:"restore_refused"`
	RestoreAged      uint64 `json:"restore_aged"`
	DHCPErrors       uint64 `json:"dhcp_errors"`
	NDPErrors        uint64 `json:"ndp_errors"`
	MDNSErrors       uint64 `json:"mdns_errors"`
}

type binding struct {
	mac   [6]byte
	last  int64 // when the holder was last seen with it (within refreshEvery), Unix ns
	lease bool  // last set by a DHCP lease
	// remote: another binder learned it (Apply) and sees the holder's
	// traffic; this one cannot tell whether the holder is quiet, so only a
	// lease moves it.
	remote bool
}

const ringSize = 8 // recent addresses kept per MAC for the router rule

const memoSize = 256 // entries of each per-packet shortcut (a power of two)

type resolvedMemo struct {
	addr netip.Addr
	key  Key
	gen  uint64
}

type sentMemo struct {
	addr netip.Addr
	mac  [6]byte
	gen  uint64
	at   int64
}

// memoSlot picks an address's shortcut entry from its low bytes, which
// differ between the hosts of a subnet. An IPv4 address's bytes are taken
// from As4: As16's result is copied in one 16-byte load from its two 8-byte
// stores, which the CPU cannot forward (about 9 ns a call, twice a packet).
// The last three bytes are the same either way, and so is the slot.
func memoSlot(a netip.Addr) int {
	if a.Is4() {
		b := a.As4()
		return int(b[3]^b[2]*7^b[1]*31) & (memoSize - 1)
	}
	b := a.As16()
	return int(b[15]^b[14]*7^b[13]*31) & (memoSize - 1)
}

type seenAddr struct {
	addr netip.Addr
	last int64
}

// macInfo is what is known of one MAC.
type macInfo struct {
	ips    [ringSize]seenAddr
	named  [numAnnounce]int64 // when the MAC last announced a name or DUID, by where, Unix ns
	last   int64              // when the MAC was last seen binding or announcing, Unix ns
	router bool
	// remoteRouter: another binder found the MAC a router's (Apply); this
	// one has not the evidence to clear it, only the finder's NotRouter does.
	remoteRouter bool
}

// joinRec is a learned join: the canonical MAC of the host the member
// joined, and when the join was made or last confirmed (a member announcing
// what joined it again), Unix ns.
type joinRec struct {
	canon [6]byte
	at    int64
}

// joinKey is who announced a name or DUID first, and when last.
type joinKey struct {
	mac    [6]byte
	at     int64
	seen   [maxKeyMACs][6]byte // distinct MACs that announced it
	n      uint8
	shared bool // more MACs than one host has: cloned machines, not one host
}

// maxKeyMACs is how many distinct MACs may announce one name or DUID before
// it is taken for shared (cloned virtual machines keep their image's DUID
// and often its host name).
const maxKeyMACs = DefaultMaxMACsPerHost + 1

// saw records that mac announced the key and reports whether it is shared.
func (k *joinKey) saw(mac [6]byte) bool {
	for _, m := range k.seen[:k.n] {
		if m == mac {
			return k.shared
		}
	}
	if int(k.n) < len(k.seen) {
		k.seen[k.n] = mac
		k.n++
		return k.shared
	}
	k.shared = true
	return true
}

// Binder maps the addresses packets belong to onto hosts, learning in
// capture order from DHCP leases, NDP, mDNS and the traffic hosts send. It
// is owned by one read loop and not safe for concurrent use.
type Binder struct {
	cfg     Config
	bindTTL int64
	// binds and macs are scan-resistant: an entry seen again (a host that
	// keeps sending) is protected from a flood of spoofed sources that are
	// each seen once.
	binds *slru.Table[netip.Addr, binding]
	macs  *slru.Table[[6]byte, *macInfo]
	keys  *simplelru.LRU[string, joinKey]
	// joins are the learned joins, member MAC → canonical MAC, and members
	// the other way; bounded apart from macs, so that a flood of new MACs
	// cannot undo a join.
	joins   *simplelru.LRU[[6]byte, joinRec]
	members map[[6]byte][][6]byte
	static  map[[6]byte][6]byte // joins from the inventory: MAC → canonical MAC
	stats   Stats
	gen     uint64 // bumped by any change Resolve depends on
	now     int64  // the latest packet's capture time, Unix ns
	// applying: inside Apply, whose changes (and the evictions they cause)
	// are another binder's news, not this one's to tell
	applying bool
	// acting: inside Apply of an announcement, acting on it
	acting bool
	// restored are what Restore restored, until the first packet ages them
	// by its time (restore.go); nil once it has.
	restored *restoredSet

	// Per-packet shortcuts, direct-mapped by address and valid while gen
	// is: what an address resolved to, and when traffic last refreshed its
	// binding. A span's packets come from a working set of hosts; the
	// tables above are probed only when it changes.
	resolved [memoSize]resolvedMemo
	sent     [memoSize]sentMemo
	v4       dhcp.V4
	v6       dhcp.V6
	md       mdns.Info
}

// NewBinder returns a Binder with cfg's bounds (zero fields take defaults).
func NewBinder(cfg Config) (*Binder, error) {
	if cfg.BindTTL <= 0 {
		cfg.BindTTL = DefaultBindTTL
	}
	if cfg.RouterIPs <= 0 {
		cfg.RouterIPs = DefaultRouterIPs
	}
	if cfg.MaxBindings <= 0 {
		cfg.MaxBindings = DefaultMaxBindings
	}
	if cfg.MaxMACs <= 0 {
		cfg.MaxMACs = DefaultMaxMACs
	}
	if cfg.MaxJoinKeys <= 0 {
		cfg.MaxJoinKeys = DefaultMaxJoinKeys
	}
	if cfg.MaxMACsPerHost <= 0 {
		cfg.MaxMACsPerHost = DefaultMaxMACsPerHost
	}
	b := &Binder{cfg: cfg, bindTTL: int64(cfg.BindTTL), static: map[[6]byte][6]byte{}, members: map[[6]byte][][6]byte{}}
	var err error
	if b.binds, err = slru.New(cfg.MaxBindings, slru.DefaultProtectedShare, func(a netip.Addr, bd binding) {
		b.stats.BindingEvictions++
		b.gen++
		b.notify(Change{Addr: a, MAC: bd.mac, Host: AddrKey(a), Gone: true})
	}); err != nil {
		return nil, fmt.Errorf("host: bindings: %w", err)
	}
	if b.macs, err = slru.New(cfg.MaxMACs, slru.DefaultProtectedShare, b.evictMAC); err != nil {
		return nil, fmt.Errorf("host: macs: %w", err)
	}
	if b.keys, err = simplelru.NewLRU(cfg.MaxJoinKeys, func(string, joinKey) { b.stats.JoinKeyEvictions++ }); err != nil {
		return nil, fmt.Errorf("host: join keys: %w", err)
	}
	if b.joins, err = simplelru.NewLRU(max(16, cfg.MaxMACs/4), b.unjoin); err != nil {
		return nil, fmt.Errorf("host: joins: %w", err)
	}
	return b, nil
}

// evictMAC forgets a MAC: its addresses resolve to nothing better than
// themselves until they are bound again. Its joins are kept (joins).
func (b *Binder) evictMAC(mac [6]byte, m *macInfo) {
	b.stats.MACEvictions++
	b.gen++
	for _, s := range m.ips {
		if bd, ok := b.binds.Peek(s.addr); ok && bd.mac == mac {
			b.binds.Remove(s.addr) // counted as an eviction, and told
		}
	}
}

func (b *Binder) notify(c Change) {
	if b.cfg.Notify != nil && !b.applying {
		b.cfg.Notify(c)
	}
}

// unjoin ends member's join (the joins table evicted it, or a quieter
// member made room): it is its own host again.
func (b *Binder) unjoin(member [6]byte, j joinRec) {
	ms := b.members[j.canon]
	for i, m := range ms {
		if m == member {
			ms = append(ms[:i], ms[i+1:]...)
			break
		}
	}
	if len(ms) == 0 {
		delete(b.members, j.canon)
	} else {
		b.members[j.canon] = ms
	}
	b.stats.JoinEvictions++
	b.gen++
	b.notify(Change{MAC: member, Host: MACKey(member), Gone: true})
	if mi, ok := b.macs.Peek(member); ok {
		b.retell(member, mi)
	}
}

// retell tells Notify again what each recent address of mac resolves to,
// after the MAC's host changed (a join, a router found).
func (b *Binder) retell(mac [6]byte, mi *macInfo) {
	if b.cfg.Notify == nil {
		return
	}
	for _, s := range mi.ips {
		if bd, ok := b.binds.Peek(s.addr); ok && bd.mac == mac {
			k := b.resolve(s.addr)
			b.notify(Change{Addr: s.addr, MAC: mac, Host: k, Gone: !k.IsMAC()})
		}
	}
}

// Stats returns the counters.
func (b *Binder) Stats() Stats {
	s := b.stats
	s.Bindings, s.MACs, s.JoinKeys, s.Joined = b.binds.Len(), b.macs.Len(), b.keys.Len(), b.joins.Len()
	return s
}

// JoinStatic joins the MACs an inventory lists for one device into one host,
// keyed by the first usable one. Joins from the inventory outlive the
// learned ones: they are not evicted.
func (b *Binder) JoinStatic(macs [][6]byte) {
	var canon [6]byte
	for _, m := range macs {
		if !UsableMAC(m) {
			continue
		}
		if canon == [6]byte{} {
			canon = m
			continue
		}
		if _, ok := b.static[m]; !ok && m != canon && len(b.static) < b.cfg.MaxMACs {
			b.static[m] = canon
			b.stats.Joins++
			b.gen++
			b.notify(Change{MAC: m, Host: MACKey(canon)})
		}
	}
}

// Canonical is the MAC whose host m belongs to.
func (b *Binder) Canonical(m [6]byte) [6]byte {
	if c, ok := b.static[m]; ok {
		return c
	}
	if c, ok := b.joins.Peek(m); ok {
		return b.canonicalOf(c.canon) // joined to a MAC the inventory joined since
	}
	return m
}

// Resolve is the host that address a, the owner of a packet, belongs to:
// the host of the MAC it is bound to, or the address itself when it is bound
// to none (or to a router's MAC). A binding lasts until the address is seen
// from another MAC, released or evicted: whoever holds an address next
// announces it (DHCP, NDP) or sends from it before anything is said about it.
func (b *Binder) Resolve(a netip.Addr) Key {
	m := &b.resolved[memoSlot(a)]
	if m.gen == b.gen && m.addr == a && m.addr.IsValid() {
		b.count(m.key)
		return m.key
	}
	k := b.resolve(a)
	m.addr, m.key, m.gen = a, k, b.gen
	b.count(k)
	return k
}

// Generation changes whenever an answer of Resolve may have changed: a
// caller may keep answers for as long as it stays the same.
func (b *Binder) Generation() uint64 { return b.gen }

// ResolveMAC is Resolve for a caller that needs only the host's MAC: the
// canonical MAC of a's host, or the zero MAC when a is its own host. It
// counts and memoizes as Resolve does. The sharded reader asks it of every
// packet; six bytes come back in place of a Key, whose copies, made of
// stores of several sizes, cost a failed store-to-load forward each.
func (b *Binder) ResolveMAC(a netip.Addr) [6]byte {
	m := &b.resolved[memoSlot(a)]
	if m.gen != b.gen || m.addr != a || !m.addr.IsValid() {
		m.addr, m.key, m.gen = a, b.resolve(a), b.gen
	}
	if m.key.IsMAC() {
		b.stats.ByMAC++
	} else {
		b.stats.ByAddr++
	}
	return m.key.MAC
}

func (b *Binder) count(k Key) {
	if k.IsMAC() {
		b.stats.ByMAC++
	} else {
		b.stats.ByAddr++
	}
}

func (b *Binder) resolve(a netip.Addr) Key {
	bd, ok := b.binds.Peek(a)
	if !ok {
		return AddrKey(a)
	}
	if mi, ok := b.macs.Peek(bd.mac); ok && mi.router {
		return AddrKey(a)
	}
	if b.joins.Len() == 0 && len(b.static) == 0 {
		return MACKey(bd.mac)
	}
	return MACKey(b.Canonical(bd.mac))
}

// canonicalOf is m's inventory join, if any, else m.
func (b *Binder) canonicalOf(m [6]byte) [6]byte {
	if len(b.static) > 0 {
		if c, ok := b.static[m]; ok {
			return c
		}
	}
	return m
}

// Learn reads what p says about which MAC holds which address and which
// MACs are one host. Packets that say nothing cost a few comparisons.
func (b *Binder) Learn(p *decode.Packet) {
	if b.restored != nil {
		b.ageRestored(p.TS)
	}
	b.now = max(b.now, p.TS)
	switch p.Proto {
	case decode.ProtoUDP:
		switch {
		case p.DstPort == dhcp.ServerPort || p.DstPort == dhcp.ClientPort:
			if !b.learnDHCP(p) {
				return // a release: its sender gives the address up
			}
		case p.DstPort == dhcp.Server6Port:
			b.learnDHCP6(p)
		case p.SrcPort == mdns.Port && p.DstPort == mdns.Port:
			b.learnMDNS(p)
		}
	case decode.ProtoICMPv6:
		if len(p.Payload) > 0 && (p.Payload[0] == ndp.TypeNeighborSolict || p.Payload[0] == ndp.TypeNeighborAdvert) {
			b.learnNDP(p)
		}
	}
	b.learnSender(p)
}

// own reports whether a is an address a host on the span's networks holds.
func (b *Binder) own(a netip.Addr) bool {
	if !a.IsValid() || a.IsUnspecified() || a.IsMulticast() {
		return false
	}
	return a.IsLinkLocalUnicast() || (b.cfg.Internal != nil && b.cfg.Internal.Contains(a))
}

// learnSender binds the source of a frame its sender put on the wire
// itself — its TTL still the initial value, so no router forwarded it, or
// a link-local source, which no router forwards — to the frame's source
// MAC. (Link-local messages often start with a hop limit of 1: DHCPv6, MLD.
// A DHCPv6 client's is the address its messages are owned by; unbound, they
// went to another worker than the host's other traffic, and what they say
// of the host missed its alerts.)
func (b *Binder) learnSender(p *decode.Packet) {
	// Most frames fail the TTL test (those a router forwarded), so it
	// comes first.
	if !p.HasMAC || p0f.GuessDist(p.TTL) != 0 && !p.Src.IsLinkLocalUnicast() || !UsableMAC(p.SrcMAC) {
		return
	}
	s := &b.sent[memoSlot(p.Src)]
	if s.gen == b.gen && s.addr == p.Src && s.mac == p.SrcMAC && p.TS-s.at < refreshEvery && s.addr.IsValid() {
		return // refreshed a moment ago and nothing changed since
	}
	if !b.own(p.Src) {
		return
	}
	b.bind(p.Src, p.SrcMAC, p.TS, false)
	s.addr, s.mac, s.gen, s.at = p.Src, p.SrcMAC, b.gen, p.TS
}

// bind records that a is held by mac as of ts, noting the address against
// mac for the router rule. A lease (a DHCP server's ACK) moves an address
// from another MAC at once; traffic moves it only once its holder has been
// quiet for conflictQuiet, so that one spoofed frame cannot take a host's
// sessions.
func (b *Binder) bind(a netip.Addr, mac [6]byte, ts int64, lease bool) {
	if !a.IsValid() || a.IsUnspecified() || !UsableMAC(mac) {
		return
	}
	mi := b.mac(mac)
	mi.last = max(mi.last, ts)
	if b.noteAddr(mac, mi, a, ts) {
		return
	}
	if old, ok := b.binds.Peek(a); ok {
		if old.mac == mac { // seen again: a host's, not a flood's; promoted
			if ts-old.last >= refreshEvery || lease != old.lease || old.remote {
				b.binds.PromoteSet(a, binding{mac: mac, last: max(old.last, ts), lease: lease || old.lease && ts-old.last < b.bindTTL})
			} else {
				b.binds.Promote(a)
			}
			return
		}
		if !lease && (old.remote || ts-old.last < conflictQuiet) {
			b.stats.Conflicts++
			return
		}
		b.stats.Moved++
	}
	b.binds.Add(a, binding{mac: mac, last: ts, lease: lease})
	b.gen++
	b.notify(Change{Addr: a, MAC: mac, Host: b.resolve(a)})
}

// mac returns the MAC's record, creating it.
func (b *Binder) mac(m [6]byte) *macInfo {
	if mi, ok := b.macs.PromoteGet(m); ok {
		return mi
	}
	mi := &macInfo{}
	b.macs.Add(m, mi)
	return mi
}

// noteAddr records that mi sent from a and reports whether it is a router:
// more distinct recent IPv4 addresses (or IPv6 /64s) than any host uses
// means the MAC forwards other hosts' traffic. The rule is hostid's, with
// the same bound (--router-ips). A MAC whose addresses age below the bound
// (a laptop that roamed through several networks in one half hour) is a
// host again.
func (b *Binder) noteAddr(mac [6]byte, mi *macInfo, a netip.Addr, ts int64) bool {
	if mi.remoteRouter {
		return true // the finder's to clear
	}
	oldest, found := 0, false
	for i := range mi.ips {
		if mi.ips[i].addr == a {
			mi.ips[i].last = max(mi.ips[i].last, ts)
			found = true
			break
		}
		if mi.ips[i].last < mi.ips[oldest].last {
			oldest = i
		}
	}
	if !found {
		mi.ips[oldest] = seenAddr{a, ts}
	}
	if (found || a.IsLinkLocalUnicast()) && !mi.router {
		return false // nothing new: every host has a link-local address besides its global ones
	}
	v4, n6 := RecentAddrs(len(mi.ips), func(i int) (netip.Addr, int64) { return mi.ips[i].addr, mi.ips[i].last }, ts, b.bindTTL)
	router := v4 > b.cfg.RouterIPs || n6 > b.cfg.RouterIPs
	if router != mi.router {
		mi.router = router
		if router {
			b.stats.Routers++
		}
		b.gen++
		b.notify(Change{MAC: mac, Host: MACKey(mac), Router: router, NotRouter: !router})
		b.retell(mac, mi)
	}
	return router
}

// DHCP message types (option 53) the binder acts on.
const (
	dhcpRequest = 3
	dhcpACK     = 5
	dhcpRelease = 7
	dhcpInform  = 8
)

// learnDHCP learns from a DHCPv4 message and reports whether its sender
// still holds the address it sends from (false for a RELEASE).
func (b *Binder) learnDHCP(p *decode.Packet) bool {
	m := &b.v4
	if err := dhcp.ParseV4(p.Payload, m); err != nil {
		b.stats.DHCPErrors++
		return true
	}
	if !m.HasCHAd || !UsableMAC(m.CHAddr) {
		return true
	}
	// Anyone can write any chaddr: a client message counts only from the
	// client itself (not relayed, the frame from chaddr), a reply only from
	// a server's port.
	switch {
	case m.Op == 1 && m.GIAddr.IsValid() && !m.GIAddr.IsUnspecified():
		return true // relayed: the frame is the relay's; the lease it brings back binds
	case m.Op == 1 && (!p.HasMAC || p.SrcMAC != m.CHAddr):
		b.stats.DHCPMismatch++
		return true
	case m.Op == 2 && p.SrcPort != dhcp.ServerPort:
		b.stats.DHCPMismatch++
		return true
	}
	switch {
	case m.Op == 2 && m.Type == dhcpACK && m.YIAddr.IsValid() && !m.YIAddr.IsUnspecified():
		b.bind(m.YIAddr, m.CHAddr, p.TS, true)
	case m.Op == 1 && m.Type == dhcpRelease:
		if bd, ok := b.binds.Peek(m.CIAddr); ok && bd.mac == m.CHAddr {
			b.binds.Remove(m.CIAddr)
			b.stats.Released++
			b.stats.BindingEvictions-- // the callback counted it
			b.gen++
		}
		return false
	case m.Op == 1 && (m.Type == dhcpRequest || m.Type == dhcpInform) && m.CIAddr.IsValid() && !m.CIAddr.IsUnspecified():
		b.bind(m.CIAddr, m.CHAddr, p.TS, false)
	}
	if m.Op == 1 && len(m.Hostname) > 0 && b.announces(m.CHAddr, byDHCPName, p.TS) {
		b.announced(m.CHAddr, byDHCPName, p.TS)
		b.joinByName(string(m.Hostname), m.CHAddr, p.TS)
	}
	return true
}

func (b *Binder) learnDHCP6(p *decode.Packet) {
	// A client speaks for itself from its link-local address; a relay's
	// frame carries the relay's MAC.
	if !p.HasMAC || !p.Src.IsLinkLocalUnicast() || !UsableMAC(p.SrcMAC) {
		return
	}
	if !b.announces(p.SrcMAC, byDUID, p.TS) {
		return
	}
	m := &b.v6
	if err := dhcp.ParseV6(p.Payload, m); err != nil {
		b.stats.DHCPErrors++
		return
	}
	if len(m.ClientDUID) < 4 || len(m.ClientDUID) > 130 {
		return
	}
	b.announced(p.SrcMAC, byDUID, p.TS)
	// One DUID per system (RFC 8415 §11): every interface of a Mac sends
	// the same one. A DUID that names a link-layer address (DUID-LL/LLT)
	// names the interface it was made from: it joins only when that
	// interface is one of the two being joined — a cloned machine's copy
	// names an interface the clone does not have.
	if anchor, ok := dhcp.DUIDMAC(m.ClientDUID); ok && anchor != p.SrcMAC {
		if mi, seen := b.macs.Peek(anchor); !seen || mi.last == 0 || p.TS-mi.last >= nameFresh {
			b.stats.JoinsShared++
			return
		}
	}
	b.join("duid:"+hex.EncodeToString(m.ClientDUID), p.SrcMAC, p.TS)
}

func (b *Binder) learnMDNS(p *decode.Packet) {
	if !p.HasMAC || !UsableMAC(p.SrcMAC) || p0f.GuessDist(p.TTL) != 0 {
		return
	}
	if !b.announces(p.SrcMAC, byMDNS, p.TS) {
		return
	}
	if err := mdns.Parse(p.Payload, p.Src, &b.md); err != nil {
		b.stats.MDNSErrors++
		return
	}
	if b.md.Response {
		b.announced(p.SrcMAC, byMDNS, p.TS) // queries say nothing of the sender
	}
	// Only a record of the sender's own address names the sender (a sleep
	// proxy answers for other hosts).
	if b.md.SelfAddr && !b.md.OtherAddr && b.md.Hostname != "" {
		b.joinByName(b.md.Hostname, p.SrcMAC, p.TS)
	}
}

func (b *Binder) learnNDP(p *decode.Packet) {
	n, err := ndp.ParseNeighbor(p.Payload)
	if err != nil {
		b.stats.NDPErrors++
		return
	}
	if !p.HasMAC || p0f.GuessDist(p.TTL) != 0 { // NDP is sent with hop limit 255 and never forwarded
		return
	}
	switch {
	case n.Type == ndp.TypeNeighborSolict && p.Src.IsUnspecified():
		// Duplicate address detection: the sender is about to use Target
		// (a new temporary address, typically).
		if b.own(n.Target) {
			b.bind(n.Target, p.SrcMAC, p.TS, false)
		}
	case n.Type == ndp.TypeNeighborAdvert && n.HasLinkAddr && !n.Router && n.LinkAddr == p.SrcMAC:
		// A host speaking for itself; a proxy (a Bonjour Sleep Proxy, proxy
		// ND) advertising another host's address is not that host.
		if b.own(n.Target) {
			b.bind(n.Target, n.LinkAddr, p.TS, false)
		}
	case n.Type == ndp.TypeNeighborSolict && n.HasLinkAddr && n.LinkAddr == p.SrcMAC && b.own(p.Src):
		b.bind(p.Src, n.LinkAddr, p.TS, false)
	}
}

// announces reports whether a name or DUID mac announces at ts is worth
// reading: not when it announced one within the last bind TTL. A Mac
// repeats its mDNS announcements every few seconds in a burst and at every
// wake; the join they make is made by the first.
func (b *Binder) announces(mac [6]byte, by announce, ts int64) bool {
	mi, ok := b.macs.Peek(mac)
	return !ok || mi.named[by] == 0 || ts < mi.named[by] || ts-mi.named[by] >= b.bindTTL
}

// announced notes that mac announced a name or DUID at ts.
func (b *Binder) announced(mac [6]byte, by announce, ts int64) {
	mi := b.mac(mac)
	mi.named[by], mi.last = ts, max(mi.last, ts)
}

// announce is where a MAC announces what joins it to other MACs.
type announce uint8

const (
	byDHCPName announce = iota
	byDUID
	byMDNS
	numAnnounce
)

// joinByName joins mac to the host that announced the same name before,
// unless the name is a default that many devices share.
func (b *Binder) joinByName(name string, mac [6]byte, ts int64) {
	name = strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(name, "."), ".local"))
	if len(name) == 0 || len(name) > 253 {
		return
	}
	if GenericName(name) {
		b.stats.JoinsGeneric++
		return
	}
	b.join("name:"+name, mac, ts)
}

var errJoin = errors.New("host: join refused")

// join records that mac announced key (a host name or DUID) at ts and joins
// it to the host of the MAC that announced key first, while that MAC still
// announces it (nameFresh). With Config.ShareKeys it tells the announcement
// instead, and acts when it comes back through Apply.
func (b *Binder) join(key string, mac [6]byte, ts int64) {
	if b.cfg.ShareKeys && b.cfg.Notify != nil && !b.acting {
		b.cfg.Notify(Change{MAC: mac, Key: key, TS: ts})
		return
	}
	first, ok := b.keys.Get(key)
	switch {
	case !ok || ts-first.at >= nameFresh:
		k := joinKey{mac: mac, at: ts}
		k.saw(mac)
		b.keys.Add(key, k)
		return
	case first.shared:
		b.stats.JoinsShared++
		return
	case first.mac == mac:
		first.at = max(first.at, ts)
		b.keys.Add(key, first)
		// The holder still announcing what joined its host's members
		// keeps their joins as fresh as the name (a checkpoint ages them
		// by it).
		for _, m := range b.members[b.Canonical(mac)] {
			b.confirm(m, ts)
		}
		return
	}
	if first.saw(mac) {
		// A fifth MAC with one name or DUID: clones of one image, not one
		// machine. The joins it made end, and it makes no more.
		b.stats.JoinsShared++
		for _, m := range first.seen[:first.n] {
			if c, ok := b.joins.Peek(m); ok && c.canon == b.Canonical(first.mac) {
				b.leave(m)
			}
		}
		b.keys.Add(key, first)
		return
	}
	b.keys.Add(key, first)
	if err := b.joinMAC(mac, first.mac, ts); err != nil {
		b.stats.JoinsRefused++
	}
}

// joinMAC makes mac part of other's host. A MAC already part of another
// host, or the canonical MAC of a host with members, keeps its host: two
// claims on one MAC mean at least one is wrong, and the first came first.
// A host full of MACs makes room by dropping a member quiet for a bind TTL
// (a private Wi-Fi address rotated away); with none quiet, it refuses.
func (b *Binder) joinMAC(mac, other [6]byte, ts int64) error {
	canon := b.Canonical(other)
	if canon == b.Canonical(mac) {
		b.confirm(mac, ts)
		b.confirm(other, ts)
		return nil
	}
	if _, ok := b.static[mac]; ok {
		return errJoin
	}
	if _, ok := b.joins.Peek(mac); ok || len(b.members[mac]) > 0 {
		return errJoin
	}
	if mi, ok := b.macs.Peek(mac); ok && mi.router {
		return errJoin
	}
	if ci, ok := b.macs.Peek(canon); ok && ci.router {
		return errJoin
	}
	if 1+len(b.members[canon]) >= b.cfg.MaxMACsPerHost && !b.dropQuietMember(canon, ts) {
		return errJoin
	}
	b.joins.Add(mac, joinRec{canon: canon, at: ts})
	b.members[canon] = append(b.members[canon], mac)
	b.stats.Joins++
	b.gen++
	b.notify(Change{MAC: mac, Host: MACKey(canon), TS: ts})
	if mi, ok := b.macs.Peek(mac); ok {
		b.retell(mac, mi)
	}
	return nil
}

// confirm notes that mac's join, if it has one, still holds at ts: a
// checkpoint keeps a join as long as it is confirmed (restore.go).
func (b *Binder) confirm(mac [6]byte, ts int64) {
	if j, ok := b.joins.Peek(mac); ok && ts > j.at {
		j.at = ts
		b.joins.Add(mac, j)
	}
}

// dropQuietMember ends the join of canon's member seen longest ago, if that
// was a bind TTL or more before ts, and reports whether it did.
func (b *Binder) dropQuietMember(canon [6]byte, ts int64) bool {
	var quiet [6]byte
	oldest := ts - b.bindTTL
	found := false
	for _, m := range b.members[canon] {
		mi, ok := b.macs.Peek(m)
		if !ok || mi.last == 0 {
			continue // not seen here (another worker's): not known to be quiet
		}
		if last := mi.last; last <= oldest {
			quiet, oldest, found = m, last, true
		}
	}
	if found {
		b.joins.Remove(quiet) // unjoin, through the table's callback
	}
	return found
}

// nameForm writes the separators people and systems use in one way.
var nameForm = strings.NewReplacer(" ", "-", "_", "-", "'", "", "’", "")

// GenericName reports a host name many devices carry unchanged (a model's
// default before the owner's name is added, a numbered variant of it): it
// ties no two MACs to one host.
func GenericName(name string) bool {
	name = strings.ToLower(name)
	if i := strings.LastIndexByte(name, '-'); i > 0 && allDigits(name[i+1:]) {
		name = name[:i] // macOS renames a clash "MacBook-Pro-2"
	}
	if i := strings.LastIndexByte(name, ' '); i > 0 && allDigits(name[i+1:]) {
		name = name[:i]
	}
	switch nameForm.Replace(name) {
	case "macbook", "macbook-pro", "macbook-air", "macbookpro", "macbookair", "imac", "imac-pro",
		"mac-mini", "macmini", "mac-pro", "mac-studio", "mac", "iphone", "ipad", "ipod", "apple-tv",
		"appletv", "homepod", "watch", "localhost", "unknown", "android", "windows", "desktop",
		"laptop", "pc", "host", "linux", "ubuntu", "debian", "raspberrypi", "chromebook", "printer", "":
		return true
	}
	return false
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
