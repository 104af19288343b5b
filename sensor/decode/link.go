package decode

import "encoding/binary"

// EtherTypes the decoder follows.
const (
	etherIPv4     = 0x0800
	etherIPv6     = 0x86dd
	etherVLAN     = 0x8100 // 802.1Q
	etherQinQ     = 0x88a8 // 802.1ad service tag
	etherQinQOld1 = 0x9100 // pre-standard QinQ tags still seen on span ports
	etherQinQOld2 = 0x9200
	etherMPLS     = 0x8847
	etherMPLSMC   = 0x8848
	etherPPPoE    = 0x8864 // PPPoE session stage
	etherTEB      = 0x6558 // transparent Ethernet bridging (GRE)
	etherERSPAN2  = 0x88be // ERSPAN type I/II (GRE)
	etherERSPAN3  = 0x22eb // ERSPAN type III (GRE)
)

func (d *Decoder) ethernet(b []byte, p *Packet) ErrKind {
	if len(b) < 14 {
		return ErrTruncated
	}
	p.DstMAC = [6]byte(b[0:6])
	p.SrcMAC = [6]byte(b[6:12])
	p.HasMAC = true
	return d.etherType(be16(b[12:]), b[14:], p)
}

// etherType decodes what follows an EtherType field: VLAN tags, MPLS and
// PPPoE down to IP. 802.3 length fields (<= 1500, LLC/SNAP frames) and every
// other EtherType are ErrNotIP.
func (d *Decoder) etherType(et uint16, b []byte, p *Packet) ErrKind {
	for tags := 0; ; tags++ {
		switch et {
		case etherIPv4:
			return d.ipv4(b, p)
		case etherIPv6:
			return d.ipv6(b, p)
		case etherVLAN, etherQinQ, etherQinQOld1, etherQinQOld2:
			if tags >= maxVLANTags {
				return ErrTunnel
			}
			if len(b) < 4 {
				return ErrTruncated
			}
			p.VLAN = be16(b) & 0x0fff
			et = be16(b[2:])
			b = b[4:]
		case etherMPLS, etherMPLSMC:
			return d.mpls(b, p)
		case etherPPPoE:
			return d.pppoe(b, p)
		default:
			return ErrNotIP
		}
	}
}

// mpls skips the label stack; the payload's version nibble says IPv4 or IPv6
// (anything else is a pseudowire, usually with a control word: not decoded).
func (d *Decoder) mpls(b []byte, p *Packet) ErrKind {
	for i := 0; ; i++ {
		if i >= maxMPLSLabels {
			return ErrTunnel
		}
		if len(b) < 4 {
			return ErrTruncated
		}
		bottom := b[2]&0x01 != 0
		b = b[4:]
		if bottom {
			break
		}
	}
	return d.ipAny(b, p)
}

// pppoe decodes a PPPoE session header (6 bytes) and the PPP protocol field.
func (d *Decoder) pppoe(b []byte, p *Packet) ErrKind {
	if len(b) < 8 {
		return ErrTruncated
	}
	if b[0] != 0x11 || b[1] != 0x00 { // version 1, type 1, code 0 (session data)
		return ErrNotIP
	}
	if n := int(be16(b[4:])) + 6; n < len(b) && n >= 8 {
		b = b[:n] // the PPPoE length excludes Ethernet padding
	}
	switch be16(b[6:]) {
	case 0x0021:
		return d.ipv4(b[8:], p)
	case 0x0057:
		return d.ipv6(b[8:], p)
	}
	return ErrNotIP
}

// ipAny decodes raw IP, choosing the version by the first nibble.
func (d *Decoder) ipAny(b []byte, p *Packet) ErrKind {
	if len(b) < 1 {
		return ErrTruncated
	}
	switch b[0] >> 4 {
	case 4:
		return d.ipv4(b, p)
	case 6:
		return d.ipv6(b, p)
	}
	return ErrNotIP
}

// null decodes BSD loopback (LINKTYPE_NULL, host byte order of the capturing
// machine) and OpenBSD LOOP (network order). Both orders are accepted for
// both: address families are small numbers, so a value above 0xffff in one
// order means the other.
func (d *Decoder) null(b []byte, p *Packet) ErrKind {
	if len(b) < 4 {
		return ErrTruncated
	}
	fam := binary.LittleEndian.Uint32(b)
	if fam > 0xffff {
		fam = be32(b)
	}
	switch fam {
	case 2: // AF_INET everywhere
		return d.ipv4(b[4:], p)
	case 24, 28, 30: // AF_INET6: NetBSD/OpenBSD, FreeBSD, Darwin
		return d.ipv6(b[4:], p)
	}
	return ErrNotIP
}

const arphrdEther = 1

// sll decodes a Linux cooked v1 header: packet type, ARPHRD type, address
// length, 8 address bytes, protocol. The address is the sender's, so an
// Ethernet address fills SrcMAC (DstMAC stays zero).
func (d *Decoder) sll(b []byte, p *Packet) ErrKind {
	if len(b) < 16 {
		return ErrTruncated
	}
	if be16(b[2:]) == arphrdEther && be16(b[4:]) == 6 {
		p.SrcMAC = [6]byte(b[6:12])
		p.HasMAC = true
	}
	return d.etherType(be16(b[14:]), b[16:], p)
}

// sll2 decodes a Linux cooked v2 header: protocol, reserved, interface index,
// ARPHRD type, packet type, address length, 8 address bytes.
func (d *Decoder) sll2(b []byte, p *Packet) ErrKind {
	if len(b) < 20 {
		return ErrTruncated
	}
	if be16(b[8:]) == arphrdEther && b[11] == 6 {
		p.SrcMAC = [6]byte(b[12:18])
		p.HasMAC = true
	}
	return d.etherType(be16(b[0:]), b[20:], p)
}
