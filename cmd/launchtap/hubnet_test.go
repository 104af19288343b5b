package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/launchtap/launchtap/internal/livetest"
	"github.com/launchtap/launchtap/internal/natstest"
	"github.com/launchtap/launchtap/sensor/hub/link"
	"github.com/launchtap/launchtap/sensor/hub/obs"
	"github.com/launchtap/launchtap/sensor/state"
)

// streamRecords reads every record of the observation stream.
func streamRecords(t *testing.T, url string) []obs.Record {
	t.Helper()
	conn, err := link.Dial(link.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := conn.JS.Stream(ctx, obs.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out []obs.Record
	for range info.State.Msgs {
		m, err := c.Next(jetstream.FetchMaxWait(10 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		recs, err := obs.Decode(m.Data())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if want := obs.SubjectOf(r); m.Subject() != want {
				t.Fatalf("%s record on %s, want %s", r.Type(), m.Subject(), want)
			}
		}
		out = append(out, recs...)
	}
	return out
}

// TestReplayToHub replays the demo capture with --hub-url (no state
// directory): the hub's stream then holds its beats, findings, hosts,
// names, coverage, every alert it wrote, and its checkpoint.
func TestReplayToHub(t *testing.T) {
	srv := natstest.Server(t)
	dir := t.TempDir()
	sum := filepath.Join(dir, "summary.json")
	code, stdout, stderr := replay(t, nil, demoArgs("2", "--hub-url", srv.URLs(), "--hub-outbox", filepath.Join(dir, "outbox"),
		"--summary", sum, "--stats-interval", "0")...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var summary struct {
		Packets uint64 `json:"packets"`
		Alerts  uint64 `json:"alerts"`
	}
	b, _ := os.ReadFile(sum)
	if err := json.Unmarshal(b, &summary); err != nil {
		t.Fatal(err)
	}
	alone, _, _ := strings.Cut(stdout, "\x00")
	alerts := strings.Count(alone, "\n")

	kinds := map[obs.Kind]int{}
	var packets uint64
	var cp state.Checkpoint
	for _, r := range streamRecords(t, srv.URLs()) {
		kinds[r.Type()]++
		switch m := r.(type) {
		case *obs.Beat:
			if m.Sensor != "demo" || m.HostID == "" {
				t.Fatalf("beat %+v", m)
			}
		case *obs.Coverage:
			packets += m.Packets
		case *obs.Checkpoint:
			if err := json.Unmarshal(m.JSON, &cp); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("records by kind: %v; %d alerts, %d packets", kinds, alerts, summary.Packets)
	for _, k := range []obs.Kind{obs.KindBeat, obs.KindFinding, obs.KindHost, obs.KindName, obs.KindCoverage, obs.KindCheckpoint} {
		if kinds[k] == 0 {
			t.Errorf("no %s record reached the hub", k)
		}
	}
	if kinds[obs.KindAlert] != alerts || alerts == 0 {
		t.Errorf("%d alerts reached the hub, the sensor wrote %d", kinds[obs.KindAlert], alerts)
	}
	if packets == 0 || packets > summary.Packets {
		t.Errorf("coverage counts %d packets of the %d read", packets, summary.Packets)
	}
	if cp.Sensor != "demo" || cp.Clock == 0 || len(cp.Hours) == 0 {
		t.Errorf("checkpoint sensor %q clock %d hours %d", cp.Sensor, cp.Clock, len(cp.Hours))
	}
}

// TestHubBaseline: the organisation baseline the hub publishes is loaded by
// a running sensor, as on SIGHUP; an invalid one is refused and counted.
func TestHubBaseline(t *testing.T) {
	srv := natstest.Server(t)
	o, _ := testFlags(t, "--sensor-name", "demo", "--workers", "1", "--stats-interval", "0",
		"--hub-url", srv.URLs(), "--hub-outbox", t.TempDir())
	s, err := o.build(io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.finish(context.Background()); s.hub.close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := link.Dial(link.Options{URL: srv.URLs()})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	has := func(name string) bool {
		for _, r := range s.baseline.Get().Rules() {
			if r.Name == name {
				return true
			}
		}
		return false
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no %s within 15 s", what)
			}
		}
	}
	yaml := "rules:\n  - name: org-updater\n    destinations: [updates.corp.example]\n"
	if _, err := link.PublishBaseline(ctx, conn.JS, []byte(yaml)); err != nil {
		t.Fatal(err)
	}
	waitFor("baseline from the hub", func() bool { return has("org-updater") })
	if _, err := link.PublishBaseline(ctx, conn.JS, []byte("rules: [ {")); err != nil {
		t.Fatal(err)
	}
	waitFor("invalid baseline counted", func() bool { return s.hub.rejected.Load() == 1 })
	if !has("org-updater") {
		t.Fatal("an invalid baseline replaced the one in force")
	}
	if snap := s.snapshot(nil); snap.stats["hub_connected"] != 1 {
		t.Errorf("stats %v: hub_connected is not 1", snap.stats)
	}
}

func TestHubFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--hub-creds", "x.creds"}, "hub-creds: needs --hub-url"},
		{[]string{"--hub-url", "http://hub:4222"}, `scheme "http"`},
		{[]string{"--hub-url", "nats://hub:4222", "--hub-ca", "/nonexistent/ca.pem"}, "hub-ca:"},
		{[]string{"--hub-url", "nats://hub:4222", "--hub-outbox-max-bytes", "1000"}, "below the minimum of 1 MiB"},
	} {
		code, _, stderr := replay(t, nil, append(append([]string{"replay"}, tc.args...), demoPcap)...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, %q; want usage error containing %q", tc.args, code, stderr, tc.want)
		}
	}
}

// TestBaselinePublish: a valid file is published (and read back from the
// bucket); an invalid one is refused and the bucket keeps the valid one.
func TestBaselinePublish(t *testing.T) {
	srv := natstest.Server(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "org.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	yaml := "rules:\n  - name: org-updater\n    destinations: [updates.corp.example]\n"
	if err := os.WriteFile(good, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("rules: [ {"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := replay(t, nil, "baseline", "publish", "--hub-url", srv.URLs(), good)
	if code != exitOK || !strings.Contains(stdout, "revision 1 of launchtap_baseline/baseline") {
		t.Fatalf("exit %d, %q, %q", code, stdout, stderr)
	}
	code, _, stderr = replay(t, nil, "baseline", "publish", "--hub-url", srv.URLs(), bad)
	if code != exitFailure || !strings.Contains(stderr, "not published") {
		t.Fatalf("invalid file: exit %d, %q", code, stderr)
	}
	if code, _, _ := replay(t, nil, "baseline", "publish", good); code != exitUsage {
		t.Fatalf("without --hub-url: exit %d, want usage", code)
	}
	conn, err := link.Dial(link.Options{URL: srv.URLs()})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := link.BaselineBucket(ctx, conn.JS)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, obs.BaselineKey)
	if err != nil || string(e.Value()) != yaml || e.Revision() != 1 {
		t.Fatalf("bucket holds %v, %v", e, err)
	}
}

// TestRunToHub: `launchtap run` on a veth pair with --hub-url (and no state
// directory) hands the hub every alert it writes and the beats behind them,
// as replay does.
func TestRunToHub(t *testing.T) {
	livetest.Require(t, "tcpreplay")
	srv := natstest.Server(t)
	dir := t.TempDir()
	pcap := filepath.Join(dir, "beacon.pcap")
	if err := writeBeaconCapture(pcap); err != nil {
		t.Fatal(err)
	}
	v := livetest.NewVeth(t)
	args := append([]string{"run", "-i", v.Host, "--workers", "2", "--state-dir", "", "--sensor-name", "tap-live",
		"--hub-url", srv.URLs(), "--hub-outbox", filepath.Join(dir, "outbox"), "--checkpoint-interval", "1s"}, fastBeacon...)
	out, runErr := runLive(t, v, pcap, args)
	alerts := strings.Count(out, "\n")
	kinds := map[obs.Kind]int{}
	for _, r := range streamRecords(t, srv.URLs()) {
		kinds[r.Type()]++
		if b, ok := r.(*obs.Beat); ok && b.Sensor != "tap-live" {
			t.Fatalf("beat from sensor %q", b.Sensor)
		}
	}
	t.Logf("records by kind %v; %d alerts written", kinds, alerts)
	if alerts == 0 || kinds[obs.KindAlert] != alerts || kinds[obs.KindBeat] == 0 || kinds[obs.KindCoverage] == 0 || kinds[obs.KindCheckpoint] == 0 {
		t.Fatalf("the hub got %v for %d alerts written\n%s", kinds, alerts, runErr)
	}
}
