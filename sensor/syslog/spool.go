package syslog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Spool file layout (all integers big-endian):
//
//	segment  seg-<20-digit number>.spl = "LTSPOOL1" record*
//	record   = len u32 | crc32c(payload) u32 | payload (one wire-ready message)
//	cursor   = "LTCURSR1" | segment u64 | offset u64 | crc32c(previous 24 bytes) u32
//
// Segments are append-only and written by one process; the cursor names the
// first record not yet delivered and is replaced atomically (write + rename).
const (
	segMagic     = "LTSPOOL1"
	cursorMagic  = "LTCURSR1"
	recHdrLen    = 8
	maxRecordLen = maxStreamMsg
	cursorName   = "cursor"
)

// Fsync policies for --spool-sync.
const (
	SyncAlways   = "always"   // fsync every append and every cursor move
	SyncInterval = "interval" // fsync and persist the cursor once a second
	SyncNever    = "never"    // leave it to the OS (a power loss may lose or repeat records)
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

type segment struct {
	num      uint64
	size     int64 // bytes in the file
	validEnd int64 // end of the last valid record
	records  int   // valid records at or after the commit point
	f        *os.File
}

type spoolPos struct {
	seg uint64
	off int64
}

// spool is the on-disk backlog of one destination.
type spool struct {
	dir       string
	max       int64
	segMax    int64
	syncMode  string
	log       *slog.Logger
	onCorrupt func()

	segs   []*segment // ordered by num
	active *segment   // receives appends; created by this process
	total  int64

	read     spoolPos   // next record to hand out
	commitAt spoolPos   // first record not committed
	inflight []spoolPos // end positions of handed-out, uncommitted records
	nDepth   int
	nUnsent  int

	cursorDirty bool
	dataDirty   bool
	lastSync    time.Time
	unlock      func()
}

// openSpool opens (or creates) the spool in dir and finds what a previous
// run left undelivered. Corrupt files and records are counted through
// onCorrupt, logged and skipped; they never stop the sensor.
func openSpool(dir string, maxBytes int64, syncMode string, log *slog.Logger, onCorrupt func()) (*spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("syslog: creating spool dir: %w", err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &spool{dir: dir, max: maxBytes, syncMode: syncMode, log: log, onCorrupt: onCorrupt, unlock: unlock}
	s.segMax = min(max(maxBytes/8, 64<<10), 16<<20)
	if err := s.listSegments(); err != nil {
		unlock()
		return nil, err
	}
	s.resume()
	if s.nDepth > 0 {
		log.Info("syslog: spool holds undelivered messages", "dir", dir, "messages", s.nDepth, "segments", len(s.segs))
	}
	return s, nil
}

// listSegments finds the segment files in the spool directory, oldest first.
func (s *spool) listSegments() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("syslog: reading spool dir: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, "seg-") || !strings.HasSuffix(name, ".spl") || !e.Type().IsRegular() {
			continue
		}
		num, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, "seg-"), ".spl"), 10, 64)
		if err != nil {
			continue
		}
		s.segs = append(s.segs, &segment{num: num})
	}
	sort.Slice(s.segs, func(i, j int) bool { return s.segs[i].num < s.segs[j].num })
	return nil
}

// resume finds where the previous run stopped: it deletes the segments
// delivered before the cursor, scans the rest (counting what is left and
// where each segment's valid records end) and starts reading at the cursor,
// or at the oldest segment when the cursor is missing or names a deleted one.
func (s *spool) resume() {
	start, ok := s.readCursor()
	if !ok && len(s.segs) > 0 {
		start = spoolPos{s.segs[0].num, int64(len(segMagic))}
	}
	kept := s.segs[:0]
	for _, seg := range s.segs {
		if seg.num < start.seg {
			os.Remove(s.segPath(seg.num)) // fully delivered before the last stop
			continue
		}
		from := int64(len(segMagic))
		if seg.num == start.seg {
			from = max(start.off, from)
		}
		if err := s.scan(seg, from); err != nil {
			s.corrupt("segment "+filepath.Base(s.segPath(seg.num)), err)
		}
		kept = append(kept, seg)
		s.total += seg.size
		s.nDepth += seg.records
	}
	s.segs = kept
	if len(s.segs) > 0 {
		if start.seg != s.segs[0].num {
			start = spoolPos{s.segs[0].num, int64(len(segMagic))}
		}
	} else {
		start = spoolPos{}
	}
	s.read, s.commitAt = start, start
	s.nUnsent = s.nDepth
}

func (s *spool) segPath(num uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("seg-%020d.spl", num))
}

func (s *spool) corrupt(what string, err error) {
	s.log.Warn("syslog: corrupt spool data skipped", "dir", s.dir, "what", what, "err", err)
	if s.onCorrupt != nil {
		s.onCorrupt()
	}
}

// scan validates seg from offset from and counts its records; reading stops
// at the first invalid record (a torn write or damage), which is reported.
func (s *spool) scan(seg *segment, from int64) error {
	f, err := os.Open(s.segPath(seg.num))
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	seg.size = st.Size()
	seg.validEnd = int64(len(segMagic))
	var magic [len(segMagic)]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil || string(magic[:]) != segMagic {
		seg.validEnd = 0
		return errors.New("bad segment header")
	}
	off := int64(len(segMagic))
	for off < seg.size {
		n, err := readRecordAt(f, off, nil)
		if err != nil {
			return fmt.Errorf("record at offset %d: %w", off, err)
		}
		off += recHdrLen + int64(n)
		seg.validEnd = off
		if off > from {
			seg.records++
		}
	}
	return nil
}

// readRecordAt reads the record at off; with buf nil it only validates and
// returns the payload length.
func readRecordAt(f io.ReaderAt, off int64, buf *[]byte) (int, error) {
	var hdr [recHdrLen]byte
	if _, err := f.ReadAt(hdr[:], off); err != nil {
		return 0, fmt.Errorf("short header: %w", err)
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if n == 0 || n > maxRecordLen {
		return 0, fmt.Errorf("bad length %d", n)
	}
	p := make([]byte, n)
	if _, err := f.ReadAt(p, off+recHdrLen); err != nil {
		return 0, fmt.Errorf("short payload: %w", err)
	}
	if crc32.Checksum(p, crcTable) != binary.BigEndian.Uint32(hdr[4:]) {
		return 0, errors.New("checksum mismatch")
	}
	if buf != nil {
		*buf = p
	}
	return int(n), nil
}

func (s *spool) readCursor() (spoolPos, bool) {
	b, err := os.ReadFile(filepath.Join(s.dir, cursorName))
	if errors.Is(err, os.ErrNotExist) {
		return spoolPos{}, false
	}
	if err != nil || len(b) != len(cursorMagic)+20 || string(b[:len(cursorMagic)]) != cursorMagic ||
		crc32.Checksum(b[:len(cursorMagic)+16], crcTable) != binary.BigEndian.Uint32(b[len(cursorMagic)+16:]) {
		s.corrupt("cursor", fmt.Errorf("unreadable cursor (%v): replaying the whole spool", err))
		return spoolPos{}, false
	}
	p := b[len(cursorMagic):]
	return spoolPos{binary.BigEndian.Uint64(p), int64(binary.BigEndian.Uint64(p[8:]))}, true
}

func (s *spool) writeCursor(fsync bool) error {
	b := make([]byte, 0, len(cursorMagic)+20)
	b = append(b, cursorMagic...)
	b = binary.BigEndian.AppendUint64(b, s.commitAt.seg)
	b = binary.BigEndian.AppendUint64(b, uint64(s.commitAt.off))
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
	tmp := filepath.Join(s.dir, cursorName+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("syslog: writing spool cursor: %w", err)
	}
	_, err = f.Write(b)
	if err == nil && fsync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(s.dir, cursorName))
	}
	if err != nil {
		return fmt.Errorf("syslog: writing spool cursor: %w", err)
	}
	s.cursorDirty = false
	return nil
}

func (s *spool) find(num uint64) (int, *segment) {
	for i, seg := range s.segs {
		if seg.num == num {
			return i, seg
		}
	}
	return -1, nil
}

func (s *spool) append(rec []byte) error {
	if len(rec) == 0 || len(rec) > maxRecordLen {
		return fmt.Errorf("syslog: spool: record of %d bytes", len(rec))
	}
	need := int64(recHdrLen + len(rec))
	if s.total+need > s.max && s.active != nil && s.commitAt.seg == s.active.num && s.commitAt.off >= s.active.validEnd {
		// Everything on disk was delivered: start afresh instead of refusing.
		old := s.active
		if err := s.rotate(); err != nil {
			return err
		}
		s.commitAt = spoolPos{s.active.num, s.active.size}
		s.read = s.commitAt
		s.cursorDirty = true
		s.removeSeg(old)
	}
	if s.total+need > s.max {
		return errFull
	}
	if s.active == nil || s.active.size+need > s.segMax {
		if err := s.rotate(); err != nil {
			return err
		}
		if s.total+need > s.max {
			return errFull
		}
	}
	buf := make([]byte, 0, need)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(rec)))
	buf = binary.BigEndian.AppendUint32(buf, crc32.Checksum(rec, crcTable))
	buf = append(buf, rec...)
	if _, err := s.active.f.WriteAt(buf, s.active.size); err != nil {
		return fmt.Errorf("syslog: spool append: %w", err)
	}
	s.active.size += need
	s.active.validEnd = s.active.size
	s.active.records++
	s.total += need
	s.nDepth++
	s.nUnsent++
	if s.syncMode == SyncAlways {
		if err := s.active.f.Sync(); err != nil {
			return fmt.Errorf("syslog: spool fsync: %w", err)
		}
	} else {
		s.dataDirty = true
	}
	return nil
}

// rotate starts a new segment; older ones are only read from now on.
func (s *spool) rotate() error {
	num := uint64(1)
	if n := len(s.segs); n > 0 {
		num = s.segs[n-1].num + 1
	}
	f, err := os.OpenFile(s.segPath(num), os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("syslog: spool: new segment: %w", err)
	}
	if _, err := f.Write([]byte(segMagic)); err != nil {
		f.Close()
		return fmt.Errorf("syslog: spool: new segment: %w", err)
	}
	if s.active != nil && s.active.f != nil && s.syncMode != SyncNever {
		s.active.f.Sync()
	}
	seg := &segment{num: num, size: int64(len(segMagic)), validEnd: int64(len(segMagic)), f: f}
	s.segs = append(s.segs, seg)
	s.active = seg
	s.total += seg.size
	if len(s.segs) == 1 || s.commitAt.seg == 0 {
		s.read = spoolPos{num, seg.size}
		s.commitAt = s.read
	}
	if s.syncMode == SyncAlways {
		syncDir(s.dir)
	}
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

func (s *spool) next() ([]byte, error) {
	for {
		i, seg := s.find(s.read.seg)
		if seg == nil {
			// The segment was consumed and deleted: continue with the next one.
			for _, later := range s.segs {
				if later.num > s.read.seg {
					s.read = spoolPos{later.num, int64(len(segMagic))}
					break
				}
			}
			if _, seg = s.find(s.read.seg); seg == nil {
				return nil, nil
			}
			continue
		}
		if s.read.off >= seg.validEnd {
			if seg == s.active || i == len(s.segs)-1 {
				return nil, nil
			}
			s.read = spoolPos{s.segs[i+1].num, int64(len(segMagic))}
			continue
		}
		if seg.f == nil {
			f, err := os.Open(s.segPath(seg.num))
			if err != nil {
				s.corrupt("segment "+filepath.Base(s.segPath(seg.num)), err)
				seg.validEnd = 0
				continue
			}
			seg.f = f
		}
		var rec []byte
		n, err := readRecordAt(seg.f, s.read.off, &rec)
		if err != nil {
			// Damaged after the startup scan: skip the rest of the segment.
			s.corrupt(fmt.Sprintf("segment %s offset %d", filepath.Base(s.segPath(seg.num)), s.read.off), err)
			seg.validEnd = s.read.off
			continue
		}
		s.read.off += recHdrLen + int64(n)
		s.inflight = append(s.inflight, s.read)
		s.nUnsent--
		return rec, nil
	}
}

func (s *spool) commit(n int) error {
	n = min(n, len(s.inflight))
	if n == 0 {
		return nil
	}
	s.commitAt = s.inflight[n-1]
	s.inflight = append(s.inflight[:0], s.inflight[n:]...)
	s.nDepth = max(s.nDepth-n, 0)
	s.cursorDirty = true
	// Delete segments the commit point has moved past.
	for len(s.segs) > 0 {
		seg := s.segs[0]
		done := seg.num < s.commitAt.seg || (seg.num == s.commitAt.seg && seg != s.active && s.commitAt.off >= seg.validEnd)
		if !done {
			break
		}
		s.removeSeg(seg)
	}
	if len(s.segs) > 0 && s.commitAt.seg < s.segs[0].num {
		s.commitAt = spoolPos{s.segs[0].num, int64(len(segMagic))}
	}
	if s.syncMode == SyncAlways {
		return s.writeCursor(true)
	}
	return nil
}

// removeSeg deletes a fully delivered segment.
func (s *spool) removeSeg(seg *segment) {
	if seg.f != nil {
		seg.f.Close()
		seg.f = nil
	}
	os.Remove(s.segPath(seg.num))
	s.total -= seg.size
	for i, x := range s.segs {
		if x == seg {
			s.segs = append(s.segs[:i], s.segs[i+1:]...)
			break
		}
	}
}

func (s *spool) rewind() int {
	n := len(s.inflight)
	s.inflight = s.inflight[:0]
	s.read = s.commitAt
	s.nUnsent += n
	return n
}

func (s *spool) depth() int    { return s.nDepth }
func (s *spool) unsent() int   { return s.nUnsent }
func (s *spool) full() bool    { return false }
func (s *spool) durable() bool { return true }

// sync makes appended records and the commit point durable; the worker calls
// it once a second and on close.
func (s *spool) sync() error {
	var err error
	if s.dataDirty && s.active != nil && s.syncMode != SyncNever {
		err = s.active.f.Sync()
	}
	s.dataDirty = false
	if s.cursorDirty {
		if cerr := s.writeCursor(s.syncMode != SyncNever); err == nil {
			err = cerr
		}
	}
	s.lastSync = time.Now()
	return err
}

func (s *spool) close() error {
	err := s.sync()
	for _, seg := range s.segs {
		if seg.f != nil {
			seg.f.Close()
			seg.f = nil
		}
	}
	s.active = nil
	if s.unlock != nil {
		s.unlock()
		s.unlock = nil
	}
	return err
}
