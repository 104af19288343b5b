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
//   - DHCPv4 (UDP to port 67 or 68) whose chaddr is not an Ethernet
//     address (DHCPClientMAC; those belong to the client's MAC, below): the
//     address being bound — yiaddr, else ciaddr, else the requested-IP
//     option (50). A message naming none falls through to the rules below.
//   - exactly one end internal: that end;
//   - both internal: the end with the higher port (the ephemeral, client
//     side; ports are zero for protocols without them), ties broken by the
//     smaller address;
//   - neither internal: the source, so that every packet a host sends —
//     the SYNs, mDNS and DHCPv6 host identification reads — meets on one
//     worker.
//
// The owner is then resolved to its host (sensor/host): a Mac is one host
// whatever address it holds. A DHCPv4 message belongs to its client's
// hardware address (chaddr), so that a lease's whole exchange — DISCOVER
// included, which names no address — meets the host's other traffic. Any
// other packet's owner address is looked up among the bindings learned in
// capture order (DHCP leases, NDP, the traffic hosts send): bound to a MAC,
// the packet belongs to that MAC's host (the MAC a join made canonical: a
// docked laptop's two MACs are one host); unbound, to the address itself.
//
// The hash is 32-bit FNV-1a over the host key (HashKey): its canonical
// MAC's six bytes, or the address's 16-byte form (IPv4 as IPv4-mapped IPv6)
// for an address-keyed host. A packet goes to worker hash % workers, as
// PACKET_FANOUT_EBPF maps the program's return value to a socket. Replay
// resolves hosts in its reader; live capture gives the kernel program the
// same answers in its hosts map (MapKey: an address, or a MAC that joined
// another host), which user space keeps in step with the bindings
// (host.Config.Notify); the program hashes the address or chaddr itself
// when the map has no entry.
package shard

import (
	"encoding/binary"
	"net/netip"

	"github.com/launchtap/launchtap/sensor/host"
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
	if IsDHCP(p.Proto, p.DstPort) {
		if a, ok := DHCPAddr(p.Payload); ok {
			return a
		}
	}
	if DstOwns(p.Src, p.Dst, p.SrcInternal, p.DstInternal, p.SrcPort, p.DstPort) {
		return p.Dst
	}
	return p.Src
}

// IsDHCP reports whether a packet of IP protocol proto to port dport is a
// DHCPv4 message, which Owner reads the bound address from first.
func IsDHCP(proto uint8, dport uint16) bool {
	return proto == protoUDP && (dport == dhcpServer || dport == dhcpClient)
}

// DstOwns is the rule of Owner below DHCP: whether the destination owns a
// packet rather than the source. The sharded replay's reader asks it of
// every packet that is not DHCP with the packet's own fields, which costs
// less than filling a Packet.
func DstOwns(src, dst netip.Addr, srcInternal, dstInternal bool, sport, dport uint16) bool {
	switch {
	case srcInternal && !dstInternal:
		return false
	case dstInternal && !srcInternal:
		return true
	case srcInternal && dstInternal:
		switch {
		case sport > dport:
			return false
		case sport < dport:
			return true
		}
		return !src.Less(dst)
	}
	return false
}

// Hash is the hash of the owner's address: FNV-1a over its 16-byte form.
// FNV is a few multiplications, cheap in the kernel program too; its low
// bits still differ between neighbouring addresses, which is what taking it
// modulo the worker count needs.
func Hash(a netip.Addr) uint32 {
	if a.Is4() {
		// The same bytes as As16's (::ffff:a.b.c.d), without copying As16's
		// result, which costs a failed store-to-load forward per call.
		b := a.As4()
		h := v4MappedPrefixHash
		for _, c := range b {
			h ^= uint32(c)
			h *= 16777619
		}
		return h
	}
	b := a.As16()
	h := uint32(2166136261)
	for _, c := range b {
		h ^= uint32(c)
		h *= 16777619
	}
	return h
}

// v4MappedPrefixHash is FNV-1a's state after the twelve bytes that put an
// IPv4 address in IPv6 form (ten zeros, two 0xff).
var v4MappedPrefixHash = func() uint32 {
	h := uint32(2166136261)
	for _, c := range [12]byte{10: 0xff, 11: 0xff} {
		h ^= uint32(c)
		h *= 16777619
	}
	return h
}()

// Of is Hash(Owner(p)): the value the kernel's fanout program returns for
// the frame p was read from when no host is bound to the owner and p is not
// a DHCPv4 message from an Ethernet client (HashKey of the host otherwise).
func Of(p *Packet) uint32 { return Hash(Owner(p)) }

// Worker maps a hash to one of n workers exactly as PACKET_FANOUT_EBPF maps
// the program's return value to one of n sockets.
func Worker(hash uint32, n int) int {
	if n <= 1 {
		return 0
	}
	return int(hash % uint32(n))
}

// MaxDHCPOptions bounds the option entries (pads included) DHCPAddr reads
// looking for option 50: the kernel program must bound its loop, and the
// two must agree. Clients put option 50 among the first dozen.
const MaxDHCPOptions = 64

// BOOTP layout: the fixed header and the magic cookie before the options.
const (
	bootpCiaddr = 12
	bootpChaddr = 28
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

// DHCPClientMAC returns the client hardware address (chaddr) of a DHCPv4
// message when it is an Ethernet address (htype 1, hlen 6) and the message
// has the DHCP magic cookie.
func DHCPClientMAC(b []byte) ([6]byte, bool) {
	if len(b) < bootpFixed || binary.BigEndian.Uint32(b[bootpCookie:]) != dhcpMagic || b[1] != 1 || b[2] != 6 {
		return [6]byte{}, false
	}
	return [6]byte(b[bootpChaddr : bootpChaddr+6]), true
}

// MapKey is the kernel hosts map's key for an owner address, or, for
// a MAC (addr invalid), ff:ff:ff:ff:ff:ff:ff:ff:ff:ff followed by the six
// MAC bytes: a multicast address, which no owner can be.
func MapKey(addr netip.Addr, mac [6]byte) [16]byte {
	if addr.IsValid() {
		return addr.As16()
	}
	var k [16]byte
	for i := range 10 {
		k[i] = 0xff
	}
	copy(k[10:], mac[:])
	return k
}

// HashKey is the hash of the host that owns a packet (sensor/host): FNV-1a
// over its MAC's six bytes for a MAC-keyed host, else Hash of its address.
// Replay resolves the owner address to its host in capture order; live
// capture gives the kernel program the same bindings (address → HashKey) in
// a map, and the program hashes the address itself when none is bound.
func HashKey(k host.Key) uint32 {
	if !k.IsMAC() {
		return Hash(k.Addr)
	}
	return HashMAC(k.MAC)
}

// HashMAC is HashKey of the host with canonical MAC m.
func HashMAC(m [6]byte) uint32 {
	h := uint32(2166136261)
	for _, c := range m {
		h ^= uint32(c)
		h *= 16777619
	}
	return h
}
