package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
)

// Limits on what an input may claim. A claim above them is an error rather
// than an allocation: files are untrusted.
const (
	// MaxRecordLen is the largest captured length of one frame (libpcap's
	// maximum snap length).
	MaxRecordLen = 256 << 10
	// MaxBlockLen is the largest pcapng block that is read into memory
	// (packet and header blocks): a maximal record plus room for options.
	MaxBlockLen = MaxRecordLen + 64<<10
	// maxSkipLen bounds blocks that are skipped unread (name resolution,
	// statistics, custom). Skipping never allocates; the bound only stops a
	// corrupt length from silently swallowing the rest of a file.
	maxSkipLen = 64 << 20
	// MaxInterfaces is the most pcapng interfaces one file may describe
	// (summed over its sections).
	MaxInterfaces = 1 << 16

	// The read buffer per input is readBudget shared among the inputs,
	// within [minReadBuf, maxReadBuf] (see readBufSize). Records that fit
	// are handed out straight from it; larger ones are copied into a
	// per-input buffer that grows up to MaxBlockLen.
	readBudget = 64 << 20
	minReadBuf = 64 << 10
	maxReadBuf = 1 << 20
)

// errShort marks input that ends inside a record: the caller turns it into a
// *TruncatedError carrying the record's offset.
var errShort = errors.New("unexpected end of input")

// stream is the decompressed byte stream of one input with the offset of
// everything consumed so far. A plain file is read through a memory mapping
// (mem; no copy, about half the CPU of read(2) on a page-cached file) until
// the mapping is used up, then through br from the same offset, so that a
// file that grew after it was opened is still read to its end.
type stream struct {
	name string
	br   *bufio.Reader
	off  int64
	big  []byte // for records larger than br's buffer; grows, is reused

	mem  []byte   // the mapped file while it is read through the mapping, else nil (set by setMem)
	mm   *mapping // what mem came from (the Source unmaps it on Close)
	fast int64    // take hands out mem[off:off+n] at once while off+n < fast (0: never)
}

// inMem reports whether the next n bytes are in the mapping. When a mapped
// stream runs out of mapping it goes on through br from the same offset.
func (s *stream) inMem(n int) bool {
	if s.mem == nil {
		return false
	}
	if int64(n) <= int64(len(s.mem))-s.off {
		return true
	}
	var rest io.Reader = s.mm.f
	if s.mm.follow(s.off) < int64(len(s.mem)) {
		// It shrank: what the mapping gave near its end may be zeros.
		rest = errReader{errChanged}
	}
	s.setMem(nil)
	s.br = bufio.NewReaderSize(rest, s.mm.bufSize)
	return false
}

// peek returns the next n bytes without consuming them. io.EOF means the
// stream ended cleanly before any of them; errShort that it ended inside.
func (s *stream) peek(n int) ([]byte, error) {
	if s.inMem(n) {
		return s.mem[s.off : s.off+int64(n)], nil
	}
	b, err := s.br.Peek(n)
	if len(b) == n {
		return b, nil
	}
	return b, s.shortErr(len(b), err)
}

// take consumes n bytes and returns them. The slice is valid until the next
// call on s.
func (s *stream) take(n int) ([]byte, error) {
	if b, ok := s.takeFast(n); ok {
		return b, nil
	}
	return s.takeSlow(n)
}

// takeFast is take's common case, a record inside the mapping short of the
// next follow point: small enough to inline into the readers' Next, which
// call takeSlow when it declines (a function that calls one is not).
func (s *stream) takeFast(n int) ([]byte, bool) {
	off := s.off
	if end := off + int64(n); end < s.fast {
		s.off = end
		return s.mem[off:end:end], true
	}
	return nil, false
}

// hint asks the CPU to load the next hintLen bytes of the mapping (see
// hintLen), called once a record is taken.
func (s *stream) hint() {
	if s.off+hintLen <= int64(len(s.mem)) {
		prefetch(&s.mem[s.off], hintLen)
	}
}

// setMem makes mem the mapped bytes still to read through (nil: none) and
// resets where take's fast path must stop: the mapping's end or the next
// follow point, whichever comes first.
func (s *stream) setMem(mem []byte) {
	s.mem = mem
	s.fast = 0
	if mem != nil {
		s.fast = min(int64(len(mem)), s.mm.seekAt)
	}
}

func (s *stream) takeSlow(n int) ([]byte, error) {
	if s.mem != nil {
		if end := s.off + int64(n); end <= int64(len(s.mem)) {
			b := s.mem[s.off:end:end]
			s.off = end
			if end >= s.mm.seekAt {
				mem := s.mem
				if size := s.mm.follow(end); size < int64(len(mem)) {
					mem = mem[:max(size, end)] // shrank: stop where it ends now
				}
				s.setMem(mem)
			}
			return b, nil
		}
		s.inMem(n) // the mapping is used up: on through br
	}
	if n <= s.br.Size() {
		b, err := s.br.Peek(n)
		if len(b) < n {
			return nil, s.shortErr(len(b), err)
		}
		s.br.Discard(n) //nolint:errcheck // n bytes are buffered, Discard cannot fail
		s.off += int64(n)
		return b, nil
	}
	if n > cap(s.big) {
		s.big = make([]byte, n)
	}
	b := s.big[:n]
	got, err := io.ReadFull(s.br, b)
	s.off += int64(got)
	if got < n {
		return nil, s.shortErr(got, err)
	}
	return b, nil
}

// skip consumes n bytes without looking at them.
func (s *stream) skip(n int64) error {
	if s.mem != nil && n <= int64(len(s.mem))-s.off {
		s.off += n
		return nil
	}
	s.inMem(len(s.mem) + 1) // past the mapping's end: on through br
	for n > 0 {
		step := n
		if step > 1<<30 {
			step = 1 << 30
		}
		got, err := s.br.Discard(int(step))
		s.off += int64(got)
		n -= int64(got)
		if err != nil {
			return s.shortErr(1, err)
		}
	}
	return nil
}

// shortErr classifies a read that delivered got bytes fewer than asked for.
func (s *stream) shortErr(got int, err error) error {
	switch {
	case err == nil, errors.Is(err, bufio.ErrBufferFull):
		// Cannot happen for n within the buffer; treat as corruption, not a hang.
		return fmt.Errorf("short read of %d bytes: %w", got, errShort)
	case got == 0 && err == io.EOF:
		return io.EOF
	case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		return errShort
	default:
		return err
	}
}

// truncated builds the error for input that ended inside the record at off.
func (s *stream) truncated(off int64, what string) error {
	return &TruncatedError{File: s.name, Offset: off, Err: fmt.Errorf("%s cut short: %w", what, io.ErrUnexpectedEOF)}
}

// fail turns a read error inside what (a record part) at off into a
// *TruncatedError for an early end, or a wrapped error otherwise.
func (s *stream) fail(off int64, what string, err error) error {
	if errors.Is(err, errShort) || err == io.EOF {
		return s.truncated(off, what)
	}
	return fmt.Errorf("capture: %s: reading at byte offset %d: %w", s.name, off, err)
}

// shrank reports whether a mapped file is now shorter than its mapping:
// another process truncated it, and the rest of its last page reads as
// zeros. Records that look wrong ask this before they are called corrupt.
func (s *stream) shrank() bool {
	if s.mem == nil {
		return false
	}
	fi, err := s.mm.f.Stat()
	return err == nil && fi.Size() < int64(len(s.mem))
}

// corrupt reports a record that cannot be parsed; the input cannot continue.
func (s *stream) corrupt(off int64, format string, args ...any) error {
	if s.shrank() {
		return fmt.Errorf("capture: %s: at byte offset %d: %w", s.name, off, errChanged)
	}
	return fmt.Errorf("capture: %s: corrupt record at byte offset %d: %s", s.name, off, fmt.Sprintf(format, args...))
}

// endian reads integers in an input's byte order. Unlike binary.ByteOrder it
// is a concrete type, so the calls inline on the per-packet path.
type endian bool

const (
	littleEndian endian = false
	bigEndian    endian = true
)

func (e endian) Uint16(b []byte) uint16 {
	v := binary.LittleEndian.Uint16(b)
	if e {
		v = bits.ReverseBytes16(v)
	}
	return v
}

func (e endian) Uint32(b []byte) uint32 {
	v := binary.LittleEndian.Uint32(b)
	if e {
		v = bits.ReverseBytes32(v)
	}
	return v
}

func (e endian) Uint64(b []byte) uint64 {
	v := binary.LittleEndian.Uint64(b)
	if e {
		v = bits.ReverseBytes64(v)
	}
	return v
}
