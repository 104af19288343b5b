package capture

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// mapping is a capture file mapped read-only into memory, so that frames are
// handed out from the page cache without a copy. The file stays open: a
// stream that reaches the mapping's end reads on from the file (it may have
// grown).
//
// A mapped file that shrinks while it is read makes the next access to a
// page past its new end fault. The data path runs with
// debug.SetPanicOnFault and asks FaultError whether a recovered fault was
// in a capture mapping; such a fault ends the input with an error instead
// of the process.
type mapping struct {
	f        *os.File
	bufSize  int          // read buffer for what follows the mapping
	seekAt   int64        // the stream's offset at which to follow it next
	released atomic.Int64 // data[:released] is out of the resident set

	mu   sync.Mutex // guards data against FaultError racing Close
	data []byte

	// With prefaulting (Options.Prefault), a goroutine maps the pages
	// ahead of the reader in (see prefault).
	reader    atomic.Int64  // the reader's offset, published by follow
	populated atomic.Int64  // the goroutine is done up to here: populated, or passed by the reader
	wake      chan struct{} // 1-buffered: the reader moved on
	stop      chan struct{} // closed by close
	exited    chan struct{} // closed by the goroutine as it returns
}

// Files are mapped from minMapped bytes (a magic number) up to maxMapped.
const (
	minMapped = 4
	maxMapped = min(1<<40, math.MaxInt)
)

// errChanged is wrapped by the error for a fault in a mapped file.
var errChanged = errors.New("file shrank while it was read")

// follow moves the file's offset to off, the bytes read so far, and
// returns the file's size now. Reading through the mapping does not move
// the offset, and the offset is what progress shows (launchtap replay's, or
// any tool reading /proc/PID/fdinfo): one lseek per followEvery bytes keeps
// it near. The size tells a file that shrank (whose mapped pages past its
// new end fault, or read as zeros up to the end of the last page).
//
// It also has the pages read more than followEvery ago released
// (releaseBehind; by the prefaulting goroutine when there is one),
// releaseEvery bytes at a time: they stay in the page cache, but out of
// the process's resident set, which would otherwise grow by the whole file
// (RSS counts mapped file pages) and hide what the sensor's own tables
// use. A page touched again faults back in. A release flushes the TLB of
// every CPU running the process's threads: with workers busy on the other
// cores, releasing a mebibyte at a time was 15 % of the reader's CPU.
func (m *mapping) follow(off int64) (size int64) {
	m.f.Seek(off, io.SeekStart) //nolint:errcheck // a regular file; only progress reads the offset
	m.seekAt = off + followEvery
	if m.wake != nil {
		m.reader.Store(off)
		select {
		case m.wake <- struct{}{}:
		default: // it has a wake-up pending
		}
	}
	if m.wake == nil {
		m.releaseBehind(off)
	}
	fi, err := m.f.Stat()
	if err != nil {
		return math.MaxInt64 // cannot tell: read on; a fault is still caught
	}
	return fi.Size()
}

const (
	followEvery  = 1 << 20
	releaseEvery = 16 << 20 // so at most about this much of the file is resident
	releaseAlign = 64 << 10 // a multiple of any page size
)

// releaseBehind releases the pages read more than followEvery before off,
// the reader's offset, once there are releaseEvery bytes of them. It runs
// on the reader's goroutine, or on the prefaulting goroutine when there is
// one, never on both.
func (m *mapping) releaseBehind(off int64) {
	from := m.released.Load()
	if done := (off - followEvery) &^ (releaseAlign - 1); done-from >= releaseEvery {
		release(m.data[from:done])
		m.released.Store(done)
	}
}

// errReader fails every read with err.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// contains reports whether addr lies in the mapped bytes.
func (m *mapping) contains(addr uintptr) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.data) == 0 {
		return false
	}
	lo := uintptr(addrOf(m.data))
	return addr >= lo && addr-lo < uintptr(len(m.data))
}

// prefaultAhead is how far past the reader a prefaulting mapping keeps its
// pages mapped in.
const prefaultAhead = 8 << 20

// startPrefault maps m's pages in up to prefaultAhead past the reader, on
// a goroutine of its own, until close. A first touch of a page of the
// mapping is a page fault (one per 16 pages, the kernel maps its
// neighbours with it; fewer where the page cache holds the file in large
// folios, as it does a file read cold on Linux 6.18's ext4): about a fifth
// of what the reader does when it feeds several workers, and the reader
// sets their pace. Populated ahead, the
// reader finds the pages mapped; the work is the same, on a core a worker
// would otherwise wait on the reader with.
//
// The goroutine also releases the pages behind the reader (releaseBehind):
// zapping a range's page-table entries was a tenth of the reader's time
// feeding two workers (the TLB flush still interrupts the reader's core).
func (m *mapping) startPrefault() {
	m.wake, m.stop, m.exited = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	m.wake <- struct{}{} // the first stretch at once
	go func() {
		defer close(m.exited)
		var done int64
		populating := true
		for {
			select {
			case <-m.stop:
				return
			case <-m.wake:
			}
			reader := m.reader.Load()
			m.releaseBehind(reader)
			if !populating {
				continue
			}
			var err error
			if done, err = m.populateAhead(reader, done); err != nil {
				populating = false // and releasing still
			}
		}
	}()
}

// populateAhead maps in the pages from done, or from the reader when the
// goroutine fell behind it, to prefaultAhead past the reader, and returns
// how far they now are. It fails on a kernel without MADV_POPULATE_READ or
// a file that shrank.
func (m *mapping) populateAhead(reader, done int64) (int64, error) {
	size, page := int64(len(m.data)), int64(os.Getpagesize())
	to := min(reader+prefaultAhead, size)
	if to < size {
		to &^= page - 1 // the next start must be page-aligned
	}
	// Behind the reader (it never waited, so this goroutine did not run),
	// start at the reader: populating what it has passed would map back in
	// what was just released, and the resident set would grow by the file.
	from := max(done, reader&^(page-1))
	if to <= from { // nothing left to populate before to
		to = max(done, to)
		m.populated.Store(to)
		return to, nil
	}
	if err := populate(m.data[from:to]); err != nil {
		return done, err
	}
	m.populated.Store(to)
	return to, nil
}

func (m *mapping) close() error {
	if m.stop != nil {
		close(m.stop)
		<-m.exited // not populating while the range is unmapped
		m.stop = nil
	}
	m.mu.Lock()
	data := m.data
	m.data = nil
	m.mu.Unlock()
	var err error
	if data != nil {
		err = unmap(data)
	}
	if cerr := m.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Guard runs read, which reads frames from r and works on their bytes, on
// this goroutine with debug.SetPanicOnFault: a fault in one of r's mapped
// files (another process truncated it) ends read with an error naming the
// file instead of ending the process. Any other panic goes on. What read
// was doing when the fault hit is left as it was: callers end the input.
func (r *Reader) Guard(read func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if v := recover(); v != nil {
			if err = r.FaultError(v); err == nil {
				panic(v)
			}
		}
	}()
	return read()
}

// FaultError turns a value recovered from a memory fault (run with
// debug.SetPanicOnFault) into an error when the fault was in one of r's
// mapped capture files, which another process must have truncated; else it
// returns nil and the caller should panic again.
func (r *Reader) FaultError(recovered any) error {
	e, ok := recovered.(interface{ Addr() uintptr })
	if !ok {
		return nil
	}
	for i, m := range r.maps {
		if m != nil && m.contains(e.Addr()) {
			return fmt.Errorf("capture: %s: %w", r.names[i], errChanged)
		}
	}
	return nil
}
