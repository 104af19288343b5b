package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/launchtap/launchtap/internal/hubtest"
	"github.com/launchtap/launchtap/internal/natstest"
	"github.com/launchtap/launchtap/internal/pgtest"
	"github.com/launchtap/launchtap/internal/synth"
	"github.com/launchtap/launchtap/internal/testenv"
	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/report"
)

// TestHubCommand runs launchtap hub against a real JetStream server while
// two stand-in sensors publish the roaming Mac's two halves: one alert,
// naming both sensors, on standard output; the summary on exit. With the
// organisation's baseline approving the destination, none.
func TestHubCommand(t *testing.T) {
	for _, tc := range []struct {
		name     string
		baseline string
		alerts   int
	}{
		{"one alert", "", 1},
		{"approved by the baseline", "approved_destinations:\n  - " + synth.RoamingFQDN + "\n", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := natstest.Server(t)
			dir := t.TempDir()
			args := []string{"hub", "--nats", s.URLs(), "--stats-interval", "100ms", "--hub-id", "t1",
				"--sensor-name", "hub-test", "--summary", filepath.Join(dir, "summary.json")}
			if tc.baseline != "" {
				bf := filepath.Join(dir, "baseline.yaml")
				if err := os.WriteFile(bf, []byte(tc.baseline), 0o644); err != nil {
					t.Fatal(err)
				}
				args = append(args, "--baseline", bf)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var stdout, stderr syncBuffer
			code := make(chan int, 1)
			go func() { code <- dispatch(ctx, args, strings.NewReader(""), &stdout, &stderr) }()
			for office := 0; office < 2; office++ {
				h, beats := hubtest.Roaming(t, office)
				p := hubtest.NewPublisher(t, s.URLs(), h.Sensor)
				p.Publish(h.HostID, h)
				for _, b := range beats {
					p.Publish(b.HostID, b)
				}
			}
			deadline := time.Now().Add(30 * time.Second)
			for {
				// 2 host frames and 8 beat frames read, per the stats line.
				if strings.Count(stdout.String(), "\n") >= tc.alerts && strings.Contains(stderr.String(), "hub_process_frames=10") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no alert after 30 s; stderr:\n%s", stderr.String())
				}
				time.Sleep(100 * time.Millisecond)
			}
			time.Sleep(200 * time.Millisecond) // an alert too many would be out by now
			cancel()
			if c := <-code; c != exitOK {
				t.Fatalf("exit %d; stderr:\n%s", c, stderr.String())
			}
			got := readAlerts(t, stdout.String())
			if len(got) != tc.alerts {
				t.Fatalf("%d alerts, want %d:\n%s", len(got), tc.alerts, stdout.String())
			}
			if tc.alerts > 0 {
				a := got[0]
				if a.Sensor != "hub-test" || !slices.Equal(a.Sensors, []string{"office-a", "office-b"}) || a.SrcMAC != synth.RoamingMAC {
					t.Errorf("alert sensor %q sensors %v src_mac %s", a.Sensor, a.Sensors, a.SrcMAC)
				}
			}
			data, err := os.ReadFile(filepath.Join(dir, "summary.json"))
			if err != nil {
				t.Fatal(err)
			}
			var sum hubSummary
			if err := json.Unmarshal(data, &sum); err != nil {
				t.Fatal(err)
			}
			if sum.Records["beat"] != uint64(synth.RoamingBeats) || sum.Alerts != uint64(tc.alerts) || sum.Partitions["gained"] != 64 {
				t.Errorf("summary: %s", data)
			}
		})
	}
}

// TestHubProcessFlagErrors: bad hub flags are usage errors naming the flag.
func TestHubProcessFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"hub"}, "nats:"},
		{[]string{"hub", "--nats", "nats://127.0.0.1:1", "--hub-replicas", "0"}, "hub-replicas"},
		{[]string{"hub", "--nats", "nats://127.0.0.1:1", "--lease-ttl", "1s"}, "lease-ttl"},
		{[]string{"hub", "--nats", "nats://127.0.0.1:1", "--hub-id", "a.b"}, "hub-id"},
	} {
		var stderr bytes.Buffer
		if code := dispatch(context.Background(), tc.args, strings.NewReader(""), &bytes.Buffer{}, &stderr); code != exitUsage || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want usage error naming %s", tc.args, code, stderr.String(), tc.want)
		}
	}
}

// roamingCaptures writes the two offices' halves of the roaming Mac's day.
func roamingCaptures(t *testing.T) [2]string {
	t.Helper()
	var files [2]string
	for i, name := range synth.RoamingOffices {
		files[i] = filepath.Join(t.TempDir(), name+".pcapng")
		if _, _, err := synth.WriteFile(files[i], "", name, 1, synth.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// TestRoamingSensorsToHub is the test end to end: a 3-node
// JetStream cluster (Debian's nats-server as a member where installed,
// always under CI), two hub processes, and two sensors replaying the two
// halves of the roaming Mac's day with --hub-url. Each sensor alone alerts
// nothing; the hub delivers exactly one alert, naming both sensors, with
// the Mac's host id, both offices' addresses and its one MAC.
func TestRoamingSensorsToHub(t *testing.T) {
	c := natstest.NewCluster(t, 3, natstest.DebianBinary() != "" || testenv.CI())
	files := roamingCaptures(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type hubRun struct {
		stdout, stderr syncBuffer
		code           chan int
	}
	hubs := make([]*hubRun, 2)
	for i := range hubs {
		h := &hubRun{code: make(chan int, 1)}
		hubs[i] = h
		args := []string{"hub", "--nats", c.Members[i].URL(), "--hub-id", fmt.Sprint("h", i), "--hub-replicas", "3",
			"--stats-interval", "100ms", "--sensor-name", "hub"}
		go func() { h.code <- dispatch(ctx, args, strings.NewReader(""), &h.stdout, &h.stderr) }()
	}
	running := time.Now().Add(90 * time.Second)
	for _, h := range hubs {
		for !strings.Contains(h.stderr.String(), "hub running") {
			if time.Now().After(running) {
				t.Fatalf("hub not running after 90 s:\n%s", h.stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for i, f := range files {
		sensor := fmt.Sprintf("office-%c", 'a'+i)
		code, stdout, stderr := replay(t, nil, "replay", "--sensor-name", sensor, "--stats-interval", "0",
			"--hub-url", c.Members[2-i].URL(), "--hub-outbox", filepath.Join(dir, sensor), f)
		if code != exitOK {
			t.Fatalf("%s: exit %d: %s", sensor, code, stderr)
		}
		if n := len(readAlerts(t, stdout)); n != 0 {
			t.Fatalf("%s alone: %d alerts, want none:\n%s", sensor, n, stdout)
		}
	}
	alerts := func() []alert.Alert {
		var all []alert.Alert
		for _, h := range hubs {
			all = append(all, readAlerts(t, h.stdout.String())...)
		}
		return all
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(alerts()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no hub alert in 60 s; hub logs:\n%s\n%s", hubs[0].stderr.String(), hubs[1].stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // a second alert would be out by now
	cancel()
	for _, h := range hubs {
		if code := <-h.code; code != exitOK {
			t.Errorf("hub exit %d:\n%s", code, h.stderr.String())
		}
	}
	got := alerts()
	if len(got) != 1 {
		for _, a := range got {
			t.Logf("alert %s %s %s sensors %v", a.HostID, a.SrcIP, a.DstFQDN, a.Sensors)
		}
		t.Fatalf("%d hub alerts, want exactly 1", len(got))
	}
	a := got[0]
	if a.DstFQDN != synth.RoamingFQDN || a.HostID != synth.RoamingMAC || !slices.Equal(a.Sensors, []string{"office-a", "office-b"}) ||
		!slices.Equal(a.SrcMACs, []string{synth.RoamingMAC}) || a.HostOS != "macos" {
		t.Errorf("alert: dst %s host_id %s sensors %v src_macs %v host_os %s", a.DstFQDN, a.HostID, a.Sensors, a.SrcMACs, a.HostOS)
	}
	// The alert fires on office B's first beat (office A's four came
	// first): by then the hub has seen office A's two leases and B's first;
	// B's second lease may come after it.
	for _, s := range []int{0, 1, 2} {
		if !slices.Contains(a.SrcIPs, synth.RoamingIP(s)) {
			t.Errorf("src_ips %v lacks stint %d's %s", a.SrcIPs, s, synth.RoamingIP(s))
		}
	}
	if a.PeriodS < 7100 || a.PeriodS > 7300 {
		t.Errorf("period %v, want about 7200", a.PeriodS)
	}
}

// TestHubDemo runs docs/many-sensors.md's three commands: a hub with its own
// JetStream server, then the two offices' sensors on the bundled halves of
// the roaming Mac's day. The sensors print nothing; the hub one alert.
func TestHubDemo(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var hubOut, hubErr syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- dispatch(ctx, []string{"hub", "--nats-listen", addr, "--nats-store", filepath.Join(dir, "hub"), "--stats-interval", "0"},
			strings.NewReader(""), &hubOut, &hubErr)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(hubErr.String(), "hub running") {
		if time.Now().After(deadline) {
			t.Fatalf("hub not running after 30 s:\n%s", hubErr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, office := range []string{"a", "b"} {
		c, stdout, stderr := replay(t, nil, "replay", "--sensor-name", "office-"+office, "--hub-url", "nats://"+addr, "--stats-interval", "0",
			"--hub-outbox", filepath.Join(dir, "outbox-"+office), filepath.Join("..", "..", "testdata", "roaming-"+office+".pcapng.gz"))
		if c != exitOK || stdout != "" {
			t.Fatalf("office %s: exit %d, alerts %q: %s", office, c, stdout, stderr)
		}
	}
	deadline = time.Now().Add(30 * time.Second)
	for hubOut.String() == "" {
		if time.Now().After(deadline) {
			t.Fatalf("no hub alert after 30 s:\n%s", hubErr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second)
	cancel()
	if c := <-code; c != exitOK {
		t.Fatalf("hub exit %d:\n%s", c, hubErr.String())
	}
	got := readAlerts(t, hubOut.String())
	if len(got) != 1 || got[0].HostID != synth.RoamingMAC || !slices.Equal(got[0].Sensors, []string{"office-a", "office-b"}) {
		t.Fatalf("hub alerts:\n%s", hubOut.String())
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestBundledRoamingCaptures: testdata's roaming captures are what the
// generator writes, so the demo and the tests read the same day.
func TestBundledRoamingCaptures(t *testing.T) {
	for _, name := range synth.RoamingOffices {
		want, err := os.ReadFile(filepath.Join("..", "..", "testdata", name+".pcapng.gz"))
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(t.TempDir(), name+".pcapng.gz")
		if _, _, err := synth.WriteFile(f, "", name, 1, synth.Options{}); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("testdata/%s.pcapng.gz differs from launchtap-synth -scenario %s -seed 1: regenerate it", name, name)
		}
	}
}

// TestHubToPostgres: two sensors replay the roaming halves with --hub-url;
// a hub with --db stores their checkpoints and its own alert's fate in the
// organisation's database; launchtap report --db then lists both sensors'
// coverage and the hub's alert.
func TestHubToPostgres(t *testing.T) {
	db := pgtest.DB(t)
	srv := natstest.Server(t)
	files := roamingCaptures(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var hubOut, hubErr syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- dispatch(ctx, []string{"hub", "--nats", srv.URLs(), "--db", db, "--sensor-name", "hub", "--stats-interval", "100ms",
			"--summary", filepath.Join(dir, "summary.json")}, strings.NewReader(""), &hubOut, &hubErr)
	}()
	for i, f := range files {
		sensor := fmt.Sprintf("office-%c", 'a'+i)
		if c, _, stderr := replay(t, nil, "replay", "--sensor-name", sensor, "--stats-interval", "0", "--hub-url", srv.URLs(),
			"--hub-outbox", filepath.Join(dir, sensor), f); c != exitOK {
			t.Fatalf("%s: exit %d: %s", sensor, c, stderr)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for hubOut.String() == "" || !strings.Contains(hubErr.String(), "hub_process_frames=") {
		if time.Now().After(deadline) {
			t.Fatalf("no hub alert in 60 s:\n%s", hubErr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // the checkpoints are stored
	cancel()
	if c := <-code; c != exitOK {
		t.Fatalf("hub exit %d:\n%s", c, hubErr.String())
	}
	var sum hubSummary
	data, _ := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err := json.Unmarshal(data, &sum); err != nil || sum.Checkpoints["stored"] < 2 || sum.Checkpoints["failed"] != 0 {
		t.Fatalf("hub summary: %s (%v)", data, err)
	}
	c, stdout, stderr := replay(t, nil, "report", "--db", db, "--since", "all", "--json", "-")
	if c != exitOK {
		t.Fatalf("report --db: exit %d: %s", c, stderr)
	}
	var rep report.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	var sensors []string
	for _, sc := range rep.Coverage.Sensors {
		sensors = append(sensors, sc.Sensor)
	}
	if !slices.Contains(sensors, "office-a") || !slices.Contains(sensors, "office-b") {
		t.Errorf("report's sensors %v, want both offices", sensors)
	}
	found := false
	for _, a := range rep.Alerts {
		if a.Sensor == "hub" && a.Dest == synth.RoamingFQDN && a.HostID == synth.RoamingMAC {
			found = true
		}
	}
	if !found {
		t.Errorf("the hub's roaming-Mac alert is not in the organisation's report: %+v", rep.Alerts)
	}
}
