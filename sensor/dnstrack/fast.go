package dnstrack

import "encoding/binary"

// The response fast path reads a response in place: the first question's
// name, and the answer records' owner names, types, TTLs and A, AAAA and
// CNAME data, without building a message. It is deliberately strict — every
// section must have exactly the records its count says, every name must use
// plain labels and backward compression pointers, and every record a type it
// can check as miekg/dns would (A, AAAA, CNAME, NS, SOA, and OPT without
// options other than cookie and padding) — and declines whatever is not,
// which then takes the whole unpack. So it never accepts what a whole unpack
// would reject, and gives what it would give (FuzzResponsePaths checks both).

const (
	typeA     = 1
	typeNS    = 2
	typeCNAME = 5
	typeSOA   = 6
	typeAAAA  = 28
	typeOPT   = 41

	maxFastRecords  = 64 // answers read in place; more take the whole unpack
	maxNamePointers = 32
)

// rec is one answer record as offsets into the message.
type rec struct {
	name  int // owner name
	typ   uint16
	ttl   uint32
	rdata int
	rdlen int
}

// fastResponse holds a walked response; reused between messages.
type fastResponse struct {
	rcode   int
	answers []rec
}

// skipName returns the offset after the name at off, or -1 where the name is
// not plain: a label type other than 0, a pointer that does not point
// backwards, too many pointers, more than 250 wire octets (miekg/dns allows
// 255: the margin keeps its count and this one from ever disagreeing).
func skipName(b []byte, off int) int {
	end, wire, ptrs := -1, 0, 0
	limit := off // a pointer must point before the label that holds it
	for {
		if off >= len(b) {
			return -1
		}
		c := int(b[off])
		switch c & 0xC0 {
		case 0x00:
			if c == 0 {
				if end < 0 {
					end = off + 1
				}
				return end
			}
			if off+1+c > len(b) {
				return -1
			}
			if wire += c + 1; wire > 250 {
				return -1
			}
			off += 1 + c
		case 0xC0:
			if off+1 >= len(b) {
				return -1
			}
			p := (c&0x3F)<<8 | int(b[off+1])
			if end < 0 {
				end = off + 2
			}
			if ptrs++; ptrs > maxNamePointers || p >= limit {
				return -1
			}
			off, limit = p, p
		default:
			return -1
		}
	}
}

// label returns the label at off after following pointers: its bytes and the
// offset of the next label, or ok false at the name's end.
func label(b []byte, off int) (lbl []byte, next int, ok bool) {
	for {
		c := int(b[off])
		if c&0xC0 == 0xC0 {
			off = (c&0x3F)<<8 | int(b[off+1])
			continue
		}
		if c == 0 {
			return nil, off, false
		}
		return b[off+1 : off+1+c], off + 1 + c, true
	}
}

// follow returns the offset of the label the name at off starts with, past
// its pointers (the name checked by skipName).
func follow(b []byte, off int) int {
	for b[off]&0xC0 == 0xC0 {
		off = int(b[off]&0x3F)<<8 | int(b[off+1])
	}
	return off
}

// sameName compares two names of b (already checked by skipName) label by
// label, ASCII case-insensitively: what strings.EqualFold says of their
// presentation forms. Where both reach the same offset, the rest is the same
// octets: a compressed response names an owner by a pointer to the name it
// repeats, so most comparisons end at their first label.
func sameName(b []byte, x, y int) bool {
	for {
		x, y = follow(b, x), follow(b, y)
		if x == y {
			return true
		}
		lx, nx, okx := label(b, x)
		ly, ny, oky := label(b, y)
		if okx != oky {
			return false
		}
		if !okx {
			return true
		}
		if len(lx) != len(ly) {
			return false
		}
		for i := range lx {
			cx, cy := lx[i], ly[i]
			if 'A' <= cx && cx <= 'Z' {
				cx += 'a' - 'A'
			}
			if 'A' <= cy && cy <= 'Z' {
				cy += 'a' - 'A'
			}
			if cx != cy {
				return false
			}
		}
		x, y = nx, ny
	}
}

// walk reads response b into r. It returns false where the whole unpack
// must decide.
func (r *fastResponse) walk(b []byte) bool {
	if len(b) < 12 {
		return false
	}
	qd := int(binary.BigEndian.Uint16(b[4:]))
	an := int(binary.BigEndian.Uint16(b[6:]))
	ns := int(binary.BigEndian.Uint16(b[8:]))
	ar := int(binary.BigEndian.Uint16(b[10:]))
	if qd == 0 || an > maxFastRecords {
		return false
	}
	r.rcode = int(b[3] & 0x0F)
	r.answers = r.answers[:0]
	off := 12
	for range qd {
		if off = skipName(b, off); off < 0 || off+4 > len(b) {
			return false
		}
		off += 4
	}
	for i := 0; i < an+ns+ar; i++ {
		name := off
		if off = skipName(b, off); off < 0 || off+10 > len(b) {
			return false
		}
		typ := binary.BigEndian.Uint16(b[off:])
		ttl := binary.BigEndian.Uint32(b[off+4:])
		rdlen := int(binary.BigEndian.Uint16(b[off+8:]))
		rdata := off + 10
		if off = rdata + rdlen; off > len(b) {
			return false
		}
		if !checkRdata(b, typ, ttl, rdata, rdlen, i >= an+ns) {
			return false
		}
		if i < an {
			r.answers = append(r.answers, rec{name: name, typ: typ, ttl: ttl, rdata: rdata, rdlen: rdlen})
		}
	}
	return off == len(b)
}

// checkRdata accepts the record data of the types the fast path knows, in
// the shapes miekg/dns unpacks without error and to the same values.
func checkRdata(b []byte, typ uint16, ttl uint32, rdata, rdlen int, additional bool) bool {
	switch typ {
	case typeA:
		return rdlen == 4
	case typeAAAA:
		return rdlen == 16
	}
	// Names in record data are read, as miekg/dns reads them, from the
	// message cut at the data's end: a pointer may reach back, but no label
	// it reaches may run past the record.
	rd := b[:rdata+rdlen]
	switch typ {
	case typeCNAME, typeNS:
		return rdlen > 0 && skipName(rd, rdata) == rdata+rdlen
	case typeSOA:
		if rdlen == 0 {
			return false
		}
		off := skipName(rd, rdata)
		if off < 0 {
			return false
		}
		off = skipName(rd, off)
		return off >= 0 && off+20 == rdata+rdlen
	case typeOPT:
		// An extended rcode would change the response code; options other
		// than cookie and padding have parsers of their own.
		if !additional || ttl>>24 != 0 {
			return false
		}
		for off, end := rdata, rdata+rdlen; off < end; {
			if off+4 > end {
				return false
			}
			code := binary.BigEndian.Uint16(b[off:])
			n := int(binary.BigEndian.Uint16(b[off+2:]))
			if (code != 10 && code != 12) || off+4+n > end {
				return false
			}
			off += 4 + n
		}
		return true
	}
	return false
}
