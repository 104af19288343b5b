package capture

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the crafted files under testdata/")

// truncatedPcap holds three frames, the third cut in its body; the cut
// record starts at byte 24+16+5+16+5 = 66.
func truncatedPcap() []byte {
	b := pcapBytes(binary.LittleEndian, magicMicro, uint32(LinkEthernet),
		rec{ts: 1_700_000_000e9, data: []byte("first")},
		rec{ts: 1_700_000_001e9, data: []byte("other")},
		rec{ts: 1_700_000_002e9, data: []byte("third, never whole")})
	return b[:len(b)-4]
}

// testdataFiles are the crafted inputs committed under testdata/, for the
// example and for the CLI's end-to-end tests (exit status 2 for
// not-a-capture.txt, a warning and status 0 for truncated.pcap). Files
// ending in .gz are compared decompressed: gzip output may change with Go.
var testdataFiles = map[string]func() []byte{
	"multi-section.pcapng": multiSection,
	"truncated.pcap":       truncatedPcap,
	"not-a-capture.txt":    func() []byte { return []byte("This is a text file, not a capture.\n") },
	"rotated/capture-0.pcap": func() []byte {
		return pcapBytes(binary.BigEndian, magicNano, uint32(LinkRaw),
			rec{ts: 1_700_000_000e9, data: []byte("rot0-a")}, rec{ts: 1_700_000_002e9, data: []byte("rot0-b")})
	},
	"rotated/capture-1.pcap.gz": func() []byte {
		return pcapBytes(binary.LittleEndian, magicMicro, uint32(LinkRaw),
			rec{ts: 1_700_000_001e9, data: []byte("rot1-a")}, rec{ts: 1_700_000_003e9, data: []byte("rot1-b")})
	},
	"rotated/README.txt": func() []byte { return []byte("Not a capture: Open skips it with a warning.\n") },
}

func TestTestdataFiles(t *testing.T) {
	for name, build := range testdataFiles {
		want := build()
		p := filepath.Join("testdata", name)
		gzipped := strings.HasSuffix(name, ".gz")
		if *update {
			b := want
			if gzipped {
				b = gz(t, want)
			}
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("%v (run go test -update)", err)
		}
		if gzipped {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if b, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(b, want) {
			t.Errorf("%s differs from its builder (run go test -update)", p)
		}
	}
}
