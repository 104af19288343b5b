package synth

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// IPv6 on the office segment: the router's Neighbor Discovery (RFC 4861),
// the MLDv2 reports hosts send joining solicited-node groups (RFC 3810),
// SLAAC with RFC 8981 temporary addresses, and DHCPv6 (RFC 8415), as the
// identity scenarios need them on the wire.

var (
	allNodes     = netip.MustParseAddr("ff02::1")
	allRouters   = netip.MustParseAddr("ff02::2")
	dhcp6Servers = netip.MustParseAddr("ff02::1:2")
	mldv2Routers = netip.MustParseAddr("ff02::16")
	unspecified6 = netip.IPv6Unspecified()
	// The gateway's link-local address is its modified EUI-64, as routers
	// derive it.
	gatewayLL = eui64(netip.MustParsePrefix("fe80::/64"), gatewayMAC)
)

// eui64 is the address in prefix whose interface id is mac's modified EUI-64.
func eui64(prefix netip.Prefix, mac net.HardwareAddr) netip.Addr {
	b := prefix.Addr().As16()
	b[8], b[9], b[10] = mac[0]^0x02, mac[1], mac[2]
	b[11], b[12] = 0xff, 0xfe
	b[13], b[14], b[15] = mac[3], mac[4], mac[5]
	return netip.AddrFrom16(b)
}

// randomIID is an address in prefix with a random interface id, as macOS
// makes its link-local, stable (RFC 7217) and temporary (RFC 8981) ones:
// the universal/local bit says nothing about a MAC.
func randomIID(prefix netip.Prefix, r *rand.Rand) netip.Addr {
	b := prefix.Addr().As16()
	binary.BigEndian.PutUint64(b[8:], r.Uint64()&^(1<<57))
	return netip.AddrFrom16(b)
}

// solicitedNode is a's solicited-node multicast group (RFC 4291 2.7.1).
func solicitedNode(a netip.Addr) netip.Addr {
	b := a.As16()
	return netip.AddrFrom16([16]byte{0xff, 0x02, 10: 0, 11: 1, 12: 0xff, 13: b[13], 14: b[14], 15: b[15]})
}

// multicastMAC is the Ethernet group of IPv6 multicast address a (RFC 2464 7).
func multicastMAC(a netip.Addr) net.HardwareAddr {
	b := a.As16()
	return net.HardwareAddr{0x33, 0x33, b[12], b[13], b[14], b[15]}
}

// ndpMsg is one ICMPv6 Neighbor Discovery message.
type ndpMsg struct {
	at   int64
	hdr  ipHdr
	tc   layers.ICMPv6TypeCode
	body gopacket.SerializableLayer
}

type ndps struct {
	m []ndpMsg
	i int
}

func (n *ndps) step(w *world) (int64, bool) {
	m := &n.m[n.i]
	n.i++
	w.sendICMPv6(m)
	if n.i >= len(n.m) {
		return 0, false
	}
	return n.m[n.i].at, true
}

func (w *world) sendNDP(m ...ndpMsg) {
	if len(m) > 0 {
		w.at(m[0].at, &ndps{m: m})
	}
}

func (w *world) sendICMPv6(m *ndpMsg) bool {
	nl := w.l3(&m.hdr, layers.IPProtocolICMPv6)
	ic := &layers.ICMPv6{TypeCode: m.tc}
	if err := ic.SetNetworkLayerForChecksum(nl); err != nil {
		w.err = err
		return false
	}
	w.ls = append(w.ls, ic, m.body)
	if err := gopacket.SerializeLayers(w.sbuf, serOpts, w.ls...); err != nil {
		w.err = fmt.Errorf("ndp: %w", err)
		return false
	}
	return w.writeFrame(w.sbuf.Bytes())
}

func ndpHdr(srcMAC, dstMAC net.HardwareAddr, src, dst netip.Addr, vlan uint16) ipHdr {
	return ipHdr{srcMAC: srcMAC, dstMAC: dstMAC, src: src, dst: dst, ttl: 255, vlan: vlan}
}

func llOpt(t layers.ICMPv6Opt, mac net.HardwareAddr) layers.ICMPv6Option {
	return layers.ICMPv6Option{Type: t, Data: append([]byte(nil), mac...)}
}

// routerAdvert is the gateway's Router Advertisement at t to all nodes:
// its link-layer address, MTU 1500 and each prefix autonomous and on-link
// (lifetimes of a common router's defaults: valid 30 days, preferred 7).
// managed sets the M and O flags: addresses also from DHCPv6.
func (w *world) routerAdvert(t int64, managed bool, prefixes ...netip.Prefix) ndpMsg {
	opts := layers.ICMPv6Options{llOpt(layers.ICMPv6OptSourceAddress, gatewayMAC),
		{Type: layers.ICMPv6OptMTU, Data: []byte{0, 0, 0, 0, 0x05, 0xdc}}}
	for _, p := range prefixes {
		d := make([]byte, 30)
		d[0] = byte(p.Bits())
		d[1] = 0xc0 // on-link, autonomous
		binary.BigEndian.PutUint32(d[2:], 2592000)
		binary.BigEndian.PutUint32(d[6:], 604800)
		a := p.Addr().As16()
		copy(d[14:], a[:])
		opts = append(opts, layers.ICMPv6Option{Type: layers.ICMPv6OptPrefixInfo, Data: d})
	}
	var flags uint8
	if managed {
		flags = 0xc0
	}
	return ndpMsg{at: t, hdr: ndpHdr(gatewayMAC, multicastMAC(allNodes), gatewayLL, allNodes, 0),
		tc:   layers.CreateICMPv6TypeCode(layers.ICMPv6TypeRouterAdvertisement, 0),
		body: &layers.ICMPv6RouterAdvertisement{HopLimit: 64, Flags: flags, RouterLifetime: 1800, Options: opts}}
}

// routerAdverts sends the gateway's unsolicited Router Advertisements from
// t to the scenario's end, every 200-600 s (RFC 4861's MinRtrAdvInterval
// and MaxRtrAdvInterval defaults).
func (w *world) routerAdverts(t int64, managed bool, prefixes ...netip.Prefix) {
	r := w.rngFor("router-adverts")
	w.every(t, func(w *world) int64 {
		w.sendNDP(w.routerAdvert(w.now, managed, prefixes...))
		return w.now + uniform(r, 200*sec, 600*sec)
	})
}

// routerSolicit is what a host does when its IPv6 interface comes up at t:
// a Router Solicitation from its link-local address, which the router
// answers at once with its advertisement.
func (w *world) routerSolicit(h *host, ll netip.Addr, t int64, managed bool, prefixes ...netip.Prefix) {
	rs := ndpMsg{at: t, hdr: ndpHdr(h.mac, multicastMAC(allRouters), ll, allRouters, h.vlan),
		tc:   layers.CreateICMPv6TypeCode(layers.ICMPv6TypeRouterSolicitation, 0),
		body: &layers.ICMPv6RouterSolicitation{Options: layers.ICMPv6Options{llOpt(layers.ICMPv6OptSourceAddress, h.mac)}}}
	ra := w.routerAdvert(t+2*ms+h.rng.Int64N(3*ms), managed, prefixes...)
	w.sendNDP(rs, ra)
}

// dad is Duplicate Address Detection for a at t (RFC 4862 5.4.2): the host
// joins a's solicited-node group (an MLDv2 report from the unspecified
// address, RFC 3810 5.2, with the Router Alert hop-by-hop option), then a
// Neighbor Solicitation from the unspecified address to that group, with
// no link-layer option. Nobody answers.
func (w *world) dad(h *host, a netip.Addr, t int64) {
	g := solicitedNode(a)
	mld := ipHdr{srcMAC: h.mac, dstMAC: multicastMAC(mldv2Routers), src: unspecified6, dst: mldv2Routers, ttl: 1, vlan: h.vlan, routerAlert: true}
	report := ndpMsg{at: t, hdr: mld, tc: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeMLDv2MulticastListenerReportMessageV2, 0),
		body: &layers.MLDv2MulticastListenerReportMessage{NumberOfMulticastAddressRecords: 1,
			MulticastAddressRecords: []layers.MLDv2MulticastAddressRecord{{RecordType: layers.MLDv2MulticastAddressRecordTypeChangeToExcludeMode, MulticastAddress: g.AsSlice()}}}}
	ns := ndpMsg{at: t + 300*us + h.rng.Int64N(ms), hdr: ndpHdr(h.mac, multicastMAC(g), unspecified6, g, h.vlan),
		tc:   layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborSolicitation, 0),
		body: &layers.ICMPv6NeighborSolicitation{TargetAddress: a.AsSlice()}}
	w.sendNDP(report, ns)
}

// neighborExchange is address resolution at t: from asks (multicast to
// the target's solicited-node group, with its link-layer address) and the
// target answers (unicast, solicited and override, with its own). router
// marks which side is the gateway (the R flag of its advertisement).
func (w *world) neighborExchange(t int64, fromMAC net.HardwareAddr, from netip.Addr, toMAC net.HardwareAddr, target netip.Addr, toIsRouter bool, vlan uint16, gap int64) {
	g := solicitedNode(target)
	ns := ndpMsg{at: t, hdr: ndpHdr(fromMAC, multicastMAC(g), from, g, vlan),
		tc: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborSolicitation, 0),
		body: &layers.ICMPv6NeighborSolicitation{TargetAddress: target.AsSlice(),
			Options: layers.ICMPv6Options{llOpt(layers.ICMPv6OptSourceAddress, fromMAC)}}}
	flags := uint8(0x60)
	if toIsRouter {
		flags |= 0x80
	}
	na := ndpMsg{at: t + gap, hdr: ndpHdr(toMAC, fromMAC, target, from, vlan),
		tc: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborAdvertisement, 0),
		body: &layers.ICMPv6NeighborAdvertisement{Flags: flags, TargetAddress: target.AsSlice(),
			Options: layers.ICMPv6Options{llOpt(layers.ICMPv6OptTargetAddress, toMAC)}}}
	w.sendNDP(ns, na)
}

// neighborProbe is Neighbor Unreachability Detection at t (RFC 4861 7.3):
// a unicast solicitation to a neighbour already known and its answer.
func (w *world) neighborProbe(t int64, fromMAC net.HardwareAddr, from netip.Addr, toMAC net.HardwareAddr, target netip.Addr, toIsRouter bool, vlan uint16, gap int64) {
	ns := ndpMsg{at: t, hdr: ndpHdr(fromMAC, toMAC, from, target, vlan),
		tc: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborSolicitation, 0),
		body: &layers.ICMPv6NeighborSolicitation{TargetAddress: target.AsSlice(),
			Options: layers.ICMPv6Options{llOpt(layers.ICMPv6OptSourceAddress, fromMAC)}}}
	flags := uint8(0x40) // solicited; no override for a probe answer
	if toIsRouter {
		flags |= 0x80
	}
	na := ndpMsg{at: t + gap, hdr: ndpHdr(toMAC, fromMAC, target, from, vlan),
		tc:   layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborAdvertisement, 0),
		body: &layers.ICMPv6NeighborAdvertisement{Flags: flags, TargetAddress: target.AsSlice()}}
	w.sendNDP(ns, na)
}

// duidLLT is a DHCPv6 DUID-LLT (RFC 8415 11.2) from mac and a time in
// seconds since 2000-01-01: macOS makes one from its first interface and
// uses it on every interface.
func duidLLT(mac net.HardwareAddr, t uint32) []byte {
	b := []byte{0, 1, 0, 1}
	b = binary.BigEndian.AppendUint32(b, t)
	return append(b, mac...)
}

// dhcpv6 emits a stateful DHCPv6 exchange at t from h's link-local address
// ll: SOLICIT, ADVERTISE, REQUEST, REPLY, binding addr to IA_NA iaid under
// the client's DUID (the same DUID on each interface of one Mac; the IAID
// differs per interface).
func (w *world) dhcpv6(h *host, ll netip.Addr, t int64, duid []byte, iaid uint32, addr netip.Addr) {
	r := h.rng
	xid := []byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())}
	srvDUID := append([]byte{0, 3, 0, 1}, gatewayMAC...) // DUID-LL
	ia := func(withAddr bool) []byte {
		b := binary.BigEndian.AppendUint32(nil, iaid)
		if !withAddr {
			return append(b, make([]byte, 8)...) // T1, T2: the server chooses
		}
		b = binary.BigEndian.AppendUint32(b, 43200)
		b = binary.BigEndian.AppendUint32(b, 69120)
		o := addr.AsSlice()
		o = binary.BigEndian.AppendUint32(o, 86400)
		o = binary.BigEndian.AppendUint32(o, 172800)
		b = binary.BigEndian.AppendUint16(b, uint16(layers.DHCPv6OptIAAddr))
		b = binary.BigEndian.AppendUint16(b, uint16(len(o)))
		return append(b, o...)
	}
	oro := []byte{0, 23, 0, 24} // DNS servers, domain search list
	msg := func(mt layers.DHCPv6MsgType, elapsed uint16, opts ...layers.DHCPv6Option) []byte {
		d := &layers.DHCPv6{MsgType: mt, TransactionID: xid, Options: opts}
		if mt == layers.DHCPv6MsgTypeSolicit || mt == layers.DHCPv6MsgTypeRequest {
			d.Options = append(d.Options, layers.NewDHCPv6Option(layers.DHCPv6OptElapsedTime, binary.BigEndian.AppendUint16(nil, elapsed)))
		}
		buf := gopacket.NewSerializeBuffer()
		if err := d.SerializeTo(buf, gopacket.SerializeOptions{FixLengths: true}); err != nil {
			w.err = fmt.Errorf("dhcpv6: %w", err)
			return nil
		}
		return append([]byte(nil), buf.Bytes()...)
	}
	cid := layers.NewDHCPv6Option(layers.DHCPv6OptClientID, duid)
	sid := layers.NewDHCPv6Option(layers.DHCPv6OptServerID, srvDUID)
	dns6 := layers.NewDHCPv6Option(layers.DHCPv6OptDNSServers, resolverPeer6.ip.AsSlice())
	cli := ipHdr{srcMAC: h.mac, dstMAC: multicastMAC(dhcp6Servers), src: ll, dst: dhcp6Servers, ttl: 1, vlan: h.vlan}
	srv := ipHdr{srcMAC: gatewayMAC, dstMAC: h.mac, src: gatewayLL, dst: ll, ttl: 64, vlan: h.vlan}
	var d []dgram
	add := func(at int64, hd ipHdr, sp, dp uint16, b []byte) {
		d = append(d, dgram{at: at, hdr: hd, sport: sp, dport: dp, payload: b})
	}
	add(t, cli, 546, 547, msg(layers.DHCPv6MsgTypeSolicit, 0, cid,
		layers.NewDHCPv6Option(layers.DHCPv6OptIANA, ia(false)), layers.NewDHCPv6Option(layers.DHCPv6OptOro, oro)))
	t += 3*ms + r.Int64N(8*ms)
	add(t, srv, 547, 546, msg(layers.DHCPv6MsgTypeAdvertise, 0, cid, sid,
		layers.NewDHCPv6Option(layers.DHCPv6OptIANA, ia(true)), dns6))
	t += 1000*ms + r.Int64N(100*ms) // RFC 8415 18.2.1: the client collects advertisements for a second
	add(t, cli, 546, 547, msg(layers.DHCPv6MsgTypeRequest, 100, cid, sid,
		layers.NewDHCPv6Option(layers.DHCPv6OptIANA, ia(true)), layers.NewDHCPv6Option(layers.DHCPv6OptOro, oro)))
	t += 3*ms + r.Int64N(8*ms)
	add(t, srv, 547, 546, msg(layers.DHCPv6MsgTypeReply, 0, cid, sid,
		layers.NewDHCPv6Option(layers.DHCPv6OptIANA, ia(true)), dns6))
	w.sendDgrams(d, nil)
}
