package decode

// decap starts decoding an encapsulated packet: p is cleared so that it
// describes the inner packet only, keeping TS, WireLen and the outermost
// Tunnel. It reports false when the nesting bound is reached.
func (d *Decoder) decap(p *Packet, t Tunnel) bool {
	if d.depth >= maxTunnelDepth {
		return false
	}
	d.depth++
	d.decaps[t]++
	outer := p.Tunnel
	if outer == TunnelNone {
		outer = t
	}
	*p = Packet{TS: p.TS, WireLen: p.WireLen, Tunnel: outer}
	return true
}

// GRE header flag bits (RFC 2784, RFC 2890; R and recursion from RFC 1701).
const (
	greChecksum = 0x8000
	greRouting  = 0x4000
	greKey      = 0x2000
	greSeq      = 0x1000
	greVersion  = 0x0007
)

// gre decodes a GRE header and what it carries. Unknown payload protocols
// and GRE version 1 (PPTP) leave the outer packet as ErrOtherTransport.
func (d *Decoder) gre(b []byte, wire int, p *Packet) ErrKind {
	if len(b) < 4 {
		return short(4, wire, ErrTunnel)
	}
	flags := be16(b)
	proto := be16(b[2:])
	if flags&greVersion != 0 {
		return ErrOtherTransport
	}
	if flags&greRouting != 0 {
		return ErrTunnel // RFC 1701 source routing: deprecated, never on span feeds
	}
	hl := 4
	if flags&greChecksum != 0 {
		hl += 4
	}
	if flags&greKey != 0 {
		hl += 4
	}
	if flags&greSeq != 0 {
		hl += 4
	}
	if len(b) < hl {
		return short(hl, wire, ErrTunnel)
	}
	b = b[hl:]
	switch proto {
	case etherIPv4:
		if !d.decap(p, TunnelGRE) {
			return ErrTunnel
		}
		return d.ipv4(b, p)
	case etherIPv6:
		if !d.decap(p, TunnelGRE) {
			return ErrTunnel
		}
		return d.ipv6(b, p)
	case etherTEB:
		if !d.decap(p, TunnelGRE) {
			return ErrTunnel
		}
		return d.ethernet(b, p)
	case etherERSPAN2:
		return d.erspan2(b, flags&greSeq != 0, p)
	case etherERSPAN3:
		return d.erspan3(b, p)
	}
	return ErrOtherTransport
}

// erspan2 decodes ERSPAN type II (8-byte header, version 1) and, when the GRE
// header has no sequence number, type I, which has no ERSPAN header at all.
// Both are reported as TunnelERSPAN2. The header's VLAN field is the mirrored
// frame's VLAN when the switch stripped the tag.
func (d *Decoder) erspan2(b []byte, typeII bool, p *Packet) ErrKind {
	var vlan uint16
	if typeII {
		if len(b) < 8 {
			return ErrTruncated
		}
		if b[0]>>4 != 1 {
			return ErrTunnel
		}
		vlan = be16(b) & 0x0fff
		b = b[8:]
	}
	if !d.decap(p, TunnelERSPAN2) {
		return ErrTunnel
	}
	p.VLAN = vlan
	return d.ethernet(b, p)
}

// erspan3 decodes ERSPAN type III: a 12-byte header (version 2), an 8-byte
// platform-specific subheader when the O bit is set, then an Ethernet frame
// (frame type 0) or an IP packet (frame type 2).
func (d *Decoder) erspan3(b []byte, p *Packet) ErrKind {
	if len(b) < 12 {
		return ErrTruncated
	}
	if b[0]>>4 != 2 {
		return ErrTunnel
	}
	vlan := be16(b) & 0x0fff
	ft := (b[10] >> 2) & 0x1f
	hl := 12
	if b[11]&0x01 != 0 {
		hl += 8
	}
	if len(b) < hl {
		return ErrTruncated
	}
	b = b[hl:]
	if ft != 0 && ft != 2 {
		return ErrTunnel
	}
	if !d.decap(p, TunnelERSPAN3) {
		return ErrTunnel
	}
	p.VLAN = vlan
	if ft == 2 {
		return d.ipAny(b, p)
	}
	return d.ethernet(b, p)
}

// vxlan decodes a VXLAN (RFC 7348, with the group-policy G bit allowed) or
// VXLAN-GPE header and the inner frame. It reports ok=false when the bytes do
// not look like VXLAN, so the caller keeps the UDP packet: the ports are only
// a hint (a client may have picked 4789 as its ephemeral port), so reserved
// bits must be clear too.
func (d *Decoder) vxlan(b []byte, p *Packet) (ErrKind, bool) {
	if len(b) < 8 || b[7] != 0 {
		return OK, false
	}
	next := uint8(3) // plain VXLAN carries Ethernet
	switch {
	case b[0] == 0x08 || b[0] == 0x88: // I flag, optionally G
	case b[0]&0xfc == 0x0c && b[1] == 0 && b[2] == 0:
		// VXLAN-GPE: I and P flags, next protocol 1 IPv4, 2 IPv6, 3 Ethernet.
		next = b[3]
		if next < 1 || next > 3 {
			return OK, false
		}
	default:
		return OK, false
	}
	if !d.decap(p, TunnelVXLAN) {
		return ErrTunnel, true
	}
	b = b[8:]
	switch next {
	case 1:
		return d.ipv4(b, p), true
	case 2:
		return d.ipv6(b, p), true
	}
	return d.ethernet(b, p), true
}
