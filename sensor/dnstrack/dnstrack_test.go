package dnstrack

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/launchtap/launchtap/sensor/decode"
)

var (
	client   = netip.MustParseAddr("10.20.1.15")
	resolver = netip.MustParseAddr("10.20.0.53")
	edge1    = netip.MustParseAddr("203.0.113.10")
	edge2    = netip.MustParseAddr("2001:db8::10")
	stranger = netip.MustParseAddr("198.51.100.7")
)

// response builds cdn.example.net → CNAME edge.cdn-provider.example → A/AAAA,
// plus an off-chain A record that must be ignored.
func response(t testing.TB, qname string, ttl uint32) []byte {
	m := new(dns.Msg)
	m.SetQuestion(qname, dns.TypeA)
	m.Response = true
	hdr := func(name string, typ uint16) dns.RR_Header {
		return dns.RR_Header{Name: name, Rrtype: typ, Class: dns.ClassINET, Ttl: ttl}
	}
	m.Answer = []dns.RR{
		&dns.A{Hdr: hdr("Edge.CDN-provider.example.", dns.TypeA), A: net.IP(edge1.AsSlice())},
		&dns.CNAME{Hdr: hdr(qname, dns.TypeCNAME), Target: "edge.cdn-provider.example."},
		&dns.AAAA{Hdr: hdr("edge.cdn-provider.example.", dns.TypeAAAA), AAAA: net.IP(edge2.AsSlice())},
		&dns.A{Hdr: hdr("unrelated.example.", dns.TypeA), A: net.IP(stranger.AsSlice())},
	}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func udpResponse(ts int64, payload []byte) decode.Packet {
	return decode.Packet{TS: ts, Proto: decode.ProtoUDP, Src: resolver, Dst: client, SrcPort: 53, DstPort: 53000,
		Payload: payload, PayloadLen: uint32(len(payload))}
}

func tcpSegment(seq uint32, payload []byte) decode.Packet {
	return decode.Packet{Proto: decode.ProtoTCP, Src: resolver, Dst: client, SrcPort: 53, DstPort: 53001,
		Seq: seq, Payload: payload, PayloadLen: uint32(len(payload)), TCPFlags: decode.TCPAck | decode.TCPPsh}
}

func newTracker(t testing.TB, q QueryHandler) *Tracker {
	tr, err := New(DefaultConfig(), q)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestCNAMEChainAndTTL(t *testing.T) {
	tr := newTracker(t, nil)
	p := udpResponse(0, response(t, "CDN.Example.NET.", 30))
	tr.Packet(&p)
	for _, a := range []netip.Addr{edge1, edge2} {
		if name, ok := tr.Name(client, a, int64(time.Second)); !ok || name != "cdn.example.net" {
			t.Errorf("Name(%s) = %q, %v; want cdn.example.net", a, name, ok)
		}
	}
	if name, ok := tr.Name(client, stranger, 0); ok {
		t.Errorf("off-chain record attached name %q", name)
	}
	if _, ok := tr.Name(resolver, edge1, 0); ok {
		t.Error("answer leaked to another client")
	}
	// TTL 30 s is raised to MinTTL (60 s), plus 10 min grace.
	live := int64(60*time.Second + 10*time.Minute)
	if _, ok := tr.Name(client, edge1, live); !ok {
		t.Error("answer expired before TTL+grace")
	}
	if _, ok := tr.Name(client, edge1, live+1); ok {
		t.Error("answer outlived TTL+grace")
	}
}

func TestTCPMessages(t *testing.T) {
	msg := response(t, "cdn.example.net.", 300)
	framed := func(b []byte) []byte {
		out := binary.BigEndian.AppendUint16(nil, uint16(len(b)))
		return append(out, b...)
	}
	two := append(framed(msg), framed(response(t, "other.example.org.", 300))...)

	t.Run("two messages in one segment", func(t *testing.T) {
		tr := newTracker(t, nil)
		p := tcpSegment(1000, two)
		tr.Packet(&p)
		if st := tr.Stats(); st.Responses != 2 || st.Malformed != 0 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("one message across three segments", func(t *testing.T) {
		tr := newTracker(t, nil)
		f := framed(msg)
		seq := uint32(4000)
		for _, part := range [][]byte{f[:1], f[1:20], f[20:]} {
			p := tcpSegment(seq, part)
			tr.Packet(&p)
			seq += uint32(len(part))
		}
		if _, ok := tr.Name(client, edge1, 0); !ok {
			t.Fatalf("reassembled answer not stored; stats %+v", tr.Stats())
		}
	})
	t.Run("gap abandons the stream", func(t *testing.T) {
		tr := newTracker(t, nil)
		f := framed(msg)
		p1 := tcpSegment(0, f[:10])
		p2 := tcpSegment(50, f[10:])
		tr.Packet(&p1)
		tr.Packet(&p2)
		if st := tr.Stats(); st.TCPGaps != 1 || st.Responses != 0 {
			t.Fatalf("stats %+v", st)
		}
	})
}

type queries []string

func (q *queries) DNSQuery(c netip.Addr, _ [6]byte, _ bool, _ netip.Addr, name string, _ uint16, _ int64) {
	*q = append(*q, c.String()+" "+name)
}

func TestQueriesReported(t *testing.T) {
	var q queries
	tr := newTracker(t, &q)
	m := new(dns.Msg)
	m.SetQuestion("Beacon-7F3A.Evil.example.", dns.TypeTXT)
	b, _ := m.Pack()
	p := decode.Packet{Proto: decode.ProtoUDP, Src: client, Dst: resolver, SrcPort: 5353, DstPort: 53, Payload: b, PayloadLen: uint32(len(b))}
	tr.Packet(&p)
	if len(q) != 1 || q[0] != "10.20.1.15 beacon-7f3a.evil.example" {
		t.Fatalf("queries = %q", q)
	}
}

func TestBadInputCounted(t *testing.T) {
	tr := newTracker(t, nil)
	for _, b := range [][]byte{nil, {0x12}, make([]byte, 12), []byte("GET / HTTP/1.1\r\n\r\n")} {
		p := udpResponse(0, b)
		tr.Packet(&p)
	}
	cut := udpResponse(0, response(t, "cdn.example.net.", 60)[:20])
	cut.PayloadLen = 200
	tr.Packet(&cut)
	if st := tr.Stats(); st.Malformed != 4 || st.Truncated != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestBounded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxAnswers = 16
	tr, _ := New(cfg, nil)
	for i := 0; i < 100; i++ {
		m := new(dns.Msg)
		m.SetQuestion("h.example.", dns.TypeA)
		m.Response = true
		m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: "h.example.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(203, 0, 113, byte(i))}}
		b, _ := m.Pack()
		p := udpResponse(0, b)
		tr.Packet(&p)
	}
	if st := tr.Stats(); st.Entries != 16 || st.Evictions != 84 {
		t.Fatalf("stats %+v", st)
	}
}

func FuzzPacket(f *testing.F) {
	f.Add(response(f, "cdn.example.net.", 60), false, uint32(0))
	f.Add(append([]byte{0, 40}, response(f, "a.example.", 1)...), true, uint32(7))
	f.Add([]byte{0xff, 0xff, 1, 2, 3}, true, uint32(0))
	f.Fuzz(func(t *testing.T, payload []byte, tcp bool, seq uint32) {
		tr := newTracker(t, &answers{}) // exercises the answer-TTL path too
		p := udpResponse(0, payload)
		if tcp {
			p.Proto, p.Seq = decode.ProtoTCP, seq
		}
		tr.Packet(&p)
		p.Seq += uint32(len(payload))
		tr.Packet(&p) // a second segment exercises reassembly
		tr.Name(client, edge1, 0)
	})
}

// A dual-stack host resolves over IPv4 and connects over IPv6: its MAC
// finds the name its IPv4 address resolved.
func TestNameByMAC(t *testing.T) {
	tr := newTracker(t, nil)
	hostMAC := [6]byte{0x3c, 0x22, 0xfb, 1, 2, 3}
	p := udpResponse(0, response(t, "cdn.example.net.", 300))
	p.HasMAC, p.DstMAC = true, hostMAC
	tr.Packet(&p)
	for _, c := range []struct {
		name string
		mac  [6]byte
		ts   int64
		want string
	}{
		{"the resolving host's MAC", hostMAC, int64(time.Second), "cdn.example.net"},
		{"another host's MAC", [6]byte{0x3c, 0x22, 0xfb, 9, 9, 9}, int64(time.Second), ""},
		{"a broadcast MAC", [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, int64(time.Second), ""},
		{"after TTL and grace", hostMAC, int64(time.Hour), ""},
	} {
		if name, _ := tr.NameByMAC(c.mac, edge2, c.ts); name != c.want {
			t.Errorf("%s: NameByMAC = %q, want %q", c.name, name, c.want)
		}
	}
	if st := tr.Stats(); st.MACHits != 1 {
		t.Errorf("MACHits = %d, want 1", st.MACHits)
	}
}

// The newest live answer any of the MAC's addresses received wins.
func TestNameByMACNewest(t *testing.T) {
	tr := newTracker(t, nil)
	hostMAC := [6]byte{0x3c, 0x22, 0xfb, 1, 2, 3}
	for i, name := range []string{"old.example.", "new.example."} {
		p := udpResponse(int64(i)*int64(time.Second), response(t, name, 300))
		p.HasMAC, p.DstMAC = true, hostMAC
		p.Dst = netip.AddrFrom4([4]byte{10, 20, 5, byte(i + 1)})
		tr.Packet(&p)
	}
	if name, ok := tr.NameByMAC(hostMAC, edge2, 2*int64(time.Second)); !ok || name != "new.example" {
		t.Fatalf("NameByMAC = %q, %v; want the newer answer", name, ok)
	}
}

func TestMACClientsBounded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxAnswers = 64 // the MAC table holds max(16, 64/4) = 16
	tr, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := range n {
		tr.noteClient([6]byte{0x3c, 0x22, 0xfb, 0, byte(i >> 8), byte(i)}, client)
	}
	if kept := tr.macs.Len(); kept != 16 || tr.Stats().MACOwnerEvictions != uint64(n-kept) {
		t.Errorf("kept %d MACs, evictions %d; want 16, %d", kept, tr.Stats().MACOwnerEvictions, n-16)
	}
}

// A router's MAC carries answers for many hosts; it must never name a session.
func TestNameByMACIgnoresRouters(t *testing.T) {
	tr := newTracker(t, nil)
	router := [6]byte{0x00, 0x1c, 0x73, 0, 0, 1}
	for i := 0; i <= maxClientsPerMAC; i++ {
		p := udpResponse(0, response(t, "cdn.example.net.", 300))
		p.HasMAC, p.DstMAC = true, router
		p.Dst = netip.AddrFrom4([4]byte{10, 20, 5, byte(i + 1)})
		tr.Packet(&p)
	}
	if name, ok := tr.NameByMAC(router, edge2, int64(time.Second)); ok {
		t.Fatalf("router MAC named a session %q", name)
	}
}

type typedQueries []string

func (q *typedQueries) DNSQuery(_ netip.Addr, _ [6]byte, _ bool, _ netip.Addr, name string, qtype uint16, _ int64) {
	*q = append(*q, fmt.Sprintf("%s/%d", name, qtype))
}

// TestQueryFastPath: a query's question, unpacked alone, reads as the whole
// message unpacked by miekg/dns does — with EDNS, several questions, escaped
// and mixed-case names, a question that ends after its name or its type —
// and a question cut inside its type is malformed.
func TestQueryFastPath(t *testing.T) {
	build := func(f func(m *dns.Msg)) []byte {
		m := new(dns.Msg)
		f(m)
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	msgs := [][]byte{
		build(func(m *dns.Msg) { m.SetQuestion("cdn.example.net.", dns.TypeA) }),
		build(func(m *dns.Msg) { m.SetQuestion("CDN.Example.NET.", dns.TypeAAAA); m.SetEdns0(1232, true) }),
		build(func(m *dns.Msg) { m.SetQuestion(`we\.ird\032name.example.`, dns.TypeTXT) }),
		build(func(m *dns.Msg) {
			m.SetQuestion("first.example.", dns.TypeHTTPS)
			m.Question = append(m.Question, dns.Question{Name: "second.example.", Qtype: dns.TypeA, Qclass: dns.ClassINET})
		}),
		build(func(m *dns.Msg) { m.SetQuestion(".", dns.TypeNS) }),
	}
	// Questions that end early, as a whole-message unpack accepts them.
	short := build(func(m *dns.Msg) { m.SetQuestion("www.example.com.", dns.TypeA) })
	msgs = append(msgs, short[:len(short)-4], short[:len(short)-2])
	for _, b := range msgs {
		var full dns.Msg
		if err := full.Unpack(b); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("%s/%d", normalize(full.Question[0].Name), full.Question[0].Qtype)
		var got typedQueries
		tr := newTracker(t, &got)
		p := decode.Packet{Proto: decode.ProtoUDP, Src: client, Dst: resolver, SrcPort: 5353, DstPort: 53, Payload: b, PayloadLen: uint32(len(b))}
		tr.Packet(&p)
		if len(got) != 1 || got[0] != want || tr.Stats().Queries != 1 {
			t.Errorf("query %q: reported %q, want %q (stats %+v)", full.Question[0].Name, got, want, tr.Stats())
		}
		// Cut inside the question's type: malformed, not reported.
		_, off, err := dns.UnpackDomainName(b, 12)
		if err != nil {
			t.Fatal(err)
		}
		if off+1 > len(b) {
			continue // the question ends at its name: nothing to cut
		}
		cut := b[:off+1] // inside the question's type
		var none typedQueries
		tr = newTracker(t, &none)
		p.Payload, p.PayloadLen = cut, uint32(len(cut))
		tr.Packet(&p)
		if len(none) != 0 || tr.Stats().Malformed != 1 {
			t.Errorf("query %q cut to %d bytes: reported %q, stats %+v", full.Question[0].Name, len(cut), none, tr.Stats())
		}
	}
}

// BenchmarkDNSQuery is one query through the tracker: only its question is
// unpacked (a whole-message unpack with EDNS: ~250 ns, 5 allocs).
func BenchmarkDNSQuery(b *testing.B) {
	m := new(dns.Msg)
	m.SetQuestion("www.example.com.", dns.TypeA)
	m.SetEdns0(1232, false)
	buf, _ := m.Pack()
	tr := newTracker(b, nil)
	p := decode.Packet{Proto: decode.ProtoUDP, Src: client, Dst: resolver, SrcPort: 5353, DstPort: 53, Payload: buf, PayloadLen: uint32(len(buf))}
	b.ReportAllocs()
	for b.Loop() {
		tr.Packet(&p)
	}
}

// BenchmarkDNSResponse is one response with a CNAME chain and two
// addresses through the tracker (miekg/dns unpacks it whole).
func BenchmarkDNSResponse(b *testing.B) {
	buf := response(b, "cdn.example.net.", 300)
	tr := newTracker(b, nil)
	p := udpResponse(0, buf)
	b.ReportAllocs()
	for b.Loop() {
		tr.Packet(&p)
	}
}

// FuzzQueryMatchesUnpack: whatever query a whole-message unpack reads, the
// question-only path reads the same name and type. (The reverse need not
// hold: garbage after the question no longer makes a query malformed.)
func FuzzQueryMatchesUnpack(f *testing.F) {
	for _, q := range []func(m *dns.Msg){
		func(m *dns.Msg) { m.SetQuestion("cdn.example.net.", dns.TypeA) },
		func(m *dns.Msg) { m.SetQuestion("X.Example.", dns.TypeAAAA); m.SetEdns0(4096, true) },
		func(m *dns.Msg) { m.SetQuestion(`a\.b.example.`, dns.TypeTXT) },
	} {
		m := new(dns.Msg)
		q(m)
		b, _ := m.Pack()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var full dns.Msg
		if full.Unpack(b) != nil || full.Response || len(full.Question) == 0 {
			return
		}
		var got typedQueries
		tr := newTracker(t, &got)
		p := decode.Packet{Proto: decode.ProtoUDP, Src: client, Dst: resolver, SrcPort: 5353, DstPort: 53, Payload: b, PayloadLen: uint32(len(b))}
		tr.Packet(&p)
		want := fmt.Sprintf("%s/%d", normalize(full.Question[0].Name), full.Question[0].Qtype)
		if len(got) != 1 || got[0] != want {
			t.Fatalf("question-only path read %q, whole unpack %q", got, want)
		}
	})
}

type answers struct {
	queries
	got []string
}

func (a *answers) DNSAnswer(c netip.Addr, name string, qtype uint16, ttl time.Duration, addr netip.Addr, _ int64) {
	a.got = append(a.got, fmt.Sprintf("%s %s/%d %v %s", c, name, qtype, ttl, addr))
}

// TestAnswersReportTheChainsShortestTTL: a handler that also implements
// AnswerHandler learns, per response with data, the name asked and the
// shortest TTL on its chain (off-chain records do not count); a NODATA
// answer (a CNAME alone) is not something the client caches as an answer.
func TestAnswersReportTheChainsShortestTTL(t *testing.T) {
	var a answers
	tr := newTracker(t, &a)
	b := response(t, "cdn.example.net.", 60)
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatal(err)
	}
	m.Answer[0].Header().Ttl = 20 // the A at the chain's end
	m.Answer[3].Header().Ttl = 5  // off the chain
	b, _ = m.Pack()
	p := udpResponse(1e9, b)
	tr.Packet(&p)
	nodata := new(dns.Msg)
	nodata.SetQuestion("cdn.example.net.", dns.TypeAAAA)
	nodata.Response = true
	nodata.Answer = []dns.RR{&dns.CNAME{Hdr: dns.RR_Header{Name: "cdn.example.net.", Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 1800}, Target: "edge.cdn-provider.example."}}
	b, _ = nodata.Pack()
	p = udpResponse(2e9, b)
	tr.Packet(&p)
	if want := []string{"10.20.1.15 cdn.example.net/1 20s " + edge1.String()}; !slices.Equal(a.got, want) {
		t.Fatalf("answers %q, want %q", a.got, want)
	}
}

// FuzzQuestionName: the cached question-name path gives what an unpack and
// normalize give, on the first sight of a message (a miss) and on the
// second (a hit), and after another name took the slot.
func FuzzQuestionName(f *testing.F) {
	for _, name := range []string{"cdn.example.net.", "X.Example.", `a\.b.example.`, ".", "xn--bcher-kva.example."} {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		b, _ := m.Pack()
		f.Add(b, "other.example.")
	}
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1}, "x.") // a pointer to itself
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'a', 'b'}, "x.")    // cut inside a label
	f.Fuzz(func(t *testing.T, b []byte, other string) {
		if len(b) < 12 {
			return
		}
		tr := newTracker(t, nil)
		raw, wantOff, wantErr := dns.UnpackDomainName(b, 12)
		want := normalize(raw)
		check := func(when string) {
			t.Helper()
			got, off, err := tr.questionName(b)
			if (err != nil) != (wantErr != nil) || err == nil && (got != want || off != wantOff) {
				t.Fatalf("%s: questionName = %q, %d, %v; unpack %q, %d, %v", when, got, off, err, want, wantOff, wantErr)
			}
		}
		check("first")
		check("cached")
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(other), dns.TypeA)
		if ob, err := m.Pack(); err == nil {
			for i := 0; i < nameSlots; i++ { // whichever slot it hashes to, fill it with other
				ob[1] = byte(i)
				tr.questionName(ob)
			}
		}
		check("after another name")
	})
}

// TestQuestionNameCache: a repeated query is not unpacked again, and a
// name whose slot was taken by another is unpacked and stored again.
func TestQuestionNameCache(t *testing.T) {
	var got queries
	tr := newTracker(t, &got)
	ask := func(name string) {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		b, _ := m.Pack()
		p := decode.Packet{Proto: decode.ProtoUDP, Src: client, Dst: resolver, SrcPort: 5353, DstPort: 53, Payload: b, PayloadLen: uint32(len(b))}
		tr.Packet(&p)
	}
	ask("WWW.Example.com.")
	ask("www.example.com.")
	ask("WWW.Example.com.")
	if st := tr.Stats(); st.NameCacheMisses != 2 || st.Queries != 3 {
		t.Errorf("misses %d, queries %d; want 2 and 3 (the two spellings, each once)", st.NameCacheMisses, st.Queries)
	}
	for i := 0; i < 4*nameSlots; i++ {
		ask(fmt.Sprintf("n%d.example.", i))
	}
	if st := tr.Stats(); st.NameCacheMisses != 2+4*nameSlots {
		t.Errorf("misses %d after %d distinct names, want %d", st.NameCacheMisses, 4*nameSlots, 2+4*nameSlots)
	}
	// Its slot was most likely taken meanwhile; hit or miss, the name is the same.
	ask("WWW.Example.com.")
	if last, want := got[len(got)-1], client.String()+" www.example.com"; last != want {
		t.Errorf("reported %q, want %q", last, want)
	}
}
