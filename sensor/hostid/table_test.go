package hostid

import (
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/launchtap/launchtap/internal/pkttest"
	"github.com/launchtap/launchtap/sensor/decode"
	"github.com/launchtap/launchtap/sensor/netset"
)

func newTable(t testing.TB, cfg Config) *Table {
	t.Helper()
	tb, err := NewTable(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func feed(tb *Table, hosts []*simHost, r *rand.Rand) {
	for _, s := range hosts {
		pkts, names := s.packets(r)
		for i := range pkts {
			tb.Observe(&pkts[i])
		}
		for _, n := range names {
			mac, hasMAC := s.mac, true
			if s.hops > 0 {
				mac = routerMAC
			}
			tb.ObserveDNSQuery(s.ip, mac, hasMAC, n, baseTS+3*sec)
		}
	}
}

// TestLabelledPopulation is the accuracy measurement over generated hosts of
// every family (see docs/host-identification.md, "Accuracy").
func TestLabelledPopulation(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 2))
	hosts := population(r, 250)
	tb := newTable(t, Config{})
	feed(tb, hosts, r)

	var total, right, apple, appleSeparable, appleSeparated, synOnlyApple, rightSeparable int
	confusion := map[Platform]map[Platform]int{}
	for _, s := range hosts {
		mac := s.mac
		if s.hops > 0 {
			mac = routerMAC
		}
		v := tb.Lookup(s.ip, mac, true)
		if confusion[s.os] == nil {
			confusion[s.os] = map[Platform]int{}
		}
		confusion[s.os][v.OS]++
		total++
		if v.OS == s.os {
			right++
		}
		if (s.os == Windows || s.os == Linux) && v.OS == MacOS {
			t.Errorf("%s host %v labelled macos: %v", s.os, s.ip, v.Evidence)
		}
		if s.os == MacOS || s.os == IOS {
			apple++
			// DHCP and mDNS are link-local: seen only for hosts on the span's segment.
			separable := s.ntp || (s.hops == 0 && (s.dhcp || s.mdns))
			if separable {
				appleSeparable++
				if v.OS == s.os {
					appleSeparated++
				} else {
					t.Errorf("%s host %v with DHCP/mDNS/NTP seen labelled %s: %v", s.os, s.ip, v.OS, v.Evidence)
				}
			} else if s.ua {
				// Only the User-Agent tells them apart: right, but capped (iPadOS sends a Mac UA).
				if v.OS != s.os || s.os == MacOS && v.Confidence > uaOnlyCap {
					t.Errorf("%s host %v with TCP and UA only: %s %.2f", s.os, s.ip, v.OS, v.Confidence)
				}
			} else {
				synOnlyApple++
				if v.OS != MacOS || v.Confidence > ambiguousCap {
					t.Errorf("Apple host %v with TCP only: %s %.2f, want macos <= %.1f", s.ip, v.OS, v.Confidence, ambiguousCap)
				}
				continue
			}
		}
		if v.OS == s.os {
			rightSeparable++
		}
	}
	acc := float64(right) / float64(total)
	accSeparable := float64(rightSeparable) / float64(total-synOnlyApple)
	t.Logf("hosts %d (all with >= 1 SYN): exact OS right %d (%.1f%%); excluding %d Apple hosts seen only through TCP: %.1f%%",
		total, right, 100*acc, synOnlyApple, 100*accSeparable)
	t.Logf("macOS/iOS separated in %d of %d Apple hosts where DHCP, mDNS or the NTP name was seen", appleSeparated, appleSeparable)
	t.Logf("confusion (truth -> verdict): %v", confusion)
	if accSeparable < 0.98 {
		t.Errorf("accuracy %.3f below 0.98", accSeparable)
	}
	// Family level (Apple / Windows / Linux) must be right for every host with a SYN.
	for truth, row := range confusion {
		for got, n := range row {
			fam := func(os Platform) Platform {
				if os == MacOS || os == IOS {
					return "apple"
				}
				return os
			}
			if fam(truth) != fam(got) {
				t.Errorf("%d %s hosts labelled %s", n, truth, got)
			}
		}
	}
	if s := tb.Stats(); s.SYNUnmatched != 0 || s.DHCPErrors != 0 || s.MDNSErrors != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestSpoofableSignalsAlone(t *testing.T) {
	ip := netip.MustParseAddr("10.20.9.9")
	mac := [6]byte{0x52, 0x54, 0, 9, 9, 9}
	macPRL := []byte{1, 121, 3, 6, 15, 108, 114, 119, 252, 95, 44, 46}
	dhcpReq := func(ts int64) decode.Packet {
		b := pkttest.DHCP4{Type: layers.DHCPMsgTypeRequest, CHAddr: mac, PRL: macPRL, Hostname: "nas"}.Bytes()
		return udp(ts, netip.IPv4Unspecified(), netip.MustParseAddr("255.255.255.255"), mac, 68, 67, b)
	}
	samba := udp(baseTS+sec, ip, netip.MustParseAddr("224.0.0.251"), mac, 5353, 5353, pkttest.MDNSAnnounce("nas", ip, "MacSamba", "", false))
	linuxSYN := pkttest.Linux.SYN(baseTS+2*sec, ip, netip.MustParseAddr("203.0.113.1"), mac, true, 0, 40000, 443)

	tests := []struct {
		name  string
		pkts  []decode.Packet
		names []string
		want  Platform
	}{
		{"dhcpcd sending Apple's list", []decode.Packet{dhcpReq(baseTS)}, nil, Unknown},
		{"MacSamba alone", []decode.Packet{samba}, nil, Other},
		{"Mac User-Agent alone", nil, nil, Unknown},
		{"Apple list and MacSamba", []decode.Packet{dhcpReq(baseTS), samba}, nil, Unknown},
		{"Linux SYN with Apple list, MacSamba, Apple NTP and push names", []decode.Packet{dhcpReq(baseTS), samba, linuxSYN},
			[]string{"time-macos.apple.com", "1-courier.push.apple.com", "swscan.apple.com"}, Linux},
		{"Apple list and NTP name (two independent sources)", []decode.Packet{dhcpReq(baseTS)}, []string{"time-macos.apple.com"}, MacOS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := newTable(t, Config{})
			for i := range tt.pkts {
				tb.Observe(&tt.pkts[i])
			}
			if tt.name == "Mac User-Agent alone" {
				p := decode.Packet{TS: baseTS, Src: ip, Dst: netip.MustParseAddr("203.0.113.1"), SrcMAC: mac, HasMAC: true, TTL: 64,
					Proto: decode.ProtoTCP, DstPort: 80, TCPFlags: decode.TCPAck,
					Payload: []byte("GET / HTTP/1.1\r\nUser-Agent: Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)\r\n\r\n")}
				tb.Observe(&p)
			}
			for _, n := range tt.names {
				tb.ObserveDNSQuery(ip, mac, true, n, baseTS+3*sec)
			}
			v := tb.Lookup(ip, mac, true)
			if v.OS != tt.want {
				t.Errorf("OS %s (%.2f), want %s; evidence:\n  %s", v.OS, v.Confidence, tt.want, strings.Join(v.Evidence, "\n  "))
			}
		})
	}
}

func TestRealMacSYNEvidence(t *testing.T) {
	pkts := realPackets(t, "real/macos_tcp_flags.pcap")
	tb := newTable(t, Config{})
	for i := range pkts {
		tb.Observe(&pkts[i])
	}
	v := tb.Lookup(netip.MustParseAddr("172.16.5.16"), [6]byte{0x9a, 0x4b, 0x87, 0xd9, 0xe9, 0x6e}, true)
	if v.OS != MacOS || v.Confidence > ambiguousCap || v.Confidence < 0.4 {
		t.Fatalf("verdict %+v, want macos capped at %.1f", v, ambiguousCap)
	}
	want := "TCP SYN matches 'Darwin macOS 11+ or iOS 14+' (ttl 64, 0 hops, win 65535, ws 6, ECN, IP ID 0) [darwin +3.0]"
	if len(v.Evidence) == 0 || v.Evidence[0] != want {
		t.Errorf("evidence %q, want first %q", v.Evidence, want)
	}
	// The server's SYN-ACK must not create a host.
	if n := len(tb.Hosts()); n != 1 {
		t.Errorf("%d hosts, want 1", n)
	}
}

func TestSeparateMacFromIOS(t *testing.T) {
	ip := netip.MustParseAddr("10.20.1.15")
	mac := [6]byte{0x3c, 0x22, 0xfb, 0x1a, 0x2b, 0x3c}
	syn := pkttest.Darwin.SYN(baseTS, ip, netip.MustParseAddr("203.0.113.10"), mac, true, 0, 50000, 443)
	tests := []struct {
		name string
		pkt  *decode.Packet
		dns  string
		want Platform
	}{
		{"DHCP macOS list", ptr(udp(baseTS, netip.IPv4Unspecified(), netip.MustParseAddr("255.255.255.255"), mac, 68, 67,
			pkttest.DHCP4{Type: layers.DHCPMsgTypeRequest, CHAddr: mac, PRL: []byte{1, 121, 3, 6, 15, 108, 114, 119, 252, 95, 44, 46}}.Bytes())), "", MacOS},
		{"DHCP iOS list", ptr(udp(baseTS, netip.IPv4Unspecified(), netip.MustParseAddr("255.255.255.255"), mac, 68, 67,
			pkttest.DHCP4{Type: layers.DHCPMsgTypeRequest, CHAddr: mac, PRL: []byte{1, 121, 3, 6, 15, 108, 114, 119, 252}}.Bytes())), "", IOS},
		{"mDNS Mac model", ptr(udp(baseTS, ip, netip.MustParseAddr("224.0.0.251"), mac, 5353, 5353,
			pkttest.MDNSAnnounce("alices-mbp", ip, "MacBookPro18,3", "23", true))), "", MacOS},
		{"mDNS iPhone model", ptr(udp(baseTS, ip, netip.MustParseAddr("224.0.0.251"), mac, 5353, 5353,
			pkttest.MDNSAnnounce("iphone", ip, "iPhone14,2", "", true))), "", IOS},
		{"NTP macOS", nil, "time-macos.apple.com.", MacOS},
		{"NTP iOS", nil, "TIME-IOS.APPLE.COM", IOS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := newTable(t, Config{})
			s := syn
			tb.Observe(&s)
			if tt.pkt != nil {
				tb.Observe(tt.pkt)
			}
			if tt.dns != "" {
				tb.ObserveDNSQuery(ip, mac, true, tt.dns, baseTS+sec)
			}
			v := tb.Lookup(ip, mac, true)
			if v.OS != tt.want || v.Confidence <= ambiguousCap {
				t.Errorf("%s %.2f, want %s above %.1f; %q", v.OS, v.Confidence, tt.want, ambiguousCap, v.Evidence)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestConflictLowersConfidence(t *testing.T) {
	ip := netip.MustParseAddr("10.20.2.40")
	mac := [6]byte{0x00, 0x15, 0x5d, 7, 7, 7}
	tb := newTable(t, Config{})
	syn := pkttest.Windows.SYN(baseTS, ip, netip.MustParseAddr("203.0.113.10"), mac, true, 0, 50000, 443)
	tb.Observe(&syn)
	clean := tb.Lookup(ip, mac, true)
	tb.ObserveDNSQuery(ip, mac, true, "time-macos.apple.com", baseTS+sec)
	mixed := tb.Lookup(ip, mac, true)
	if clean.OS != Windows || mixed.OS != Windows || mixed.Confidence >= clean.Confidence {
		t.Errorf("clean %s %.2f, mixed %s %.2f: want windows both, mixed lower", clean.OS, clean.Confidence, mixed.OS, mixed.Confidence)
	}
	if !strings.Contains(strings.Join(mixed.Evidence, "\n"), "conflicting signals") {
		t.Errorf("no conflict note in %q", mixed.Evidence)
	}
}

func TestRoutedAndRouterMAC(t *testing.T) {
	tb := newTable(t, Config{})
	dst := netip.MustParseAddr("203.0.113.10")
	// Hosts behind a router: TTL decremented, frames from the router's MAC.
	var ips []netip.Addr
	for i := range 6 {
		ip := netip.AddrFrom4([4]byte{10, 30, 0, byte(10 + i)})
		ips = append(ips, ip)
		st := pkttest.Windows
		if i%2 == 0 {
			st = pkttest.Darwin
		}
		p := st.SYN(baseTS+int64(i)*sec, ip, dst, routerMAC, true, 1, 50000, 443)
		tb.Observe(&p)
	}
	for i, ip := range ips {
		v := tb.Lookup(ip, routerMAC, true)
		want := Windows
		if i%2 == 0 {
			want = MacOS
		}
		if v.OS != want {
			t.Errorf("%v behind router: %s, want %s", ip, v.OS, want)
		}
	}
	// A MAC that sources many addresses with TTL intact (a NAT'ing or
	// forwarding box the TTL does not reveal) is demoted to router.
	fwd := [6]byte{0x00, 0x1c, 0x7f, 0xaa, 0xbb, 0x02}
	for i := range 6 {
		ip := netip.AddrFrom4([4]byte{10, 40, 0, byte(10 + i)})
		p := pkttest.Linux.SYN(baseTS+int64(i)*sec, ip, dst, fwd, true, 0, 50000, 443)
		tb.Observe(&p)
	}
	if s := tb.Stats(); s.Routers != 1 {
		t.Errorf("routers %d, want 1", s.Routers)
	}
	for _, h := range tb.Hosts() {
		if h.MAC == "00:1c:7f:aa:bb:02" && (!h.Router || h.OS != Unknown) {
			t.Errorf("forwarding MAC row %+v, want router with unknown OS", h)
		}
	}
	if v := tb.Lookup(netip.AddrFrom4([4]byte{10, 40, 0, 15}), fwd, true); v.OS != Linux {
		t.Errorf("host behind forwarding MAC: %s, want linux (by address)", v.OS)
	}
}

func TestDHCPChurnDoesNotCarryEvidence(t *testing.T) {
	tb := newTable(t, Config{})
	ip := netip.MustParseAddr("10.20.5.5")
	macA := [6]byte{0x3c, 0x22, 0xfb, 0, 0, 0xa}
	macB := [6]byte{0x52, 0x54, 0, 0, 0, 0xb}
	server := netip.MustParseAddr("10.20.0.1")
	ack := func(ts int64, mac [6]byte) decode.Packet {
		return udp(ts, server, ip, [6]byte{0x00, 0x1c, 0x7f, 0, 0, 1}, 67, 68,
			pkttest.DHCP4{Reply: true, Type: layers.DHCPMsgTypeAck, CHAddr: mac, YIAddr: ip, Lease: 3600}.Bytes())
	}
	a := ack(baseTS, macA)
	tb.Observe(&a)
	syn := pkttest.Darwin.SYN(baseTS+sec, ip, netip.MustParseAddr("203.0.113.1"), macA, true, 0, 50000, 443)
	tb.Observe(&syn)
	tb.ObserveDNSQuery(ip, macA, true, "time-macos.apple.com", baseTS+2*sec)
	// Seen without a MAC (e.g. from a tunnel feed): the lease binds it to A.
	if v := tb.Lookup(ip, [6]byte{}, false); v.OS != MacOS || v.MAC != "3c:22:fb:00:00:0a" {
		t.Fatalf("during A's lease: %s via %s, want macos via A", v.OS, v.MAC)
	}
	// The lease passes to B, a Linux box.
	b := ack(baseTS+7200*sec, macB)
	tb.Observe(&b)
	if v := tb.Lookup(ip, [6]byte{}, false); v.OS == MacOS {
		t.Errorf("after churn, address still labelled macos from A's evidence: %q", v.Evidence)
	}
	if v := tb.Lookup(ip, macB, true); v.OS == MacOS {
		t.Errorf("B labelled macos: %q", v.Evidence)
	}
	// Private Wi-Fi address: the same laptop under a new random MAC starts clean.
	macC := [6]byte{0x06, 0x11, 0x22, 0x33, 0x44, 0x55}
	if v := tb.Lookup(ip, macC, true); v.OS == MacOS {
		t.Errorf("new MAC inherited evidence: %q", v.Evidence)
	}
	if tb.Stats().Churn == 0 {
		t.Error("churn not counted")
	}
}

func TestEvictionAndBounds(t *testing.T) {
	tb := newTable(t, Config{MaxHosts: 10})
	dst := netip.MustParseAddr("203.0.113.1")
	for i := range 25 {
		ip := netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)})
		p := pkttest.Linux.SYN(baseTS+int64(i)*sec, ip, dst, [6]byte{2, 0, 0, 0, 0, byte(i + 1)}, true, 0, 40000, 443)
		tb.Observe(&p)
	}
	s := tb.Stats()
	if s.Hosts != 10 || s.Evictions != 15 || s.Bindings != 10 || s.BindingEvictions != 15 {
		t.Errorf("stats %+v, want 10 hosts, 15 evictions, 10 bindings, 15 binding evictions", s)
	}
	// Evidence per host is bounded too.
	ip := netip.MustParseAddr("10.0.0.1")
	mac := [6]byte{2, 0, 0, 0, 0, 1}
	for _, n := range []string{"time-macos.apple.com", "time-ios.apple.com", "swscan.apple.com", "swcdn.apple.com", "swdist.apple.com",
		"swdownload.apple.com", "gdmf.apple.com", "mesu.apple.com", "1-courier.push.apple.com", "captive.apple.com", "time.windows.com",
		"x.windowsupdate.com", "x.update.microsoft.com", "www.msftconnecttest.com", "dns.msftncsi.com", "ntp.ubuntu.com",
		"connectivity-check.ubuntu.com", "us.archive.ubuntu.com", "deb.debian.org", "security.debian.org"} {
		tb.ObserveDNSQuery(ip, mac, true, n, baseTS+100*sec)
	}
	if v := tb.Lookup(ip, mac, true); len(v.Evidence) > maxEvidence+3 {
		t.Errorf("%d evidence lines, want <= %d", len(v.Evidence), maxEvidence+3)
	}
}

type inventory map[netip.Addr]string

// PlatformLookup translates the inventory's word at the edge, as enrich does.
func (m inventory) PlatformLookup(ip netip.Addr, _ [6]byte) (Platform, bool) {
	p, ok := m[ip]
	return ParsePlatform(p), ok
}

func TestStaticAndInventory(t *testing.T) {
	tb := newTable(t, Config{MacOS: PrefixList{netip.MustParsePrefix("10.50.0.0/16")}})
	win := netip.MustParseAddr("10.50.1.1")
	syn := pkttest.Windows.SYN(baseTS, win, netip.MustParseAddr("203.0.113.1"), [6]byte{2, 1, 1, 1, 1, 1}, true, 0, 40000, 443)
	tb.Observe(&syn)
	v := tb.Lookup(win, [6]byte{2, 1, 1, 1, 1, 1}, true)
	if v.OS != MacOS || v.Confidence != 1 || !strings.HasPrefix(v.Evidence[0], "static: 10.50.0.0/16 is configured as macos (traffic suggested windows)") {
		t.Errorf("static: %+v", v)
	}
	if err := tb.SetStatic([]netip.Prefix{netip.MustParsePrefix("10.50.1.0/24")}, Linux); err != nil {
		t.Fatal(err)
	}
	if v := tb.Lookup(win, [6]byte{}, false); v.OS != Linux {
		t.Errorf("most specific static prefix: %s, want linux", v.OS)
	}
	if err := tb.SetStatic(nil, "beos"); err == nil {
		t.Error("unknown static OS accepted")
	}
	tb.SetPlatformLookup(inventory{win: "darwin", netip.MustParseAddr("10.9.9.9"): "ios"})
	if v := tb.Lookup(win, [6]byte{}, false); v.OS != MacOS || !strings.HasPrefix(v.Evidence[0], "inventory says platform macos") {
		t.Errorf("inventory: %+v", v)
	}
	if v := tb.Lookup(netip.MustParseAddr("10.9.9.9"), [6]byte{}, false); v.OS != IOS || v.Confidence != 1 {
		t.Errorf("inventory for unseen host: %+v", v)
	}
}

func TestInternalFilter(t *testing.T) {
	tb := newTable(t, Config{Internal: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	ext := pkttest.Linux.SYN(baseTS, netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("10.0.0.1"), [6]byte{2}, true, 5, 40000, 22)
	tb.Observe(&ext)
	in := pkttest.Linux.SYN(baseTS, netip.MustParseAddr("10.0.0.7"), netip.MustParseAddr("198.51.100.7"), [6]byte{2, 2}, true, 0, 40000, 22)
	tb.Observe(&in)
	if n := len(tb.Hosts()); n != 1 {
		t.Errorf("%d hosts, want only the internal one", n)
	}
}

// A prefix the set learns after the table was built counts at once, and
// InternalSet takes the place of Internal.
func TestInternalSetLearned(t *testing.T) {
	set := netset.MustParse("10.0.0.0/8")
	tb := newTable(t, Config{Internal: []netip.Prefix{netip.MustParsePrefix("2001:db8:aa:1::/64")}, InternalSet: set})
	mac, dst := [6]byte{2, 0, 0, 0, 0, 7}, netip.MustParseAddr("2001:db8:ffff::10")
	v6 := netip.MustParseAddr("2001:db8:aa:1::15")
	before := pkttest.Darwin.SYN(baseTS, v6, dst, mac, true, 0, 50000, 443)
	tb.Observe(&before)
	if n := len(tb.Hosts()); n != 0 {
		t.Fatalf("%d hosts before the prefix was learned, want 0 (Internal must not be asked)", n)
	}
	if !set.Learn(netip.MustParsePrefix("2001:db8:aa:1::/64")) {
		t.Fatal("prefix not learned")
	}
	after := pkttest.Darwin.SYN(baseTS+int64(time.Second), v6, dst, mac, true, 0, 50001, 443)
	tb.Observe(&after)
	if v := tb.Lookup(v6, mac, true); v.OS != MacOS {
		t.Errorf("host on the learned prefix: %+v, want macos", v)
	}
	for i, a := range []string{"fe80::1c2a:3bff:fe00:7", "10.1.2.3"} {
		p := pkttest.Darwin.SYN(baseTS, netip.MustParseAddr(a), dst, [6]byte{2, 0, 0, 0, 1, byte(i)}, true, 0, 50000, 443)
		tb.Observe(&p)
	}
	ext := pkttest.Darwin.SYN(baseTS, netip.MustParseAddr("198.51.100.7"), dst, [6]byte{2, 0, 0, 0, 0, 9}, true, 0, 50000, 443)
	tb.Observe(&ext)
	if n := len(tb.Hosts()); n != 3 {
		t.Errorf("%d hosts, want 3 (learned, link-local, configured; not the external one)", n)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, c := range []Config{{MaxHosts: -1}, {RouterIPs: 99}, {BindTTL: -1}, {P0fDB: "/nonexistent/p0f.fp"}} {
		if _, err := NewTable(c); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
	if _, err := ParsePrefixes("10.0.0.0/8, 192.168.1.1 ,fd00::/8"); err != nil {
		t.Error(err)
	}
	if _, err := ParsePrefixes("10.0.0.0/33"); err == nil {
		t.Error("bad CIDR accepted")
	}
}

func BenchmarkObserveNoSignal(b *testing.B) {
	tb := newTable(b, Config{})
	p := decode.Packet{TS: baseTS, Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("203.0.113.1"),
		Proto: decode.ProtoTCP, TCPFlags: decode.TCPAck, SrcPort: 50000, DstPort: 443, Payload: make([]byte, 1200)}
	b.ReportAllocs()
	for b.Loop() {
		tb.Observe(&p)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
}

func BenchmarkObserveRepeatedSYN(b *testing.B) {
	// The pipeline's set with a learned prefix: the lookup that costs most.
	set := netset.MustParse(netset.DefaultInternal)
	set.Learn(netip.MustParsePrefix("2001:db8:aa:1::/64"))
	for _, bc := range []struct {
		name string
		cfg  Config
		src  string
	}{
		{"any", Config{}, "10.0.0.1"},
		{"learned-v6", Config{InternalSet: set}, "2001:db8:aa:1::15"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			tb := newTable(b, bc.cfg)
			p := pkttest.Darwin.SYN(baseTS, netip.MustParseAddr(bc.src), netip.MustParseAddr("2001:db8:ffff::1"), [6]byte{2, 0, 0, 0, 0, 1}, true, 0, 50000, 443)
			tb.Observe(&p)
			b.ReportAllocs()
			for b.Loop() {
				p.TS += 1000
				tb.Observe(&p)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
		})
	}
}

func BenchmarkObserveDNSQueryNoMatch(b *testing.B) {
	tb := newTable(b, Config{})
	ip := netip.MustParseAddr("10.0.0.1")
	b.ReportAllocs()
	for b.Loop() {
		tb.ObserveDNSQuery(ip, [6]byte{2}, true, "www.example.com.", baseTS)
	}
}

func TestP0fOwnDatabase(t *testing.T) {
	const sys = "/etc/p0f/p0f.fp"
	if _, err := os.Stat(sys); err != nil {
		t.Skipf("p0f not installed: %v", err)
	}
	tb := newTable(t, Config{P0fDB: sys})
	pkts := realPackets(t, "real/macos_tcp_flags.pcap")
	for i := range pkts {
		tb.Observe(&pkts[i])
	}
	v := tb.Lookup(netip.MustParseAddr("172.16.5.16"), [6]byte{0x9a, 0x4b, 0x87, 0xd9, 0xe9, 0x6e}, true)
	// p0f's file knows this SYN only through its generic Mac OS X rule, fuzzily: weight 1.
	if v.OS != MacOS || len(v.Evidence) == 0 || !strings.HasPrefix(v.Evidence[0], "TCP SYN fuzzily matches 'Mac OS X'") ||
		!strings.Contains(v.Evidence[0], "[darwin +1.0]") {
		t.Errorf("with p0f.fp: %+v", v)
	}
}

func TestIdleAddressStartsOver(t *testing.T) {
	tb := newTable(t, Config{BindTTL: time.Minute})
	ip := netip.MustParseAddr("10.30.0.5")
	dst := netip.MustParseAddr("203.0.113.1")
	mac := pkttest.Darwin.SYN(baseTS, ip, dst, routerMAC, true, 1, 50000, 443)
	tb.Observe(&mac)
	if v := tb.Lookup(ip, routerMAC, true); v.OS != MacOS {
		t.Fatalf("routed Mac: %s", v.OS)
	}
	// Hours later the address (handed out by a DHCP server out of view) belongs to a Windows box.
	win := pkttest.Windows.SYN(baseTS+int64(time.Hour), ip, dst, routerMAC, true, 1, 50000, 443)
	tb.Observe(&win)
	if v := tb.Lookup(ip, routerMAC, true); v.OS != Windows || strings.Contains(strings.Join(v.Evidence, " "), "Darwin") {
		t.Errorf("after idle reassignment: %s %q", v.OS, v.Evidence)
	}
}

// TestDHCPClientID: option 61 in RFC 4361 form (IAID+DUID) is a non-Apple,
// non-Windows client; in type-1 form it supplies the MAC when chaddr is empty.
func TestDHCPClientID(t *testing.T) {
	mac := [6]byte{0x52, 0x54, 0, 7, 7, 7}
	ip := netip.MustParseAddr("10.20.7.7")
	duid := []byte{0xff, 0, 0, 0, 1, 0, 4, 0x8c, 0x3a, 0x51, 0x2b, 0x9e, 0x7c, 0x44, 0x1d, 0x6f, 0x22, 0x90, 0x5a, 0x13, 0x08, 0xc1, 0x7e}
	macPRL := []byte{1, 121, 3, 6, 15, 108, 114, 119, 252, 95, 44, 46}

	tb := newTable(t, Config{})
	req := udp(baseTS, netip.IPv4Unspecified(), netip.MustParseAddr("255.255.255.255"), mac, 68, 67,
		pkttest.DHCP4{Type: layers.DHCPMsgTypeRequest, CHAddr: mac, PRL: macPRL, ClientID: duid}.Bytes())
	tb.Observe(&req)
	v := tb.Lookup(ip, mac, true)
	if v.OS == MacOS || !slices.ContainsFunc(v.Evidence, func(e string) bool { return strings.Contains(e, "option 61 client id is an RFC 4361") }) {
		t.Errorf("Apple's list with a DUID client id: %s %v", v.OS, v.Evidence)
	}

	// A relay or a broken client leaves chaddr empty; option 61 still names the MAC.
	tb = newTable(t, Config{})
	ack := udp(baseTS, netip.MustParseAddr("10.20.0.1"), ip, [6]byte{2, 9, 9, 9, 9, 9}, 67, 68,
		pkttest.DHCP4{Reply: true, Type: layers.DHCPMsgTypeAck, YIAddr: ip, Lease: 3600, ClientID: append([]byte{1}, mac[:]...)}.Bytes())
	tb.Observe(&ack)
	if got := tb.Stats(); got.DHCP != 1 {
		t.Fatalf("stats %+v", got)
	}
	if hs := tb.Hosts(); len(hs) != 1 || hs[0].MAC != "52:54:00:07:07:07" || hs[0].IP != ip.String() {
		t.Errorf("hosts %+v, want one bound to the client id's MAC", hs)
	}
}

// TestRepeatedSenderKeepsOrder checks the shortcut for a host's repeated
// SYNs against what the full path does: times and counts move on, and the
// host table's recency is the same, so a full table evicts the same host.
func TestRepeatedSenderKeepsOrder(t *testing.T) {
	tb := newTable(t, Config{MaxHosts: 2})
	dst := netip.MustParseAddr("203.0.113.1")
	ip := func(i byte) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, 0, i}) }
	mac := func(i byte) [6]byte { return [6]byte{2, 0, 0, 0, 0, i} }
	syn := func(i, hops byte, at int64) {
		p := pkttest.Darwin.SYN(baseTS+at*sec, ip(i), dst, mac(i), true, hops, 50000, 443)
		tb.Observe(&p)
	}
	syn(1, 0, 0)
	syn(1, 0, 1) // the shortcut
	syn(2, 3, 2) // routed: a host keyed by its address, used after A
	syn(1, 0, 3) // so A takes the full path and moves to the front
	syn(1, 0, 4)
	syn(3, 0, 5) // evicts the least recently used: the routed host
	hosts := map[string]Host{}
	for _, h := range tb.Hosts() {
		hosts[h.IP] = h
	}
	a, okA := hosts["10.0.0.1"]
	_, okB := hosts["10.0.0.2"]
	_, okC := hosts["10.0.0.3"]
	if !okA || okB || !okC {
		t.Fatalf("hosts %v: want 10.0.0.1 and 10.0.0.3 (10.0.0.2 evicted)", hosts)
	}
	if got, want := a.LastSeen, time.Unix(0, baseTS+4*sec).UTC(); !got.Equal(want) {
		t.Errorf("last seen %v, want %v", got, want)
	}
	if n := a.Signals["tcp_syn"]; n != 4 {
		t.Errorf("%d SYNs counted, want 4", n)
	}
}
