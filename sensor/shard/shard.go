// Package shard decides which worker owns a packet: the internal host the
// packet belongs to, in both directions, so that one worker holds all of a
// host's state and workers share nothing.
//
// It is the one definition of the rule. Replay applies it to decoded packets
// (sensor/pipeline); live capture has the kernel apply it, compiled into bpf's
// launchtap_fanout program (bpf/src/launchtap.c), which the kernel's
// PACKET_FANOUT_EBPF group uses to pick a socket. A differential test in
// sensor/pipeline runs both over generated frames and real captures and
// requires the same hash for every frame replay would shard.
//
// The owner of a packet, read from its innermost IP header:
//   - DHCPv4 (UDP to port 67 or 68): the address being bound — yiaddr,
//     else ciaddr, else the requested-IP option (50) — since the client has
//     none yet. A message naming none (DISCOVER, a REQUEST without option
//     50) falls through to the rules below; replay also copies it to every
//     worker (Unplaced).
//   - exactly one end internal: that end;
//   - both internal: the end with the higher port (the ephemeral, client
//     side; ports are zero for protocols without them), ties broken by the
//     smaller address;
//   - neither internal: the source, so that every packet a host sends —
//     the SYNs, mDNS and DHCPv6 host identification reads — meets on one
//     worker.
//
// The hash is 32-bit FNV-1a over the owner's 16-byte form (IPv4 as
// IPv4-mapped IPv6), and a packet goes to worker hash % workers, as
// PACKET_FANOUT_EBPF maps the program's return value to a socket.
package shard

import (
	"encoding/binary"
	"net/netip"
)

// Packet is what the rule reads from one packet, all from its innermost IP
// header (after VLAN tags and tunnels).
type Packet struct {
	Src, Dst                 netip.Addr
	SrcInternal, DstInternal bool   // whether Src and Dst are in the internal networks
	Proto                    uint8  // IP protocol of the transport (6 TCP, 17 UDP, ...)
	SrcPort, DstPort         uint16 // TCP/UDP ports; zero for other protocols and IP fragments after the first
	Payload                  []byte // UDP payload as captured, within the UDP and IP lengths (the DHCP rule reads it)
}

// IP protocol and DHCP port numbers the rule looks at.
const (
	protoUDP   = 17
	dhcpServer = 67
	dhcpClient = 68
)

// Owner is the address that owns p's state (see the package comment).
func Owner(p *Packet) netip.Addr {
	if p.Proto == protoUDP && (p.DstPort == dhcpServer || p.DstPort == dhcpClient) {
		if a, ok := DHCPAddr(p.Payload); ok {
			return a
		}
	}
	switch {
	case p.SrcInternal && !p.DstInternal:
		return p.Src
	case p.DstInternal && !p.SrcInternal:
		return p.Dst
	case p.SrcInternal && p.DstInternal:
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

// Hash is the hash of the owner's address: FNV-1a over its 16-byte form.
// FNV is a few multiplications, cheap in the kernel program too; its low
// bits still differ between neighbouring addresses, which is what taking it
// modulo the worker count needs.
func Hash(a netip.Addr) uint32 {
	b := a.As16()
	h := uint32(2166136261)
	for _, c := range b {
		h ^= uint32(c)
		h *= 16777619
	}
	return h
}

// Of is Hash(Owner(p)): the value the kernel's fanout program returns for
// the frame p was read from.
func Of(p *Packet) uint32 { return Hash(Owner(p)) }

// Worker maps a hash to one of n workers exactly as PACKET_FANOUT_EBPF maps
// the program's return value to one of n sockets.
func Worker(hash uint32, n int) int {
	if n <= 1 {
		return 0
	}
	return int(hash % uint32(n))
}

// Unplaced reports a DHCPv4 message to the server from a client that names
// no address (DISCOVER, a REQUEST without option 50): no host owns it yet.
// Replay hands it to every worker, so that the one that later owns the
// address has the evidence; live capture cannot copy a packet and steers it
// by the address rules alone.
func Unplaced(p *Packet) bool {
	if p.Proto != protoUDP || p.DstPort != dhcpServer {
		return false
	}
	_, ok := DHCPAddr(p.Payload)
	return !ok
}

// MaxDHCPOptions bounds the option entries (pads included) DHCPAddr reads
// looking for option 50: the kernel program must bound its loop, and the
// two must agree. Clients put option 50 among the first dozen.
const MaxDHCPOptions = 64

// BOOTP layout: the fixed header and the magic cookie before the options.
const (
	bootpCiaddr = 12
	bootpYiaddr = 16
	bootpCookie = 236
	bootpFixed  = 240
	dhcpMagic   = 0x63825363
)

// DHCPAddr finds the client address in a BOOTP/DHCP message: yiaddr (offers,
// acks), else ciaddr (renewals, informs), else option 50 (requests) among
// the first MaxDHCPOptions option entries. Anything malformed or cut short
// yields false.
func DHCPAddr(b []byte) (netip.Addr, bool) {
	if len(b) < bootpFixed || binary.BigEndian.Uint32(b[bootpCookie:]) != dhcpMagic {
		return netip.Addr{}, false
	}
	for _, off := range [...]int{bootpYiaddr, bootpCiaddr} {
		if a := netip.AddrFrom4([4]byte(b[off : off+4])); !a.IsUnspecified() {
			return a, true
		}
	}
	i := bootpFixed
	for range MaxDHCPOptions {
		if i >= len(b) {
			break
		}
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
