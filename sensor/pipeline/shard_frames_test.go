package pipeline

import (
	"encoding/binary"
	"net/netip"

	"github.com/launchtap/launchtap/sensor/capture"
)

// Frames built byte by byte for the shard differential test: every case the
// rule distinguishes, and the encodings the decoder and the kernel program
// must both see through to the same innermost header.

type craftedFrame struct {
	name        string
	link        capture.LinkType
	data        []byte
	wire        uint32 // wire length when the frame is cut short; 0: len(data)
	mustCompare bool   // replay shards it (the case is pointless otherwise)
}

const (
	tcp  = 6
	udp  = 17
	icmp = 1
)

// l4 is a transport header and its payload.
func tcpSeg(sport, dport uint16, payload int) []byte {
	b := make([]byte, 20+payload)
	binary.BigEndian.PutUint16(b, sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	b[12] = 5 << 4
	b[13] = 0x10 // ACK
	return b
}

func udpDgram(sport, dport uint16, payload []byte) []byte {
	b := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(b, sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint16(b[4:], uint16(8+len(payload)))
	return append(b, payload...)
}

func icmpEcho() []byte { return []byte{8, 0, 0, 0, 0, 1, 0, 1} }

// ip4 wraps payload in an IPv4 header; frag is the flags/offset field.
func sip4(src, dst string, proto uint8, frag uint16, payload []byte) []byte {
	b := make([]byte, 20, 20+len(payload))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(20+len(payload)))
	binary.BigEndian.PutUint16(b[6:], frag)
	b[8] = 64
	b[9] = proto
	copy(b[12:], netip.MustParseAddr(src).AsSlice())
	copy(b[16:], netip.MustParseAddr(dst).AsSlice())
	return append(b, payload...)
}

// ip6 wraps payload (which starts with any extension headers) in an IPv6
// header whose next header is nh.
func ip6(src, dst string, nh uint8, payload []byte) []byte {
	b := make([]byte, 40, 40+len(payload))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(len(payload)))
	b[6] = nh
	b[7] = 64
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	copy(b[8:], s[:])
	copy(b[24:], d[:])
	return append(b, payload...)
}

// ext6 is an 8-byte IPv6 extension header (hop-by-hop, routing, destination
// options) followed by rest.
func ext6(next uint8, rest []byte) []byte { return append([]byte{next, 0, 1, 4, 0, 0, 0, 0}, rest...) }

// ah6 is a 12-byte authentication header (payload length 1) followed by rest.
func ah6(next uint8, rest []byte) []byte {
	return append([]byte{next, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1}, rest...)
}

// frag6 is a fragment header at offset (8-byte units) with the more-fragments flag.
func frag6(next uint8, offset uint16, more bool, rest []byte) []byte {
	fo := offset << 3
	if more {
		fo |= 1
	}
	h := []byte{next, 0, byte(fo >> 8), byte(fo), 0, 0, 0, 7}
	return append(h, rest...)
}

func ether(et uint16, payload []byte) []byte {
	b := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, byte(et >> 8), byte(et)}
	return append(b, payload...)
}

// tagged puts VLAN tags (each with its own TPID) before the ethertype et.
func tagged(tpids []uint16, et uint16, payload []byte) []byte {
	if len(tpids) == 0 {
		return ether(et, payload)
	}
	var tags []byte
	for i := range tpids {
		next := et
		if i+1 < len(tpids) {
			next = tpids[i+1]
		}
		tags = append(tags, 0, byte(10+i), byte(next>>8), byte(next))
	}
	return ether(tpids[0], append(tags, payload...))
}

func seth4(p []byte) []byte { return ether(0x0800, p) }
func eth6(p []byte) []byte  { return ether(0x86dd, p) }

// bootp builds a DHCP message: yiaddr, ciaddr and the options (end added).
func bootp(yiaddr, ciaddr string, opts ...byte) []byte {
	b := make([]byte, 240)
	b[0] = 1
	copy(b[16:], netip.MustParseAddr(yiaddr).AsSlice())
	copy(b[12:], netip.MustParseAddr(ciaddr).AsSlice())
	binary.BigEndian.PutUint32(b[236:], 0x63825363)
	return append(append(b, opts...), 255)
}

func opt50(a string) []byte { return append([]byte{50, 4}, netip.MustParseAddr(a).AsSlice()...) }

func pads(n int) []byte { return make([]byte, n) }

func craftedFrames() []craftedFrame {
	var out []craftedFrame
	add := func(name string, data []byte) {
		out = append(out, craftedFrame{name: name, link: capture.LinkEthernet, data: data, mustCompare: true})
	}
	seg := tcpSeg(50000, 443, 40)
	back := tcpSeg(443, 50000, 40)

	// The address rules, IPv4.
	add("v4 internal to external", seth4(sip4("10.1.2.3", "93.184.216.34", tcp, 0x4000, seg)))
	add("v4 external to internal", seth4(sip4("93.184.216.34", "10.1.2.3", tcp, 0x4000, back)))
	add("v4 external to external", seth4(sip4("93.184.216.34", "198.51.100.7", tcp, 0, seg)))
	add("v4 external to external, reply", seth4(sip4("198.51.100.7", "93.184.216.34", tcp, 0, back)))
	add("v4 internal to internal, client port higher", seth4(sip4("10.0.0.9", "192.168.1.5", tcp, 0, tcpSeg(51000, 445, 0))))
	add("v4 internal to internal, server side", seth4(sip4("192.168.1.5", "10.0.0.9", tcp, 0, tcpSeg(445, 51000, 0))))
	add("v4 internal to internal, equal ports", seth4(sip4("10.0.0.9", "10.0.0.2", udp, 0, udpDgram(123, 123, pads(48)))))
	add("v4 internal to internal, icmp", seth4(sip4("10.0.0.9", "10.0.0.2", icmp, 0, icmpEcho())))
	add("v4 external to external, icmp", seth4(sip4("8.8.8.8", "1.1.1.1", icmp, 0, icmpEcho())))
	add("v4 cgnat", seth4(sip4("100.64.3.4", "1.1.1.1", udp, 0, udpDgram(40000, 443, pads(100)))))
	add("v4 multicast mdns", seth4(sip4("192.168.1.7", "224.0.0.251", udp, 0, udpDgram(5353, 5353, pads(40)))))
	add("v4 link-local to multicast", seth4(sip4("169.254.7.7", "224.0.0.251", udp, 0, udpDgram(5353, 5353, pads(40)))))

	// IPv6.
	add("v6 ula to global", eth6(ip6("fd00::15", "2001:db8::1", tcp, seg)))
	add("v6 global to ula", eth6(ip6("2001:db8::1", "fd00::15", tcp, back)))
	add("v6 global to global", eth6(ip6("2001:db8::99", "2001:db8::1", tcp, seg)))
	add("v6 link-local mdns", eth6(ip6("fe80::1c2a:3bff:fe4d:5e6f", "ff02::fb", udp, udpDgram(5353, 5353, pads(40)))))
	add("v6 link-local to link-local", eth6(ip6("fe80::2", "fe80::1", tcp, seg)))
	add("v6 dhcpv6 solicit", eth6(ip6("fe80::2", "ff02::1:2", udp, udpDgram(546, 547, pads(60)))))
	add("v6 ula to ula, ports", eth6(ip6("fd00::9", "fd00::2", udp, udpDgram(40000, 53, pads(30)))))
	add("v6 ula to ula, icmpv6", eth6(ip6("fd00::9", "fd00::2", 58, icmpEcho())))
	add("v6 ipv4-mapped internal", eth6(ip6("::ffff:10.0.0.1", "2001:db8::1", tcp, seg)))
	add("v6 ipv4-mapped external", eth6(ip6("::ffff:93.184.216.34", "::ffff:10.0.0.1", tcp, back)))
	add("v6 hop-by-hop", eth6(ip6("fd00::15", "2001:db8::1", 0, ext6(tcp, seg))))
	add("v6 destination options and routing", eth6(ip6("2001:db8::1", "fd00::15", 60, ext6(43, ext6(tcp, back)))))
	add("v6 authentication header", eth6(ip6("fd00::9", "fd00::2", 51, ah6(tcp, tcpSeg(40000, 22, 0)))))
	add("v6 three headers then ah", eth6(ip6("fd00::9", "fd00::2", 0, ext6(60, ext6(43, ext6(51, ah6(udp, udpDgram(40000, 53, pads(20)))))))))

	// Fragments: the first has ports, the later ones none.
	add("v4 first fragment", seth4(sip4("10.0.0.9", "10.0.0.2", udp, 0x2000, udpDgram(40000, 2049, pads(200)))))
	add("v4 later fragment, internal pair", seth4(sip4("10.0.0.9", "10.0.0.2", udp, 0x2000|25, pads(200))))
	add("v4 last fragment, egress", seth4(sip4("10.0.0.9", "93.184.216.34", udp, 50, pads(200))))
	add("v6 first fragment", eth6(ip6("fd00::9", "fd00::2", 44, frag6(udp, 0, true, udpDgram(40000, 2049, pads(200))))))
	add("v6 later fragment", eth6(ip6("fd00::9", "fd00::2", 44, frag6(udp, 30, false, pads(200)))))

	// VLAN tags, MPLS and PPPoE before the IP header.
	add("vlan", tagged([]uint16{0x8100}, 0x0800, sip4("10.1.2.3", "93.184.216.34", tcp, 0, seg)))
	add("qinq", tagged([]uint16{0x88a8, 0x8100}, 0x86dd, ip6("2001:db8::1", "fd00::15", tcp, back)))
	add("three tags, pre-standard tpids", tagged([]uint16{0x9100, 0x9200, 0x8100}, 0x0800, sip4("10.0.0.9", "10.0.0.2", udp, 0, udpDgram(123, 123, pads(48)))))
	add("mpls two labels", ether(0x8847, append([]byte{0, 1, 0, 64, 0, 2, 1, 64}, sip4("93.184.216.34", "10.1.2.3", tcp, 0, back)...)))
	add("pppoe", ether(0x8864, append([]byte{0x11, 0, 0, 1, 0, 0, 0x00, 0x21}, sip4("10.1.2.3", "93.184.216.34", tcp, 0, seg)...)))
	add("vxlan", seth4(sip4("10.9.9.1", "10.9.9.2", udp, 0, udpDgram(55555, 4789,
		append([]byte{0x08, 0, 0, 0, 0, 0, 7, 0}, seth4(sip4("93.184.216.34", "192.168.1.10", tcp, 0, back))...)))))
	add("gre ip", seth4(sip4("10.9.9.1", "10.9.9.2", 47, 0, append([]byte{0, 0, 0x08, 0x00}, sip4("192.168.1.10", "93.184.216.34", tcp, 0, seg)...))))

	// DHCP: the address being bound, wherever the message names it.
	discover := bootp("0.0.0.0", "0.0.0.0", 53, 1, 1, 55, 3, 1, 3, 6)
	add("dhcp discover", seth4(sip4("0.0.0.0", "255.255.255.255", udp, 0, udpDgram(68, 67, discover))))
	add("dhcp request by option 50", seth4(sip4("0.0.0.0", "255.255.255.255", udp, 0, udpDgram(68, 67,
		bootp("0.0.0.0", "0.0.0.0", append([]byte{53, 1, 3, 61, 7, 1, 2, 0, 0, 0, 0, 1}, opt50("192.168.1.44")...)...)))))
	add("dhcp offer by yiaddr", seth4(sip4("192.168.1.1", "255.255.255.255", udp, 0, udpDgram(67, 68, bootp("192.168.1.44", "0.0.0.0", 53, 1, 2)))))
	add("dhcp ack to a public address", seth4(sip4("203.0.113.1", "203.0.113.44", udp, 0, udpDgram(67, 68, bootp("203.0.113.44", "0.0.0.0", 53, 1, 5)))))
	add("dhcp renewal by ciaddr", seth4(sip4("192.168.1.44", "192.168.1.1", udp, 0, udpDgram(68, 67, bootp("0.0.0.0", "192.168.1.44", 53, 1, 3)))))
	add("dhcp option 50 as the last entry read", seth4(sip4("0.0.0.0", "255.255.255.255", udp, 0, udpDgram(68, 67,
		bootp("0.0.0.0", "0.0.0.0", append(pads(63), opt50("192.168.1.45")...)...)))))
	add("dhcp option 50 one entry too far", seth4(sip4("0.0.0.0", "255.255.255.255", udp, 0, udpDgram(68, 67,
		bootp("0.0.0.0", "0.0.0.0", append(pads(64), opt50("192.168.1.46")...)...)))))
	add("dhcp option 50 of the wrong length, then a good one", seth4(sip4("0.0.0.0", "255.255.255.255", udp, 0, udpDgram(68, 67,
		bootp("0.0.0.0", "0.0.0.0", append([]byte{50, 2, 1, 1}, opt50("192.168.1.47")...)...)))))
	add("dhcp option 50 after the end option", seth4(sip4("0.0.0.0", "255.255.255.255", udp, 0, udpDgram(68, 67,
		bootp("0.0.0.0", "0.0.0.0", append([]byte{53, 1, 3, 255}, opt50("192.168.1.48")...)...)))))
	add("dhcp over vlan", tagged([]uint16{0x8100}, 0x0800, sip4("0.0.0.0", "255.255.255.255", udp, 0, udpDgram(68, 67,
		bootp("0.0.0.0", "0.0.0.0", opt50("10.7.7.7")...)))))
	add("dhcp over ipv6 (nonsense, but udp to 67)", eth6(ip6("fd00::9", "fd00::2", udp, udpDgram(68, 67, bootp("10.7.7.8", "0.0.0.0")))))
	add("dhcp from the server port only", seth4(sip4("10.0.0.7", "10.0.0.9", udp, 0, udpDgram(67, 9999, bootp("10.7.7.9", "0.0.0.0")))))
	add("dhcp bad magic", seth4(sip4("0.0.0.0", "255.255.255.255", udp, 0, udpDgram(68, 67, func() []byte {
		b := bootp("10.7.7.10", "0.0.0.0")
		b[236] = 0
		return b
	}()))))
	add("dhcp short", seth4(sip4("0.0.0.0", "255.255.255.255", udp, 0, udpDgram(68, 67, bootp("10.7.7.11", "0.0.0.0")[:200]))))
	// Option 50 beyond the UDP length (in bytes the IP length still covers)
	// and beyond the IP length (Ethernet padding): neither may be read.
	{
		msg := bootp("0.0.0.0", "0.0.0.0", 53, 1, 3)
		msg = msg[:len(msg)-1] // no end option: the UDP length ends the message
		d := udpDgram(68, 67, msg)
		withTail := append(d, opt50("10.7.7.12")...)
		add("dhcp option 50 past the udp length", seth4(sip4("0.0.0.0", "255.255.255.255", udp, 0, withTail)))
		frame := seth4(sip4("0.0.0.0", "255.255.255.255", udp, 0, d))
		add("dhcp option 50 in ethernet padding", append(frame, opt50("10.7.7.13")...))
	}

	// Cut short by the snap length: the decoder reads what was captured,
	// the kernel what the test run gives it.
	{
		req := seth4(sip4("0.0.0.0", "255.255.255.255", udp, 0, udpDgram(68, 67,
			bootp("0.0.0.0", "0.0.0.0", append([]byte{53, 1, 3, 12, 8, 'm', 'a', 'c', 'b', 'o', 'o', 'k', 's'}, opt50("10.7.7.14")...)...))))
		for _, n := range []int{14 + 20 + 8 + 240 + 5, 14 + 20 + 8 + 240 + 16, 14 + 20 + 8 + 100} {
			out = append(out, craftedFrame{name: "dhcp request cut short", link: capture.LinkEthernet, data: req[:n], wire: uint32(len(req)), mustCompare: true})
		}
		full := seth4(sip4("10.1.2.3", "93.184.216.34", tcp, 0, seg))
		for _, n := range []int{14 + 20 + 20, 14 + 20 + 10, 14 + 20, 14 + 10} {
			out = append(out, craftedFrame{name: "tcp cut short", link: capture.LinkEthernet, data: full[:n], wire: uint32(len(full))})
		}
	}

	// Other link types: the fanout starts at the network header there too.
	raw := sip4("10.1.2.3", "93.184.216.34", tcp, 0, seg)
	out = append(out,
		craftedFrame{name: "raw ipv4", link: capture.LinkRaw, data: raw, mustCompare: true},
		craftedFrame{name: "null ipv6", link: capture.LinkNull, data: append([]byte{30, 0, 0, 0}, ip6("2001:db8::1", "fd00::15", tcp, back)...), mustCompare: true},
		craftedFrame{name: "linux sll", link: capture.LinkLinuxSLL, data: append([]byte{0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00}, raw...), mustCompare: true},
	)
	return out
}
