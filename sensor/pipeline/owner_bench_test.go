package pipeline

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/launchtap/launchtap/internal/pkttest"
	"github.com/launchtap/launchtap/sensor/decode"
)

// BenchmarkOwnerHost measures what host identity adds to each packet the
// sharded reader resolves (owners.shard) — the owner rule, learning
// bindings and joins, resolving the owner to its host, its shard hash —
// over the bench capture ("none"), and with one spoofed frame (a new
// internal source, a new MAC, TTL 64) every 64, 8 or 1 packets. One op is
// one packet of the capture.
func BenchmarkOwnerHost(b *testing.B) {
	data, err := benchCapture()
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "bench.pcap")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.Fatal(err)
	}
	pkts, err := pkttest.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	for _, every := range []int{0, 64, 8, 1} {
		b.Run(map[int]string{0: "none", 64: "1in64", 8: "1in8", 1: "1in1"}[every], func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.Workers = 1
			p, err := New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			own := p.workers[0].own
			spoof := decode.Packet{HasMAC: true, TTL: 64, Proto: decode.ProtoUDP, SrcPort: 1234, DstPort: 9999,
				Dst: netip.MustParseAddr("203.0.113.9")}
			b.ReportAllocs()
			b.ResetTimer()
			var (
				sink uint32
				h    batchHost
			)
			for i := 0; i < b.N; i++ {
				q := &pkts[i%len(pkts)]
				if every > 0 && i%every == 0 {
					n := uint32(i)
					spoof.Src = netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)})
					spoof.SrcMAC = [6]byte{0x02, 0, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
					spoof.TS = q.TS
					sink += own.shard(&spoof, &h)
				}
				sink += own.shard(q, &h)
			}
			_ = sink
		})
	}
}
