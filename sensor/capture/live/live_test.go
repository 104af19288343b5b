package live

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/launchtap/launchtap/bpf"
	"github.com/launchtap/launchtap/internal/livetest"
	"github.com/launchtap/launchtap/sensor/capture"
	"github.com/launchtap/launchtap/sensor/shard"
)

type prefixSet []netip.Prefix

func (s prefixSet) Contains(a netip.Addr) bool {
	for _, p := range s {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// summary is what the tests need to know about a crafted frame.
type summary struct {
	key     bpf.FlowKey
	iplen   uint64
	payload uint64
	flags   uint8 // FIN 1 SYN 2 RST 4 ACK 16
	l4      bool
	hash    uint32
}

func summarize(t *testing.T, frame []byte) summary {
	t.Helper()
	p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.NoCopy)
	var s summary
	var src, dst netip.Addr
	switch ip := p.NetworkLayer().(type) {
	case *layers.IPv4:
		src, _ = netip.AddrFromSlice(ip.SrcIP)
		dst, _ = netip.AddrFromSlice(ip.DstIP)
		s.iplen = uint64(ip.Length)
	case *layers.IPv6:
		src, _ = netip.AddrFromSlice(ip.SrcIP)
		dst, _ = netip.AddrFromSlice(ip.DstIP)
		s.iplen = uint64(ip.Length) + 40
	default:
		t.Fatalf("frame without IP: %v", p)
	}
	var sport, dport uint16
	var proto uint8
	var udpPayload []byte
	switch l := p.TransportLayer().(type) {
	case *layers.TCP:
		sport, dport, proto = uint16(l.SrcPort), uint16(l.DstPort), 6
		s.payload = uint64(len(l.Payload))
		for i, b := range []bool{l.FIN, l.SYN, l.RST, false, l.ACK} {
			if b {
				s.flags |= 1 << []int{0, 1, 2, 3, 4}[i]
			}
		}
	case *layers.UDP:
		sport, dport, proto = uint16(l.SrcPort), uint16(l.DstPort), 17
		s.payload = uint64(len(l.Payload))
		udpPayload = l.Payload
	}
	s.l4 = proto != 0
	s.key = bpf.NewFlowKey(src, dst, sport, dport, proto)
	internal := prefixSet(bpf.DefaultInternal)
	sp := shard.Packet{Src: src, Dst: dst, SrcInternal: internal.Contains(src), DstInternal: internal.Contains(dst),
		Proto: proto, SrcPort: sport, DstPort: dport, Payload: udpPayload}
	s.hash = shard.Of(&sp)
	return s
}

// filterModel replays launchtap_filter's decisions for frames that all arrive
// well within the sample interval, the burst gap and the UDP idle gap.
func filterModel(t *testing.T, frames [][]byte) (pass []bool, counted map[bpf.FlowKey][2]bpf.Counts) {
	service := map[uint16]bool{53: true, 67: true, 68: true, 123: true, 546: true, 547: true, 5353: true, 5355: true, 4789: true, 4790: true, 6081: true}
	counted = map[bpf.FlowKey][2]bpf.Counts{} // prev, cur
	// Per flow direction with an entry: packets with data in the session (up
	// to 2), whether its SYN opened the session, which decide the first
	// payloads, and whether a session start awaits its first non-control
	// packet. Directions without an entry have a mark after a SYN or SYN-ACK
	// (TCP) or their first datagram (UDP).
	type dir struct {
		seen   int
		client bool
		fresh  bool
	}
	type mark struct{ synack, data bool }
	dirs := map[bpf.FlowKey]*dir{}
	marks := map[bpf.FlowKey]mark{}
	for _, f := range frames {
		s := summarize(t, f)
		k := s.key
		data := s.payload >= 2
		ctl := k.Proto == 6 && s.flags&7 != 0
		syn := ctl && s.flags&0x12 == 0x02 // SYN without ACK: the client starts a session
		d := dirs[k]
		switch {
		case !s.l4:
			pass = append(pass, true)
			continue
		case k.SrcPort == 53 || k.DstPort == 53 || (k.Proto == 17 && (service[k.SrcPort] || service[k.DstPort])):
			pass = append(pass, true)
			continue
		case d == nil && ctl:
			if s.flags&0x02 != 0 {
				marks[k] = mark{synack: !syn}
			}
			pass = append(pass, true)
			continue
		case d == nil && k.Proto == 17 && !hasMark(marks, k):
			marks[k] = mark{data: data}
			pass = append(pass, true)
			continue
		case d == nil:
			m, marked := marks[k]
			delete(marks, k)
			rm, rmarked := marks[k.Reverse()]
			// A TCP direction of an answered handshake: judged below as if
			// its SYN or SYN-ACK had made the entry.
			answered := k.Proto == 6 && marked && (m.synack || rmarked && rm.synack || dirs[k.Reverse()] != nil)
			d = &dir{client: k.Proto == 6 && marked && !m.synack}
			dirs[k] = d
			if !answered {
				d.seen = btoi(data) + btoi(m.data)
				pass = append(pass, true)
				continue
			}
		case ctl && s.flags&0x02 != 0: // SYN or SYN-ACK on a direction with an entry
			c := counted[k]
			counted[k] = [2]bpf.Counts{c[0].Add(c[1]), {}}
			d.seen, d.client, d.fresh = btoi(data), syn, true
			pass = append(pass, true)
			continue
		}
		seen := d.seen
		if data && seen < 2 {
			d.seen++
		}
		first := 1
		if k.Proto == 6 && d.client || k.Proto == 17 && k.DstPort == 443 {
			first = 2
		}
		if ctl || d.fresh || data && seen < first {
			if !ctl {
				d.fresh = false
			}
			pass = append(pass, true)
			continue
		}
		c := counted[k]
		c[1] = c[1].Add(bpf.Counts{Packets: 1, Bytes: s.iplen, Payload: s.payload})
		counted[k] = c
		pass = append(pass, false)
	}
	return pass, counted
}

func hasMark[M any](marks map[bpf.FlowKey]M, k bpf.FlowKey) bool {
	_, ok := marks[k]
	return ok
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// capture runs a live capture on a fresh veth while file is replayed into it,
// and returns each worker's frames (copied) and the final stats.
// replayer plays a capture file into the veth.
type replayer func(ctx context.Context, v *livetest.Veth, file string) (string, error)

func tcpreplayAt(args ...string) replayer {
	return func(ctx context.Context, v *livetest.Veth, file string) (string, error) {
		return v.Replay(ctx, file, args...)
	}
}

func txRing(ctx context.Context, v *livetest.Veth, file string) (string, error) {
	return v.ReplayTXRing(ctx, file)
}

// runCapture replays frames through a fresh veth pair into a capture with
// cfg. netsniff-ng's TX ring sometimes fails its final flush (EINVAL) and
// leaves the replay incomplete; that attempt is thrown away and the capture
// repeated on a new pair, at most three times.
func runCapture(t *testing.T, cfg Config, frames [][]byte, replay replayer) ([][][]byte, Stats, *Capture) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		got, st, c, err := captureOnce(t, cfg, frames, replay)
		if err == nil {
			return got, st, c
		}
		if attempt == 3 || !strings.Contains(err.Error(), "Flushing TX_RING failed") {
			t.Fatal(err)
		}
		t.Logf("attempt %d: %v; retrying on a new veth pair", attempt, err)
	}
}

func captureOnce(t *testing.T, cfg Config, frames [][]byte, replay replayer) ([][][]byte, Stats, *Capture, error) {
	t.Helper()
	v := livetest.NewVeth(t)
	file := filepath.Join(t.TempDir(), "traffic.pcap")
	if err := livetest.WritePcap(file, frames); err != nil {
		t.Fatal(err)
	}
	cfg.Interfaces = []string{v.Host}
	c, err := Open(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })

	srcs := c.Sources()
	got := make([][][]byte, len(srcs))
	var mu sync.Mutex
	total := 0
	var wg sync.WaitGroup
	for w, s := range srcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var f capture.Frame
			for {
				err := s.Next(&f)
				if errors.Is(err, io.EOF) {
					return
				}
				if errors.Is(err, capture.ErrIdle) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				if f.LinkType != capture.LinkEthernet || f.Iface != 0 || int(f.WireLen) != len(f.Data) || f.TS == 0 {
					t.Errorf("frame metadata %+v", f)
				}
				mu.Lock()
				got[w] = append(got[w], slices.Clone(f.Data))
				total++
				mu.Unlock()
			}
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := replay(ctx, v, file)
	if err != nil {
		c.Stop()
		wg.Wait()
		return nil, Stats{}, nil, err
	}
	t.Logf("replay: %s", lastLines(out, 3))
	// Wait for the last partly filled blocks (BlockTimeout) and a margin.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		n := total
		mu.Unlock()
		if n >= len(frames) {
			break
		}
	}
	time.Sleep(100 * time.Millisecond) // anything beyond the expected frames would show up now
	c.Stop()
	wg.Wait()
	st, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// After Close (the first cleanup to run), Stats still reports the totals
		// and a second Close is harmless.
		if err := c.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if st2, err := c.Stats(); err != nil || st2.Packets != st.Packets {
			t.Errorf("Stats after Close = %d packets, %v; want %d", st2.Packets, err, st.Packets)
		}
	})
	return got, st, c, nil
}

func lastLines(s string, n int) string {
	lines := slices.DeleteFunc(splitLines(s), func(l string) bool { return l == "" })
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return joinLines(lines)
}

func multiset(frames [][]byte) map[string]int {
	m := map[string]int{}
	for _, f := range frames {
		m[string(f)]++
	}
	return m
}

func diffSets(t *testing.T, what string, got, want [][]byte) {
	t.Helper()
	g, w := multiset(got), multiset(want)
	missing, extra := 0, 0
	for k, n := range w {
		if g[k] < n {
			missing += n - g[k]
		}
	}
	for k, n := range g {
		if w[k] < n {
			extra += n - w[k]
		}
	}
	if missing != 0 || extra != 0 {
		t.Errorf("%s: %d frames missing, %d unexpected (got %d, want %d)", what, missing, extra, len(got), len(want))
	}
}

// checkSteering asserts that every frame reached the worker the shard rule
// (sensor/shard, which replay uses too) assigns it, so each internal host's
// traffic, both directions, is on one worker.
func checkSteering(t *testing.T, got [][][]byte) {
	t.Helper()
	bad := 0
	for w, fs := range got {
		for _, f := range fs {
			s := summarize(t, f)
			if want := shard.Worker(s.hash, len(got)); want != w {
				bad++
				if bad < 5 {
					t.Errorf("frame %s on worker %d, fanout rule says %d", s.key, w, want)
				}
			}
		}
	}
}

func TestLiveCaptureAllFrames(t *testing.T) {
	frames, err := livetest.Traffic(6, 40)
	if err != nil {
		t.Fatal(err)
	}
	cfg := NewConfig()
	cfg.BPF = false
	cfg.Workers = 2
	cfg.RingMB = 16
	livetest.Require(t, "tcpreplay")
	got, st, _ := runCapture(t, cfg, frames, tcpreplayAt("--pps=2000"))
	diffSets(t, "capture without the filter", slices.Concat(got...), frames)
	checkSteering(t, got)
	if st.Drops != 0 {
		t.Errorf("kernel drops %d (queue freezes %d), want none at 2000 pps", st.Drops, st.Freezes)
	}
	if st.Packets != uint64(len(frames)) || st.Delivered != uint64(len(frames)) {
		t.Errorf("kernel saw %d packets, delivered %d, want %d", st.Packets, st.Delivered, len(frames))
	}
	if len(st.Sockets) != 2 {
		t.Errorf("stats for %d sockets, want 2", len(st.Sockets))
	}
}

func TestLiveCaptureWithFilter(t *testing.T) {
	t.Run("socket", func(t *testing.T) {
		livetest.Require(t, "tcpreplay")
		testLiveFilter(t, false, tcpreplayAt("--pps=2000"))
	})
	t.Run("xdp", func(t *testing.T) {
		livetest.Require(t, "tcpreplay")
		testLiveFilter(t, true, tcpreplayAt("--pps=2000"))
	})
	// Paged skbs: the filter and the fanout must read past the linear part.
	t.Run("socket-paged", func(t *testing.T) {
		livetest.Require(t, "netsniff-ng")
		testLiveFilter(t, false, txRing)
	})
}

func testLiveFilter(t *testing.T, xdp bool, replay replayer) {
	frames, err := livetest.Traffic(6, 40)
	if err != nil {
		t.Fatal(err)
	}
	cfg := NewConfig()
	cfg.Workers = 2
	cfg.RingMB = 16
	cfg.SampleInterval = time.Hour
	cfg.XDP = xdp
	got, st, c := runCapture(t, cfg, frames, replay)
	if xdp && len(c.xdp) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("XDP did not attach")
		}
		t.Skip("XDP did not attach here (needs Linux 5.18)")
	}
	if !st.FilterOn {
		t.Fatal("pre-filter not attached")
	}
	pass, counted := filterModel(t, frames)
	var want [][]byte
	for i, f := range frames {
		if pass[i] {
			want = append(want, f)
		}
	}
	diffSets(t, "frames passed by the filter", slices.Concat(got...), want)
	checkSteering(t, got)
	if st.Drops != 0 {
		t.Errorf("kernel drops %d, want none", st.Drops)
	}
	if st.Packets != uint64(len(want)) || st.Filter.Passed() != uint64(len(want)) {
		t.Errorf("kernel accepted %d, filter passed %d, want %d", st.Packets, st.Filter.Passed(), len(want))
	}
	var nCounted, bCounted uint64
	for k, w := range counted {
		prev, cur, err := c.Flows().Take(k)
		if err != nil {
			t.Fatal(err)
		}
		if prev != w[0] || cur != w[1] {
			t.Errorf("Take(%s) = %+v %+v, want %+v %+v", k, prev, cur, w[0], w[1])
		}
		nCounted += w[0].Packets + w[1].Packets
		bCounted += w[0].Bytes + w[1].Bytes
	}
	if st.Filter.Counted != nCounted || st.Filter.CountedBytes != bCounted {
		t.Errorf("filter counted %d packets %d bytes, want %d %d", st.Filter.Counted, st.Filter.CountedBytes, nCounted, bCounted)
	}
	if st.Seen != uint64(len(frames)) || st.Undelivered != 0 || st.Unaccounted != 0 {
		t.Errorf("seen %d, undelivered %d, unaccounted %d; want %d, 0, 0", st.Seen, st.Undelivered, st.Unaccounted, len(frames))
	}
	if st.Seen != st.Delivered+st.Filter.Counted+st.Drops+st.Undelivered {
		t.Errorf("seen %d != delivered %d + counted %d + drops %d + undelivered %d", st.Seen, st.Delivered, st.Filter.Counted, st.Drops, st.Undelivered)
	}
	t.Logf("%d frames, %d passed to user space (%.1f%%), %d counted in the kernel", len(frames), len(want),
		100*float64(len(want))/float64(len(frames)), nCounted)
}

// Frames still in the rings when the capture stops are delivered before
// Next returns io.EOF: a stop right after the traffic loses nothing.
func TestStopDrainsRings(t *testing.T) {
	livetest.Require(t, "tcpreplay")
	frames, err := livetest.Traffic(6, 40)
	if err != nil {
		t.Fatal(err)
	}
	v := livetest.NewVeth(t)
	file := filepath.Join(t.TempDir(), "traffic.pcap")
	if err := livetest.WritePcap(file, frames); err != nil {
		t.Fatal(err)
	}
	cfg := NewConfig(v.Host)
	cfg.Workers, cfg.RingMB = 2, 16
	cfg.SampleInterval = time.Hour
	c, err := Open(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := v.Replay(ctx, file, "--pps=5000"); err != nil {
		t.Fatal(err)
	}
	// Nobody has read yet: everything passed is in the rings.
	c.Stop()
	var got int
	for _, s := range c.Sources() {
		var f capture.Frame
		for {
			err := s.Next(&f)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got++
		}
	}
	st, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if uint64(got) != st.Delivered || st.Delivered == 0 || st.Undelivered != 0 || st.Drops != 0 {
		t.Errorf("after stop: read %d, delivered %d, undelivered %d, drops %d; want all delivered", got, st.Delivered, st.Undelivered, st.Drops)
	}
	if st.Seen != uint64(len(frames)) || st.Seen != st.Delivered+st.Filter.Counted+st.Drops+st.Undelivered {
		t.Errorf("seen %d (of %d sent) != delivered %d + counted %d + drops %d + undelivered %d",
			st.Seen, len(frames), st.Delivered, st.Filter.Counted, st.Drops, st.Undelivered)
	}
}

func TestAccount(t *testing.T) {
	for _, tc := range []struct {
		name                           string
		in                             Stats
		seen, undelivered, unaccounted uint64
	}{
		{"no filter, all delivered", Stats{Packets: 10, Delivered: 10}, 10, 0, 0},
		{"no filter, drops and a queue", Stats{Packets: 10, Drops: 3, Delivered: 5}, 10, 2, 0},
		{"filter", Stats{Packets: 6, Delivered: 6, FilterOn: true, Filter: bpf.FilterStats{PassFirst: 6, Counted: 4}}, 10, 0, 0},
		{"filter counted more than the sockets saw yet", Stats{Packets: 5, Delivered: 5, FilterOn: true, Filter: bpf.FilterStats{PassFirst: 6, Counted: 4}}, 10, 0, 1},
		{"delivered read after the sockets", Stats{Packets: 5, Delivered: 6}, 5, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.in
			s.account()
			if s.Seen != tc.seen || s.Undelivered != tc.undelivered || s.Unaccounted != tc.unaccounted {
				t.Errorf("seen %d undelivered %d unaccounted %d, want %d %d %d", s.Seen, s.Undelivered, s.Unaccounted, tc.seen, tc.undelivered, tc.unaccounted)
			}
		})
	}
}

func TestConfigFlags(t *testing.T) {
	var c Config
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	c.RegisterFlags(fs)
	if !c.BPF || !c.Promisc {
		t.Fatal("defaults: BPF and promiscuous mode must be on")
	}
	err := fs.Parse([]string{"-i", "eth1", "--interface", "eth2,eth3", "--ring-mb", "64",
		"--block-timeout", "5ms", "--fanout-group", "77", "--no-bpf", "--promisc=false", "--bpf-flow-entries", "1000"})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Interfaces: []string{"eth1", "eth2", "eth3"}, RingMB: 64, BlockSize: DefaultBlockSize,
		FrameSize: DefaultFrameSize, BlockTimeout: 5 * time.Millisecond, FanoutGroup: 77, SampleInterval: time.Second, FlowEntries: 1000}
	if !slices.Equal(c.Interfaces, want.Interfaces) || c.Workers != want.Workers || c.RingMB != want.RingMB ||
		c.BlockSize != want.BlockSize || c.FrameSize != want.FrameSize || c.BlockTimeout != want.BlockTimeout ||
		c.FanoutGroup != want.FanoutGroup || c.BPF || c.Promisc || c.FlowEntries != 1000 || c.SampleInterval != time.Second {
		t.Errorf("parsed %+v, want %+v", c, want)
	}
	for _, bad := range [][]string{{"--fanout-group", "70000"}, {"--no-bpf=maybe"}, {"--bpf-flow-entries", "-1"}} {
		var c Config
		fs := flag.NewFlagSet("run", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c.RegisterFlags(fs)
		if err := fs.Parse(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	for _, c := range []Config{
		{Interfaces: []string{"lo"}, BlockSize: 1000},
		{Interfaces: []string{"lo"}, FrameSize: 100},
		{Interfaces: []string{"lo"}, BlockTimeout: time.Microsecond},
		{Interfaces: []string{"lo"}, Workers: 1000},
		{Interfaces: []string{"lo"}, RingMB: -1},
	} {
		if err := c.fill(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if _, err := Open(Config{}, nil); err == nil {
		t.Error("Open without interfaces succeeded")
	}
	if _, err := Open(Config{Interfaces: []string{"no-such-iface0"}, Workers: 1}, nil); err == nil {
		t.Error("Open of a missing interface succeeded")
	}
}

func TestRingSize(t *testing.T) {
	for _, tc := range []struct {
		mem     uint64
		sockets int
		want    int
	}{
		{24 << 30, 2, 512}, {4 << 30, 4, 64}, {1 << 30, 16, 16}, {64 << 30, 0, 512},
	} {
		if got := RingSize(tc.mem, tc.sockets); got != tc.want {
			t.Errorf("RingSize(%d GiB, %d) = %d, want %d", tc.mem>>30, tc.sockets, got, tc.want)
		}
	}
}

func TestDetectOffloads(t *testing.T) {
	if _, err := DetectOffloads("no-such-iface0"); err == nil {
		t.Error("DetectOffloads on a missing interface succeeded")
	}
	if _, err := DetectOffloads(strings.Repeat("x", 20)); err == nil {
		t.Error("DetectOffloads accepted a 20-byte interface name")
	}
	livetest.Require(t)
	v := livetest.NewVeth(t)
	o, err := DetectOffloads(v.Host)
	if err != nil {
		t.Fatal(err)
	}
	if o.LRO {
		t.Errorf("veth reports LRO on: %+v", o)
	}
}

// BenchmarkNext measures Source.Next on a live veth while another socket
// transmits on the same interface (AF_PACKET sees outgoing frames too): the
// per-packet user-space cost of capture and its allocations.
func BenchmarkNext(b *testing.B) {
	livetest.Require(b)
	v := livetest.NewVeth(b)
	frames, err := livetest.Traffic(4, 40)
	if err != nil {
		b.Fatal(err)
	}
	cfg := NewConfig(v.Host)
	cfg.BPF = false
	cfg.Workers = 1
	cfg.RingMB = 64
	c, err := Open(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	tx, err := afpacket.NewTPacket(afpacket.OptInterface(v.Host), afpacket.TPacketVersion2)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Close()
	done := make(chan struct{})
	go func() {
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			_ = tx.WritePacketData(frames[i%len(frames)])
		}
	}()
	defer close(done)
	src := c.Sources()[0]
	var f capture.Frame
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := src.Next(&f); err != nil && !errors.Is(err, capture.ErrIdle) {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
}
