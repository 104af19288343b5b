// Package outbox is the sensor's on-disk queue of observation frames bound
// for the hub: appended as the pipeline produces them, read and sent in
// order, removed once JetStream acknowledged them. It survives the hub
// being down and the sensor restarting, and it is bounded: when full it
// drops its oldest segment, counted, so the newest evidence — what the hub
// needs to judge what beats now — is what a long outage keeps.
//
// The queue is a directory of segment files (NNNNNNNNNNNNNNNN.seg) of
// records [length u32][CRC-32C u32][subject][message id][frame], and a
// head file saying where the oldest unacknowledged record starts. Appends
// are written (not synced) at once, so a crashed process loses nothing; a
// torn record at the end of the last segment (a power cut) is cut off on
// open and counted.
package outbox

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Entry is one frame and where it goes.
type Entry struct {
	Subject string
	MsgID   string
	Frame   []byte
}

// Stats are the outbox's counters.
type Stats struct {
	Pending      uint64 // entries not yet acknowledged
	PendingBytes uint64 // bytes on disk
	Appended     uint64 // entries appended since open
	Sent         uint64 // entries acknowledged since open
	Dropped      uint64 // entries dropped unsent to stay within the bound
	DroppedBytes uint64
	Corrupt      uint64 // records found unreadable on open (torn writes, bad CRC) and skipped
}

// Limits.
const (
	// DefaultMaxBytes bounds an outbox opened with maxBytes 0: a day of a
	// busy office's beats.
	DefaultMaxBytes = 1 << 30
	minSegments     = 4
	maxSegmentBytes = 16 << 20
	maxRecord       = 2 << 20
	recordHeader    = 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrClosed is returned by operations on a closed outbox.
var ErrClosed = errors.New("outbox: closed")

type segment struct {
	id    uint64
	size  int64
	count uint64
}

type position struct {
	seg   uint64 // segment id
	off   int64  // byte offset in it
	index uint64 // entries before off in it
}

// Outbox is a bounded, persistent FIFO of entries. Its methods are safe for
// concurrent use: the pipeline appends while one sender reads.
type Outbox struct {
	dir      string
	maxBytes int64
	segBytes int64
	log      *slog.Logger

	mu     sync.Mutex
	segs   []segment // oldest first; the last is written to
	w      *os.File  // the last segment
	head   position  // first unacknowledged entry
	read   position  // next entry Next returns
	r      *os.File  // open on read.seg
	rb     *bufio.Reader
	headF  *os.File
	stats  Stats
	closed bool
}

// Open opens (creating) the outbox in dir, bounded to maxBytes on disk
// (0: DefaultMaxBytes).
func Open(dir string, maxBytes int64, log *slog.Logger) (*Outbox, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	o := &Outbox{dir: dir, maxBytes: maxBytes, log: log,
		segBytes: min(maxSegmentBytes, max(maxBytes/minSegments, 64<<10))}
	if err := o.load(); err != nil {
		o.closeFiles()
		return nil, err
	}
	return o, nil
}

func (o *Outbox) segPath(id uint64) string {
	return filepath.Join(o.dir, fmt.Sprintf("%016d.seg", id))
}

// load scans the segments, checks every record, cuts a torn tail and finds
// the head.
func (o *Outbox) load() error {
	names, err := filepath.Glob(filepath.Join(o.dir, "*.seg"))
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	for _, n := range names {
		id, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(n), ".seg"), 10, 64)
		if err != nil {
			o.log.Warn("outbox: ignoring a file not named as a segment", "file", n)
			continue
		}
		o.segs = append(o.segs, segment{id: id})
	}
	slices.SortFunc(o.segs, func(a, b segment) int { return cmpU64(a.id, b.id) })
	for i := range o.segs {
		if err := o.scan(&o.segs[i], i == len(o.segs)-1); err != nil {
			return err
		}
	}
	if len(o.segs) == 0 {
		o.segs = []segment{{id: 1}}
	}
	last := o.segs[len(o.segs)-1]
	if o.w, err = os.OpenFile(o.segPath(last.id), os.O_CREATE|os.O_WRONLY, 0o640); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	if _, err := o.w.Seek(last.size, io.SeekStart); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	if o.headF, err = os.OpenFile(filepath.Join(o.dir, "head"), os.O_CREATE|os.O_RDWR, 0o640); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	// One process per outbox: two would send and drop each other's frames.
	if err := unix.Flock(int(o.headF.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return fmt.Errorf("outbox: %s is in use by another process (%w); give each sensor its own --hub-outbox", o.dir, err)
	}
	o.head = o.readHead()
	o.read = o.head
	for _, s := range o.segs {
		if s.id >= o.head.seg {
			o.stats.Pending += s.count
			o.stats.PendingBytes += uint64(s.size)
		}
	}
	o.stats.Pending -= o.head.index
	// Segments wholly before the head were sent; remove them now.
	for len(o.segs) > 1 && o.segs[0].id < o.head.seg {
		_ = os.Remove(o.segPath(o.segs[0].id))
		o.segs = o.segs[1:]
	}
	return nil
}

// scan counts a segment's good records; in the last segment a bad record
// and everything after it is cut off (a torn write), elsewhere the rest of
// the segment is skipped, counted.
func (o *Outbox) scan(s *segment, last bool) error {
	f, err := os.Open(o.segPath(s.id))
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	br := bufio.NewReader(f)
	var off int64
	for {
		_, n, err := readRecord(br, nil)
		if err == io.EOF {
			break
		}
		if err != nil {
			o.stats.Corrupt++
			o.log.Warn("outbox: unreadable record, the rest of the segment skipped",
				"segment", o.segPath(s.id), "offset", off, "bytes", st.Size()-off, "err", err)
			if last {
				if err := os.Truncate(o.segPath(s.id), off); err != nil {
					return fmt.Errorf("outbox: cutting a torn record: %w", err)
				}
			}
			break
		}
		off += int64(n)
		s.count++
	}
	s.size = off
	if !last {
		s.size = st.Size()
	}
	return nil
}

// readHead reads the head file: segment, offset and index, CRC-checked.
// A missing or bad head starts at the oldest segment (JetStream's
// de-duplication absorbs what is sent again).
func (o *Outbox) readHead() position {
	oldest := position{seg: o.segs[0].id}
	var b [28]byte
	if n, _ := o.headF.ReadAt(b[:], 0); n != len(b) {
		return oldest
	}
	if crc32.Checksum(b[:24], castagnoli) != binary.BigEndian.Uint32(b[24:]) {
		o.log.Warn("outbox: head file damaged, sending from the oldest segment")
		return oldest
	}
	p := position{seg: binary.BigEndian.Uint64(b[0:]), off: int64(binary.BigEndian.Uint64(b[8:])),
		index: binary.BigEndian.Uint64(b[16:])}
	for _, s := range o.segs {
		if s.id == p.seg {
			if p.off > s.size || p.index > s.count {
				return position{seg: s.id}
			}
			return p
		}
		if s.id > p.seg { // the head's segment was dropped
			return position{seg: s.id}
		}
	}
	return oldest
}

func (o *Outbox) writeHead() error {
	var b [28]byte
	binary.BigEndian.PutUint64(b[0:], o.head.seg)
	binary.BigEndian.PutUint64(b[8:], uint64(o.head.off))
	binary.BigEndian.PutUint64(b[16:], o.head.index)
	binary.BigEndian.PutUint32(b[24:], crc32.Checksum(b[:24], castagnoli))
	if _, err := o.headF.WriteAt(b[:], 0); err != nil {
		return fmt.Errorf("outbox: writing the head: %w", err)
	}
	return nil
}

// Append adds an entry at the tail, dropping the oldest segments (counted)
// when the outbox would exceed its bound.
func (o *Outbox) Append(e Entry) error {
	if len(e.Subject) > 255 || len(e.MsgID) > 255 {
		return fmt.Errorf("outbox: subject or message id longer than 255 bytes")
	}
	size := recordHeader + 2 + len(e.Subject) + len(e.MsgID) + len(e.Frame)
	if size > maxRecord {
		return fmt.Errorf("outbox: entry of %d bytes, at most %d", size, maxRecord)
	}
	rec := make([]byte, recordHeader, size)
	rec = append(rec, byte(len(e.Subject)))
	rec = append(rec, e.Subject...)
	rec = append(rec, byte(len(e.MsgID)))
	rec = append(rec, e.MsgID...)
	rec = append(rec, e.Frame...)
	binary.BigEndian.PutUint32(rec[0:], uint32(size-recordHeader))
	binary.BigEndian.PutUint32(rec[4:], crc32.Checksum(rec[recordHeader:], castagnoli))

	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return ErrClosed
	}
	if o.segs[len(o.segs)-1].size+int64(size) > o.segBytes && o.segs[len(o.segs)-1].size > 0 {
		if err := o.roll(); err != nil {
			return err
		}
	}
	for int64(o.stats.PendingBytes)+int64(size) > o.maxBytes && len(o.segs) > 1 {
		o.dropOldest()
	}
	if _, err := o.w.Write(rec); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	last := &o.segs[len(o.segs)-1]
	last.size += int64(size)
	last.count++
	o.stats.Appended++
	o.stats.Pending++
	o.stats.PendingBytes += uint64(size)
	return nil
}

// roll starts a new segment.
func (o *Outbox) roll() error {
	if err := o.w.Sync(); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	_ = o.w.Close()
	id := o.segs[len(o.segs)-1].id + 1
	w, err := os.OpenFile(o.segPath(id), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		o.w = nil
		return fmt.Errorf("outbox: %w", err)
	}
	o.w = w
	o.segs = append(o.segs, segment{id: id})
	return nil
}

// dropOldest removes the oldest segment, its unsent entries counted as
// dropped; the head (and a read in progress) moves to the next segment.
func (o *Outbox) dropOldest() {
	s := o.segs[0]
	unsent := s.count
	if o.head.seg == s.id {
		unsent -= o.head.index
	}
	o.stats.Dropped += unsent
	o.stats.DroppedBytes += uint64(s.size)
	o.stats.Pending -= unsent
	o.stats.PendingBytes -= uint64(s.size)
	o.segs = o.segs[1:]
	_ = os.Remove(o.segPath(s.id))
	next := position{seg: o.segs[0].id}
	if o.head.seg == s.id {
		o.head = next
		_ = o.writeHead()
	}
	if o.read.seg == s.id {
		o.read = next
		o.closeReader()
	}
	o.log.Warn("outbox: full, dropped its oldest segment unsent", "entries", unsent, "bytes", s.size)
}

// Next reads up to max entries after those already read (at most maxBytes
// of frames, but at least one entry); none when the outbox is drained.
func (o *Outbox) Next(max int, maxBytes int) ([]Entry, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil, ErrClosed
	}
	var out []Entry
	bytes := 0
	for len(out) < max && (len(out) == 0 || bytes < maxBytes) {
		si := o.segIndex(o.read.seg)
		if si < 0 {
			break
		}
		s := o.segs[si]
		if o.read.index >= s.count {
			if si == len(o.segs)-1 {
				break // drained
			}
			o.read = position{seg: o.segs[si+1].id}
			o.closeReader()
			continue
		}
		if o.r == nil {
			if err := o.openReader(); err != nil {
				return out, err
			}
		}
		e, n, err := readRecord(o.rb, make([]byte, 0, 4096))
		if err != nil {
			// A record counted on open or written since is unreadable: the
			// disk changed under us. Skip the rest of the segment.
			o.stats.Corrupt++
			o.log.Warn("outbox: unreadable record, skipping the rest of the segment", "segment", o.segPath(s.id), "err", err)
			o.read = position{seg: s.id, off: s.size, index: s.count}
			o.closeReader()
			continue
		}
		o.read.off += int64(n)
		o.read.index++
		bytes += len(e.Frame)
		out = append(out, e)
	}
	return out, nil
}

func (o *Outbox) segIndex(id uint64) int {
	for i, s := range o.segs {
		if s.id == id {
			return i
		}
	}
	return -1
}

func (o *Outbox) openReader() error {
	f, err := os.Open(o.segPath(o.read.seg))
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	if _, err := f.Seek(o.read.off, io.SeekStart); err != nil {
		f.Close()
		return fmt.Errorf("outbox: %w", err)
	}
	o.r, o.rb = f, bufio.NewReaderSize(f, 256<<10)
	return nil
}

func (o *Outbox) closeReader() {
	if o.r != nil {
		_ = o.r.Close()
		o.r, o.rb = nil, nil
	}
}

// Commit acknowledges every entry Next returned: they are removed, and a
// restart will not send them again.
func (o *Outbox) Commit() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return ErrClosed
	}
	var n uint64
	for _, s := range o.segs {
		switch {
		case s.id < o.head.seg || s.id > o.read.seg:
		case s.id == o.head.seg && s.id == o.read.seg:
			n += o.read.index - o.head.index
		case s.id == o.head.seg:
			n += s.count - o.head.index
		case s.id == o.read.seg:
			n += o.read.index
		default:
			n += s.count
		}
	}
	o.head = o.read
	o.stats.Sent += n
	o.stats.Pending -= n
	for len(o.segs) > 1 && o.segs[0].id < o.head.seg {
		o.stats.PendingBytes -= uint64(o.segs[0].size)
		_ = os.Remove(o.segPath(o.segs[0].id))
		o.segs = o.segs[1:]
	}
	return o.writeHead()
}

// Rewind forgets what Next returned since the last Commit, so it is read
// again (a send that failed).
func (o *Outbox) Rewind() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.read != o.head {
		o.read = o.head
		o.closeReader()
	}
}

// Stats are the counters now.
func (o *Outbox) Stats() Stats {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.stats
}

// Close syncs and closes the outbox.
func (o *Outbox) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil
	}
	o.closed = true
	var err error
	if o.w != nil {
		err = o.w.Sync()
	}
	if o.headF != nil {
		if e := o.headF.Sync(); err == nil {
			err = e
		}
	}
	o.closeFiles()
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

func (o *Outbox) closeFiles() {
	o.closeReader()
	if o.w != nil {
		_ = o.w.Close()
	}
	if o.headF != nil {
		_ = o.headF.Close()
	}
}

// readRecord reads one record, returning the entry (its frame in buf's
// storage when it fits) and the bytes consumed.
func readRecord(r *bufio.Reader, buf []byte) (Entry, int, error) {
	var h [recordHeader]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if err == io.EOF {
			return Entry{}, 0, io.EOF
		}
		return Entry{}, 0, fmt.Errorf("record header: %w", err)
	}
	n := binary.BigEndian.Uint32(h[0:])
	if n < 2 || n > maxRecord {
		return Entry{}, 0, fmt.Errorf("record length %d", n)
	}
	body := slices.Grow(buf[:0], int(n))[:n]
	if _, err := io.ReadFull(r, body); err != nil {
		return Entry{}, 0, fmt.Errorf("record of %d bytes: %w", n, err)
	}
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(h[4:]) {
		return Entry{}, 0, errors.New("record CRC mismatch")
	}
	sl := int(body[0])
	if 1+sl+1 > len(body) {
		return Entry{}, 0, errors.New("record subject length")
	}
	subject := string(body[1 : 1+sl])
	il := int(body[1+sl])
	if 2+sl+il > len(body) {
		return Entry{}, 0, errors.New("record id length")
	}
	id := string(body[2+sl : 2+sl+il])
	return Entry{Subject: subject, MsgID: id, Frame: body[2+sl+il:]}, recordHeader + int(n), nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
