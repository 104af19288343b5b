package obs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
)

// ErrBad is wrapped by every decoding error: the bytes are not a frame or
// record this version writes.
var ErrBad = errors.New("obs: bad observation")

// Limits every record keeps; a record beyond them is refused on encode and
// on decode.
const (
	MaxString = 255     // sensor, host id, names, hostname, serial, OS
	MaxMACs   = 16      // MACs of one host
	MaxAddrs  = 32      // addresses of one host or one name
	MaxJSON   = 1000000 // alert and checkpoint JSON
)

func appendString(b []byte, s string, field string) ([]byte, error) {
	if len(s) > MaxString {
		return b, fmt.Errorf("obs: %s is %d bytes, at most %d", field, len(s), MaxString)
	}
	b = append(b, byte(len(s)))
	return append(b, s...), nil
}

func appendAddr(b []byte, a netip.Addr) []byte {
	switch {
	case !a.IsValid():
		return append(b, 0)
	case a.Is4():
		v := a.As4()
		return append(append(b, 4), v[:]...)
	}
	v := a.As16()
	return append(append(b, 16), v[:]...)
}

func appendFloat(b []byte, f float64) []byte {
	return binary.BigEndian.AppendUint64(b, math.Float64bits(f))
}

// reader decodes a body; the first failure sticks in err and every later
// read returns zero, so decoders check once at the end.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrBad}, args...)...)
	}
}

func (r *reader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail("%s: need %d bytes, have %d", what, n, len(r.b))
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) byte(what string) byte {
	if v := r.take(1, what); v != nil {
		return v[0]
	}
	return 0
}

func (r *reader) u16(what string) uint16 {
	if v := r.take(2, what); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (r *reader) u32(what string) uint32 {
	if v := r.take(4, what); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *reader) float(what string) float64 {
	if v := r.take(8, what); v != nil {
		return math.Float64frombits(binary.BigEndian.Uint64(v))
	}
	return 0
}

func (r *reader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("%s: bad varint", what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint(what string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("%s: bad varint", what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) string(what string) string {
	n := int(r.byte(what))
	return string(r.take(n, what))
}

func (r *reader) mac(what string) (m [6]byte) {
	copy(m[:], r.take(6, what))
	return m
}

func (r *reader) addr(what string) netip.Addr {
	switch n := r.byte(what); n {
	case 0:
		return netip.Addr{}
	case 4:
		if v := r.take(4, what); v != nil {
			return netip.AddrFrom4([4]byte(v))
		}
	case 16:
		if v := r.take(16, what); v != nil {
			return netip.AddrFrom16([16]byte(v))
		}
	default:
		r.fail("%s: address length %d", what, n)
	}
	return netip.Addr{}
}

// done is the decoding error, including bytes left over.
func (r *reader) done(kind Kind) error {
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d bytes after the record", len(r.b))
	}
	if r.err != nil {
		return fmt.Errorf("obs: %s: %w", kind, r.err)
	}
	return nil
}
