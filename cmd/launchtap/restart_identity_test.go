package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/launchtap/launchtap/internal/synth"
	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/beacon"
	"github.com/launchtap/launchtap/sensor/capture"
	"github.com/launchtap/launchtap/sensor/state"
)

// dockedSplit is the capture time of the dock's first frame on the docked
// scenario's second day: its DHCP request, with the laptop's hostname.
// A capture split there has the dock's MAC announce the name first in the
// second half, the Wi-Fi's a moment later (Bonjour re-announcing on every
// interface) — the other order than the first half's.
func dockedSplit(t *testing.T, path string) int64 {
	t.Helper()
	dock, err := net.ParseMAC(synth.DockedEthMAC)
	if err != nil {
		t.Fatal(err)
	}
	in, err := capture.Options{}.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var f capture.Frame
	var first int64
	for in.Next(&f) == nil {
		if first == 0 {
			first = f.TS
		}
		if f.TS-first > int64(20*time.Hour) && len(f.Data) > 12 && net.HardwareAddr(f.Data[6:12]).String() == dock.String() {
			return f.TS
		}
	}
	t.Fatal("the dock's MAC sends nothing on the second day")
	return 0
}

// agentPairs are the stored pair states of the docked laptop's agent.
func agentPairs(t *testing.T, dir string) []*beacon.PairState {
	t.Helper()
	st, err := state.Open(dir, state.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out []*beacon.PairState
	if _, err := st.Pairs(context.Background(), 1<<20, func(p *beacon.PairState) {
		if p.Key.Dest == synth.DockedAgentFQDN {
			out = append(out, p)
		}
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// forgetIdentity empties the binder's tables of a state directory: the
// state as launchtap kept it before it checkpointed the binder.
func forgetIdentity(t *testing.T, dir string) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, state.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("DELETE FROM host_joins; DELETE FROM host_addr_bindings; DELETE FROM host_routers"); err != nil {
		t.Fatal(err)
	}
}

// TestRestartKeepsDockedHost replays the docked scenario split on its second
// day where the dock's MAC announces the laptop's hostname first, in two
// runs sharing --state-dir. The first half made the Wi-Fi's MAC canonical;
// the second must keep it: one host_id across both halves, one alert (the
// first half's), and one beat history holding both halves' beats — as one
// run over the whole capture has. Without the binder's state (the tables
// emptied between the runs, as before it was checkpointed) the second half
// keys the laptop by the dock's MAC: a second history, and a second alert
// under another host_id once it has beats enough.
func TestRestartKeepsDockedHost(t *testing.T) {
	path, _, _ := identCapture(t, "docked")
	split := dockedSplit(t, path)
	a, b, n := splitCapture(t, path, split)
	args := []string{"replay", "--sensor-name", "t", "--stats-interval", "0", "--workers"}

	wholeDir := t.TempDir()
	code, out, stderr := replay(t, nil, append(slices.Clone(args), "1", "--state-dir", wholeDir, path)...)
	if code != 0 {
		t.Fatalf("whole: exit %d\n%s", code, stderr)
	}
	whole := agentAlerts(t, out)
	if len(whole) != 1 || whole[0].HostID != synth.DockedWiFiMAC {
		t.Fatalf("one run: %d alerts for the agent (%+v), want one with host_id %s", len(whole), whole, synth.DockedWiFiMAC)
	}
	wp := agentPairs(t, wholeDir)
	if len(wp) != 1 {
		t.Fatalf("one run stored %d pair states for the agent, want 1", len(wp))
	}

	for _, tc := range []struct {
		name    string
		workers [2]string
		forget  bool
	}{
		{"workers=1→1", [2]string{"1", "1"}, false},
		{"workers=3→3", [2]string{"3", "3"}, false},
		{"workers=1→3", [2]string{"1", "3"}, false},
		{"binder state forgotten", [2]string{"1", "1"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sd := t.TempDir()
			code, out1, err1 := replay(t, nil, append(slices.Clone(args), tc.workers[0], "--state-dir", sd, a)...)
			if code != 0 {
				t.Fatalf("first half: exit %d\n%s", code, err1)
			}
			if tc.forget {
				forgetIdentity(t, sd)
			}
			sum := filepath.Join(t.TempDir(), "summary.json")
			code, out2, err2 := replay(t, nil, append(slices.Clone(args), tc.workers[1], "--state-dir", sd, "--summary", sum, b)...)
			if code != 0 {
				t.Fatalf("second half: exit %d\n%s", code, err2)
			}
			got := agentAlerts(t, out1+out2)
			ps := agentPairs(t, sd)
			var keys []string
			for _, p := range ps {
				keys = append(keys, p.Key.Host.String())
			}
			if tc.forget {
				// The failure the checkpoint fixes.
				if len(got) != 2 || got[1].HostID != synth.DockedEthMAC || len(ps) != 2 {
					t.Errorf("without the binder's state: %d alerts %+v, pairs of %v; want a second alert and history under %s",
						len(got), got, keys, synth.DockedEthMAC)
				}
				return
			}
			var sm struct {
				Identity map[string]uint64 `json:"identity"`
			}
			if js, err := os.ReadFile(sum); err != nil || json.Unmarshal(js, &sm) != nil {
				t.Fatalf("summary: %v", err)
			}
			if sm.Identity["restored_joins"] != 1 || sm.Identity["restore_refused"] != 0 {
				t.Errorf("second half restored %d joins, refused %d; want the one join", sm.Identity["restored_joins"], sm.Identity["restore_refused"])
			}
			if len(got) != 1 || got[0].HostID != synth.DockedWiFiMAC || got[0].ID != whole[0].ID {
				t.Errorf("two runs (%d + %d frames): %d alerts %+v; want one run's one, id %s host_id %s",
					n[0], n[1], len(got), got, whole[0].ID, synth.DockedWiFiMAC)
			}
			if len(ps) != 1 {
				t.Fatalf("two runs stored pair states for the agent under %v, want one host's", keys)
			}
			p := ps[0]
			if p.Key.Host.String() != synth.DockedWiFiMAC || p.First >= split || p.Last() < split || p.Beats != wp[0].Beats {
				t.Errorf("two runs' history: host %s, %d beats from %v to %v; want %s, one run's %d beats, across the split at %v",
					p.Key.Host, p.Beats, time.Unix(0, p.First).UTC(), time.Unix(0, p.Last()).UTC(), synth.DockedWiFiMAC, wp[0].Beats, time.Unix(0, split).UTC())
			}
		})
	}
}

// agentAlerts are the alerts for the docked laptop's agent, in order.
func agentAlerts(t *testing.T, jsonl string) []alert.Alert {
	t.Helper()
	var out []alert.Alert
	for _, a := range readAlerts(t, jsonl) {
		if a.DstFQDN == synth.DockedAgentFQDN {
			out = append(out, a)
		}
	}
	return out
}
