package pipeline

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/launchtap/launchtap/bpf"
	"github.com/launchtap/launchtap/sensor/capture"
	"github.com/launchtap/launchtap/sensor/decode"
	"github.com/launchtap/launchtap/sensor/host"
	"github.com/launchtap/launchtap/sensor/netset"
	"github.com/launchtap/launchtap/sensor/shard"
)

// fakeHosts is a HostsMap in memory, recording its calls.
type fakeHosts struct {
	m             map[[16]byte]uint32
	updates, dels int
	failUpdate    bool
	updateSizes   []int
}

func (f *fakeHosts) Update(keys [][16]byte, vals []uint32) (int, error) {
	f.updates++
	f.updateSizes = append(f.updateSizes, len(keys))
	if f.failUpdate {
		return 0, errors.New("map full")
	}
	for i, k := range keys {
		f.m[k] = vals[i]
	}
	return len(keys), nil
}

func (f *fakeHosts) Delete(keys [][16]byte) error {
	f.dels++
	for _, k := range keys {
		delete(f.m, k)
	}
	return nil
}

func TestLiveHostsWrite(t *testing.T) {
	a := netip.MustParseAddr("192.168.1.50")
	m1, m2, canon := [6]byte{0x3c, 0, 0, 0, 0, 1}, [6]byte{0x3c, 0, 0, 0, 0, 2}, [6]byte{0x3c, 0, 0, 0, 0, 9}
	tests := []struct {
		name  string
		batch []host.Change
		want  map[[16]byte]uint32
	}{
		{"binding", []host.Change{{Addr: a, MAC: m1, Host: host.MACKey(m1)}},
			map[[16]byte]uint32{shard.MapKey(a, [6]byte{}): shard.HashKey(host.MACKey(m1))}},
		{"the latest change of a key wins", []host.Change{
			{Addr: a, MAC: m1, Host: host.MACKey(m1)},
			{Addr: a, MAC: m1, Host: host.AddrKey(a), Gone: true},
			{Addr: a, MAC: m2, Host: host.MACKey(m2)}},
			map[[16]byte]uint32{shard.MapKey(a, [6]byte{}): shard.HashKey(host.MACKey(m2))}},
		{"bound then gone", []host.Change{
			{Addr: a, MAC: m1, Host: host.MACKey(m1)},
			{Addr: a, MAC: m1, Host: host.AddrKey(a), Gone: true}},
			map[[16]byte]uint32{}},
		{"join, and a join ended", []host.Change{
			{MAC: m1, Host: host.MACKey(canon)},
			{MAC: m2, Host: host.MACKey(canon)},
			{MAC: m2, Host: host.MACKey(m2), Gone: true}},
			map[[16]byte]uint32{shard.MapKey(netip.Addr{}, m1): shard.HashKey(host.MACKey(canon))}},
		{"a router's address: its own host", []host.Change{
			{Addr: a, MAC: m1, Host: host.MACKey(m1)},
			{Addr: a, MAC: m1, Host: host.AddrKey(a)}},
			map[[16]byte]uint32{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeHosts{m: map[[16]byte]uint32{}}
			h := newLiveHosts(f, 0, slog.New(slog.DiscardHandler))
			h.write(tc.batch)
			if len(f.m) != len(tc.want) {
				t.Fatalf("map %v, want %v", f.m, tc.want)
			}
			for k, v := range tc.want {
				if f.m[k] != v {
					t.Errorf("key %x: %#x, want %#x", k, f.m[k], v)
				}
			}
			if f.updates > 1 || f.dels > 1 {
				t.Errorf("%d update and %d delete calls for one batch", f.updates, f.dels)
			}
		})
	}
}

// Every worker's inbox gets every change in the writer's order, the
// teller's inbox too; the kernel gets them batched; what does not fit is
// counted, not waited for.
func TestLiveHostsFanOut(t *testing.T) {
	f := &fakeHosts{m: map[[16]byte]uint32{}}
	h := newLiveHosts(f, 3, slog.New(slog.DiscardHandler))
	var sent []host.Change
	for i := range 50 {
		c := host.Change{Addr: netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), MAC: [6]byte{0x3c, 0, 0, 0, 0, byte(i)}}
		c.Host = host.MACKey(c.MAC)
		sent = append(sent, c)
		h.notify(c)
	}
	h.start([]host.Change{{MAC: [6]byte{0x3c, 1, 1, 1, 1, 1}, Host: host.MACKey([6]byte{0x3c, 2, 2, 2, 2, 2})}})
	h.stop()
	for w, in := range h.inboxes {
		if len(in) != len(sent) {
			t.Fatalf("worker %d: %d changes in its inbox, want %d", w, len(in), len(sent))
		}
		for i := range sent {
			if c := <-in; c != sent[i] {
				t.Fatalf("worker %d: change %d is %+v, want %+v (order)", w, i, c, sent[i])
			}
		}
	}
	if len(f.m) != 51 {
		t.Errorf("kernel map holds %d entries, want 50 bindings and the inventory join", len(f.m))
	}
	c := h.counters()
	if c.Changes != 50 || c.Updates != 51 || c.QueueDrops != 0 || c.InboxDrops != 0 || c.WriteCalls < 2 {
		t.Errorf("counters %+v", c)
	}

	// A full queue and full inboxes drop and count.
	h = newLiveHosts(nil, 1, slog.New(slog.DiscardHandler))
	for range hostQueueLen + 5 {
		h.notify(sent[0])
	}
	if got := h.counters().QueueDrops; got != 5 {
		t.Errorf("queue drops %d, want 5", got)
	}
	h.start(nil)
	deadline := time.Now().Add(5 * time.Second)
	for len(h.queue) > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	h.stop()
	if c := h.counters(); c.InboxDrops != hostQueueLen-hostInboxLen || len(h.inboxes[0]) != hostInboxLen {
		t.Errorf("inbox drops %d with %d in the inbox; want %d dropped", c.InboxDrops, len(h.inboxes[0]), hostQueueLen-hostInboxLen)
	}
}

// A failing map is counted, and the changes still reach the workers.
func TestLiveHostsWriteFailure(t *testing.T) {
	f := &fakeHosts{m: map[[16]byte]uint32{}, failUpdate: true}
	h := newLiveHosts(f, 1, slog.New(slog.DiscardHandler))
	c := host.Change{Addr: netip.MustParseAddr("10.0.0.1"), MAC: [6]byte{0x3c, 0, 0, 0, 0, 1}, Host: host.MACKey([6]byte{0x3c, 0, 0, 0, 0, 1})}
	h.notify(c)
	h.start(nil)
	h.stop()
	if got := h.counters(); got.Failures != 1 || got.Updates != 0 {
		t.Errorf("counters %+v: want one failure", got)
	}
	if len(h.inboxes[0]) != 1 {
		t.Error("the change did not reach the worker")
	}
}

// drainInbox applies what is waiting, and only that.
func TestDrainInbox(t *testing.T) {
	b, err := host.NewBinder(host.Config{})
	if err != nil {
		t.Fatal(err)
	}
	in := make(chan host.Change, 4)
	a := netip.MustParseAddr("10.0.0.1")
	m := [6]byte{0x3c, 0, 0, 0, 0, 1}
	in <- host.Change{Addr: a, MAC: m, Host: host.MACKey(m)}
	drainInbox(in, b)
	if got := b.Resolve(a); got != host.MACKey(m) {
		t.Errorf("after drain %s resolves to %v", a, got)
	}
	drainInbox(in, b) // empty: returns at once
}

// BenchmarkLiveHostsNotifyToMap measures the moment between a binder
// telling a change and the kernel's hosts map holding it: what live capture
// may steer by the old answer meanwhile (docs/sharding.md). Needs root.
func BenchmarkLiveHostsNotifyToMap(b *testing.B) {
	o, err := bpf.Load(bpf.Options{})
	if err != nil {
		b.Skipf("cannot load the eBPF programs here: %v", err)
	}
	defer o.Close()
	h := newLiveHosts(o.Hosts(), 4, slog.New(slog.DiscardHandler))
	h.start(nil)
	defer h.stop()
	lat := make([]time.Duration, 0, b.N)
	for i := range b.N {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		m := [6]byte{0x3c, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)}
		t0 := time.Now()
		h.notify(host.Change{Addr: a, MAC: m, Host: host.MACKey(m)})
		for {
			if _, ok, _ := o.Hosts().Lookup(shard.MapKey(a, [6]byte{})); ok {
				break
			}
		}
		lat = append(lat, time.Since(t0))
		for _, in := range h.inboxes {
			<-in
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// A docked Mac's two MACs announce one DHCP hostname to two workers (their
// DHCP is steered by MAC): through the writer's one order every worker's
// binder joins them, and the kernel's map learns the join and the dock's
// address.
func TestLiveHostsJoinAcrossWorkers(t *testing.T) {
	f := &fakeHosts{m: map[[16]byte]uint32{}}
	h := newLiveHosts(f, 2, slog.New(slog.DiscardHandler))
	var bs []*host.Binder
	for range 2 {
		b, err := host.NewBinder(host.Config{Internal: netset.MustParse("10.0.0.0/8")})
		if err != nil {
			t.Fatal(err)
		}
		b.SetNotify(h.notify, true)
		bs = append(bs, b)
	}
	wifi, dock := [6]byte{0x3c, 0x22, 0xfb, 0, 0, 1}, [6]byte{0x3c, 0x22, 0xfb, 0, 0, 2}
	dockAddr := netip.MustParseAddr("10.0.0.61")
	request := func(mac [6]byte) *decode.Packet {
		msg := make([]byte, 240)
		msg[0], msg[1], msg[2] = 1, 1, 6
		copy(msg[28:], mac[:])
		binary.BigEndian.PutUint32(msg[236:], 0x63825363)
		msg = append(msg, 53, 1, 3, 12, 12)
		msg = append(append(msg, "bobs-macbook"...), 255)
		return &decode.Packet{TS: 1e9, Src: netip.IPv4Unspecified(), Dst: netip.MustParseAddr("255.255.255.255"),
			SrcMAC: mac, HasMAC: true, TTL: 64, Proto: decode.ProtoUDP, SrcPort: 68, DstPort: 67, Payload: msg}
	}
	bs[0].Learn(request(wifi))
	bs[1].Learn(request(dock))
	bs[1].Learn(&decode.Packet{TS: 2e9, Src: dockAddr, Dst: netip.MustParseAddr("93.184.216.34"), SrcMAC: dock, HasMAC: true,
		TTL: 64, Proto: decode.ProtoTCP, SrcPort: 50000, DstPort: 443})
	h.start(nil)
	// The workers drain their inboxes until nothing more is told.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for i, b := range bs {
			drainInbox(h.inboxes[i], b)
		}
		time.Sleep(10 * time.Millisecond)
		if len(h.queue) == 0 && len(h.inboxes[0]) == 0 && len(h.inboxes[1]) == 0 {
			break
		}
	}
	h.stop()
	for i, b := range bs {
		drainInbox(h.inboxes[i], b)
		if got := b.Canonical(dock); got != wifi {
			t.Errorf("worker %d: the dock's host is %s, want the Wi-Fi MAC's", i, host.MACString(got))
		}
		if got := b.Resolve(dockAddr); got != host.MACKey(wifi) {
			t.Errorf("worker %d: %s resolves to %v", i, dockAddr, got)
		}
	}
	want := shard.HashKey(host.MACKey(wifi))
	if v, ok := f.m[shard.MapKey(netip.Addr{}, dock)]; !ok || v != want {
		t.Errorf("kernel: dock MAC → %#x, %v; want %#x", v, ok, want)
	}
	if v := f.m[shard.MapKey(dockAddr, [6]byte{})]; v != want {
		t.Errorf("kernel: %s → %#x, want %#x", dockAddr, v, want)
	}
}

// Live workers fed as the kernel steers (each frame to the worker of its
// host) share what they learn: when the changes have gone round, every
// worker resolves every address alike, and the kernel's map holds exactly
// the hash of that answer for each bound address.
func TestRunSharesHostChanges(t *testing.T) {
	frames := hostFrames()
	cfg := DefaultConfig()
	cfg.Workers = 2
	cfg.OS = "any"
	cfg.HostMACs = [][][6]byte{hostsInventory}
	f := &fakeHosts{m: map[[16]byte]uint32{}}
	cfg.Hosts = f
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for range p.Alerts() {
		}
	}()
	// Steer as the kernel would once told: by the host replay resolves.
	ideal := newBinderDiffer(t, nil, defaultInternal, hostsInventory)
	srcs := []*memSource{{}, {}}
	var dec decode.Decoder
	var pkt decode.Packet
	addrs := map[netip.Addr]bool{}
	for _, fr := range frames {
		if k := dec.Decode(&fr, &pkt); k != decode.OK && !hasIP(k) {
			continue
		}
		h := ideal.own.host(&pkt)
		for _, a := range []netip.Addr{pkt.Src, pkt.Dst} {
			if cfg.Internal.Contains(a) {
				addrs[a] = true
			}
		}
		w := shard.Worker(shard.HashKey(h.key), 2)
		srcs[w].frames = append(srcs[w].frames, fr)
	}
	if len(srcs[0].frames) == 0 || len(srcs[1].frames) == 0 {
		t.Fatal("every frame on one worker: the test shares nothing")
	}
	if err := p.Run(context.Background(), []capture.Source{srcs[0], srcs[1]}); err != nil {
		t.Fatal(err)
	}
	lh := p.live.Load()
	// The workers have stopped: go round until nothing more is told.
	for range 100 {
		for i, w := range p.workers {
			drainInbox(lh.inboxes[i], w.own.binder)
		}
		if len(lh.queue) == 0 {
			break
		}
		lh.batch = lh.batch[:0]
		for len(lh.queue) > 0 {
			lh.batch = append(lh.batch, <-lh.queue)
		}
		lh.flush()
	}
	for a := range addrs {
		k0, k1 := p.workers[0].own.binder.Resolve(a), p.workers[1].own.binder.Resolve(a)
		if k0 != k1 {
			t.Errorf("%s: worker 0 resolves %v, worker 1 %v", a, k0, k1)
		}
		v, ok := f.m[shard.MapKey(a, [6]byte{})]
		switch {
		case k0.IsMAC() && (!ok || v != shard.HashKey(k0)):
			t.Errorf("%s resolves to %v; kernel map %#x, %v", a, k0, v, ok)
		case !k0.IsMAC() && ok:
			t.Errorf("%s is its own host; kernel map holds %#x", a, v)
		}
	}
	applied := p.workers[0].own.binder.Stats().Applied + p.workers[1].own.binder.Stats().Applied
	if c := p.Stats().LiveHosts; c.Changes == 0 || c.Updates == 0 || c.QueueDrops != 0 || c.InboxDrops != 0 || applied == 0 {
		t.Errorf("live hosts %+v, applied %d", c, applied)
	}
}
