package synth

import (
	"fmt"
	"time"
)

// The demo constants (helpers/DEMO.md); the inventory and tests use the same.
const (
	DemoBeaconHost     = "alices-mbp"
	DemoBeaconIP       = "10.20.1.15"
	DemoBeaconMAC      = "3c:22:fb:1a:2b:3c"
	DemoBeaconLabel    = "com.example.updater"
	DemoBeaconFQDN     = "cdn.example.net"
	DemoBeaconCNAME    = "edge.cdn-provider.example"
	DemoBeaconPort     = 443
	DemoBeaconPeriod   = 300 * time.Second
	DemoResolverIP     = "10.20.0.53"
	DemoJamfDomain     = "acme.jamfcloud.com"
	DemoWindowsBeacon  = "telemetry.example.org"
	DemoLinuxInternal  = "10.20.3.10"
	DemoBeaconAddrsCSV = "203.0.113.10,203.0.113.11,203.0.113.12"
)

func init() {
	register(Scenario{
		Name: "demo",
		Description: "the embedded default: alices-mbp's LaunchAgent com.example.updater beacons to cdn.example.net:443 " +
			"every 300 s; benign Macs (Apple services, Jamf), a Windows and a Linux host beaconing, a dozen browsing hosts",
		Span:  9300 * time.Second,
		build: buildDemo,
	})
}

func buildDemo(w *world) {
	n := w.net
	n.addWeb()
	n.addApple()
	n.addMDM()
	n.addOS()
	n.svc(DemoBeaconFQDN, 60, stackLinux, 24*ms, []string{DemoBeaconCNAME}, "203.0.113.10", "203.0.113.11", "203.0.113.12").rotate = true
	n.svc(DemoWindowsBeacon, 300, stackWindows, 40*ms, nil, "198.51.100.20")
	n.internalSvc("ci.corp.example", DemoLinuxInternal, "52:54:00:20:03:10")
	t0 := w.start
	small := browseCfg{medianGap: int64(20 * 60 * sec), maxBytes: 10000, scale: 0.1}

	alice := n.addHost(DemoBeaconHost, osMacOS, "14.5", "MacBookPro18,3", DemoBeaconIP, DemoBeaconMAC)
	w.join(alice, t0+2*sec, true)
	w.appleChatter(alice, t0+5*sec)
	w.browse(alice, t0+60*sec, small)
	lab := w.label(Label{Style: "launchd-interval", SrcIP: DemoBeaconIP, SrcMAC: DemoBeaconMAC, OS: "macos",
		DstFQDN: DemoBeaconFQDN, DstPort: DemoBeaconPort, Proto: "tcp", PeriodS: 300, Jitter: 0.0033,
		ShouldAlert: true, ShouldAlertOSAny: true,
		Note: "PLANTED: LaunchAgent com.example.updater (StartInterval 300, RunAtLoad) -> cdn.example.net:443, ±1 s network jitter"})
	b := &beat{h: alice, name: DemoBeaconFQDN, port: 443, out: 600, in: 4096, lab: lab}
	w.every(t0+90*sec, func(w *world) int64 {
		b.fire(w, w.now)
		return w.now + int64(DemoBeaconPeriod) + uniform(alice.rng, -sec, sec)
	})

	bob := n.addHost("bobs-mbp", osMacOS, "14.4", "MacBookPro18,3", "10.20.1.22", "3c:22:fb:44:55:66")
	w.join(bob, t0+20*sec, true)
	w.appleChatter(bob, t0+25*sec)
	w.browse(bob, t0+120*sec, small)
	jamf := w.label(Label{Style: "mdm-checkin", SrcIP: "10.20.1.22", SrcMAC: "3c:22:fb:44:55:66", OS: "macos",
		DstFQDN: DemoJamfDomain, DstPort: 443, Proto: "tcp", PeriodS: 900, Jitter: 0.0056,
		Note: "Jamf Pro check-in every 15 min: approved MDM (*.jamfcloud.com) in the default baseline"})
	jb := &beat{h: bob, name: DemoJamfDomain, port: 443, out: 1800, in: 2600, lab: jamf}
	w.every(t0+200*sec, func(w *world) int64 {
		jb.fire(w, w.now)
		return w.now + int64(900*sec) + uniform(bob.rng, -5*sec, 5*sec)
	})

	win := n.addHost("win-desk-07", osWindows, "11", "", "10.20.2.40", "00:15:5d:07:07:07")
	w.join(win, t0+40*sec, true)
	w.browse(win, t0+100*sec, small)
	w.after(t0+70*sec, func(w *world) { w.ntp(win, "time.windows.com", w.now, nil) })
	wl := w.label(Label{Style: "windows-beacon", SrcIP: "10.20.2.40", SrcMAC: "00:15:5d:07:07:07", OS: "windows",
		DstFQDN: DemoWindowsBeacon, DstPort: 443, Proto: "tcp", PeriodS: 120, Jitter: 0.02,
		ShouldAlertOSAny: true, Note: "Windows host beaconing: alerts only with --os any"})
	wb := &beat{h: win, name: DemoWindowsBeacon, port: 443, out: 520, in: 900, lab: wl}
	w.every(t0+150*sec, func(w *world) int64 {
		wb.fire(w, w.now)
		return w.now + int64(120*sec) + uniform(win.rng, -1200*ms, 1200*ms)
	})

	lin := n.addHost("build-linux", osLinux, "12", "", "10.20.3.9", "52:54:00:12:34:56")
	w.join(lin, t0+10*sec, true)
	apt := w.label(Label{Style: "linux-beacon", SrcIP: "10.20.3.9", SrcMAC: "52:54:00:12:34:56", OS: "linux",
		DstFQDN: "deb.debian.org", DstPort: 80, Proto: "tcp", PeriodS: 600, Jitter: 0.01,
		ShouldAlertOSAny: true, Note: "apt-ish cleartext HTTP polling every 10 min from Linux: alerts only with --os any"})
	ab := &beat{h: lin, name: "deb.debian.org", port: 80, http: "/debian/dists/bookworm-updates/InRelease", in: 3000, lab: apt}
	w.every(t0+300*sec, func(w *world) int64 {
		ab.fire(w, w.now)
		return w.now + int64(600*sec) + uniform(lin.rng, -6*sec, 6*sec)
	})
	internal := w.label(Label{Style: "internal-periodic", SrcIP: "10.20.3.9", SrcMAC: "52:54:00:12:34:56", OS: "linux",
		DstFQDN: "ci.corp.example", DstIPs: nil, DstPort: 8443, Proto: "tcp", PeriodS: 60, Jitter: 0,
		Note: "internal destination 10.20.3.10: never alerts"})
	ib := &beat{h: lin, name: "ci.corp.example", port: 8443, out: 180, in: 260, plain: true, lab: internal}
	w.every(t0+45*sec, func(w *world) int64 {
		ib.fire(w, w.now)
		return w.now + int64(60*sec) + uniform(lin.rng, -50*ms, 50*ms)
	})

	w.noiseHosts(12, t0, browseCfg{medianGap: int64(40 * 60 * sec), maxBytes: 5000, scale: 0.05})
}

// noiseHosts adds count browsing hosts of mixed OS on 10.20.4.0/24 and
// labels each as a source that must never alert.
func (w *world) noiseHosts(count int, t0 int64, cfg browseCfg) {
	kinds := []struct {
		os    osKind
		ver   string
		model string
		pfx   string
	}{
		{osMacOS, "14.5", "MacBookAir10,1", "mba"},
		{osMacOS, "15.1", "Mac14,7", "mbp"},
		{osIOS, "17.5", "iPhone14,2", "iphone"},
		{osWindows, "11", "", "win"},
		{osLinux, "12", "", "lnx"},
		{osMacOS, "13.6", "iMac21,1", "imac"},
	}
	for i := 0; i < count; i++ {
		k := kinds[i%len(kinds)]
		name := fmt.Sprintf("%s-%02d", k.pfx, i+1)
		ip := fmt.Sprintf("10.20.4.%d", 20+i)
		h := w.net.addHost(name, k.os, k.ver, k.model, ip, "")
		h.quiet = true
		start := t0 + h.rng.Int64N(int64(10*60*sec))
		w.join(h, start, true)
		if k.os.apple() {
			w.appleChatter(h, start+3*sec)
		}
		w.browse(h, start+5*sec, cfg)
		w.label(Label{Style: "browsing-noise", SrcIP: ip, SrcMAC: h.mac.String(), OS: k.os.String(), DstFQDN: "*",
			Note: "browsing-like noise (Poisson page loads, CDN names, heavy-tailed sizes): any alert from this source is false"})
	}
}
