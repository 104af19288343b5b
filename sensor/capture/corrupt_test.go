package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
)

// TestCorrupt feeds records that break the format's rules: each must end the
// input with an error naming it and the record's offset, after the frames
// before it, without a panic or a large allocation.
func TestCorrupt(t *testing.T) {
	le := binary.LittleEndian
	base := func() *ng { w := &ng{}; return w.shb(le).idb(1, 0, -1, 0) }
	shbLen := len((&ng{}).shb(le).buf)
	idbLen := len(base().buf) - shbLen
	at := int64(shbLen + idbLen) // offset of the first block after the IDB

	withBlock := func(typ, n uint32, body []byte) []byte {
		w := base()
		w.buf = le.AppendUint32(w.buf, typ)
		w.buf = le.AppendUint32(w.buf, n)
		w.buf = append(w.buf, body...)
		return w.buf
	}
	tooMany := base()
	for range MaxInterfaces {
		tooMany.block(blockIDB, make([]byte, 8))
	}
	overrun := base().epb(0, 0, []byte("abcd"), 4).buf
	le.PutUint32(overrun[at+20:], 200) // captured length beyond the block
	tests := []struct {
		name string
		b    []byte
		off  int64
		want string
	}{
		{"epb on missing interface", base().epb(1, 0, []byte("x"), 1).buf, at, "interface 1"},
		{"spb before any interface", (&ng{}).shb(le).spb([]byte("x"), 1).buf, int64(shbLen), "before any interface"},
		{"length not a multiple of 4", withBlock(blockEPB, 33, make([]byte, 40)), at, "length 33"},
		{"length under 12", withBlock(0x99, 8, make([]byte, 8)), at, "length 8"},
		{"block over the limit", withBlock(blockEPB, MaxBlockLen+4, nil), at, "exceeds"},
		{"skipped block over the limit", withBlock(0x99, maxSkipLen+4, nil), at, "exceeds"},
		{"trailer mismatch", append(withBlock(blockEPB, 32, make([]byte, 20)), 1, 2, 3, 4), at, "trailing length"},
		{"skipped trailer mismatch", append(withBlock(0x99, 16, []byte{0, 0, 0, 0}), 9, 0, 0, 0), at, "trailing length"},
		{"captured length overruns", overrun, at, "overruns"},
		{"bad tsresol", (&ng{}).shb(le).idb(1, 0, 20, 0).buf, int64(shbLen), "resolution"},
		{"bad binary tsresol", (&ng{}).shb(le).idb(1, 0, 0x80|64, 0).buf, int64(shbLen), "resolution"},
		{"too many interfaces", tooMany.buf, int64(shbLen + idbLen + 20*(MaxInterfaces-1)), "interfaces"},
		{"section without byte-order magic", append(base().buf, (&ng{bo: le}).block(magicPcapng, make([]byte, 16)).buf...), at, "byte-order"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, err := Options{Stdin: bytes.NewReader(tc.b)}.Open("-")
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer src.Close()
			frames, err := readAll(t, src)
			var te *TruncatedError
			if err == nil || err == io.EOF || errors.As(err, &te) {
				t.Fatalf("after %d frames: %v, want a corruption error", len(frames), err)
			}
			msg := err.Error()
			if !strings.Contains(msg, StdinName) || !strings.Contains(msg, "offset "+strconv.FormatInt(tc.off, 10)) || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q: want %q, the input's name and offset %d", msg, tc.want, tc.off)
			}
			if s := streamOf(src.srcs[0]); cap(s.big) > 0 {
				t.Errorf("allocated %d bytes for a rejected record", cap(s.big))
			}
		})
	}
}

// TestLargeRecords reads records bigger than the read buffer, which take the
// copying path, between small ones that do not.
func TestLargeRecords(t *testing.T) {
	le := binary.LittleEndian
	big := bytes.Repeat([]byte("0123456789abcdef"), MaxRecordLen/16)
	mid := big[:minReadBuf+1]
	recs := []rec{{ts: 1, data: []byte("s")}, {ts: 2, data: big}, {ts: 3, data: mid}, {ts: 4, data: []byte("t")}}
	w := &ng{}
	w.shb(le).idb(1, 0, 9, 0)
	for _, r := range recs {
		w.epb(0, uint64(r.ts), r.data, uint32(len(r.data)))
	}
	for name, b := range map[string][]byte{
		"pcap":   pcapBytes(le, magicNano, 1, recs...),
		"pcapng": w.buf,
		"gzip":   gz(t, w.buf),
	} {
		t.Run(name, func(t *testing.T) {
			frames, r, err := openAll(t, Options{Stdin: bytes.NewReader(b), readBuf: minReadBuf}, "-")
			if err != io.EOF || len(frames) != len(recs) {
				t.Fatalf("%d frames, %v", len(frames), err)
			}
			for i := range recs {
				if frames[i].data != string(recs[i].data) || frames[i].TS != recs[i].ts {
					t.Errorf("frame %d: %d bytes at %d", i, len(frames[i].data), frames[i].TS)
				}
			}
			if c := cap(streamOf(r.srcs[0]).big); c > MaxBlockLen || c == 0 {
				t.Errorf("copy buffer is %d bytes: want the copying path taken, within %d", c, MaxBlockLen)
			}
		})
	}
	// One byte over the limit is refused without reading it.
	over := pcapBytes(le, magicNano, 1, rec{ts: 1, data: append(big, 'x')})
	frames, _, err := openAll(t, Options{Stdin: bytes.NewReader(over)}, "-")
	if len(frames) != 0 || err == nil || !strings.Contains(err.Error(), "exceeds the 262144-byte limit") {
		t.Errorf("oversized record: %d frames, %v", len(frames), err)
	}
}

func TestReadBufSize(t *testing.T) {
	for _, tc := range []struct{ inputs, want int }{
		{0, maxReadBuf}, {1, maxReadBuf}, {64, maxReadBuf}, {65, readBudget / 65},
		{1024, minReadBuf}, {100000, minReadBuf},
	} {
		if got := readBufSize(tc.inputs); got != tc.want {
			t.Errorf("readBufSize(%d) = %d, want %d", tc.inputs, got, tc.want)
		}
	}
}
