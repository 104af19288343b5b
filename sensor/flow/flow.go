// Package flow tracks TCP and UDP sessions of internal hosts talking to
// external ones: when each session starts (the beat the detector times), how
// many payload bytes it carries each way, when it ends, and when a long-lived
// session wakes up after being quiet (keep-alive beacons that never open a
// new connection) and how many bytes each such burst carried. A session
// whose requests keep a steady pace faster than the burst gap (keep-alive
// pings every few seconds) makes each request a burst (Tracker.pace).
//
// A TCP session is a beat only once its handshake is answered: SYN
// retransmissions belong to the connection they retry, and a SYN that is
// refused or never answered is counted (Stats.Unanswered), not reported, so
// a client retrying an unreachable server every second is not a beacon.
//
// A Tracker belongs to one pipeline worker and is not safe for concurrent
// use. Its tables are bounded segmented LRUs (package slru): a session that
// has only been seen one way sits in probation, and one answered by its
// server is protected, so a SYN flood or a scan churns probation and never
// ends the sessions that carry beats. Packets of established sessions
// allocate nothing.
package flow

import (
	"encoding/binary"
	"flag"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/launchtap/launchtap/sensor/decode"
	"github.com/launchtap/launchtap/sensor/netset"
	"github.com/launchtap/launchtap/sensor/slru"
)

// Config bounds and times the session tables.
type Config struct {
	MaxSessions int           // per worker, TCP and UDP each
	UDPIdle     time.Duration // a UDP 5-tuple quiet this long has ended; its next packet starts a new session
	TCPIdle     time.Duration // an open TCP session quiet this long is ended by the sweeper
	BurstGap    time.Duration // outbound data after this much silence in a session is a burst (keep-alive beat)
	MinBurstLen int           // payload bytes an outbound packet needs to start a burst (keep-alive probes carry 0-1)
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		MaxSessions: 1 << 18,
		UDPIdle:     60 * time.Second,
		TCPIdle:     15 * time.Minute,
		BurstGap:    8 * time.Second,
		MinBurstLen: 2,
	}
}

// RegisterFlags binds the config to command-line flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.MaxSessions, "max-sessions", c.MaxSessions, "TCP and UDP sessions tracked per worker (each, not split between workers); beyond it the least recently active session seen only one way is evicted first, so a flood cannot push out answered sessions; sessions seen only one way hold at most a sixteenth of it (at least 4096)")
	fs.DurationVar(&c.UDPIdle, "udp-idle", c.UDPIdle, "idle gap after which a UDP 5-tuple's next packet starts a new session")
	fs.DurationVar(&c.TCPIdle, "tcp-idle", c.TCPIdle, "idle time after which an open TCP session is considered ended")
	fs.DurationVar(&c.BurstGap, "burst-gap", c.BurstGap, "silence inside a session after which outbound data counts as a new activity burst")
}

// Validate reports the first unusable value, naming its flag.
func (c *Config) Validate() error {
	switch {
	case c.MaxSessions < 16:
		return fmt.Errorf("max-sessions: %d is below the minimum of 16", c.MaxSessions)
	case c.UDPIdle <= 0:
		return fmt.Errorf("udp-idle: must be positive, got %s", c.UDPIdle)
	case c.TCPIdle <= 0:
		return fmt.Errorf("tcp-idle: must be positive, got %s", c.TCPIdle)
	case c.BurstGap <= 0:
		return fmt.Errorf("burst-gap: must be positive, got %s", c.BurstGap)
	}
	return nil
}

// Key identifies a session from the internal (client) side. Addresses are
// kept as 16-byte arrays, and pad fills what would be padding, so that the
// key is plain memory the map hashes in one call rather than field by field.
type Key struct {
	Client, Server         [16]byte
	ClientPort, ServerPort uint16
	Proto                  uint8
	//lint:ignore U1000 always zero: it fills what would be padding (see above)
	pad uint8
}

// putAddr writes a.As16() into dst. Assigned whole, As16's result is read
// back with one 16-byte load from the two 8-byte stores that built it,
// which the CPU cannot forward: a stall on both ends of every packet (4 % of
// an office replay's samples). An IPv4 address is written from As4 (one
// 4-byte store and load) as the IPv4-mapped form As16 gives.
func putAddr(dst *[16]byte, a netip.Addr) {
	if a.Is4() {
		v4 := a.As4()
		binary.BigEndian.PutUint64(dst[:8], 0)
		binary.BigEndian.PutUint64(dst[8:], 0xffff<<32|uint64(binary.BigEndian.Uint32(v4[:])))
		return
	}
	*dst = a.As16()
}

// equal is k == *o field by field. == on the 38-byte struct calls memequal,
// a function call on every packet the session cache answers (2.5 % of an
// office replay's instructions); 16-byte arrays compare inline, and so
// does this.
func (k *Key) equal(o *Key) bool {
	return k.Client == o.Client && k.Server == o.Server &&
		k.ClientPort == o.ClientPort && k.ServerPort == o.ServerPort && k.Proto == o.Proto && k.pad == o.pad
}

// Session is one tracked TCP connection or UDP exchange.
type Session struct {
	Key        Key
	ClientAddr netip.Addr
	ServerAddr netip.Addr
	ClientMAC  [6]byte
	HasMAC     bool
	// HostMAC is the client's host's canonical MAC (sensor/host), set by
	// the handler at SessionStart (or, for a session joined mid-stream, at
	// its first burst) when HostKnown; zero when the host is keyed by its
	// address (ClientAddr).
	HostMAC   [6]byte
	HostKnown bool
	Start     int64 // Unix ns of the SYN, the first UDP packet, or (Midstream) the first packet seen
	Last      int64 // Unix ns of the latest packet either way
	LastOut   int64 // Unix ns of the latest outbound packet carrying data
	BytesOut  uint64
	BytesIn   uint64
	PktsOut   uint32
	PktsIn    uint32
	Bursts    uint32
	Midstream bool // first seen after its start: not a beat, but tracked for bursts and bytes
	// Handshaking: a TCP SYN not yet answered. SessionStart comes when the
	// server answers (or the client sends data or an ACK, which it can only
	// do once answered); a session that ends still handshaking was no beat.
	Handshaking bool
	answered    bool   // the server sent data since the client's latest request began
	paceRun     uint8  // requests in a row at the pace (see pace)
	burstAt     int64  // start of the current burst, Unix ns; 0 = none yet
	reqOut      uint32 // the burst's first request: payload bytes out before any answer
	respIn      uint32 // and its answer: bytes in until the client sends again
	exch        exchange
	countable   bool   // a SYN-ACK or a TCP segment other than a SYN, FIN or RST was seen (MayBeCounted); in padding
	pace        uint32 // the session's own request spacing, ms (smoothed); 0 = none yet
	promoted    int64  // Unix ns of its last move to the front of the LRU (at most one a promoteEvery)
	Restarted   bool   // ended because a new session began on the same 5-tuple
	protected   bool   // in its table's protected class: both directions seen
	finOut      bool
	finIn       bool
	reqAt       uint32 // the latest request's start, ms since Start (wraps after 49 days; differences stay exact)

	// Name is the destination name the worker resolved for the pair at the
	// session's start. The tracker carries it for the handler and never reads it.
	Name string

	// Naming state of the handler: the tracker carries it and never reads
	// it, except Watch.
	NameSource uint8      // the handler's code for where Name came from
	DestPort   uint16     // the port the pair is keyed by, when not ServerPort (a proxied request's)
	reqBytesIn uint32     // the tracker's (pace), in padding: see reqBytesOut
	DestAddr   netip.Addr // the address the pair is keyed by when unnamed, when not ServerAddr
	Pending    bool       // the session's beat waits for its first payload to name it
	NoBeat     bool       // not a beacon candidate (encrypted DNS, a proxy's own egress, not a proxy request)
	Proxied    bool       // a session to an explicit proxy

	// Watch is how many more outbound packets carrying payload the tracker
	// shows the handler's Payload method (a PayloadHandler), from the
	// session's first on, and whether it shows the first inbound one: the
	// handler reads the name there. Zero for all but the first packets of a
	// session, so the per-packet cost is one compare.
	Watch uint8

	// The low 32 bits of BytesOut and BytesIn when the latest request
	// began (what the exchange since then carried), each in padding the
	// struct had, so a Session stays 256 bytes.
	reqBytesOut uint32
}

// exchange is how far the current burst's first request/answer has got.
type exchange uint8

const (
	exchRequest exchange = iota // the client is sending its request
	exchAnswer                  // the server is answering
	exchDone                    // the client spoke again: the first exchange is over
)

// Handler receives session events. It is called synchronously from Packet and Sweep.
type Handler interface {
	SessionStart(s *Session)
	SessionEnd(s *Session)
	Burst(s *Session, ts int64)
	// BurstEnd gives the size of the first exchange of the burst that began
	// at start (request bytes out, answer bytes in), when the next burst
	// begins or the session ends. A check-in repeats its request and the
	// server's "nothing to do" even when what follows (task output) varies;
	// a person's requests inside one session differ in URL and answer.
	BurstEnd(s *Session, start int64, reqOut, respIn uint64)
}

// PayloadHandler is a Handler that also reads the first payload of the
// sessions whose Watch it set; out says which way the packet went.
type PayloadHandler interface {
	Payload(s *Session, p *decode.Packet, out bool)
}

// Stats are cumulative counters of one tracker.
type Stats struct {
	Packets         uint64 // packets offered to the tracker
	Untracked       uint64 // not internal↔external TCP/UDP, or mid-stream without data
	SessionsStarted uint64
	SessionsJoined  uint64 // picked up mid-stream
	SessionsEnded   uint64
	Unanswered      uint64 // TCP sessions that ended without an answered handshake: no beat
	Evictions       uint64 // sessions ended early because the table was full (both classes below)
	Bursts          uint64
	PacedBursts     uint64 // of Bursts: requests of a steady loop faster than the burst gap (Tracker.pace)
	ActiveTCP       uint64
	ActiveUDP       uint64

	// The evictions by class: sessions seen only one way (probation: what a
	// scan or SYN flood creates) and sessions answered by their server
	// (protected: evicted only when answered sessions alone fill the table).
	EvictionsProbation uint64
	EvictionsProtected uint64
}

// ProbationLimit is how many sessions seen only one way (a SYN not yet
// answered, a one-way UDP exchange) a table of maxSessions holds: a
// sixteenth, but at least 4096 (or all). A SYN flood or a scan cycles
// through these alone; kept this small, its entries, their index and their
// sessions stay in the CPU's caches (262,144 sessions of about 350 bytes
// touched each do not), which doubled the flood's packets per CPU-second.
// A real handshake that a flood pushes out before its answer is started by
// the SYN-ACK, one round trip late (TestSynAckStartsAnEvictedHandshake).
func ProbationLimit(maxSessions int) int {
	return max(maxSessions/16, min(maxSessions, 4096))
}

// Tracker follows the sessions of one worker's hosts.
//
// The sessions sending at any moment are far fewer than the tables hold,
// and their packets come in trains, so a small direct-mapped cache of
// recently used sessions sits in front of the LRU tables (an exact-match
// cache, as in Open vSwitch): a hit costs one compare instead of a map
// lookup and a list move. The LRU order is refreshed at most once per
// promoteEvery of capture time per session, and the sweep (once a second)
// puts stale entries back in order before it trusts the oldest, so idle
// sessions still end on time, and a full table evicts the least recently
// active session to within a second.
type Tracker struct {
	cfg      Config
	internal *netset.Set
	h        Handler
	ph       PayloadHandler // h, when it reads first payloads
	proxies  Proxies
	tcp      *slru.Table[Key, *Session]
	udp      *slru.Table[Key, *Session]
	free     []*Session
	stats    Stats

	cache  [cacheSlots]cacheSlot
	seed   uint64
	newest int64 // the latest promotion: the LRU's front entry's promoted time

	udpIdle, tcpIdle, burstGap int64
	nextSweep                  int64
}

const sweepEvery = int64(time.Second)

// promoteEvery bounds how often a busy session is moved to the LRU's front.
const promoteEvery = int64(time.Second)

// cacheSlots is the size of the session cache (a power of two): 4096 slots
// of 48 bytes stay in a core's L2 cache.
const (
	cacheBits  = 12
	cacheSlots = 1 << cacheBits
)

type cacheSlot struct {
	key Key
	s   *Session
}

// slot hashes a key to its cache slot. A seeded multiply-xorshift: crafted
// collisions cost only cache misses, never more than the table lookup.
func (t *Tracker) slot(k *Key) *cacheSlot {
	c := binary.LittleEndian.Uint64(k.Client[:8]) ^ binary.LittleEndian.Uint64(k.Client[8:])
	v := binary.LittleEndian.Uint64(k.Server[:8]) ^ binary.LittleEndian.Uint64(k.Server[8:])
	h := (c ^ t.seed) * 0x9e3779b97f4a7c15
	h ^= v ^ uint64(k.ClientPort)<<32 ^ uint64(k.ServerPort)<<16 ^ uint64(k.Proto)
	h *= 0xbf58476d1ce4e5b9
	return &t.cache[h>>(64-cacheBits)]
}

// keyHash hashes session keys for a table: the multiply-and-fold mixing of
// wyhash (the runtime's map hash where AES is missing) over the key's five
// words, each mixed with a secret drawn per table, so addresses and ports
// chosen by a flood cannot aim at one probe chain. It is several times
// cheaper than maphash.Comparable on the 38-byte key, which a flood hashes
// once per packet.
type keyHash struct{ k [6]uint64 }

func newKeyHash() *keyHash {
	h := &keyHash{}
	for i := range h.k {
		h.k[i] = rand.Uint64() | 1
	}
	return h
}

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

func (h *keyHash) sum(k Key) uint64 {
	c0 := binary.LittleEndian.Uint64(k.Client[:8])
	c1 := binary.LittleEndian.Uint64(k.Client[8:])
	s0 := binary.LittleEndian.Uint64(k.Server[:8])
	s1 := binary.LittleEndian.Uint64(k.Server[8:])
	p := uint64(k.ClientPort) | uint64(k.ServerPort)<<16 | uint64(k.Proto)<<32
	a := mix(c0^h.k[0], c1^h.k[1])
	b := mix(s0^h.k[2], s1^h.k[3])
	return mix(a^p^h.k[4], b^h.k[5])
}

// get finds a session through the cache, then the table l.
func (t *Tracker) get(l *slru.Table[Key, *Session], k *Key, ts int64) (*Session, bool) {
	sl := t.slot(k)
	if s := sl.s; s != nil && sl.key.equal(k) {
		if ts-s.promoted >= promoteEvery {
			l.Get(*k)
			t.promote(s, ts)
		}
		return s, true
	}
	s, ok := l.Get(*k)
	if ok {
		sl.key, sl.s = *k, s
		t.promote(s, max(s.promoted, ts))
	}
	return s, ok
}

// promote records that s was just moved to the LRU's front at capture time ts.
func (t *Tracker) promote(s *Session, ts int64) {
	s.promoted = ts
	t.newest = max(t.newest, ts)
}

// add puts a new session in table l and the cache.
func (t *Tracker) add(l *slru.Table[Key, *Session], k *Key, s *Session) {
	if l.Add(*k, s) {
		t.stats.Evictions++
	}
	t.promote(s, s.Start)
	sl := t.slot(k)
	sl.key, sl.s = *k, s
}

// Proxies says which internal address and port is an explicit web proxy.
// It is asked only for internal ↔ internal TCP packets.
type Proxies interface {
	IsProxy(a netip.Addr, port uint16) bool
}

// TrackProxies makes the tracker follow internal hosts' sessions to the
// proxies px names, as if the proxy were external.
func (t *Tracker) TrackProxies(px Proxies) { t.proxies = px }

// NewTracker builds a tracker that reports to h.
func NewTracker(cfg Config, internal *netset.Set, h Handler) (*Tracker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("flow: %w", err)
	}
	t := &Tracker{
		cfg:      cfg,
		internal: internal,
		h:        h,
		udpIdle:  int64(cfg.UDPIdle),
		tcpIdle:  int64(cfg.TCPIdle),
		burstGap: int64(cfg.BurstGap),
		seed:     rand.Uint64(),
	}
	t.ph, _ = h.(PayloadHandler)
	// Every removal — close, idle sweep or capacity eviction — passes through
	// the callback, so a session's end is reported exactly once.
	var err error
	// The tables hash with a keyed hash of their own, not with the cache's:
	// a crafted collision there costs one cache miss, in a table a whole
	// probe chain.
	if t.tcp, err = slru.NewHashed(cfg.MaxSessions, 0, newKeyHash().sum, t.ended); err != nil {
		return nil, fmt.Errorf("flow: %w", err)
	}
	if t.udp, err = slru.NewHashed(cfg.MaxSessions, 0, newKeyHash().sum, t.ended); err != nil {
		return nil, fmt.Errorf("flow: %w", err)
	}
	t.tcp.LimitProbation(ProbationLimit(cfg.MaxSessions))
	t.udp.LimitProbation(ProbationLimit(cfg.MaxSessions))
	return t, nil
}

func (t *Tracker) ended(k Key, s *Session) {
	if sl := t.slot(&k); sl.s == s {
		sl.s = nil
	}
	t.stats.SessionsEnded++
	if s.Handshaking {
		t.stats.Unanswered++
	}
	if s.burstAt != 0 {
		t.h.BurstEnd(s, s.burstAt, uint64(s.reqOut), uint64(s.respIn))
	}
	t.h.SessionEnd(s)
	*s = Session{}
	t.free = append(t.free, s)
}

// MayBeCounted reports whether the live pre-filter (bpf/) can hold counts of
// packets of the session that the tracker did not see. It counts nothing of
// a TCP session before it passed the server's SYN-ACK or a segment that is
// not a SYN, FIN or RST, nor of a UDP direction before it passed two
// datagrams of it; so a session without such packets (a port scan's SYN and
// RST, a lone datagram out) has nothing to take from it. An inbound datagram
// counts as two: the first of its direction may have come before the
// session, untracked.
func (s *Session) MayBeCounted() bool {
	if s.Key.Proto == decode.ProtoTCP {
		return s.countable
	}
	return s.PktsOut >= 2 || s.PktsIn > 0
}

func (t *Tracker) newSession() *Session {
	if n := len(t.free); n > 0 {
		s := t.free[n-1]
		t.free = t.free[:n-1]
		return s
	}
	return new(Session)
}

// Tracking reports whether a session with key k is tracked now (without
// touching its recency): after a session ended, whether a new one has begun
// on the same 5-tuple.
func (t *Tracker) Tracking(k Key) bool {
	l := t.udp
	if k.Proto == decode.ProtoTCP {
		l = t.tcp
	}
	_, ok := l.Peek(k)
	return ok
}

// Stats returns the tracker's counters.
func (t *Tracker) Stats() Stats {
	s := t.stats
	s.ActiveTCP = uint64(t.tcp.Len())
	s.ActiveUDP = uint64(t.udp.Len())
	s.EvictionsProbation = t.tcp.Evictions(slru.Probation) + t.udp.Evictions(slru.Probation)
	s.EvictionsProtected = t.tcp.Evictions(slru.Protected) + t.udp.Evictions(slru.Protected)
	return s
}

// Packet accounts one decoded TCP or UDP packet. Packets that are not
// between an internal and an external host are counted and ignored:
// internal↔internal traffic never makes an alert.
func (t *Tracker) Packet(p *decode.Packet) {
	t.stats.Packets++
	if t.SweepDue(p.TS) {
		t.Sweep(p.TS)
	}
	if p.Proto != decode.ProtoTCP && p.Proto != decode.ProtoUDP {
		t.stats.Untracked++
		return
	}
	// Quick, inlined, answers for most IPv4 ends; Contains for the rest.
	srcIn, known := t.internal.Quick(p.Src)
	if !known {
		srcIn = t.internal.Contains(p.Src)
	}
	dstIn, known := t.internal.Quick(p.Dst)
	if !known {
		dstIn = t.internal.Contains(p.Dst)
	}
	if srcIn == dstIn {
		// Internal ↔ internal is untracked, except a client's session
		// to an explicit proxy: its egress, named by the request.
		switch {
		case !srcIn || t.proxies == nil || p.Proto != decode.ProtoTCP:
			t.stats.Untracked++
			return
		case t.proxies.IsProxy(p.Dst, p.DstPort):
			dstIn = false
		case t.proxies.IsProxy(p.Src, p.SrcPort):
			srcIn = false
		default:
			t.stats.Untracked++
			return
		}
	}
	out := srcIn
	k := Key{ClientPort: p.SrcPort, ServerPort: p.DstPort, Proto: p.Proto}
	client, server := p.Src, p.Dst
	if !out {
		k.ClientPort, k.ServerPort = p.DstPort, p.SrcPort
		client, server = p.Dst, p.Src
	}
	putAddr(&k.Client, client)
	putAddr(&k.Server, server)
	if p.Proto == decode.ProtoTCP {
		t.tcpPacket(p, &k, out)
	} else {
		t.udpPacket(p, &k, out)
	}
}

// protect promotes a session to its table's protected class the first time
// both directions have been seen — and, for TCP, the handshake completed and
// data flowed: a SYN answered by a SYN-ACK or an RST, or a handshake with
// nothing after it, is what a port scan leaves, and must not push out
// established sessions. A restarted or closed session was removed before.
func (t *Tracker) protect(l *slru.Table[Key, *Session], s *Session, ts int64) {
	if s.protected || s.PktsOut == 0 || s.PktsIn == 0 {
		return
	}
	if s.Key.Proto == decode.ProtoTCP && (s.Handshaking || s.BytesOut+s.BytesIn == 0) {
		return
	}
	s.protected = true
	if l.Promote(s.Key) {
		t.stats.Evictions++
	}
	// Promote moved it to the front: the sweep's order is by promotion time.
	t.promote(s, max(s.promoted, ts))
}

func (t *Tracker) tcpPacket(p *decode.Packet, k *Key, out bool) {
	flags := p.TCPFlags
	syn := flags&(decode.TCPSyn|decode.TCPAck) == decode.TCPSyn
	s, ok := t.get(t.tcp, k, p.TS)
	if ok && syn && out && !s.Midstream && s.PktsIn == 0 && s.BytesOut == 0 {
		// A retransmitted SYN of a connection not yet answered: same session.
		t.account(s, p, out)
		return
	}
	if syn && out {
		if ok {
			// Port reuse: the old connection is over.
			s.Restarted = true
			t.tcp.Remove(*k)
		}
		s = t.open(p, k, false)
		s.Handshaking = true
		t.add(t.tcp, k, s)
		t.account(s, p, out)
		return
	}
	if !ok && !out && flags&(decode.TCPSyn|decode.TCPAck|decode.TCPRst) == decode.TCPSyn|decode.TCPAck {
		// The server answers a SYN the table no longer holds (a flood turned
		// probation over within the round trip) or the capture missed: the
		// handshake is as good as seen, and the session starts now, one
		// round trip after its SYN.
		s = t.open(p, k, false)
		s.countable = true
		t.add(t.tcp, k, s)
		t.h.SessionStart(s)
		t.account(s, p, out)
		return
	}
	if !ok {
		// Joined mid-stream (the capture began after the SYN, or the SYN was
		// lost): track it for bytes and bursts, but it is no beat. Trailing
		// ACKs, FINs and RSTs of a closed session carry no data and are ignored.
		if p.PayloadLen == 0 || flags&(decode.TCPFin|decode.TCPRst|decode.TCPSyn) != 0 {
			t.stats.Untracked++
			return
		}
		s = t.open(p, k, true)
		t.add(t.tcp, k, s)
	}
	if flags&(decode.TCPSyn|decode.TCPFin|decode.TCPRst) == 0 || flags&(decode.TCPSyn|decode.TCPAck|decode.TCPRst) == decode.TCPSyn|decode.TCPAck {
		s.countable = true
	}
	if s.Handshaking && flags&decode.TCPRst == 0 &&
		(!out && flags&(decode.TCPSyn|decode.TCPAck) == decode.TCPSyn|decode.TCPAck || out && flags&decode.TCPAck != 0 || p.PayloadLen > 0) {
		s.Handshaking = false
		t.h.SessionStart(s)
	}
	t.account(s, p, out)
	t.protect(t.tcp, s, p.TS)
	switch {
	case flags&decode.TCPRst != 0:
		t.tcp.Remove(*k)
	case flags&decode.TCPFin != 0:
		if out {
			s.finOut = true
		} else {
			s.finIn = true
		}
		if s.finOut && s.finIn {
			t.tcp.Remove(*k)
		}
	}
}

func (t *Tracker) udpPacket(p *decode.Packet, k *Key, out bool) {
	s, ok := t.get(t.udp, k, p.TS)
	if ok && p.TS-s.Last > t.udpIdle {
		s.Restarted = true
		t.udp.Remove(*k)
		ok = false
	}
	if !ok {
		if !out {
			// Unsolicited inbound UDP is not an internal host's session.
			t.stats.Untracked++
			return
		}
		s = t.open(p, k, false)
		t.add(t.udp, k, s)
		t.account(s, p, out)
		t.h.SessionStart(s)
		t.watch(s, p, out)
		return
	}
	t.account(s, p, out)
	t.protect(t.udp, s, p.TS)
}

func (t *Tracker) open(p *decode.Packet, k *Key, midstream bool) *Session {
	s := t.newSession()
	s.Key = *k
	if p.Src.As16() == k.Client {
		s.ClientAddr, s.ServerAddr = p.Src, p.Dst
		s.ClientMAC, s.HasMAC = p.SrcMAC, p.HasMAC
	} else {
		s.ClientAddr, s.ServerAddr = p.Dst, p.Src
		s.ClientMAC, s.HasMAC = p.DstMAC, p.HasMAC
	}
	s.Start = p.TS
	s.Midstream = midstream
	if midstream {
		t.stats.SessionsJoined++
	} else {
		t.stats.SessionsStarted++
	}
	s.Last = p.TS
	s.LastOut = p.TS
	s.answered = true // the client's first request is one too
	return s
}

func (t *Tracker) account(s *Session, p *decode.Packet, out bool) {
	// The name first: a burst of a session still waiting for its name
	// must be keyed by it.
	t.watch(s, p, out)
	if out {
		if int(p.PayloadLen) >= t.cfg.MinBurstLen {
			paced := false
			if s.answered {
				s.answered = false
				paced = t.pace(s, p.TS)
			}
			switch {
			case (p.TS-s.LastOut >= t.burstGap || paced) && s.PktsOut > 0:
				s.Bursts++
				t.stats.Bursts++
				if s.burstAt != 0 {
					t.h.BurstEnd(s, s.burstAt, uint64(s.reqOut), uint64(s.respIn))
				}
				s.burstAt, s.reqOut, s.respIn, s.exch = p.TS, p.PayloadLen, 0, exchRequest
				t.h.Burst(s, p.TS)
			case s.exch == exchRequest:
				s.reqOut += p.PayloadLen
			case s.exch == exchAnswer:
				s.exch = exchDone
			}
			s.LastOut = p.TS
		}
		s.BytesOut += uint64(p.PayloadLen)
		s.PktsOut++
	} else {
		if p.PayloadLen > 0 {
			s.answered = true
		}
		if s.burstAt != 0 && s.exch != exchDone && p.PayloadLen > 0 {
			s.respIn += p.PayloadLen
			s.exch = exchAnswer
		}
		s.BytesIn += uint64(p.PayloadLen)
		s.PktsIn++
	}
	if p.TS > s.Last {
		s.Last = p.TS
	}
}

// Keep-alive pings faster than the burst gap never leave the client silent
// for a whole gap, so the gap alone makes them one endless burst. A session
// whose requests themselves keep a steady pace is such a loop: each of its
// requests is a burst. Requests count toward the pace only when they follow
// an answer (the server spoke since the previous request), are at least
// paceMin apart, and the exchange before them was small both ways (at most
// paceMaxBytes): typing, browsing and video fetch at uneven times or move
// more bytes per exchange, and a bulk transfer never waits for an answer.
//
// paceMin is 2 s, not the detector's 1 s minimum period: the live
// pre-filter (bpf/) passes one packet per flow direction a second of a flow
// that never pauses, so user space sees a download or fast typing as small
// exchanges 1.0-1.3 s apart, as even as a ping loop. Twice the sample is
// above that clock.
const (
	paceMin      = 2000 // ms
	paceMaxBytes = 4096 // bytes each way of one exchange of a ping loop
	paceTol      = 10   // a request is on pace within 1/paceTol of the smoothed spacing
	paceRuns     = 4    // requests on pace in a row before they are bursts (from the fifth spacing on)
)

// pace records a request starting at ts that follows an answer and reports
// whether it is a burst of a steady request loop. It runs once per request,
// not per packet, and keeps its state in the session (no allocation).
func (t *Tracker) pace(s *Session, ts int64) bool {
	now := uint32((ts - s.Start) / int64(time.Millisecond))
	gap := now - s.reqAt
	out, in := uint32(s.BytesOut)-s.reqBytesOut, uint32(s.BytesIn)-s.reqBytesIn
	s.reqAt, s.reqBytesOut, s.reqBytesIn = now, uint32(s.BytesOut), uint32(s.BytesIn)
	switch {
	case gap < paceMin || out > paceMaxBytes || in > paceMaxBytes:
		s.paceRun, s.pace = 0, 0
		return false
	case s.pace != 0 && gap+s.pace/paceTol >= s.pace && gap <= s.pace+s.pace/paceTol:
		if s.paceRun < 255 {
			s.paceRun++
		}
		// Follow a slow drift (a timer's sleep plus the exchange's own
		// time), not a jump.
		s.pace = s.pace - s.pace/4 + gap/4
	default:
		s.paceRun, s.pace = 0, gap
		return false
	}
	if s.paceRun < paceRuns || int64(gap)*int64(time.Millisecond) >= t.burstGap {
		// At the burst gap and above the silence alone makes it a burst.
		return false
	}
	t.stats.PacedBursts++
	return true
}

// watch shows the handler a packet with payload of a session it asked to
// see (Watch > 0): outbound ones count Watch down; inbound ones are shown
// too (when the server speaks first no client name will come), and the
// handler ends the watch by clearing Watch. The payload on the wire counts, captured or not: a sharded
// replay keeps only the bytes that can carry a name, and the handler must
// learn that the first payload has passed.
func (t *Tracker) watch(s *Session, p *decode.Packet, out bool) {
	if s.Watch == 0 || p.PayloadLen == 0 || t.ph == nil {
		return
	}
	if out {
		s.Watch--
	}
	t.ph.Payload(s, p, out)
}

// SweepDue reports whether Packet would sweep before a packet captured at
// ts: a tracker fed part of a capture (a sharded replay's worker) sweeps
// at the other packets too, as one fed all of it does.
func (t *Tracker) SweepDue(ts int64) bool { return ts >= t.nextSweep }

// Sweep ends sessions idle at capture time now. Packet calls it about once a
// second of capture time; a live sensor with no traffic should call it from a
// timer so that ends are still reported.
func (t *Tracker) Sweep(now int64) {
	t.nextSweep = now + sweepEvery
	t.sweep(t.udp, now, t.udpIdle)
	t.sweep(t.tcp, now, t.tcpIdle)
}

// sweep ends l's idle sessions. The LRU is ordered by promotion time, and a
// session is promoted at most promoteEvery after its latest packet. Once the
// oldest entry is alive, every session behind it was promoted later, so
// none of them is more than promoteEvery past its idle time: the sweep stops
// there. An alive oldest entry whose latest packet is newer than every
// promotion can go to the front exactly, and the sweep looks on.
func (t *Tracker) sweep(l *slru.Table[Key, *Session], now, idle int64) {
	for {
		k, s, ok := l.Oldest()
		switch {
		case !ok:
			return
		case now-s.Last > idle:
			l.RemoveOldest()
		case s.promoted >= s.Last || s.Last < t.newest:
			return
		default:
			l.Get(k)
			t.promote(s, s.Last)
		}
	}
}

// Flush ends every session, as at the end of a capture.
func (t *Tracker) Flush() {
	// Oldest first, so that the end events come in a reproducible order.
	for t.udp.Len() > 0 {
		t.udp.RemoveOldest()
	}
	for t.tcp.Len() > 0 {
		t.tcp.RemoveOldest()
	}
}
