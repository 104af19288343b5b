package decode

import "net/netip"

// Packet is what later stages need to know about one frame. The decoder fills
// a caller-owned Packet in place, so decoding allocates nothing; the byte
// slices alias the frame and are valid only as long as the frame is.
type Packet struct {
	TS      int64  // capture time, Unix nanoseconds
	WireLen uint32 // frame length on the wire

	SrcMAC, DstMAC [6]byte // innermost Ethernet addresses (zero without Ethernet)
	HasMAC         bool
	VLAN           uint16 // innermost 802.1Q VLAN ID, 0 when untagged
	Tunnel         Tunnel // the outermost encapsulation that was removed

	Src, Dst netip.Addr // innermost IP addresses
	IPv6     bool
	TTL      uint8  // TTL or hop limit
	TOS      uint8  // IPv4 TOS / IPv6 traffic class (ECN in the low 2 bits)
	IPID     uint16 // IPv4 identification (0 for IPv6)
	DF       bool   // IPv4 don't-fragment
	IPOptLen uint8  // bytes of IPv4 options / IPv6 extension headers skipped
	Fragment bool   // first fragment of a fragmented datagram (later ones are not decoded)
	IPLen    uint32 // IP datagram length from the IP header (header + payload), not the snap length

	Proto            uint8 // IP protocol number of the transport: 6 TCP, 17 UDP, 1/58 ICMP, ...
	SrcPort, DstPort uint16
	TCPFlags         uint8 // FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 URG 0x20 ECE 0x40 CWR 0x80
	Seq, Ack         uint32
	Window           uint16
	TCPOptions       []byte // raw TCP options (aliases the frame)

	Payload    []byte // transport payload as captured (aliases the frame)
	PayloadLen uint32 // transport payload length on the wire (from the IP length), >= len(Payload)
}

// TCP flag bits as they appear in Packet.TCPFlags.
const (
	TCPFin = 0x01
	TCPSyn = 0x02
	TCPRst = 0x04
	TCPPsh = 0x08
	TCPAck = 0x10
	TCPUrg = 0x20
	TCPEce = 0x40
	TCPCwr = 0x80
)

// IP protocol numbers launchtap looks at.
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoGRE    = 47
	ProtoICMPv6 = 58
)

// Tunnel names an encapsulation the decoder removed to reach the inner packet.
type Tunnel uint8

const (
	TunnelNone Tunnel = iota
	TunnelGRE
	TunnelERSPAN2
	TunnelERSPAN3
	TunnelVXLAN
)

// ErrKind classifies why a frame could not be decoded to a transport header.
// Counters are kept per kind so that a flood of one kind of garbage shows up as such.
type ErrKind uint8

const (
	OK                ErrKind = iota
	ErrTruncated              // a header runs past the captured bytes
	ErrUnknownLink            // link type launchtap does not decode
	ErrNotIP                  // ARP, LLDP, STP, ...: valid but not IP (counted, not an error)
	ErrBadIPv4                // version/IHL/length fields inconsistent
	ErrBadIPv6                // bad version or extension-header chain
	ErrFragment               // a non-first IP fragment: no transport header to read
	ErrBadTCP                 // data offset below 5 or beyond the segment
	ErrBadUDP                 // length field inconsistent
	ErrTunnel                 // malformed GRE/ERSPAN/VXLAN, or nested deeper than allowed
	ErrOtherTransport         // IP protocol launchtap does not track (ICMP, ESP, ...): counted, not an error
	NumErrKinds
)

var errKindNames = [NumErrKinds]string{
	OK:                "ok",
	ErrTruncated:      "truncated",
	ErrUnknownLink:    "unknown_link",
	ErrNotIP:          "not_ip",
	ErrBadIPv4:        "bad_ipv4",
	ErrBadIPv6:        "bad_ipv6",
	ErrFragment:       "fragment",
	ErrBadTCP:         "bad_tcp",
	ErrBadUDP:         "bad_udp",
	ErrTunnel:         "bad_tunnel",
	ErrOtherTransport: "other_transport",
}

// String returns the snake_case name used in summaries and metric labels.
func (k ErrKind) String() string {
	if k < NumErrKinds {
		return errKindNames[k]
	}
	return "unknown"
}
