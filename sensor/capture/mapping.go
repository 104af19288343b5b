package capture

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
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
	f       *os.File
	bufSize int   // read buffer for what follows the mapping
	seekAt  int64 // the stream's offset at which to follow it next

	mu   sync.Mutex // guards data against FaultError racing Close
	data []byte
}

// Files are mapped from minMapped bytes (a magic number) up to maxMapped.
const (
	minMapped = 4
	maxMapped = min(1<<40, math.MaxInt)
)

// errChanged is wrapped by the error for a fault in a mapped file.
var errChanged = errors.New("file shrank while it was read")

// rest returns the file positioned at off, to read on past the mapping.
func (m *mapping) rest(off int64) io.Reader {
	m.follow(off)
	return m.f
}

// follow moves the file's offset to off, the bytes read so far. Reading
// through the mapping does not move it, and the offset is what progress
// shows (launchtap replay's, or any tool reading /proc/PID/fdinfo): one
// lseek per followEvery bytes keeps it near.
func (m *mapping) follow(off int64) {
	m.f.Seek(off, io.SeekStart) //nolint:errcheck // a regular file; only progress reads the offset
	m.seekAt = off + followEvery
}

const followEvery = 1 << 20

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

func (m *mapping) close() error {
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
