package decode

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/launchtap/launchtap/internal/testenv"
	"github.com/launchtap/launchtap/sensor/capture"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// capFrame is one frame of a shared capture, read with gopacket's readers so
// these tests do not depend on the project's own capture package.
type capFrame struct {
	file    string // relative to the captures folder
	index   int
	link    capture.LinkType
	data    []byte
	wireLen uint32
}

func (c capFrame) frame() capture.Frame {
	return capture.Frame{Data: c.data, WireLen: c.wireLen, LinkType: c.link}
}

// sharedCaptures returns the repository's real captures folder
// (testdata/captures), or "" when it is absent.
func sharedCaptures(tb testing.TB) string {
	tb.Helper()
	caps := testenv.Captures()
	if st, err := os.Stat(caps); err != nil || !st.IsDir() {
		return ""
	}
	return caps
}

// loadCaptures reads every frame of every capture in the shared folder. A
// file gopacket cannot read to the end contributes the frames before the
// problem.
func loadCaptures(tb testing.TB, dir string) []capFrame {
	tb.Helper()
	var out []capFrame
	err := filepath.WalkDir(dir, func(path string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.IsDir() || !(strings.HasSuffix(path, ".pcap") || strings.HasSuffix(path, ".pcapng")) {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		frames, err := readCapture(raw)
		if err != nil {
			tb.Logf("%s: gopacket stopped after %d frames: %v", rel, len(frames), err)
		}
		for i := range frames {
			frames[i].file = rel
			frames[i].index = i
		}
		out = append(out, frames...)
		return nil
	})
	if err != nil {
		tb.Fatalf("reading %s: %v", dir, err)
	}
	return out
}

func readCapture(raw []byte) ([]capFrame, error) {
	var out []capFrame
	add := func(data []byte, ci gopacket.CaptureInfo, lt layers.LinkType) {
		out = append(out, capFrame{link: capture.LinkType(lt), data: append([]byte(nil), data...), wireLen: uint32(ci.Length)})
	}
	if r, err := pcapgo.NewReader(bytes.NewReader(raw)); err == nil {
		for {
			data, ci, err := r.ReadPacketData()
			if err != nil {
				return out, eofOK(err)
			}
			add(data, ci, r.LinkType())
		}
	}
	r, err := pcapgo.NewNgReader(bytes.NewReader(raw), pcapgo.NgReaderOptions{SkipUnknownVersion: true})
	if err != nil {
		return nil, err
	}
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			return out, eofOK(err)
		}
		iface, err := r.Interface(ci.InterfaceIndex)
		if err != nil {
			return out, err
		}
		add(data, ci, iface.LinkType)
	}
}

func eofOK(err error) error {
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// TestSharedCapturesGolden decodes every frame of every shared capture and
// compares the per-file result counts with testdata/captures.golden, so any
// change in how real traffic decodes shows up in review.
func TestSharedCapturesGolden(t *testing.T) {
	dir := sharedCaptures(t)
	if dir == "" {
		t.Fatal("testdata/captures missing")
	}
	frames := loadCaptures(t, dir)
	type tally struct {
		kinds   [NumErrKinds]int
		tunnels [NumTunnels]int
		frames  int
	}
	per := map[string]*tally{}
	var d Decoder
	var p Packet
	for _, c := range frames {
		f := c.frame()
		k := d.Decode(&f, &p)
		checkAliases(t, c.data, &p)
		if k == OK && p.PayloadLen < uint32(len(p.Payload)) {
			t.Errorf("%s #%d: PayloadLen %d < captured payload %d", c.file, c.index, p.PayloadLen, len(p.Payload))
		}
		tl := per[c.file]
		if tl == nil {
			tl = &tally{}
			per[c.file] = tl
		}
		tl.frames++
		tl.kinds[k]++
		tl.tunnels[p.Tunnel]++
	}
	files := make([]string, 0, len(per))
	for f := range per {
		files = append(files, f)
	}
	sort.Strings(files)
	var b strings.Builder
	for _, f := range files {
		tl := per[f]
		fmt.Fprintf(&b, "%s frames=%d", filepath.ToSlash(f), tl.frames)
		for k, n := range tl.kinds {
			if n > 0 {
				fmt.Fprintf(&b, " %v=%d", ErrKind(k), n)
			}
		}
		for tn, n := range tl.tunnels {
			if n > 0 && Tunnel(tn) != TunnelNone {
				fmt.Fprintf(&b, " tunnel_%v=%d", Tunnel(tn), n)
			}
		}
		b.WriteByte('\n')
	}
	golden := filepath.Join("testdata", "captures.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("decode results changed (run with -update if intended):\n--- got\n%s--- want\n%s", got, want)
	}
}

// TestDifferentialGopacket compares the decoder with gopacket's full decode on
// every frame of every shared capture: innermost addresses, protocol and
// ports must agree wherever gopacket reaches the same layer.
func TestDifferentialGopacket(t *testing.T) {
	dir := sharedCaptures(t)
	if dir == "" {
		t.Fatal("testdata/captures missing")
	}
	frames := loadCaptures(t, dir)
	var d Decoder
	var p Packet
	compared, tunnels := 0, 0
	for _, c := range frames {
		f := c.frame()
		k := d.Decode(&f, &p)
		if k != OK && k != ErrFragment && k != ErrOtherTransport {
			continue
		}
		gp := gopacket.NewPacket(c.data, layers.LinkType(c.link), gopacket.DecodeOptions{NoCopy: true})
		ls := gp.Layers()
		// Innermost IP layer gopacket found, and how many it found.
		ipAt, ips := -1, 0
		for i, l := range ls {
			switch l.LayerType() {
			case layers.LayerTypeIPv4, layers.LayerTypeIPv6:
				ipAt = i
				ips++
			}
		}
		if ipAt < 0 {
			t.Errorf("%s #%d: decoder says %v (%v > %v) but gopacket found no IP layer: %v", c.file, c.index, k, p.Src, p.Dst, gp)
			continue
		}
		if (p.Tunnel != TunnelNone) != (ips > 1) {
			// One side removed an encapsulation the other did not
			// (gopacket lacks ERSPAN III, VXLAN-GPE next protocols).
			t.Logf("%s #%d: tunnel %v, gopacket saw %d IP layers: skipped", c.file, c.index, p.Tunnel, ips)
			continue
		}
		if p.Tunnel != TunnelNone {
			tunnels++
		}
		var src, dst []byte
		var proto uint8
		switch ip := ls[ipAt].(type) {
		case *layers.IPv4:
			src, dst, proto = ip.SrcIP.To4(), ip.DstIP.To4(), uint8(ip.Protocol)
		case *layers.IPv6:
			src, dst, proto = ip.SrcIP.To16(), ip.DstIP.To16(), lastNextHeader(ip, ls[ipAt+1:])
		}
		if !bytes.Equal(p.Src.AsSlice(), src) || !bytes.Equal(p.Dst.AsSlice(), dst) {
			t.Errorf("%s #%d: addresses %v > %v, gopacket %v > %v", c.file, c.index, p.Src, p.Dst, src, dst)
		}
		if p.Proto != proto {
			t.Errorf("%s #%d: proto %d, gopacket %d", c.file, c.index, p.Proto, proto)
		}
		if k == OK && !p.Fragment { // gopacket leaves fragments undecoded
			var sp, dp uint16
			found := false
			for _, l := range ls[ipAt+1:] {
				switch tl := l.(type) {
				case *layers.TCP:
					sp, dp, found = uint16(tl.SrcPort), uint16(tl.DstPort), true
				case *layers.UDP:
					sp, dp, found = uint16(tl.SrcPort), uint16(tl.DstPort), true
				}
				if found {
					break
				}
			}
			if !found {
				t.Errorf("%s #%d: decoder found ports %d > %d, gopacket no transport: %v", c.file, c.index, p.SrcPort, p.DstPort, gp)
			} else if sp != p.SrcPort || dp != p.DstPort {
				t.Errorf("%s #%d: ports %d > %d, gopacket %d > %d", c.file, c.index, p.SrcPort, p.DstPort, sp, dp)
			}
		}
		compared++
	}
	t.Logf("compared %d of %d frames (%d decapsulated)", compared, len(frames), tunnels)
	if compared < len(frames)/2 {
		t.Errorf("only %d of %d frames were comparable", compared, len(frames))
	}
	if tunnels == 0 {
		t.Errorf("no decapsulated frame was compared; the tunnel samples are missing")
	}
}

// lastNextHeader follows gopacket's IPv6 extension-header layers to the
// upper-layer protocol.
func lastNextHeader(ip *layers.IPv6, rest []gopacket.Layer) uint8 {
	nh := uint8(ip.NextHeader)
	for _, l := range rest {
		switch e := l.(type) {
		case *layers.IPv6HopByHop:
			nh = uint8(e.NextHeader)
		case *layers.IPv6Routing:
			nh = uint8(e.NextHeader)
		case *layers.IPv6Destination:
			nh = uint8(e.NextHeader)
		case *layers.IPv6Fragment:
			nh = uint8(e.NextHeader)
		default:
			return nh
		}
	}
	return nh
}
