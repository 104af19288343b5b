package synth

import (
	"encoding/binary"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// dgram is one prepared UDP datagram.
type dgram struct {
	at           int64
	hdr          ipHdr
	sport, dport uint16
	payload      []byte
}

// dgrams writes a prepared list of datagrams (sorted by time).
type dgrams struct {
	d       []dgram
	i       int
	onFirst func(w *world)
}

func (g *dgrams) step(w *world) (int64, bool) {
	if g.i >= len(g.d) {
		return 0, false
	}
	if g.i == 0 && g.onFirst != nil {
		g.onFirst(w)
	}
	d := &g.d[g.i]
	g.i++
	w.sendUDP(&d.hdr, d.sport, d.dport, d.payload)
	if g.i >= len(g.d) {
		return 0, false
	}
	return g.d[g.i].at, true
}

func (w *world) sendDgrams(d []dgram, onFirst func(w *world)) {
	if len(d) == 0 {
		return
	}
	w.at(d[0].at, &dgrams{d: d, onFirst: onFirst})
}

// udpExchange builds a client↔peer UDP conversation.
type udpExchange struct {
	h            *host
	p            peer
	cport, sport uint16
	d            []dgram
}

func newUDP(h *host, p peer, sport uint16) *udpExchange {
	return &udpExchange{h: h, p: p, cport: h.ephemeral(), sport: sport}
}

func (u *udpExchange) out(t int64, payload []byte) {
	u.d = append(u.d, dgram{at: t, hdr: u.h.clientHdr(&u.p, false, 0), sport: u.cport, dport: u.sport, payload: payload})
}

func (u *udpExchange) in(t int64, payload []byte) {
	hd := u.h.hdrFrom(&u.p)
	hd.id = uint16(u.h.rng.Uint32())
	u.d = append(u.d, dgram{at: t, hdr: hd, sport: u.sport, dport: u.cport, payload: payload})
}

var (
	resolverPeer  = peer{ip: resolverIP, mac: resolvMAC, ttl: 64, rtt: 300 * us}
	resolverPeer6 = peer{ip: netip.MustParseAddr("fd20:20::53"), mac: resolvMAC, ttl: 64, rtt: 300 * us}
)

// resolve returns the address h connects to for name at time t and when the
// answer is in hand. On a cache miss it emits the DNS exchange with the
// internal resolver (A, plus AAAA when aaaa). ok is false for unknown names
// (the resolver answers NXDOMAIN).
func (w *world) resolve(h *host, name string, t int64, aaaa bool) (addr netip.Addr, s *service, ready int64, ok bool) {
	return w.resolveOn(h, name, t, aaaa, nil)
}

// resolveOn is resolve calling onQuery when the first query is written
// (DNS-channel beats are the queries themselves).
func (w *world) resolveOn(h *host, name string, t int64, aaaa bool, onQuery func(*world)) (addr netip.Addr, s *service, ready int64, ok bool) {
	name = strings.ToLower(name)
	s = w.net.lookup(name)
	if e, hit := h.cache[name]; hit && e.expires > t && s != nil {
		return e.addr, s, t, true
	}
	if len(h.cache) > 512 { // keep the simulated cache bounded
		clear(h.cache)
	}
	r := h.rng
	lat := 400*us + r.Int64N(2500*us)
	if r.IntN(4) == 0 {
		lat += 8*ms + r.Int64N(40*ms) // resolver cache miss
	}
	var answers, answers6 []netip.Addr
	if s != nil {
		answers = s.answer()
		if aaaa && h.ip6.IsValid() {
			answers6 = s.answer6()
		}
	}
	rp := resolverPeer
	if h.dns6 && h.ip6.IsValid() {
		rp = resolverPeer6 // the RA's RDNSS resolver, over IPv6
	}
	u := newUDP(h, rp, 53)
	types := []uint16{dns.TypeA}
	if aaaa {
		types = append(types, dns.TypeAAAA)
	}
	// Now and then the answer comes back truncated (TC) and the client
	// retries over TCP, pipelining its queries in one segment.
	viaTCP := w.dnsTCP && s != nil && r.IntN(20) == 0
	var tcpQ, tcpR []byte
	for i, qt := range types {
		if i > 0 {
			u.cport = h.ephemeral()
		}
		q := new(dns.Msg)
		q.SetQuestion(dns.Fqdn(name), qt)
		q.Id = uint16(r.Uint32())
		q.RecursionDesired = true
		qb, err := q.Pack()
		if err != nil {
			w.err = err
			return netip.Addr{}, nil, t, false
		}
		ans := answers
		if qt == dns.TypeAAAA {
			ans = answers6
		}
		resp := dnsAnswer(q, s, ans, qt)
		rb, err := resp.Pack()
		if err != nil {
			w.err = err
			return netip.Addr{}, nil, t, false
		}
		qt0 := t + int64(i)*(20*us+r.Int64N(100*us))
		if viaTCP {
			if i == 0 {
				tc := dnsAnswer(q, s, nil, dns.TypeA)
				tc.Truncated = true
				tc.Ns = nil
				tb, err := tc.Pack()
				if err != nil {
					w.err = err
					return netip.Addr{}, nil, t, false
				}
				u.out(qt0, qb)
				u.in(qt0+lat, tb)
			}
			tcpQ = appendDNSTCP(tcpQ, qb)
			tcpR = appendDNSTCP(tcpR, rb)
			continue
		}
		u.out(qt0, qb)
		u.in(qt0+lat+int64(i)*r.Int64N(300*us), rb)
	}
	sortDgrams(u.d)
	w.sendDgrams(u.d, onQuery)
	ready = t + lat + 100*us
	if viaTCP {
		c := newConn(w, h, rp, 53)
		c.open(0)
		c.exchange(len(tcpQ), len(tcpR), tcpQ, tcpR, ms)
		c.close(true, 200*us)
		start := t + lat + 300*us
		w.at(start, c)
		ready = start + 8*ms
	}
	if s == nil || len(answers) == 0 {
		return netip.Addr{}, s, ready, false
	}
	addr = answers[0]
	if len(answers6) > 0 {
		addr = answers6[0] // Happy Eyeballs: IPv6 first when it works
	}
	h.cache[name] = cacheEntry{addr: addr, expires: t + int64(s.ttl)*sec}
	return addr, s, ready, true
}

// appendDNSTCP appends a DNS message with its two-byte length (RFC 1035 4.2.2).
func appendDNSTCP(b, msg []byte) []byte {
	return append(append(b, byte(len(msg)>>8), byte(len(msg))), msg...)
}

func sortDgrams(d []dgram) {
	for i := 1; i < len(d); i++ {
		for j := i; j > 0 && d[j].at < d[j-1].at; j-- {
			d[j], d[j-1] = d[j-1], d[j]
		}
	}
}

// dnsAnswer builds the resolver's reply: the CNAME chain, then A records
// (or for AAAA the chain and an SOA: no IPv6 here).
func dnsAnswer(q *dns.Msg, s *service, answers []netip.Addr, qt uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(q)
	m.RecursionAvailable = true
	m.Compress = true
	qname := q.Question[0].Name
	if s == nil {
		m.Rcode = dns.RcodeNameError
		m.Ns = append(m.Ns, soa(registered(qname)))
		return m
	}
	owner := qname
	for i, target := range s.chain {
		ttl := uint32(300)
		if i == 0 {
			ttl = 1800
		}
		m.Answer = append(m.Answer, &dns.CNAME{
			Hdr:    dns.RR_Header{Name: owner, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: ttl},
			Target: dns.Fqdn(target),
		})
		owner = dns.Fqdn(target)
	}
	if len(answers) == 0 {
		m.Ns = append(m.Ns, soa(registered(owner)))
		return m
	}
	for _, a := range answers {
		hdr := dns.RR_Header{Name: owner, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: s.ttl}
		if qt == dns.TypeAAAA {
			hdr.Rrtype = dns.TypeAAAA
			m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr, AAAA: a.AsSlice()})
			continue
		}
		m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: a.AsSlice()})
	}
	return m
}

func soa(zone string) dns.RR {
	return &dns.SOA{
		Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 900},
		Ns:  "ns1." + zone, Mbox: "hostmaster." + zone,
		Serial: 2026030101, Refresh: 7200, Retry: 3600, Expire: 1209600, Minttl: 300,
	}
}

// registered returns the last two labels of a name (good enough for the
// synthetic zones, which have no multi-label public suffixes).
func registered(name string) string {
	labels := dns.SplitDomainName(name)
	if len(labels) <= 2 {
		return dns.Fqdn(name)
	}
	return dns.Fqdn(strings.Join(labels[len(labels)-2:], "."))
}

// ntp emits one SNTP client query to name and its reply (port 123 both ends,
// client mode 3 / server mode 4).
func (w *world) ntp(h *host, name string, t int64, onFirst func(w *world)) {
	addr, s, ready, ok := w.resolve(h, name, t, h.os.apple())
	if !ok {
		return
	}
	p := s.peer(addr)
	u := newUDP(h, p, 123)
	if h.os == osWindows || h.os == osLinux {
		u.cport = 123
	}
	st := ready + 200*us + h.rng.Int64N(ms)
	q := make([]byte, 48)
	q[0] = 0x23 // LI 0, VN 4, mode 3
	q[2], q[3] = 6, 0xe9
	binary.BigEndian.PutUint64(q[40:], ntpTime(st)) // transmit timestamp
	u.out(st, q)
	rt := st + p.rtt
	r := make([]byte, 48)
	r[0] = 0x24 // mode 4
	r[1] = 1    // stratum 1
	r[2], r[3] = 6, 0xe9
	copy(r[12:16], "GPSs")
	binary.BigEndian.PutUint64(r[16:], ntpTime(rt-16*sec))
	copy(r[24:32], q[40:48])
	binary.BigEndian.PutUint64(r[32:], ntpTime(rt-p.rtt/2))
	binary.BigEndian.PutUint64(r[40:], ntpTime(rt-p.rtt/2+20*us))
	u.in(rt, r)
	w.sendDgrams(u.d, onFirst)
}

func ntpTime(t int64) uint64 {
	const unixToNTP = 2208988800
	secs := uint64(t/sec) + unixToNTP
	frac := uint64(t%sec) << 32 / uint64(sec)
	return secs<<32 | frac
}

// quic emits a QUIC-like UDP/443 connection: long-header Initial packets,
// handshake, short-header data out/in, and a close.
func (w *world) quic(h *host, name string, t int64, out, in int, onFirst func(w *world)) (netip.Addr, bool) {
	addr, s, ready, ok := w.resolve(h, name, t, true)
	if !ok {
		return addr, false
	}
	p := s.peer(addr)
	u := newUDP(h, p, 443)
	r := h.rng
	dcid := w.randBytes(r, 8)
	scid := w.randBytes(r, 8)
	long := func(first byte, n int) []byte {
		b := make([]byte, 0, n)
		b = append(b, first, 0, 0, 0, 1, 8)
		b = append(b, dcid...)
		b = append(b, 8)
		b = append(b, scid...)
		if first&0x30 == 0 { // Initial: token length 0
			b = append(b, 0)
		}
		rest := n - len(b) - 2
		b = append(b, 0x40|byte(rest>>8), byte(rest))
		return append(b, w.randBytes(r, rest)...)
	}
	short := func(n int) []byte {
		b := make([]byte, 0, n)
		b = append(b, 0x40|byte(r.IntN(0x20)))
		b = append(b, scid...)
		return append(b, w.randBytes(r, n-len(b))...)
	}
	tt := ready + 300*us + r.Int64N(ms)
	u.out(tt, long(0xc0|byte(r.IntN(4)), 1250))
	tt += p.rtt
	u.in(tt, long(0xc0, 1200))
	u.in(tt+200*us, long(0xe0, 1200))
	u.in(tt+400*us, long(0xe0, 800+r.IntN(400)))
	tt += 500*us + r.Int64N(ms)
	u.out(tt, long(0xe0, 90))
	for out > 0 || in > 0 {
		tt += 300*us + r.Int64N(ms)
		if out > 0 {
			n := min(out, 1200)
			out -= n
			u.out(tt, short(max(n, 40)))
		}
		if in > 0 {
			tt += p.rtt
			for k := 0; k < 8 && in > 0; k++ {
				n := min(in, 1200)
				in -= n
				u.in(tt, short(max(n, 40)))
				tt += 60 * us
			}
			u.out(tt+50*us, short(40+r.IntN(10)))
		}
	}
	tt += 5*ms + r.Int64N(50*ms)
	u.out(tt, short(45)) // CONNECTION_CLOSE
	w.sendDgrams(u.d, onFirst)
	return addr, true
}
