package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// boundaries walks a little-endian capture independently of the readers and
// returns the offset where each record (pcap) or block (pcapng) starts, the
// file header's length, and which records carry a frame.
func boundaries(t *testing.T, b []byte) (starts []int, hdr int, isFrame []bool) {
	t.Helper()
	le := binary.LittleEndian
	if bytes.HasPrefix(b, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		for off := 0; off < len(b); {
			typ, n := le.Uint32(b[off:]), int(le.Uint32(b[off+4:]))
			if off == 0 {
				hdr = n
			} else {
				starts = append(starts, off)
				isFrame = append(isFrame, typ == blockEPB || typ == blockSPB || typ == blockPB)
			}
			off += n
		}
		return starts, hdr, isFrame
	}
	for off := 24; off < len(b); off += 16 + int(le.Uint32(b[off+8:])) {
		starts = append(starts, off)
		isFrame = append(isFrame, true)
	}
	return starts, 24, isFrame
}

// TestTruncation cuts captures at every byte and checks that every frame
// before the cut arrives, then a *TruncatedError naming the cut record.
func TestTruncation(t *testing.T) {
	w := &ng{}
	w.shb(binary.LittleEndian).idb(1, 0, 9, 0).epb(0, 1e18, []byte("one"), 3).
		block(5, []byte("statistics")).idb(101, 0, -1, 0).epb(1, 2e15, bytes.Repeat([]byte{7}, 70), 70).
		spb([]byte("simple"), 6)
	inputs := map[string][]byte{
		"crafted.pcapng": w.buf,
		"crafted.pcap": pcapBytes(binary.LittleEndian, magicNano, 1,
			rec{ts: 1, data: []byte("a")}, rec{ts: 2, data: nil}, rec{ts: 3, data: bytes.Repeat([]byte{1}, 100)}),
	}
	for _, p := range sharedCaptures(t) {
		if n := filepath.Base(p); n == "macos_tcp_flags.pcap" || n == "ipv6.pcapng" {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			inputs[n] = b
		}
	}
	for name, full := range inputs {
		t.Run(name, func(t *testing.T) {
			all, _, err := openAll(t, Options{Stdin: bytes.NewReader(full)}, "-")
			if err != io.EOF {
				t.Fatal(err)
			}
			starts, hdr, isFrame := boundaries(t, full)
			for cut := 0; cut < len(full); cut++ {
				src, err := (Options{Stdin: bytes.NewReader(full[:cut])}).Open("-")
				if cut < 4 {
					if !errors.Is(err, ErrNotCapture) {
						t.Fatalf("cut %d: Open: %v, want ErrNotCapture", cut, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("cut %d: Open: %v", cut, err)
				}
				frames, err := readAll(t, src)
				src.Close()
				// The record the cut falls in, and the frames wholly before it.
				wantOff, wantN, clean := 0, 0, false
				if cut >= hdr {
					clean = true
					for i, s := range starts {
						if s >= cut {
							break
						}
						end := len(full)
						if i+1 < len(starts) {
							end = starts[i+1]
						}
						if cut < end {
							wantOff, clean = s, false
							break
						}
						if isFrame[i] {
							wantN++
						}
					}
				}
				if len(frames) != wantN {
					t.Fatalf("cut %d: %d frames, want %d", cut, len(frames), wantN)
				}
				for i := range frames {
					if frames[i] != all[i] {
						t.Fatalf("cut %d: frame %d differs", cut, i)
					}
				}
				if clean {
					if err != io.EOF {
						t.Fatalf("cut %d at a record boundary: %v, want io.EOF", cut, err)
					}
					continue
				}
				var te *TruncatedError
				if !errors.As(err, &te) || te.Offset != int64(wantOff) || te.File != StdinName || !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("cut %d: %v, want TruncatedError at offset %d", cut, err, wantOff)
				}
			}
		})
	}
}

// TestTruncatedGzip cuts the compressed stream: the frames before the cut
// arrive, then a TruncatedError at a record start.
func TestTruncatedGzip(t *testing.T) {
	var recs []rec
	for i := range 200 {
		recs = append(recs, rec{ts: int64(i) * 1e6, data: bytes.Repeat([]byte{byte(i)}, 60+i)})
	}
	plain := pcapBytes(binary.LittleEndian, magicMicro, 1, recs...)
	starts, _, _ := boundaries(t, plain)
	z := gz(t, plain)
	for _, cut := range []int{len(z) / 3, len(z) / 2, len(z) - 9, len(z) - 1} {
		src, err := (Options{Stdin: bytes.NewReader(z[:cut])}).Open("-")
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		frames, err := readAll(t, src)
		var te *TruncatedError
		if !errors.As(err, &te) {
			t.Fatalf("cut %d: %v after %d frames, want TruncatedError", cut, err, len(frames))
		}
		// A cut in the gzip trailer loses no record: the stream is still
		// reported truncated, at its end.
		want := int64(len(plain))
		if len(frames) < len(starts) {
			want = int64(starts[len(frames)])
		}
		if te.Offset != want {
			t.Errorf("cut %d: offset %d after %d frames, want %d", cut, te.Offset, len(frames), want)
		}
		for i, f := range frames {
			if f.data != string(recs[i].data) {
				t.Fatalf("cut %d: frame %d differs", cut, i)
			}
		}
	}
}
