package pipeline

import (
	"net/netip"

	"github.com/launchtap/launchtap/sensor/decode"
	"github.com/launchtap/launchtap/sensor/netset"
	"github.com/launchtap/launchtap/sensor/shard"
)

// shardPacket is what the shard rule reads from a decoded packet. Ports are
// the decoder's, which are zero for anything but TCP and UDP and for IP
// fragments after the first, as the kernel's fanout program reads them.
func shardPacket(p *decode.Packet, internal *netset.Set) shard.Packet {
	return shard.Packet{
		Src: p.Src, Dst: p.Dst,
		SrcInternal: internal.Contains(p.Src), DstInternal: internal.Contains(p.Dst),
		Proto: p.Proto, SrcPort: p.SrcPort, DstPort: p.DstPort,
		Payload: p.Payload,
	}
}

// ownerOf is the address of the internal host a packet belongs to, in both
// directions (the rule is shard.Owner's); owners.host resolves it to the
// host. Live capture steers with the same rule in the kernel's fanout
// program.
func ownerOf(p *decode.Packet, internal *netset.Set) netip.Addr {
	sp := shardPacket(p, internal)
	return shard.Owner(&sp)
}

// shardHash is the fanout hash of p: what launchtap_fanout returns for the
// frame p was decoded from.
func shardHash(p *decode.Packet, internal *netset.Set) uint32 {
	sp := shardPacket(p, internal)
	return shard.Of(&sp)
}

// shardOf maps a packet to one of n workers.
func shardOf(p *decode.Packet, internal *netset.Set, n int) int {
	return shard.Worker(shardHash(p, internal), n)
}
