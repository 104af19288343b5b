package dnstrack

import (
	"net/netip"
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

// BenchmarkMACNamesAdd stores answers by MAC as an office's responses do:
// 120 hosts, each resolving among 512 addresses, in a scattered order, into
// the default-sized shared table (nothing is evicted).
func BenchmarkMACNamesAdd(b *testing.B) {
	const hosts, addrs = 120, 512
	m := NewMACNames(DefaultConfig().MaxAnswers)
	macs := make([][6]byte, hosts)
	clients := make([]netip.Addr, hosts)
	for i := range macs {
		macs[i] = [6]byte{0x02, 0, 0, 0, byte(i >> 8), byte(i)}
		clients[i] = netip.AddrFrom4([4]byte{10, 30, byte(i >> 8), byte(i)})
	}
	servers := make([]netip.Addr, addrs)
	for i := range servers {
		servers[i] = netip.AddrFrom4([4]byte{203, 0, byte(i >> 8), byte(i)})
	}
	a := answer{name: "www.example.com"}
	b.ReportAllocs()
	i := uint32(0)
	c0 := cpuNs()
	for b.Loop() {
		i = i*1664525 + 1013904223
		h := int(i>>8) % hosts
		a.expires = int64(i)
		m.add(macs[h], clients[h], servers[int(i>>20)%addrs], a)
	}
	b.ReportMetric(float64(cpuNs()-c0)/float64(b.N), "cpu-ns/op")
}

// cpuNs is this process's user+system CPU time: on a shared machine the
// wall-clock ns/op includes waiting for a core, CPU time does not.
func cpuNs() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}
