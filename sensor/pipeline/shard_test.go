package pipeline

import (
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/gopacket/gopacket"

	"github.com/launchtap/launchtap/bpf"
	"github.com/launchtap/launchtap/internal/synth"
	"github.com/launchtap/launchtap/internal/testenv"
	"github.com/launchtap/launchtap/sensor/capture"
	"github.com/launchtap/launchtap/sensor/decode"
	"github.com/launchtap/launchtap/sensor/netset"
)

// The differential test of the shard rule: for every frame replay would
// shard, the hash replay computes (shardHash on the decoded packet) must be
// what the kernel's fanout program (bpf launchtap_fanout, run with
// BPF_PROG_TEST_RUN) returns for the same frame, so that live capture and
// replay put every host on the same worker.

// fanout loads the bpf objects with the given internal networks, skipping
// (failing under CI=true) where BPF programs cannot be loaded.
func fanout(t *testing.T, internal []netip.Prefix) *bpf.Objects {
	t.Helper()
	o, err := bpf.Load(bpf.Options{Internal: internal})
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("loading the eBPF programs is required in CI: %v", err)
		}
		t.Skipf("cannot load the eBPF programs here (needs root or CAP_BPF): %v", err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

// testRunAtNet and skbCtx are bpf's test-run conventions (bpf_test.go): the
// fanout program reads from the network header, where BPF_PROG_TEST_RUN
// puts skb->data once it has taken the Ethernet header off.
type skbCtx struct {
	_  [12]uint32
	CB [5]uint32
}

// maxRunData stays below what BPF_PROG_TEST_RUN accepts (about a page). The
// program reads headers and, for DHCP, the message; longer frames are cut
// for the kernel only, which never changes what it reads.
const maxRunData = 3000

// differ compares replay's hash with the kernel's over a stream of frames.
type differ struct {
	t        *testing.T
	prog     *ebpf.Program
	internal *netset.Set
	dec      decode.Decoder
	pkt      decode.Packet

	compared, skipped, mismatches int
}

func (d *differ) frame(name string, f *capture.Frame) {
	kind := d.dec.Decode(f, &d.pkt)
	if kind != decode.OK && !hasIP(kind) {
		d.skipped++ // replay does not shard it
		return
	}
	eth, ok := ethernetFrame(f)
	if !ok {
		d.t.Fatalf("%s: frame of link type %d decoded as %v but has no Ethernet form", name, f.LinkType, kind)
	}
	if len(eth) > maxRunData {
		eth = eth[:maxRunData]
	}
	got, err := d.prog.Run(&ebpf.RunOptions{Data: eth, Context: skbCtx{}})
	if err != nil {
		d.t.Fatalf("%s: running the fanout on %d bytes: %v", name, len(eth), err)
	}
	d.compared++
	if want := shardHash(&d.pkt, d.internal); got != want {
		d.mismatches++
		if d.mismatches <= 10 {
			p := &d.pkt
			d.t.Errorf("%s: kernel %#x, replay %#x (owner %s) for %v %s:%d > %s:%d proto %d tunnel %v vlan %d fragment %v: % x",
				name, got, want, ownerOf(p, d.internal), kind, p.Src, p.SrcPort, p.Dst, p.DstPort, p.Proto, p.Tunnel, p.VLAN, p.Fragment, eth[:min(len(eth), 96)])
		}
	}
}

// ethernetFrame gives a frame of any link type the decoder reads the
// Ethernet form the test harness needs: what the fanout sees is the same,
// since it starts at the network header with the ethertype as skb->protocol,
// as it does on a tun or loopback interface.
func ethernetFrame(f *capture.Frame) ([]byte, bool) {
	b := f.Data
	var et uint16
	switch f.LinkType {
	case capture.LinkEthernet:
		return b, len(b) >= 14
	case capture.LinkRaw, capture.LinkIPv4, capture.LinkIPv6:
		et = versionType(b)
	case capture.LinkNull, capture.LinkLoop:
		if len(b) < 4 {
			return nil, false
		}
		fam := binary.LittleEndian.Uint32(b)
		if fam > 0xffff {
			fam = binary.BigEndian.Uint32(b)
		}
		switch fam {
		case 2:
			et = 0x0800
		case 24, 28, 30:
			et = 0x86dd
		}
		b = b[4:]
	case capture.LinkLinuxSLL:
		if len(b) < 16 {
			return nil, false
		}
		et, b = binary.BigEndian.Uint16(b[14:]), b[16:]
	case capture.LinkLinuxSLL2:
		if len(b) < 20 {
			return nil, false
		}
		et, b = binary.BigEndian.Uint16(b), b[20:]
	}
	if et == 0 {
		return nil, false
	}
	out := make([]byte, 14, 14+len(b))
	copy(out, []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1})
	binary.BigEndian.PutUint16(out[12:], et)
	return append(out, b...), true
}

func versionType(b []byte) uint16 {
	if len(b) > 0 {
		switch b[0] >> 4 {
		case 4:
			return 0x0800
		case 6:
			return 0x86dd
		}
	}
	return 0
}

func (d *differ) done(name string) {
	d.t.Helper()
	d.t.Logf("%s: %d frames compared, %d not sharded by replay, %d differ", name, d.compared, d.skipped, d.mismatches)
	if d.compared == 0 {
		d.t.Errorf("%s: no frame compared", name)
	}
}

func newDiffer(t *testing.T, o *bpf.Objects, internal []netip.Prefix) *differ {
	t.Helper()
	set := netset.New(internal)
	if err := o.SetInternal(internal); err != nil {
		t.Fatal(err)
	}
	return &differ{t: t, prog: o.Fanout(), internal: set}
}

var defaultInternal = netset.MustParse(netset.DefaultInternal).Prefixes()

func TestShardMatchesFanoutCrafted(t *testing.T) {
	o := fanout(t, defaultInternal)
	d := newDiffer(t, o, defaultInternal)
	for _, c := range craftedFrames() {
		f := capture.Frame{Data: c.data, WireLen: uint32(len(c.data)), LinkType: c.link}
		if c.wire > 0 {
			f.WireLen = c.wire
		}
		before := d.compared
		d.frame(c.name, &f)
		if c.mustCompare && d.compared == before {
			t.Errorf("%s: replay does not shard it, so it tests nothing", c.name)
		}
	}
	d.done("crafted")
}

// collect is a synth.PacketWriter keeping the frames.
type collect struct{ frames []capture.Frame }

func (c *collect) WritePacket(ci gopacket.CaptureInfo, data []byte) error {
	c.frames = append(c.frames, capture.Frame{Data: slices.Clone(data), WireLen: uint32(ci.Length), LinkType: capture.LinkEthernet, TS: ci.Timestamp.UnixNano()})
	return nil
}

func TestShardMatchesFanoutGenerated(t *testing.T) {
	o := fanout(t, defaultInternal)
	for _, g := range []struct {
		scenario string
		opt      synth.Options
	}{
		{"demo", synth.Options{}},
		{"eval-ipv6", synth.Options{Packets: 30000}},
		{"bench", synth.Options{Packets: 30000}}, // half the hosts on an 802.1Q VLAN
		{"demo", synth.Options{Packets: 30000, SnapLen: 96}},
	} {
		var c collect
		if _, _, err := synth.GenerateWith(g.scenario, 1, &c, g.opt); err != nil {
			t.Fatal(err)
		}
		name := g.scenario
		if g.opt.SnapLen > 0 {
			name += " (snap length 96)"
		}
		d := newDiffer(t, o, defaultInternal)
		for i := range c.frames {
			d.frame(name, &c.frames[i])
		}
		d.done(name)
	}
}

// captureInternal are the --internal networks the captures README gives for
// captures whose monitored host is not in the default networks.
var captureInternal = map[string]string{
	"ratinfected.pcapng":    "172.16.0.114/32",
	"caldera-sandcat.pcap":  "172.18.0.3/32",
	"caldera-manx-tcp.pcap": "172.18.0.3/32",
	"slips-cc1.pcap":        "147.32.0.0/16",
}

// Every committed real capture (testdata/captures: pcapng edge cases, real
// hosts, tunnels, DHCP, the C2 implants) shards alike in Go and in the kernel.
func TestShardMatchesFanoutRealCaptures(t *testing.T) {
	root := testenv.Captures()
	o := fanout(t, defaultInternal)
	var files []string
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch filepath.Ext(path) {
		case ".pcap", ".pcapng", ".gz":
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no captures under %s", root)
	}
	total := 0
	for _, path := range files {
		sets := [][]netip.Prefix{defaultInternal}
		if s, ok := captureInternal[filepath.Base(path)]; ok {
			sets = append(sets, netset.MustParse(s).Prefixes())
		}
		for _, internal := range sets {
			d := newDiffer(t, o, internal)
			name, _ := filepath.Rel(root, path)
			src, err := capture.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			var f capture.Frame
			for {
				err := src.Next(&f)
				if err != nil {
					var te *capture.TruncatedError
					if !errors.Is(err, io.EOF) && !errors.As(err, &te) {
						t.Fatalf("%s: %v", name, err)
					}
					break
				}
				d.frame(name, &f)
			}
			src.Close()
			if len(sets) > 1 && len(internal) == 1 {
				name += " (internal " + internal[0].String() + ")"
			}
			t.Logf("%s: %d frames compared, %d not sharded by replay, %d differ", name, d.compared, d.skipped, d.mismatches)
			total += d.compared
		}
	}
	if total == 0 {
		t.Error("no frame of the shared captures compared")
	}
}
