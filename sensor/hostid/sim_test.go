package hostid

import (
	"fmt"
	"math/rand/v2"
	"net/netip"

	"github.com/gopacket/gopacket/layers"

	"github.com/launchtap/launchtap/internal/pkttest"
	"github.com/launchtap/launchtap/sensor/decode"
)

// simHost is a generated host with a known OS and a chosen set of signals.
type simHost struct {
	os       Platform // truth: macos, ios, windows, linux
	ip       netip.Addr
	mac      [6]byte
	hops     uint8 // routers between host and sensor (frames then carry the router's MAC)
	dhcp     bool
	mdns     bool
	ntp      bool
	ua       bool
	spoofer  bool // a Linux box dressed as a Mac: Apple option 55, MacSamba, Mac User-Agent
	hostname string
}

var routerMAC = [6]byte{0x00, 0x1c, 0x7f, 0xaa, 0xbb, 0x01}

const (
	sec     = int64(1e9)
	baseTS  = int64(1_750_000_000) * sec
	dnsAddr = "10.20.0.53"
)

// packets renders the host's traffic over an hour: SYNs to the Internet,
// plus its DHCP, mDNS, NTP lookups and HTTP requests when enabled.
func (s *simHost) packets(r *rand.Rand) (pkts []decode.Packet, dnsNames []string) {
	stack := map[Platform]pkttest.Stack{MacOS: pkttest.Darwin, IOS: pkttest.Darwin, Windows: pkttest.Windows, Linux: pkttest.Linux}[s.os]
	if s.os == IOS || r.IntN(3) == 0 && s.os == MacOS {
		stack = pkttest.DarwinNoECN // ECN-setup is negotiated per route; not every Apple SYN carries it
	}
	frameMAC, hasMAC := s.mac, true
	if s.hops > 0 {
		frameMAC = routerMAC
	}
	dst := netip.MustParseAddr("203.0.113.10")
	ts := baseTS + int64(r.IntN(600))*sec
	local := s.hops == 0
	if s.dhcp && local {
		prl := map[Platform][]byte{
			MacOS:   {1, 121, 3, 6, 15, 108, 114, 119, 252, 95, 44, 46},
			IOS:     {1, 121, 3, 6, 15, 108, 114, 119, 252},
			Windows: {1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252},
			Linux:   {1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42},
		}[s.os]
		vendor := ""
		if s.os == Windows {
			vendor = "MSFT 5.0"
		}
		if s.spoofer {
			prl = []byte{1, 121, 3, 6, 15, 108, 114, 119, 252, 95, 44, 46}
		}
		req := pkttest.DHCP4{Type: layers.DHCPMsgTypeRequest, XID: r.Uint32(), CHAddr: s.mac, PRL: prl, Hostname: s.hostname, Vendor: vendor}
		ack := pkttest.DHCP4{Reply: true, Type: layers.DHCPMsgTypeAck, XID: req.XID, CHAddr: s.mac, YIAddr: s.ip, Lease: 86400,
			ServerID: netip.MustParseAddr("10.20.0.1")}
		pkts = append(pkts,
			udp(ts, netip.IPv4Unspecified(), netip.MustParseAddr("255.255.255.255"), s.mac, 68, 67, req.Bytes()),
			udp(ts+sec/100, netip.MustParseAddr("10.20.0.1"), s.ip, [6]byte{0x00, 0x1c, 0x7f, 0, 0, 1}, 67, 68, ack.Bytes()))
	}
	if s.mdns && local {
		model := map[Platform]string{MacOS: "MacBookPro18,3", IOS: "iPhone14,2", Windows: "", Linux: ""}[s.os]
		osx := ""
		if s.os == MacOS {
			osx = "23"
		}
		if s.spoofer {
			model = "MacSamba"
		}
		if model != "" || s.os == Linux {
			pkts = append(pkts, udp(ts+sec, s.ip, netip.MustParseAddr("224.0.0.251"), s.mac, 5353, 5353,
				pkttest.MDNSAnnounce(s.hostname, s.ip, model, osx, s.os == MacOS || s.os == IOS)))
		}
	}
	if s.ntp {
		dnsNames = append(dnsNames, map[Platform]string{MacOS: "time-macos.apple.com", IOS: "time-ios.apple.com",
			Windows: "time.windows.com", Linux: "ntp.ubuntu.com"}[s.os])
	}
	if s.ua {
		ua := map[Platform]string{
			MacOS:   "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Version/17.5 Safari/605.1.15",
			IOS:     "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15",
			Windows: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/125.0",
			Linux:   "Debian APT-HTTP/1.3 (2.6.1)",
		}[s.os]
		if s.spoofer {
			ua = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15"
		}
		p := decode.Packet{TS: ts + 2*sec, Src: s.ip, Dst: dst, SrcMAC: frameMAC, HasMAC: hasMAC, TTL: stack.TTL - s.hops,
			Proto: decode.ProtoTCP, SrcPort: 50001, DstPort: 80, TCPFlags: decode.TCPAck | decode.TCPPsh,
			Payload: []byte("GET /x HTTP/1.1\r\nHost: example.net\r\nUser-Agent: " + ua + "\r\n\r\n")}
		p.PayloadLen = uint32(len(p.Payload))
		pkts = append(pkts, p)
	}
	for i := range 3 + r.IntN(20) {
		pkts = append(pkts, stack.SYN(ts+int64(10+i*60)*sec, s.ip, dst, frameMAC, hasMAC, s.hops, uint16(49152+i), 443))
	}
	return pkts, dnsNames
}

func udp(ts int64, src, dst netip.Addr, mac [6]byte, sport, dport uint16, payload []byte) decode.Packet {
	return decode.Packet{TS: ts, Src: src, Dst: dst, SrcMAC: mac, HasMAC: true, TTL: 64, Proto: decode.ProtoUDP,
		IPv6: src.Is6(), SrcPort: sport, DstPort: dport, Payload: payload, PayloadLen: uint32(len(payload))}
}

// population generates n hosts per family with random signal subsets.
func population(r *rand.Rand, n int) []*simHost {
	var hosts []*simHost
	id := 0
	for _, os := range []Platform{MacOS, IOS, Windows, Linux} {
		for range n {
			id++
			s := &simHost{os: os, ip: netip.AddrFrom4([4]byte{10, 20, byte(id >> 8), byte(id)}),
				mac:  [6]byte{0x02, 0x42, 0, 0, byte(id >> 8), byte(id)},
				dhcp: r.IntN(2) == 0, mdns: r.IntN(2) == 0, ntp: r.IntN(2) == 0, ua: r.IntN(4) == 0}
			if r.IntN(5) == 0 {
				s.hops = 1 + uint8(r.IntN(3))
			}
			if os == Linux && r.IntN(5) == 0 {
				// A Linux box dressed as a Mac: Apple's option 55 from dhcpcd,
				// Samba's MacSamba model, a Mac browser User-Agent.
				s.spoofer, s.dhcp, s.mdns, s.ua = true, true, true, true
			}
			s.hostname = fmt.Sprintf("%s-host-%d", os, id)
			hosts = append(hosts, s)
		}
	}
	return hosts
}
