package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/launchtap/launchtap/sensor/state"
)

// orgEvidence is what the organisation's store (sensor/hub/orgstore) reads
// for two offices that number their Macs alike: hq watched hours 0-5 but
// saw nothing in hours 2-3, branch started at hour 3.
func orgEvidence() *state.Evidence {
	ev := &state.Evidence{Clock: t0.Add(5*time.Hour + 59*time.Minute).UnixNano(), Path: "postgres://launchtap:xxxxx@db/org"}
	hours := func(from, to int, skip ...int) []state.Hour {
		var out []state.Hour
	next:
		for h := from; h <= to; h++ {
			for _, s := range skip {
				if h == s {
					continue next
				}
			}
			out = append(out, state.Hour{Start: t0.Add(time.Duration(h) * time.Hour).Unix(), Packets: 1000, Sessions: 100, NamedDNS: 90, Unnamed: 10})
		}
		return out
	}
	ev.Sensors = []state.SensorCoverage{
		{Sensor: "branch", Version: "1.1", Clock: ev.Clock, Hours: hours(3, 5)},
		{Sensor: "hq", Version: "1.0", Clock: ev.Clock, Hours: hours(0, 5, 2, 3)},
	}
	sum := map[int64]*state.Hour{}
	for _, sc := range ev.Sensors {
		for _, h := range sc.Hours {
			if sum[h.Start] == nil {
				sum[h.Start] = &state.Hour{Start: h.Start}
			}
			sum[h.Start].Packets += h.Packets
			sum[h.Start].Sessions += h.Sessions
			sum[h.Start].NamedDNS += h.NamedDNS
		}
	}
	for h := 0; h <= 5; h++ {
		if x := sum[t0.Add(time.Duration(h)*time.Hour).Unix()]; x != nil {
			ev.Hours = append(ev.Hours, *x)
		}
	}
	ev.Runs = []state.Run{
		{Sensor: "hq", Version: "1.0", Start: t0.UnixNano(), End: ev.Clock},
		{Sensor: "branch", Version: "1.1", Start: t0.Add(3 * time.Hour).UnixNano(), End: ev.Clock},
	}
	for _, sc := range ev.Sensors {
		for _, h := range sc.Hours {
			ev.HostHours = append(ev.HostHours, state.HostHour{Sensor: sc.Sensor, IP: "10.0.0.10", Start: h.Start, Sessions: 50, Named: 45})
		}
		ev.Hosts = append(ev.Hosts, state.Host{Sensor: sc.Sensor, IP: "10.0.0.10", OS: "macos", Hostname: sc.Sensor + "-mac", First: t0.UnixNano(), Last: ev.Clock})
	}
	a := finding(0, "c2.example.net", 443, 300, t0.Add(5*time.Hour))
	a.Sensor = "branch"
	ev.Findings = []state.Finding{{Alert: a, Fate: state.Alerted, Sensor: "branch"}}
	return ev
}

func TestBuildOrganisation(t *testing.T) {
	r := Build(orgEvidence(), Options{})
	c := &r.Coverage
	if !r.Org() || len(c.Sensors) != 2 {
		t.Fatalf("sensors %+v, want branch and hq", c.Sensors)
	}
	// Hour 2 no sensor saw; hq was running.
	if c.ObservedHours != 5 || len(c.Gaps) != 1 || c.Gaps[0].From != t0.Add(2*time.Hour) || !strings.Contains(c.Gaps[0].Why, "no packets") {
		t.Errorf("organisation: %d observed hours, gaps %+v; want 5, hour 2 running without packets", c.ObservedHours, c.Gaps)
	}
	br, hq := c.Sensors[0], c.Sensors[1]
	if br.Sensor != "branch" || br.ObservedHours != 3 || len(br.Gaps) != 1 || br.Gaps[0].Why != "sensor not running" || br.Gaps[0].Hours() != 3 {
		t.Errorf("branch %+v: want 3 of 6 hours, not running for the first 3", br)
	}
	if hq.ObservedHours != 4 || len(hq.Gaps) != 1 || !strings.Contains(hq.Gaps[0].Why, "no packets") || hq.Gaps[0].Hours() != 2 || hq.WindowHours != 6 {
		t.Errorf("hq %+v: want 4 of 6 hours, 2 running without packets", hq)
	}
	if br.Alerts != 1 || br.Periodic != 1 || hq.Alerts != 0 || br.Hosts != 1 || hq.MacsSeen != 1 || br.Packets != 3000 || br.Version != "1.1" {
		t.Errorf("branch %+v, hq %+v", br, hq)
	}
	// One address, two hosts: one per office, each observed by its own sensor.
	if len(c.Hosts) != 2 || c.Hosts[0].Sensor != "branch" || c.Hosts[1].Sensor != "hq" || c.Hosts[0].Hostname != "branch-mac" ||
		c.Hosts[0].ContinuousHours != 3 || c.Hosts[1].ContinuousHours != 2 {
		t.Errorf("hosts %+v: want 10.0.0.10 once per sensor, unbroken 3 h (branch) and 2 h (hq)", c.Hosts)
	}
	if len(r.Alerts) != 1 || r.Alerts[0].Sensor != "branch" {
		t.Errorf("alerts %+v: want branch's", r.Alerts)
	}
	var buf bytes.Buffer
	if err := r.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Each sensor's coverage", "<th>sensor</th>", "<td>branch</td>", "sensor <b>branch</b>", "database postgres://"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	// One sensor's report shows none of it.
	single := build(t, func() string { d := t.TempDir(); office(t, d, 2, 1); return d }(), 2)
	buf.Reset()
	single.WriteHTML(&buf)
	if single.Org() || strings.Contains(buf.String(), "Each sensor") || strings.Contains(buf.String(), "<th>sensor</th>") {
		t.Error("a sensor's own report shows the organisation's sensor columns")
	}
}
