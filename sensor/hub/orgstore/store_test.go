package orgstore

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/launchtap/launchtap/internal/pgtest"
	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/hostid"
	"github.com/launchtap/launchtap/sensor/pipeline"
	"github.com/launchtap/launchtap/sensor/state"
)

var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

func open(t *testing.T, url string, opt Options) *Store {
	t.Helper()
	s, err := OpenWith(context.Background(), url, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// office is one checkpoint of a sensor: hours of packets from hour h0 on,
// two hosts whose addresses every office uses.
func office(sensor string, h0, hours int) *state.Checkpoint {
	c := &state.Checkpoint{Sensor: sensor, Version: "1.0"}
	for h := h0; h < h0+hours; h++ {
		hour := t0.Add(time.Duration(h) * time.Hour)
		c.Hours = append(c.Hours, state.Hour{Start: hour.Unix(), Packets: 1000, Sessions: 10, NamedDNS: 9, Unnamed: 1})
		for i := range 2 {
			c.HostHours = append(c.HostHours, state.HostHour{IP: fmt.Sprintf("10.0.0.%d", 10+i), Start: hour.Unix(), Sessions: 5, Named: 4})
		}
		c.Clock = hour.Add(59 * time.Minute).UnixNano()
	}
	for i := range 2 {
		c.Hosts = append(c.Hosts, hostid.Host{IP: fmt.Sprintf("10.0.0.%d", 10+i), MAC: fmt.Sprintf("3c:22:fb:00:00:%02x", i), OS: "macos",
			Confidence: 0.9, Hostname: sensor + fmt.Sprintf("-mac-%d", i), FirstSeen: t0, LastSeen: time.Unix(0, c.Clock)})
	}
	return c
}

func finding(sensor, id string, last time.Time) *alert.Alert {
	var beats []time.Time
	for j := range 8 {
		beats = append(beats, last.Add(-time.Duration(7-j)*5*time.Minute))
	}
	return &alert.Alert{ID: id, Sensor: sensor, TS: last, SrcIP: "10.0.0.10", DstFQDN: "c2.example.net", DstPort: 443, Proto: "tcp",
		Kind: "session", PeriodS: 300, Beats: 8, FirstSeen: beats[0], LastSeen: last, BeatTimes: beats, Severity: "high"}
}

func TestCheckpointAndEvidence(t *testing.T) {
	url := pgtest.DB(t)
	s := open(t, url, Options{})
	ctx := context.Background()
	// Two offices, the same addresses, overlapping hours.
	if err := s.Checkpoint(ctx, office("hq", 0, 4)); err != nil {
		t.Fatal(err)
	}
	s.Ledger("branch").Record(finding("branch", "a1", t0.Add(5*time.Hour)), "alerted", "", "com.evil.agent")
	s.Ledger("branch").Record(finding("branch", "a2", t0.Add(5*time.Hour)), "approved_destination", "*.example.net", "")
	if err := s.Checkpoint(ctx, office("branch", 2, 4)); err != nil {
		t.Fatal(err)
	}
	if n := s.Ledger("branch").Pending(); n != 0 {
		t.Errorf("%d fates still pending after the checkpoint", n)
	}
	ev, err := s.Evidence(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Hours) != 6 {
		t.Fatalf("%d hours, want 6 (0..5)", len(ev.Hours))
	}
	for _, h := range ev.Hours {
		want := uint64(1000)
		if h.Start == t0.Add(2*time.Hour).Unix() || h.Start == t0.Add(3*time.Hour).Unix() {
			want = 2000 // both sensors
		}
		if h.Packets != want {
			t.Errorf("hour %v: %d packets, want %d", time.Unix(h.Start, 0).UTC(), h.Packets, want)
		}
	}
	if len(ev.Sensors) != 2 || ev.Sensors[0].Sensor != "branch" || ev.Sensors[1].Sensor != "hq" ||
		len(ev.Sensors[0].Hours) != 4 || len(ev.Sensors[1].Hours) != 4 || ev.Sensors[1].Version != "1.0" {
		t.Errorf("sensors %+v, want branch and hq with 4 hours each", ev.Sensors)
	}
	if want := t0.Add(5*time.Hour + 59*time.Minute).UnixNano(); ev.Clock != want || ev.Sensors[0].Clock != want {
		t.Errorf("clock %d (branch %d), want %d", ev.Clock, ev.Sensors[0].Clock, want)
	}
	if len(ev.Hosts) != 4 || ev.Hosts[0].Sensor != "branch" || ev.Hosts[0].IP != "10.0.0.10" || ev.Hosts[2].Sensor != "hq" || ev.Hosts[2].IP != "10.0.0.10" {
		t.Errorf("hosts %+v: want one 10.0.0.10 per sensor", ev.Hosts)
	}
	if len(ev.HostHours) != 16 {
		t.Errorf("%d host hours, want 16", len(ev.HostHours))
	}
	if len(ev.Findings) != 2 || ev.Findings[0].Sensor != "branch" || len(ev.Findings[0].Alert.BeatTimes) != 8 {
		t.Errorf("findings %+v: want the branch's two with their beats", ev.Findings)
	}
	if len(ev.Runs) != 2 {
		t.Errorf("runs %+v, want one per sensor", ev.Runs)
	}
	if !s.Ledger("branch").Alerted("a1") || s.Ledger("branch").Alerted("a2") || s.Ledger("hq").Alerted("a1") {
		t.Error("the ledger must know a1 was alerted by branch, and only that")
	}
	if st := s.Stats(); st.Checkpoints != 2 || st.Findings != 2 || st.Errors != 0 {
		t.Errorf("stats %+v", st)
	}
	if names, err := s.Sensors(ctx); err != nil || strings.Join(names, ",") != "branch,hq" {
		t.Errorf("sensors %v, %v", names, err)
	}
	hq, err := s.EvidenceOf(ctx, 0, []string{"hq"})
	if err != nil {
		t.Fatal(err)
	}
	if len(hq.Hours) != 4 || hq.Hours[3].Packets != 1000 || len(hq.Sensors) != 1 || len(hq.Hosts) != 2 || len(hq.Findings) != 0 ||
		len(hq.Runs) != 1 || hq.Clock != t0.Add(3*time.Hour+59*time.Minute).UnixNano() {
		t.Errorf("hq alone: %d hours, %d sensors, %d hosts, %d findings, %d runs, clock %d", len(hq.Hours), len(hq.Sensors), len(hq.Hosts), len(hq.Findings), len(hq.Runs), hq.Clock)
	}
	if none, err := s.EvidenceOf(ctx, 0, []string{}); err != nil || len(none.Hours)+len(none.Hosts)+len(none.Sensors) != 0 {
		t.Errorf("no sensor: %v, %+v", err, none)
	}
}

// A checkpoint delivered twice (the hub redelivers after a crash) counts
// once; a run continues across checkpoints and restarts after a gap.
func TestCheckpointOnce(t *testing.T) {
	s := open(t, pgtest.DB(t), Options{})
	ctx := context.Background()
	c := office("hq", 0, 2)
	for i, want := range []bool{true, false} {
		ok, err := s.CheckpointOnce(ctx, "hq-ckpt-1", c)
		if err != nil || ok != want {
			t.Fatalf("delivery %d: applied %v, %v; want %v", i, ok, err, want)
		}
	}
	if ok, err := s.CheckpointOnce(ctx, "hq-ckpt-2", office("hq", 2, 1)); !ok || err != nil {
		t.Fatalf("next checkpoint: %v %v", ok, err)
	}
	// Another sensor may use the same id.
	if ok, err := s.CheckpointOnce(ctx, "hq-ckpt-1", office("branch", 0, 1)); !ok || err != nil {
		t.Fatalf("branch: %v %v", ok, err)
	}
	// Back after a day down: a new run.
	if err := s.Checkpoint(ctx, office("hq", 30, 1)); err != nil {
		t.Fatal(err)
	}
	ev, err := s.Evidence(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range ev.Sensors {
		if sc.Sensor != "hq" {
			continue
		}
		for _, h := range sc.Hours {
			if h.Packets != 1000 {
				t.Errorf("hq hour %v: %d packets, want 1000 (counted once)", time.Unix(h.Start, 0).UTC(), h.Packets)
			}
		}
	}
	var hq []state.Run
	for _, r := range ev.Runs {
		if r.Sensor == "hq" {
			hq = append(hq, r)
		}
	}
	if len(hq) != 2 || hq[0].Start != t0.UnixNano() || hq[0].End != t0.Add(2*time.Hour+59*time.Minute).UnixNano() {
		t.Errorf("hq runs %+v: want hours 0-2 and a second run after the gap", hq)
	}
	if st := s.Stats(); st.Duplicates != 1 || st.Checkpoints != 4 {
		t.Errorf("stats %+v: want 1 duplicate, 4 applied", st)
	}
}

// Bad input is refused or made storable, never a checkpoint that fails on
// every retry.
func TestBadInput(t *testing.T) {
	s := open(t, pgtest.DB(t), Options{})
	ctx := context.Background()
	if err := s.Checkpoint(ctx, office("", 0, 1)); !errors.Is(err, ErrNoSensor) {
		t.Errorf("no sensor: %v, want ErrNoSensor", err)
	}
	c := office("lab\x00\xff", 0, 1)
	c.Hosts[0].Hostname = "mac\x00book\xfe"
	c.Hours[0].Packets = 1 << 63 // beyond a BIGINT
	c.Learned = []state.LearnedNetwork{{}}
	c.DoHHosts = []state.DoHHost{{IP: netip.MustParseAddr("10.0.0.10"), Providers: []string{"Cloud\x00flare", ""}, Sessions: 3, First: t0.UnixNano(), Last: t0.UnixNano()}}
	if err := s.Checkpoint(ctx, c); err != nil {
		t.Fatalf("a checkpoint with NUL bytes and bad UTF-8: %v", err)
	}
	if _, err := s.CheckpointOnce(ctx, string(make([]byte, 300)), office("lab", 0, 1)); err == nil {
		t.Error("an id of 300 bytes was taken")
	}
	if err := s.Findings(ctx, []state.Finding{{Alert: &alert.Alert{ID: "x"}, Fate: state.Alerted}}); !errors.Is(err, ErrNoSensor) {
		t.Errorf("a finding of no sensor: %v", err)
	}
	ev, err := s.Evidence(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Sensors) != 1 || ev.Sensors[0].Sensor != "lab\uFFFD\uFFFD" || ev.Hours[0].Packets != 1<<63-1 {
		t.Errorf("sensors %+v hours %+v", ev.Sensors, ev.Hours)
	}
	if len(ev.DoHHosts) != 1 || len(ev.DoHHosts[0].Providers) != 1 || ev.DoHHosts[0].Providers[0] != "Cloud\uFFFDflare" {
		t.Errorf("DoH hosts %+v", ev.DoHHosts)
	}
	if st := s.Stats(); st.Rejected != 3 {
		t.Errorf("rejected %d, want 3", st.Rejected)
	}
}

// Two hub processes share one database: a partition taken over knows what
// the other delivered, and one sensor's checkpoints from both add up.
func TestTwoProcesses(t *testing.T) {
	url := pgtest.DB(t)
	a, b := open(t, url, Options{}), open(t, url, Options{})
	ctx := context.Background()
	a.Ledger("hub").Record(finding("hub", "g1", t0), "alerted", "", "")
	if err := a.Ledger("hub").Flush(ctx); err != nil || a.Ledger("hub").Pending() != 0 {
		t.Fatal(err)
	}
	if !b.Ledger("hub").Alerted("g1") {
		t.Error("the second process does not know g1 was delivered")
	}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := []*Store{a, b}[i%2]
			if err := s.Checkpoint(ctx, office("hq", 0, 1)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	ev, err := b.Evidence(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var runs int
	for _, r := range ev.Runs {
		if r.Sensor == "hq" {
			runs++
		}
	}
	if len(ev.Hours) != 1 || ev.Hours[0].Packets != 20*1000 || runs != 1 {
		t.Errorf("hours %+v, %d runs of hq: want 20000 packets in one run", ev.Hours, runs)
	}
}

// Retention per sensor and the organisation's row bounds keep the
// database bounded, oldest first, counted.
func TestBounds(t *testing.T) {
	s := open(t, pgtest.DB(t), Options{Retain: 24 * time.Hour, MaxRows: map[string]int64{"findings": 4}})
	ctx := context.Background()
	var fs []state.Finding
	for i := range 10 {
		fs = append(fs, state.Finding{Alert: finding("hq", fmt.Sprint("f", i), t0.Add(time.Duration(i)*time.Minute)), Fate: state.Alerted})
	}
	if err := s.Findings(ctx, fs); err != nil {
		t.Fatal(err)
	}
	if err := s.Bound(ctx); err != nil {
		t.Fatal(err)
	}
	ev, err := s.Evidence(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Findings) != 4 || ev.Findings[3].Alert.ID != "f6" {
		t.Errorf("%d findings left (oldest %v), want the newest 4", len(ev.Findings), ev.Findings)
	}
	if st := s.Stats(); st.Pruned != 6 {
		t.Errorf("pruned %d, want 6", st.Pruned)
	}
	// Two days on, the first day's hours are past retention.
	if err := s.Checkpoint(ctx, office("hq", 0, 2)); err != nil {
		t.Fatal(err)
	}
	if err := s.Checkpoint(ctx, office("hq", 48, 1)); err != nil {
		t.Fatal(err)
	}
	if ev, err = s.Evidence(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if len(ev.Hours) != 1 || len(ev.HostHours) != 2 || len(ev.Runs) != 1 {
		t.Errorf("after retention: %d hours, %d host hours, %d runs; want 1, 2, 1", len(ev.Hours), len(ev.HostHours), len(ev.Runs))
	}
}

func TestOpenRefuses(t *testing.T) {
	ctx := context.Background()
	url := pgtest.DB(t)
	pgtest.Exec(t, url, "CREATE TABLE findings (x int)")
	if _, err := Open(ctx, url); !errors.Is(err, ErrUnusable) {
		t.Errorf("another program's findings table: %v, want ErrUnusable", err)
	}
	url = pgtest.DB(t)
	s := open(t, url, Options{})
	s.Close()
	pgtest.Exec(t, url, "UPDATE launchtap_schema SET version = 99")
	if _, err := Open(ctx, url); !errors.Is(err, ErrNewer) {
		t.Errorf("a newer schema: %v, want ErrNewer", err)
	}
	if _, err := Open(ctx, "postgres://launchtap:secret@127.0.0.1:1/none?connect_timeout=2"); err == nil {
		t.Error("no server: no error")
	} else if s := err.Error(); strings.Contains(s, "secret") {
		t.Errorf("the error shows the password: %s", s)
	}
}

// The report opens read-only: it creates nothing in an empty database and
// writes nothing.
func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	url := pgtest.DB(t)
	if _, err := OpenWith(ctx, url, Options{ReadOnly: true}); !errors.Is(err, ErrUnusable) || !strings.Contains(err.Error(), "no hub has written") {
		t.Errorf("an empty database read-only: %v", err)
	}
	w := open(t, url, Options{})
	if err := w.Checkpoint(ctx, office("hq", 0, 1)); err != nil {
		t.Fatal(err)
	}
	r := open(t, url, Options{ReadOnly: true})
	if err := r.Checkpoint(ctx, office("hq", 1, 1)); !errors.Is(err, ErrReadOnly) {
		t.Errorf("checkpoint read-only: %v", err)
	}
	if ev, err := r.Evidence(ctx, 0); err != nil || len(ev.Hours) != 1 {
		t.Errorf("evidence read-only: %v, %+v", err, ev)
	}
}

// A checkpoint that says when its process started belongs to that
// process's run: hours without packets inside it are the sensor up but
// blind, a restart is a new run even without a gap.
func TestRuns(t *testing.T) {
	s := open(t, pgtest.DB(t), Options{})
	ctx := context.Background()
	for _, c := range []struct {
		h0, hours int
		started   int64
	}{{0, 2, 1}, {10, 1, 1}, {11, 1, 2}} {
		cp := office("hq", c.h0, c.hours)
		cp.Started = c.started
		if err := s.Checkpoint(ctx, cp); err != nil {
			t.Fatal(err)
		}
	}
	ev, err := s.Evidence(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Runs) != 2 || ev.Runs[0].End != t0.Add(10*time.Hour+59*time.Minute).UnixNano() || ev.Runs[1].Start != t0.Add(11*time.Hour).UnixNano() {
		t.Errorf("runs %+v: want hours 0-10 (one process, blind 2-9) and 11 (the next)", ev.Runs)
	}
}

// The hub's alert stage takes a Ledger as its own.
var _ pipeline.Ledger = (*Ledger)(nil)
