package capture

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/launchtap/launchtap/internal/testenv"
)

// rec is one crafted record for the file builders below.
type rec struct {
	ts      int64 // Unix ns
	data    []byte
	wireLen uint32 // 0 means len(data)
}

func (r rec) wire() uint32 {
	if r.wireLen == 0 {
		return uint32(len(r.data))
	}
	return r.wireLen
}

// pcapBytes writes a classic pcap file; magic picks µs, ns or modified.
func pcapBytes(bo order, magic uint32, link uint32, recs ...rec) []byte {
	var b []byte
	b = bo.AppendUint32(b, magic)
	b = bo.AppendUint16(b, 2)
	b = bo.AppendUint16(b, 4)
	b = bo.AppendUint32(b, 0)
	b = bo.AppendUint32(b, 0)
	b = bo.AppendUint32(b, 262144)
	b = bo.AppendUint32(b, link)
	for _, r := range recs {
		frac := r.ts % 1e9
		if magic != magicNano {
			frac /= 1000
		}
		b = bo.AppendUint32(b, uint32(r.ts/1e9))
		b = bo.AppendUint32(b, uint32(frac))
		b = bo.AppendUint32(b, uint32(len(r.data)))
		b = bo.AppendUint32(b, r.wire())
		if magic == magicModified {
			b = append(b, 0, 0, 0, 0, 0, 0, 0, 0) // ifindex, protocol, pkt_type, pad
		}
		b = append(b, r.data...)
	}
	return b
}

// ng builds pcapng files block by block.
type ng struct {
	bo  order
	buf []byte
}

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func (w *ng) block(typ uint32, body []byte) *ng {
	body = pad4(append([]byte(nil), body...))
	n := uint32(12 + len(body))
	w.buf = w.bo.AppendUint32(w.buf, typ)
	w.buf = w.bo.AppendUint32(w.buf, n)
	w.buf = append(w.buf, body...)
	w.buf = w.bo.AppendUint32(w.buf, n)
	return w
}

func (w *ng) opt(code uint16, v []byte) []byte {
	var b []byte
	b = w.bo.AppendUint16(b, code)
	b = w.bo.AppendUint16(b, uint16(len(v)))
	return pad4(append(b, v...))
}

// shb starts a section, switching the builder's byte order.
func (w *ng) shb(bo order) *ng {
	w.bo = bo
	var b []byte
	b = bo.AppendUint32(b, byteOrderBOM)
	b = bo.AppendUint16(b, 1)
	b = bo.AppendUint16(b, 0)
	b = bo.AppendUint64(b, ^uint64(0))
	b = append(b, w.opt(1, []byte("crafted"))...)
	b = append(b, 0, 0, 0, 0)
	return w.block(magicPcapng, b)
}

// idb adds an interface; tsresol < 0 leaves the option out.
func (w *ng) idb(link uint16, snap uint32, tsresol int, tsoffset int64) *ng {
	var b []byte
	b = w.bo.AppendUint16(b, link)
	b = w.bo.AppendUint16(b, 0)
	b = w.bo.AppendUint32(b, snap)
	b = append(b, w.opt(2, []byte("if"))...)
	if tsresol >= 0 {
		b = append(b, w.opt(optTSResol, []byte{byte(tsresol)})...)
	}
	if tsoffset != 0 {
		b = append(b, w.opt(optTSOffset, w.bo.AppendUint64(nil, uint64(tsoffset)))...)
	}
	b = append(b, 0, 0, 0, 0)
	return w.block(blockIDB, b)
}

// epb adds an Enhanced Packet Block with a raw timestamp in interface units.
func (w *ng) epb(iface uint32, ts uint64, data []byte, wire uint32) *ng {
	var b []byte
	b = w.bo.AppendUint32(b, iface)
	b = w.bo.AppendUint32(b, uint32(ts>>32))
	b = w.bo.AppendUint32(b, uint32(ts))
	b = w.bo.AppendUint32(b, uint32(len(data)))
	b = w.bo.AppendUint32(b, wire)
	b = pad4(append(b, data...))
	b = append(b, w.opt(1, []byte("a packet comment"))...)
	b = append(b, 0, 0, 0, 0)
	return w.block(blockEPB, b)
}

// pb adds an obsolete Packet Block.
func (w *ng) pb(iface uint16, ts uint64, data []byte, wire uint32) *ng {
	var b []byte
	b = w.bo.AppendUint16(b, iface)
	b = w.bo.AppendUint16(b, 0)
	b = w.bo.AppendUint32(b, uint32(ts>>32))
	b = w.bo.AppendUint32(b, uint32(ts))
	b = w.bo.AppendUint32(b, uint32(len(data)))
	b = w.bo.AppendUint32(b, wire)
	return w.block(blockPB, append(b, data...))
}

func (w *ng) spb(data []byte, wire uint32) *ng {
	return w.block(blockSPB, append(w.bo.AppendUint32(nil, wire), data...))
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// sharedCaptures returns the repository's real captures (testdata/captures).
func sharedCaptures(t testing.TB) []string {
	t.Helper()
	files, root := sharedCaptureFiles()
	if len(files) == 0 {
		t.Fatalf("no captures under %s: the repository holds them", root)
	}
	return files
}

// sharedCaptureFiles lists testdata/captures and returns the folder it
// looked in.
func sharedCaptureFiles() ([]string, string) {
	root := testenv.Captures()
	var files []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".pcap") || strings.HasSuffix(p, ".pcapng")) {
			files = append(files, p)
		}
		return nil
	})
	return files, root
}

// gopacketTests returns gopacket's own pcapng test files (both byte orders)
// from the module cache, skipping when the go tool cannot locate them.
func gopacketTests(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/gopacket/gopacket").Output()
	dir := filepath.Join(strings.TrimSpace(string(out)), "pcapgo", "tests")
	if err != nil || len(out) == 0 {
		t.Skipf("gopacket module not located: %v", err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("gopacket test captures absent: %v", err)
	}
	return dir
}

// order is a byte order the builders can both read and append with.
type order interface {
	binary.ByteOrder
	binary.AppendByteOrder
}
