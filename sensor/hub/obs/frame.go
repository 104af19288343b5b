package obs

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
)

// Frame layout.
const (
	version   = 1
	headerLen = 5 // "LT", version, count (uint16)
	// MaxFrame is the most bytes a frame holds: under NATS's default
	// max_payload (1 MiB) with room for the message's headers.
	MaxFrame = 1<<20 - 16<<10
	// MaxRecords is the most records a frame holds.
	MaxRecords = math.MaxUint16
)

// ErrFull is returned by (*Writer).Add when the record does not fit in the
// frame: flush it and add the record to the next.
var ErrFull = fmt.Errorf("obs: frame full")

// Writer builds a frame. Its zero value is an empty frame.
type Writer struct {
	b     []byte
	count int
	tmp   []byte
}

// Reset empties the frame, keeping its buffer.
func (w *Writer) Reset() {
	w.b = w.b[:0]
	w.count = 0
}

// Count is the number of records added.
func (w *Writer) Count() int { return w.count }

// Len is the frame's size in bytes so far.
func (w *Writer) Len() int {
	if w.count == 0 {
		return 0
	}
	return len(w.b)
}

// Add appends r. It returns ErrFull (and leaves the frame as it was) when
// r would make the frame longer than MaxFrame or MaxRecords; any other
// error is r's own and r will never fit.
func (w *Writer) Add(r Record) error {
	body, err := r.AppendBinary(w.tmp[:0])
	w.tmp = body[:0]
	if err != nil {
		return err
	}
	need := binary.MaxVarintLen32 + 1 + len(body)
	if headerLen+need > MaxFrame {
		return fmt.Errorf("obs: %s record of %d bytes is larger than a frame", r.Type(), len(body))
	}
	if w.count == MaxRecords || len(w.b)+need > MaxFrame {
		return ErrFull
	}
	if w.count == 0 {
		w.b = append(w.b[:0], 'L', 'T', version, 0, 0)
	}
	w.b = binary.AppendUvarint(w.b, uint64(1+len(body)))
	w.b = append(w.b, byte(r.Type()))
	w.b = append(w.b, body...)
	w.count++
	return nil
}

// Bytes is the frame; it stays valid until the next Add or Reset. An empty
// writer returns nil.
func (w *Writer) Bytes() []byte {
	if w.count == 0 {
		return nil
	}
	binary.BigEndian.PutUint16(w.b[3:5], uint16(w.count))
	return w.b
}

// Reader walks the records of a frame:
//
//	r, err := obs.NewReader(frame)
//	for r.Next() {
//		switch r.Kind() { case obs.KindBeat: err = r.Decode(&beat) ... }
//	}
//	err = r.Err()
type Reader struct {
	b    []byte
	left int
	kind Kind
	body []byte
	err  error
}

// NewReader checks a frame's header.
func NewReader(frame []byte) (*Reader, error) {
	r := new(Reader)
	return r, r.Reset(frame)
}

// Reset starts reading another frame, so one Reader serves many.
func (r *Reader) Reset(frame []byte) error {
	*r = Reader{}
	switch {
	case len(frame) < headerLen || frame[0] != 'L' || frame[1] != 'T':
		r.err = fmt.Errorf("%w: not a frame", ErrBad)
	case frame[2] != version:
		r.err = fmt.Errorf("%w: frame version %d, want %d", ErrBad, frame[2], version)
	case len(frame) > MaxFrame:
		r.err = fmt.Errorf("%w: frame of %d bytes, at most %d", ErrBad, len(frame), MaxFrame)
	default:
		r.left = int(binary.BigEndian.Uint16(frame[3:5]))
		r.b = frame[headerLen:]
	}
	return r.err
}

// Next moves to the next record; false at the end of the frame or on a
// malformed record (see Err).
func (r *Reader) Next() bool {
	if r.err != nil {
		return false
	}
	if r.left == 0 {
		if len(r.b) != 0 {
			r.err = fmt.Errorf("%w: %d bytes after the last record", ErrBad, len(r.b))
		}
		return false
	}
	n, k := binary.Uvarint(r.b)
	if k <= 0 || n == 0 || n > uint64(len(r.b)-k) {
		r.err = fmt.Errorf("%w: record length", ErrBad)
		return false
	}
	rec := r.b[k : k+int(n)]
	r.b = r.b[k+int(n):]
	r.left--
	r.kind, r.body = Kind(rec[0]), rec[1:]
	if !r.kind.Valid() {
		r.err = fmt.Errorf("%w: unknown kind %d", ErrBad, rec[0])
		return false
	}
	return true
}

// Kind is the current record's kind.
func (r *Reader) Kind() Kind { return r.kind }

// Decode decodes the current record into rec, whose kind must be Kind().
func (r *Reader) Decode(rec Record) error {
	if rec.Type() != r.kind {
		return fmt.Errorf("obs: decoding a %s record into a %s", r.kind, rec.Type())
	}
	return rec.UnmarshalBinary(r.body)
}

// Record decodes the current record into a new value.
func (r *Reader) Record() (Record, error) {
	rec := New(r.kind)
	if err := rec.UnmarshalBinary(r.body); err != nil {
		return nil, err
	}
	return rec, nil
}

// Err is the first malformation met.
func (r *Reader) Err() error { return r.err }

// Decode is every record of a frame; a malformed frame or record is an
// error wrapping ErrBad.
func Decode(frame []byte) ([]Record, error) {
	r, err := NewReader(frame)
	if err != nil {
		return nil, err
	}
	recs := make([]Record, 0, r.left)
	for r.Next() {
		rec, err := r.Record()
		if err != nil {
			return nil, err
		}
		recs = append(recs, rec)
	}
	return recs, r.Err()
}

// MsgID is a frame's message id, sent as Nats-Msg-Id: the sensor and the
// first 128 bits of the frame's SHA-256, so a frame sent twice (a retry,
// a restart that re-sends its outbox) is stored once.
func MsgID(sensor string, frame []byte) string {
	sum := sha256.Sum256(frame)
	return sensor + "-" + hex.EncodeToString(sum[:16])
}
