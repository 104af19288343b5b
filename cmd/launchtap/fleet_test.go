package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/launchtap/launchtap/internal/synth"
	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/pipeline"
)

// fleetCapture writes the fleet scenario (15 Macs running one vendor agent
// every 3600 s, a 16th every 1800 s) for the tests below.
func fleetCapture(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fleet.pcapng")
	if _, _, err := synth.WriteFile(path, "", "fleet", 1, synth.Options{}); err != nil {
		t.Fatal(err)
	}
	return path
}

func readAlerts(t *testing.T, jsonl string) []alert.Alert {
	t.Helper()
	var out []alert.Alert
	for _, line := range strings.Split(strings.TrimSpace(jsonl), "\n") {
		if line == "" {
			continue
		}
		var a alert.Alert
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("alert line %q: %v", line, err)
		}
		out = append(out, a)
	}
	return out
}

// TestFleetReplay: through replay, with any worker count, the 15 Macs are
// one group alert naming all of them (its first record names three; later
// hosts update it under the same id), after the first two Macs' own alerts
// as before grouping; the Mac at 1800 s alerts on its own. With the
// organisation's baseline approving the agent's destination, nothing.
func TestFleetReplay(t *testing.T) {
	capture := fleetCapture(t)
	for _, workers := range []string{"1", "4"} {
		t.Run("workers="+workers, func(t *testing.T) {
			sumPath := filepath.Join(t.TempDir(), "summary.json")
			code, out, stderr := replay(t, nil, "replay", "--sensor-name", "t", "--workers", workers, "--summary", sumPath, capture)
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, stderr)
			}
			var own, group []alert.Alert
			ids := map[string]bool{}
			for _, a := range readAlerts(t, out) {
				if a.DstFQDN != synth.FleetAgentFQDN {
					t.Errorf("unexpected alert %s -> %s", a.SrcIP, a.DstFQDN)
					continue
				}
				if a.HostCount > 0 {
					group = append(group, a)
					ids[a.ID] = true
				} else {
					own = append(own, a)
				}
			}
			if len(ids) != 1 || len(group) != synth.FleetMacs-2 {
				t.Fatalf("group records %d with ids %v; want %d records of one id", len(group), ids, synth.FleetMacs-2)
			}
			first, last := group[0], group[len(group)-1]
			if first.Update || first.HostCount != 3 || !last.Update || last.HostCount != synth.FleetMacs || len(last.Hosts) != synth.FleetMacs {
				t.Errorf("group: first update=%v count=%d; last update=%v count=%d hosts=%d", first.Update, first.HostCount, last.Update, last.HostCount, len(last.Hosts))
			}
			macs := map[string]bool{}
			for _, h := range last.Hosts {
				macs[h.SrcMAC] = true
				if h.PeriodS < 3500 || h.PeriodS > 3700 || h.Beats < pipeline.DefaultConfig().Beacon.MinBeats {
					t.Errorf("host %s: period %v beats %d", h.SrcIP, h.PeriodS, h.Beats)
				}
			}
			for i := range synth.FleetMacs {
				if !macs[synth.FleetMacMAC(i)] {
					t.Errorf("group does not name %s", synth.FleetMacMAC(i))
				}
			}
			var odd int
			for _, a := range own {
				switch {
				case a.SrcIP == synth.FleetMacIP(synth.FleetMacs):
					odd++
					if a.PeriodS < 1750 || a.PeriodS > 1850 || a.GroupID != "" {
						t.Errorf("the 1800 s Mac: %+v", a)
					}
				case a.GroupID != "" || (a.ID != last.Hosts[0].AlertID && a.ID != last.Hosts[1].AlertID):
					t.Errorf("own alert %s of %s is not one of the group's first two hosts' (%q, %q)", a.ID, a.SrcIP, last.Hosts[0].AlertID, last.Hosts[1].AlertID)
				}
			}
			if odd != 1 || len(own) != 3 {
				t.Errorf("own alerts %d (the 1800 s Mac's %d), want 3 (1)", len(own), odd)
			}
			b, err := os.ReadFile(sumPath)
			if err != nil {
				t.Fatal(err)
			}
			var sum summary
			if err := json.Unmarshal(b, &sum); err != nil {
				t.Fatal(err)
			}
			if sum.Alerts != 4 || sum.Fleet["groups"] != 1 || sum.Fleet["joined"] != synth.FleetMacs-2 || sum.Fleet["updates"] != synth.FleetMacs-3 {
				t.Errorf("summary: alerts %d fleet %v; want 4 alerts, 1 group, %d joined, %d updates", sum.Alerts, sum.Fleet, synth.FleetMacs-2, synth.FleetMacs-3)
			}
		})
	}
	t.Run("approved by the organisation's baseline", func(t *testing.T) {
		bl := filepath.Join(t.TempDir(), "baseline.yaml")
		if err := os.WriteFile(bl, []byte("approved_destinations: [\"*.vendor-agent.example\"]\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out, stderr := replay(t, nil, "replay", "--sensor-name", "t", "--baseline", bl, capture)
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, stderr)
		}
		if as := readAlerts(t, out); len(as) != 0 {
			t.Errorf("%d alerts with the agent approved, want none", len(as))
		}
	})
	t.Run("grouping off", func(t *testing.T) {
		_, out, _ := replay(t, nil, "replay", "--sensor-name", "t", "--group-min-hosts", "0", capture)
		as := readAlerts(t, out)
		if len(as) != synth.FleetMacs+1 {
			t.Errorf("%d alerts with grouping off, want %d", len(as), synth.FleetMacs+1)
		}
		for _, a := range as {
			if a.GroupID != "" {
				t.Errorf("grouped with grouping off: %s", a.ID)
			}
		}
	})
	t.Run("no update records", func(t *testing.T) {
		_, out, _ := replay(t, nil, "replay", "--sensor-name", "t", "--group-updates=false", capture)
		as := readAlerts(t, out)
		groups := 0
		for _, a := range as {
			if a.HostCount > 0 {
				groups++
				if a.Update || a.HostCount != 3 {
					t.Errorf("group record update=%v host_count=%d, want the group alert naming 3", a.Update, a.HostCount)
				}
			}
		}
		if len(as) != 4 || groups != 1 {
			t.Errorf("%d alerts, %d group records with --group-updates=false; want 4 and 1", len(as), groups)
		}
	})
	if code, _, stderr := replay(t, nil, "replay", "--group-min-hosts", "1", capture); code == 0 || !strings.Contains(stderr, "group-min-hosts") {
		t.Errorf("--group-min-hosts 1 accepted: exit %d, %s", code, stderr)
	}
}
