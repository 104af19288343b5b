package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// compareMapped checks that a file read through its mapping gives what
// read(2) gives: the same frames and the same end.
func compareMapped(t *testing.T, data []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	read := func(o Options) ([]got, *Reader, error) {
		r, err := o.Open(path)
		if err != nil {
			return nil, nil, err
		}
		t.Cleanup(func() { r.Close() })
		frames, err := readAll(t, r)
		return frames, r, err
	}
	viaMap, r, mapErr := read(Options{})
	viaRead, _, readErr := read(Options{noMap: true})
	prefaulted, _, prefaultErr := read(Options{Prefault: true})
	if fmt.Sprint(mapErr) != fmt.Sprint(readErr) || fmt.Sprint(prefaultErr) != fmt.Sprint(readErr) {
		t.Fatalf("mapped: %v; read: %v; prefaulted: %v", mapErr, readErr, prefaultErr)
	}
	sameFrames(t, "mapped", "read", viaMap, viaRead)
	sameFrames(t, "prefaulted", "read", prefaulted, viaRead)
	if r != nil && len(data) >= minMapped && data[0] != 0x1f && r.maps[0] == nil {
		t.Fatal("a plain file was not mapped")
	}
}

func TestMappedMatchesRead(t *testing.T) {
	inputs := append(craftedPcaps(), craftedPcapngs()...)
	for _, b := range craftedPcaps() {
		inputs = append(inputs, gz(t, b))
	}
	files, _ := sharedCaptureFiles()
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, b)
	}
	for i, b := range inputs {
		t.Run(fmt.Sprint(i), func(t *testing.T) { compareMapped(t, b) })
	}
}

// A capture file that grows after it was opened (a capture still being
// written) is read to its new end: past the mapping, through read(2).
func TestMappedFileGrows(t *testing.T) {
	le := binary.LittleEndian
	first := pcapBytes(le, magicMicro, 1, rec{ts: 1e9, data: []byte("one")})
	whole := pcapBytes(le, magicMicro, 1, rec{ts: 1e9, data: []byte("one")}, rec{ts: 2e9, data: []byte("two")})
	path := filepath.Join(t.TempDir(), "grows.pcap")
	if err := os.WriteFile(path, first, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.(*Reader).maps[0] == nil {
		t.Fatal("not mapped")
	}
	var f Frame
	if err := r.Next(&f); err != nil || string(f.Data) != "one" {
		t.Fatalf("first frame %q, %v", f.Data, err)
	}
	if err := os.WriteFile(path, whole, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.Next(&f); err != nil || string(f.Data) != "two" {
		t.Fatalf("appended frame %q, %v", f.Data, err)
	}
	if err := r.Next(&f); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}

// A mapped file truncated under the reader faults on the next access to a
// page past its new end; Guard recovers the fault into an error naming the
// file (the data path's read loop runs under it).
func TestMappedFileTruncatedFaults(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SIGBUS on access past a truncated mapping is Linux's behaviour")
	}
	var recs []rec
	for i := range 64 {
		recs = append(recs, rec{ts: int64(i+1) * 1e9, data: bytes.Repeat([]byte{byte(i)}, 1000)})
	}
	for _, prefault := range []bool{false, true} {
		t.Run(fmt.Sprint("prefault=", prefault), func(t *testing.T) {
			truncatedFaults(t, Options{Prefault: prefault}, recs)
		})
	}
}

// readOneThenTruncate writes data to path, opens it with o, reads its first
// frame and truncates the file to size under the open reader (closed when
// the test ends).
func readOneThenTruncate(t *testing.T, o Options, path string, data []byte, size int64) *Reader {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := o.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	var f Frame
	if err := r.Next(&f); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
	return r
}

func truncatedFaults(t *testing.T, o Options, recs []rec) {
	path := filepath.Join(t.TempDir(), "shrinks.pcap")
	r := readOneThenTruncate(t, o, path, pcapBytes(binary.LittleEndian, magicMicro, 1, recs...), 8192)
	var f Frame
	got := r.Guard(func() error {
		var sum int
		for {
			if err := r.Next(&f); err != nil {
				return err
			}
			for _, b := range f.Data {
				sum += int(b)
			}
		}
	})
	if !errors.Is(got, errChanged) || !strings.Contains(got.Error(), path) {
		t.Fatalf("got %v, want the file named and errChanged", got)
	}
	if r.FaultError("not a fault") != nil {
		t.Fatal("FaultError claimed a value that is not a fault")
	}
}

// A mapped file truncated inside its last page does not fault: the rest of
// the page reads as zeros. They must not become frames, and the input must
// end with the error, not cleanly.
func TestMappedFileTruncatedInPage(t *testing.T) {
	le := binary.LittleEndian
	var recs []rec
	for i := range 3 {
		recs = append(recs, rec{ts: int64(i+1) * 1e9, data: bytes.Repeat([]byte{byte(i + 1)}, 900)})
	}
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"pcap", pcapBytes(le, magicMicro, 1, recs...)},
		{"pcapng", craftedPcapngs()[0]},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "small")
			r := readOneThenTruncate(t, Options{}, path, c.data, 100)
			var f Frame
			for {
				err := r.Next(&f)
				if err == nil {
					if f.TS == 0 && len(f.Data) == 0 {
						t.Fatal("zeros past the new end came out as a frame")
					}
					continue
				}
				if !errors.Is(err, errChanged) || !strings.Contains(err.Error(), path) {
					t.Fatalf("ended with %v, want the file named as shrunk", err)
				}
				return
			}
		})
	}
}

// Pages read through the mapping are released as the reader moves on, so
// the resident set does not grow by the size of the file.
func TestMappedPagesReleased(t *testing.T) {
	le := binary.LittleEndian
	var recs []rec
	for i := range (followEvery + 2*releaseEvery) / 1000 {
		recs = append(recs, rec{ts: int64(i+1) * 1e6, data: bytes.Repeat([]byte{byte(i)}, 1000)})
	}
	path := filepath.Join(t.TempDir(), "big.pcap")
	if err := os.WriteFile(path, pcapBytes(le, magicMicro, 1, recs...), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, prefault := range []bool{false, true} {
		r, err := Options{Prefault: prefault}.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		frames, err := readAll(t, r)
		if err != io.EOF || len(frames) != len(recs) {
			t.Fatalf("prefault %v: %d frames, %v", prefault, len(frames), err)
		}
		m := r.maps[0]
		if m == nil {
			t.Fatalf("prefault %v: not mapped", prefault)
		}
		// With prefaulting its goroutine releases, after the reader's
		// last follow.
		for deadline := time.Now().Add(5 * time.Second); m.released.Load() < releaseEvery; time.Sleep(time.Millisecond) {
			if !prefault || time.Now().After(deadline) {
				t.Fatalf("prefault %v: released %d of a %d-byte mapping", prefault, m.released.Load(), len(m.data))
			}
		}
		if prefault && runtime.GOOS == "linux" {
			// The reader's last follows asked for the rest of the file
			// (MADV_POPULATE_READ, Linux 5.14): the goroutine gets there.
			size := int64(len(m.data))
			for deadline := time.Now().Add(5 * time.Second); m.populated.Load() < size; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("populated %d bytes of a %d-byte file", m.populated.Load(), size)
				}
			}
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if prefault {
			select {
			case <-m.exited:
			default:
				t.Fatal("the prefaulting goroutine outlived Close")
			}
		}
	}
}
