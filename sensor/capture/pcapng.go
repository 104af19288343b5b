package capture

import (
	"encoding/binary"
	"io"
	"math/bits"
)

// pcapng block types and the section byte-order magic.
const (
	blockIDB     = 1
	blockPB      = 2 // obsolete Packet Block
	blockSPB     = 3
	blockEPB     = 6
	byteOrderBOM = 0x1a2b3c4d

	optEnd      = 0
	optTSResol  = 9
	optTSOffset = 14
)

// ngIface is one Interface Description Block of the current section.
type ngIface struct {
	link  LinkType
	snap  uint32
	units uint64 // timestamp units per second (if_tsresol)
	offNS int64  // if_tsoffset, in nanoseconds
	id    int    // index among all interfaces of the file, across sections
}

// ns converts a raw pcapng timestamp to Unix nanoseconds.
func (i *ngIface) ns(ts uint64) int64 {
	switch i.units {
	case 1e6:
		return int64(ts)*1e3 + i.offNS
	case 1e9:
		return int64(ts) + i.offNS
	}
	sec, frac := ts/i.units, ts%i.units
	// frac < units, so frac*1e9/units < 1e9 and Div64 cannot overflow.
	hi, lo := bits.Mul64(frac, 1e9)
	q, _ := bits.Div64(hi, lo, i.units)
	return int64(sec)*1e9 + int64(q) + i.offNS
}

// tsUnits decodes if_tsresol: the high bit selects a power of two, otherwise
// a power of ten, of fractions per second.
func tsUnits(v byte) (uint64, bool) {
	if v&0x80 == 0 {
		if v > 19 { // 10^20 does not fit in 64 bits
			return 0, false
		}
		u := uint64(1)
		for range v {
			u *= 10
		}
		return u, true
	}
	if v&0x7f > 63 {
		return 0, false
	}
	return 1 << (v & 0x7f), true
}

// ngReader reads a pcapng file, section by section.
type ngReader struct {
	s        *stream
	bo       endian
	ifaces   []ngIface // interfaces of the current section, by IDB order
	nIfaces  int       // interfaces seen in the whole file
	lastTS   int64     // for Simple Packet Blocks, which carry no timestamp
	skipping bool      // current section has an unsupported version
	done     error
	closeFn  func() error
}

// newNgReader reads the first Section Header Block. A header cut short is
// reported from the first Next; a wrong byte-order magic means the input
// only looked like pcapng and is ErrNotCapture.
func newNgReader(s *stream, closeFn func() error) (*ngReader, error) {
	r := &ngReader{s: s, closeFn: closeFn}
	if err := r.readSHB(0); err != nil {
		if err == errNotNg {
			return nil, err
		}
		r.done = err
	}
	return r, nil
}

// errNotNg is a block that starts like a section header without the
// byte-order magic.
var errNotNg = errorString("section header without the byte-order magic")

type errorString string

func (e errorString) Error() string { return string(e) }

func (r *ngReader) readSHB(start int64) error {
	s := r.s
	h, err := s.peek(12)
	if err != nil {
		return s.fail(start, "block", err)
	}
	var bo endian
	switch {
	case binary.BigEndian.Uint32(h[8:]) == byteOrderBOM:
		bo = bigEndian
	case binary.LittleEndian.Uint32(h[8:]) == byteOrderBOM:
		bo = littleEndian
	default:
		if start == 0 {
			return errNotNg
		}
		return s.corrupt(start, "section header block without byte-order magic")
	}
	n := bo.Uint32(h[4:])
	if n < 28 || n%4 != 0 || n > MaxBlockLen {
		return s.corrupt(start, "section header block length %d", n)
	}
	b, err := s.take(int(n))
	if err != nil {
		return s.fail(start, "block", err)
	}
	if t := bo.Uint32(b[n-4:]); t != n {
		return s.corrupt(start, "block length %d, trailing length %d", n, t)
	}
	r.bo = bo
	r.ifaces = r.ifaces[:0]
	// A section of another major version may lay out its blocks differently:
	// skip it whole, as readers are asked to, and go on with the next.
	r.skipping = bo.Uint16(b[12:]) != 1
	return nil
}

func (r *ngReader) Next(f *Frame) error {
	if r.done != nil {
		return r.done
	}
	if err := r.next(f); err != nil {
		r.done = err
		return err
	}
	return nil
}

func (r *ngReader) next(f *Frame) error {
	s := r.s
	for {
		start := s.off
		h, err := s.peek(8)
		if err != nil {
			if err == io.EOF {
				return io.EOF
			}
			return s.fail(start, "block", err)
		}
		if h[0] == 0x0a && h[1] == 0x0d && h[2] == 0x0d && h[3] == 0x0a {
			if err := r.readSHB(start); err != nil {
				return err
			}
			continue
		}
		bo := r.bo
		typ, n := bo.Uint32(h), bo.Uint32(h[4:])
		if n < 12 || n%4 != 0 {
			return s.corrupt(start, "block type %#x has length %d", typ, n)
		}
		switch typ {
		case blockIDB, blockEPB, blockSPB, blockPB:
			if !r.skipping {
				break
			}
			fallthrough
		default:
			if n > maxSkipLen {
				return s.corrupt(start, "block type %#x length %d exceeds the %d-byte limit", typ, n, maxSkipLen)
			}
			if err := s.skip(int64(n) - 4); err != nil {
				return s.fail(start, "block", err)
			}
			t, err := s.take(4)
			if err != nil {
				return s.fail(start, "block", err)
			}
			if bo.Uint32(t) != n {
				return s.corrupt(start, "block length %d, trailing length %d", n, bo.Uint32(t))
			}
			continue
		}
		if n > MaxBlockLen {
			return s.corrupt(start, "block type %d length %d exceeds the %d-byte limit", typ, n, MaxBlockLen)
		}
		b, err := s.take(int(n))
		if err != nil {
			return s.fail(start, "block", err)
		}
		s.hint()
		if t := bo.Uint32(b[n-4:]); t != n {
			return s.corrupt(start, "block length %d, trailing length %d", n, t)
		}
		body := b[8 : n-4]
		switch typ {
		case blockIDB:
			if err := r.addIface(start, body); err != nil {
				return err
			}
			continue
		case blockEPB, blockPB:
			return r.packet(start, typ, body, f)
		default: // blockSPB
			return r.simple(start, body, f)
		}
	}
}

func (r *ngReader) addIface(start int64, body []byte) error {
	s, bo := r.s, r.bo
	if len(body) < 8 {
		return s.corrupt(start, "interface description block of %d bytes", len(body))
	}
	if r.nIfaces >= MaxInterfaces {
		return s.corrupt(start, "more than %d interfaces", MaxInterfaces)
	}
	in := ngIface{
		link:  LinkType(bo.Uint16(body)),
		snap:  bo.Uint32(body[4:]),
		units: 1e6,
		id:    r.nIfaces,
	}
	for opts := body[8:]; len(opts) >= 4; {
		code, olen := bo.Uint16(opts), int(bo.Uint16(opts[2:]))
		if code == optEnd {
			break
		}
		padded := (olen + 3) &^ 3
		if 4+padded > len(opts) {
			return s.corrupt(start, "interface option %d of %d bytes overruns its block", code, olen)
		}
		v := opts[4 : 4+olen]
		switch {
		case code == optTSResol && olen >= 1:
			u, ok := tsUnits(v[0])
			if !ok {
				return s.corrupt(start, "unsupported timestamp resolution %#x", v[0])
			}
			in.units = u
		case code == optTSOffset && olen >= 8:
			in.offNS = int64(bo.Uint64(v)) * 1e9
		}
		opts = opts[4+padded:]
	}
	r.ifaces = append(r.ifaces, in)
	r.nIfaces++
	return nil
}

// packet decodes an Enhanced Packet Block or an obsolete Packet Block; both
// carry interface, 64-bit timestamp, captured and original length.
func (r *ngReader) packet(start int64, typ uint32, body []byte, f *Frame) error {
	s, bo := r.s, r.bo
	if len(body) < 20 {
		return s.corrupt(start, "packet block of %d bytes", len(body))
	}
	var id uint32
	if typ == blockEPB {
		id = bo.Uint32(body)
	} else {
		id = uint32(bo.Uint16(body))
	}
	if id >= uint32(len(r.ifaces)) {
		return s.corrupt(start, "packet on interface %d, but the section describes %d", id, len(r.ifaces))
	}
	in := &r.ifaces[id]
	ts := uint64(bo.Uint32(body[4:]))<<32 | uint64(bo.Uint32(body[8:]))
	capLen, wireLen := bo.Uint32(body[12:]), bo.Uint32(body[16:])
	if capLen > MaxRecordLen {
		return s.corrupt(start, "captured length %d exceeds the %d-byte limit", capLen, MaxRecordLen)
	}
	if int(capLen) > len(body)-20 {
		return s.corrupt(start, "captured length %d overruns its %d-byte block", capLen, len(body)+12)
	}
	if wireLen < capLen {
		wireLen = capLen
	}
	r.lastTS = in.ns(ts)
	f.Data = body[20 : 20+capLen]
	f.TS = r.lastTS
	f.WireLen = wireLen
	f.LinkType = in.link
	f.Iface = in.id
	return nil
}

// simple decodes a Simple Packet Block: first interface of the section, no
// timestamp (the previous packet's is used so merged order stays sane), and
// the captured length implied by the original length, the snap length and
// the block size.
func (r *ngReader) simple(start int64, body []byte, f *Frame) error {
	s := r.s
	if len(body) < 4 {
		return s.corrupt(start, "simple packet block of %d bytes", len(body))
	}
	if len(r.ifaces) == 0 {
		return s.corrupt(start, "simple packet block before any interface description")
	}
	in := &r.ifaces[0]
	wireLen := r.bo.Uint32(body)
	data := body[4:]
	if uint64(len(data)) > uint64(wireLen) {
		data = data[:wireLen]
	}
	if in.snap > 0 && uint64(len(data)) > uint64(in.snap) {
		data = data[:in.snap]
	}
	if len(data) > MaxRecordLen {
		return s.corrupt(start, "captured length %d exceeds the %d-byte limit", len(data), MaxRecordLen)
	}
	f.Data = data
	f.TS = r.lastTS
	f.WireLen = wireLen
	f.LinkType = in.link
	f.Iface = in.id
	return nil
}

func (r *ngReader) Close() error {
	r.done = errClosed
	return r.closeFn()
}
