package pipeline

import (
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"log/slog"
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
	"github.com/launchtap/launchtap/sensor/host"
	"github.com/launchtap/launchtap/sensor/netset"
	"github.com/launchtap/launchtap/sensor/shard"
)

// The differential test of the shard rule: for every frame replay would
// shard, the host replay resolves its owner to (owners.host, learning in
// capture order) must hash (shard.HashKey) to what the kernel's fanout
// program (bpf launchtap_fanout, run with BPF_PROG_TEST_RUN) returns for the
// same frame, once the binder's changes so far are in the kernel's hosts
// map as live capture writes them (liveHosts.write) — so that live capture
// and replay put every host on the same worker, whatever address it holds.
//
// Each frame is checked twice: before it teaches anything, the kernel with
// the map as it is must agree with the binder as it is; a frame that moves
// its own owner to another host (a DHCP ACK, the first packet from a new
// address) is run again after its changes are pushed. The frames that need
// that second run are the ones live capture may steer by the old answer:
// the moment between learning and the map holding it (docs/sharding.md).

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

// differ compares replay's host with the kernel's over a stream of frames.
type differ struct {
	t        *testing.T
	prog     *ebpf.Program
	internal *netset.Set
	dec      decode.Decoder
	pkt      decode.Packet
	own      *owners
	ref      *owners // learns the same frames; resolves by owners.host
	told     []host.Change
	push     *liveHosts // writes told to the kernel's map; nil for a program without one

	compared, skipped, mismatches int
	memoMismatches                int
	taught                        int // frames whose own content moved their owner to another host
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
	run := func() uint32 {
		got, err := d.prog.Run(&ebpf.RunOptions{Data: eth, Context: skbCtx{}})
		if err != nil {
			d.t.Fatalf("%s: running the fanout on %d bytes: %v", name, len(eth), err)
		}
		return got
	}
	p := &d.pkt
	before := d.own.resolve(p).key
	got := run()
	if d.push != nil {
		d.check(name, "before it teaches", got, before, eth)
	}
	// Replay's path (owners.shard, with its flow memo) must give the host
	// the rule's reference path (owners.host, run by a second binder over
	// the same frames) gives.
	var bh batchHost
	hash := d.own.shard(p, &bh)
	h := d.ref.host(p).key
	if hash != shard.HashKey(h) || bh.mac != h.MAC {
		d.memoMismatches++
		if d.memoMismatches <= 10 {
			d.t.Errorf("%s: owners.shard gave hash %#x, MAC %s; owners.host host %v (hash %#x)",
				name, hash, host.MACString(bh.mac), h, shard.HashKey(h))
		}
	}
	if d.push != nil && len(d.told) > 0 {
		d.push.write(d.told)
	}
	d.told = d.told[:0]
	if shard.HashKey(h) != shard.HashKey(before) {
		d.taught++
		got = run()
	}
	d.compared++
	d.check(name, "after", got, h, eth)
}

func (d *differ) check(name, when string, got uint32, want host.Key, eth []byte) {
	if got == shard.HashKey(want) {
		return
	}
	d.mismatches++
	if d.mismatches <= 10 && d.push != nil {
		p := &d.pkt
		d.t.Errorf("%s (%s): kernel %#x, replay %#x (host %v, owner %s) for %s:%d > %s:%d proto %d mac %s tunnel %v vlan %d fragment %v: % x",
			name, when, got, shard.HashKey(want), want, ownerOf(p, d.internal), p.Src, p.SrcPort, p.Dst, p.DstPort, p.Proto,
			host.MACString(p.SrcMAC), p.Tunnel, p.VLAN, p.Fragment, eth[:min(len(eth), 96)])
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
	d.t.Logf("%s: %d frames compared (%d moved their owner to another host), %d not sharded by replay, %d differ",
		name, d.compared, d.taught, d.skipped, d.mismatches)
	if d.compared == 0 {
		d.t.Errorf("%s: no frame compared", name)
	}
}

// newDiffer compares o's fanout with a replay binder over internal (and
// the inventory's joins), starting from an empty hosts map.
func newDiffer(t *testing.T, o *bpf.Objects, internal []netip.Prefix, inventory ...[][6]byte) *differ {
	t.Helper()
	if err := o.SetInternal(internal); err != nil {
		t.Fatal(err)
	}
	if err := o.Hosts().Clear(); err != nil {
		t.Fatal(err)
	}
	d := newBinderDiffer(t, o.Fanout(), internal, inventory...)
	d.push = newLiveHosts(o.Hosts(), 0, slog.New(slog.DiscardHandler))
	d.push.write(d.own.binder.Static())
	d.own.binder.SetNotify(func(c host.Change) { d.told = append(d.told, c) }, false)
	return d
}

func newBinderDiffer(t *testing.T, prog *ebpf.Program, internal []netip.Prefix, inventory ...[][6]byte) *differ {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Internal = netset.New(internal)
	cfg.HostMACs = inventory
	own, err := newOwners(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := newOwners(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &differ{t: t, prog: prog, internal: cfg.Internal, own: own, ref: ref}
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
		{"hosts-mix", synth.Options{Packets: 40000}}, // DHCP churn, private Wi-Fi MAC rotation, a dual-stack Mac
		{"fleet", synth.Options{Packets: 30000}},
		{"office", synth.Options{Packets: 40000}},
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
			t.Logf("%s: %d frames compared (%d moved their owner to another host), %d not sharded by replay, %d differ",
				name, d.compared, d.taught, d.skipped, d.mismatches)
			total += d.compared
		}
	}
	if total == 0 {
		t.Error("no frame of the shared captures compared")
	}
}
