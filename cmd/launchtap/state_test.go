package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"

	"github.com/launchtap/launchtap/internal/synth"
	"github.com/launchtap/launchtap/sensor/beacon"
	"github.com/launchtap/launchtap/sensor/capture"
)

// splitCapture writes the frames of src before at to one pcap and the rest
// to another.
func splitCapture(t *testing.T, src string, at int64) (before, after string, n [2]int) {
	t.Helper()
	in, err := capture.Options{}.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dir := t.TempDir()
	before, after = filepath.Join(dir, "a.pcap"), filepath.Join(dir, "b.pcap")
	var ws [2]*synth.FileWriter
	for i, p := range []string{before, after} {
		if ws[i], err = synth.CreateFile(p); err != nil {
			t.Fatal(err)
		}
	}
	var f capture.Frame
	for in.Next(&f) == nil {
		i := 0
		if f.TS >= at {
			i = 1
		}
		n[i]++
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, f.TS), CaptureLength: len(f.Data), Length: int(f.WireLen)}
		if err := ws[i].WritePacket(ci, f.Data); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range ws {
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return before, after, n
}

// sameAlert is what must not change when a run is split: which pair, its
// id, and the evidence at the moment it alerted.
type sameAlert struct {
	ID, Src, Dst string
	Period       float64
	Beats        int
	First, Last  time.Time
}

func alertsOf(t *testing.T, jsonl string) []sameAlert {
	t.Helper()
	var out []sameAlert
	for _, a := range readAlerts(t, jsonl) {
		out = append(out, sameAlert{a.ID, a.SrcIP, a.DstFQDN, a.PeriodS, a.Beats, a.FirstSeen, a.LastSeen})
	}
	slices.SortFunc(out, func(a, b sameAlert) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// captureSpan is the capture time of the first and last frame.
func captureSpan(t *testing.T, path string) (first, last int64) {
	t.Helper()
	in, err := capture.Options{}.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var f capture.Frame
	for in.Next(&f) == nil {
		if first == 0 {
			first = f.TS
		}
		last = f.TS
	}
	return first, last
}

// TestRestartEqualsOneRun replays generated captures whole, and again in
// two runs sharing a state directory, split at several points: the alerts
// (ids, periods, beats) must be the same. The scenarios: the demo (a 5 min
// beacon, split before and after it alerts), launchd jobs every 2 and 4 h
// over two days (the case: 12 h of uptime to reach 6 beats), and
// jittered C2 sleeps.
func TestRestartEqualsOneRun(t *testing.T) {
	for _, sc := range []struct {
		name    string
		workers []string
	}{{"demo", []string{"1", "3"}}, {"eval-launchd-long", []string{"2"}}, {"eval-c2-symmetric", []string{"2"}}} {
		dir := t.TempDir()
		pcap := filepath.Join(dir, sc.name+".pcap")
		if _, _, err := synth.WriteFile(pcap, "", sc.name, 3, synth.Options{}); err != nil {
			t.Fatal(err)
		}
		first, last := captureSpan(t, pcap)
		flags := []string{"replay", "--sensor-name", "demo", "--inventory", "../../testdata/inventory.json", "--os", "any", "--stats-interval", "0"}
		for _, workers := range sc.workers {
			args := append(slices.Clone(flags), "--workers", workers)
			code, whole, stderr := replay(t, nil, append(args, "--state-dir", t.TempDir(), pcap)...)
			if code != 0 {
				t.Fatalf("%s whole: exit %d\n%s", sc.name, code, stderr)
			}
			want := alertsOf(t, whole)
			t.Logf("%s, workers %s: one run alerted %d pairs", sc.name, workers, len(want))
			if len(want) < 2 {
				t.Fatalf("%s: whole run alerted %d pairs, want the scenario's beacons:\n%s", sc.name, len(want), whole)
			}
			for _, frac := range []float64{0.12, 0.3, 0.5, 0.77} {
				t.Run(fmt.Sprintf("%s/workers=%s/split=%.2f", sc.name, workers, frac), func(t *testing.T) {
					at := first + int64(frac*float64(last-first))
					a, b, n := splitCapture(t, pcap, at)
					sd := t.TempDir()
					code, out1, err1 := replay(t, nil, append(slices.Clone(args), "--state-dir", sd, a)...)
					if code != 0 {
						t.Fatalf("first half: exit %d\n%s", code, err1)
					}
					code, out2, err2 := replay(t, nil, append(slices.Clone(args), "--state-dir", sd, b)...)
					if code != 0 {
						t.Fatalf("second half: exit %d\n%s", code, err2)
					}
					got := alertsOf(t, out1+out2)
					if !slices.Equal(got, want) {
						t.Errorf("split at %v (%d + %d frames): alerts differ from one run\n got %+v\nwant %+v", time.Unix(0, at).UTC(), n[0], n[1], got, want)
					}
				})
			}
		}
	}
}

// Without the state directory the same split loses the beats before the
// restart: the test above can fail.
func TestRestartWithoutStateForgets(t *testing.T) {
	dir := t.TempDir()
	pcap := filepath.Join(dir, "demo.pcap")
	if _, _, err := synth.WriteFile(pcap, "", "demo", 3, synth.Options{}); err != nil {
		t.Fatal(err)
	}
	args := []string{"replay", "--sensor-name", "demo", "--inventory", "../../testdata/inventory.json", "--os", "any", "--stats-interval", "0"}
	_, whole, _ := replay(t, nil, append(slices.Clone(args), pcap)...)
	in, _ := capture.Options{}.Open(pcap)
	var f capture.Frame
	in.Next(&f)
	in.Close()
	a, b, _ := splitCapture(t, pcap, f.TS+int64(0.3*9300*float64(time.Second)))
	_, o1, _ := replay(t, nil, append(slices.Clone(args), a)...)
	_, o2, _ := replay(t, nil, append(slices.Clone(args), b)...)
	if slices.Equal(alertsOf(t, o1+o2), alertsOf(t, whole)) {
		t.Error("a split without state alerted as one run: the restart test proves nothing on this capture")
	}
}

func TestStateDirRefusedFile(t *testing.T) {
	sd := t.TempDir()
	os.WriteFile(filepath.Join(sd, "launchtap.db"), []byte(strings.Repeat("x", 4096)), 0o600)
	code, _, stderr := replay(t, nil, "replay", "--state-dir", sd, demoPcap)
	if code != exitUsage || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, "move it aside") {
		t.Errorf("exit %d, stderr %q: want one line saying what to do", code, stderr)
	}
}

// The demo's report names the planted alert with its job and beats, the
// approved Apple and MDM communicators with their rules, and the hours.
func TestDemoReport(t *testing.T) {
	sd := t.TempDir()
	code, alerts, stderr := replay(t, nil, demoArgs("1", "--state-dir", sd)...)
	if code != 0 {
		t.Fatalf("replay: exit %d\n%s", code, stderr)
	}
	html := filepath.Join(t.TempDir(), "r.html")
	code, out, stderr := replay(t, nil, "report", "--state-dir", sd, "--since", "all", "--inventory", "../../testdata/inventory.json", "--html", html, "--json", "-")
	if code != 0 {
		t.Fatalf("report: exit %d\n%s", code, stderr)
	}
	var r struct {
		Coverage struct {
			ObservedHours int `json:"observed_hours"`
			Packets       uint64
		} `json:"coverage"`
		Periodic []struct {
			Dest     string `json:"destination"`
			Approved bool   `json:"approved"`
			Rule     string `json:"approving_rule"`
		} `json:"periodic_communicators"`
		Alerts []struct {
			ID        string      `json:"id"`
			Job       string      `json:"launchd_job"`
			BeatTimes []time.Time `json:"beat_times"`
		} `json:"alerts"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	want := alertsOf(t, alerts)
	if len(r.Alerts) != 1 || len(want) != 1 || r.Alerts[0].ID != want[0].ID || r.Alerts[0].Job != synth.DemoBeaconLabel || len(r.Alerts[0].BeatTimes) < beacon.DefaultConfig().MinBeats {
		t.Errorf("alerts %+v: want the planted one (id %v) with its job and beats", r.Alerts, want)
	}
	rules := map[string]string{}
	for _, p := range r.Periodic {
		if p.Approved {
			rules[p.Dest] = p.Rule
		}
	}
	if rules[synth.DemoJamfDomain] != "*.jamfcloud.com" || rules["time-macos.apple.com"] != "time-macos.apple.com" {
		t.Errorf("approved communicators and rules %v: want Jamf and Apple time with the rules that approved them", rules)
	}
	if r.Coverage.ObservedHours != 3 {
		t.Errorf("observed %d hours, want the demo's 3", r.Coverage.ObservedHours)
	}
	page, err := os.ReadFile(html)
	if err != nil || !strings.Contains(string(page), "<svg") || !strings.Contains(string(page), synth.DemoBeaconFQDN) {
		t.Errorf("HTML page missing or without the pictures: %v", err)
	}
}

// The stats line and the metrics carry the database's size and the last
// checkpoint's time and duration.
func TestStateInStatsAndMetrics(t *testing.T) {
	o, sf := testFlags(t, "--state-dir", t.TempDir(), "--log-level", "error")
	var out, errb bytes.Buffer
	s, err := o.build(&out, &errb)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := openState(sf, o, s)
	if err != nil {
		t.Fatal(err)
	}
	src, err := capture.Options{}.Open(demoPcap)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx := context.Background()
	s.startAlerts(ctx)
	if err := s.pipe.Replay(ctx, src); err != nil {
		t.Fatal(err)
	}
	s.finish(ctx)
	if err := ck.checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	h := s.snapshot(nil).stats
	if h["state_db_bytes"] == 0 || h["state_checkpoint_time"] < uint64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("stats line %v: want state_db_bytes and a recent state_checkpoint_time", h)
	}
	if _, ok := h["state_checkpoint_ms"]; !ok {
		t.Error("stats line lacks state_checkpoint_ms")
	}
	var names []string
	for _, m := range s.snapshot(nil).metrics {
		names = append(names, m.def.name)
	}
	for _, n := range []string{"state_db_bytes", "state_checkpoint_time", "state_checkpoint_ms", "state_checkpoint_errors"} {
		if !slices.Contains(names, n) {
			t.Errorf("metrics lack %s", n)
		}
	}
	if err := ck.finish(); err != nil {
		t.Fatal(err)
	}
}

func TestParseSince(t *testing.T) {
	for in, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "1.5d": 36 * time.Hour, "90m": 90 * time.Minute, "all": 0, "": 0} {
		if got, err := parseSince(in); err != nil || got != want {
			t.Errorf("parseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"7", "-1d", "0d", "d", "soon", "-5m", "NaNd"} {
		if _, err := parseSince(in); err == nil {
			t.Errorf("parseSince(%q) accepted", in)
		}
	}
}

func FuzzParseSince(f *testing.F) {
	for _, s := range []string{"7d", "90m", "all", "1e9d", "Infd"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := parseSince(s); err == nil && d < 0 {
			t.Fatalf("parseSince(%q) = %v: negative", s, d)
		}
	})
}

// The report judges the baseline the sensor ran with, recorded in the
// state, without being given the file.
func TestReportRecordsBaselineRules(t *testing.T) {
	sd, dir := t.TempDir(), t.TempDir()
	base := filepath.Join(dir, "baseline.yaml")
	if err := os.WriteFile(base, []byte("approved_destinations: [legacy-av.example.com]\napproved_labels: [com.example.updater]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := replay(t, nil, demoArgs("1", "--state-dir", sd, "--baseline", base)...); code != 0 {
		t.Fatalf("replay: exit %d\n%s", code, stderr)
	}
	code, out, stderr := replay(t, nil, "report", "--state-dir", sd, "--since", "all", "--json", "-")
	if code != 0 {
		t.Fatalf("report: exit %d\n%s", code, stderr)
	}
	var r struct {
		Hygiene struct {
			Unused []string `json:"unused_rules"`
			Labels []struct {
				Job  string `json:"launchd_job"`
				Rule string `json:"approving_rule"`
			} `json:"label_only_approvals"`
		} `json:"baseline_hygiene"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Hygiene.Unused, []string{"legacy-av.example.com"}) {
		t.Errorf("unused rules %v, want the organisation's legacy-av.example.com alone", r.Hygiene.Unused)
	}
	if len(r.Hygiene.Labels) != 1 || r.Hygiene.Labels[0].Job != synth.DemoBeaconLabel || r.Hygiene.Labels[0].Rule != synth.DemoBeaconLabel {
		t.Errorf("label-only approvals %+v: want the planted job, approved by its label", r.Hygiene.Labels)
	}
}
