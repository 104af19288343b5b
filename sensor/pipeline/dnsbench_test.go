package pipeline

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/launchtap/launchtap/sensor/decode"
)

// BenchmarkDNSPath is one DNS message through a worker's tracker and its
// DNS-channel tables, as an office's hosts send them: 64 clients each asking
// 32 names (half of them CNAME chains) again and again, a query then its
// response, each name again only after its answer ran out: the tables'
// cost, without beats for the detector. One op is one message.
func BenchmarkDNSPath(b *testing.B) {
	const clients, names = 64, 32
	var queries, answers [][]byte
	for n := range names {
		name := fmt.Sprintf("api%d.svc%d.example%d.com.", n, n%3, n)
		q := new(dns.Msg)
		q.SetQuestion(name, dns.TypeA)
		q.SetEdns0(1232, false)
		qb, err := q.Pack()
		if err != nil {
			b.Fatal(err)
		}
		r := new(dns.Msg)
		r.SetReply(q)
		r.Compress = true
		owner := name
		if n%2 == 0 {
			owner = fmt.Sprintf("edge%d.cdn.example.net.", n)
			r.Answer = append(r.Answer, &dns.CNAME{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 300}, Target: owner})
		}
		for i := range 2 {
			r.Answer = append(r.Answer, &dns.A{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
				A: netip.AddrFrom4([4]byte{198, 51, byte(n), byte(i + 1)}).AsSlice()})
		}
		rb, err := r.Pack()
		if err != nil {
			b.Fatal(err)
		}
		queries, answers = append(queries, qb), append(answers, rb)
	}
	w, out := dnsTestWorker(b)
	go func() {
		for range out {
		}
	}()
	b.Cleanup(func() { close(out) })
	resolver := netip.MustParseAddr("10.20.0.53")
	ts := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC).UnixNano()
	var p decode.Packet
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c, n := i%clients, i/2/clients%names
		client := netip.AddrFrom4([4]byte{10, 20, 1, byte(c + 1)})
		ts += int64(20 * time.Millisecond) // a name again after 82 s: past 60 s TTL and slack
		if i%2 == 0 {
			p = decode.Packet{Proto: decode.ProtoUDP, Src: client, Dst: resolver, SrcPort: 50000 + uint16(c), DstPort: 53,
				Payload: queries[n], PayloadLen: uint32(len(queries[n])), TS: ts}
		} else {
			p = decode.Packet{Proto: decode.ProtoUDP, Src: resolver, Dst: client, SrcPort: 53, DstPort: 50000 + uint16(c),
				Payload: answers[n], PayloadLen: uint32(len(answers[n])), TS: ts}
		}
		w.dns.Packet(&p)
		i++
	}
	if s := w.dns.Stats(); s.Malformed != 0 {
		b.Fatalf("%d malformed", s.Malformed)
	}
}
