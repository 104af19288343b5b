package decode

import (
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/launchtap/launchtap/sensor/capture"
)

func outerEth(et layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: macB, DstMAC: macB, EthernetType: et}
}

func gre(proto layers.EthernetType) *layers.GRE { return &layers.GRE{Protocol: proto} }

// innerEthTCP is the mirrored frame a span feed carries.
func innerEthTCP(tb testing.TB) []byte { return ethIPv4TCP(tb) }

func tunnelCases() []tcase {
	noMAC := func(s *sum) { s.SrcMAC = "" }
	return []tcase{
		{"gre/ipv4/tcp", capture.LinkEthernet, func(tb testing.TB) []byte {
			return ser(tb, outerEth(layers.EthernetTypeIPv4), v4outer(layers.IPProtocolGRE), gre(layers.EthernetTypeIPv4),
				gopacket.Payload(ipv4TCP(tb)))
		}, with(tcp4, func(s *sum) { noMAC(s); s.Tunnel = TunnelGRE })},
		{"gre-csum-key-seq/ipv6/tcp", capture.LinkEthernet, func(tb testing.TB) []byte {
			g := &layers.GRE{Protocol: layers.EthernetTypeIPv6, ChecksumPresent: true, KeyPresent: true, Key: 77, SeqPresent: true, Seq: 9}
			return ser(tb, outerEth(layers.EthernetTypeIPv4), v4outer(layers.IPProtocolGRE), g, v6(layers.IPProtocolTCP), psh(), hello)
		}, with(tcp6, func(s *sum) { noMAC(s); s.Tunnel = TunnelGRE })},
		{"gre-key/teb/802.1q/ipv4/tcp", capture.LinkEthernet, func(tb testing.TB) []byte {
			g := &layers.GRE{Protocol: layers.EthernetTypeTransparentEthernetBridging, KeyPresent: true, Key: 1}
			return ser(tb, outerEth(layers.EthernetTypeIPv4), v4outer(layers.IPProtocolGRE), g,
				eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 300, Type: layers.EthernetTypeIPv4},
				v4(layers.IPProtocolTCP), psh(), hello)
		}, with(tcp4, func(s *sum) { s.Tunnel, s.VLAN = TunnelGRE, 300 })},
		{"gre/ipv4/icmp", capture.LinkEthernet, func(tb testing.TB) []byte {
			return ser(tb, outerEth(layers.EthernetTypeIPv4), v4outer(layers.IPProtocolGRE), gre(layers.EthernetTypeIPv4),
				v4(layers.IPProtocolICMPv4), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0)})
		}, sum{Kind: ErrOtherTransport, Src: "192.168.1.10", Dst: "93.184.216.34", Proto: 1, Tunnel: TunnelGRE}},
		{"gre/routing-bit", capture.LinkEthernet, func(tb testing.TB) []byte {
			return ser(tb, outerEth(layers.EthernetTypeIPv4), v4outer(layers.IPProtocolGRE), raw{0x40, 0, 0x08, 0, 0, 0, 0, 0},
				gopacket.Payload(ipv4TCP(tb)))
		}, sum{Kind: ErrTunnel, Src: "10.99.0.1", Dst: "10.99.0.2", Proto: 47, SrcMAC: "02:00:00:00:00:0b"}},
		{"gre/version1-pptp", capture.LinkEthernet, func(tb testing.TB) []byte {
			return ser(tb, outerEth(layers.EthernetTypeIPv4), v4outer(layers.IPProtocolGRE), raw{0x30, 0x81, 0x88, 0x0b, 0, 4, 0, 1, 0, 0, 0, 1},
				raw{0xff, 0x03, 0x00, 0x21})
		}, sum{Kind: ErrOtherTransport, Src: "10.99.0.1", Dst: "10.99.0.2", Proto: 47, SrcMAC: "02:00:00:00:00:0b"}},
		{"gre/unknown-protocol", capture.LinkEthernet, func(tb testing.TB) []byte {
			return ser(tb, outerEth(layers.EthernetTypeIPv4), v4outer(layers.IPProtocolGRE), gre(0x880b), raw{0xff, 0x03})
		}, sum{Kind: ErrOtherTransport, Src: "10.99.0.1", Dst: "10.99.0.2", Proto: 47, SrcMAC: "02:00:00:00:00:0b"}},
		{"gre/over-ipv6", capture.LinkEthernet, func(tb testing.TB) []byte {
			o := v6(layers.IPProtocolGRE)
			o.SrcIP, o.DstIP = ip4OA.To16(), ip4OB.To16()
			return ser(tb, outerEth(layers.EthernetTypeIPv6), o, gre(layers.EthernetTypeIPv4), gopacket.Payload(ipv4TCP(tb)))
		}, with(tcp4, func(s *sum) { noMAC(s); s.Tunnel = TunnelGRE })},

		{"erspan2/802.1q", capture.LinkEthernet, func(tb testing.TB) []byte {
			return ser(tb, outerEth(layers.EthernetTypeIPv4), v4outer(layers.IPProtocolGRE),
				&layers.GRE{Protocol: layers.EthernetTypeERSPAN, SeqPresent: true, Seq: 5},
				&layers.ERSPANII{Version: 1, VLANIdentifier: 12, SessionID: 20, Index: 1}, gopacket.Payload(innerEthTCP(tb)))
		}, with(tcp4, func(s *sum) { s.Tunnel, s.VLAN = TunnelERSPAN2, 12 })},
		{"erspan2/inner-vlan-wins", capture.LinkEthernet, func(tb testing.TB) []byte {
			return ser(tb, outerEth(layers.EthernetTypeIPv4), v4outer(layers.IPProtocolGRE),
				&layers.GRE{Protocol: layers.EthernetTypeERSPAN, SeqPresent: true},
				&layers.ERSPANII{Version: 1, VLANIdentifier: 12}, eth(layers.EthernetTypeDot1Q),
				&layers.Dot1Q{VLANIdentifier: 13, Type: layers.EthernetTypeIPv6}, v6(layers.IPProtocolTCP), psh(), hello)
		}, with(tcp6, func(s *sum) { s.Tunnel, s.VLAN = TunnelERSPAN2, 13 })},
		{"erspan1/no-header", capture.LinkEthernet, func(tb testing.TB) []byte {
			return ser(tb, outerEth(layers.EthernetTypeIPv4), v4outer(layers.IPProtocolGRE), gre(layers.EthernetTypeERSPAN),
				gopacket.Payload(innerEthTCP(tb)))
		}, with(tcp4, func(s *sum) { s.Tunnel = TunnelERSPAN2 })},
		{"erspan2/bad-version", capture.LinkEthernet, func(tb testing.TB) []byte {
			return ser(tb, outerEth(layers.EthernetTypeIPv4), v4outer(layers.IPProtocolGRE),
				&layers.GRE{Protocol: layers.EthernetTypeERSPAN, SeqPresent: true},
				&layers.ERSPANII{Version: 2}, gopacket.Payload(innerEthTCP(tb)))
		}, sum{Kind: ErrTunnel, Src: "10.99.0.1", Dst: "10.99.0.2", Proto: 47, SrcMAC: "02:00:00:00:00:0b"}},
		{"erspan3/ethernet", capture.LinkEthernet, func(tb testing.TB) []byte {
			return ser(tb, outerEth(layers.EthernetTypeIPv4), v4outer(layers.IPProtocolGRE),
				&layers.GRE{Protocol: 0x22eb, SeqPresent: true}, erspan3Header(0, 0, false), gopacket.Payload(innerEthTCP(tb)))
		}, with(tcp4, func(s *sum) { s.Tunnel = TunnelERSPAN3 })},
		{"erspan3/platform-subheader", capture.LinkEthernet, func(tb testing.TB) []byte {
			return ser(tb, outerEth(layers.EthernetTypeIPv4), v4outer(layers.IPProtocolGRE),
				&layers.GRE{Protocol: 0x22eb, SeqPresent: true}, erspan3Header(44, 0, true), gopacket.Payload(innerEthTCP(tb)))
		}, with(tcp4, func(s *sum) { s.Tunnel, s.VLAN = TunnelERSPAN3, 44 })},
		{"erspan3/ip-frame-type", capture.LinkEthernet, func(tb testing.TB) []byte {
			return ser(tb, outerEth(layers.EthernetTypeIPv4), v4outer(layers.IPProtocolGRE),
				&layers.GRE{Protocol: 0x22eb, SeqPresent: true}, erspan3Header(0, 2, true), gopacket.Payload(ipv4TCP(tb)))
		}, with(tcp4, func(s *sum) { noMAC(s); s.Tunnel = TunnelERSPAN3 })},
		{"erspan3/unknown-frame-type", capture.LinkEthernet, func(tb testing.TB) []byte {
			return ser(tb, outerEth(layers.EthernetTypeIPv4), v4outer(layers.IPProtocolGRE),
				&layers.GRE{Protocol: 0x22eb, SeqPresent: true}, erspan3Header(0, 5, false), gopacket.Payload(innerEthTCP(tb)))
		}, sum{Kind: ErrTunnel, Src: "10.99.0.1", Dst: "10.99.0.2", Proto: 47, SrcMAC: "02:00:00:00:00:0b"}},

		{"vxlan/ethernet/ipv4/tcp", capture.LinkEthernet, func(tb testing.TB) []byte {
			return ser(tb, outerEth(layers.EthernetTypeIPv4), v4outer(layers.IPProtocolUDP), udp(61000, 4789),
				&layers.VXLAN{ValidIDFlag: true, VNI: 4242}, gopacket.Payload(innerEthTCP(tb)))
		}, with(tcp4, func(s *sum) { s.Tunnel = TunnelVXLAN })},
		{"vxlan-gpe/ipv6", capture.LinkEthernet, func(tb testing.TB) []byte {
			return ser(tb, outerEth(layers.EthernetTypeIPv4), v4outer(layers.IPProtocolUDP), udp(61000, 4790),
				raw{0x0c, 0, 0, 0x02, 0, 0, 1, 0}, v6(layers.IPProtocolTCP), psh(), hello)
		}, with(tcp6, func(s *sum) { noMAC(s); s.Tunnel = TunnelVXLAN })},
		{"vxlan/i-flag-clear-stays-udp", capture.LinkEthernet, func(tb testing.TB) []byte {
			return ser(tb, outerEth(layers.EthernetTypeIPv4), v4outer(layers.IPProtocolUDP), udp(4789, 33000),
				gopacket.Payload("not vxlan at all"))
		}, sum{Kind: OK, Src: "10.99.0.1", Dst: "10.99.0.2", Proto: 17, SrcPort: 4789, DstPort: 33000,
			PayloadLen: 16, CapPayload: 16, SrcMAC: "02:00:00:00:00:0b"}},
		{"vxlan/reserved-bits-stay-udp", capture.LinkEthernet, func(tb testing.TB) []byte {
			// A DNS answer to a client whose ephemeral port is 4789: ID 0x0801, one answer.
			return ser(tb, outerEth(layers.EthernetTypeIPv4), v4outer(layers.IPProtocolUDP), udp(53, 4789),
				raw{0x08, 0x01, 0x81, 0x80, 0, 1, 0, 1}, gopacket.Payload(make([]byte, 40)))
		}, sum{Kind: OK, Src: "10.99.0.1", Dst: "10.99.0.2", Proto: 17, SrcPort: 53, DstPort: 4789,
			PayloadLen: 48, CapPayload: 48, SrcMAC: "02:00:00:00:00:0b"}},
		{"vxlan-gbp/ethernet/tcp", capture.LinkEthernet, func(tb testing.TB) []byte {
			return ser(tb, outerEth(layers.EthernetTypeIPv4), v4outer(layers.IPProtocolUDP), udp(61000, 4789),
				&layers.VXLAN{ValidIDFlag: true, VNI: 7, GBPExtension: true, GBPGroupPolicyID: 99}, gopacket.Payload(innerEthTCP(tb)))
		}, with(tcp4, func(s *sum) { s.Tunnel = TunnelVXLAN })},
		{"vxlan-gpe/unknown-next-protocol-stays-udp", capture.LinkEthernet, func(tb testing.TB) []byte {
			return ser(tb, outerEth(layers.EthernetTypeIPv4), v4outer(layers.IPProtocolUDP), udp(61000, 4790),
				raw{0x0c, 0, 0, 0x04, 0, 0, 1, 0}, gopacket.Payload(make([]byte, 20)))
		}, sum{Kind: OK, Src: "10.99.0.1", Dst: "10.99.0.2", Proto: 17, SrcPort: 61000, DstPort: 4790,
			PayloadLen: 28, CapPayload: 28, SrcMAC: "02:00:00:00:00:0b"}},
		{"erspan2/vxlan/ethernet/tcp", capture.LinkEthernet, func(tb testing.TB) []byte {
			vx := ser(tb, eth(layers.EthernetTypeIPv4), v4outer(layers.IPProtocolUDP), udp(50000, 4789),
				&layers.VXLAN{ValidIDFlag: true, VNI: 1}, gopacket.Payload(innerEthTCP(tb)))
			return ser(tb, outerEth(layers.EthernetTypeIPv4), v4outer(layers.IPProtocolGRE),
				&layers.GRE{Protocol: layers.EthernetTypeERSPAN, SeqPresent: true}, &layers.ERSPANII{Version: 1}, gopacket.Payload(vx))
		}, with(tcp4, func(s *sum) { s.Tunnel = TunnelERSPAN2 })},
		{"gre-nested-3", capture.LinkRaw, func(tb testing.TB) []byte {
			b := ipv4TCP(tb)
			for i := 0; i < maxTunnelDepth; i++ {
				b = ser(tb, v4outer(layers.IPProtocolGRE), gre(layers.EthernetTypeIPv4), gopacket.Payload(b))
			}
			return b
		}, with(tcp4, func(s *sum) { s.SrcMAC, s.Tunnel = "", TunnelGRE })},
		{"gre-nested-too-deep", capture.LinkRaw, func(tb testing.TB) []byte {
			b := ipv4TCP(tb)
			for i := 0; i < maxTunnelDepth+1; i++ {
				b = ser(tb, v4outer(layers.IPProtocolGRE), gre(layers.EthernetTypeIPv4), gopacket.Payload(b))
			}
			return b
		}, sum{Kind: ErrTunnel, Src: "10.99.0.1", Dst: "10.99.0.2", Proto: 47, Tunnel: TunnelGRE}},
	}
}
