package pipeline

import (
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

// ownerEnd is p's owner address and which end of p it is.
func ownerEnd(p *decode.Packet, internal *netset.Set) (netip.Addr, uint8) {
	a := ownerOf(p, internal)
	if a == p.Src {
		return a, ownerSrc
	}
	return a, ownerDst
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
	if h.key.IsMAC() && (h.end == ownerSrc && p.Src == a || h.end == ownerDst && p.Dst == a) {
		return h.key
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
