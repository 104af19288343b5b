package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/pcapgo"
)

// got is a Frame with its bytes copied out of the reader's buffer.
type got struct {
	TS       int64
	WireLen  uint32
	LinkType LinkType
	Iface    int
	data     string
}

func gotOf(f *Frame) got {
	return got{TS: f.TS, WireLen: f.WireLen, LinkType: f.LinkType, Iface: f.Iface, data: string(f.Data)}
}

// readAll drains src and returns the frames and the terminating error.
func readAll(t testing.TB, src Source) ([]got, error) {
	t.Helper()
	var out []got
	var f Frame
	for {
		err := src.Next(&f)
		if err != nil {
			return out, err
		}
		out = append(out, gotOf(&f))
		if len(out) > 1e6 {
			t.Fatal("runaway source")
		}
	}
}

// sameFrames fails t unless two reads (named an and bn) gave the same frames.
func sameFrames(t testing.TB, an, bn string, a, b []got) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: %d frames, %s: %d", an, len(a), bn, len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("frame %d: %s %+v, %s %+v", i, an, a[i], bn, b[i])
		}
	}
}

func openAll(t testing.TB, o Options, paths ...string) ([]got, *Reader, error) {
	t.Helper()
	r, err := o.Open(paths...)
	if err != nil {
		t.Fatalf("Open(%q): %v", paths, err)
	}
	t.Cleanup(func() { r.Close() })
	frames, err := readAll(t, r)
	return frames, r, err
}

// oracle reads a file with gopacket's pcapgo and returns its frames.
func oracle(t testing.TB, path string) []got {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var read func() ([]byte, int64, int, error)
	if bytes.HasPrefix(b, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		r, err := pcapgo.NewNgReader(bytes.NewReader(b), pcapgo.NgReaderOptions{WantMixedLinkType: true, SkipUnknownVersion: true})
		if err != nil {
			t.Fatalf("pcapgo: %s: %v", path, err)
		}
		read = func() ([]byte, int64, int, error) {
			d, ci, err := r.ReadPacketData()
			ts := ci.Timestamp.UnixNano()
			if ci.Timestamp.IsZero() {
				ts = noTS // a Simple Packet Block
			}
			return d, ts, ci.Length, err
		}
	} else {
		r, err := pcapgo.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("pcapgo: %s: %v", path, err)
		}
		read = func() ([]byte, int64, int, error) {
			d, ci, err := r.ReadPacketData()
			return d, ci.Timestamp.UnixNano(), ci.Length, err
		}
	}
	var out []got
	for {
		d, ts, wire, err := read()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("pcapgo: %s: %v", path, err)
		}
		out = append(out, got{TS: ts, WireLen: uint32(wire), data: string(d)})
	}
}

// noTS marks an oracle frame without a timestamp: pcapgo gives Simple Packet
// Blocks the zero time, Open the previous frame's (tested in TestPcapngCrafted).
const noTS = math.MinInt64

// oracleBadTS lists frames whose timestamp pcapgo computes differently on
// purpose: DHCP.pcap frame 71 has a fraction field of 4294698864 µs; pcapgo
// wraps it in 32 bits, Open adds it as written (so does tcpdump's -tt).
var oracleBadTS = map[string]map[int]int64{"DHCP.pcap": {71: 1614582000e9 + 4294698864e3}}

// tcpdumpCount counts a file's packets with tcpdump, or returns -1 when
// tcpdump is absent or refuses the file (it rejects pcapng files whose
// interfaces differ in link type or snap length).
func tcpdumpCount(t testing.TB, path string) int {
	t.Helper()
	if _, err := exec.LookPath("tcpdump"); err != nil {
		return -1
	}
	out, err := exec.Command("tcpdump", "-r", path, "-nn", "-q").Output()
	if err != nil {
		return -1
	}
	return bytes.Count(out, []byte("\n"))
}

func TestSharedCaptures(t *testing.T) {
	for _, p := range sharedCaptures(t) {
		t.Run(filepath.Base(p), func(t *testing.T) {
			frames, _, err := openAll(t, Options{}, p)
			if err != io.EOF {
				t.Fatalf("Next: %v, want io.EOF", err)
			}
			want := oracle(t, p)
			if len(frames) != len(want) {
				t.Fatalf("%d frames, pcapgo reads %d", len(frames), len(want))
			}
			for i := range want {
				g, w := frames[i], want[i]
				if ts, ok := oracleBadTS[filepath.Base(p)][i]; ok {
					w.TS = ts
				}
				if w.TS == noTS {
					w.TS = g.TS
				}
				if g.data != w.data || g.TS != w.TS || g.WireLen != w.WireLen {
					t.Errorf("frame %d: ts %d len %d wire %d; pcapgo ts %d len %d wire %d",
						i, g.TS, len(g.data), g.WireLen, w.TS, len(w.data), w.WireLen)
				}
			}
			if n := tcpdumpCount(t, p); n >= 0 && n != len(frames) {
				t.Errorf("%d frames, tcpdump prints %d", len(frames), n)
			}
		})
	}
}

// TestGopacketBothByteOrders reads the pcapng generator's files in both
// byte orders: each big-endian file must give exactly the little-endian
// file's frames.
func TestGopacketBothByteOrders(t *testing.T) {
	dir := gopacketTests(t)
	le, _ := filepath.Glob(filepath.Join(dir, "le", "*.pcapng"))
	for _, l := range le {
		b := filepath.Join(dir, "be", filepath.Base(l))
		if _, err := os.Stat(b); err != nil {
			continue
		}
		t.Run(filepath.Base(l), func(t *testing.T) {
			lf, _, lerr := openAll(t, Options{}, l)
			bf, _, berr := openAll(t, Options{}, b)
			if lerr != io.EOF || berr != io.EOF {
				t.Fatalf("le: %v, be: %v", lerr, berr)
			}
			sameFrames(t, "le", "be", lf, bf)
		})
	}
}

// TestSharedHeaders checks link types, interfaces and timestamps derived by
// hand from the files' IDB and EPB headers (the values tshark shows).
func TestSharedHeaders(t *testing.T) {
	files := map[string]string{}
	for _, p := range sharedCaptures(t) {
		files[filepath.Base(p)] = p
	}
	type want struct {
		i     int
		ts    int64
		link  LinkType
		iface int
		wire  uint32
	}
	tests := []struct {
		file string
		n    int
		want []want
	}{
		// test902: one IDB with if_tsresol 0x88 (2^-8 s); EPB timestamp
		// 0x5a_8c0dc032 units = 1519128000 s + 0x32/256 s.
		{"test902.pcapng", 1, []want{{0, 1519128000_195312500, LinkEthernet, 0, 314}}},
		// test008: two IDBs (nanosecond on the first, if_tsoffset 0); first EPB
		// 0x0004c397_64ca47aa on interface 0 at 10^-9 s.
		{"test008.pcapng", 0, []want{{0, 0x4c39764ca47aa, LinkEthernet, 0, 314}}},
		// test101: three IDBs (Ethernet snap 96, NULL, Ethernet snap 128); µs
		// timestamps from 0x0004c397_64ca47aa.
		{"test101.pcapng", 0, []want{
			{0, 0x4c39764ca47aa * 1000, LinkEthernet, 0, 314},
			{1, 0x4c39764ca47aa * 1000, LinkEthernet, 2, 342},
			{3, (0x4c39764ca47aa + 3000) * 1000, LinkNull, 1, 168},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			p, ok := files[tc.file]
			if !ok {
				t.Skipf("%s absent", tc.file)
			}
			frames, _, err := openAll(t, Options{}, p)
			if err != io.EOF {
				t.Fatal(err)
			}
			if tc.n > 0 && len(frames) != tc.n {
				t.Fatalf("%d frames, want %d", len(frames), tc.n)
			}
			for _, w := range tc.want {
				if w.i >= len(frames) {
					t.Fatalf("no frame %d", w.i)
				}
				f := frames[w.i]
				if f.TS != w.ts || f.LinkType != w.link || f.Iface != w.iface || f.WireLen != w.wire {
					t.Errorf("frame %d: ts %d link %d iface %d wire %d; want ts %d link %d iface %d wire %d",
						w.i, f.TS, f.LinkType, f.Iface, f.WireLen, w.ts, w.link, w.iface, w.wire)
				}
			}
		})
	}
}

func TestPcapVariants(t *testing.T) {
	recs := []rec{
		{ts: 1700000000_123456789, data: []byte("first frame")},
		{ts: 1700000001_000001999, data: []byte("second"), wireLen: 1514},
		{ts: 1700000001_500000000, data: nil},
	}
	for _, bo := range []order{binary.LittleEndian, binary.BigEndian} {
		for _, magic := range []uint32{magicMicro, magicNano, magicModified} {
			name := bo.String() + "/" + strconv.FormatUint(uint64(magic), 16)
			t.Run(name, func(t *testing.T) {
				p := writeFile(t, t.TempDir(), "f.pcap", pcapBytes(bo, magic, 0x10000000|uint32(LinkLinuxSLL2), recs...))
				frames, _, err := openAll(t, Options{}, p)
				if err != io.EOF {
					t.Fatal(err)
				}
				if len(frames) != len(recs) {
					t.Fatalf("%d frames, want %d", len(frames), len(recs))
				}
				for i, r := range recs {
					ts := r.ts
					if magic != magicNano {
						ts -= ts % 1000
					}
					f := frames[i]
					if f.TS != ts || f.data != string(r.data) || f.WireLen != r.wire() || f.LinkType != LinkLinuxSLL2 || f.Iface != 0 {
						t.Errorf("frame %d: %+v, want ts %d data %q wire %d link SLL2", i, f, ts, r.data, r.wire())
					}
				}
			})
		}
	}
}

// multiSection is a pcapng file with two sections in opposite byte orders,
// five interfaces with different link types, resolutions and offsets, every
// packet block kind and the blocks a reader must skip. It is also committed
// as testdata/multi-section.pcapng.
func multiSection() []byte {
	le, be := binary.LittleEndian, binary.BigEndian
	w := &ng{}
	w.shb(le).
		idb(uint16(LinkEthernet), 0, -1, 0).    // iface 0: µs default
		idb(uint16(LinkRaw), 64, 9, 0).         // iface 1: ns
		idb(uint16(LinkNull), 0, 0x80|10, 100). // iface 2: 2^-10 s, +100 s
		block(4, []byte("name resolution, skipped")).
		epb(0, 1_700_000_000_000_001, []byte("eth"), 60).
		block(5, []byte("interface statistics")).
		epb(1, 1_700_000_000_000_000_002, []byte("raw"), 3).
		epb(2, 1_700_000_000<<10|512, []byte("null"), 4).
		block(0x40000BAD, []byte("custom block")).
		block(0x0000000A, []byte("decryption secrets")).
		block(0x7fff1234, []byte("unknown")).
		spb([]byte("simple-padded"), 9). // cut to the original length
		pb(1, 1_700_000_003_000_000_000, []byte("obsolete"), 100).
		shb(be).                            // new section, other byte order: interfaces reset
		idb(uint16(LinkLinuxSLL), 0, 2, 0). // centiseconds
		idb(uint16(LinkIPv6), 0, 0x80, -5). // seconds (binary exponent 0), -5 s
		epb(1, 1_700_000_010, []byte("v6"), 2).
		epb(0, 170_000_002_025, []byte("sll"), 3).
		spb([]byte("spb-be"), 6)
	return w.buf
}

// multiSectionFrames is what multiSection holds.
var multiSectionFrames = []got{
	{TS: 1_700_000_000_000_001_000, WireLen: 60, LinkType: LinkEthernet, Iface: 0, data: "eth"},
	{TS: 1_700_000_000_000_000_002, WireLen: 3, LinkType: LinkRaw, Iface: 1, data: "raw"},
	{TS: 1_700_000_100_500_000_000, WireLen: 4, LinkType: LinkNull, Iface: 2, data: "null"},
	{TS: 1_700_000_100_500_000_000, WireLen: 9, LinkType: LinkEthernet, Iface: 0, data: "simple-pa"},
	{TS: 1_700_000_003_000_000_000, WireLen: 100, LinkType: LinkRaw, Iface: 1, data: "obsolete"},
	{TS: 1_700_000_005_000_000_000, WireLen: 2, LinkType: LinkIPv6, Iface: 4, data: "v6"},
	{TS: 1_700_000_020_250_000_000, WireLen: 3, LinkType: LinkLinuxSLL, Iface: 3, data: "sll"},
	{TS: 1_700_000_020_250_000_000, WireLen: 6, LinkType: LinkLinuxSLL, Iface: 3, data: "spb-be"},
}

func TestPcapngCrafted(t *testing.T) {
	b := multiSection()
	want := multiSectionFrames
	for _, tc := range []struct {
		name string
		b    []byte
	}{{"plain", b}, {"gzip", gz(t, b)}} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "crafted", tc.b)
			frames, _, err := openAll(t, Options{}, p)
			if err != io.EOF {
				t.Fatal(err)
			}
			if len(frames) != len(want) {
				t.Fatalf("%d frames, want %d: %+v", len(frames), len(want), frames)
			}
			for i := range want {
				if g := frames[i]; g != want[i] {
					t.Errorf("frame %d:\n got %+v\nwant %+v", i, g, want[i])
				}
			}
		})
	}
}

func TestStdin(t *testing.T) {
	b := pcapBytes(binary.LittleEndian, magicMicro, 1, rec{ts: 1e9, data: []byte("x")}, rec{ts: 2e9, data: []byte("y")})
	for _, tc := range []struct {
		name string
		in   []byte
	}{{"pcap", b}, {"gzip", gz(t, b)}} {
		t.Run(tc.name, func(t *testing.T) {
			frames, r, err := openAll(t, Options{Stdin: bytes.NewReader(tc.in)}, "-")
			if err != io.EOF || len(frames) != 2 || frames[1].data != "y" {
				t.Fatalf("frames %+v, err %v", frames, err)
			}
			if f := r.Files(); len(f) != 1 || f[0] != StdinName {
				t.Errorf("Files() = %q", f)
			}
		})
	}
	if _, err := (Options{Stdin: bytes.NewReader(b)}).Open("-", "-"); err == nil {
		t.Error("stdin twice: no error")
	}
}

func TestNotCapture(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"text.txt", []byte("hello, this is not a capture\n")},
		{"image.png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")},
		{"short", []byte{0xd4, 0xc3}},
		{"gzip-text.gz", gz(t, []byte("plain text inside gzip"))},
		{"gzip-broken", []byte{0x1f, 0x8b, 0x00}},
		{"ng-no-bom", []byte("\x0a\x0d\x0d\x0a\x1c\x00\x00\x00XXXX0000000000000000\x1c\x00\x00\x00")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, dir, tc.name, tc.b)
			src, err := Open(p)
			if err == nil {
				src.Close()
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrNotCapture) || !strings.Contains(err.Error(), p) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q: want one line wrapping ErrNotCapture and naming %s", err, p)
			}
		})
	}
	if _, err := Open(filepath.Join(dir, "missing")); err == nil || errors.Is(err, ErrNotCapture) {
		t.Errorf("missing file: %v", err)
	}
}

func TestDirectory(t *testing.T) {
	dir := t.TempDir()
	le := binary.LittleEndian
	writeFile(t, dir, "rot.0", pcapBytes(le, magicMicro, 1, rec{ts: 1e9, data: []byte("a")}, rec{ts: 3e9, data: []byte("c")}))
	writeFile(t, dir, "rot.1.gz", gz(t, pcapBytes(le, magicNano, 1, rec{ts: 2e9, data: []byte("b")}, rec{ts: 4e9, data: []byte("d")})))
	writeFile(t, dir, ".hidden", []byte("ignored, not even warned about"))
	writeFile(t, dir, "notes.txt", []byte("skipped with a warning"))
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	frames, r, err := openAll(t, Options{Logger: slogTo(&logs)}, dir)
	if err != io.EOF {
		t.Fatal(err)
	}
	var order string
	for _, f := range frames {
		order += f.data
	}
	if order != "abcd" {
		t.Errorf("order %q, want abcd", order)
	}
	if n := len(r.Files()); n != 2 {
		t.Errorf("Files() = %q", r.Files())
	}
	if !strings.Contains(logs.String(), "notes.txt") || strings.Contains(logs.String(), ".hidden") {
		t.Errorf("warnings: %s", logs.String())
	}
	empty := t.TempDir()
	writeFile(t, empty, "x.txt", []byte("text"))
	if _, err := (Options{Logger: slogTo(io.Discard)}).Open(empty); !errors.Is(err, ErrNotCapture) {
		t.Errorf("directory without captures: %v", err)
	}
}
