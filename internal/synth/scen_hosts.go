package synth

import (
	"time"
)

func init() {
	register(Scenario{
		Name: "hosts-mix",
		Description: "host identification (issue 4): macOS 11-15, iPhone, iPad, Windows 10/11, Linux, a dual-stack Mac, " +
			"spoofers (dhcpcd sending Apple's option 55, Samba's model=MacSamba), DHCP churn and private Wi-Fi MAC rotation; see HostLabels",
		Span:  4 * time.Hour,
		build: buildHostsMix,
	})
}

func buildHostsMix(w *world) {
	n := w.net
	n.addWeb()
	n.addApple()
	n.addMDM()
	n.addOS()
	w.cleartext = true
	w.dnsTCP = true
	w.lossy = true
	t0 := w.start
	cfg := browseCfg{medianGap: int64(8 * time.Minute), maxBytes: 12000, scale: 0.1}
	type spec struct {
		name       string
		os         osKind
		ver, model string
		ip, mac    string
		from, to   time.Duration // presence on the network
		setup      func(h *host)
		note       string
	}
	specs := []spec{
		{name: "mbp-sequoia", os: osMacOS, ver: "15.1", model: "Mac15,6", ip: "10.20.7.10"},
		{name: "imac-sonoma", os: osMacOS, ver: "14.6", model: "iMac21,1", ip: "10.20.7.11"},
		{name: "mba-ventura", os: osMacOS, ver: "13.6", model: "MacBookAir10,1", ip: "10.20.7.12"},
		{name: "mbp-bigsur", os: osMacOS, ver: "11.7", model: "MacBookPro16,1", ip: "10.20.7.13",
			setup: func(h *host) { h.prl = []byte{1, 121, 3, 6, 15, 119, 252, 95, 44, 46} },
			note:  "macOS 11: option 55 without 108 and 114"},
		{name: "mbp-dualstack", os: osMacOS, ver: "14.5", model: "MacBookPro18,3", ip: "10.20.7.14",
			setup: func(h *host) { w.dualStack(h) }, note: "dual-stack: same MAC on IPv4 and IPv6"},
		{name: "iphone-15", os: osIOS, ver: "17.5", model: "iPhone14,2", ip: "10.20.7.20"},
		{name: "ipad-air", os: osIOS, ver: "17.5", model: "iPad13,1", ip: "10.20.7.21",
			note: "iPadOS: iOS DHCP list and time-ios.apple.com, but a Mac-like Safari User-Agent"},
		{name: "win10-desk", os: osWindows, ver: "10", ip: "10.20.7.30",
			setup: func(h *host) { h.winVar = 1 }, note: "SYN window 65535 variant"},
		{name: "win11-laptop", os: osWindows, ver: "11", ip: "10.20.7.31", setup: func(h *host) { h.winVar = 5 }},
		{name: "win11-old", os: osWindows, ver: "11", ip: "10.20.7.32", setup: func(h *host) { h.winVar = 0 },
			note: "SYN window 8192 variant"},
		{name: "debian-build", os: osLinux, ver: "12", ip: "10.20.7.40"},
		{name: "kiosk-dhcpcd", os: osLinux, ver: "12", ip: "10.20.7.41",
			setup: func(h *host) { h.prl = prlMacOS },
			note:  "spoof: dhcpcd configured to send Apple's option 55; Linux SYNs"},
		{name: "nas-samba", os: osLinux, ver: "12", ip: "10.20.7.42",
			setup: func(h *host) { h.avahi = "MacSamba" },
			note:  "spoof: Samba/Avahi announces _device-info model=MacSamba; Linux SYNs"},
		// DHCP churn: the Mac leaves, its address goes to a Windows PC.
		{name: "mbp-visitor", os: osMacOS, ver: "14.5", model: "MacBookPro18,3", ip: "10.20.7.50", to: 90 * time.Minute,
			note: "leaves after 90 min; 10.20.7.50 then goes to win-hotdesk"},
		{name: "win-hotdesk", os: osWindows, ver: "11", ip: "10.20.7.50", from: 2 * time.Hour,
			note: "gets 10.20.7.50 after the Mac left: no macOS evidence must carry over"},
		// Private Wi-Fi address: the same iPhone rejoins with a new random MAC and address.
		{name: "iphone-private", os: osIOS, ver: "17.5", model: "iPhone14,2", ip: "10.20.7.60", mac: "ae:3f:12:9c:44:01", to: 100 * time.Minute,
			note: "private Wi-Fi address (locally administered MAC); rejoins as 10.20.7.61"},
		{name: "iphone-private", os: osIOS, ver: "17.5", model: "iPhone14,2", ip: "10.20.7.61", mac: "d2:81:6b:07:e5:3a", from: 105 * time.Minute,
			note: "the same iPhone after rotating its private Wi-Fi address"},
	}
	for i, s := range specs {
		name := s.name
		if _, dup := n.byName[name]; dup {
			name += "-2"
		}
		h := n.addHost(name, s.os, s.ver, s.model, s.ip, s.mac)
		h.name = s.name // the device keeps its hostname
		h.quiet = true
		h.note = s.note
		if s.setup != nil {
			s.setup(h)
		}
		start := t0 + int64(s.from) + h.rng.Int64N(int64(2*time.Minute)) + int64(i)*sec
		if s.to > 0 {
			h.until = t0 + int64(s.to)
		}
		w.join(h, start, true)
		if s.os.apple() {
			w.appleChatter(h, start+2*sec)
		} else if s.os == osWindows {
			w.after(start+5*sec, func(w *world) { w.ntp(h, "time.windows.com", w.now, nil) })
		} else {
			w.after(start+5*sec, func(w *world) { w.ntp(h, "ntp.ubuntu.com", w.now, nil) })
		}
		w.browse(h, start+10*sec, cfg)
	}
}
