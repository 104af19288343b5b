package pipeline

import (
	"encoding/binary"
	"net/netip"

	"github.com/launchtap/launchtap/sensor/decode"
	"github.com/launchtap/launchtap/sensor/netset"
)

// HostKey is the address a packet is sharded by: the internal host it
// belongs to, in both directions, so one worker sees all of a host's traffic.
//   - internal ↔ external: the internal address;
//   - internal ↔ internal: the side with the higher (ephemeral) port, ties
//     broken by the smaller address — the client of a DNS or DHCP exchange;
//   - DHCPv4: the address being bound (yiaddr, ciaddr or the requested-IP
//     option), since the client has none yet; a DISCOVER has none either and
//     falls through to the source rule;
//   - neither internal: the source.
//
// Live capture steers with the same rule in the kernel's fanout program.
func HostKey(p *decode.Packet, internal *netset.Set) netip.Addr {
	if p.Proto == decode.ProtoUDP && (p.DstPort == 67 || p.DstPort == 68) {
		if a, ok := dhcpAddr(p.Payload); ok {
			return a
		}
	}
	srcIn, dstIn := internal.Contains(p.Src), internal.Contains(p.Dst)
	switch {
	case srcIn && !dstIn:
		return p.Src
	case dstIn && !srcIn:
		return p.Dst
	case srcIn && dstIn:
		switch {
		case p.SrcPort > p.DstPort:
			return p.Src
		case p.SrcPort < p.DstPort:
			return p.Dst
		case p.Src.Less(p.Dst):
			return p.Src
		}
		return p.Dst
	}
	return p.Src
}

// dhcpAddr finds the client address in a BOOTP message: yiaddr (offers,
// acks), ciaddr (renewals), or option 50 (requests).
func dhcpAddr(b []byte) (netip.Addr, bool) {
	const fixed = 240 // BOOTP header + magic cookie
	if len(b) < fixed || binary.BigEndian.Uint32(b[236:240]) != 0x63825363 {
		return netip.Addr{}, false
	}
	for _, off := range []int{16, 12} { // yiaddr, ciaddr
		if a := netip.AddrFrom4([4]byte(b[off : off+4])); !a.IsUnspecified() {
			return a, true
		}
	}
	for i := fixed; i < len(b); {
		code := b[i]
		if code == 255 {
			break
		}
		if code == 0 {
			i++
			continue
		}
		if i+1 >= len(b) {
			break
		}
		n := int(b[i+1])
		if i+2+n > len(b) {
			break
		}
		if code == 50 && n == 4 {
			return netip.AddrFrom4([4]byte(b[i+2 : i+6])), true
		}
		i += 2 + n
	}
	return netip.Addr{}, false
}

// unplaced reports a DHCPv4 message from a client that has no address yet
// (DISCOVER, or a REQUEST without option 50): no worker owns it, so every
// worker's host table gets it and the one that later owns the address has
// the evidence.
func unplaced(p *decode.Packet) bool {
	if p.Proto != decode.ProtoUDP || p.DstPort != 67 {
		return false
	}
	_, ok := dhcpAddr(p.Payload)
	return !ok
}

// shard maps a packet to one of n workers.
func shard(p *decode.Packet, internal *netset.Set, n int) int {
	return shardAddr(HostKey(p, internal), n)
}

// shardAddr maps an internal host to one of n workers as replay shards it.
func shardAddr(addr netip.Addr, n int) int {
	a := addr.As16()
	// FNV-1a over the address: cheap, and spreads sequential addresses.
	h := uint32(2166136261)
	for _, c := range a {
		h ^= uint32(c)
		h *= 16777619
	}
	return int(h % uint32(n))
}
