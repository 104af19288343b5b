package decode

import (
	"encoding/binary"
	"net/netip"
	"reflect"
	"testing"
	"unsafe"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/launchtap/launchtap/sensor/capture"
)

// sum is the part of a Packet the table tests pin down.
type sum struct {
	Kind             ErrKind
	Src, Dst         string
	Proto            uint8
	SrcPort, DstPort uint16
	VLAN             uint16
	Tunnel           Tunnel
	Fragment         bool
	IPOptLen         uint8
	PayloadLen       uint32
	CapPayload       int
	SrcMAC           string // "" when the Packet has no MAC
}

func summarize(k ErrKind, p *Packet) sum {
	s := sum{Kind: k, Proto: p.Proto, SrcPort: p.SrcPort, DstPort: p.DstPort, VLAN: p.VLAN,
		Tunnel: p.Tunnel, Fragment: p.Fragment, IPOptLen: p.IPOptLen, PayloadLen: p.PayloadLen,
		CapPayload: len(p.Payload)}
	if p.Src.IsValid() {
		s.Src = p.Src.String()
	}
	if p.Dst.IsValid() {
		s.Dst = p.Dst.String()
	}
	if p.HasMAC {
		s.SrcMAC = (netHW(p.SrcMAC[:])).String()
	}
	return s
}

type netHW []byte

func (h netHW) String() string {
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 17)
	for i, b := range h {
		if i > 0 {
			out = append(out, ':')
		}
		out = append(out, hex[b>>4], hex[b&15])
	}
	return string(out)
}

// Expected summaries for the standard inner packets.
var (
	tcp4 = sum{Kind: OK, Src: "192.168.1.10", Dst: "93.184.216.34", Proto: 6, SrcPort: 51000, DstPort: 443,
		PayloadLen: 18, CapPayload: 18, SrcMAC: "02:00:00:00:00:0a"}
	tcp6 = sum{Kind: OK, Src: "fd00::10", Dst: "2001:db8::34", Proto: 6, SrcPort: 51000, DstPort: 443,
		PayloadLen: 18, CapPayload: 18, SrcMAC: "02:00:00:00:00:0a"}
)

func with(s sum, f func(*sum)) sum { f(&s); return s }

type tcase struct {
	name  string
	link  capture.LinkType
	build func(testing.TB) []byte
	want  sum
}

func cases() []tcase {
	noMAC := func(s *sum) { s.SrcMAC = "" }
	synSum := func(s *sum) { s.PayloadLen, s.CapPayload = 0, 0 }
	return []tcase{
		// Ethernet and VLAN stacks.
		{"eth/ipv4/tcp", capture.LinkEthernet, ethIPv4TCP, tcp4},
		{"eth/ipv4/tcp-syn-options", capture.LinkEthernet, func(tb testing.TB) []byte {
			return ser(tb, eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolTCP), syn())
		}, with(tcp4, synSum)},
		{"eth/ipv4/udp", capture.LinkEthernet, func(tb testing.TB) []byte {
			return ser(tb, eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolUDP), udp(53000, 53), gopacket.Payload("0123456789"))
		}, with(tcp4, func(s *sum) { s.Proto, s.SrcPort, s.DstPort, s.PayloadLen, s.CapPayload = 17, 53000, 53, 10, 10 })},
		{"eth/ipv6/tcp", capture.LinkEthernet, func(tb testing.TB) []byte {
			return ser(tb, eth(layers.EthernetTypeIPv6), v6(layers.IPProtocolTCP), psh(), hello)
		}, tcp6},
		{"eth/ipv6/udp", capture.LinkEthernet, func(tb testing.TB) []byte {
			return ser(tb, eth(layers.EthernetTypeIPv6), v6(layers.IPProtocolUDP), udp(5353, 5353), gopacket.Payload("abc"))
		}, with(tcp6, func(s *sum) { s.Proto, s.SrcPort, s.DstPort, s.PayloadLen, s.CapPayload = 17, 5353, 5353, 3, 3 })},
		{"eth/802.1q/ipv4/tcp", capture.LinkEthernet, func(tb testing.TB) []byte {
			return ser(tb, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeIPv4},
				v4(layers.IPProtocolTCP), psh(), hello)
		}, with(tcp4, func(s *sum) { s.VLAN = 100 })},
		{"eth/802.1ad/802.1q/ipv6/tcp", capture.LinkEthernet, func(tb testing.TB) []byte {
			return ser(tb, eth(layers.EthernetTypeQinQ), &layers.Dot1Q{VLANIdentifier: 10, Type: layers.EthernetTypeDot1Q},
				&layers.Dot1Q{VLANIdentifier: 200, Type: layers.EthernetTypeIPv6}, v6(layers.IPProtocolTCP), psh(), hello)
		}, with(tcp6, func(s *sum) { s.VLAN = 200 })},
		{"eth/0x9100/802.1q/ipv4/tcp", capture.LinkEthernet, func(tb testing.TB) []byte {
			return ser(tb, eth(0x9100), &layers.Dot1Q{VLANIdentifier: 7, Type: layers.EthernetTypeDot1Q},
				&layers.Dot1Q{VLANIdentifier: 4094, Type: layers.EthernetTypeIPv4}, v4(layers.IPProtocolTCP), psh(), hello)
		}, with(tcp4, func(s *sum) { s.VLAN = 4094 })},
		{"eth/vlan-stack-too-deep", capture.LinkEthernet, func(tb testing.TB) []byte {
			ls := []gopacket.SerializableLayer{eth(layers.EthernetTypeDot1Q)}
			for i := 0; i < maxVLANTags; i++ {
				ls = append(ls, &layers.Dot1Q{VLANIdentifier: uint16(i + 1), Type: layers.EthernetTypeDot1Q})
			}
			ls = append(ls, &layers.Dot1Q{VLANIdentifier: 99, Type: layers.EthernetTypeIPv4}, v4(layers.IPProtocolTCP), psh(), hello)
			return ser(tb, ls...)
		}, sum{Kind: ErrTunnel, SrcMAC: "02:00:00:00:00:0a", VLAN: maxVLANTags}},
		{"eth/802.3-llc", capture.LinkEthernet, func(tb testing.TB) []byte {
			llc := []byte{0x42, 0x42, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
			return ser(tb, &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeLLC, Length: uint16(len(llc))}, raw(llc))
		}, sum{Kind: ErrNotIP, SrcMAC: "02:00:00:00:00:0a"}},
		{"eth/arp", capture.LinkEthernet, func(tb testing.TB) []byte {
			return ser(tb, eth(layers.EthernetTypeARP), &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
				HwAddressSize: 6, ProtAddressSize: 4, Operation: 1, SourceHwAddress: macA, SourceProtAddress: ip4A,
				DstHwAddress: make([]byte, 6), DstProtAddress: ip4B})
		}, sum{Kind: ErrNotIP, SrcMAC: "02:00:00:00:00:0a"}},
		{"eth/mpls2/ipv4/tcp", capture.LinkEthernet, func(tb testing.TB) []byte {
			return ser(tb, eth(layers.EthernetTypeMPLSUnicast), raw{0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40},
				v4(layers.IPProtocolTCP), psh(), hello)
		}, tcp4},
		{"eth/pppoe/ipv4/tcp", capture.LinkEthernet, func(tb testing.TB) []byte {
			inner := ipv4TCP(tb)
			h := raw{0x11, 0x00, 0x12, 0x34, 0, 0, 0x00, 0x21}
			binary.BigEndian.PutUint16(h[4:], uint16(len(inner)+2))
			return ser(tb, eth(layers.EthernetTypePPPoESession), h, gopacket.Payload(inner))
		}, tcp4},

		// IPv4 details.
		{"ipv4/options", capture.LinkEthernet, func(tb testing.TB) []byte {
			ip := v4(layers.IPProtocolTCP)
			ip.Options = []layers.IPv4Option{{OptionType: 0x94, OptionLength: 4, OptionData: []byte{0, 0}}}
			return ser(tb, eth(layers.EthernetTypeIPv4), ip, psh(), hello)
		}, with(tcp4, func(s *sum) { s.IPOptLen = 4 })},
		{"ipv4/ethernet-padding", capture.LinkEthernet, func(tb testing.TB) []byte {
			b := ser(tb, eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolUDP), udp(40000, 123), gopacket.Payload("hi"))
			return append(b, make([]byte, 60-len(b))...)
		}, with(tcp4, func(s *sum) { s.Proto, s.SrcPort, s.DstPort, s.PayloadLen, s.CapPayload = 17, 40000, 123, 2, 2 })},
		{"ipv4/first-fragment", capture.LinkEthernet, func(tb testing.TB) []byte {
			ip := v4(layers.IPProtocolTCP)
			ip.Flags = layers.IPv4MoreFragments
			return ser(tb, eth(layers.EthernetTypeIPv4), ip, psh(), hello)
		}, with(tcp4, func(s *sum) { s.Fragment = true })},
		{"ipv4/first-fragment-udp", capture.LinkEthernet, func(tb testing.TB) []byte {
			ip := v4(layers.IPProtocolUDP)
			ip.Flags = layers.IPv4MoreFragments
			b := ser(tb, eth(layers.EthernetTypeIPv4), ip, udp(40000, 443), gopacket.Payload(make([]byte, 100)))
			binary.BigEndian.PutUint16(b[14+20+4:], 3000) // the whole datagram
			return b
		}, with(tcp4, func(s *sum) {
			s.Proto, s.SrcPort, s.DstPort, s.PayloadLen, s.CapPayload, s.Fragment = 17, 40000, 443, 100, 100, true
		})},
		{"ipv6/first-fragment-udp", capture.LinkEthernet, func(tb testing.TB) []byte {
			b := ser(tb, eth(layers.EthernetTypeIPv6), v6(layers.IPProtocolIPv6Fragment), ip6Frag(17, 0, true),
				udp(40000, 443), gopacket.Payload(make([]byte, 100)))
			binary.BigEndian.PutUint16(b[14+40+8+4:], 3000)
			return b
		}, with(tcp6, func(s *sum) {
			s.Proto, s.SrcPort, s.DstPort, s.PayloadLen, s.CapPayload, s.Fragment, s.IPOptLen = 17, 40000, 443, 100, 100, true, 8
		})},
		{"ipv4/later-fragment", capture.LinkEthernet, func(tb testing.TB) []byte {
			ip := v4(layers.IPProtocolTCP)
			ip.FragOffset = 185
			return ser(tb, eth(layers.EthernetTypeIPv4), ip, hello)
		}, sum{Kind: ErrFragment, Src: "192.168.1.10", Dst: "93.184.216.34", Proto: 6, SrcMAC: "02:00:00:00:00:0a"}},
		{"ipv4/icmp", capture.LinkEthernet, func(tb testing.TB) []byte {
			return ser(tb, eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolICMPv4),
				&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 1, Seq: 1}, gopacket.Payload("ping"))
		}, sum{Kind: ErrOtherTransport, Src: "192.168.1.10", Dst: "93.184.216.34", Proto: 1, SrcMAC: "02:00:00:00:00:0a"}},
		{"ipv4/bad-ihl", capture.LinkEthernet, func(tb testing.TB) []byte {
			b := ethIPv4TCP(tb)
			b[14] = 0x44
			return b
		}, sum{Kind: ErrBadIPv4, SrcMAC: "02:00:00:00:00:0a"}},
		{"ipv4/bad-version", capture.LinkEthernet, func(tb testing.TB) []byte {
			b := ethIPv4TCP(tb)
			b[14] = 0x55
			return b
		}, sum{Kind: ErrBadIPv4, SrcMAC: "02:00:00:00:00:0a"}},
		{"ipv4/total-length-below-header", capture.LinkEthernet, func(tb testing.TB) []byte {
			b := ethIPv4TCP(tb)
			binary.BigEndian.PutUint16(b[16:], 19)
			return b
		}, sum{Kind: ErrBadIPv4, SrcMAC: "02:00:00:00:00:0a"}},
		{"ipv4/total-length-zero-offload", capture.LinkEthernet, func(tb testing.TB) []byte {
			b := ethIPv4TCP(tb)
			binary.BigEndian.PutUint16(b[16:], 0)
			return b
		}, tcp4},

		// TCP and UDP lengths.
		{"tcp/data-offset-below-5", capture.LinkEthernet, func(tb testing.TB) []byte {
			b := ethIPv4TCP(tb)
			b[14+20+12] = 0x40
			return b
		}, sum{Kind: ErrBadTCP, Src: "192.168.1.10", Dst: "93.184.216.34", Proto: 6, SrcMAC: "02:00:00:00:00:0a"}},
		{"tcp/data-offset-beyond-segment", capture.LinkEthernet, func(tb testing.TB) []byte {
			b := ethIPv4TCP(tb) // 38-byte segment
			b[14+20+12] = 0xa0  // 40-byte header
			return b
		}, sum{Kind: ErrBadTCP, Src: "192.168.1.10", Dst: "93.184.216.34", Proto: 6, SrcMAC: "02:00:00:00:00:0a"}},
		{"tcp/segment-shorter-than-header", capture.LinkEthernet, func(tb testing.TB) []byte {
			return ser(tb, eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolTCP), raw(make([]byte, 12)))
		}, sum{Kind: ErrBadTCP, Src: "192.168.1.10", Dst: "93.184.216.34", Proto: 6, SrcMAC: "02:00:00:00:00:0a"}},
		{"udp/length-below-8", capture.LinkEthernet, func(tb testing.TB) []byte {
			b := ser(tb, eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolUDP), udp(1, 2), gopacket.Payload("x"))
			binary.BigEndian.PutUint16(b[14+20+4:], 7)
			return b
		}, sum{Kind: ErrBadUDP, Src: "192.168.1.10", Dst: "93.184.216.34", Proto: 17, SrcPort: 1, DstPort: 2, SrcMAC: "02:00:00:00:00:0a"}},
		{"udp/length-beyond-ip", capture.LinkEthernet, func(tb testing.TB) []byte {
			b := ser(tb, eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolUDP), udp(1, 2), gopacket.Payload("x"))
			binary.BigEndian.PutUint16(b[14+20+4:], 10)
			return b
		}, sum{Kind: ErrBadUDP, Src: "192.168.1.10", Dst: "93.184.216.34", Proto: 17, SrcPort: 1, DstPort: 2, SrcMAC: "02:00:00:00:00:0a"}},
		{"udp/length-below-ip-payload", capture.LinkEthernet, func(tb testing.TB) []byte {
			b := ser(tb, eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolUDP), udp(1, 2), gopacket.Payload("xyz"))
			binary.BigEndian.PutUint16(b[14+20+4:], 9)
			return b
		}, with(tcp4, func(s *sum) { s.Proto, s.SrcPort, s.DstPort, s.PayloadLen, s.CapPayload = 17, 1, 2, 1, 1 })},

		// IPv6 extension headers.
		{"ipv6/hbh-dstopts-routing/tcp", capture.LinkEthernet, func(tb testing.TB) []byte {
			return ser(tb, eth(layers.EthernetTypeIPv6), v6(layers.IPProtocolIPv6HopByHop),
				ip6Ext(60, 0), ip6Ext(43, 1), ip6Ext(6, 0), psh(), hello)
		}, with(tcp6, func(s *sum) { s.IPOptLen = 32 })},
		{"ipv6/ah/udp", capture.LinkEthernet, func(tb testing.TB) []byte {
			ah := make(raw, 24) // payload length 4 -> (4+2)*4 bytes
			ah[0], ah[1] = 17, 4
			return ser(tb, eth(layers.EthernetTypeIPv6), v6(layers.IPProtocolAH), ah, udp(500, 500), gopacket.Payload("ike"))
		}, with(tcp6, func(s *sum) {
			s.Proto, s.SrcPort, s.DstPort, s.PayloadLen, s.CapPayload, s.IPOptLen = 17, 500, 500, 3, 3, 24
		})},
		{"ipv6/first-fragment", capture.LinkEthernet, func(tb testing.TB) []byte {
			return ser(tb, eth(layers.EthernetTypeIPv6), v6(layers.IPProtocolIPv6Fragment), ip6Frag(6, 0, true), psh(), hello)
		}, with(tcp6, func(s *sum) { s.Fragment, s.IPOptLen = true, 8 })},
		{"ipv6/later-fragment", capture.LinkEthernet, func(tb testing.TB) []byte {
			return ser(tb, eth(layers.EthernetTypeIPv6), v6(layers.IPProtocolIPv6HopByHop), ip6Ext(44, 0), ip6Frag(6, 100, false), hello)
		}, sum{Kind: ErrFragment, Src: "fd00::10", Dst: "2001:db8::34", Proto: 6, IPOptLen: 16, SrcMAC: "02:00:00:00:00:0a"}},
		{"ipv6/ext-chain-too-long", capture.LinkEthernet, func(tb testing.TB) []byte {
			ls := []gopacket.SerializableLayer{eth(layers.EthernetTypeIPv6), v6(layers.IPProtocolIPv6Destination)}
			for i := 0; i < maxIPv6Ext; i++ {
				ls = append(ls, ip6Ext(60, 0))
			}
			return ser(tb, append(ls, ip6Ext(6, 0), psh())...)
		}, sum{Kind: ErrBadIPv6, Src: "fd00::10", Dst: "2001:db8::34", SrcMAC: "02:00:00:00:00:0a"}},
		{"ipv6/ext-beyond-payload-length", capture.LinkEthernet, func(tb testing.TB) []byte {
			b := ser(tb, eth(layers.EthernetTypeIPv6), v6(layers.IPProtocolIPv6HopByHop), ip6Ext(6, 0), psh())
			b[14+40+1] = 200 // header claims 1608 bytes
			return b
		}, sum{Kind: ErrBadIPv6, Src: "fd00::10", Dst: "2001:db8::34", SrcMAC: "02:00:00:00:00:0a"}},
		{"ipv6/no-next-header", capture.LinkEthernet, func(tb testing.TB) []byte {
			return ser(tb, eth(layers.EthernetTypeIPv6), v6(layers.IPProtocolNoNextHeader))
		}, sum{Kind: ErrOtherTransport, Src: "fd00::10", Dst: "2001:db8::34", Proto: 59, SrcMAC: "02:00:00:00:00:0a"}},
		{"ipv6/bad-version", capture.LinkEthernet, func(tb testing.TB) []byte {
			b := ser(tb, eth(layers.EthernetTypeIPv6), v6(layers.IPProtocolTCP), psh())
			b[14] = 0x40
			return b
		}, sum{Kind: ErrBadIPv6, SrcMAC: "02:00:00:00:00:0a"}},

		// Other link types.
		{"sll/ipv4/tcp", capture.LinkLinuxSLL, func(tb testing.TB) []byte {
			return ser(tb, sllHeader(0x0800), v4(layers.IPProtocolTCP), psh(), hello)
		}, tcp4},
		{"sll/802.1q/ipv6/tcp", capture.LinkLinuxSLL, func(tb testing.TB) []byte {
			return ser(tb, sllHeader(0x8100), &layers.Dot1Q{VLANIdentifier: 55, Type: layers.EthernetTypeIPv6}, v6(layers.IPProtocolTCP), psh(), hello)
		}, with(tcp6, func(s *sum) { s.VLAN = 55 })},
		{"sll/llc", capture.LinkLinuxSLL, func(tb testing.TB) []byte {
			return ser(tb, sllHeader(0x0004), raw{0x42, 0x42, 0x03})
		}, sum{Kind: ErrNotIP, SrcMAC: "02:00:00:00:00:0a"}},
		{"sll2/ipv6/tcp", capture.LinkLinuxSLL2, func(tb testing.TB) []byte {
			return ser(tb, sll2Header(0x86dd), v6(layers.IPProtocolTCP), psh(), hello)
		}, tcp6},
		{"raw101/ipv4/tcp", capture.LinkRaw, ipv4TCP, with(tcp4, noMAC)},
		{"raw101/ipv6/tcp", capture.LinkRaw, func(tb testing.TB) []byte {
			return ser(tb, v6(layers.IPProtocolTCP), psh(), hello)
		}, with(tcp6, noMAC)},
		{"raw101/not-ip", capture.LinkRaw, func(testing.TB) []byte { return []byte{0x12, 0, 0, 0} }, sum{Kind: ErrNotIP}},
		{"raw228/ipv4/tcp", capture.LinkIPv4, ipv4TCP, with(tcp4, noMAC)},
		{"raw229/ipv6/tcp", capture.LinkIPv6, func(tb testing.TB) []byte {
			return ser(tb, v6(layers.IPProtocolTCP), psh(), hello)
		}, with(tcp6, noMAC)},
		{"raw229/ipv4-bytes", capture.LinkIPv6, ipv4TCP, sum{Kind: ErrBadIPv6}},
		{"null-le/af2", capture.LinkNull, func(tb testing.TB) []byte {
			return ser(tb, nullHeader(2, false), v4(layers.IPProtocolTCP), psh(), hello)
		}, with(tcp4, noMAC)},
		{"null-be/af2", capture.LinkNull, func(tb testing.TB) []byte {
			return ser(tb, nullHeader(2, true), v4(layers.IPProtocolTCP), psh(), hello)
		}, with(tcp4, noMAC)},
		{"null-le/af24", capture.LinkNull, func(tb testing.TB) []byte {
			return ser(tb, nullHeader(24, false), v6(layers.IPProtocolTCP), psh(), hello)
		}, with(tcp6, noMAC)},
		{"null-le/af28", capture.LinkNull, func(tb testing.TB) []byte {
			return ser(tb, nullHeader(28, false), v6(layers.IPProtocolTCP), psh(), hello)
		}, with(tcp6, noMAC)},
		{"null-le/af30-darwin", capture.LinkNull, func(tb testing.TB) []byte {
			return ser(tb, nullHeader(30, false), v6(layers.IPProtocolTCP), psh(), hello)
		}, with(tcp6, noMAC)},
		{"null-be/af30", capture.LinkNull, func(tb testing.TB) []byte {
			return ser(tb, nullHeader(30, true), v6(layers.IPProtocolTCP), psh(), hello)
		}, with(tcp6, noMAC)},
		{"null/af-unknown", capture.LinkNull, func(tb testing.TB) []byte {
			return ser(tb, nullHeader(7, false), v4(layers.IPProtocolTCP), psh(), hello)
		}, sum{Kind: ErrNotIP}},
		{"loop/af2", capture.LinkLoop, func(tb testing.TB) []byte {
			return ser(tb, nullHeader(2, true), v4(layers.IPProtocolTCP), psh(), hello)
		}, with(tcp4, noMAC)},
		{"loop/af24", capture.LinkLoop, func(tb testing.TB) []byte {
			return ser(tb, nullHeader(24, true), v6(layers.IPProtocolTCP), psh(), hello)
		}, with(tcp6, noMAC)},
		{"unknown-link", capture.LinkType(147), ethIPv4TCP, sum{Kind: ErrUnknownLink}},
	}
}

func TestDecodeTable(t *testing.T) {
	for _, tc := range append(cases(), tunnelCases()...) {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.build(t)
			f := frame(tc.link, data)
			var d Decoder
			var p Packet
			k := d.Decode(&f, &p)
			got := summarize(k, &p)
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
			if p.TS != f.TS || p.WireLen != f.WireLen {
				t.Errorf("TS/WireLen = %d/%d, want %d/%d", p.TS, p.WireLen, f.TS, f.WireLen)
			}
			if c := d.Counts(); c[k] != 1 {
				t.Errorf("Counts()[%v] = %d, want 1", k, c[k])
			}
			checkAliases(t, data, &p)
		})
	}
}

// checkAliases fails when a slice in p reaches outside data.
func checkAliases(tb testing.TB, data []byte, p *Packet) {
	tb.Helper()
	for name, s := range map[string][]byte{"Payload": p.Payload, "TCPOptions": p.TCPOptions} {
		if !within(data, s) {
			tb.Errorf("%s (len %d cap %d) is not within the %d input bytes", name, len(s), cap(s), len(data))
		}
	}
}

func within(data, s []byte) bool {
	if cap(s) == 0 {
		return true
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
	at := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	return at >= start && at+uintptr(cap(s)) <= start+uintptr(len(data))
}

func TestDecodeResetsPacket(t *testing.T) {
	var d Decoder
	var p Packet
	full := frame(capture.LinkEthernet, ser(t, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 9, Type: layers.EthernetTypeIPv4},
		v4(layers.IPProtocolTCP), syn()))
	if k := d.Decode(&full, &p); k != OK {
		t.Fatalf("first decode: %v", k)
	}
	arp := frame(capture.LinkRaw, []byte{0x45})
	if k := d.Decode(&arp, &p); k != ErrTruncated {
		t.Fatalf("second decode: %v", k)
	}
	if !reflect.DeepEqual(p, Packet{TS: arp.TS, WireLen: arp.WireLen}) {
		t.Errorf("fields survived from the previous packet: %+v", p)
	}
}

// TestSnapLengthCut checks that a frame cut by the snap length still reports
// the payload length on the wire.
func TestSnapLengthCut(t *testing.T) {
	data := ser(t, eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolTCP), psh(), gopacket.Payload(make([]byte, 1400)))
	f := frame(capture.LinkEthernet, data[:96])
	f.WireLen = uint32(len(data))
	var d Decoder
	var p Packet
	if k := d.Decode(&f, &p); k != OK {
		t.Fatalf("Decode = %v, want ok", k)
	}
	if p.PayloadLen != 1400 || len(p.Payload) != 96-54 || p.IPLen != 1440 {
		t.Errorf("PayloadLen %d, captured payload %d, IPLen %d; want 1400, 42, 1440", p.PayloadLen, len(p.Payload), p.IPLen)
	}

	// A sender-side capture of a segmentation-offload super-packet: IPv4
	// total length 0, and the snap length cut it.
	binary.BigEndian.PutUint16(data[16:], 0)
	if k := d.Decode(&f, &p); k != OK || p.PayloadLen != 1400 {
		t.Errorf("offload packet: Decode = %v, PayloadLen %d; want ok, 1400", k, p.PayloadLen)
	}
}

func TestIPFieldsOnIPOnlyResults(t *testing.T) {
	ip := v4(layers.IPProtocolTCP)
	ip.FragOffset = 100
	ip.TTL = 37
	ip.TOS = 0x02
	f := frame(capture.LinkEthernet, ser(t, eth(layers.EthernetTypeIPv4), ip, hello))
	var d Decoder
	var p Packet
	if k := d.Decode(&f, &p); k != ErrFragment {
		t.Fatalf("Decode = %v, want fragment", k)
	}
	want := Packet{TS: f.TS, WireLen: f.WireLen, SrcMAC: [6]byte(macA), DstMAC: [6]byte(macB), HasMAC: true,
		Src: netip.MustParseAddr("192.168.1.10"), Dst: netip.MustParseAddr("93.184.216.34"),
		TTL: 37, TOS: 2, IPID: 0x1234, DF: true, IPLen: 38, Proto: 6}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("got  %+v\nwant %+v", p, want)
	}
	if d.Counts()[ErrFragment] != 1 {
		t.Errorf("fragment not counted")
	}
}

// TestTruncation cuts every valid frame at every length. Each prefix must
// decode to ErrTruncated or to a consistent partial result, never panic, and
// keep slices within the input.
func TestTruncation(t *testing.T) {
	for _, tc := range append(cases(), tunnelCases()...) {
		switch tc.want.Kind {
		case OK, ErrFragment, ErrOtherTransport:
		default:
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			data := tc.build(t)
			var d Decoder
			var p Packet
			for n := 0; n < len(data); n++ {
				cut := append([]byte(nil), data[:n]...)
				f := frame(tc.link, cut)
				f.WireLen = uint32(len(data))
				k := d.Decode(&f, &p)
				checkAliases(t, cut, &p)
				got := summarize(k, &p)
				switch {
				case k == ErrTruncated:
				case k == OK && p.Proto == ProtoUDP && isVXLANPort(p.DstPort) && !isVXLANPort(tc.want.DstPort):
					// VXLAN header cut off: the UDP packet carrying it is all there is.
				case k == tc.want.Kind && p.Tunnel == tc.want.Tunnel:
					// Everything but the captured payload must match the full decode.
					got.CapPayload = tc.want.CapPayload
					if got != tc.want {
						t.Errorf("cut at %d: got %+v\nwant %+v", n, got, tc.want)
					}
				default:
					t.Errorf("cut at %d of %d: %v %+v", n, len(data), k, got)
				}
			}
		})
	}
}

func TestLinkTypeSupported(t *testing.T) {
	for _, lt := range []capture.LinkType{capture.LinkNull, capture.LinkEthernet, capture.LinkRaw, capture.LinkLoop,
		capture.LinkLinuxSLL, capture.LinkIPv4, capture.LinkIPv6, capture.LinkLinuxSLL2} {
		if !LinkTypeSupported(lt) {
			t.Errorf("LinkTypeSupported(%d) = false", lt)
		}
		f := frame(lt, nil)
		var d Decoder
		var p Packet
		if k := d.Decode(&f, &p); k != ErrTruncated {
			t.Errorf("empty frame of link %d: %v, want truncated", lt, k)
		}
	}
	for _, lt := range []capture.LinkType{6, 105, 127, 147, 0xffff} {
		if LinkTypeSupported(lt) {
			t.Errorf("LinkTypeSupported(%d) = true", lt)
		}
	}
}

func TestNames(t *testing.T) {
	seen := map[string]bool{}
	for k := ErrKind(0); k < NumErrKinds; k++ {
		if n := k.String(); n == "" || n == "unknown" || seen[n] {
			t.Errorf("ErrKind %d has name %q", k, n)
		} else {
			seen[n] = true
		}
	}
	for tn := Tunnel(0); int(tn) < NumTunnels; tn++ {
		if n := tn.String(); n == "" || n == "unknown" || seen[n] {
			t.Errorf("Tunnel %d has name %q", tn, n)
		} else {
			seen[n] = true
		}
	}
	if Tunnel(200).String() != "unknown" || ErrKind(200).String() != "unknown" {
		t.Errorf("out-of-range names")
	}
}
