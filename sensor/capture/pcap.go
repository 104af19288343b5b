package capture

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
)

// pcap file magics as they read in big-endian order.
const (
	magicMicro    = 0xa1b2c3d4
	magicNano     = 0xa1b23c4d
	magicModified = 0xa1b2cd34 // Kuznetzov's patched libpcap: 8 more bytes per record header
	magicPcapng   = 0x0a0d0d0a // section header block type, the same in both byte orders
)

// pcapReader reads a classic pcap file.
type pcapReader struct {
	s       *stream
	bo      endian
	fracNS  int64 // nanoseconds per timestamp fraction unit
	hdrLen  int   // record header length: 16, or 24 for the modified format
	link    LinkType
	done    error // sticky terminal error once the input is finished
	closeFn func() error
}

// newPcapReader reads the file header. A header cut short is not an Open
// error: the reader then reports the truncation from its first Next.
func newPcapReader(s *stream, closeFn func() error) (*pcapReader, error) {
	r := &pcapReader{s: s, closeFn: closeFn, hdrLen: 16, fracNS: 1000}
	h, err := s.take(24)
	if err != nil {
		r.done = s.fail(0, "file header", err)
		return r, nil
	}
	r.bo = littleEndian
	if m := binary.BigEndian.Uint32(h); m == magicMicro || m == magicNano || m == magicModified {
		r.bo = bigEndian
	}
	switch r.bo.Uint32(h) {
	case magicNano:
		r.fracNS = 1
	case magicModified:
		r.hdrLen = 24
	}
	// The upper bits of the link-type field carry FCS information.
	r.link = LinkType(r.bo.Uint32(h[20:]) & 0xffff)
	return r, nil
}

func (r *pcapReader) Next(f *Frame) error {
	if r.done != nil {
		return r.done
	}
	s := r.s
	start := s.off
	h, ok := s.takeFast(r.hdrLen)
	if !ok {
		var err error
		if h, err = s.takeSlow(r.hdrLen); err != nil {
			if err == io.EOF {
				r.done = io.EOF
			} else {
				r.done = s.fail(start, "record header", err)
			}
			return r.done
		}
	}
	sec, frac, capLen, wireLen := r.bo.recordHeader(h)
	if capLen == 0 && wireLen == 0 && sec == 0 && frac == 0 && s.shrank() {
		// Zeros past the end of a file truncated under us, not a record.
		r.done = fmt.Errorf("capture: %s: at byte offset %d: %w", s.name, start, errChanged)
		return r.done
	}
	if capLen > MaxRecordLen {
		r.done = s.corrupt(start, "captured length %d exceeds the %d-byte limit", capLen, MaxRecordLen)
		return r.done
	}
	data, ok := s.takeFast(int(capLen))
	if !ok {
		var err error
		if data, err = s.takeSlow(int(capLen)); err != nil {
			r.done = s.fail(start, "record data", err)
			return r.done
		}
	}
	s.hint()
	if wireLen < capLen {
		wireLen = capLen
	}
	f.Data = data
	f.TS = sec*1e9 + frac*r.fracNS
	f.WireLen = wireLen
	f.LinkType = r.link
	f.Iface = 0
	return nil
}

// recordHeader reads a pcap record header's four fields (seconds, fraction,
// captured and original length): one byte-order test and four loads, where
// four calls of Uint32 tested it, and checked h's length, each time.
func (e endian) recordHeader(h []byte) (sec, frac int64, capLen, wireLen uint32) {
	h = h[:16]
	a, b := binary.LittleEndian.Uint64(h), binary.LittleEndian.Uint64(h[8:])
	if e == bigEndian {
		a, b = bits.RotateLeft64(bits.ReverseBytes64(a), 32), bits.RotateLeft64(bits.ReverseBytes64(b), 32)
	}
	return int64(uint32(a)), int64(a >> 32), uint32(b), uint32(b >> 32)
}

func (r *pcapReader) Close() error {
	r.done = errClosed
	return r.closeFn()
}
