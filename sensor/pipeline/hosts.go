package pipeline

import (
	"encoding/binary"
	"net/netip"

	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/beacon"
	"github.com/launchtap/launchtap/sensor/decode"
	"github.com/launchtap/launchtap/sensor/flow"
	"github.com/launchtap/launchtap/sensor/host"
	"github.com/launchtap/launchtap/sensor/netset"
	"github.com/launchtap/launchtap/sensor/shard"
)

// owners resolves the owner of each packet — the internal host whose state
// it belongs to (shard.Owner) — to that host's identity, learning address
// bindings and MAC joins from the packets in capture order first. One read
// loop owns one: the reader of a sharded replay, or each worker that reads
// its own packets.
type owners struct {
	cfg    *Config
	binder *host.Binder

	// flows is the sharded reader's flowMemo table (shard), allocated on
	// first use; memoMAC and memoAddr count the answers it gave.
	flows             *[flowMemoSize]flowMemo
	memoMAC, memoAddr uint64
}

func newOwners(cfg *Config) (*owners, error) {
	b, err := host.NewBinder(host.Config{
		BindTTL:   cfg.HostID.BindTTL,
		RouterIPs: cfg.HostID.RouterIPs,
		Internal:  cfg.Internal,
	})
	if err != nil {
		return nil, err
	}
	for _, macs := range cfg.HostMACs {
		b.JoinStatic(macs)
	}
	if cfg.identity != nil {
		b.Restore(*cfg.identity)
	}
	return &owners{cfg: cfg, binder: b}, nil
}

// owned is the host a packet belongs to, and which of its ends is that
// host's (none for a DHCPv4 message, which belongs to its client's MAC).
type owned struct {
	key host.Key
	end uint8
}

// Ends of a packet an owner can be.
const (
	ownerNone uint8 = iota
	ownerSrc
	ownerDst
)

// host learns from p, then returns the host that owns it (the rule is
// sensor/shard's). The sharded reader calls it for every packet, to shard
// by the host.
func (o *owners) host(p *decode.Packet) owned {
	o.binder.Learn(p)
	return o.resolve(p)
}

// shard learns from p, records in dst the host that owns it (host's
// answer, in the form a batch keeps), and returns the host's shard hash
// (shard.HashKey). It is host for the sharded reader, which calls it for
// every packet: nothing larger than a MAC is copied on the way, and the
// answer for an IPv4 flow direction is kept (flowMemo) while the binder's
// answers stand.
func (o *owners) shard(p *decode.Packet, dst *batchHost) uint32 {
	o.binder.Learn(p)
	if !p.Src.Is4() || !p.Dst.Is4() || shard.IsDHCP(p.Proto, p.DstPort) {
		return o.resolveShard(p, dst)
	}
	if o.flows == nil {
		o.flows = new([flowMemoSize]flowMemo)
	}
	s4, d4 := p.Src.As4(), p.Dst.As4()
	src, dstAddr := binary.BigEndian.Uint32(s4[:]), binary.BigEndian.Uint32(d4[:])
	ports := uint32(p.SrcPort)<<16 | uint32(p.DstPort)
	m := &o.flows[flowSlot(src, dstAddr, ports)]
	gen := o.binder.Generation() + 1 // 0 marks an empty entry
	if m.gen == gen && m.src == src && m.dst == dstAddr && m.ports == ports {
		*dst = m.host
		if m.host.mac != [6]byte{} {
			o.memoMAC++
		} else {
			o.memoAddr++
		}
		return m.hash
	}
	h := o.resolveShard(p, dst)
	*m = flowMemo{src: src, dst: dstAddr, ports: ports, host: *dst, hash: h, gen: gen}
	return h
}

// resolveShard is shard's answer by what the binder knows now.
func (o *owners) resolveShard(p *decode.Packet, dst *batchHost) uint32 {
	if m, ok := dhcpClient(p); ok {
		m = o.binder.Canonical(m)
		dst.mac, dst.end = m, ownerNone
		return shard.HashMAC(m)
	}
	a, end := ownerEnd(p, o.cfg.Internal)
	m := o.binder.ResolveMAC(a)
	dst.mac, dst.end = m, end
	if m == [6]byte{} {
		return shard.Hash(a)
	}
	return shard.HashMAC(m)
}

// flowMemo is the host the packets of one IPv4 flow direction belong to
// and its shard hash, as the binder answered at generation gen-1. Below
// the DHCP rule the owner of a packet is a function of its addresses and
// ports (shard.DstOwns) and of whether each address is internal, which for
// an IPv4 address never changes (learned prefixes are IPv6); the host it
// resolves to changes only with the binder's generation. IPv6 flows take
// the whole path: a learned prefix can make one of their ends internal.
type flowMemo struct {
	src, dst uint32
	ports    uint32
	host     batchHost
	hash     uint32
	gen      uint64
}

// flowMemoSize is the number of flow directions kept, direct-mapped:
// 32 KiB, more than a span's concurrently active flows.
const (
	flowMemoBits = 10
	flowMemoSize = 1 << flowMemoBits
)

func flowSlot(src, dst, ports uint32) int {
	h := (uint64(src)<<32 | uint64(dst)) * 0x9e3779b97f4a7c15
	h ^= uint64(ports) * 0xc2b2ae3d27d4eb4f
	return int(h >> (64 - flowMemoBits))
}

// stats are the binder's counters with the answers flowMemo gave counted
// as the Resolve calls they stand for.
func (o *owners) stats() host.Stats {
	s := o.binder.Stats()
	s.ByMAC += o.memoMAC
	s.ByAddr += o.memoAddr
	return s
}

// batchHost is what a batch keeps of a packet's host for the worker
// (hostOf): the host's MAC, zero when the host is its owner address itself,
// and which end of the packet that address is. An address-keyed host needs
// no more: hostOf answers with the address it is asked about. The decoder's
// verdict on the packet rides along: eight bytes a packet in all.
type batchHost struct {
	mac  [6]byte
	end  uint8
	kind decode.ErrKind
}

// resolve is the host that owns p by what the binder knows now.
func (o *owners) resolve(p *decode.Packet) owned {
	if m, ok := dhcpClient(p); ok {
		return owned{key: host.MACKey(o.binder.Canonical(m))}
	}
	a, end := ownerEnd(p, o.cfg.Internal)
	return owned{key: o.binder.Resolve(a), end: end}
}

// dhcpClient returns the client MAC of a DHCPv4 message, which owns it.
func dhcpClient(p *decode.Packet) ([6]byte, bool) {
	if p.Proto != decode.ProtoUDP || (p.DstPort != 67 && p.DstPort != 68) {
		return [6]byte{}, false
	}
	m, ok := shard.DHCPClientMAC(p.Payload)
	return m, ok && host.UsableMAC(m)
}

// ownerEnd is p's owner address (ownerOf's) and which end of p it is. The
// sharded reader asks it of every packet: all but DHCP go to the rule's
// fields directly, without filling a shard.Packet.
func ownerEnd(p *decode.Packet, internal *netset.Set) (netip.Addr, uint8) {
	if shard.IsDHCP(p.Proto, p.DstPort) {
		a := ownerOf(p, internal)
		if a == p.Src {
			return a, ownerSrc
		}
		return a, ownerDst
	}
	if shard.DstOwns(p.Src, p.Dst, internal.Contains(p.Src), internal.Contains(p.Dst), p.SrcPort, p.DstPort) && p.Dst != p.Src {
		return p.Dst, ownerDst
	}
	return p.Src, ownerSrc
}

// hostOf is the host of address a, an end of the packet in hand: the
// packet's host when a is its owner end, else the address itself (the other
// end of a packet is some other host). A worker that reads its own packets
// resolves it here, on demand — when a session starts or a lookup is made,
// not for every packet —, with the binder that has just learned from the
// packet: the answer the sharded reader gave for the same packet.
func (w *worker) hostOf(a netip.Addr) host.Key {
	if w.selfRead && w.pkt != nil {
		if _, ok := dhcpClient(w.pkt); ok {
			return host.AddrKey(a)
		}
		if o, _ := ownerEnd(w.pkt, w.cfg.Internal); o != a {
			return host.AddrKey(a)
		}
		return w.own.binder.Resolve(a)
	}
	if w.batch == nil {
		return host.AddrKey(a) // no packet in hand (a test calling a handler)
	}
	h, p := &w.batch.hosts[w.idx], &w.batch.pkts[w.idx]
	if h.mac != [6]byte{} && (h.end == ownerSrc && p.Src == a || h.end == ownerDst && p.Dst == a) {
		return host.MACKey(h.mac)
	}
	return host.AddrKey(a)
}

// sessionHost is the host a session's pairs belong to: its client's.
func sessionHost(s *flow.Session) host.Key {
	if s.HostMAC != [6]byte{} {
		return host.MACKey(s.HostMAC)
	}
	return host.AddrKey(s.ClientAddr)
}

// hostSeen is what a host's beats were sent from lately, for the alert's
// src_ips and src_macs.
type hostSeen struct {
	addrs [maxSeenAddrs]seenAt
	macs  [maxSeenMACs]seenMAC
}

type seenAt struct {
	addr netip.Addr
	last int64
}

type seenMAC struct {
	mac  [6]byte
	last int64
}

const (
	maxSeenAddrs = 8
	maxSeenMACs  = 4
)

// sawHost notes that host h beat from address src (in a frame from mac).
func (w *worker) sawHost(h host.Key, src netip.Addr, mac [6]byte, hasMAC bool, ts int64) {
	hs, ok := w.seen.Get(h)
	if !ok {
		hs = &hostSeen{}
		w.seen.Add(h, hs)
	}
	if src.IsValid() {
		oldest := 0
		for i := range hs.addrs {
			if hs.addrs[i].addr == src {
				hs.addrs[i].last = max(hs.addrs[i].last, ts)
				oldest = -1
				break
			}
			if hs.addrs[i].last < hs.addrs[oldest].last {
				oldest = i
			}
		}
		if oldest >= 0 {
			hs.addrs[oldest] = seenAt{src, ts}
		}
	}
	if hasMAC && host.UsableMAC(mac) {
		oldest := 0
		for i := range hs.macs {
			if hs.macs[i].mac == mac {
				hs.macs[i].last = max(hs.macs[i].last, ts)
				return
			}
			if hs.macs[i].last < hs.macs[oldest].last {
				oldest = i
			}
		}
		hs.macs[oldest] = seenMAC{mac, ts}
	}
}

// describeHost fills the alert's src_ips and src_macs: where the host's
// beats came from during the finding's span, oldest first.
func (w *worker) describeHost(a *alert.Alert, f *beacon.Finding) {
	a.SrcIPs, a.SrcMACs = []string{}, []string{}
	hs, ok := w.seen.Peek(f.Key.Host)
	if !ok {
		if a.SrcIP != "" {
			a.SrcIPs = append(a.SrcIPs, a.SrcIP)
		}
		if a.SrcMAC != "" {
			a.SrcMACs = append(a.SrcMACs, a.SrcMAC)
		}
		return
	}
	addrs := hs.addrs
	sortSeen(addrs[:], func(s seenAt) int64 { return s.last })
	for _, s := range addrs {
		if s.addr.IsValid() && s.last >= f.First {
			a.SrcIPs = append(a.SrcIPs, s.addr.String())
		}
	}
	macs := hs.macs
	sortSeen(macs[:], func(s seenMAC) int64 { return s.last })
	for _, s := range macs {
		if s.last >= f.First && s.mac != [6]byte{} {
			a.SrcMACs = append(a.SrcMACs, host.MACString(s.mac))
		}
	}
}

// sortSeen orders a few entries by time (insertion sort: at most eight).
func sortSeen[T any](s []T, at func(T) int64) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && at(s[j]) < at(s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
