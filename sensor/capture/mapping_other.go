//go:build !unix

package capture

import (
	"os"
	"unsafe"
)

func mapFile(*os.File, int) *mapping { return nil }

func unmap([]byte) error { return nil }

func release([]byte) {}

func addrOf(b []byte) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(b)) }
