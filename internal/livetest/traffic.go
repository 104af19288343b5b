package livetest

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Traffic returns deterministic Ethernet frames for hosts internal hosts
// (even ones IPv4 in 192.168.1.0/24, odd ones IPv6 in fd00::/64; host 2's
// frames carry 802.1Q tag 10), interleaved host by host: per host a DNS query
// and answer, a TCP session to an external server (handshake, data packets
// each way, FIN/ACK close), a UDP flow of data packets, and, from host 0 to
// host 2, an internal SMB session.
func Traffic(hosts, data int) ([][]byte, error) {
	var per [][][]byte
	for i := 0; i < hosts; i++ {
		b := &builder{}
		if i == 2 {
			b.vlan = 10
		}
		h := host(i)
		ext := external(i)
		dns := resolver(i)
		b.udp(h, dns, uint16(40000+i), 53, 32)
		b.udp(dns, h, 53, uint16(40000+i), 96)
		b.tcpSession(h, ext, uint16(50000+i), 443, data)
		for j := 0; j < data; j++ {
			if j%2 == 0 {
				b.udp(h, ext, uint16(51000+i), 443, 1200)
			} else {
				b.udp(ext, h, 443, uint16(51000+i), 300)
			}
		}
		if i == 1 {
			b.tcpSession(host(0), host(2), 49152, 445, data/2)
		}
		if b.err != nil {
			return nil, b.err
		}
		per = append(per, b.frames)
	}
	var out [][]byte
	for k := 0; ; k++ {
		more := false
		for _, fs := range per {
			if k < len(fs) {
				out = append(out, fs[k])
				more = true
			}
		}
		if !more {
			return out, nil
		}
	}
}

func host(i int) netip.Addr {
	if i%2 == 0 {
		return netip.AddrFrom4([4]byte{192, 168, 1, byte(10 + i)})
	}
	return netip.MustParseAddr(fmt.Sprintf("fd00::%x", 10+i))
}

func external(i int) netip.Addr {
	if i%2 == 0 {
		return netip.AddrFrom4([4]byte{93, 184, 216, byte(34 + i)})
	}
	return netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", 34+i))
}

func resolver(i int) netip.Addr {
	if i%2 == 0 {
		return netip.AddrFrom4([4]byte{8, 8, 8, 8})
	}
	return netip.MustParseAddr("2001:4860:4860::8888")
}

type builder struct {
	frames [][]byte
	vlan   uint16 // 802.1Q tag on every frame when not 0
	err    error
}

func mac(a netip.Addr) net.HardwareAddr {
	b := a.As16()
	return net.HardwareAddr{0x02, 0x00, b[12], b[13], b[14], b[15]}
}

func (b *builder) add(src, dst netip.Addr, l4 gopacket.SerializableLayer, payload int) {
	if b.err != nil {
		return
	}
	eth := &layers.Ethernet{SrcMAC: mac(src), DstMAC: mac(dst)}
	var ip gopacket.SerializableLayer
	var nl gopacket.NetworkLayer
	proto := layers.IPProtocolTCP
	if _, ok := l4.(*layers.UDP); ok {
		proto = layers.IPProtocolUDP
	}
	var tag gopacket.SerializableLayer
	et := layers.EthernetTypeIPv4
	if !src.Is4() {
		et = layers.EthernetTypeIPv6
	}
	if b.vlan != 0 {
		eth.EthernetType = layers.EthernetTypeDot1Q
		tag = &layers.Dot1Q{VLANIdentifier: b.vlan, Type: et}
	}
	if src.Is4() {
		eth.EthernetType = layers.EthernetTypeIPv4
		v4 := &layers.IPv4{Version: 4, TTL: 64, Flags: layers.IPv4DontFragment, Protocol: proto, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		ip, nl = v4, v4
	} else {
		eth.EthernetType = layers.EthernetTypeIPv6
		v6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		ip, nl = v6, v6
	}
	switch l := l4.(type) {
	case *layers.TCP:
		l.SetNetworkLayerForChecksum(nl)
	case *layers.UDP:
		l.SetNetworkLayerForChecksum(nl)
	}
	pl := make([]byte, payload)
	for i := range pl {
		pl[i] = byte(len(b.frames) + i)
	}
	if tag != nil {
		eth.EthernetType = layers.EthernetTypeDot1Q
	}
	ls := []gopacket.SerializableLayer{eth}
	if tag != nil {
		ls = append(ls, tag)
	}
	ls = append(ls, ip, l4, gopacket.Payload(pl))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		b.err = fmt.Errorf("livetest: building frame %d: %w", len(b.frames), err)
		return
	}
	b.frames = append(b.frames, buf.Bytes())
}

func (b *builder) udp(src, dst netip.Addr, sport, dport uint16, payload int) {
	b.add(src, dst, &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}, payload)
}

func (b *builder) tcp(src, dst netip.Addr, sport, dport uint16, flags string, seq, ack uint32, payload int) {
	t := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Seq: seq, Ack: ack, Window: 65535}
	for _, f := range flags {
		switch f {
		case 'S':
			t.SYN = true
		case 'A':
			t.ACK = true
		case 'F':
			t.FIN = true
		case 'R':
			t.RST = true
		case 'P':
			t.PSH = true
		}
	}
	b.add(src, dst, t, payload)
}

// tcpSession writes a whole connection: handshake, data segments alternating
// client 200 bytes / server 1200 bytes, and a FIN/ACK close.
func (b *builder) tcpSession(c, s netip.Addr, cport, sport uint16, data int) {
	cs, ss := uint32(1000), uint32(5000)
	b.tcp(c, s, cport, sport, "S", cs, 0, 0)
	b.tcp(s, c, sport, cport, "SA", ss, cs+1, 0)
	cs++
	ss++
	b.tcp(c, s, cport, sport, "A", cs, ss, 0)
	for j := 0; j < data; j++ {
		if j%2 == 0 {
			b.tcp(c, s, cport, sport, "PA", cs, ss, 200)
			cs += 200
		} else {
			b.tcp(s, c, sport, cport, "PA", ss, cs, 1200)
			ss += 1200
		}
	}
	b.tcp(c, s, cport, sport, "FA", cs, ss, 0)
	b.tcp(s, c, sport, cport, "A", ss, cs+1, 0)
	b.tcp(s, c, sport, cport, "FA", ss, cs+1, 0)
	b.tcp(c, s, cport, sport, "A", cs+1, ss+1, 0)
}
