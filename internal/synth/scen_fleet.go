package synth

import (
	"fmt"
	"time"
)

// The fleet scenario's constants; the fleet grouping tests use the same.
const (
	FleetAgentFQDN   = "telemetry.vendor-agent.example"
	FleetAgentLabel  = "com.vendoragent.telemetry"
	FleetAgentPeriod = 3600 * time.Second
	// FleetMacs is how many Macs run the agent at FleetAgentPeriod; one
	// more Mac runs it at FleetOddPeriod.
	FleetMacs      = 15
	FleetOddPeriod = 1800 * time.Second
)

// FleetMacIP and FleetMacMAC are the addresses of the fleet scenario's Mac
// i (0..FleetMacs, the last being the one at FleetOddPeriod).
func FleetMacIP(i int) string  { return fmt.Sprintf("10.20.5.%d", 10+i) }
func FleetMacMAC(i int) string { return fmt.Sprintf("3c:22:fb:05:00:%02x", i) }

func init() {
	register(Scenario{
		Name: "fleet",
		Description: "fleet grouping (issue 11): 15 Macs run the same unapproved vendor LaunchDaemon " + FleetAgentLabel +
			" (StartInterval 3600, RunAtLoad) to " + FleetAgentFQDN + ":443, loaded at different times in the first hour; " +
			"a 16th Mac runs it with StartInterval 1800; a few browsing hosts",
		Span:  8 * time.Hour,
		build: buildFleet,
	})
}

func buildFleet(w *world) {
	n := w.net
	n.addWeb()
	n.addApple()
	n.addOS()
	n.svc(FleetAgentFQDN, 300, stackLinux, 30*ms, nil, "203.0.113.60", "203.0.113.61")
	t0 := w.start
	small := browseCfg{medianGap: int64(30 * 60 * sec), maxBytes: 8000, scale: 0.05}
	for i := 0; i <= FleetMacs; i++ {
		period, note := FleetAgentPeriod, "the fleet's vendor agent, StartInterval 3600: one group alert for the 15 Macs"
		if i == FleetMacs {
			period, note = FleetOddPeriod, "the same agent configured with StartInterval 1800: its own alert, not the group's"
		}
		ip, mac := FleetMacIP(i), FleetMacMAC(i)
		h := n.addHost(fmt.Sprintf("fleet-mac-%02d", i+1), osMacOS, "14.6", "MacBookAir10,1", ip, mac)
		join := t0 + int64(i)*7*sec
		w.join(h, join, true)
		w.appleChatter(h, join+5*sec)
		w.browse(h, join+60*sec, small)
		lab := w.label(Label{Style: "launchd-interval", SrcIP: ip, SrcMAC: mac, OS: "macos",
			DstFQDN: FleetAgentFQDN, DstPort: 443, Proto: "tcp", PeriodS: period.Seconds(), Jitter: 0.0003,
			ShouldAlert: true, ShouldAlertOSAny: true,
			Note: "PLANTED: LaunchDaemon " + FleetAgentLabel + ": " + note})
		b := &beat{h: h, name: FleetAgentFQDN, port: 443, out: 900, in: 1500, lab: lab}
		// Loaded when its Mac booted, at some point of the first hour.
		w.every(join+30*sec+uniform(h.rng, 0, int64(50*time.Minute)), func(w *world) int64 {
			b.fire(w, w.now)
			return w.now + int64(period) + uniform(h.rng, -sec, sec)
		})
	}
	w.noiseHosts(4, t0, browseCfg{medianGap: int64(40 * 60 * sec), maxBytes: 5000, scale: 0.05})
}
