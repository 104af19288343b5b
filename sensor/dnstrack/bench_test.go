package dnstrack

import (
	"syscall"
	"testing"

	"github.com/miekg/dns"

	"github.com/launchtap/launchtap/sensor/decode"
)

// BenchmarkPacket is the cost of one DNS message on the worker: a query, and
// a response with a CNAME chain whose answers are stored.
func BenchmarkPacket(b *testing.B) {
	q := new(dns.Msg)
	q.SetQuestion("cdn.example.net.", dns.TypeA)
	qb, _ := q.Pack()
	query := decode.Packet{Proto: decode.ProtoUDP, Src: client, Dst: resolver, SrcPort: 53000, DstPort: 53, Payload: qb, PayloadLen: uint32(len(qb))}
	resp := udpResponse(0, response(b, "cdn.example.net.", 60))
	for _, bc := range []struct {
		name string
		p    *decode.Packet
	}{{"query", &query}, {"response", &resp}} {
		b.Run(bc.name, func(b *testing.B) {
			tr := newTracker(b, nil)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				tr.Packet(bc.p)
			}
		})
	}
}

// BenchmarkResponsePaths compares reading a response in place with a whole
// miekg/dns unpack (what every response cost before the fast path).
func BenchmarkResponsePaths(b *testing.B) {
	msgs := responses(b)
	for _, name := range []string{"cname chain", "compressed, authority, glue, edns cookie and padding"} {
		m := msgs[name]
		for _, path := range []struct {
			name string
			read func(*Tracker, []byte, bool) (int, string, bool)
		}{{"fast", (*Tracker).fastResponse}, {"unpack", (*Tracker).fullResponse}} {
			b.Run(name+"/"+path.name, func(b *testing.B) {
				tr := newTracker(b, nil)
				b.ReportAllocs()
				for b.Loop() {
					if _, _, ok := path.read(tr, m, true); !ok {
						b.Fatal("declined")
					}
				}
			})
		}
	}
}

// cpuNs is this process's user+system CPU time: on a shared machine the
// wall-clock ns/op includes waiting for a core, CPU time does not.
func cpuNs() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}
