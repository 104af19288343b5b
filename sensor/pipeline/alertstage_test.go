package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/baseline"
)

type recordSink struct {
	mu  sync.Mutex
	ids []string
}

func (r *recordSink) Alert(a *alert.Alert) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids = append(r.ids, a.ID)
	return nil
}

// slowEnricher takes longer for earlier alerts, so completions come out of order.
type slowEnricher struct{}

func (slowEnricher) Enrich(_ context.Context, a *alert.Alert) {
	var n int
	fmt.Sscan(a.ID, &n)
	time.Sleep(time.Duration(20-n) * time.Millisecond)
	status := alert.EnrichNoMatch
	if n == 3 {
		// The real Jamf check-in, approved by the built-in Jamf rule.
		a.Enrichment = &alert.Enrichment{Status: alert.EnrichMatched, Jobs: []alert.Job{{Label: "com.jamfsoftware.task.1",
			Path: "/Library/LaunchDaemons/com.jamfsoftware.task.1.plist", Program: "/usr/local/jamf/bin/jamf", TeamID: "483DWKW443", MatchScore: 0.7}}}
		return
	}
	a.Enrichment = &alert.Enrichment{Status: status}
}

func TestAlertStageOrderAndSuppression(t *testing.T) {
	b, err := baseline.Parse([]byte("approved_destinations:\n  - \"*.approved.example\"\n  - 192.0.2.0/24\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.DestinationRule(baseline.Destination{Name: "acme.jamf.com"}); !ok {
		t.Fatal("the default approves *.jamf.com by destination")
	}
	// Alert 3 must be suppressed by its job, not its destination: judge it
	// with a baseline whose Jamf destinations come only with the Jamf job.
	b, err = baseline.Parse([]byte(jamfOnly))
	if err != nil {
		t.Fatal(err)
	}
	sink := &recordSink{}
	st := &AlertStage{Baseline: baseline.NewLive(b), Enricher: slowEnricher{}, Sinks: []Sink{sink}, Concurrency: 4}
	in := make(chan *alert.Alert, 32)
	for i := 0; i < 12; i++ {
		a := &alert.Alert{ID: fmt.Sprint(i), DstFQDN: "c2.evil.example", DstIPs: []string{"203.0.113.9"}}
		switch i {
		case 3:
			a.DstFQDN = "acme.jamf.com" // not approved by destination alone here: the default is off
			a.DstIPs = []string{"198.51.100.77"}
		case 5:
			a.DstFQDN = "mdm.approved.example"
		case 7:
			a.DstFQDN, a.DstIPs = "", []string{"192.0.2.10", "192.0.2.11"}
		case 8:
			a.DstFQDN, a.DstIPs = "", []string{"192.0.2.10", "198.51.100.1"} // one address not approved
		}
		in <- a
	}
	close(in)
	st.Run(context.Background(), in)
	want := "[0 1 2 4 6 8 9 10 11]"
	if got := fmt.Sprint(sink.ids); got != want {
		t.Errorf("delivered %s, want %s (in order, without 3, 5, 7)", got, want)
	}
	c := &st.Counters
	if c.Received.Load() != 12 || c.SuppressedDest.Load() != 2 || c.SuppressedLabel.Load() != 1 || c.Emitted.Load() != 9 {
		t.Errorf("counters: received %d dest %d label %d emitted %d", c.Received.Load(), c.SuppressedDest.Load(), c.SuppressedLabel.Load(), c.Emitted.Load())
	}
}

// labelEnricher matches every alert to one launchd job, com.example.agent,
// and, as enrich.Service does, leaves its approval to the stage.
type labelEnricher struct{ b *baseline.Live }

func (e labelEnricher) Enrich(_ context.Context, a *alert.Alert) {
	a.Enrichment = &alert.Enrichment{Status: alert.EnrichMatched, Jobs: []alert.Job{{Label: "com.example.agent", MatchScore: 0.7}}}
}

// TestAlertStageRescan: a baseline reload applies retroactively. Alerts the
// old baseline suppressed — by destination or by launchd label — are
// delivered once the reload withdraws the approval; those still approved
// stay held.
func TestAlertStageRescan(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "baseline.yaml")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("approved_destinations: [\"*.approved.example\", \"updates.example\"]\napproved_labels: [\"com.example.*\"]\n")
	live := baseline.NewLive(baseline.Default())
	if err := live.Reload(file); err != nil {
		t.Fatal(err)
	}
	sink := &recordSink{}
	st := &AlertStage{Baseline: live, Enricher: labelEnricher{live}, Sinks: []Sink{sink}}
	in := make(chan *alert.Alert)
	done := make(chan struct{})
	go func() { st.Run(context.Background(), in); close(done) }()
	for i, dst := range []string{"c2.approved.example", "updates.example", "other.example"} {
		in <- &alert.Alert{ID: fmt.Sprint(i), SrcIP: "10.0.0.5", DstFQDN: dst, DstPort: 443, Proto: "tcp"}
	}
	waitHeld := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); st.Held() != n; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("held %d, want %d", st.Held(), n)
			}
		}
	}
	waitHeld(3) // two by destination, one by its job's label
	// Withdraw the *.approved.example and label approvals; keep updates.example.
	write("approved_destinations: [\"updates.example\"]\n")
	if err := live.Reload(file); err != nil {
		t.Fatal(err)
	}
	st.Rescan()
	waitHeld(1)
	close(in)
	<-done
	sink.mu.Lock()
	got := fmt.Sprint(sink.ids)
	sink.mu.Unlock()
	if got != "[0 2]" {
		t.Errorf("delivered after the reload %s, want [0 2]", got)
	}
	c := &st.Counters
	if c.Released.Load() != 2 || c.SuppressedDest.Load() != 2 || c.SuppressedLabel.Load() != 1 || c.Emitted.Load() != 2 {
		t.Errorf("counters: released %d dest %d label %d emitted %d", c.Released.Load(), c.SuppressedDest.Load(), c.SuppressedLabel.Load(), c.Emitted.Load())
	}
}

func TestAlertStageHeldBounded(t *testing.T) {
	b, _ := baseline.Parse([]byte("approved_destinations: [\"*.example\"]\n"))
	st := &AlertStage{Baseline: baseline.NewLive(b), MaxHeld: 4}
	in := make(chan *alert.Alert, 10)
	for i := range 10 {
		in <- &alert.Alert{ID: fmt.Sprint(i), SrcIP: fmt.Sprintf("10.0.0.%d", i), DstFQDN: "a.example"}
	}
	close(in)
	st.Run(context.Background(), in)
	if st.Held() != 4 || st.Counters.HeldEvictions.Load() != 6 {
		t.Errorf("held %d, evictions %d; want 4, 6", st.Held(), st.Counters.HeldEvictions.Load())
	}
}

// gatedEnricher is labelEnricher that waits at a gate after enriching, so a
// test can reload the baseline while an alert is in flight.
type gatedEnricher struct {
	b             *baseline.Live
	entered, gate chan struct{}
}

func (e gatedEnricher) Enrich(ctx context.Context, a *alert.Alert) {
	labelEnricher{e.b}.Enrich(ctx, a)
	close(e.entered)
	<-e.gate
}

// TestAlertStageRescanEdges: the reload races and re-judgements a review
// found. Each case starts with a baseline, sends one alert, reloads to a
// second baseline and rescans.
func TestAlertStageRescanEdges(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		before, after        string
		inFlight             bool // reload while the alert is being enriched
		delivered            int
		dest, label, release uint64
		held                 int
	}{
		{name: "label approval withdrawn while the alert was being enriched", inFlight: true,
			before: "approved_labels: [\"com.example.*\"]\n", after: "approved_destinations: [\"y.example\"]\n",
			delivered: 1, label: 0, release: 0, held: 0},
		{name: "released from its destination, its job still approved: held again, counted once",
			before: "approved_destinations: [\"x.example\"]\napproved_labels: [\"com.example.*\"]\n", after: "approved_labels: [\"com.example.*\"]\n",
			delivered: 0, dest: 1, label: 0, release: 0, held: 1},
		{name: "released from its label, its destination approved now: held by destination",
			before: "approved_labels: [\"com.example.*\"]\n", after: "approved_destinations: [\"x.example\"]\n",
			delivered: 0, label: 1, release: 0, held: 1},
		{name: "released from its destination, nothing approved now: delivered",
			before: "approved_destinations: [\"x.example\"]\n", after: "approved_destinations: [\"y.example\"]\n",
			delivered: 1, dest: 1, release: 1, held: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "baseline.yaml")
			load := func(live *baseline.Live, body string) {
				if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := live.Reload(file); err != nil {
					t.Fatal(err)
				}
			}
			live := baseline.NewLive(baseline.Default())
			load(live, tc.before)
			var enr Enricher = labelEnricher{live}
			gated := gatedEnricher{live, make(chan struct{}), make(chan struct{})}
			if tc.inFlight {
				enr = gated
			}
			sink := &recordSink{}
			st := &AlertStage{Baseline: live, Enricher: enr, Sinks: []Sink{sink}}
			in := make(chan *alert.Alert)
			done := make(chan struct{})
			go func() { st.Run(context.Background(), in); close(done) }()
			in <- &alert.Alert{ID: "0", SrcIP: "10.0.0.5", DstFQDN: "x.example", DstPort: 443, Proto: "tcp"}
			if tc.inFlight {
				<-gated.entered
			} else {
				for deadline := time.Now().Add(5 * time.Second); st.Held() != 1; time.Sleep(time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatal("the alert was never held")
					}
				}
			}
			load(live, tc.after)
			st.Rescan()
			if tc.inFlight {
				close(gated.gate)
			}
			close(in) // Run handles the rescan before it sees in closed, or after: both must hold
			<-done
			c := &st.Counters
			sink.mu.Lock()
			got := len(sink.ids)
			sink.mu.Unlock()
			if got != tc.delivered || c.SuppressedDest.Load() != tc.dest || c.SuppressedLabel.Load() != tc.label ||
				c.Released.Load() != tc.release || st.Held() != tc.held || c.Received.Load() != 1 {
				t.Errorf("delivered %d (want %d), suppressed dest %d (%d) label %d (%d), released %d (%d), held %d (%d), received %d",
					got, tc.delivered, c.SuppressedDest.Load(), tc.dest, c.SuppressedLabel.Load(), tc.label,
					c.Released.Load(), tc.release, st.Held(), tc.held, c.Received.Load())
			}
		})
	}
}

// TestAlertStageReleasedTwice: held by its job's label, released by a
// reload that approves its destination instead (held again), then released
// for good: delivered once, its enrichment status counted once.
func TestAlertStageReleasedTwice(t *testing.T) {
	file := filepath.Join(t.TempDir(), "baseline.yaml")
	live := baseline.NewLive(baseline.Default())
	load := func(body string) {
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := live.Reload(file); err != nil {
			t.Fatal(err)
		}
	}
	load("approved_labels: [\"com.example.*\"]\n")
	sink := &recordSink{}
	st := &AlertStage{Baseline: live, Enricher: labelEnricher{live}, Sinks: []Sink{sink}}
	in := make(chan *alert.Alert)
	done := make(chan struct{})
	go func() { st.Run(context.Background(), in); close(done) }()
	in <- &alert.Alert{ID: "0", SrcIP: "10.0.0.5", DstFQDN: "x.example", DstPort: 443, Proto: "tcp"}
	// waitHeld waits until the alert is held with this label ("" = by destination).
	waitHeld := func(label string) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			st.heldMu.Lock()
			h, ok := st.held.Peek("10.0.0.5 x.example 443/tcp")
			st.heldMu.Unlock()
			if ok && h.label == label {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("not held with label %q", label)
			}
		}
	}
	waitHeld("com.example.agent")
	load("approved_destinations: [\"x.example\"]\n")
	st.Rescan()
	waitHeld("")
	load("approved_destinations: [\"y.example\"]\n")
	st.Rescan()
	for deadline := time.Now().Add(5 * time.Second); st.Counters.Emitted.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("never delivered")
		}
	}
	close(in)
	<-done
	c := &st.Counters
	if got := c.EnrichmentStatus(); got[alert.EnrichMatched] != 1 || c.Released.Load() != 1 || c.Emitted.Load() != 1 || st.Held() != 0 {
		t.Errorf("statuses %v, released %d, emitted %d, held %d; want matched=1, 1, 1, 0", got, c.Released.Load(), c.Emitted.Load(), st.Held())
	}
}

// jamfOnly approves two destinations alone and Jamf's only with its job.
const jamfOnly = `include_default: false
approved_destinations: ["*.approved.example", 192.0.2.0/24]
rules:
  - name: jamf
    labels: [com.jamf.*, com.jamfsoftware.*]
    programs: [/usr/local/jamf/]
    team_ids: [483DWKW443]
    plist: system
    destinations: ["*.jamf.com"]
`

// fixedEnricher sets the same enrichment on every alert (a fresh copy).
type fixedEnricher struct{ e alert.Enrichment }

func (f fixedEnricher) Enrich(_ context.Context, a *alert.Alert) {
	e := f.e
	e.Jobs = append([]alert.Job(nil), f.e.Jobs...)
	a.Enrichment = &e
}

// TestAlertStageJudgesJobs: the stage, not the enricher, decides which jobs
// the baseline approves; only an approved best job that explains the
// traffic suppresses the alert.
func TestAlertStageJudgesJobs(t *testing.T) {
	b, err := baseline.Parse([]byte("approved_labels: [\"com.example.*\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	approved := alert.Job{Label: "com.example.agent", MatchScore: 0.7, Why: []string{"StartInterval matches"}}
	other := alert.Job{Label: "org.evil.agent", MatchScore: 0.6, Why: []string{}, Approved: true} // an enricher's say is ignored
	for _, tc := range []struct {
		name       string
		e          alert.Enrichment
		suppressed bool
		approved   []bool
		severity   alert.Severity
	}{
		{"approved best job explains the traffic", alert.Enrichment{Status: alert.EnrichMatched, Jobs: []alert.Job{approved, other}}, true, nil, ""},
		{"approved job ranked second", alert.Enrichment{Status: alert.EnrichMatched, Jobs: []alert.Job{other, approved}}, false, []bool{false, true}, alert.SeverityHigh},
		{"approved best job but no match", alert.Enrichment{Status: alert.EnrichNoMatch, Jobs: []alert.Job{approved}}, false, []bool{true}, alert.SeverityMedium},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []*alert.Alert
			sink := sinkFunc(func(a *alert.Alert) error { got = append(got, a); return nil })
			st := &AlertStage{Baseline: baseline.NewLive(b), Enricher: fixedEnricher{tc.e}, Sinks: []Sink{sink}}
			in := make(chan *alert.Alert, 1)
			in <- &alert.Alert{ID: "0", SrcIP: "10.0.0.5", DstFQDN: "x.example", DstPort: 443, Proto: "tcp", Severity: alert.SeverityMedium}
			close(in)
			st.Run(context.Background(), in)
			if tc.suppressed {
				if len(got) != 0 || st.Counters.SuppressedLabel.Load() != 1 || st.Held() != 1 {
					t.Fatalf("delivered %d, suppressed %d, held %d; want suppressed", len(got), st.Counters.SuppressedLabel.Load(), st.Held())
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("delivered %d, want 1", len(got))
			}
			a := got[0]
			for i, want := range tc.approved {
				j := a.Enrichment.Jobs[i]
				why := strings.Join(j.Why, "|")
				if j.Approved != want || want != strings.Contains(why, `label approved by baseline rule "com.example.*"`) {
					t.Errorf("job %s: approved %v (want %v), why %q", j.Label, j.Approved, want, j.Why)
				}
			}
			if a.Severity != tc.severity {
				t.Errorf("severity %s, want %s", a.Severity, tc.severity)
			}
		})
	}
}

type sinkFunc func(*alert.Alert) error

func (f sinkFunc) Alert(a *alert.Alert) error { return f(a) }

// TestAlertStageMasquerade: the demo updater renamed to a Jamf
// label is not approved; the alert says why and is high severity.
func TestAlertStageMasquerade(t *testing.T) {
	e := alert.Enrichment{Status: alert.EnrichMatched, Jobs: []alert.Job{{
		Label: "com.jamf.updater", Path: "/Users/alice/Library/LaunchAgents/com.jamf.updater.plist",
		Program: "/Users/alice/Library/Application Support/.updater/updater", MatchScore: 0.84, Why: []string{"StartInterval 300 s matches"},
	}}}
	var got []*alert.Alert
	sink := sinkFunc(func(a *alert.Alert) error { got = append(got, a); return nil })
	st := &AlertStage{Baseline: baseline.NewLive(nil), Enricher: fixedEnricher{e}, Sinks: []Sink{sink}}
	in := make(chan *alert.Alert, 1)
	in <- &alert.Alert{ID: "0", SrcIP: "10.20.1.15", DstFQDN: "cdn.example.net", DstPort: 443, Proto: "tcp", Severity: alert.SeverityLow}
	close(in)
	st.Run(context.Background(), in)
	if len(got) != 1 {
		t.Fatalf("delivered %d, want the masquerade alerted", len(got))
	}
	a := got[0]
	j := a.Enrichment.Jobs[0]
	reasons := strings.Join(a.Reasons, "|")
	if a.Severity != alert.SeverityHigh || j.Approved || !strings.Contains(reasons, "com.jamf.updater masquerades") ||
		!strings.Contains(reasons, "not the Jamf agent") || !strings.Contains(strings.Join(j.Why, "|"), "is not under") ||
		st.Counters.Masquerades.Load() != 1 || st.Counters.SuppressedLabel.Load() != 0 {
		t.Errorf("severity %s, approved %v, masquerades %d, reasons %q, why %q", a.Severity, j.Approved, st.Counters.Masquerades.Load(), a.Reasons, j.Why)
	}
}

// A masquerade an earlier run already delivered (the ledger knows its id) is
// not delivered again, so it is not counted or logged again either.
func TestAlertStageMasqueradeDuplicateNotCounted(t *testing.T) {
	e := alert.Enrichment{Status: alert.EnrichMatched, Jobs: []alert.Job{{
		Label: "com.jamf.updater", Path: "/Users/alice/Library/LaunchAgents/com.jamf.updater.plist",
		Program: "/Users/alice/Library/Application Support/.updater/updater", MatchScore: 0.84,
	}}}
	var got int
	sink := sinkFunc(func(*alert.Alert) error { got++; return nil })
	st := &AlertStage{Baseline: baseline.NewLive(nil), Enricher: fixedEnricher{e}, Sinks: []Sink{sink},
		Ledger: &fakeLedger{before: map[string]bool{"0": true}}}
	in := make(chan *alert.Alert, 2)
	in <- &alert.Alert{ID: "0", SrcIP: "10.20.1.15", DstFQDN: "cdn.example.net", DstPort: 443, Proto: "tcp"}
	in <- &alert.Alert{ID: "1", SrcIP: "10.20.1.16", DstFQDN: "cdn.example.net", DstPort: 443, Proto: "tcp"}
	close(in)
	st.Run(context.Background(), in)
	if got != 1 || st.Counters.Masquerades.Load() != 1 || st.Counters.Duplicates.Load() != 1 {
		t.Errorf("delivered %d, masquerades %d, duplicates %d: want 1, 1, 1", got, st.Counters.Masquerades.Load(), st.Counters.Duplicates.Load())
	}
}
