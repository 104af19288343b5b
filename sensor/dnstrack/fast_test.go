package dnstrack

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/launchtap/launchtap/sensor/decode"
)

// responses are seed messages for the fast path: what resolvers send, and
// what it must decline.
func responses(t testing.TB) map[string][]byte {
	t.Helper()
	pack := func(m *dns.Msg) []byte {
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	hdr := func(name string, typ uint16, ttl uint32) dns.RR_Header {
		return dns.RR_Header{Name: name, Rrtype: typ, Class: dns.ClassINET, Ttl: ttl}
	}
	out := map[string][]byte{"cname chain": response(t, "cdn.example.net.", 60)}

	m := new(dns.Msg)
	m.SetQuestion("Www.Example.COM.", dns.TypeAAAA)
	m.Response, m.Compress = true, true
	m.Answer = []dns.RR{&dns.AAAA{Hdr: hdr("www.example.com.", dns.TypeAAAA, 300), AAAA: net.ParseIP("2001:db8::1")}}
	m.Ns = []dns.RR{&dns.NS{Hdr: hdr("example.com.", dns.TypeNS, 3600), Ns: "ns1.example.com."}}
	m.Extra = []dns.RR{&dns.A{Hdr: hdr("ns1.example.com.", dns.TypeA, 3600), A: net.ParseIP("192.0.2.53")}}
	m.SetEdns0(1232, false)
	o := m.IsEdns0()
	o.Option = append(o.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"}, &dns.EDNS0_PADDING{Padding: make([]byte, 7)})
	out["compressed, authority, glue, edns cookie and padding"] = pack(m)

	m = new(dns.Msg)
	m.SetQuestion("gone.example.", dns.TypeA)
	m.Response, m.Rcode = true, dns.RcodeNameError
	m.Ns = []dns.RR{&dns.SOA{Hdr: hdr("example.", dns.TypeSOA, 900), Ns: "ns.example.", Mbox: "host.example.", Serial: 7, Minttl: 60}}
	out["nxdomain with soa"] = pack(m)

	m = new(dns.Msg)
	m.SetQuestion("x.example.", dns.TypeA)
	m.Response = true
	m.Answer = []dns.RR{&dns.A{Hdr: hdr("x.example.", dns.TypeA, 5), A: net.ParseIP("192.0.2.1")}}
	m.SetEdns0(4096, true)
	m.Rcode = dns.RcodeBadVers // Pack puts its high bits in the OPT record
	out["extended rcode (declined)"] = pack(m)

	m = new(dns.Msg)
	m.SetQuestion("svc.example.", dns.TypeHTTPS)
	m.Response = true
	m.Answer = []dns.RR{&dns.HTTPS{SVCB: dns.SVCB{Hdr: hdr("svc.example.", dns.TypeHTTPS, 60), Priority: 1, Target: "."}}}
	out["https record (declined)"] = pack(m)

	m = new(dns.Msg)
	m.SetQuestion(`a\.b.example.`, dns.TypeA)
	m.Response = true
	m.Answer = []dns.RR{&dns.A{Hdr: hdr(`A\.B.example.`, dns.TypeA, 60), A: net.ParseIP("192.0.2.9")}}
	out["escaped label"] = pack(m)
	return out
}

// parsed is what a response path gives the tracker (the name only matters,
// and the fast path only reads it, when there are addresses to store).
func parsed(rcode int, qname string, ok bool, found []found) string {
	if len(found) == 0 {
		qname = ""
	}
	return fmt.Sprintf("ok=%v rcode=%d qname=%q found=%v", ok, rcode, qname, found)
}

func TestFastResponse(t *testing.T) {
	for name, b := range responses(t) {
		t.Run(name, func(t *testing.T) {
			tr := newTracker(t, nil)
			rc, qn, ok := tr.fastResponse(b, true)
			fast := parsed(rc, qn, ok, tr.found)
			rc, qn, okFull := tr.fullResponse(b, true)
			full := parsed(rc, qn, okFull, tr.found)
			declined := name[len(name)-len("(declined)"):] == "(declined)"
			if ok == declined {
				t.Fatalf("fast path accepted %v, want %v", ok, !declined)
			}
			if ok && fast != full {
				t.Errorf("fast path:   %s\nwhole unpack: %s", fast, full)
			}
		})
	}
}

// TestFastResponseAllocatesNothing: a response whose name the cache of
// question names holds (its query's, asked just before) is read and stored
// without an allocation or an unpack.
func TestFastResponseAllocatesNothing(t *testing.T) {
	tr := newTracker(t, nil)
	q := new(dns.Msg)
	q.SetQuestion("CDN.example.net.", dns.TypeA)
	qb, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	tr.Packet(&decode.Packet{Proto: decode.ProtoUDP, Src: client, Dst: resolver, SrcPort: 53000, DstPort: 53, Payload: qb, PayloadLen: uint32(len(qb))})
	b := response(t, "CDN.example.net.", 60)
	p := udpResponse(0, b)
	tr.Packet(&p)
	if s := tr.Stats(); s.FastResponses != 1 || s.NameCacheMisses != 1 {
		t.Fatalf("stats %+v: want the response on the fast path, its name the query's (one miss)", s)
	}
	if name, ok := tr.Name(client, edge1, 0); !ok || name != "cdn.example.net" {
		t.Fatalf("Name = %q, %v; want the question's name, normalized", name, ok)
	}
	if allocs := testing.AllocsPerRun(100, func() { tr.Packet(&p) }); allocs != 0 {
		t.Errorf("%.1f allocations per response, want none", allocs)
	}
	nx := udpResponse(0, responses(t)["nxdomain with soa"])
	if allocs := testing.AllocsPerRun(100, func() { tr.Packet(&nx) }); allocs != 0 {
		t.Errorf("%.1f allocations per NXDOMAIN, want none", allocs)
	}
}

// FuzzResponsePaths: whatever response the fast path accepts, a whole
// miekg/dns unpack accepts too and reads the same code, name and chained
// addresses with their TTLs.
func FuzzResponsePaths(f *testing.F) {
	seeds := responses(f)
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range seeds {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		f.Add(seeds[k])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tr := newTracker(t, nil)
		rc, qn, ok := tr.fastResponse(b, true)
		if !ok {
			return
		}
		fast, fastAns := parsed(rc, qn, ok, tr.found), tr.ans
		rc, qn, okFull := tr.fullResponse(b, true)
		if full := parsed(rc, qn, okFull, tr.found); fast != full {
			t.Fatalf("fast path:   %s\nwhole unpack: %s", fast, full)
		}
		// What the client may cache, for DNS-channel beats, agrees too.
		if rc == dns.RcodeSuccess && fastAns != tr.ans {
			t.Fatalf("cached answer: fast path %+v, whole unpack %+v", fastAns, tr.ans)
		}
	})
}

// FuzzSameName: two names the fast path accepts are the same name exactly
// when their unpacked presentation forms are equal but for ASCII case, as
// the whole unpack's chain compares them, however each is compressed.
func FuzzSameName(f *testing.F) {
	for _, k := range []string{"cname chain", "compressed, authority, glue, edns cookie and padding"} {
		b := responses(f)[k]
		for _, x := range []uint16{12, 28, 40, 60} {
			f.Add(b, uint16(12), x)
		}
	}
	// The same name as labels, as a pointer to them, and as a label in front
	// of a pointer to their tail; another name's tail at the same offset.
	f.Add([]byte("\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03Foo\x07example\x00\xc0\x0c\x03foo\xc0\x10\x03bar\xc0\x10"), uint16(12), uint16(33))
	f.Fuzz(func(t *testing.T, b []byte, x, y uint16) {
		if skipName(b, int(x)) < 0 || skipName(b, int(y)) < 0 {
			return
		}
		nx, _, errx := dns.UnpackDomainName(b, int(x))
		ny, _, erry := dns.UnpackDomainName(b, int(y))
		if errx != nil || erry != nil {
			t.Fatalf("skipName accepted names the whole unpack rejects: %v, %v", errx, erry)
		}
		if got, want := sameName(b, int(x), int(y)), strings.EqualFold(nx, ny); got != want {
			t.Fatalf("sameName(%q, %q) = %v, want %v", nx, ny, got, want)
		}
	})
}
