package live

import (
	"net/netip"

	"github.com/launchtap/launchtap/bpf"
	"github.com/launchtap/launchtap/sensor/decode"
)

// AddrSet tells internal addresses from external ones (netset.Set does).
type AddrSet interface {
	Contains(netip.Addr) bool
}

// ShardKey is the hash the kernel's fanout program computes for the frame p
// was decoded from (see bpf.ShardHash for the rule): the internal host's
// address, so both directions of its traffic get the same key. A pipeline
// that shards decoded packets itself uses Shard(ShardKey(p, internal), workers)
// and splits traffic exactly as a live capture with that many workers does.
// internal must hold the same networks as Config.Internal.
func ShardKey(p *decode.Packet, internal AddrSet) uint32 {
	var sport, dport uint16
	if p.Proto == decode.ProtoTCP || p.Proto == decode.ProtoUDP {
		sport, dport = p.SrcPort, p.DstPort
	}
	return bpf.ShardHash(p.Src, p.Dst, sport, dport, internal.Contains(p.Src), internal.Contains(p.Dst))
}

// Shard maps a ShardKey to a worker in [0, workers), as PACKET_FANOUT_EBPF
// maps the program's return value to a socket.
func Shard(key uint32, workers int) int { return bpf.Shard(key, workers) }
