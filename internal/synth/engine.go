package synth

import (
	"container/heap"
	"errors"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"sort"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Simulated time is int64 Unix nanoseconds.
const (
	ms  = int64(time.Millisecond)
	sec = int64(time.Second)
	us  = int64(time.Microsecond)
)

// epoch is the simulated start of every scenario: a Monday morning.
var epoch = time.Date(2026, time.March, 2, 8, 0, 0, 0, time.UTC).UnixNano()

// errLimit stops a run at Options.Packets; it is not reported to callers.
var errLimit = errors.New("packet limit reached")

// proc is anything scheduled on the simulated clock: a session emitting its
// packets or an actor starting sessions. step runs at the scheduled time and
// returns when to run next, or more=false when finished.
type proc interface {
	step(w *world) (next int64, more bool)
}

type item struct {
	at  int64
	seq uint64
	p   proc
}

type queue []item

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(item)) }
func (q *queue) Pop() any {
	old := *q
	it := old[len(old)-1]
	*q = old[:len(old)-1]
	return it
}

// world is one running scenario.
type world struct {
	sc    Scenario
	seed  uint64
	rng   *rand.Rand
	out   PacketWriter
	limit int
	snap  int
	start int64
	end   int64
	now   int64
	q     queue
	seq   uint64
	err   error
	stats Stats

	net       *network
	labels    []*labelRec
	cleartext bool // browsing includes cleartext HTTP with User-Agents
	// The router's advertisements: prefixes the scenario's parts announce,
	// and whether addresses also come from DHCPv6 (the M and O flags).
	raPrefixes []netip.Prefix
	raManaged  bool
	dnsTCP     bool   // some lookups are truncated and retried over TCP
	lossy      bool   // some SYNs are lost and retransmitted
	pool       []byte // deterministic random payload bytes

	// serialization scratch, reused for every frame
	sbuf  gopacket.SerializeBuffer
	ls    []gopacket.SerializableLayer
	eth   layers.Ethernet
	dot1q layers.Dot1Q
	ip4   layers.IPv4
	ip6   layers.IPv6
	tcp   layers.TCP
	udp   layers.UDP
	pay   gopacket.Payload
}

func newWorld(sc Scenario, seed uint64, out PacketWriter, opt Options) *world {
	w := &world{
		sc:    sc,
		seed:  seed,
		rng:   rand.New(rand.NewPCG(seed, 0x6c61756e63687461)),
		out:   out,
		limit: opt.Packets,
		snap:  opt.SnapLen,
		start: epoch,
		end:   epoch + int64(sc.Span),
		sbuf:  gopacket.NewSerializeBufferExpectedSize(64, 1600),
	}
	if w.limit == 0 {
		w.limit = sc.DefaultPackets
	}
	w.now = w.start
	w.pool = make([]byte, 1<<17)
	pr := rand.New(rand.NewPCG(seed, 0x706f6f6c))
	for i := range w.pool {
		w.pool[i] = byte(pr.Uint32())
	}
	w.net = newNetwork(w)
	return w
}

// rngFor returns a generator private to one named entity, so adding a host
// to a scenario does not perturb the others' randomness.
func (w *world) rngFor(name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(w.seed, h.Sum64()))
}

// at schedules p to first run at time t (never before now).
func (w *world) at(t int64, p proc) {
	if t < w.now {
		t = w.now
	}
	w.seq++
	heap.Push(&w.q, item{at: t, seq: w.seq, p: p})
}

// after schedules fn to run once at time t.
func (w *world) after(t int64, fn func(w *world)) { w.at(t, funcProc(fn)) }

type funcProc func(w *world)

func (f funcProc) step(w *world) (int64, bool) { f(w); return 0, false }

// every runs fn at first and then at the times it returns, until it returns
// a time past the scenario end or a negative time.
func (w *world) every(first int64, fn func(w *world) int64) {
	w.at(first, &ticker{fn: fn})
}

type ticker struct{ fn func(w *world) int64 }

func (t *ticker) step(w *world) (int64, bool) {
	if w.now >= w.end {
		return 0, false
	}
	next := t.fn(w)
	if next < 0 || next >= w.end {
		return 0, false
	}
	return next, true
}

func (w *world) run() error {
	for w.q.Len() > 0 && w.err == nil {
		it := heap.Pop(&w.q).(item)
		w.now = it.at
		if next, more := it.p.step(w); more {
			if next < w.now {
				next = w.now
			}
			w.seq++
			heap.Push(&w.q, item{at: next, seq: w.seq, p: it.p})
		}
	}
	if errors.Is(w.err, errLimit) {
		return nil
	}
	return w.err
}

// writeFrame hands a serialized frame to the output at the current time.
func (w *world) writeFrame(data []byte) bool {
	if w.err != nil {
		return false
	}
	if w.limit > 0 && w.stats.Packets >= w.limit {
		w.err = errLimit
		return false
	}
	ts := time.Unix(0, w.now).UTC()
	ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(data), Length: len(data)}
	if w.snap > 0 && len(data) > w.snap {
		ci.CaptureLength = w.snap
		data = data[:w.snap]
	}
	if err := w.out.WritePacket(ci, data); err != nil {
		w.err = err
		return false
	}
	if w.stats.Packets == 0 {
		w.stats.First = ts
	}
	w.stats.Last = ts
	w.stats.Packets++
	w.stats.Bytes += int64(len(data))
	return true
}

// ipHdr carries the IP fields a stack personality decides. An IPv6 source
// makes an IPv6 packet (id and df are then unused); vlan adds an 802.1Q tag.
type ipHdr struct {
	srcMAC, dstMAC net.HardwareAddr
	src, dst       netip.Addr
	ttl            uint8 // hop limit for IPv6
	id             uint16
	df             bool
	tos            uint8 // traffic class for IPv6
	flow           uint32
	vlan           uint16
	routerAlert    bool // IPv6: a hop-by-hop header with the Router Alert option (MLD, RFC 2711)
}

// l3 fills the link and network layers for h into w.ls and returns the
// network layer for the transport checksum.
func (w *world) l3(h *ipHdr, proto layers.IPProtocol) gopacket.NetworkLayer {
	et := layers.EthernetTypeIPv4
	if h.src.Is6() {
		et = layers.EthernetTypeIPv6
	}
	w.eth = layers.Ethernet{SrcMAC: h.srcMAC, DstMAC: h.dstMAC, EthernetType: et}
	w.ls = append(w.ls[:0], &w.eth)
	if h.vlan != 0 {
		w.eth.EthernetType = layers.EthernetTypeDot1Q
		w.dot1q = layers.Dot1Q{VLANIdentifier: h.vlan, Type: et}
		w.ls = append(w.ls, &w.dot1q)
	}
	if h.src.Is6() {
		w.ip6 = layers.IPv6{Version: 6, TrafficClass: h.tos, FlowLabel: h.flow, NextHeader: proto, HopLimit: h.ttl,
			SrcIP: h.src.AsSlice(), DstIP: h.dst.AsSlice()}
		if h.routerAlert {
			hbh := &layers.IPv6HopByHop{Options: []*layers.IPv6HopByHopOption{
				{OptionType: 5, OptionLength: 2, OptionData: []byte{0, 0}}, // Router Alert: MLD
				{OptionType: 1, OptionLength: 0},                           // PadN to 8 bytes
			}}
			hbh.NextHeader = proto
			w.ip6.HopByHop = hbh
		}
		w.ls = append(w.ls, &w.ip6)
		return &w.ip6
	}
	w.ip4 = layers.IPv4{
		Version: 4, IHL: 5, TOS: h.tos, Id: h.id, TTL: h.ttl, Protocol: proto,
		SrcIP: h.src.AsSlice(), DstIP: h.dst.AsSlice(),
	}
	if h.df {
		w.ip4.Flags = layers.IPv4DontFragment
	}
	w.ls = append(w.ls, &w.ip4)
	return &w.ip4
}

var serOpts = gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}

// tcpSeg is one TCP segment to serialize.
type tcpSeg struct {
	sport, dport uint16
	seq, ack     uint32
	flags        uint16
	win          uint16
	opts         []layers.TCPOption
	payload      []byte
}

const (
	fFIN = 1 << iota
	fSYN
	fRST
	fPSH
	fACK
	fURG
	fECE
	fCWR
)

func (w *world) sendTCP(h *ipHdr, s *tcpSeg) bool {
	nl := w.l3(h, layers.IPProtocolTCP)
	w.tcp = layers.TCP{
		SrcPort: layers.TCPPort(s.sport), DstPort: layers.TCPPort(s.dport),
		Seq: s.seq, Ack: s.ack, Window: s.win, Options: s.opts,
		FIN: s.flags&fFIN != 0, SYN: s.flags&fSYN != 0, RST: s.flags&fRST != 0,
		PSH: s.flags&fPSH != 0, ACK: s.flags&fACK != 0, URG: s.flags&fURG != 0,
		ECE: s.flags&fECE != 0, CWR: s.flags&fCWR != 0,
	}
	if err := w.tcp.SetNetworkLayerForChecksum(nl); err != nil {
		w.err = err
		return false
	}
	w.pay = s.payload
	w.ls = append(w.ls, &w.tcp, &w.pay)
	if err := gopacket.SerializeLayers(w.sbuf, serOpts, w.ls...); err != nil {
		w.err = err
		return false
	}
	return w.writeFrame(w.sbuf.Bytes())
}

func (w *world) sendUDP(h *ipHdr, sport, dport uint16, payload []byte) bool {
	nl := w.l3(h, layers.IPProtocolUDP)
	w.udp = layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	if err := w.udp.SetNetworkLayerForChecksum(nl); err != nil {
		w.err = err
		return false
	}
	w.pay = payload
	w.ls = append(w.ls, &w.udp, &w.pay)
	if err := gopacket.SerializeLayers(w.sbuf, serOpts, w.ls...); err != nil {
		w.err = err
		return false
	}
	return w.writeFrame(w.sbuf.Bytes())
}

// randBytes returns n deterministic pseudo-random bytes from the pool (they
// alias the pool: callers must not modify them).
func (w *world) randBytes(r *rand.Rand, n int) []byte {
	if n <= 0 {
		return nil
	}
	if n > len(w.pool) {
		n = len(w.pool)
	}
	off := r.IntN(len(w.pool) - n + 1)
	return w.pool[off : off+n]
}

// Distributions used by the behaviours.

// uniform returns a time in [a, b).
func uniform(r *rand.Rand, a, b int64) int64 {
	if b <= a {
		return a
	}
	return a + r.Int64N(b-a)
}

// expo returns an exponential variate with the given mean.
func expo(r *rand.Rand, mean int64) int64 { return int64(r.ExpFloat64() * float64(mean)) }

// lognormal returns a log-normal size with the given median and sigma,
// clamped to [lo, hi]: heavy-tailed object sizes.
func lognormal(r *rand.Rand, median float64, sigma float64, lo, hi int) int {
	v := median * math.Exp(sigma*r.NormFloat64())
	if v < float64(lo) {
		return lo
	}
	if v > float64(hi) {
		return hi
	}
	return int(v)
}

// labelRec is a label under construction; beats are appended as the first
// packet of each beat is actually written.
type labelRec struct {
	Label
	times []int64
	src   []string // beatFrom's addresses, in order of first use
	macs  []string
}

func (w *world) label(l Label) *labelRec {
	l.Scenario = w.sc.Name
	r := &labelRec{Label: l}
	w.labels = append(w.labels, r)
	return r
}

// beat records one beat of l at the current time (nil-safe).
func (l *labelRec) beat(w *world) {
	if l == nil {
		return
	}
	l.times = append(l.times, w.now)
}

// beatFrom records one beat sent from address a and MAC m: a host that
// moves between addresses or interfaces lists each in SrcIPs and SrcMACs.
func (l *labelRec) beatFrom(w *world, a netip.Addr, m net.HardwareAddr) {
	if l == nil {
		return
	}
	l.beat(w)
	l.src = appendNew(l.src, a.String())
	l.macs = appendNew(l.macs, m.String())
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

func (l *labelRec) addIP(a netip.Addr) {
	if l == nil {
		return
	}
	s := a.String()
	for _, x := range l.DstIPs {
		if x == s {
			return
		}
	}
	l.DstIPs = append(l.DstIPs, s)
}

func (w *world) finishLabels() []Label {
	out := make([]Label, 0, len(w.labels))
	for _, r := range w.labels {
		l := r.Label
		l.Beats = len(r.times)
		if len(r.src) > 1 || len(r.macs) > 1 {
			l.SrcIPs, l.SrcMACs = r.src, r.macs
		}
		sort.Strings(l.DstIPs)
		if n := len(r.times); n > 0 {
			f := time.Unix(0, r.times[0]).UTC()
			e := time.Unix(0, r.times[n-1]).UTC()
			l.FirstBeat, l.LastBeat = &f, &e
			if n > 1 {
				l.MeanIntervalS = math.Round(float64(r.times[n-1]-r.times[0])/float64(n-1)/1e6) / 1e3
			}
			l.BeatTimes = make([]time.Time, n)
			for i, t := range r.times {
				l.BeatTimes[i] = time.Unix(0, t).UTC()
			}
		}
		out = append(out, l)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.SrcIP != b.SrcIP {
			return ipLess(a.SrcIP, b.SrcIP)
		}
		if a.DstFQDN != b.DstFQDN {
			return a.DstFQDN < b.DstFQDN
		}
		if a.DstPort != b.DstPort {
			return a.DstPort < b.DstPort
		}
		return a.Proto < b.Proto
	})
	return out
}

func ipLess(a, b string) bool {
	pa, ea := netip.ParseAddr(a)
	pb, eb := netip.ParseAddr(b)
	if ea != nil || eb != nil {
		return a < b
	}
	return pa.Less(pb)
}

func (w *world) hostLabels() []HostLabel {
	out := make([]HostLabel, 0, len(w.net.hosts))
	for _, h := range w.net.hosts {
		l := HostLabel{Scenario: w.sc.Name, Hostname: h.name, IP: h.ip.String(), MAC: h.mac.String(), VLAN: h.vlan,
			OS: h.os.String(), OSVersion: h.osVersion, Model: h.model, Note: h.note}
		if h.ip6.IsValid() {
			l.IP6 = h.ip6.String()
		}
		if h.until > 0 {
			u := time.Unix(0, h.until).UTC()
			l.Until = &u
		}
		out = append(out, l)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].IP != out[j].IP {
			return ipLess(out[i].IP, out[j].IP)
		}
		return out[i].MAC < out[j].MAC
	})
	return out
}
