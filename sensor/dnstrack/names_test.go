package dnstrack

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/launchtap/launchtap/sensor/decode"
)

type lastQuery struct {
	name  string
	qtype uint16
	n     int
}

func (q *lastQuery) DNSQuery(_ netip.Addr, _ [6]byte, _ bool, name string, qtype uint16, _ int64) {
	q.name, q.qtype = name, qtype
	q.n++
}

// miekgName is how the tracker spelled names when it parsed with
// miekg/dns: its presentation format, lower-cased, without the root dot.
func miekgName(b []byte) (string, bool) {
	var m dns.Msg
	if m.Unpack(b) != nil || len(m.Question) == 0 {
		return "", false
	}
	return strings.ToLower(strings.TrimSuffix(m.Question[0].Name, ".")), true
}

func queryPacket(payload []byte) decode.Packet {
	return decode.Packet{Proto: decode.ProtoUDP, Src: client, Dst: resolver, SrcPort: 53000, DstPort: 53,
		Payload: payload, PayloadLen: uint32(len(payload))}
}

// TestQueryNames: names reach the handler lower-cased, without the root dot,
// with unusual bytes escaped as in a zone file, never joining two labels.
func TestQueryNames(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"gs-loc.apple.com.", "gs-loc.apple.com"},
		{"GS-Loc.Apple.COM.", "gs-loc.apple.com"},
		{"_dns-sd._udp.local.", "_dns-sd._udp.local"},
		{".", ""},
		{`a\032b.example.`, `a\ b.example`},
		{`x\@y\;z.example.`, `x\@y\;z.example`},
		{`ctl\001\255.example.`, `ctl\001\255.example`},
		{`back\\slash.example.`, `back\\slash.example`},
	} {
		q := &lastQuery{}
		tr := newTracker(t, q)
		m := new(dns.Msg)
		m.SetQuestion(tc.in, dns.TypeAAAA)
		b, err := m.Pack()
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		p := queryPacket(b)
		tr.Packet(&p)
		if q.n != 1 || q.name != tc.want || q.qtype != dns.TypeAAAA {
			t.Errorf("%q: handler got %q type %d (%d calls), want %q", tc.in, q.name, q.qtype, q.n, tc.want)
		}
		if old, _ := miekgName(b); old != q.name {
			t.Errorf("%q: %q differs from miekg/dns's %q", tc.in, q.name, old)
		}
	}
	// A label holding a dot would read as two labels: such a message is malformed.
	tr := newTracker(t, &lastQuery{})
	m := new(dns.Msg)
	m.SetQuestion(`evil\.apple.com.`, dns.TypeA)
	b, _ := m.Pack()
	p := queryPacket(b)
	tr.Packet(&p)
	if st := tr.Stats(); st.Malformed != 1 || st.Queries != 0 {
		t.Errorf("dotted label: stats %+v", st)
	}
}

// FuzzQueryName checks the tracker's names against miekg/dns's wherever
// both parse the message.
func FuzzQueryName(f *testing.F) {
	f.Add(query(f, "gs-loc.apple.com."))
	f.Add(response(f, "CDN.example.net.", 60))
	f.Fuzz(func(t *testing.T, payload []byte) {
		q := &lastQuery{}
		tr := newTracker(t, q)
		p := queryPacket(payload)
		tr.Packet(&p)
		if q.n == 0 {
			return
		}
		if old, ok := miekgName(payload); ok && old != q.name {
			t.Fatalf("name %q, miekg/dns %q", q.name, old)
		}
	})
}
