package capture

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"unsafe"
)

// A prefaulting goroutine that fell behind the reader populates from the
// reader on: populating from where it had got to would map back in the pages
// the reader had passed and were just released, and the resident set would
// grow by the file (it did, with a deep batch queue).
func TestPopulateAheadSkipsWhatTheReaderPassed(t *testing.T) {
	const size = followEvery + releaseEvery + 2*prefaultAhead
	path := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(path, make([]byte, size), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	m := mapFile(f, 1<<16)
	if m == nil {
		t.Fatal("not mapped")
	}
	defer m.close()

	reader := int64(followEvery + releaseEvery + prefaultAhead/2)
	m.releaseBehind(reader)
	released := m.released.Load()
	if released < releaseEvery {
		t.Fatalf("released %d bytes behind a reader at %d", released, reader)
	}
	done, err := m.populateAhead(reader, 0)
	if err != nil {
		t.Skipf("MADV_POPULATE_READ: %v", err) // Linux 5.14
	}
	if want := reader + prefaultAhead; done != want || m.populated.Load() != want {
		t.Fatalf("populated to %d (%d published), want %d", done, m.populated.Load(), want)
	}
	if n := mappedPages(t, m.data[:released]); n != 0 {
		t.Errorf("%d released pages behind the reader mapped back in", n)
	}
	page := int64(os.Getpagesize())
	ahead := m.data[reader&^(page-1) : done]
	if n := mappedPages(t, ahead); n != len(ahead)/int(page) {
		t.Errorf("%d of the %d pages ahead of the reader mapped in", n, len(ahead)/int(page))
	}
}

// mappedPages counts b's pages present in this process's page tables
// (/proc/self/pagemap's bit 63, readable without privilege).
func mappedPages(t *testing.T, b []byte) int {
	t.Helper()
	page := uintptr(os.Getpagesize())
	f, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Skipf("pagemap: %v", err)
	}
	defer f.Close()
	first := uintptr(unsafe.Pointer(unsafe.SliceData(b))) / page
	entries := make([]byte, 8*(uintptr(len(b))/page))
	if _, err := f.ReadAt(entries, int64(first*8)); err != nil {
		t.Fatalf("pagemap: %v", err)
	}
	n := 0
	for i := 0; i < len(entries); i += 8 {
		if binary.LittleEndian.Uint64(entries[i:])&(1<<63) != 0 {
			n++
		}
	}
	return n
}
