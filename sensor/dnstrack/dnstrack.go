// Package dnstrack remembers which name each internal client resolved to
// which address, so that a connection to a rotating CDN address is grouped
// under the name the host asked for rather than under the address.
//
// It reads DNS over UDP and TCP port 53 (TCP: RFC 1035 length-prefixed
// messages, several per segment or one across segments), keeps A/AAAA
// answers per client until their TTL (plus a grace period) runs out, and
// reports every query to a callback so that periodic lookups can be scored.
// A Tracker belongs to one worker; its tables are bounded LRUs.
package dnstrack

import (
	"encoding/binary"
	"flag"
	"fmt"
	"hash/maphash"
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/miekg/dns"

	"github.com/launchtap/launchtap/sensor/decode"
	"github.com/launchtap/launchtap/sensor/slru"
)

// Config bounds the answer cache and the TCP reassembly.
type Config struct {
	MaxAnswers    int           // (client, address) → name entries per worker
	MinTTL        time.Duration // answers live at least this long (clients cache longer than tiny TTLs say)
	Grace         time.Duration // added to every TTL: a connection shortly after expiry still used the name
	MaxTCPStreams int           // DNS-over-TCP streams being reassembled per worker
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{MaxAnswers: 1 << 17, MinTTL: 60 * time.Second, Grace: 10 * time.Minute, MaxTCPStreams: 1024}
}

// RegisterFlags binds the config to command-line flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.MaxAnswers, "max-dns-answers", c.MaxAnswers, "DNS answers (client, address → name) kept per worker; least recently used evicted")
	fs.DurationVar(&c.MinTTL, "dns-min-ttl", c.MinTTL, "shortest time a DNS answer is kept, whatever its TTL")
	fs.DurationVar(&c.Grace, "dns-grace", c.Grace, "time a DNS answer is kept past its TTL")
	fs.IntVar(&c.MaxTCPStreams, "max-dns-tcp-streams", c.MaxTCPStreams, "DNS-over-TCP streams reassembled at once per worker")
}

// Validate reports the first unusable value, naming its flag.
func (c *Config) Validate() error {
	switch {
	case c.MaxAnswers < 16:
		return fmt.Errorf("max-dns-answers: %d is below the minimum of 16", c.MaxAnswers)
	case c.MaxTCPStreams < 1:
		return fmt.Errorf("max-dns-tcp-streams: must be at least 1, got %d", c.MaxTCPStreams)
	case c.MinTTL < 0 || c.Grace < 0:
		return fmt.Errorf("dns-min-ttl, dns-grace: must not be negative")
	}
	return nil
}

// QueryHandler is told of every DNS query an internal client sends, and to
// which resolver.
type QueryHandler interface {
	DNSQuery(client netip.Addr, mac [6]byte, hasMAC bool, resolver netip.Addr, name string, qtype uint16, ts int64)
}

// AnswerHandler, when the QueryHandler also implements it, is told of every
// successful response a client receives: the name it asked, the smallest
// TTL on the answer chain (how long the client may cache it) and the first
// address at the chain's end (invalid when the answer holds none). A client
// that asks again before the TTL runs out is not relying on a cache (see
// pipeline's DNS-channel beats).
type AnswerHandler interface {
	DNSAnswer(client netip.Addr, name string, qtype uint16, ttl time.Duration, addr netip.Addr, ts int64)
}

// Stats are cumulative counters of one tracker. Malformed counts by kind.
type Stats struct {
	Queries           uint64
	Responses         uint64
	Answers           uint64 // A/AAAA records stored
	Evictions         uint64 // answers dropped because the cache was full
	Malformed         uint64 // messages miekg/dns could not unpack
	FastResponses     uint64 // responses read in place, without a whole unpack (also in Responses)
	Truncated         uint64 // payload cut by the snap length
	TCPGaps           uint64 // TCP streams abandoned after a missing segment
	TCPOversize       uint64 // TCP length prefix beyond what a DNS message can be
	TCPEvictions      uint64
	Lookups, Hits     uint64
	MACHits           uint64 // names found by the client's MAC (dual-stack hosts)
	MACEvictions      uint64 // always 0: answers are no longer copied into a table by MAC (NameByMAC reads the answers)
	MACOwnerEvictions uint64 // MACs dropped from the table of the client addresses each MAC resolved for
	Entries           uint64
	NameCacheMisses   uint64 // question names unpacked because the cache of recent ones lacked them (questionName)
}

type answerKey struct{ client, addr [16]byte }

type answer struct {
	name    string
	expires int64
	at      int64 // when the response was read: a checkpoint saves the answers stored since the last
}

type streamKey struct {
	src, dst         [16]byte
	srcPort, dstPort uint16
}

type stream struct {
	next uint32 // sequence number expected next
	buf  []byte
}

// maxTCPMessage is the largest message a 16-bit length prefix allows, plus the prefix.
const maxTCPMessage = 2 + 65535

// Tracker parses DNS and answers name lookups for one worker.
type Tracker struct {
	cfg Config
	// answers is a plain LRU (nothing is promoted).
	answers    *slru.Table[answerKey, answer]
	streams    *simplelru.LRU[streamKey, *stream]
	queries    QueryHandler
	answerH    AnswerHandler                     // queries, when it implements it; else nil
	macs       *slru.Table[[6]byte, *macClients] // client addresses each MAC resolved for (NameByMAC)
	lastMAC    [6]byte                           // the last MAC and client noted in macs
	lastClient [16]byte
	msg        dns.Msg
	chain      []string
	fast       fastResponse
	chainAt    []int
	found      []found
	ans        answered             // what the last successful response let its client cache
	names      *[nameSlots]nameSlot // recent question names (questionName)
	nameSeed   maphash.Seed
	stats      Stats
	minTTL     int64
	grace      int64
}

// New builds a tracker; q may be nil.
func New(cfg Config, q QueryHandler) (*Tracker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("dnstrack: %w", err)
	}
	t := &Tracker{cfg: cfg, queries: q, minTTL: int64(cfg.MinTTL), grace: int64(cfg.Grace),
		names: new([nameSlots]nameSlot), nameSeed: maphash.MakeSeed()}
	t.answerH, _ = q.(AnswerHandler)
	var err error
	if t.answers, err = slru.New[answerKey, answer](cfg.MaxAnswers, 0, nil); err != nil {
		return nil, fmt.Errorf("dnstrack: %w", err)
	}
	if t.streams, err = simplelru.NewLRU[streamKey, *stream](cfg.MaxTCPStreams, nil); err != nil {
		return nil, fmt.Errorf("dnstrack: %w", err)
	}
	if t.macs, err = newMACClients(cfg.MaxAnswers, func() { t.stats.MACOwnerEvictions++ }); err != nil {
		return nil, fmt.Errorf("dnstrack: %w", err)
	}
	return t, nil
}

// Stats returns the tracker's counters.
func (t *Tracker) Stats() Stats {
	s := t.stats
	s.Entries = uint64(t.answers.Len())
	return s
}

// IsDNS reports whether the packet is DNS by port.
func IsDNS(p *decode.Packet) bool {
	return (p.Proto == decode.ProtoUDP || p.Proto == decode.ProtoTCP) && (p.SrcPort == 53 || p.DstPort == 53)
}

// Packet reads a DNS packet (IsDNS must be true). Bad messages are counted, never fatal.
func (t *Tracker) Packet(p *decode.Packet) {
	if uint32(len(p.Payload)) < p.PayloadLen {
		t.stats.Truncated++
		return
	}
	if p.Proto == decode.ProtoUDP {
		t.message(p, p.Payload)
		return
	}
	if len(p.Payload) == 0 {
		return
	}
	k := streamKey{src: p.Src.As16(), dst: p.Dst.As16(), srcPort: p.SrcPort, dstPort: p.DstPort}
	data := p.Payload
	st, ok := t.streams.Get(k)
	if ok {
		if p.Seq != st.next {
			t.stats.TCPGaps++
			t.streams.Remove(k)
			return
		}
		if len(st.buf)+len(data) > maxTCPMessage {
			t.stats.TCPOversize++
			t.streams.Remove(k)
			return
		}
		st.buf = append(st.buf, data...)
		data = st.buf
	}
	rest := t.tcpMessages(p, data)
	switch {
	case len(rest) == 0 && ok:
		t.streams.Remove(k)
	case len(rest) > 0 && ok:
		n := copy(st.buf, rest)
		st.buf = st.buf[:n]
		st.next = p.Seq + uint32(len(p.Payload))
	case len(rest) > 0:
		if t.streams.Len() >= t.cfg.MaxTCPStreams {
			t.stats.TCPEvictions++
		}
		t.streams.Add(k, &stream{next: p.Seq + uint32(len(p.Payload)), buf: append(make([]byte, 0, len(rest)), rest...)})
	}
}

// tcpMessages parses every complete length-prefixed message in data and
// returns the incomplete tail.
func (t *Tracker) tcpMessages(p *decode.Packet, data []byte) []byte {
	for len(data) >= 2 {
		n := int(binary.BigEndian.Uint16(data))
		if len(data) < 2+n {
			return data
		}
		t.message(p, data[2:2+n])
		data = data[2+n:]
	}
	return data
}

func (t *Tracker) message(p *decode.Packet, b []byte) {
	if len(b) >= 12 && b[2]&0x80 == 0 {
		t.query(p, b)
		return
	}
	want := p.SrcPort == 53 // only a server's answers are stored
	rcode, qname, ok := t.fastResponse(b, want)
	if ok {
		t.stats.FastResponses++
	} else if rcode, qname, ok = t.fullResponse(b, want); !ok {
		t.stats.Malformed++
		return
	}
	t.stats.Responses++ // queries took the path above
	if rcode != dns.RcodeSuccess || !want {
		return
	}
	if t.answerH != nil && t.ans.data {
		t.answerH.DNSAnswer(p.Dst, qname, t.ans.qtype, time.Duration(t.ans.ttl)*time.Second, t.ans.first, p.TS)
	}
	client := p.Dst.As16()
	if len(t.found) > 0 && p.HasMAC && usableMAC(p.DstMAC) {
		t.noteClient(p.DstMAC, p.Dst)
	}
	for _, f := range t.found {
		ttl := int64(f.ttl) * int64(time.Second)
		if ttl < t.minTTL {
			ttl = t.minTTL
		}
		t.stats.Answers++
		a := answer{name: qname, expires: p.TS + ttl + t.grace, at: p.TS}
		if t.answers.Add(answerKey{client: client, addr: f.addr.As16()}, a) {
			t.stats.Evictions++
		}
	}
}

// answered is what a successful response tells its client it may cache,
// for the AnswerHandler: both response paths fill it.
type answered struct {
	ttl   uint32 // smallest on the question's CNAME chain
	data  bool   // the chain ends in data, not CNAMEs alone
	first netip.Addr
	qtype uint16
}

// found is an address record on the question's CNAME chain.
type found struct {
	addr netip.Addr
	ttl  uint32
}

// fastResponse reads response b in place (see fast.go) into t.found when
// chain is set. ok false: the whole unpack must read it.
func (t *Tracker) fastResponse(b []byte, chain bool) (rcode int, qname string, ok bool) {
	t.found = t.found[:0]
	r := &t.fast
	if !r.walk(b) {
		return 0, "", false
	}
	if r.rcode != dns.RcodeSuccess || !chain {
		return r.rcode, "", true
	}
	// The chain as name offsets, the question's first: the same fixed point
	// as fullResponse's.
	t.chainAt = append(t.chainAt[:0], 12)
	inChain := func(off int) bool {
		for _, c := range t.chainAt {
			if sameName(b, c, off) {
				return true
			}
		}
		return false
	}
	for changed := true; changed; {
		changed = false
		for _, a := range r.answers {
			if a.typ == typeCNAME && inChain(a.name) && !inChain(a.rdata) && len(t.chainAt) < 16 {
				t.chainAt = append(t.chainAt, a.rdata)
				changed = true
			}
		}
	}
	qend := skipName(b, 12) // walk checked the question
	t.ans = answered{ttl: math.MaxUint32, qtype: binary.BigEndian.Uint16(b[qend:])}
	for _, a := range r.answers {
		if !inChain(a.name) {
			continue
		}
		t.ans.ttl = min(t.ans.ttl, a.ttl)
		if a.typ != typeCNAME {
			t.ans.data = true
		}
		var addr netip.Addr
		switch a.typ {
		case typeA:
			addr = netip.AddrFrom4([4]byte(b[a.rdata : a.rdata+4]))
		case typeAAAA:
			addr = netip.AddrFrom16([16]byte(b[a.rdata : a.rdata+16]))
		default:
			continue
		}
		if !t.ans.first.IsValid() {
			t.ans.first = addr
		}
		t.found = append(t.found, found{addr: addr, ttl: a.ttl})
	}
	if t.ans.data {
		// The name the answers are stored under: usually the query's,
		// which the cache of question names holds, so nothing is
		// unpacked or allocated.
		name, _, err := t.questionName(b)
		if err != nil { // unreachable: walk checked the name
			return 0, "", false
		}
		qname = name
	}
	return r.rcode, qname, true
}

// fullResponse unpacks response b with miekg/dns, for what the fast path
// declines. ok false: the message is malformed.
func (t *Tracker) fullResponse(b []byte, chain bool) (rcode int, qname string, ok bool) {
	t.found = t.found[:0]
	if err := t.msg.Unpack(b); err != nil || len(t.msg.Question) == 0 {
		return 0, "", false
	}
	if t.msg.Rcode != dns.RcodeSuccess || !chain {
		return t.msg.Rcode, "", true
	}
	qname = normalize(t.msg.Question[0].Name)
	// The name a host asked for heads the CNAME chain; every address at the
	// chain's end belongs to it. Records off the chain are ignored, so a
	// response cannot attach an unrelated name to an address.
	t.chain = append(t.chain[:0], strings.ToLower(t.msg.Question[0].Name))
	for changed := true; changed; {
		changed = false
		for _, rr := range t.msg.Answer {
			c, ok := rr.(*dns.CNAME)
			if ok && t.inChain(c.Hdr.Name) && !t.inChain(c.Target) && len(t.chain) < 16 {
				t.chain = append(t.chain, strings.ToLower(c.Target))
				changed = true
			}
		}
	}
	// What the client may cache: the smallest TTL on the chain, whether the
	// chain ends in data (not a NODATA chain of CNAMEs alone), its first
	// address.
	t.ans = answered{ttl: math.MaxUint32, qtype: t.msg.Question[0].Qtype}
	for _, rr := range t.msg.Answer {
		if !t.inChain(rr.Header().Name) {
			continue
		}
		t.ans.ttl = min(t.ans.ttl, rr.Header().Ttl)
		if rr.Header().Rrtype != dns.TypeCNAME {
			t.ans.data = true
		}
		if !t.ans.first.IsValid() {
			switch a := rr.(type) {
			case *dns.A:
				t.ans.first, _ = netip.AddrFromSlice(a.A.To4())
			case *dns.AAAA:
				t.ans.first, _ = netip.AddrFromSlice(a.AAAA.To16())
			}
		}
	}
	for _, rr := range t.msg.Answer {
		var addr netip.Addr
		switch a := rr.(type) {
		case *dns.A:
			addr, _ = netip.AddrFromSlice(a.A.To4())
		case *dns.AAAA:
			addr, _ = netip.AddrFromSlice(a.AAAA.To16())
		default:
			continue
		}
		if !addr.IsValid() || !t.inChain(rr.Header().Name) {
			continue
		}
		t.found = append(t.found, found{addr: addr, ttl: rr.Header().Ttl})
	}
	return t.msg.Rcode, qname, true
}

// query reads a query's first question. Only the question is used, so
// only it is unpacked (miekg/dns's name decoder): a whole-message unpack
// would also decode the EDNS record most queries carry, costing several
// times as much for nothing.
func (t *Tracker) query(p *decode.Packet, b []byte) {
	if binary.BigEndian.Uint16(b[4:]) == 0 {
		t.stats.Malformed++ // no question
		return
	}
	name, off, err := t.questionName(b)
	var qtype uint16
	switch {
	case err != nil:
		t.stats.Malformed++
		return
	case off+2 <= len(b):
		qtype = binary.BigEndian.Uint16(b[off:])
	case off != len(b):
		t.stats.Malformed++ // cut inside the type
		return
	}
	// As in a whole-message unpack, a question that ends after its name or
	// its type is accepted (type 0 when missing).
	t.stats.Queries++
	if t.queries != nil && p.DstPort == 53 {
		t.queries.DNSQuery(p.Src, p.SrcMAC, p.HasMAC, p.Dst, name, qtype, p.TS)
	}
}

// nameSlots is the size of the cache of question names (a power of two):
// a worker's hosts ask for the same few hundred names all day. Queries and
// the responses to them share it.
const nameSlots = 512

// nameSlot is a question name in wire form and as DNSQuery gets it.
type nameSlot struct{ wire, name string }

// questionName returns the normalized name of the question at offset 12
// of b and the offset after it, as dns.UnpackDomainName and normalize do.
// An uncompressed name (a query's always is) is looked up by its wire
// form in a small direct-mapped cache first, so a name asked before is
// neither unpacked nor allocated again; a slot's previous name is simply
// replaced (the misses are counted).
func (t *Tracker) questionName(b []byte) (string, int, error) {
	end := 12
	for end < len(b) && b[end] != 0 {
		if b[end]&0xc0 != 0 { // a pointer or a reserved label type: unpack
			end = len(b)
			break
		}
		end += 1 + int(b[end])
	}
	if end >= len(b) {
		name, off, err := dns.UnpackDomainName(b, 12)
		return normalize(name), off, err
	}
	wire := b[12 : end+1]
	sl := &t.names[maphash.Bytes(t.nameSeed, wire)&(nameSlots-1)]
	if sl.wire == string(wire) { // compared in place: no allocation
		return sl.name, end + 1, nil
	}
	name, off, err := dns.UnpackDomainName(b, 12)
	if err != nil {
		return "", off, err
	}
	t.stats.NameCacheMisses++
	sl.wire, sl.name = string(wire), normalize(name)
	return sl.name, off, nil
}

func (t *Tracker) inChain(name string) bool {
	for _, n := range t.chain {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// Name returns the name client last resolved to addr, if that answer is
// still live at capture time ts.
func (t *Tracker) Name(client, addr netip.Addr, ts int64) (string, bool) {
	t.stats.Lookups++
	k := answerKey{client: client.As16(), addr: addr.As16()}
	a, ok := t.answers.Get(k)
	if !ok {
		return "", false
	}
	if ts > a.expires {
		t.answers.Remove(k)
		return "", false
	}
	t.stats.Hits++
	return a.name, true
}

// normalize lower-cases a DNS name and drops the root dot.
func normalize(name string) string {
	name = strings.TrimSuffix(name, ".")
	for i := 0; i < len(name); i++ {
		if c := name[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(name)
		}
	}
	return name
}
