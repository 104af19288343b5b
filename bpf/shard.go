package bpf

import (
	"encoding/binary"
	"net/netip"
)

// ShardHash is the user-space twin of launchtap_fanout: the hash of the address
// that owns a packet's state. The kernel sends the packet to fanout socket
// ShardHash % sockets; a pipeline that shards decoded packets itself must use
// the same function (with Shard) so that live and replayed traffic split alike.
//
// The owner is chosen as follows, from the innermost IP header (after VLAN tags
// and one GRE/ERSPAN II/III/VXLAN encapsulation):
//   - exactly one end internal: that end;
//   - both internal, ports differ: the end with the larger port (the ephemeral,
//     client side);
//   - otherwise (both internal with equal ports, neither internal, no ports):
//     the smaller address.
//
// si and di say whether src and dst are internal. sport and dport are the TCP/UDP ports, 0 for other protocols and for IPv4
// fragments after the first. An IPv4 address hashes its 4 bytes, an IPv6 address
// (including IPv4-mapped) all 16. It returns 0 for a packet without IP addresses.
func ShardHash(src, dst netip.Addr, sport, dport uint16, si, di bool) uint32 {
	if !src.IsValid() || !dst.IsValid() {
		return 0
	}
	var pick netip.Addr
	switch {
	case si && !di:
		pick = src
	case di && !si:
		pick = dst
	case si && di && sport != dport:
		if sport > dport {
			pick = src
		} else {
			pick = dst
		}
	default:
		if src.Less(dst) {
			pick = src
		} else {
			pick = dst
		}
	}
	return AddrHash(pick)
}

// AddrHash is the hash ShardHash applies to the chosen address.
func AddrHash(a netip.Addr) uint32 {
	b := a.As16()
	h := uint32(0x9747b28c)
	if a.Is6() {
		for i := 0; i < 12; i += 4 {
			h = fmix32(h ^ binary.BigEndian.Uint32(b[i:]))
		}
	}
	return fmix32(h ^ binary.BigEndian.Uint32(b[12:]))
}

// Shard maps a hash to one of n workers exactly as the kernel's
// PACKET_FANOUT_EBPF does with the program's return value.
func Shard(hash uint32, n int) int {
	if n <= 1 {
		return 0
	}
	return int(hash % uint32(n))
}

// fmix32 is MurmurHash3's 32-bit finaliser.
func fmix32(h uint32) uint32 {
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}
