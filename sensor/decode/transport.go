package decode

// transport decodes the IP payload. b holds the captured bytes of it (never
// more than the IP header declares), wire its length per the IP header.
func (d *Decoder) transport(b []byte, wire int, p *Packet) ErrKind {
	switch p.Proto {
	case ProtoTCP:
		return d.tcp(b, wire, p)
	case ProtoUDP:
		return d.udp(b, wire, p)
	case ProtoGRE:
		return d.gre(b, wire, p)
	case ProtoICMPv6:
		// Neighbor discovery (router advertisements' prefixes) is read
		// from the message; the packet stays an IP-only result.
		p.Payload = b[:len(b):len(b)]
	}
	return ErrOtherTransport
}

func (d *Decoder) tcp(b []byte, wire int, p *Packet) ErrKind {
	if len(b) < 20 {
		return short(20, wire, ErrBadTCP)
	}
	off := int(b[12]>>4) * 4
	if off < 20 || off > wire {
		return ErrBadTCP
	}
	p.SrcPort = be16(b)
	p.DstPort = be16(b[2:])
	p.Seq = be32(b[4:])
	p.Ack = be32(b[8:])
	p.TCPFlags = b[13]
	p.Window = be16(b[14:])
	if len(b) < off {
		return ErrTruncated
	}
	// Full slice expressions: an append by a consumer must not write into
	// the frame.
	p.TCPOptions = b[20:off:off]
	p.Payload = b[off:len(b):len(b)]
	p.PayloadLen = uint32(wire - off)
	return OK
}

// VXLAN UDP ports (IANA): VXLAN and VXLAN-GPE.
const (
	portVXLAN    = 4789
	portVXLANGPE = 4790
)

func (d *Decoder) udp(b []byte, wire int, p *Packet) ErrKind {
	if len(b) < 8 {
		return short(8, wire, ErrBadUDP)
	}
	p.SrcPort = be16(b)
	p.DstPort = be16(b[2:])
	ul := int(be16(b[4:]))
	if ul == 0 && p.IPv6 {
		ul = wire // jumbogram (RFC 2675)
	}
	if ul < 8 {
		return ErrBadUDP
	}
	if ul > wire {
		if !p.Fragment {
			return ErrBadUDP
		}
		// A first fragment carries only part of the datagram the UDP
		// length describes; count what this fragment carries, the later
		// fragments are counted as IP-only packets.
		ul = wire
	}
	pay := b[8:]
	if len(pay) > ul-8 {
		pay = pay[:ul-8]
	}
	p.Payload = pay[:len(pay):len(pay)]
	p.PayloadLen = uint32(ul - 8)
	if isVXLANPort(p.DstPort) || isVXLANPort(p.SrcPort) {
		if k, ok := d.vxlan(pay, p); ok {
			return k
		}
	}
	return OK
}

func isVXLANPort(port uint16) bool { return port == portVXLAN || port == portVXLANGPE }
