package pipeline

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/baseline"
)

// alertSink keeps a copy of every alert delivered.
type alertSink struct {
	mu sync.Mutex
	as []alert.Alert
}

func (s *alertSink) Alert(a *alert.Alert) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.as = append(s.as, *a)
	return nil
}

// fleetMac is the alert of generated Mac i running the vendor agent: the
// detector's estimate of StartInterval period, with a little network jitter.
func fleetMac(i int, dst string, period float64) *alert.Alert {
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	return &alert.Alert{
		ID:        fmt.Sprintf("host-%02d", i),
		TS:        t0.Add(6 * time.Hour),
		Severity:  alert.SeverityMedium,
		SrcIP:     fmt.Sprintf("10.20.5.%d", 10+i),
		SrcMAC:    fmt.Sprintf("3c:22:fb:00:05:%02x", i),
		Hostname:  fmt.Sprintf("mac-%02d", i),
		DstFQDN:   dst,
		DstIPs:    []string{"203.0.113.50"},
		DstPort:   443,
		Proto:     "tcp",
		Kind:      "session",
		PeriodS:   period + float64(i%5-2)*0.4, // ±0.8 s around the interval
		Jitter:    0.001,
		Beats:     6 + i%3,
		FirstSeen: t0.Add(time.Duration(i) * time.Minute),
		LastSeen:  t0.Add(6*time.Hour + time.Duration(i)*time.Minute),
		Score:     0.9,
	}
}

// runStage delivers alerts through a stage and returns what left it.
func runStage(t *testing.T, st *AlertStage, alerts ...*alert.Alert) []alert.Alert {
	t.Helper()
	sink := &alertSink{}
	st.Sinks = append(st.Sinks, sink)
	in := make(chan *alert.Alert, len(alerts))
	for _, a := range alerts {
		in <- a
	}
	close(in)
	st.Run(context.Background(), in)
	return sink.as
}

func fleetStage() *AlertStage {
	return &AlertStage{Fleet: FleetConfig{MinHosts: DefaultFleetMinHosts}, Concurrency: 4}
}

// groupRecords splits delivered alerts into per-host alerts (no host
// count) and group records, and the distinct ids of the group records.
func groupRecords(out []alert.Alert) (own, group []alert.Alert, ids map[string]bool) {
	ids = map[string]bool{}
	for _, a := range out {
		if a.HostCount == 0 {
			own = append(own, a)
			continue
		}
		group = append(group, a)
		ids[a.ID] = true
	}
	return own, group, ids
}

// Fifteen Macs running the same unapproved vendor agent (StartInterval
// 3600) are one group alert: the first two alert as today, the third makes
// the group, the rest update it under the same id.
func TestFleetFifteenMacsOneAlert(t *testing.T) {
	var in []*alert.Alert
	for i := range 15 {
		in = append(in, fleetMac(i, "telemetry.vendor.example", 3600))
	}
	st := fleetStage()
	out := runStage(t, st, in...)
	own, group, ids := groupRecords(out)
	if len(own) != 2 || own[0].ID != "host-00" || own[1].ID != "host-01" || own[0].GroupID != "" {
		t.Fatalf("per-host alerts %+v, want host-00 and host-01 as delivered today", own)
	}
	if len(ids) != 1 {
		t.Fatalf("group alert ids %v, want one", ids)
	}
	first, last := group[0], group[len(group)-1]
	if first.Update || first.HostCount != 3 || len(first.Hosts) != 3 {
		t.Errorf("group alert: update %v, host_count %d, %d hosts; want a new alert naming 3", first.Update, first.HostCount, len(first.Hosts))
	}
	if first.Hosts[0].AlertID != "host-00" || first.Hosts[1].AlertID != "host-01" || first.Hosts[2].AlertID != "" {
		t.Errorf("hosts' alert ids %q %q %q: want the two delivered alerts, then none", first.Hosts[0].AlertID, first.Hosts[1].AlertID, first.Hosts[2].AlertID)
	}
	if !last.Update || last.HostCount != 15 || len(last.Hosts) != 15 || last.ID != first.ID || last.GroupID != first.GroupID {
		t.Errorf("last record: id %s update %v host_count %d hosts %d; want the group's id, an update, 15 and 15", last.ID, last.Update, last.HostCount, len(last.Hosts))
	}
	for i, h := range last.Hosts {
		want := fleetMac(i, "", 3600)
		if h.HostID != want.SrcMAC || h.SrcIP != want.SrcIP || h.SrcMAC != want.SrcMAC || h.PeriodS != want.PeriodS || h.Beats != want.Beats || h.Hostname != want.Hostname {
			t.Errorf("host %d: %+v", i, h)
		}
	}
	c := st.FleetCounters()
	if c.Groups != 1 || c.Joined != 13 || c.Updates != 12 || c.Raised != 0 || st.Counters.Emitted.Load() != 3 {
		t.Errorf("counters %+v, emitted %d; want 1 group, 13 joined, 12 updates, 3 alerts", c, st.Counters.Emitted.Load())
	}
	checkAccounting(t, st)
}

// checkAccounting checks the stage's documented identity at quiescence.
func checkAccounting(t *testing.T, st *AlertStage) {
	t.Helper()
	c, f := &st.Counters, st.FleetCounters()
	lhs := c.Received.Load()
	rhs := c.SuppressedDest.Load() + c.SuppressedLabel.Load() + c.Duplicates.Load() + c.Emitted.Load() - c.Released.Load() + f.Joined - f.Groups - f.Raised
	if lhs != rhs {
		t.Errorf("received %d != suppressed + duplicates + emitted - released + joined - groups - raised = %d", lhs, rhs)
	}
}

// approveEnricher matches every alert to the vendor agent's launchd job.
type approveEnricher struct{}

func (approveEnricher) Enrich(_ context.Context, a *alert.Alert) {
	a.Enrichment = &alert.Enrichment{Status: alert.EnrichMatched, Device: &alert.Device{Serial: "C02" + a.ID}, Jobs: []alert.Job{{
		Label: "com.vendor.telemetry", Path: "/Library/LaunchDaemons/com.vendor.telemetry.plist",
		Program: "/Library/Vendor/telemetry", StartInterval: 3600, MatchScore: 0.8}}}
}

// The organisation's baseline approving the fleet agent, by destination or
// by its launchd job, leaves nothing to group.
func TestFleetApprovedMakesNoGroup(t *testing.T) {
	for _, tc := range []struct{ name, yaml string }{
		{"destination", "approved_destinations: [\"*.vendor.example\"]\n"},
		{"launchd job", "approved_labels: [\"com.vendor.telemetry\"]\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := baseline.Parse([]byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			st := fleetStage()
			st.Baseline, st.Enricher = baseline.NewLive(b), approveEnricher{}
			var in []*alert.Alert
			for i := range 15 {
				in = append(in, fleetMac(i, "telemetry.vendor.example", 3600))
			}
			if out := runStage(t, st, in...); len(out) != 0 {
				t.Errorf("delivered %d, want none", len(out))
			}
			if c := st.FleetCounters(); c.Groups != 0 || c.Joined != 0 || c.Dests != 0 {
				t.Errorf("fleet counters %+v, want nothing grouped", c)
			}
			checkAccounting(t, st)
		})
	}
}

// Below three hosts nothing changes; a host at another period, or another
// port, alerts on its own.
func TestFleetStaysPerHost(t *testing.T) {
	other := fleetMac(3, "telemetry.vendor.example", 1800)
	port := fleetMac(4, "telemetry.vendor.example", 3600)
	port.DstPort = 8443
	udp := fleetMac(5, "telemetry.vendor.example", 3600)
	udp.Proto = "udp"
	st := fleetStage()
	out := runStage(t, st, fleetMac(0, "telemetry.vendor.example", 3600), fleetMac(1, "telemetry.vendor.example", 3600), other, port, udp)
	if len(out) != 5 {
		t.Fatalf("delivered %d, want 5 ordinary alerts", len(out))
	}
	for _, a := range out {
		if a.GroupID != "" || a.HostCount != 0 || a.Hosts != nil || a.Update {
			t.Errorf("alert %s carries fleet fields: %+v", a.ID, a)
		}
	}
	// The same alerts with grouping off are the same alerts.
	if c := st.FleetCounters(); c.Groups != 0 || c.Joined != 0 {
		t.Errorf("fleet counters %+v", c)
	}
}

// A 16th host joining an existing group is an update record of the same
// alert, not a new alert; a host at a different period is its own alert.
func TestFleetLaterHosts(t *testing.T) {
	st := fleetStage()
	sink := &alertSink{}
	st.Sinks = []Sink{sink}
	in := make(chan *alert.Alert)
	done := make(chan struct{})
	go func() { st.Run(context.Background(), in); close(done) }()
	for i := range 15 {
		in <- fleetMac(i, "telemetry.vendor.example", 3600)
	}
	waitEmitted(t, st, 3)
	before := st.Counters.Emitted.Load()
	in <- fleetMac(15, "telemetry.vendor.example", 3600)
	in <- fleetMac(16, "telemetry.vendor.example", 900)
	close(in)
	<-done
	out := sink.as
	var group alert.Alert
	for _, a := range out {
		if a.HostCount > 0 && !a.Update {
			group = a
		}
	}
	up, alone := out[len(out)-2], out[len(out)-1]
	if !up.Update || up.ID != group.ID || up.HostCount != 16 || up.SrcIP != "10.20.5.25" {
		t.Errorf("16th host: update %v id %s (group %s) host_count %d src %s; want an update of the group naming 16", up.Update, up.ID, group.ID, up.HostCount, up.SrcIP)
	}
	if alone.ID != "host-16" || alone.GroupID != "" || alone.HostCount != 0 {
		t.Errorf("host at 900 s: %+v, want its own alert", alone)
	}
	if got := st.Counters.Emitted.Load() - before; got != 1 {
		t.Errorf("alerts emitted after the group: %d, want 1 (the 900 s host's)", got)
	}
	checkAccounting(t, st)
}

func waitEmitted(t *testing.T, st *AlertStage, n uint64) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); st.Counters.Emitted.Load() < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("emitted %d, want %d", st.Counters.Emitted.Load(), n)
		}
	}
}

// A joining host whose alert is more severe raises the group: a new alert,
// under a new id, with the same group id.
func TestFleetSeverityRise(t *testing.T) {
	var in []*alert.Alert
	for i := range 4 {
		in = append(in, fleetMac(i, "telemetry.vendor.example", 3600))
	}
	high := fleetMac(4, "telemetry.vendor.example", 3600)
	high.Severity = alert.SeverityHigh
	low := fleetMac(5, "telemetry.vendor.example", 3600)
	low.Severity = alert.SeverityLow
	st := fleetStage()
	out := runStage(t, st, append(in, high, low)...)
	_, group, ids := groupRecords(out)
	if len(group) != 4 || len(ids) != 2 {
		t.Fatalf("group records %d with %d ids, want 4 with 2", len(group), len(ids))
	}
	raised, after := group[2], group[3]
	if raised.Update || raised.Severity != alert.SeverityHigh || raised.ID == group[0].ID || raised.GroupID != group[0].GroupID {
		t.Errorf("raised: %+v", raised)
	}
	if !after.Update || after.ID != raised.ID || after.Severity != alert.SeverityHigh || after.HostCount != 6 {
		t.Errorf("after the rise a low host updates the high alert: %+v", after)
	}
	if c := st.FleetCounters(); c.Raised != 1 || c.Updates != 2 || st.Counters.Emitted.Load() != 4 {
		t.Errorf("counters %+v emitted %d", c, st.Counters.Emitted.Load())
	}
	checkAccounting(t, st)
}

// Periods are the same within 5 %, more for jittered agents, never across
// a doubling.
func TestFleetPeriodTolerance(t *testing.T) {
	for _, tc := range []struct {
		name     string
		p        float64
		jitter   float64
		together bool
	}{
		{"same interval", 3600.4, 0.001, true},
		{"2.8 % off", 3700, 0.001, true},
		{"8 % off", 3300, 0.001, false},
		{"8 % off, 10 % jitter", 3300, 0.10, true},
		{"double, any jitter", 7200, 0.5, false},
		{"half", 1800, 0.001, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &fleetGroup{period: 3600, jitter: 0.001}
			if _, ok := g.samePeriod(tc.p, tc.jitter); ok != tc.together {
				t.Errorf("%v with 3600: together %v, want %v", tc.p, ok, tc.together)
			}
		})
	}
}

// Without a name the destination is its address set, in any order; a
// member alerting again from a new address carries the group's id.
func TestFleetAddressSetAndMember(t *testing.T) {
	var in []*alert.Alert
	for i := range 3 {
		a := fleetMac(i, "", 3600)
		a.DstIPs = []string{"203.0.113.50", "203.0.113.51"}
		if i == 1 {
			a.DstIPs = []string{"203.0.113.51", "203.0.113.50"}
		}
		in = append(in, a)
	}
	again := fleetMac(0, "", 3600)
	again.ID, again.SrcIP, again.DstIPs = "host-00-readdressed", "10.20.6.99", []string{"203.0.113.50", "203.0.113.51"}
	other := fleetMac(5, "", 3600)
	other.DstIPs = []string{"203.0.113.50"}
	st := fleetStage()
	out := runStage(t, st, append(in, again, other)...)
	if len(out) != 5 {
		t.Fatalf("delivered %d, want 5", len(out))
	}
	if out[2].HostCount != 3 {
		t.Errorf("third alert: host_count %d, want the group of 3", out[2].HostCount)
	}
	if out[3].ID != "host-00-readdressed" || out[3].GroupID != out[2].GroupID || out[3].HostCount != 0 {
		t.Errorf("member again: %+v, want its own alert with the group id", out[3])
	}
	if out[4].GroupID != "" {
		t.Errorf("other address set grouped: %+v", out[4])
	}
}

// The table is bounded: destinations are evicted least recently alerted
// first, counted; hosts listed are capped while host_count stays exact.
func TestFleetBounds(t *testing.T) {
	st := &AlertStage{Fleet: FleetConfig{MinHosts: 3, ListHosts: 5, MaxDests: 2}}
	var in []*alert.Alert
	for i := range 12 {
		in = append(in, fleetMac(i, "telemetry.vendor.example", 3600))
	}
	for _, d := range []string{"a.example", "b.example", "c.example"} {
		in = append(in, fleetMac(20, d, 600))
	}
	out := runStage(t, st, in...)
	last := out[11]
	if last.HostCount != 12 || len(last.Hosts) != 5 {
		t.Errorf("host_count %d, hosts listed %d; want 12 and 5", last.HostCount, len(last.Hosts))
	}
	if c := st.FleetCounters(); c.Evictions != 2 || c.Dests != 2 {
		t.Errorf("evictions %d dests %d, want 2 and 2", c.Evictions, c.Dests)
	}
	// Per destination, period clusters are bounded too.
	st = fleetStage()
	in = nil
	for i, p := range []float64{60, 300, 900, 3600, 86400} {
		in = append(in, fleetMac(i, "x.example", p))
	}
	runStage(t, st, in...)
	if c := st.FleetCounters(); c.Evictions != 1 {
		t.Errorf("period clusters evicted %d, want 1", c.Evictions)
	}
}

// Grouping off (the zero FleetConfig) delivers every alert as its own.
func TestFleetOff(t *testing.T) {
	st := &AlertStage{}
	var in []*alert.Alert
	for i := range 15 {
		in = append(in, fleetMac(i, "telemetry.vendor.example", 3600))
	}
	out := runStage(t, st, in...)
	if len(out) != 15 {
		t.Fatalf("delivered %d, want 15", len(out))
	}
	for _, a := range out {
		if a.GroupID != "" {
			t.Fatalf("grouped with grouping off: %+v", a)
		}
	}
}

// The host identities the table remembers are bounded as a whole: past the
// bound the least recently alerted destinations are evicted, counted.
func TestFleetMemberBudget(t *testing.T) {
	tab := newFleetTable(FleetConfig{MinHosts: 3})
	tab.maxMembers = 5
	for i := range 3 {
		tab.observe(fleetMac(i, "a.example", 3600))
	}
	for i := range 2 {
		tab.observe(fleetMac(i, "b.example", 600))
	}
	if c := tab.counters(); c.Evictions != 0 || tab.members != 5 {
		t.Fatalf("evictions %d members %d, want 0 and 5", c.Evictions, tab.members)
	}
	a := fleetMac(9, "c.example", 60)
	tab.observe(a)
	if c := tab.counters(); c.Evictions != 1 || c.Dests != 2 || tab.members != 3 {
		t.Errorf("evictions %d dests %d members %d; want a.example evicted: 1, 2, 3", c.Evictions, c.Dests, tab.members)
	}
	// One group alone beyond the bound still counts every host.
	tab = newFleetTable(FleetConfig{MinHosts: 3})
	tab.maxMembers = 4
	var last *alert.Alert
	for i := range 10 {
		last = fleetMac(i, "a.example", 3600)
		tab.observe(last)
	}
	if last.HostCount != 10 || tab.members != 4 {
		t.Errorf("host_count %d members %d, want 10 and 4", last.HostCount, tab.members)
	}
}

// BenchmarkFleetObserve is the grouping cost per alert delivered: a host
// joining a formed group of a few hundred, the common case.
func BenchmarkFleetObserve(b *testing.B) {
	tab := newFleetTable(FleetConfig{MinHosts: 3})
	as := make([]alert.Alert, 256)
	for i := range as {
		as[i] = *fleetMac(i, "telemetry.vendor.example", 3600)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		a := as[i%len(as)]
		a.SrcMAC = fmt.Sprintf("02:00:00:%02x:%02x:%02x", byte(i>>16), byte(i>>8), byte(i))
		tab.observe(&a)
	}
}

// mapLedger is a Ledger in memory.
type mapLedger struct {
	mu  sync.Mutex
	ids map[string]bool
}

func (l *mapLedger) Alerted(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ids[id]
}

func (l *mapLedger) Record(a *alert.Alert, fate, _, _ string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if fate == FateAlerted {
		l.ids[a.ID] = true
	}
}

// With a ledger (--state-dir), update records are delivered although they
// repeat a delivered id; after a restart the group alert already delivered
// is a duplicate, and its updates still arrive.
func TestFleetLedger(t *testing.T) {
	ledger := &mapLedger{ids: map[string]bool{}}
	run := func() []alert.Alert {
		st := fleetStage()
		st.Ledger = ledger
		var in []*alert.Alert
		for i := range 5 {
			in = append(in, fleetMac(i, "telemetry.vendor.example", 3600))
		}
		out := runStage(t, st, in...)
		checkAccounting(t, st)
		return out
	}
	out := run()
	if len(out) != 5 || out[2].HostCount != 3 || !out[4].Update {
		t.Fatalf("first run: %d records; want 2 own, the group alert, 2 updates", len(out))
	}
	out = run()
	if len(out) != 2 || !out[0].Update || out[0].HostCount != 4 || !out[1].Update {
		t.Errorf("after a restart: %d records, want the 2 updates only", len(out))
	}
}
