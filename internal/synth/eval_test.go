package synth

import (
	"strings"
	"testing"
)

// intervals returns a label's beat-to-beat intervals in seconds.
func intervals(l Label) []float64 {
	var out []float64
	for i := 1; i < len(l.BeatTimes); i++ {
		out = append(out, l.BeatTimes[i].Sub(l.BeatTimes[i-1]).Seconds())
	}
	return out
}

// TestEvalStyles checks that every evaluation scenario really has the
// timing shape its labels claim, from the emitted beat times.
func TestEvalStyles(t *testing.T) {
	const tol = 0.25 // s: DNS and handshake latency differ between beats
	checks := map[string]func(t *testing.T, l Label, iv []float64){
		"launchd-start-interval": func(t *testing.T, l Label, iv []float64) {
			for _, x := range iv {
				if x < l.PeriodS-tol || x > l.PeriodS+tol {
					t.Fatalf("StartInterval %g: interval %g", l.PeriodS, x)
				}
			}
		},
		"launchd-sleep-coalesce": func(t *testing.T, l Label, iv []float64) {
			long := 0
			for _, x := range iv {
				if x < l.PeriodS-tol {
					t.Fatalf("interval %g shorter than the period %g", x, l.PeriodS)
				}
				if x > 3*3600 {
					long++
				}
			}
			if long == 0 {
				t.Fatal("no night-long gap: the Mac never slept")
			}
		},
		"launchd-calendar-hourly": func(t *testing.T, l Label, _ []float64) {
			for _, b := range l.BeatTimes {
				if b.Minute() != 17 || b.Second() > 2 {
					t.Fatalf("hourly job at %v, want hh:17", b)
				}
			}
		},
		"launchd-calendar-daily": func(t *testing.T, l Label, _ []float64) {
			for _, b := range l.BeatTimes {
				if b.Hour() != 9 || b.Minute() != 30 {
					t.Fatalf("daily job at %v, want 09:30", b)
				}
			}
		},
		"launchd-keepalive-loop": func(t *testing.T, l Label, iv []float64) {
			s := l.PeriodS - 1.4
			for _, x := range iv {
				if x < s+0.3 || x > s+2.6 {
					t.Fatalf("sleep(%g) loop interval %g", s, x)
				}
			}
		},
		"c2-one-sided-jitter": func(t *testing.T, l Label, iv []float64) {
			for _, x := range iv {
				if x < l.PeriodS*(1-l.Jitter)-tol || x > l.PeriodS+tol {
					t.Fatalf("one-sided P=%g j=%g: interval %g", l.PeriodS, l.Jitter, x)
				}
			}
		},
		"c2-symmetric-jitter": func(t *testing.T, l Label, iv []float64) {
			lo, hi := 1e9, 0.0
			for _, x := range iv {
				if x < l.PeriodS*(1-l.Jitter)-tol || x > l.PeriodS*(1+l.Jitter)+tol {
					t.Fatalf("symmetric P=%g j=%g: interval %g", l.PeriodS, l.Jitter, x)
				}
				lo, hi = min(lo, x), max(hi, x)
			}
			if hi-lo < l.PeriodS*l.Jitter {
				t.Fatalf("symmetric jitter %g barely used: intervals %g..%g", l.Jitter, lo, hi)
			}
		},
		"c2-additive-jitter": func(t *testing.T, l Label, iv []float64) {
			for _, x := range iv {
				if x < l.PeriodS-tol || x > l.PeriodS*(1+l.Jitter)+tol {
					t.Fatalf("additive P=%g J=%g: interval %g", l.PeriodS, l.PeriodS*l.Jitter, x)
				}
			}
		},
		"missed-beats": func(t *testing.T, l Label, iv []float64) {
			multi := 0
			for _, x := range iv {
				if x > 1.6*l.PeriodS {
					multi++
				}
			}
			if multi < 3 {
				t.Fatalf("only %d missed beats", multi)
			}
		},
		"cdn-rotation": func(t *testing.T, l Label, _ []float64) {
			if len(l.DstIPs) < 20 {
				t.Fatalf("rotated among %d addresses only", len(l.DstIPs))
			}
		},
		"quic-udp443": func(t *testing.T, l Label, _ []float64) {
			if l.Proto != "udp" || l.DstPort != 443 {
				t.Fatalf("QUIC label %s/%d", l.Proto, l.DstPort)
			}
		},
		"per-beat-names": func(t *testing.T, l Label, _ []float64) {
			if len(l.DstIPs) < 2 || strings.Count(l.DstFQDN, ".") != 1 {
				t.Fatalf("per-beat names label %q %v", l.DstFQDN, l.DstIPs)
			}
		},
		"ipv6-beacon": func(t *testing.T, l Label, _ []float64) {
			for _, a := range append([]string{l.SrcIP}, l.DstIPs...) {
				if !strings.Contains(a, ":") {
					t.Fatalf("IPv6 beacon label has IPv4 address %s", a)
				}
			}
		},
		"few-connections": func(t *testing.T, l Label, _ []float64) {
			if l.Beats != 3 {
				t.Fatalf("few-connections has %d beats", l.Beats)
			}
		},
	}
	styles := map[string]bool{}
	for _, sc := range EvalScenarios() {
		t.Run(sc.Name, func(t *testing.T) {
			labels, err := Generate(sc.Name, 11, &discard{})
			if err != nil {
				t.Fatal(err)
			}
			specific := 0
			for _, l := range labels {
				if l.DstFQDN == "*" {
					continue
				}
				specific++
				styles[l.Style] = true
				if l.ShouldAlert && (l.OS != "macos" || l.Beats < 8) {
					t.Errorf("%s %s: should_alert with os %s and %d beats", l.SrcIP, l.DstFQDN, l.OS, l.Beats)
				}
				if l.ShouldAlertOSAny && l.Beats < 8 {
					t.Errorf("%s %s: expected alert with only %d beats", l.SrcIP, l.DstFQDN, l.Beats)
				}
				if l.Jitter < 0 || l.Jitter > 0.5+1e-9 {
					t.Errorf("%s %s: jitter %g out of [0, 0.5]", l.SrcIP, l.DstFQDN, l.Jitter)
				}
				if c, ok := checks[l.Style]; ok {
					t.Run(l.Style+"/"+l.DstFQDN, func(t *testing.T) { c(t, l, intervals(l)) })
				}
			}
			if specific == 0 {
				t.Fatal("no labelled pair")
			}
		})
	}
	for st := range checks {
		if !styles[st] {
			t.Errorf("no evaluation scenario covers style %s", st)
		}
	}
}
