//go:build unix

package capture

import (
	"os"
	"syscall"
	"unsafe"
)

// mapFile maps f read-only, or returns nil when it is not a regular file of
// at least minMapped bytes or the system refuses (the caller then reads it).
func mapFile(f *os.File, bufSize int) *mapping {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() < minMapped || fi.Size() > maxMapped {
		return nil
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil
	}
	// Read ahead aggressively and drop pages behind: one pass, in order.
	_ = syscall.Madvise(data, syscall.MADV_SEQUENTIAL)
	return &mapping{f: f, bufSize: bufSize, data: data}
}

func unmap(b []byte) error { return syscall.Munmap(b) }

func addrOf(b []byte) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(b)) }
