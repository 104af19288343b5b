package decode

import (
	"encoding/binary"
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/launchtap/launchtap/sensor/capture"
)

// Crafted frames shared by the table tests, the truncation test, the fuzz
// seeds and the benchmarks. gopacket serializes them, so the bytes come from
// an implementation independent of the decoder under test.

var (
	macA = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x0a}
	macB = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x0b}
	ip4A = net.IP{192, 168, 1, 10}
	ip4B = net.IP{93, 184, 216, 34}
	ip6A = net.ParseIP("fd00::10")
	ip6B = net.ParseIP("2001:db8::34")
	// Outer (tunnel transport) addresses: must never show up in a
	// decapsulated Packet.
	ip4OA = net.IP{10, 99, 0, 1}
	ip4OB = net.IP{10, 99, 0, 2}
)

// raw prepends fixed bytes; it stands for headers gopacket cannot serialize
// (SLL, ERSPAN III, IPv6 extension headers, MPLS, ...).
type raw []byte

func (r raw) SerializeTo(b gopacket.SerializeBuffer, _ gopacket.SerializeOptions) error {
	dst, err := b.PrependBytes(len(r))
	if err != nil {
		return err
	}
	copy(dst, r)
	return nil
}

func (r raw) LayerType() gopacket.LayerType { return gopacket.LayerTypePayload }

func ser(tb testing.TB, ls ...gopacket.SerializableLayer) []byte {
	tb.Helper()
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		tb.Fatalf("serialize: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func eth(et layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: et}
}

func v4(proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: 0x1234, Flags: layers.IPv4DontFragment,
		Protocol: proto, SrcIP: ip4A, DstIP: ip4B}
}

func v4outer(proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 255, Protocol: proto, SrcIP: ip4OA, DstIP: ip4OB}
}

func v6(nh layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: nh, SrcIP: ip6A, DstIP: ip6B}
}

func syn() *layers.TCP {
	return &layers.TCP{SrcPort: 51000, DstPort: 443, Seq: 1000, SYN: true, Window: 65535,
		Options: []layers.TCPOption{
			{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}},
			{OptionType: layers.TCPOptionKindNop},
			{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{6}},
		}}
}

func psh() *layers.TCP {
	return &layers.TCP{SrcPort: 51000, DstPort: 443, Seq: 1001, Ack: 5000, PSH: true, ACK: true, Window: 2048}
}

func udp(src, dst layers.UDPPort) *layers.UDP { return &layers.UDP{SrcPort: src, DstPort: dst} }

var hello = gopacket.Payload("GET / HTTP/1.1\r\n\r\n") // 18 bytes

// ipv4TCP is the plain inner packet most tunnel cases carry.
func ipv4TCP(tb testing.TB) []byte { return ser(tb, v4(layers.IPProtocolTCP), psh(), hello) }

func ethIPv4TCP(tb testing.TB) []byte {
	return ser(tb, eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolTCP), psh(), hello)
}

// sllHeader builds a Linux cooked v1 header for an Ethernet sender.
func sllHeader(proto uint16) raw {
	h := make([]byte, 16)
	binary.BigEndian.PutUint16(h[0:], 4) // outgoing
	binary.BigEndian.PutUint16(h[2:], 1) // ARPHRD_ETHER
	binary.BigEndian.PutUint16(h[4:], 6)
	copy(h[6:], macA)
	binary.BigEndian.PutUint16(h[14:], proto)
	return h
}

func sll2Header(proto uint16) raw {
	h := make([]byte, 20)
	binary.BigEndian.PutUint16(h[0:], proto)
	binary.BigEndian.PutUint32(h[4:], 3) // ifindex
	binary.BigEndian.PutUint16(h[8:], 1) // ARPHRD_ETHER
	h[10] = 0                            // to us
	h[11] = 6
	copy(h[12:], macA)
	return h
}

func nullHeader(fam uint32, bigEndian bool) raw {
	h := make([]byte, 4)
	if bigEndian {
		binary.BigEndian.PutUint32(h, fam)
	} else {
		binary.LittleEndian.PutUint32(h, fam)
	}
	return h
}

// erspan3Header builds a type III header; platform adds the O-bit subheader.
func erspan3Header(vlan uint16, ft uint8, platform bool) raw {
	h := make([]byte, 12, 20)
	binary.BigEndian.PutUint16(h[0:], 2<<12|vlan)
	binary.BigEndian.PutUint16(h[2:], 0x0064) // session 100
	binary.BigEndian.PutUint32(h[4:], 0xdeadbeef)
	h[10] = ft << 2
	if platform {
		h[11] |= 0x01
		h = append(h, 0x0c, 0, 0, 0, 0x11, 0x22, 0x33, 0x44) // platform ID 3, timestamp
	}
	return h
}

// ip6Ext builds one generic extension header (hop-by-hop, routing, dest
// options) of 8*(1+extra8) bytes, padded with PadN.
func ip6Ext(next uint8, extra8 int) raw {
	h := make([]byte, 8*(1+extra8))
	h[0] = next
	h[1] = uint8(extra8)
	h[2] = 1 // PadN
	h[3] = uint8(len(h) - 4)
	return h
}

func ip6Frag(next uint8, offset8 uint16, more bool) raw {
	h := make([]byte, 8)
	h[0] = next
	v := offset8 << 3
	if more {
		v |= 1
	}
	binary.BigEndian.PutUint16(h[2:], v)
	binary.BigEndian.PutUint32(h[4:], 0xabcdef)
	return h
}

func frame(link capture.LinkType, data []byte) capture.Frame {
	return capture.Frame{Data: data, TS: 1_700_000_000_000_000_000, WireLen: uint32(len(data)), LinkType: link}
}
