package decode

import "net/netip"

func (d *Decoder) ipv4(b []byte, p *Packet) ErrKind {
	if len(b) < 20 {
		return ErrTruncated
	}
	if b[0]>>4 != 4 {
		return ErrBadIPv4
	}
	hl := int(b[0]&0x0f) * 4
	if hl < 20 {
		return ErrBadIPv4
	}
	tl := int(be16(b[2:]))
	if tl == 0 {
		// Segmentation offload: a sender-side capture sees the super-packet
		// before the NIC fills in the length. Use what reached the wire.
		tl = len(b) + d.cut
	}
	if tl < hl {
		return ErrBadIPv4
	}
	if len(b) < hl {
		return ErrTruncated
	}
	p.IPv6 = false
	p.Src = netip.AddrFrom4([4]byte(b[12:16]))
	p.Dst = netip.AddrFrom4([4]byte(b[16:20]))
	p.TOS = b[1]
	p.TTL = b[8]
	p.IPID = be16(b[4:])
	p.Proto = b[9]
	fl := be16(b[6:])
	p.DF = fl&0x4000 != 0
	p.IPOptLen = uint8(hl - 20)
	p.IPLen = uint32(tl)
	if fl&0x1fff != 0 {
		p.Fragment = false
		return ErrFragment
	}
	p.Fragment = fl&0x2000 != 0
	if len(b) > tl {
		b = b[:tl] // Ethernet padding
	}
	return d.transport(b[hl:], tl-hl, p)
}

// IPv6 next-header values the extension-header walk knows.
const (
	ip6HopByHop = 0
	ip6Routing  = 43
	ip6Fragment = 44
	ip6ESP      = 50
	ip6AH       = 51
	ip6NoNext   = 59
	ip6DstOpts  = 60
	ip6Mobility = 135
	ip6HIP      = 139
	ip6Shim6    = 140
)

func (d *Decoder) ipv6(b []byte, p *Packet) ErrKind {
	if len(b) < 40 {
		return ErrTruncated
	}
	if b[0]>>4 != 6 {
		return ErrBadIPv6
	}
	plen := int(be16(b[4:]))
	nh := b[6]
	if plen == 0 && nh != ip6NoNext {
		// Jumbogram or segmentation offload: the real length is not in
		// the fixed header. Use what reached the wire.
		plen = len(b) - 40 + d.cut
	}
	p.IPv6 = true
	p.Src = netip.AddrFrom16([16]byte(b[8:24]))
	p.Dst = netip.AddrFrom16([16]byte(b[24:40]))
	p.TOS = uint8(be16(b) >> 4)
	p.TTL = b[7]
	p.IPLen = uint32(40 + plen)
	p.Fragment = false
	b = b[40:]
	if len(b) > plen {
		b = b[:plen]
	}
	ext := 0 // extension-header bytes consumed
	for i := 0; ; i++ {
		var hl int
		switch nh {
		case ip6HopByHop, ip6Routing, ip6DstOpts, ip6Mobility, ip6HIP, ip6Shim6:
			if len(b) < 2 {
				return short(ext+2, plen, ErrBadIPv6)
			}
			hl = (int(b[1]) + 1) * 8
		case ip6AH:
			if len(b) < 2 {
				return short(ext+2, plen, ErrBadIPv6)
			}
			hl = (int(b[1]) + 2) * 4
		case ip6Fragment:
			hl = 8
		default:
			p.Proto = nh
			p.IPOptLen = sat8(ext)
			return d.transport(b, plen-ext, p)
		}
		if i >= maxIPv6Ext {
			return ErrBadIPv6
		}
		if len(b) < hl {
			return short(ext+hl, plen, ErrBadIPv6)
		}
		if nh == ip6Fragment {
			off := be16(b[2:]) >> 3
			if off != 0 {
				p.Proto = b[0]
				p.IPOptLen = sat8(ext + hl)
				p.Fragment = false
				return ErrFragment
			}
			p.Fragment = b[3]&0x01 != 0
		}
		nh = b[0]
		b = b[hl:]
		ext += hl
	}
}

func sat8(n int) uint8 {
	if n > 255 {
		return 255
	}
	return uint8(n)
}
