package synth

import (
	"net"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// arpMsg is one ARP frame.
type arpMsg struct {
	at                 int64
	op                 uint16
	ethSrc, ethDst     net.HardwareAddr
	senderMAC          net.HardwareAddr
	senderIP, targetIP netip.Addr
	targetMAC          net.HardwareAddr
	vlan               uint16
}

type arps struct {
	m []arpMsg
	i int
}

func (a *arps) step(w *world) (int64, bool) {
	m := &a.m[a.i]
	a.i++
	w.sendARP(m)
	if a.i >= len(a.m) {
		return 0, false
	}
	return a.m[a.i].at, true
}

var zeroMAC = net.HardwareAddr{0, 0, 0, 0, 0, 0}

// arpJoin is what a host does on ARP once DHCP has bound its address at t:
// a gratuitous ARP announcing it, then resolving the gateway. It draws no
// randomness, so adding it never shifts a scenario's other timing.
func (w *world) arpJoin(h *host, t int64) {
	w.at(t, &arps{m: []arpMsg{
		{at: t, op: layers.ARPRequest, ethSrc: h.mac, ethDst: bcastMAC, senderMAC: h.mac, senderIP: h.ip,
			targetMAC: zeroMAC, targetIP: h.ip, vlan: h.vlan},
		{at: t + 700*us, op: layers.ARPRequest, ethSrc: h.mac, ethDst: bcastMAC, senderMAC: h.mac, senderIP: h.ip,
			targetMAC: zeroMAC, targetIP: gatewayIP, vlan: h.vlan},
		{at: t + 950*us, op: layers.ARPReply, ethSrc: gatewayMAC, ethDst: h.mac, senderMAC: gatewayMAC, senderIP: gatewayIP,
			targetMAC: h.mac, targetIP: h.ip, vlan: h.vlan},
	}})
}

func (w *world) sendARP(m *arpMsg) bool {
	w.eth = layers.Ethernet{SrcMAC: m.ethSrc, DstMAC: m.ethDst, EthernetType: layers.EthernetTypeARP}
	w.ls = append(w.ls[:0], &w.eth)
	if m.vlan != 0 {
		w.eth.EthernetType = layers.EthernetTypeDot1Q
		w.dot1q = layers.Dot1Q{VLANIdentifier: m.vlan, Type: layers.EthernetTypeARP}
		w.ls = append(w.ls, &w.dot1q)
	}
	a := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
		Operation: m.op, SourceHwAddress: m.senderMAC, SourceProtAddress: m.senderIP.AsSlice(),
		DstHwAddress: m.targetMAC, DstProtAddress: m.targetIP.AsSlice()}
	w.ls = append(w.ls, a)
	if err := gopacket.SerializeLayers(w.sbuf, serOpts, w.ls...); err != nil {
		w.err = err
		return false
	}
	return w.writeFrame(w.sbuf.Bytes())
}
