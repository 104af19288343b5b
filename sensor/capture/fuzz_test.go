package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzOpen reads data as standard input and checks what must hold for any
// input: no panic, progress (every frame consumes input), frames within the
// limits, buffers within the limits, and a well-formed end.
func fuzzOpen(t *testing.T, data []byte) {
	r, err := Options{Stdin: bytes.NewReader(data)}.Open("-")
	if err != nil {
		if !errors.Is(err, ErrNotCapture) {
			t.Fatalf("Open: %v, want ErrNotCapture", err)
		}
		return
	}
	defer r.Close()
	// A frame consumes at least 12 bytes of the decompressed stream, which
	// is bounded by flate's 1032:1 ratio (plus gzip member overhead).
	limit := len(data)*1100 + 1
	var f Frame
	n := 0
	for ; ; n++ {
		err = r.Next(&f)
		if err != nil {
			break
		}
		if n > limit {
			t.Fatalf("more than %d frames from %d bytes", limit, len(data))
		}
		if len(f.Data) > MaxRecordLen || f.WireLen < uint32(len(f.Data)) {
			t.Fatalf("frame %d: %d bytes, wire %d", n, len(f.Data), f.WireLen)
		}
	}
	var te *TruncatedError
	switch {
	case err == io.EOF:
	case errors.As(err, &te):
		if te.File != StdinName || te.Offset < 0 || len(r.Warnings()) != 1 ||
			data[0] != 0x1f && te.Offset >= int64(len(data)) {
			t.Fatalf("truncation %+v, warnings %v", te, r.Warnings())
		}
	case !strings.Contains(err.Error(), StdinName):
		t.Fatalf("error does not name the input: %v", err)
	}
	if s := streamOf(r.srcs[0]); cap(s.big) > MaxBlockLen || s.br.Size() > maxReadBuf {
		t.Fatalf("buffers grew to %d and %d bytes", cap(s.big), s.br.Size())
	}
	compareMapped(t, data)
}

func streamOf(src Source) *stream {
	switch s := src.(type) {
	case *pcapReader:
		return s.s
	case *ngReader:
		return s.s
	}
	panic("unknown source type")
}

// addShared seeds f with the shared captures whose names end in ext.
func addShared(f *testing.F, ext string, wrap func([]byte) []byte) {
	files, _ := sharedCaptureFiles() // absent: the crafted seeds remain
	for _, p := range files {
		if filepath.Ext(p) != ext {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(wrap(b))
	}
}

func craftedPcaps() [][]byte {
	le, be := binary.LittleEndian, binary.BigEndian
	r := []rec{{ts: 1e9, data: []byte("abc")}, {ts: 2e9, data: nil, wireLen: 9}}
	big := pcapBytes(le, magicMicro, 1)
	big = le.AppendUint32(big, 1)
	big = le.AppendUint32(big, 2)
	big = le.AppendUint32(big, MaxRecordLen+1)
	big = le.AppendUint32(big, MaxRecordLen+1)
	return [][]byte{
		pcapBytes(le, magicMicro, 1, r...),
		pcapBytes(be, magicNano, 101, r...),
		pcapBytes(le, magicModified, 113, r...),
		pcapBytes(be, magicMicro, 276, r...)[:30],
		big,
	}
}

func craftedPcapngs() [][]byte {
	le, be := binary.LittleEndian, binary.BigEndian
	a := &ng{}
	a.shb(le).idb(1, 0, 0x80|20, 3).epb(0, 1<<40, []byte("x"), 1).spb([]byte("yy"), 2).pb(0, 5, []byte("z"), 1).
		block(4, []byte("nrb")).shb(be).idb(228, 2, 6, 0).epb(0, 7, []byte("abcd"), 4)
	bad := &ng{}
	bad.shb(le).idb(1, 0, 99, 0).epb(3, 0, nil, 0)
	return [][]byte{a.buf, bad.buf, a.buf[:len(a.buf)-3]}
}

func FuzzPcap(f *testing.F) {
	addShared(f, ".pcap", func(b []byte) []byte { return b })
	for _, b := range craftedPcaps() {
		f.Add(b)
	}
	f.Fuzz(fuzzOpen)
}

func FuzzPcapng(f *testing.F) {
	addShared(f, ".pcapng", func(b []byte) []byte { return b })
	for _, b := range craftedPcapngs() {
		f.Add(b)
	}
	f.Fuzz(fuzzOpen)
}

// FuzzGzip runs the same checks behind gzip, where offsets are those of the
// decompressed stream and the compressed one may be cut or corrupt anywhere.
func FuzzGzip(f *testing.F) {
	gzb := func(b []byte) []byte { return gz(f, b) }
	addShared(f, ".pcap", gzb)
	addShared(f, ".pcapng", gzb)
	for _, b := range append(craftedPcaps(), craftedPcapngs()...) {
		z := gz(f, b)
		f.Add(z)
		f.Add(z[:len(z)*2/3])
	}
	f.Fuzz(fuzzOpen)
}
