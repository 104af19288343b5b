package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/launchtap/launchtap/internal/hubtest"
	"github.com/launchtap/launchtap/internal/natstest"
	"github.com/launchtap/launchtap/internal/synth"
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
			args := []string{"hub", "--nats", s.URLs(), "--stats-interval", "100ms", "--lease-ttl", "2s", "--hub-id", "t1",
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
