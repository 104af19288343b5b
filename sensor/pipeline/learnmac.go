package pipeline

import (
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/launchtap/launchtap/sensor/decode"
	"github.com/launchtap/launchtap/sensor/hostid/p0f"
)

// Where a learned prefix came from.
const (
	LearnedFromRA  = "ra"  // a router advertisement's prefix option
	LearnedFromMAC = "mac" // a global address used by a MAC known as an internal host
)

// An office whose global IPv6 prefix is announced nowhere the span sees
// (the advertisements stay on the access switch) still shows it: a Mac
// known by its internal IPv4 address sends from a global IPv6 address on
// the same MAC. macLearner remembers, by MAC, the hosts seen sending from
// an internal address, and learns the /64 of the global address such a MAC
// then sends from. It is asked only on a TCP SYN sent by the frame's own
// host (a session's start, which hostid reads too), never per packet of an
// established session.
//
// It is shared by every worker and the replay reader, in 16 stripes by MAC,
// each a bounded LRU; a MAC seen with more internal addresses than a host
// uses (hostid's --router-ips) or sending router advertisements is a
// router's, whose frames carry other hosts' addresses, and teaches nothing.
type macLearner struct {
	stripes   [macStripes]macStripe
	routerIPs int
	window    int64 // only addresses sent from this recently count towards routerIPs (hostid's --host-bind-ttl)
	log       *slog.Logger

	warnMu sync.Mutex
	warned *simplelru.LRU[netip.Prefix, struct{}] // prefixes warned about with learning off

	learned   atomic.Uint64 // prefixes learned from MACs
	warnings  atomic.Uint64 // warning lines written
	evictions atomic.Uint64 // MACs dropped from the stripes
}

const (
	macStripes     = 16
	macsPerStripe  = 4096 // 65536 MACs in all
	maxWarned      = 1024
	macAddrsPerMAC = 8
)

type macStripe struct {
	mu   sync.Mutex
	macs *simplelru.LRU[[6]byte, *macSeen]
}

// macSeen is what a MAC has been seen sending from: its latest internal
// addresses (IPv4, or IPv6 /64s) with when, and whether it is a router's.
type macSeen struct {
	addrs  [macAddrsPerMAC]netip.Addr
	last   [macAddrsPerMAC]int64
	router bool
}

func newMACLearner(routerIPs int, window time.Duration, log *slog.Logger) *macLearner {
	m := &macLearner{routerIPs: routerIPs, window: int64(window), log: log}
	if m.routerIPs <= 0 || m.routerIPs >= macAddrsPerMAC {
		m.routerIPs = macAddrsPerMAC - 1
	}
	for i := range m.stripes {
		m.stripes[i].macs, _ = simplelru.NewLRU[[6]byte, *macSeen](macsPerStripe, func([6]byte, *macSeen) { m.evictions.Add(1) })
	}
	m.warned, _ = simplelru.NewLRU[netip.Prefix, struct{}](maxWarned, nil)
	return m
}

func (m *macLearner) stripe(mac [6]byte) *macStripe {
	return &m.stripes[(mac[5]^mac[4]^mac[3])%macStripes]
}

// wantsSYN is the cheap test of whether p is a SYN macLearner reads: a
// session's first packet, in a frame from the sending host itself.
func wantsSYN(p *decode.Packet) bool {
	return p.Proto == decode.ProtoTCP && p.TCPFlags&(decode.TCPSyn|decode.TCPAck|decode.TCPRst) == decode.TCPSyn &&
		p.HasMAC && p.SrcMAC != [6]byte{} && p.SrcMAC[0]&1 == 0 && p0f.GuessDist(p.TTL) == 0
}

// synMemo is a caller's (a worker's, or the replay reader's) last internal
// sender noted: a scan's SYNs all come from one host, and noting it again
// within a second would take a stripe's lock for nothing.
type synMemo struct {
	mac   [6]byte
	src   netip.Addr
	until int64
}

// syn reads a SYN that wantsSYN accepted: from an internal address it notes
// the MAC as an internal host's; from a global IPv6 address outside every
// internal network, to one outside too, it learns that address's /64 when
// the MAC is an internal host's (learn), or warns once per /64 that the
// host's traffic is treated as external (learning off).
func (m *macLearner) syn(cfg *Config, p *decode.Packet, learn bool, memo *synMemo) {
	if m == nil {
		return // a Config not made by New
	}
	if p.TS < memo.until && p.SrcMAC == memo.mac && p.Src == memo.src {
		return
	}
	if cfg.Internal.Contains(p.Src) {
		m.note(p.SrcMAC, p.Src, p.TS)
		*memo = synMemo{mac: p.SrcMAC, src: p.Src, until: p.TS + int64(time.Second)}
		return
	}
	a := p.Src
	if !a.Is6() || a.Is4In6() || !a.IsGlobalUnicast() || a.IsPrivate() || cfg.Internal.Contains(p.Dst) {
		return
	}
	if !m.isHost(p.SrcMAC) {
		return
	}
	pf, _ := a.Prefix(64)
	if !learn {
		m.warn(pf, p)
		return
	}
	if cfg.Internal.Learn(pf) {
		cfg.learnedAt.noteFrom(pf, p.TS, LearnedFromMAC)
		m.learned.Add(1)
		m.log.Info("learned an internal IPv6 prefix from a global address of an internal host's MAC",
			"prefix", pf, "host", a, "mac", netMAC(p.SrcMAC))
	}
}

// note records that mac sent from the internal address a at ts. A MAC that
// sent from more addresses within the window than a host uses is a
// router's, by hostid's rule: a Mac whose lease moves every few hours is not.
func (m *macLearner) note(mac [6]byte, a netip.Addr, ts int64) {
	if a.Is6() && !a.Is4In6() {
		pf, _ := a.Prefix(64)
		a = pf.Addr()
	}
	s := m.stripe(mac)
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.macs.Get(mac)
	if !ok {
		h = &macSeen{}
		s.macs.Add(mac, h)
	}
	if h.router {
		return
	}
	// The slot a takes: an empty one, else the least recently used.
	slot, recent := -1, 0
	for i, b := range h.addrs {
		if b == a {
			h.last[i] = max(h.last[i], ts)
			return
		}
		if !b.IsValid() {
			if slot < 0 || h.addrs[slot].IsValid() {
				slot = i
			}
			continue
		}
		if ts-h.last[i] <= m.window {
			recent++
		}
		if slot < 0 || h.addrs[slot].IsValid() && h.last[i] < h.last[slot] {
			slot = i
		}
	}
	if h.addrs[slot].IsValid() && ts-h.last[slot] <= m.window {
		recent-- // replaced below
	}
	h.addrs[slot], h.last[slot] = a, ts
	if recent+1 > m.routerIPs {
		h.router = true
	}
}

// router marks mac as a router's (it sent a router advertisement).
func (m *macLearner) router(mac [6]byte) {
	s := m.stripe(mac)
	s.mu.Lock()
	defer s.mu.Unlock()
	if h, ok := s.macs.Get(mac); ok {
		h.router = true
		return
	}
	s.macs.Add(mac, &macSeen{router: true})
}

// isHost reports whether mac was seen sending from an internal address and
// is not a router's.
func (m *macLearner) isHost(mac [6]byte) bool {
	s := m.stripe(mac)
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.macs.Get(mac)
	return ok && !h.router
}

func (m *macLearner) warn(pf netip.Prefix, p *decode.Packet) {
	m.warnMu.Lock()
	_, seen := m.warned.Get(pf)
	if !seen {
		m.warned.Add(pf, struct{}{})
	}
	m.warnMu.Unlock()
	if seen {
		return
	}
	m.warnings.Add(1)
	m.log.Warn("traffic from an internal host's MAC is treated as external: its global IPv6 prefix is not internal; set --learn-internal=true or add the prefix to --internal",
		"mac", netMAC(p.SrcMAC), "prefix", pf, "host", p.Src, "dst", p.Dst)
}
