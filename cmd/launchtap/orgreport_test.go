package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/launchtap/launchtap/internal/chromiumtest"
	"github.com/launchtap/launchtap/internal/pgtest"
	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/hostid"
	"github.com/launchtap/launchtap/sensor/hub/orgstore"
	"github.com/launchtap/launchtap/sensor/report"
	"github.com/launchtap/launchtap/sensor/state"
)

const orgGolden = "testdata/org-report.golden.json"

// orgT0 is the generated organisation's first hour.
var orgT0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// fillOrg writes what a hub would for three offices over two days into the
// database at url: hq all along but blind for four hours on day two (span
// down), branch from the first morning, lab only on day two. Every office
// numbers its Macs 10.0.0.10.. alike; every Mac reaches Apple's time
// (approved); a Mac at branch beacons to an implant (alerted), and the hub
// itself alerts on a roaming Mac's merged beats.
func fillOrg(t *testing.T, url string) {
	t.Helper()
	ctx := context.Background()
	s, err := orgstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	type office struct {
		name      string
		from, to  int // hours since orgT0
		dark      [2]int
		hosts     int
		version   string
		providers []string
	}
	offices := []office{
		{name: "hq", from: 0, to: 48, dark: [2]int{30, 34}, hosts: 4, version: "1.4.0"},
		{name: "branch", from: 8, to: 48, hosts: 3, version: "1.4.0", providers: []string{"Cloudflare"}},
		{name: "lab", from: 24, to: 48, hosts: 2, version: "1.3.2"},
	}
	ip := func(i int) string { return fmt.Sprintf("10.0.0.%d", 10+i) }
	for _, o := range offices {
		// One checkpoint every 6 hours, as a sensor's ticker would send
		// (hours added up as they come).
		for h0 := o.from; h0 < o.to; h0 += 6 {
			c := &state.Checkpoint{Sensor: o.name, Version: o.version, Started: orgT0.Add(time.Duration(o.from) * time.Hour).UnixNano(), Rules: &state.Rules{Destinations: []string{"time.apple.com", "legacy-av.example.com"}},
				Internal: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16")}}
			for h := h0; h < min(h0+6, o.to); h++ {
				hour := orgT0.Add(time.Duration(h) * time.Hour)
				c.Clock = hour.Add(59 * time.Minute).UnixNano()
				if h >= o.dark[0] && h < o.dark[1] {
					continue
				}
				c.Hours = append(c.Hours, state.Hour{Start: hour.Unix(), Packets: uint64(20000 + 100*h), Bytes: 9e6, Sessions: uint64(30 * o.hosts),
					OneSided: 2, NamedDNS: uint64(27 * o.hosts), NamedWire: uint64(o.hosts), Unnamed: uint64(2 * o.hosts), DNSQueries: uint64(40 * o.hosts)})
				for i := range o.hosts {
					named := uint64(28)
					if o.providers != nil && i == 0 {
						named = 3 // on DoH
					}
					c.HostHours = append(c.HostHours, state.HostHour{IP: ip(i), Start: hour.Unix(), Sessions: 30, Named: named})
				}
			}
			for i := range o.hosts {
				c.Hosts = append(c.Hosts, hostid.Host{IP: ip(i), MAC: fmt.Sprintf("3c:22:fb:%02x:00:%02x", len(o.name), i), OS: "macos", Confidence: 0.95,
					Hostname: fmt.Sprintf("%s-mac-%d", o.name, i), Evidence: []string{"tcp_syn: macOS"},
					FirstSeen: orgT0.Add(time.Duration(o.from) * time.Hour), LastSeen: time.Unix(0, c.Clock).UTC()})
			}
			if o.providers != nil {
				c.DoHHosts = []state.DoHHost{{IP: netip.MustParseAddr(ip(0)), Providers: o.providers, Sessions: 12,
					First: orgT0.Add(time.Duration(h0) * time.Hour).UnixNano(), Last: c.Clock}}
			}
			if h0+6 >= o.to { // the last checkpoint carries the sensor's fates
				end := time.Unix(0, c.Clock).UTC()
				for i := range o.hosts {
					c.Findings = append(c.Findings, state.Finding{Alert: orgAlert(o.name, ip(i), "time.apple.com", 123, 1024, end),
						Fate: state.ApprovedDestination, Rule: "time.apple.com"})
				}
				if o.name == "branch" {
					a := orgAlert(o.name, ip(1), "cdn7.example.net", 443, 300, end)
					a.Reasons = []string{"connects every 5 min (8 beats over 35 min)", "timing is machine-exact"}
					c.Findings = append(c.Findings, state.Finding{Alert: a, Fate: state.Alerted})
				}
			}
			// As the hub gets it: the JSON the sensor published.
			js, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.CheckpointJSON(ctx, o.name, js); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The hub's own alert: a roaming Mac seen by hq and branch.
	roam := orgAlert("hub", "10.0.0.11", "updates.example.org", 443, 7200, orgT0.Add(47*time.Hour))
	roam.Reasons = []string{"connects every 2 h (8 beats over 14 h) across sensors hq, branch"}
	roam.HostID, roam.SrcIPs = "3c:22:fb:aa:00:01", []string{"10.0.0.11", "10.0.0.12"}
	hub := s.Ledger("hub")
	if !hub.Alerted(roam.ID) {
		hub.Record(roam, string(state.Alerted), "", "")
	}
	if err := hub.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func orgAlert(sensor, src, dest string, port uint16, period float64, end time.Time) *alert.Alert {
	var beats []time.Time
	for j := range 8 {
		beats = append(beats, end.Add(-time.Duration(float64(8-j)*period*float64(time.Second))+time.Duration(j%3)*time.Second))
	}
	return &alert.Alert{ID: fmt.Sprintf("%s-%s-%s", sensor, src, dest), Sensor: sensor, TS: end, SrcIP: src, Hostname: sensor + "-mac",
		DstFQDN: dest, DstPort: port, Proto: "tcp", Kind: "session", PeriodS: period, Beats: 8, Severity: "high", Score: 0.9,
		FirstSeen: beats[0], LastSeen: beats[len(beats)-1], BeatTimes: beats}
}

// `launchtap report --db` renders the organisation's report: its JSON is a
// contract (golden), each sensor's coverage and the sensor of every host
// and finding are in it, and the HTML loads in Chromium.
func TestReportDB(t *testing.T) {
	url := pgtest.DB(t)
	fillOrg(t, url)
	html := filepath.Join(t.TempDir(), "org.html")
	code, out, stderr := replay(t, nil, "report", "--db", url, "--since", "all", "--html", html, "--json", "-")
	if code != 0 {
		t.Fatalf("report --db: exit %d\n%s", code, stderr)
	}
	var r report.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "launchtap:launchtap@") || !strings.Contains(r.StateFile, "xxxxx") {
		t.Errorf("the report shows the database's password: state_file %q", r.StateFile)
	}
	// What changes from run to run: when, the database's name and size.
	r.Generated, r.StateFile, r.StateSize = time.Time{}, "postgres://launchtap:xxxxx@127.0.0.1:5432/org", 0
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(orgGolden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(orgGolden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("report differs from %s (go test -update if intended):\n%s", orgGolden, buf.String())
	}

	c := r.Coverage
	names := []string{}
	for _, s := range c.Sensors {
		names = append(names, s.Sensor)
	}
	if strings.Join(names, ",") != "branch,hq,lab" {
		t.Fatalf("sensors %v, want branch, hq and lab", names)
	}
	hq, lab := c.Sensors[1], c.Sensors[2]
	if hq.ObservedHours != 44 || len(hq.Gaps) != 1 || !strings.Contains(hq.Gaps[0].Why, "no packets") || hq.Gaps[0].Hours() != 4 {
		t.Errorf("hq %+v: want 44 of 48 hours, 4 running without packets", hq)
	}
	if lab.ObservedHours != 24 || len(lab.Gaps) != 1 || lab.Gaps[0].Why != "sensor not running" || lab.Version != "1.3.2" {
		t.Errorf("lab %+v: want day two only, not running on day one", lab)
	}
	if c.ObservedHours != 48 || len(c.Gaps) != 0 {
		t.Errorf("organisation: %d hours observed, gaps %+v; want all 48 (another sensor saw hq's dark hours)", c.ObservedHours, c.Gaps)
	}
	if len(c.Hosts) != 9 || len(r.Alerts) != 2 || len(r.Periodic) != 11 {
		t.Errorf("%d hosts, %d alerts, %d communicators; want 9 (one 10.0.0.10 per office), 2, 11", len(c.Hosts), len(r.Alerts), len(r.Periodic))
	}
	for _, p := range r.Periodic {
		if p.Sensor == "" {
			t.Errorf("communicator %s has no sensor", p.ID)
		}
	}
	if len(r.Hygiene.UnusedRules) != 1 || r.Hygiene.UnusedRules[0] != "legacy-av.example.com" {
		t.Errorf("hygiene %+v: want legacy-av.example.com unused", r.Hygiene)
	}
	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Each sensor's coverage", "<td><b>lab</b></td>", "<th>sensor</th>", "updates.example.org"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	chromiumtest.SelfContained(t, string(page))
	chromiumtest.Load(t, html, "org-report.png")

	// One office of the organisation.
	code, out, stderr = replay(t, nil, "report", "--db", url, "--since", "all", "--sensor", "lab")
	if code != 0 {
		t.Fatalf("report --db --sensor lab: exit %d\n%s", code, stderr)
	}
	var lr report.Report
	if err := json.Unmarshal([]byte(out), &lr); err != nil {
		t.Fatal(err)
	}
	if len(lr.Coverage.Sensors) != 1 || lr.Coverage.Sensors[0].Sensor != "lab" || len(lr.Coverage.Hosts) != 2 || len(lr.Periodic) != 2 ||
		lr.Coverage.WindowHours != 24 || lr.Coverage.ObservedHours != 24 { // the window is lab's: day two
		t.Errorf("lab alone: sensors %+v, %d hosts, %d communicators, %d of %d hours", lr.Coverage.Sensors, len(lr.Coverage.Hosts), len(lr.Periodic),
			lr.Coverage.ObservedHours, lr.Coverage.WindowHours)
	}
	code, _, stderr = replay(t, nil, "report", "--db", url, "--sensor", "hq,attic")
	if code != exitFailure || !strings.Contains(stderr, `no sensor "attic"`) || !strings.Contains(stderr, "branch, hq, lab") {
		t.Errorf("an unknown sensor: exit %d, %q", code, stderr)
	}
}

// --db and --state-dir name two different sources: a usage error; a
// database no hub wrote into is an error saying so.
func TestReportDBErrors(t *testing.T) {
	code, _, stderr := replay(t, nil, "report", "--db", "postgres://x@127.0.0.1/none", "--state-dir", t.TempDir())
	if code != exitUsage || !strings.Contains(stderr, "not both") {
		t.Errorf("--db with --state-dir: exit %d, %q", code, stderr)
	}
	code, _, stderr = replay(t, nil, "report", "--sensor", "hq", "--state-dir", t.TempDir())
	if code != exitUsage || !strings.Contains(stderr, "give --db too") {
		t.Errorf("--sensor without --db: exit %d, %q", code, stderr)
	}
	url := pgtest.DB(t)
	code, _, stderr = replay(t, nil, "report", "--db", url)
	if code != exitFailure || !strings.Contains(stderr, "no hub has written") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("an empty database: exit %d, %q: want one line saying no hub wrote into it", code, stderr)
	}
}
