package synth

import (
	"fmt"
	"time"
)

// The roaming scenarios' constants (issue 16): one Mac whose LaunchAgent
// beats every RoamingPeriod while its owner alternates between two offices,
// each with its own sensor. roaming-a is what office A's sensor captures,
// roaming-b office B's; the tests and docs/many-sensors.md use the same.
const (
	RoamingMAC      = "3c:22:fb:16:00:01"
	RoamingHostname = "mbp-roamer"
	RoamingFQDN     = "sync.roamer-agent.example"
	RoamingLabel    = "com.roameragent.sync"
	RoamingPeriod   = 2 * time.Hour
	// RoamingStint is how long the Mac stays in one office before moving to
	// the other; RoamingStints stints make the scenario's span.
	RoamingStint  = 4 * time.Hour
	RoamingStints = 4
	// RoamingBeats is the beats of the whole day; each office sees half,
	// fewer than the detector's default minimum of 5.
	RoamingBeats = int(RoamingStint / RoamingPeriod * RoamingStints)
)

// RoamingOffices names the two roaming scenarios, office A's first.
var RoamingOffices = [2]string{"roaming-a", "roaming-b"}

// RoamingIP is the address the Mac's DHCP lease gave it in stint i (0..3):
// a new lease each time it arrives, in office A's subnet on even stints and
// office B's on odd ones.
func RoamingIP(stint int) string {
	if stint%2 == 0 {
		return fmt.Sprintf("10.20.7.%d", 50+27*(stint/2))
	}
	return fmt.Sprintf("10.30.9.%d", 31+27*(stint/2))
}

func init() {
	for office, name := range RoamingOffices {
		register(Scenario{
			Name: name,
			Description: fmt.Sprintf("roaming Mac, office %c's sensor (issue 16): %s (MAC %s) runs LaunchAgent %s to %s:443 every %v, "+
				"alternating offices every %v with a new DHCP address each time; each office sees %d of its %d beats "+
				"(below the minimum of 5), a hub merging both sees all; a few browsing hosts",
				'A'+office, RoamingHostname, RoamingMAC, RoamingLabel, RoamingFQDN, RoamingPeriod, RoamingStint, RoamingBeats/2, RoamingBeats),
			Span:  RoamingStint * RoamingStints,
			build: func(w *world) { buildRoaming(w, office) },
		})
	}
}

// buildRoaming builds office's half (0: A, 1: B) of the roaming day. Both
// halves draw the beat schedule from the same named generator, so the two
// files hold the two halves of one schedule.
func buildRoaming(w *world, office int) {
	n := w.net
	n.addWeb()
	n.addApple()
	n.addOS()
	n.svc(RoamingFQDN, 300, stackLinux, 40*ms, nil, "198.51.100.77")
	t0 := w.start
	r := w.rngFor("roaming/schedule")
	beats := make([]int64, RoamingBeats)
	for k := range beats {
		beats[k] = t0 + int64(30*time.Minute) + int64(k)*int64(RoamingPeriod) + uniform(r, -sec, sec)
	}
	lab := w.label(Label{Style: "launchd-interval", SrcIP: RoamingIP(office), SrcMAC: RoamingMAC, OS: "macos",
		DstFQDN: RoamingFQDN, DstPort: 443, Proto: "tcp", PeriodS: RoamingPeriod.Seconds(), Jitter: 0.0003,
		ShouldAlert: false, ShouldAlertOSAny: false,
		Note: "PLANTED: LaunchAgent " + RoamingLabel + " on a roaming Mac: this office sees too few beats to alert; a hub merging both offices alerts once"})
	for s := 0; s < RoamingStints; s++ {
		if s%2 != office {
			continue
		}
		from, to := t0+int64(s)*int64(RoamingStint), t0+int64(s+1)*int64(RoamingStint)
		name := RoamingHostname
		if s >= 2 {
			name += "-2" // the same Mac back, with a new lease
		}
		h := n.addHost(name, osMacOS, "15.1", "Mac15,6", RoamingIP(s), RoamingMAC)
		h.name = RoamingHostname
		h.until = to - int64(time.Minute)
		h.note = fmt.Sprintf("roaming Mac, stint %d in office %c", s+1, 'A'+office)
		arrive := from + int64(2*time.Minute) + h.rng.Int64N(int64(time.Minute))
		w.join(h, arrive, true)
		w.appleChatter(h, arrive+2*sec)
		w.browse(h, arrive+20*sec, browseCfg{medianGap: int64(25 * time.Minute), maxBytes: 8000, scale: 0.05, until: h.until})
		b := &beat{h: h, name: RoamingFQDN, port: 443, out: 1200, in: 2600, lab: lab}
		for _, t := range beats {
			if t > arrive && t < h.until {
				w.after(t, func(w *world) { b.fire(w, w.now) })
			}
		}
	}
	// Each office's own people: names (and so MACs) of their own, so a hub
	// merging by MAC merges only the roaming Mac.
	kinds := []struct {
		os         osKind
		ver, model string
	}{{osMacOS, "14.5", "MacBookAir10,1"}, {osWindows, "11", ""}, {osMacOS, "15.1", "Mac14,7"}}
	for i, k := range kinds {
		ip := fmt.Sprintf("10.20.4.%d", 20+i)
		if office == 1 {
			ip = fmt.Sprintf("10.30.4.%d", 20+i)
		}
		h := n.addHost(fmt.Sprintf("office%c-%02d", 'a'+office, i+1), k.os, k.ver, k.model, ip, "")
		h.quiet = true
		start := t0 + h.rng.Int64N(int64(10*time.Minute))
		w.join(h, start, true)
		if k.os.apple() {
			w.appleChatter(h, start+3*sec)
		}
		w.browse(h, start+5*sec, browseCfg{medianGap: int64(40 * time.Minute), maxBytes: 5000, scale: 0.05})
		w.label(Label{Style: "browsing-noise", SrcIP: ip, SrcMAC: h.mac.String(), OS: k.os.String(), DstFQDN: "*",
			Note: "browsing-like noise: any alert from this source is false"})
	}
}
