package synth

import (
	"fmt"
	"net/netip"
	"time"
)

// The host-identity scenarios (issue 11, "a Mac is one host"): one Mac's
// LaunchAgent beacons while the Mac's address or interface changes under
// it. Each is a function of its own (identChurn, identTempV6, identDocked)
// so that mixed-identity runs all three at once on one segment.

// dhcp-churn: the Mac's DHCP lease moves it to a new IPv4 address every
// 2-3 h; a Windows laptop later gets one of the addresses it released.
const (
	ChurnMacHost     = "Danas-MacBook-Air"
	ChurnMacMAC      = "3c:22:fb:31:0c:01"
	ChurnAgentFQDN   = "sync.notes-helper.example"
	ChurnAgentLabel  = "com.noteshelper.sync"
	ChurnAgentPeriod = 600 * time.Second
	ChurnWindowsHost = "LAPTOP-7QK2M4"
	ChurnWindowsMAC  = "3c:52:82:61:0a:0b"
)

// ipv6-temp: a dual-stack Mac beacons over IPv6 from RFC 8981 temporary
// addresses in the office's global prefix, which only router
// advertisements announce (it is in no default --internal network).
const (
	V6MacHost       = "Omars-MacBook-Pro"
	V6MacMAC        = "f0:18:98:3e:71:c4"
	V6MacIP         = "10.20.12.40"
	V6OfficePrefix  = "2001:db8:4a1:10::/64"
	V6AgentFQDN     = "api.v6-telemetry.example"
	V6AgentLabel    = "com.v6telemetry.agent"
	V6AgentPeriod   = 300 * time.Second
	V6TempLifetime  = 4 * time.Hour
	v6AgentAddrA    = "203.0.113.81"
	v6AgentAddrAAAA = "2001:db8:ffff:81::10"
)

// docked: a MacBook on a USB-C Ethernet dock in the mornings and on Wi-Fi
// otherwise: two MACs, one hostname, one DHCPv6 DUID.
const (
	DockedHost        = "Priyas-MacBook-Pro"
	DockedWiFiMAC     = "f0:18:98:6a:21:07"
	DockedWiFiIP      = "10.20.9.77"
	DockedEthMAC      = "00:e0:4c:68:0a:3e" // the dock's Realtek RTL8153
	DockedEthIP       = "10.20.8.31"
	DockedAgentFQDN   = "check.menubar-sync.example"
	DockedAgentLabel  = "com.menubarsync.check"
	DockedAgentPeriod = 600 * time.Second
	dockedULAPrefix   = "fd20:20:0:8::/64"
)

// mixed-identity: two Macs that keep macOS's generic default hostname
// ("MacBook-Pro"), each with its own agent: two hosts, two alerts.
const (
	GenericMacHost    = "MacBook-Pro"
	GenericMacAMAC    = "f0:18:98:0c:00:0a"
	GenericMacBMAC    = "f0:18:98:0c:00:0b"
	GenericAgentAFQDN = "beat.generic-a.example"
	GenericAgentBFQDN = "beat.generic-b.example"
	GenericAgentAP    = 420 * time.Second
	GenericAgentBP    = 780 * time.Second
)

func init() {
	register(Scenario{
		Name: "dhcp-churn",
		Description: "host identity (issue 11): " + ChurnMacHost + "'s LaunchAgent " + ChurnAgentLabel + " beacons to " + ChurnAgentFQDN +
			":443 every 600 s for 48 h while DHCP moves the Mac to a new IPv4 address every 2-3 h (NAK of the old lease or a RELEASE, then " +
			"DISCOVER/OFFER/REQUEST/ACK with options 12 and 61); a Windows laptop later gets one of its old addresses; 4 background hosts",
		Span:  48 * time.Hour,
		build: buildDHCPChurn,
	})
	register(Scenario{
		Name: "ipv6-temp",
		Description: "host identity (issue 11): dual-stack " + V6MacHost + "'s LaunchAgent " + V6AgentLabel + " beacons to " + V6AgentFQDN +
			" over IPv6 every 300 s for 24 h from RFC 8981 temporary addresses in " + V6OfficePrefix + " (announced only by router advertisements) " +
			"rotating every 4 h, with the NDP a real host makes; 4 background hosts",
		Span:  24 * time.Hour,
		build: buildTempV6,
	})
	register(Scenario{
		Name: "docked",
		Description: "host identity (issue 11): " + DockedHost + " on a USB-C Ethernet dock (" + DockedEthMAC + ") in the mornings and on Wi-Fi (" +
			DockedWiFiMAC + ") otherwise, for 2 days: one hostname on both (DHCP option 12, mDNS), one DHCPv6 DUID; its LaunchAgent " +
			DockedAgentLabel + " beacons to " + DockedAgentFQDN + " every 600 s over whichever is primary; 4 background hosts",
		Span:  48 * time.Hour,
		build: buildDocked,
	})
	register(Scenario{
		Name: "mixed-identity",
		Description: "host identity (issue 11): dhcp-churn, ipv6-temp and docked on one segment for 48 h, with 20 background hosts " +
			"among them two Macs both named " + GenericMacHost + " (each beaconing to its own destination) and two iPhones named iPhone, which must stay separate hosts",
		Span:  48 * time.Hour,
		build: buildMixedIdentity,
	})
}

// presence is where one device is on the network over time: spans on one
// of its interfaces (a host: a MAC and its current addresses), in order,
// with gaps when it is away or asleep.
type presence struct{ spans []presenceSpan }

type presenceSpan struct {
	from, to int64
	h        *host
}

// at is the interface the device uses at t, nil while it is away.
func (p *presence) at(t int64) *host {
	for i := range p.spans {
		if s := &p.spans[i]; t >= s.from && t < s.to {
			return s.h
		}
	}
	return nil
}

// next is the start of the first span after t, or -1.
func (p *presence) next(t int64) int64 {
	for _, s := range p.spans {
		if s.from > t {
			return s.from
		}
	}
	return -1
}

// hide makes each of the device's interfaces quiet (no browsing, no timed
// services) while another carries its traffic or it is away.
func (p *presence) hide(hosts ...*host) {
	for _, h := range hosts {
		h.asleep = func(t int64) bool { return p.at(t) != h }
	}
}

// identBase registers the name catalogues shared by the identity scenarios.
func identBase(w *world) {
	w.cleartext = true
	w.dnsTCP = true
	n := w.net
	n.addWeb()
	n.addApple()
	n.addMDM()
	n.addOS()
}

// deviceAgent runs an unapproved LaunchAgent (StartInterval p) on a device
// that moves: each start goes out the interface the device uses then,
// after a DNS lookup when the cached answer has expired or the network
// changed (macOS flushes its cache then); a start due while the device is
// away runs when it is back, as launchd coalesces missed StartInterval
// firings.
func (w *world) deviceAgent(p *presence, lab *labelRec, name string, period time.Duration, first int64, out, in int) {
	beats := map[*host]*beat{}
	r := w.rngFor("agent/" + name)
	w.every(first, func(w *world) int64 {
		h := p.at(w.now)
		if h == nil {
			nx := p.next(w.now)
			if nx < 0 {
				return -1
			}
			return nx + 20*sec + r.Int64N(40*sec) // the network comes up after wake
		}
		b := beats[h]
		if b == nil {
			b = &beat{h: h, name: name, port: 443, out: out, in: in, lab: lab, aaaa: true}
			beats[h] = b
		}
		b.fire(w, w.now)
		return w.now + int64(period) + uniform(r, -sec, sec)
	})
}

// deviceChatter is appleChatter for a device that moves: timed NTP over
// whichever interface is up, and an APNs session per presence span (the
// courier reconnects after every network change).
func (w *world) deviceChatter(p *presence, first *host) {
	r := w.rngFor("chatter/" + first.name)
	ntpName := "time-macos.apple.com"
	ntpLab := w.label(Label{Style: "apple-ntp", SrcIP: first.ip.String(), SrcMAC: first.mac.String(), OS: "macos",
		DstFQDN: ntpName, DstPort: 123, Proto: "udp", PeriodS: 1024, Jitter: 0.05, Device: first.name,
		Note: "timed polls Apple NTP from whichever address the Mac holds: approved by the default baseline"})
	w.every(p.spans[0].from+5*sec+r.Int64N(20*sec), func(w *world) int64 {
		if h := p.at(w.now); h != nil {
			src, mac := h.ip, h.mac
			w.ntp(h, ntpName, w.now, func(w *world) { ntpLab.beatFrom(w, src, mac) })
			if a, ok := h.cache[ntpName]; ok {
				ntpLab.addIP(a.addr)
			}
		}
		return w.now + int64(1024*sec) + uniform(r, -50*sec, 50*sec)
	})
	courier := courierNames[r.IntN(len(courierNames))]
	pushLab := w.label(Label{Style: "apple-push", SrcIP: first.ip.String(), SrcMAC: first.mac.String(), OS: "macos",
		DstFQDN: courier, DstPort: 5223, Proto: "tcp", PeriodS: 900, Jitter: 0.1, Device: first.name,
		Note: "APNs keep-alives, one session per address or interface the Mac holds: approved by the default baseline"})
	for _, s := range p.spans {
		if s.to-s.from < 5*60*sec {
			continue
		}
		w.after(s.from+3*sec+r.Int64N(20*sec), func(w *world) {
			w.courierSession(s.h, w.now, s.to-60*sec, courier, pushLab)
		})
	}
}

// agentLabel is the label of a device's planted LaunchAgent.
func (w *world) agentLabel(h *host, style, fqdn, label string, p time.Duration, note string) *labelRec {
	return w.label(Label{Style: style, SrcIP: h.ip.String(), SrcMAC: h.mac.String(), OS: "macos", DstFQDN: fqdn,
		DstPort: 443, Proto: "tcp", PeriodS: p.Seconds(), Jitter: 0.0033, ShouldAlert: true, ShouldAlertOSAny: true, Device: h.name,
		Note: fmt.Sprintf("PLANTED: LaunchAgent %s (StartInterval %d) -> %s:443, one host: %s", label, int(p.Seconds()), fqdn, note)})
}

// identBackground adds count ordinary hosts on 10.20.4.0/24 from octet
// first: Macs, an iPhone, Windows and Linux, browsing; none must alert.
func (w *world) identBackground(count, first int) {
	kinds := []struct {
		os         osKind
		ver, model string
		pfx        string
	}{
		{osMacOS, "14.6", "MacBookAir10,1", "mba"},
		{osIOS, "17.5", "iPhone14,2", "iphone"},
		{osWindows, "11", "", "win"},
		{osLinux, "12", "", "lnx"},
		{osMacOS, "15.1", "Mac15,6", "mbp"},
	}
	cfg := browseCfg{medianGap: int64(50 * 60 * sec), maxBytes: 6000, scale: 0.05}
	for i := 0; i < count; i++ {
		k := kinds[i%len(kinds)]
		h := w.net.addHost(fmt.Sprintf("bg-%s-%02d", k.pfx, i+1), k.os, k.ver, k.model, fmt.Sprintf("10.20.4.%d", first+i), "")
		h.quiet = true
		w.backgroundHost(h, cfg)
		w.noiseLabel(h)
	}
}

// backgroundHost joins h in the first 10 minutes and runs its OS's chatter
// and browsing.
func (w *world) backgroundHost(h *host, cfg browseCfg) {
	start := w.start + h.rng.Int64N(int64(10*60*sec))
	w.join(h, start, true)
	switch {
	case h.os.apple():
		w.appleChatter(h, start+3*sec)
	case h.os == osWindows:
		w.after(start+5*sec, func(w *world) { w.ntp(h, "time.windows.com", w.now, nil) })
	default:
		w.after(start+5*sec, func(w *world) { w.ntp(h, "ntp.ubuntu.com", w.now, nil) })
	}
	w.browse(h, start+20*sec, cfg)
}

// churnAddr is address i of the DHCP scope the churning Mac's addresses
// come from (10.20.16.20-10.20.17.219, away from every other host's).
func churnAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 20, 16 + byte(i/200), byte(20 + i%200)})
}

// identChurn plants the dhcp-churn situation: ChurnMacHost beacons for
// the whole span while DHCP moves it to a new address every 2-3 h. Each
// move is a short absence (lid closed between meetings) after which the
// server NAKs the old lease (short leases in a crowded scope) and the Mac
// DISCOVERs a new one; about one move in three the Mac RELEASEs its lease
// on leaving instead. The Windows laptop ChurnWindowsHost gets the first
// address the Mac released after hour 6 and browses until the end.
func (w *world) identChurn() {
	n := w.net
	n.svc(ChurnAgentFQDN, 300, stackLinux, 30*ms, nil, "198.51.100.71", "198.51.100.72").rotate = true
	r := w.rngFor("dhcp-churn")
	perm := r.Perm(400)
	addr := func(i int) netip.Addr { return churnAddr(perm[i]) }
	mac := n.addHost(ChurnMacHost, osMacOS, "14.6", "MacBookAir10,1", addr(0).String(), ChurnMacMAC)
	mac.note = "re-addressed by DHCP every 2-3 h; ip is its last address, the beacon label's src_ips lists every one"
	p := &presence{}
	type move struct {
		at      int64 // back on the network with addr
		addr    netip.Addr
		release bool // it released the previous lease on leaving
	}
	var moves []move
	t := w.start + 30*sec
	for i := 0; t < w.end; i++ {
		to := t + uniform(r, int64(2*time.Hour), int64(3*time.Hour))
		p.spans = append(p.spans, presenceSpan{from: t, to: min(to, w.end), h: mac})
		back := to + uniform(r, 60*sec, 4*60*sec)
		moves = append(moves, move{at: back, addr: addr(i + 1), release: r.IntN(3) == 0})
		t = back
	}
	p.hide(mac)
	lease := uint32(2 * 3600)
	w.joinWith(mac, p.spans[0].from, dhcpOpts{full: true, lease: lease})
	var winAddr netip.Addr
	var winAt int64
	for i, m := range moves {
		if m.at >= w.end {
			break
		}
		left := p.spans[i].to
		old := addr(i)
		if m.release {
			w.after(left-2*sec, func(w *world) { w.dhcpRelease(mac, w.now, old) })
			if !winAddr.IsValid() && left > w.start+int64(6*time.Hour) {
				winAddr, winAt = old, left+uniform(r, 20*60*sec, 50*60*sec)
			}
		}
		w.after(m.at, func(w *world) {
			mac.ip = m.addr
			clear(mac.cache) // macOS flushes its DNS cache on a network change
			o := dhcpOpts{full: true, lease: lease}
			if !m.release {
				o.nak = old
			}
			w.joinWith(mac, w.now, o)
		})
	}
	w.deviceChatter(p, mac)
	w.browse(mac, w.start+2*60*sec, browseCfg{medianGap: int64(25 * 60 * sec), maxBytes: 8000, scale: 0.08})
	lab := w.agentLabel(mac, "dhcp-churn", ChurnAgentFQDN, ChurnAgentLabel, ChurnAgentPeriod,
		"the Mac is re-addressed by DHCP every 2-3 h, src_ips lists the addresses its beats came from")
	w.deviceAgent(p, lab, ChurnAgentFQDN, ChurnAgentPeriod, w.start+3*60*sec, 700, 1800)

	if !winAddr.IsValid() { // no release after hour 6: take the last move's lease
		winAddr, winAt = addr(len(moves)-2), moves[len(moves)-2].at+30*60*sec
	}
	win := n.addHost(ChurnWindowsHost, osWindows, "11", "", winAddr.String(), ChurnWindowsMAC)
	win.note = "gets an address " + ChurnMacHost + " released: no macOS evidence or beacon history must carry over"
	w.join(win, winAt, true)
	w.after(winAt+5*sec, func(w *world) { w.ntp(win, "time.windows.com", w.now, nil) })
	w.browse(win, winAt+30*sec, browseCfg{medianGap: int64(12 * 60 * sec), maxBytes: 10000, scale: 0.08})
	w.label(Label{Style: "browsing-noise", SrcIP: winAddr.String(), SrcMAC: ChurnWindowsMAC, OS: "windows", DstFQDN: "*",
		Note: "Windows laptop on an address the churning Mac held before: browsing only, must never alert nor be macOS"})
}

// identTempV6 plants the ipv6-temp situation: V6MacHost is dual-stack, its
// IPv4 address fixed, its IPv6 addresses from the router's advertisements
// of V6OfficePrefix: a stable RFC 7217 address it never sources from and a
// temporary (RFC 8981) one replaced every V6TempLifetime, from which its
// LaunchAgent beacons after looking the name up (A and AAAA) over IPv4.
func (w *world) identTempV6() {
	n := w.net
	sv := n.svc(V6AgentFQDN, 300, stackLinux, 35*ms, nil, v6AgentAddrA)
	sv.addrs6 = addrsOf(v6AgentAddrAAAA, "2001:db8:ffff:81::11")
	sv.rotate = true
	pfx := netip.MustParsePrefix(V6OfficePrefix)
	w.raPrefixes = append(w.raPrefixes, pfx)
	h := n.addHost(V6MacHost, osMacOS, "15.1", "Mac15,6", V6MacIP, V6MacMAC)
	h.note = "dual-stack: beacons from RFC 8981 temporary addresses in " + V6OfficePrefix + " rotating every 4 h"
	r := w.rngFor("ipv6-temp")
	ll := randomIID(netip.MustParsePrefix("fe80::/64"), r)
	stable := randomIID(pfx, r)
	start := w.start + 20*sec
	w.join(h, start, true)
	w.dad(h, ll, start+100*ms)
	w.after(start+1200*ms, func(w *world) {
		w.routerSolicit(h, ll, w.now, w.raManaged, w.raPrefixes...)
		if w.raManaged { // mixed-identity: the dock's segment also hands out DHCPv6 addresses
			dr := w.rngFor("ipv6-temp/dhcpv6")
			w.dhcpv6(h, ll, w.now+300*ms, duidLLT(h.mac, 0x2b11c0de), 0x0d, randomIID(netip.MustParsePrefix(dockedULAPrefix), dr))
		}
	})
	w.dad(h, stable, start+1300*ms)
	for t := start + 1400*ms; t < w.end; t += int64(V6TempLifetime) + uniform(r, -3*60*sec, 3*60*sec) {
		tmp := randomIID(pfx, r)
		w.dad(h, tmp, t)
		// Once DAD's second has passed the new address is preferred; the
		// old one is deprecated and serves only its open sessions.
		w.after(t+1000*ms, func(w *world) {
			h.ip6 = tmp
			w.neighborExchange(w.now+200*ms, h.mac, tmp, gatewayMAC, gatewayLL, true, h.vlan, 400*us)
		})
		// The router resolves the new address on the first packet back.
		w.after(t+1000*ms+int64(30*sec)+r.Int64N(60*sec), func(w *world) {
			w.neighborExchange(w.now, gatewayMAC, gatewayLL, h.mac, tmp, false, h.vlan, 300*us)
		})
	}
	// Neighbour unreachability probes of the router now and then.
	w.every(start+20*60*sec, func(w *world) int64 {
		if h.ip6.IsValid() {
			w.neighborProbe(w.now, h.mac, h.ip6, gatewayMAC, gatewayLL, true, h.vlan, 350*us)
		}
		return w.now + uniform(r, 20*60*sec, 40*60*sec)
	})
	w.appleChatter(h, start+2*sec)
	w.browse(h, start+60*sec, browseCfg{medianGap: int64(25 * 60 * sec), maxBytes: 8000, scale: 0.08})
	lab := w.agentLabel(h, "ipv6-temp", V6AgentFQDN, V6AgentLabel, V6AgentPeriod,
		"over IPv6 from temporary addresses rotating every 4 h; src_ips lists them")
	p := &presence{spans: []presenceSpan{{from: start, to: w.end, h: h}}}
	w.deviceAgent(p, lab, V6AgentFQDN, V6AgentPeriod, start+2*60*sec, 650, 2400)
}

// identDocked plants the docked situation over two days from Monday 08:00:
// DockedHost arrives on Wi-Fi at about 08:00, docks minutes later (the
// dock's Ethernet becomes the primary interface while Wi-Fi stays
// associated), undocks around noon and stays on Wi-Fi until about 18:00,
// then goes home. On each interface: DHCPv4 with the same option 12, its
// own option 61 (the interface's MAC, as macOS sends), Bonjour NAME.local,
// Router Solicitation and stateful DHCPv6 under the one DUID.
func (w *world) identDocked() {
	n := w.net
	n.svc(DockedAgentFQDN, 120, stackCDN, 22*ms, []string{"menubar-sync.edgekey.example"}, "203.0.113.121", "203.0.113.122", "203.0.113.123").rotate = true
	w.raPrefixes = append(w.raPrefixes, netip.MustParsePrefix(dockedULAPrefix))
	w.raManaged = true
	wifi := n.addHost(DockedHost, osMacOS, "14.6", "MacBookPro18,3", DockedWiFiIP, DockedWiFiMAC)
	eth := n.addHost(DockedHost+"/en7", osMacOS, "14.6", "MacBookPro18,3", DockedEthIP, DockedEthMAC)
	eth.name = DockedHost // one hostname on both interfaces
	wifi.note = "Wi-Fi of a docked MacBook: one host with " + DockedEthMAC
	eth.note = "USB-C dock Ethernet of " + DockedHost + ": one host with " + DockedWiFiMAC
	r := w.rngFor("docked")
	ula := netip.MustParsePrefix(dockedULAPrefix)
	iface := map[*host]struct {
		ll, v6 netip.Addr
		iaid   uint32
	}{
		wifi: {randomIID(netip.MustParsePrefix("fe80::/64"), r), randomIID(ula, r), 0x0d},
		eth:  {randomIID(netip.MustParsePrefix("fe80::/64"), r), randomIID(ula, r), 0x15},
	}
	duid := duidLLT(wifi.mac, 0x2c5a7e31) // made once, from en0 (Wi-Fi)
	up := func(h *host, t int64, full bool) {
		f := iface[h]
		w.joinWith(h, t, dhcpOpts{full: full})
		w.dad(h, f.ll, t+150*ms)
		w.after(t+1200*ms, func(w *world) {
			w.routerSolicit(h, f.ll, w.now, w.raManaged, w.raPrefixes...)
			w.dhcpv6(h, f.ll, w.now+300*ms, duid, f.iaid, f.v6)
		})
		w.dad(h, f.v6, t+2800*ms)
	}
	p := &presence{}
	for d := int64(0); d < 2; d++ {
		day := w.start + d*int64(24*time.Hour)
		arrive := day + uniform(r, 0, 4*60*sec)
		dock := arrive + uniform(r, 6*60*sec, 15*60*sec)
		undock := day + int64(4*time.Hour) + uniform(r, 0, 40*60*sec)
		leave := day + int64(10*time.Hour) + uniform(r, 0, 40*60*sec)
		p.spans = append(p.spans, presenceSpan{arrive, dock, wifi}, presenceSpan{dock, undock, eth}, presenceSpan{undock, leave, wifi})
		up(wifi, arrive, d == 0)
		up(eth, dock, d == 0)
		// Bonjour re-announces on every interface when the primary changes.
		w.after(dock+2*sec, func(w *world) { w.mdnsAnnounce(wifi, w.now) })
		w.after(undock+1500*ms, func(w *world) {
			clear(wifi.cache)
			w.mdnsAnnounce(wifi, w.now)
		})
		w.after(dock+3*sec, func(w *world) { clear(eth.cache) })
	}
	p.hide(wifi, eth)
	w.deviceChatter(p, wifi)
	cfg := browseCfg{medianGap: int64(20 * 60 * sec), maxBytes: 8000, scale: 0.08}
	w.browse(wifi, w.start+60*sec, cfg)
	w.browse(eth, w.start+90*sec, cfg)
	lab := w.agentLabel(wifi, "docked", DockedAgentFQDN, DockedAgentLabel, DockedAgentPeriod,
		"out the dock's Ethernet in the mornings and Wi-Fi otherwise; src_macs holds both MACs")
	w.deviceAgent(p, lab, DockedAgentFQDN, DockedAgentPeriod, p.spans[0].from+90*sec, 800, 2600)
}

// startAdverts starts the router's periodic advertisements of the
// prefixes the scenario's parts registered.
func (w *world) startAdverts() {
	if len(w.raPrefixes) > 0 {
		w.routerAdverts(w.start+uniform(w.rngFor("ra-start"), 0, 60*sec), w.raManaged, w.raPrefixes...)
	}
}

func buildDHCPChurn(w *world) {
	identBase(w)
	w.identChurn()
	w.identBackground(4, 30)
	w.startAdverts()
}

func buildTempV6(w *world) {
	identBase(w)
	w.identTempV6()
	w.identBackground(4, 30)
	w.startAdverts()
}

func buildDocked(w *world) {
	identBase(w)
	w.identDocked()
	w.identBackground(4, 30)
	w.startAdverts()
}

// buildMixedIdentity is the three situations at once plus 20 background
// hosts. Among them, hosts that keep their generic default names: two
// Macs whose DHCP option 12 is "MacBook-Pro" (the second announces
// MacBook-Pro-2.local after Bonjour's conflict rename), each running its
// own agent, and two iPhones named "iPhone". A name shared by unrelated
// devices ties nothing together.
func buildMixedIdentity(w *world) {
	identBase(w)
	w.identChurn()
	w.identTempV6()
	w.identDocked()
	n := w.net
	n.svc(GenericAgentAFQDN, 300, stackLinux, 28*ms, nil, "198.51.100.91")
	n.svc(GenericAgentBFQDN, 300, stackLinux, 33*ms, nil, "198.51.100.92")
	cfg := browseCfg{medianGap: int64(60 * 60 * sec), maxBytes: 6000, scale: 0.05}
	generic := []struct {
		key, name, local string
		os               osKind
		ver, model       string
		ip, mac          string
		fqdn             string
		p                time.Duration
	}{
		{"generic-mbp-a", GenericMacHost, "", osMacOS, "14.6", "MacBookPro18,1", "10.20.4.60", GenericMacAMAC, GenericAgentAFQDN, GenericAgentAP},
		{"generic-mbp-b", GenericMacHost, GenericMacHost + "-2", osMacOS, "15.1", "Mac15,7", "10.20.4.61", GenericMacBMAC, GenericAgentBFQDN, GenericAgentBP},
		{"generic-iphone-a", "iPhone", "", osIOS, "17.5", "iPhone14,2", "10.20.4.62", "a4:83:e7:0c:00:0c", "", 0},
		{"generic-iphone-b", "iPhone", "iPhone-2", osIOS, "17.6", "iPhone15,3", "10.20.4.63", "a4:83:e7:0c:00:0d", "", 0},
	}
	for _, g := range generic {
		h := n.addHost(g.key, g.os, g.ver, g.model, g.ip, g.mac)
		h.name, h.local, h.quiet = g.name, g.local, true
		h.note = "generic default hostname " + g.name + ": a separate device from every other " + g.name
		w.backgroundHost(h, cfg)
		if g.fqdn == "" {
			w.noiseLabel(h)
			continue
		}
		lab := w.agentLabel(h, "generic-hostname", g.fqdn, "com.example.agent", g.p,
			"its Mac shares the hostname "+g.name+" with another Mac: a separate host, its own alert")
		b := &beat{h: h, name: g.fqdn, port: 443, out: 600, in: 1500, lab: lab}
		w.every(w.start+15*60*sec+h.rng.Int64N(10*60*sec), func(w *world) int64 {
			b.fire(w, w.now)
			return w.now + int64(g.p) + uniform(h.rng, -sec, sec)
		})
	}
	w.identBackground(16, 30)
	w.startAdverts()
}
