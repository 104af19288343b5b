//go:build unix

package capture

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mapFile maps f read-only, or returns nil when it is not a regular file of
// minMapped to maxMapped bytes or the system refuses (the caller then reads
// it).
func mapFile(f *os.File, bufSize int) *mapping {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() < minMapped || fi.Size() > maxMapped {
		return nil
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil
	}
	// Read ahead aggressively and drop pages behind: one pass, in order.
	_ = unix.Madvise(data, unix.MADV_SEQUENTIAL)
	return &mapping{f: f, bufSize: bufSize, data: data}
}

func unmap(b []byte) error { return unix.Munmap(b) }

// release drops b's pages from the process's page tables (a shared file
// mapping: the file and the page cache keep them).
func release(b []byte) {
	if len(b) > 0 {
		_ = unix.Madvise(b, unix.MADV_DONTNEED)
	}
}

func addrOf(b []byte) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(b)) }
