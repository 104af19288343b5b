package synth

import (
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

type packetReader interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

func TestWriteFileFormats(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		ng   bool
		gz   bool
		snap int
	}{
		{"x.pcap", false, false, 0},
		{"x.pcapng", true, false, 0},
		{"x.pcap.gz", false, true, 0},
		{"x.pcapng.gz", true, true, 0},
		{"snap.pcap", false, false, 96},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name)
			lpath := path + ".labels.json"
			_, st, err := WriteFile(path, lpath, "demo", 2, Options{Packets: 300, SnapLen: tt.snap})
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var r io.Reader = f
			if tt.gz {
				gz, err := gzip.NewReader(f)
				if err != nil {
					t.Fatal(err)
				}
				r = gz
			}
			var pr packetReader
			if tt.ng {
				ng, err := pcapgo.NewNgReader(r, pcapgo.DefaultNgReaderOptions)
				if err != nil {
					t.Fatal(err)
				}
				if ng.LinkType() != layers.LinkTypeEthernet {
					t.Fatalf("link type %v", ng.LinkType())
				}
				pr = ng
			} else {
				pc, err := pcapgo.NewReader(r)
				if err != nil {
					t.Fatal(err)
				}
				if pc.Resolution() != gopacket.TimestampResolutionNanosecond {
					t.Fatalf("pcap resolution %v, want nanoseconds", pc.Resolution())
				}
				pr = pc
			}
			n := 0
			for {
				data, ci, err := pr.ReadPacketData()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				n++
				if tt.snap > 0 && (len(data) > tt.snap || ci.Length < ci.CaptureLength) {
					t.Fatalf("snap %d: captured %d of %d", tt.snap, len(data), ci.Length)
				}
				if tt.snap == 0 && ci.Length != len(data) {
					t.Fatalf("full frame captured %d of %d", len(data), ci.Length)
				}
			}
			if n != st.Packets || n != 300 {
				t.Fatalf("read %d packets, wrote %d", n, st.Packets)
			}
			lf, err := os.Open(lpath)
			if err != nil {
				t.Fatal(err)
			}
			defer lf.Close()
			if _, err := ReadLabels(lf); err != nil {
				t.Fatal(err)
			}
		})
	}
	if _, _, err := WriteFile(filepath.Join(dir, "x.txt"), "", "demo", 1, Options{}); err == nil {
		t.Fatal("a .txt capture name was accepted")
	}
	if _, _, err := WriteFile(filepath.Join(dir, "y.pcap"), "", "demo", 1, Options{SnapLen: 10}); err == nil {
		t.Fatal("snap length 10 accepted")
	}
}

// FuzzReadLabels: label files are read by the evaluation; bad bytes must
// give an error, never a panic.
func FuzzReadLabels(f *testing.F) {
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"scenario":"demo","style":"x","src_ip":"10.0.0.1","beats":3,"beat_times":["2026-03-02T08:00:00Z"]}]`))
	f.Add([]byte(`{"scenario":1}`))
	if b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "demo.labels.json")); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		labels, err := ReadLabels(bytesReader(b))
		if err != nil {
			return
		}
		var out writerCounter
		if err := WriteLabels(&out, labels); err != nil {
			t.Fatal(err)
		}
	})
}

type writerCounter int

func (w *writerCounter) Write(p []byte) (int, error) { *w += writerCounter(len(p)); return len(p), nil }

func bytesReader(b []byte) io.Reader { return &sliceReader{b: b} }

type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}
