package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"testing"
)

// TestMerge interleaves three inputs, one of them truncated, and checks the
// order, the interface numbering and how the truncation surfaces.
func TestMerge(t *testing.T) {
	dir := t.TempDir()
	le, be := binary.LittleEndian, binary.BigEndian
	a := writeFile(t, dir, "a.pcap", pcapBytes(le, magicMicro, 1,
		rec{ts: 1e9, data: []byte("a1")}, rec{ts: 4e9, data: []byte("a4")}, rec{ts: 4e9, data: []byte("a4b")}, rec{ts: 9e9, data: []byte("a9")}))
	w := &ng{}
	w.shb(be).idb(uint16(LinkRaw), 0, 9, 0).idb(uint16(LinkNull), 0, 9, 0).
		epb(1, 2e9, []byte("b2"), 2).epb(0, 4e9, []byte("b4"), 2).epb(1, 5e9, []byte("b5"), 2)
	b := writeFile(t, dir, "b.pcapng.gz", gz(t, w.buf))
	full := pcapBytes(be, magicNano, 101, rec{ts: 3e9, data: []byte("c3")}, rec{ts: 6e9, data: []byte("c6")})
	c := writeFile(t, dir, "c.pcap", full[:len(full)-1])

	frames, r, err := openAll(t, Options{}, a, b, c)
	var order []string
	ifaces := map[string]int{}
	for _, f := range frames {
		order = append(order, f.data)
		ifaces[f.data] = f.Iface
	}
	want := []string{"a1", "b2", "c3", "a4", "a4b", "b4", "b5", "a9"}
	if !slices.Equal(order, want) {
		t.Errorf("order %q, want %q", order, want)
	}
	// Interfaces in order of first frame: a#0, b#1, c#0, b#0.
	for name, id := range map[string]int{"a1": 0, "a9": 0, "b2": 1, "b5": 1, "c3": 2, "b4": 3} {
		if ifaces[name] != id {
			t.Errorf("frame %s on interface %d, want %d", name, ifaces[name], id)
		}
	}
	var te *TruncatedError
	if !errors.As(err, &te) || te.File != c || te.Offset != int64(24+16+2) {
		t.Errorf("end: %v, want TruncatedError in %s at 42", err, c)
	}
	if ws := r.Warnings(); len(ws) != 1 || ws[0] != error(te) {
		t.Errorf("Warnings() = %v", ws)
	}
	if err := r.Next(&Frame{}); err != error(te) {
		t.Errorf("Next after the end: %v", err)
	}
	if files := r.Files(); !slices.Equal(files, []string{a, b, c}) {
		t.Errorf("Files() = %q", files)
	}
}

// TestMergeDataValidity checks the zero-copy promise: a frame's bytes stay
// intact until the next Next, even while other inputs have frames pending.
func TestMergeDataValidity(t *testing.T) {
	dir := t.TempDir()
	var ra, rb []rec
	for i := range 3000 {
		ra = append(ra, rec{ts: int64(2*i) * 1e3, data: bytes.Repeat([]byte{'a'}, 1+i%1500)})
		rb = append(rb, rec{ts: int64(2*i+1) * 1e3, data: bytes.Repeat([]byte{'b'}, 1+(i*7)%1500)})
	}
	a := writeFile(t, dir, "a", pcapBytes(binary.LittleEndian, magicNano, 1, ra...))
	b := writeFile(t, dir, "b", gz(t, pcapBytes(binary.LittleEndian, magicNano, 1, rb...)))
	r, err := Open(a, b)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var f Frame
	for i := 0; ; i++ {
		err := r.Next(&f)
		if err == io.EOF {
			if i != 6000 {
				t.Fatalf("%d frames, want 6000", i)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		src, n := ra, i/2
		if i%2 == 1 {
			src = rb
		}
		if f.TS != int64(i)*1e3 || !bytes.Equal(f.Data, src[n].data) {
			t.Fatalf("frame %d: ts %d, %d bytes; want ts %d, %d bytes", i, f.TS, len(f.Data), i*1e3, len(src[n].data))
		}
	}
}

// TestCorruptStops checks that an oversized record is an error naming the
// file and offset, not an allocation, and that it stops the merged source.
func TestCorruptStops(t *testing.T) {
	dir := t.TempDir()
	b := pcapBytes(binary.LittleEndian, magicMicro, 1, rec{ts: 1e9, data: []byte("ok")})
	b = binary.LittleEndian.AppendUint32(b, 2)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 1<<30) // claims a GiB
	b = binary.LittleEndian.AppendUint32(b, 1<<30)
	bad := writeFile(t, dir, "bad.pcap", b)
	good := writeFile(t, dir, "good.pcap", pcapBytes(binary.LittleEndian, magicMicro, 1, rec{ts: 5e9, data: []byte("later")}))
	frames, _, err := openAll(t, Options{}, bad, good)
	if len(frames) != 1 || frames[0].data != "ok" {
		t.Errorf("frames %+v", frames)
	}
	var te *TruncatedError
	if err == nil || err == io.EOF || errors.As(err, &te) || !bytes.Contains([]byte(err.Error()), []byte(bad+": corrupt record at byte offset 42")) {
		t.Errorf("err %v", err)
	}
}

func TestOpenArgs(t *testing.T) {
	if _, err := Open(); err == nil {
		t.Error("Open(): no error")
	}
	p := writeFile(t, t.TempDir(), "one.pcap", pcapBytes(binary.LittleEndian, magicMicro, 1, rec{ts: 1, data: []byte("x")}))
	r, err := Options{}.Open(p, p)
	if err != nil {
		t.Fatal(err)
	}
	frames, err := readAll(t, r)
	if err != io.EOF || len(frames) != 2 || frames[0].Iface != 0 || frames[1].Iface != 1 {
		t.Errorf("same file twice: %+v, %v (want two frames on distinct interfaces)", frames, err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := r.Next(&Frame{}); err == nil || err == io.EOF {
		t.Errorf("Next after Close: %v", err)
	}
}
