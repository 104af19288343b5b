package synth

import (
	"fmt"
	"time"
)

// OfficeHosts is how many hosts the office scenario has.
const OfficeHosts = 120

func init() {
	register(Scenario{
		Name: "office",
		Description: fmt.Sprintf("realistic office day for throughput (issue 15): %d hosts (mostly Macs, some iPhones, Windows and Linux), 24 h from Monday 08:00, ", OfficeHosts) +
			"sleeping over lunch and at night; page loads of many short TLS and QUIC sessions each behind DNS lookups with TTL-respecting caches, " +
			"OS services (NTP, APNs, software update, Windows and Debian updates), MDM and EDR check-ins, a few unapproved launchd agents; " +
			"about 2 M packets of ~500 B",
		Span: 24 * time.Hour,
		// A cap far above what the day produces, so tests (which cap
		// scenarios with a default at 20,000 packets) do not generate the day.
		DefaultPackets: 4_000_000,
		build:          buildOffice,
	})
}

func buildOffice(w *world) {
	w.cleartext = true
	w.dnsTCP = true
	w.lossy = true
	n := w.net
	n.addWeb()
	n.addApple()
	n.addMDM()
	n.addOS()
	n.svc("managerapi.mosyle.com", 300, stackLinux, 40*ms, nil, "52.44.13.99")
	n.svc("sync.example-notes.com", 120, stackLinux, 35*ms, nil, "198.51.100.140", "198.51.100.141")
	n.svc("license.example-cad.com", 300, stackLinux, 60*ms, nil, "203.0.113.150")
	n.svc("update.example-tools.net", 600, stackCDN, 25*ms, []string{"update-example-tools.cdn.cloudflare.net"}, "104.18.41.20", "104.18.41.21")

	t0 := w.start
	// Office browsing: a page every few minutes while awake, objects of a
	// few kB to a few hundred kB, so most frames are handshakes, requests,
	// acknowledgements and DNS rather than full-size payload.
	browse := browseCfg{medianGap: int64(4 * 60 * sec), maxBytes: 400 << 10, scale: 0.35}
	type kind struct {
		os    osKind
		ver   string
		model string
		pfx   string
	}
	kinds := []kind{
		{osMacOS, "14.5", "MacBookPro18,3", "mbp"},
		{osMacOS, "15.1", "Mac14,7", "mbp"},
		{osMacOS, "14.6", "MacBookAir10,1", "mba"},
		{osWindows, "11", "", "win"},
		{osMacOS, "13.6", "iMac21,1", "imac"},
		{osMacOS, "15.1", "Mac15,3", "mbp"},
		{osIOS, "17.5", "iPhone14,2", "iphone"},
		{osMacOS, "14.5", "MacBookAir10,1", "mba"},
		{osLinux, "12", "", "lnx"},
		{osWindows, "11", "", "win"},
	}
	mdm := []struct {
		name string
		p    time.Duration
	}{
		{"acme.jamfcloud.com", 15 * time.Minute},
		{"acme-device.kandji.io", 15 * time.Minute},
		{"managerapi.mosyle.com", 10 * time.Minute},
	}
	for i := 0; i < OfficeHosts; i++ {
		k := kinds[i%len(kinds)]
		ip := fmt.Sprintf("10.30.%d.%d", i/100, 20+i%100)
		h := n.addHost(fmt.Sprintf("office-%s-%03d", k.pfx, i), k.os, k.ver, k.model, ip, "")
		start := t0 + h.rng.Int64N(int64(20*60*sec))
		w.join(h, start, true)
		sleeps := [][2]int64(nil)
		if k.os != osLinux { // the Linux boxes are build servers and stay up
			sleeps = w.sleeper(h)
		}
		if k.os.apple() {
			w.appleChatter(h, start+sec)
		}
		w.browse(h, start+2*sec, browse)
		switch k.os {
		case osMacOS:
			// Every Mac is managed: one MDM agent and the EDR sensor.
			m := mdm[i%len(mdm)]
			w.runBeacon(&beat{h: h, name: m.name, port: 443, out: 1500, in: 2500, lab: w.pairLabel(h, "mdm-checkin", m.name, 443, "tcp", m.p.Seconds(), 0.02, benign,
				"MDM check-in: approved by the default baseline")},
				start+int64(2*time.Minute)+h.rng.Int64N(int64(time.Minute)), w.end, launchdInterval(m.p, sleeps))
			w.runBeacon(&beat{h: h, name: "ts01-b.cloudsink.net", port: 443, out: 900, in: 1400, lab: w.pairLabel(h, "edr-checkin", "ts01-b.cloudsink.net", 443, "tcp", 120, 0.05, benign,
				"CrowdStrike Falcon sensor every 2 min: approved by the default baseline")},
				start+int64(time.Minute)+h.rng.Int64N(int64(time.Minute)), w.end, symmetric(2*time.Minute, 0.05))
			w.runBeacon(&beat{h: h, name: "gdmf.apple.com", port: 443, out: 700, in: 2500, lab: w.pairLabel(h, "apple-mdm", "gdmf.apple.com", 443, "tcp", 1800, 0.05, benign,
				"gdmf.apple.com every 30 min: approved by the default baseline")},
				start+int64(12*time.Minute), w.end, symmetric(30*time.Minute, 0.05))
		case osWindows:
			w.runBeacon(&beat{h: h, name: "settings-win.data.microsoft.com", port: 443, out: 1100, in: 3000},
				start+int64(5*time.Minute), w.end, symmetric(20*time.Minute, 0.3))
			w.runBeacon(&beat{h: h, name: "ctldl.windowsupdate.com", port: 80, http: "/msdownload/update/v3/static/trustedr/en/authrootstl.cab", in: 6000},
				start+int64(15*time.Minute), w.end, symmetric(time.Hour, 0.2))
		case osLinux:
			w.runBeacon(&beat{h: h, name: "deb.debian.org", port: 80, http: "/debian/dists/bookworm/InRelease", in: 30000},
				start+int64(7*time.Minute), w.end, symmetric(time.Hour, 0.1))
		}
		// A few Macs run unapproved launchd agents: a notes sync (every
		// 5 min, StartInterval 300), a CAD licence check (hourly) and a
		// tool updater (StartInterval 1800). They are what the sensor
		// exists to report, so the office day does alert.
		switch i {
		case 1, 41, 81:
			w.officeAgent(h, "sync.example-notes.com", 5*time.Minute, sleeps, 800, 1600)
		case 2, 62:
			w.officeAgent(h, "license.example-cad.com", time.Hour, sleeps, 600, 900)
		case 5:
			w.officeAgent(h, "update.example-tools.net", 30*time.Minute, sleeps, 700, 5000)
		default:
			if k.os != osMacOS {
				w.noiseLabel(h) // browsing and approved or irregular OS services only
			}
		}
	}
}

// officeAgent runs an unapproved LaunchAgent with StartInterval p on h.
func (w *world) officeAgent(h *host, name string, p time.Duration, sleeps [][2]int64, out, in int) {
	lab := w.pairLabel(h, "launchd-start-interval", name, 443, "tcp", p.Seconds(), 0.0003, malicious,
		fmt.Sprintf("unapproved LaunchAgent, StartInterval %d, coalesced over sleep", int(p.Seconds())))
	w.runBeacon(&beat{h: h, name: name, port: 443, out: out, in: in, lab: lab},
		w.start+int64(3*time.Minute)+h.rng.Int64N(int64(10*time.Minute)), w.end, launchdInterval(p, sleeps))
}
