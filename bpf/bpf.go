package bpf

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// Defaults for Options fields left zero.
const (
	DefaultSampleInterval = time.Second
	DefaultUDPIdle        = 60 * time.Second
	DefaultFlowEntries    = 1 << 16
	DefaultBurstGap       = 8 * time.Second
	DefaultMinBurstLen    = 2
	// MinMarks is the least number of marks (see Options.FlowEntries).
	MinMarks = 4096
)

// DefaultInternal are the networks treated as internal when Options.Internal is
// empty: RFC 1918, RFC 6598 shared space and IPv6 unique-local addresses.
var DefaultInternal = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("fc00::/7"),
}

// Options configure the programs before they are loaded.
type Options struct {
	// SampleInterval: the filter passes a packet of each flow direction about
	// this often, so that user space sees long sessions alive (idle timeouts)
	// while their payload is counted in the kernel.
	SampleInterval time.Duration
	// BurstGap and MinBurstLen are the flow stage's (flow.Config): a packet
	// with at least MinBurstLen payload bytes after BurstGap without one in
	// its direction starts an activity burst. The filter passes every such
	// packet, and holds back samples that user space would mistake for one.
	BurstGap    time.Duration
	MinBurstLen uint32
	// UDPIdle is user space's UDP session idle gap. The filter treats a UDP flow
	// idle for slightly less (UDPIdle - min(1s, UDPIdle/10)) as a new session, so
	// that whenever user space sees a new session the kernel has already moved
	// the old counts to Prev (see FlowCounters.Take).
	UDPIdle time.Duration
	// FlowEntries bounds the flow table. When it is full the filter
	// passes packets instead of counting them and counts a map-full event.
	// The marks of directions passed without an entry (SYNs, first UDP
	// datagrams; an LRU) hold half as many, at least MinMarks.
	FlowEntries uint32
	// Internal networks, for the fanout program's choice of the host to hash.
	Internal []netip.Prefix
}

func (o *Options) defaults() {
	if o.SampleInterval <= 0 {
		o.SampleInterval = DefaultSampleInterval
	}
	if o.UDPIdle <= 0 {
		o.UDPIdle = DefaultUDPIdle
	}
	if o.FlowEntries == 0 {
		o.FlowEntries = DefaultFlowEntries
	}
	if o.BurstGap <= 0 {
		o.BurstGap = DefaultBurstGap
	}
	if o.MinBurstLen == 0 {
		o.MinBurstLen = DefaultMinBurstLen
	}
	if len(o.Internal) == 0 {
		o.Internal = DefaultInternal
	}
}

// Objects are the loaded programs and maps. Close releases them; sockets the
// programs are attached to keep their own references.
type Objects struct {
	objs objects
	spec *ebpf.CollectionSpec

	xdpMu sync.Mutex
	xdp   *ebpf.Program // loaded on first use: it needs Linux 5.18

	hostsOnce sync.Once
	hosts     *Hosts

	// Flows reads and removes the per-flow counters of packets the filter kept
	// from user space.
	Flows *FlowCounters
}

// objects are what Load loads: every map, the socket filter and the fanout.
type objects struct {
	Filter *ebpf.Program `ebpf:"launchtap_filter"`
	Fanout *ebpf.Program `ebpf:"launchtap_fanout"`
	launchtapMaps
}

// Load loads both programs into the kernel. It needs CAP_BPF and CAP_PERFMON
// (or root), and CAP_SYS_RESOURCE on kernels before 5.11 that charge BPF memory
// to RLIMIT_MEMLOCK.
func Load(opts Options) (*Objects, error) {
	opts.defaults()
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("bpf: raising the memlock limit: %w", err)
	}
	spec, err := loadLaunchtap()
	if err != nil {
		return nil, fmt.Errorf("bpf: reading the embedded object: %w", err)
	}
	gap := opts.UDPIdle - min(time.Second, opts.UDPIdle/10)
	for name, v := range map[string]any{
		launchtapVarSampleNs:    uint64(opts.SampleInterval),
		launchtapVarUdpGapNs:    uint64(gap),
		launchtapVarBurstGapNs:  uint64(opts.BurstGap),
		launchtapVarMinBurstLen: opts.MinBurstLen,
	} {
		if err := spec.Variables[name].Set(v); err != nil {
			return nil, fmt.Errorf("bpf: setting %s: %w", name, err)
		}
	}
	spec.Maps[launchtapMapFlows].MaxEntries = opts.FlowEntries
	spec.Maps[launchtapMapMarks].MaxEntries = max(MinMarks, opts.FlowEntries/2)
	o := &Objects{spec: spec}
	if err := spec.LoadAndAssign(&o.objs, nil); err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("bpf: loading programs: %+v", ve)
		}
		return nil, fmt.Errorf("bpf: loading programs: %w", err)
	}
	if err := o.SetInternal(opts.Internal); err != nil {
		o.Close()
		return nil, err
	}
	o.Flows = &FlowCounters{m: o.objs.Flows, max: opts.FlowEntries}
	return o, nil
}

// Filter is the pre-filter program, for SO_ATTACH_BPF.
func (o *Objects) Filter() *ebpf.Program { return o.objs.Filter }

// Fanout is the steering program, for PACKET_FANOUT_DATA.
func (o *Objects) Fanout() *ebpf.Program { return o.objs.Fanout }

// XDP is the pre-filter as an XDP program, for dedicated tap ports: it makes
// the same decisions into the same maps, and drops what it counts before the
// kernel allocates an skb — for the whole host, not only for launchtap. It is
// loaded on first call and needs Linux 5.18 (bpf_xdp_load_bytes).
func (o *Objects) XDP() (*ebpf.Program, error) {
	o.xdpMu.Lock()
	defer o.xdpMu.Unlock()
	if o.xdp != nil {
		return o.xdp, nil
	}
	var x struct {
		Prog *ebpf.Program `ebpf:"launchtap_xdp"`
	}
	err := o.spec.LoadAndAssign(&x, &ebpf.CollectionOptions{MapReplacements: map[string]*ebpf.Map{
		launchtapMapFlows:     o.objs.Flows,
		launchtapMapMarks:     o.objs.Marks,
		launchtapMapStats:     o.objs.Stats,
		launchtapMapInternal4: o.objs.Internal4,
		launchtapMapInternal6: o.objs.Internal6,
	}})
	if err != nil {
		return nil, fmt.Errorf("bpf: loading the XDP pre-filter: %w", err)
	}
	o.xdp = x.Prog
	return o.xdp, nil
}

// Close releases the programs and maps.
func (o *Objects) Close() error {
	errs := []error{o.objs.Filter.Close(), o.objs.Fanout.Close(), o.objs.launchtapMaps.Close()}
	o.xdpMu.Lock()
	if o.xdp != nil {
		errs = append(errs, o.xdp.Close())
	}
	o.xdpMu.Unlock()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("bpf: closing objects: %w", err)
	}
	return nil
}

type lpm4 = launchtapLpm4
type lpm6 = launchtapLpm6

// SetInternal replaces the internal networks the fanout program consults.
func (o *Objects) SetInternal(ps []netip.Prefix) error {
	clear := func(m *ebpf.Map, key any) error {
		var keys []any
		it := m.Iterate()
		var v uint8
		for it.Next(key, &v) {
			switch k := key.(type) {
			case *lpm4:
				keys = append(keys, *k)
			case *lpm6:
				keys = append(keys, *k)
			}
		}
		if err := it.Err(); err != nil {
			return err
		}
		for _, k := range keys {
			if err := m.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
				return err
			}
		}
		return nil
	}
	if err := clear(o.objs.Internal4, &lpm4{}); err != nil {
		return fmt.Errorf("bpf: clearing internal4: %w", err)
	}
	if err := clear(o.objs.Internal6, &lpm6{}); err != nil {
		return fmt.Errorf("bpf: clearing internal6: %w", err)
	}
	one := uint8(1)
	for _, p := range ps {
		p = p.Masked()
		var err error
		if p.Addr().Is4() {
			err = o.objs.Internal4.Put(lpm4{Prefixlen: uint32(p.Bits()), Addr: p.Addr().As4()}, one)
		} else {
			err = o.objs.Internal6.Put(lpm6{Prefixlen: uint32(p.Bits()), Addr: p.Addr().As16()}, one)
		}
		if err != nil {
			return fmt.Errorf("bpf: adding internal network %s: %w", p, err)
		}
	}
	return nil
}

// FilterStats are the filter's decisions summed over CPUs since Load.
type FilterStats struct {
	PassControl  uint64 // TCP SYN/FIN/RST
	PassService  uint64 // DNS, DHCP, DHCPv6, mDNS, LLMNR, NTP, VXLAN/Geneve ports
	PassFirst    uint64 // first packet of a flow direction or session; a session's first payloads
	PassSample   uint64 // periodic sample of a long flow
	PassBurst    uint64 // data after BurstGap of silence in its direction
	PassOther    uint64 // not TCP/UDP over IP, fragments, tunnels, in-band VLAN tags
	PassMapFull  uint64 // passed because the flow table was full (BPF map-full events)
	Counted      uint64 // kept in the kernel, counted per flow
	PassBytes    uint64 // IP bytes of passed TCP/UDP packets (PassOther not included)
	CountedBytes uint64 // IP bytes of counted packets
	// PassNoEntry: of PassControl and PassFirst, the packets passed without
	// making a flow entry: TCP control segments of a direction that has none
	// (a port scan's SYNs and RSTs) and UDP directions' first datagrams.
	PassNoEntry uint64
	// MarkHits: flow entries made that found their direction's mark (a SYN,
	// a first datagram). Fewer than expected means the marks age out.
	MarkHits uint64
}

// Passed is the number of packets the filter passed to user space.
func (s FilterStats) Passed() uint64 {
	return s.PassControl + s.PassService + s.PassFirst + s.PassSample + s.PassBurst + s.PassOther + s.PassMapFull
}

// Stats reads the filter's counters.
func (o *Objects) Stats() (FilterStats, error) {
	var s FilterStats
	dst := [...]*uint64{
		launchtapStatIdxSTAT_PASS_CTL:      &s.PassControl,
		launchtapStatIdxSTAT_PASS_SERVICE:  &s.PassService,
		launchtapStatIdxSTAT_PASS_FIRST:    &s.PassFirst,
		launchtapStatIdxSTAT_PASS_SAMPLE:   &s.PassSample,
		launchtapStatIdxSTAT_PASS_BURST:    &s.PassBurst,
		launchtapStatIdxSTAT_PASS_OTHER:    &s.PassOther,
		launchtapStatIdxSTAT_PASS_MAP_FULL: &s.PassMapFull,
		launchtapStatIdxSTAT_COUNTED:       &s.Counted,
		launchtapStatIdxSTAT_PASS_BYTES:    &s.PassBytes,
		launchtapStatIdxSTAT_COUNTED_BYTES: &s.CountedBytes,
		launchtapStatIdxSTAT_PASS_NO_ENTRY: &s.PassNoEntry,
		launchtapStatIdxSTAT_MARK_HIT:      &s.MarkHits,
	}
	var per []uint64
	for i, p := range dst {
		if err := o.objs.Stats.Lookup(uint32(i), &per); err != nil {
			return FilterStats{}, fmt.Errorf("bpf: reading stat %d: %w", i, err)
		}
		for _, v := range per {
			*p += v
		}
	}
	return s, nil
}

// FlowKey is one direction of a flow, laid out like struct flow_key in
// launchtap.c (40 bytes). IPv4 addresses are stored IPv4-mapped (::ffff:a.b.c.d),
// which is what netip.Addr.As16 returns for them.
type FlowKey struct {
	Src, Dst         [16]byte
	SrcPort, DstPort uint16
	Proto            uint8
	_                [3]uint8
}

// NewFlowKey builds the key of packets from src:sport to dst:dport. Addresses
// are IP addresses as decoded (innermost header); proto is 6 or 17.
func NewFlowKey(src, dst netip.Addr, sport, dport uint16, proto uint8) FlowKey {
	return FlowKey{Src: src.As16(), Dst: dst.As16(), SrcPort: sport, DstPort: dport, Proto: proto}
}

// Reverse is the key of the opposite direction.
func (k FlowKey) Reverse() FlowKey {
	return FlowKey{Src: k.Dst, Dst: k.Src, SrcPort: k.DstPort, DstPort: k.SrcPort, Proto: k.Proto}
}

// String formats the key for logs.
func (k FlowKey) String() string {
	return fmt.Sprintf("%d %s -> %s", k.Proto,
		netip.AddrPortFrom(netip.AddrFrom16(k.Src).Unmap(), k.SrcPort),
		netip.AddrPortFrom(netip.AddrFrom16(k.Dst).Unmap(), k.DstPort))
}

// Counts describe packets the filter kept from user space.
type Counts struct {
	Packets uint64
	Bytes   uint64 // IP bytes: IPv4 total length, IPv6 payload length + 40 (decode.Packet.IPLen)
	Payload uint64 // transport payload bytes from the IP length (decode.Packet.PayloadLen)
}

// Add returns c + d.
func (c Counts) Add(d Counts) Counts {
	return Counts{c.Packets + d.Packets, c.Bytes + d.Bytes, c.Payload + d.Payload}
}

type flowVal = launchtapFlowVal

// FlowCounters gives user space the per-flow counts of packets the filter did
// not pass. The flow stage takes a direction's counters when its session ends,
// which deletes the entry; Sweep removes entries nobody took.
//
// The filter splits counts at session starts it sees (a TCP SYN in the client's
// direction, a SYN-ACK in the server's, a UDP packet after the idle gap): Prev
// holds the counts of the session before, Cur those since. It counts nothing
// of a session's direction before it passed the session's first non-control
// TCP segment or first two UDP datagrams there, so a session whose user-space
// view has none of them has nothing to take. A session that ended on FIN/RST/idle gets Prev+Cur. A session
// ended because a new one started on the same 5-tuple gets Prev, and the new
// session starts with Cur.
//
// Sessions end at up to the packet rate under a SYN flood, so the flow stage
// takes them in batches (TakeMany): a few thousand keys cost one walk of the
// table in chunks and one batch delete, not two syscalls each.
type FlowCounters struct {
	m   *ebpf.Map
	max uint32

	mu      sync.Mutex // guards the scratch space and the counters below
	scratch flowVal
	key     FlowKey
	want    map[FlowKey]int32 // TakeMany: key → its first index in the request
	kbuf    []FlowKey         // TakeMany: one chunk of the walk
	vbuf    []flowVal
	del     []FlowKey
	stats   TakeStats
}

// TakeStats count how FlowCounters reached the kernel table.
type TakeStats struct {
	Keys      uint64 // flow directions asked for
	Found     uint64 // ... that the table held
	Walks     uint64 // whole-table walks (TakeMany with many keys)
	Syscalls  uint64 // bpf(2) calls made to take counters (walk chunks, batch deletes, single takes)
	Fallbacks uint64 // TakeMany calls that fell back to single takes (batch operations unsupported)
	Skipped   uint64 // flow directions not asked for: the filter cannot have counted them (Skip)
}

// Stats returns the counters of table access.
func (c *FlowCounters) Stats() TakeStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Skip records n ended flow directions whose counters were not asked for
// because the filter cannot have counted any of their packets (a TCP
// direction without a non-control segment, a lone UDP datagram).
func (c *FlowCounters) Skip(n int) {
	if n <= 0 {
		return
	}
	c.mu.Lock()
	c.stats.Skipped += uint64(n)
	c.mu.Unlock()
}

// MaxEntries is the table's bound.
func (c *FlowCounters) MaxEntries() uint32 { return c.max }

func split(v *flowVal) (prev, cur Counts) {
	return Counts{v.PrevPackets, v.PrevBytes, v.PrevPayload}, Counts{v.Packets, v.Bytes, v.Payload}
}

// Take atomically reads and deletes the counters of one flow direction. A
// direction the filter never counted returns zeros and no error.
func (c *FlowCounters) Take(k FlowKey) (prev, cur Counts, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.key = k
	c.stats.Keys++
	ok, err := c.lookupAndDelete()
	if !ok || err != nil {
		return Counts{}, Counts{}, err
	}
	c.stats.Found++
	prev, cur = split(&c.scratch)
	return prev, cur, nil
}

// walkMin is the batch from which TakeMany walks the table rather than
// taking key by key: a walk reads the whole table (up to FlowEntries entries,
// 4096 a call), so it pays off once the keys are a fair share of it.
const (
	walkChunk = 4096
	walkShare = 16 // walk when keys >= entries/walkShare
)

// TakeMany takes the counters of every key in keys into prev[i] and cur[i]
// (zero for a key the table does not hold) and deletes them, as Take does
// one by one. A key given twice gets its counts once, at its first index.
//
// With many keys it walks the table in chunks of 4096 and deletes what it
// found in batches: the syscalls are per 4096 entries, not per key. A packet
// the filter counts for a flow between the walk and the delete is lost to
// that flow's session (still counted in FilterStats.Counted); the keys are of
// sessions that have ended, whose last packets are in by then.
func (c *FlowCounters) TakeMany(keys []FlowKey, prev, cur []Counts) error {
	if len(prev) < len(keys) || len(cur) < len(keys) {
		return fmt.Errorf("bpf: TakeMany: %d keys, room for %d and %d counts", len(keys), len(prev), len(cur))
	}
	clear(prev[:len(keys)])
	clear(cur[:len(keys)])
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats.Keys += uint64(len(keys))
	if len(keys) < int(c.max)/walkShare {
		return c.takeEach(keys, prev, cur)
	}
	err := c.walk(keys, prev, cur)
	if errors.Is(err, ebpf.ErrNotSupported) {
		c.stats.Fallbacks++
		return c.takeEach(keys, prev, cur)
	}
	return err
}

func (c *FlowCounters) takeEach(keys []FlowKey, prev, cur []Counts) error {
	var errs []error
	for i, k := range keys {
		c.key = k
		ok, err := c.lookupAndDelete()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			c.stats.Found++
			prev[i], cur[i] = split(&c.scratch)
		}
	}
	return errors.Join(errs...)
}

func (c *FlowCounters) walk(keys []FlowKey, prev, cur []Counts) error {
	if c.want == nil {
		c.want = make(map[FlowKey]int32, len(keys))
		c.kbuf = make([]FlowKey, walkChunk)
		c.vbuf = make([]flowVal, walkChunk)
	}
	clear(c.want)
	for i, k := range keys {
		if _, dup := c.want[k]; !dup {
			c.want[k] = int32(i)
		}
	}
	c.del = c.del[:0]
	c.stats.Walks++
	var cursor ebpf.MapBatchCursor
	for {
		n, err := c.m.BatchLookup(&cursor, c.kbuf, c.vbuf, nil)
		c.stats.Syscalls++
		for j := 0; j < n; j++ {
			if i, ok := c.want[c.kbuf[j]]; ok {
				prev[i], cur[i] = split(&c.vbuf[j])
				c.del = append(c.del, c.kbuf[j])
			}
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			break // the end of the table
		}
		if err != nil {
			return fmt.Errorf("bpf: walking flow counters: %w", err)
		}
	}
	c.stats.Found += uint64(len(c.del))
	// BatchDelete stops at the first key it cannot delete (one Sweep took
	// meanwhile): skip it and go on.
	for rest := c.del; len(rest) > 0; {
		chunk := rest[:min(len(rest), walkChunk)]
		n, err := c.m.BatchDelete(chunk, nil)
		c.stats.Syscalls++
		switch {
		case err == nil:
			rest = rest[len(chunk):]
		case errors.Is(err, ebpf.ErrKeyNotExist):
			rest = rest[min(len(rest), n+1):]
		default:
			return fmt.Errorf("bpf: deleting taken flow counters: %w", err)
		}
	}
	return nil
}

// Peek reads one direction's counters without deleting them.
func (c *FlowCounters) Peek(k FlowKey) (prev, cur Counts, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	err = c.m.Lookup(&k, &c.scratch)
	if errors.Is(err, ebpf.ErrKeyNotExist) {
		return Counts{}, Counts{}, nil
	}
	if err != nil {
		return Counts{}, Counts{}, fmt.Errorf("bpf: reading flow counters of %s: %w", k, err)
	}
	prev, cur = split(&c.scratch)
	return prev, cur, nil
}

// Sweep deletes entries whose last packet is older than idle (kernel
// monotonic time) and hands their counts to fn, which may be nil. The flow stage
// calls it periodically with an idle longer than its own session timeout, so
// that it only reaps entries no session will take (flows user space never
// tracked, trailing ACKs after a FIN). It returns how many entries it removed.
func (c *FlowCounters) Sweep(idle time.Duration, fn func(FlowKey, Counts)) (int, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0, fmt.Errorf("bpf: reading the monotonic clock: %w", err)
	}
	var cutoff uint64
	if now := uint64(ts.Nano()); now > uint64(idle) {
		cutoff = now - uint64(idle)
	}
	var stale []FlowKey
	var k FlowKey
	var v flowVal
	it := c.m.Iterate()
	for it.Next(&k, &v) {
		if v.LastNs < cutoff {
			stale = append(stale, k)
		}
	}
	if err := it.Err(); err != nil {
		return 0, fmt.Errorf("bpf: iterating flow counters: %w", err)
	}
	n := 0
	for _, k := range stale {
		prev, cur, err := c.Take(k)
		if err != nil {
			return n, err
		}
		n++
		if fn != nil {
			fn(k, prev.Add(cur))
		}
	}
	return n, nil
}
