package synth

import (
	"slices"
	"testing"
	"time"
)

// TestRoaming checks the two roaming halves are what the hub tests rely
// on: the same Mac (MAC, hostname) under a new address each stint, each
// office holding half of one 2-hour schedule, fewer beats than the
// detector's minimum, and together the whole schedule.
func TestRoaming(t *testing.T) {
	var all []time.Time
	ips := map[string]bool{}
	for office, name := range RoamingOffices {
		labels, err := Generate(name, 1, discardWriter{})
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(labels, func(l Label) bool { return l.DstFQDN == RoamingFQDN })
		if i < 0 {
			t.Fatalf("%s: no label for %s", name, RoamingFQDN)
		}
		l := labels[i]
		if l.Beats != RoamingBeats/2 || l.Beats >= 5 {
			t.Errorf("%s: %d beats, want %d (< 5)", name, l.Beats, RoamingBeats/2)
		}
		all = append(all, l.BeatTimes...)
		hosts, err := HostLabels(name, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hosts {
			if h.MAC == RoamingMAC {
				if h.Hostname != RoamingHostname {
					t.Errorf("%s: roaming Mac named %q", name, h.Hostname)
				}
				ips[h.IP] = true
			}
		}
		for s := office; s < RoamingStints; s += 2 {
			if !ips[RoamingIP(s)] {
				t.Errorf("%s: stint %d's address %s not used", name, s, RoamingIP(s))
			}
		}
	}
	if len(ips) != RoamingStints {
		t.Errorf("roaming Mac had %d addresses, want %d", len(ips), RoamingStints)
	}
	slices.SortFunc(all, func(a, b time.Time) int { return a.Compare(b) })
	if len(all) != RoamingBeats {
		t.Fatalf("%d beats in all, want %d", len(all), RoamingBeats)
	}
	for i := 1; i < len(all); i++ {
		if d := all[i].Sub(all[i-1]); d < RoamingPeriod-2*time.Second || d > RoamingPeriod+2*time.Second {
			t.Errorf("beats %d and %d are %v apart, want %v", i-1, i, d, RoamingPeriod)
		}
	}
}
