package decode

import (
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/launchtap/launchtap/sensor/capture"
)

// benchFrames is a traffic mix typical of an egress tap: handshakes, bulk
// data, DNS, some IPv6 and 802.1Q.
func benchFrames(tb testing.TB) [][]byte {
	ack := func() *layers.TCP {
		return &layers.TCP{SrcPort: 443, DstPort: 51000, Seq: 7, Ack: 9, ACK: true, Window: 501}
	}
	return [][]byte{
		ser(tb, eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolTCP), syn()),
		ser(tb, eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolTCP), ack(), gopacket.Payload(make([]byte, 1400))),
		ser(tb, eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolTCP), psh(), hello),
		ser(tb, eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolUDP), udp(53124, 53), gopacket.Payload(make([]byte, 40))),
		ser(tb, eth(layers.EthernetTypeIPv6), v6(layers.IPProtocolTCP), ack(), gopacket.Payload(make([]byte, 1200))),
		ser(tb, eth(layers.EthernetTypeIPv6), v6(layers.IPProtocolUDP), udp(443, 60000), gopacket.Payload(make([]byte, 1200))),
		ser(tb, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 20, Type: layers.EthernetTypeIPv4},
			v4(layers.IPProtocolTCP), ack()),
		ser(tb, eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolTCP), ack()),
	}
}

// dlp is the gopacket alternative the issue names: a DecodingLayerParser with
// preallocated layers, filling the same Packet.
type dlp struct {
	parser  *gopacket.DecodingLayerParser
	decoded []gopacket.LayerType
	eth     layers.Ethernet
	dot1q   layers.Dot1Q
	ip4     layers.IPv4
	ip6     layers.IPv6
	tcp     layers.TCP
	udp     layers.UDP
	payload gopacket.Payload
}

func newDLP() *dlp {
	g := &dlp{decoded: make([]gopacket.LayerType, 0, 8)}
	g.parser = gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &g.eth, &g.dot1q, &g.ip4, &g.ip6, &g.tcp, &g.udp, &g.payload)
	g.parser.IgnoreUnsupported = true
	return g
}

func (g *dlp) decode(f *capture.Frame, p *Packet) ErrKind {
	*p = Packet{TS: f.TS, WireLen: f.WireLen}
	if err := g.parser.DecodeLayers(f.Data, &g.decoded); err != nil {
		return ErrTruncated
	}
	k := ErrNotIP
	for _, lt := range g.decoded {
		switch lt {
		case layers.LayerTypeEthernet:
			p.SrcMAC, p.DstMAC, p.HasMAC = [6]byte(g.eth.SrcMAC), [6]byte(g.eth.DstMAC), true
		case layers.LayerTypeDot1Q:
			p.VLAN = g.dot1q.VLANIdentifier
		case layers.LayerTypeIPv4:
			p.Src, _ = netipFrom(g.ip4.SrcIP)
			p.Dst, _ = netipFrom(g.ip4.DstIP)
			p.TTL, p.TOS, p.IPID, p.Proto = g.ip4.TTL, g.ip4.TOS, g.ip4.Id, uint8(g.ip4.Protocol)
			p.DF, p.IPLen = g.ip4.Flags&layers.IPv4DontFragment != 0, uint32(g.ip4.Length)
			k = ErrOtherTransport
		case layers.LayerTypeIPv6:
			p.Src, _ = netipFrom(g.ip6.SrcIP)
			p.Dst, _ = netipFrom(g.ip6.DstIP)
			p.IPv6, p.TTL, p.TOS, p.Proto = true, g.ip6.HopLimit, g.ip6.TrafficClass, uint8(g.ip6.NextHeader)
			p.IPLen = 40 + uint32(g.ip6.Length)
			k = ErrOtherTransport
		case layers.LayerTypeTCP:
			p.SrcPort, p.DstPort, p.Seq, p.Ack, p.Window = uint16(g.tcp.SrcPort), uint16(g.tcp.DstPort), g.tcp.Seq, g.tcp.Ack, g.tcp.Window
			p.TCPFlags = g.tcp.Contents[13]
			p.Payload = g.tcp.Payload
			p.PayloadLen = uint32(len(g.tcp.Payload))
			k = OK
		case layers.LayerTypeUDP:
			p.SrcPort, p.DstPort = uint16(g.udp.SrcPort), uint16(g.udp.DstPort)
			p.Payload = g.udp.Payload
			p.PayloadLen = uint32(len(g.udp.Payload))
			k = OK
		}
	}
	return k
}

func BenchmarkDecode(b *testing.B) {
	frames := benchFrames(b)
	fs := make([]capture.Frame, len(frames))
	bytes := 0
	for i, data := range frames {
		fs[i] = frame(capture.LinkEthernet, data)
		bytes += len(data)
	}
	run := func(b *testing.B, decode func(*capture.Frame, *Packet) ErrKind) {
		var p Packet
		for i := range fs { // both parsers must agree on the mix
			if k := decode(&fs[i], &p); k != OK {
				b.Fatalf("frame %d: %v", i, k)
			}
		}
		b.SetBytes(int64(bytes / len(fs)))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			decode(&fs[i%len(fs)], &p)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
	}
	b.Run("handwritten", func(b *testing.B) {
		var d Decoder
		run(b, d.Decode)
	})
	b.Run("gopacketDLP", func(b *testing.B) {
		run(b, newDLP().decode)
	})
}

// BenchmarkDecodeTunnels measures the remote-span path: ERSPAN II, ERSPAN III,
// VXLAN and GRE frames. gopacket's DecodingLayerParser cannot hold two layers
// of one type, so it has no counterpart here.
func BenchmarkDecodeTunnels(b *testing.B) {
	var fs []capture.Frame
	for _, tc := range tunnelCases() {
		if tc.want.Kind == OK {
			fs = append(fs, frame(tc.link, tc.build(b)))
		}
	}
	var d Decoder
	var p Packet
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d.Decode(&fs[i%len(fs)], &p)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
}

func TestDecodeAllocs(t *testing.T) {
	var fs []capture.Frame
	for _, data := range benchFrames(t) {
		fs = append(fs, frame(capture.LinkEthernet, data))
	}
	for _, tc := range append(cases(), tunnelCases()...) {
		fs = append(fs, frame(tc.link, tc.build(t)))
	}
	var d Decoder
	var p Packet
	allocs := testing.AllocsPerRun(20, func() {
		for i := range fs {
			d.Decode(&fs[i], &p)
		}
	})
	if allocs != 0 {
		t.Errorf("Decode allocates %.1f times per %d frames", allocs, len(fs))
	}
}

func netipFrom(ip []byte) (a netip.Addr, ok bool) { return netip.AddrFromSlice(ip) }
