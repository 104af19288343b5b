package dnstrack

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"github.com/launchtap/launchtap/sensor/decode"
)

type nopQueries struct{ n int }

func (q *nopQueries) DNSQuery(netip.Addr, [6]byte, bool, string, uint16, int64) { q.n++ }

func query(tb testing.TB, name string) []byte {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	m.SetEdns0(1232, false)
	b, err := m.Pack()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// BenchmarkPacket measures one DNS message over UDP: a query (reported to
// the handler) and a response with a CNAME chain (answers stored).
func BenchmarkPacket(b *testing.B) {
	for _, bc := range []struct {
		name string
		pkt  decode.Packet
	}{
		{"query", decode.Packet{Proto: decode.ProtoUDP, Src: client, Dst: resolver, SrcPort: 53000, DstPort: 53, Payload: query(b, "gs-loc.apple.com.")}},
		{"response", udpResponse(0, response(b, "cdn.example.net.", 300))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			q := &nopQueries{}
			tr := newTracker(b, q)
			p := bc.pkt
			p.PayloadLen = uint32(len(p.Payload))
			b.ReportAllocs()
			for b.Loop() {
				tr.Packet(&p)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
			if st := tr.Stats(); st.Malformed != 0 {
				b.Fatalf("%d malformed", st.Malformed)
			}
		})
	}
}
