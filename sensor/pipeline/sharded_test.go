package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/launchtap/launchtap/internal/synth"
	"github.com/launchtap/launchtap/sensor/capture"
)

// TestShardedMatchesInline replays generated spans inline (one worker) and
// sharded, with batches of a few packets (many hand-offs, a batch often
// empty for a worker) and with batches too large for their arena (the
// arena fills first, and the packet decoded into the full batch moves to
// the next): the workers must raise the alerts the inline path raises, in
// its order (alertorder.go), and count the same sessions and DNS messages.
func TestShardedMatchesInline(t *testing.T) {
	for _, scenario := range []string{"demo", "hosts-mix"} {
		var buf bytes.Buffer
		w, err := synth.NewWriter(&buf, false)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := synth.GenerateWith(scenario, 1, w, synth.Options{}); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		want, wantStats := replayAlerts(t, buf.Bytes(), 1, 0, 0)
		if len(want) == 0 && scenario == "demo" {
			t.Fatalf("%s: no alert inline: the comparison tests nothing", scenario)
		}
		for _, c := range []struct{ workers, batch, queue int }{{2, 3, 1}, {3, 8192, 1}, {2, 0, 0}} {
			got, st := replayAlerts(t, buf.Bytes(), c.workers, c.batch, c.queue)
			if !slices.Equal(got, want) {
				t.Errorf("%s, %d workers, batches of %d: %d alerts, want the inline %d:\n%s\nwant\n%s",
					scenario, c.workers, c.batch, len(got), len(want), got, want)
			}
			if st.Frames != wantStats.Frames || st.Flow.SessionsStarted != wantStats.Flow.SessionsStarted || st.DNS.Queries != wantStats.DNS.Queries ||
				st.DNS.Answers != wantStats.DNS.Answers || st.Identity.ByMAC+st.Identity.ByAddr == 0 {
				t.Errorf("%s, %d workers, batches of %d: frames %d, sessions %d, queries %d, answers %d, identity lookups %d; inline %d, %d, %d, %d",
					scenario, c.workers, c.batch, st.Frames, st.Flow.SessionsStarted, st.DNS.Queries, st.DNS.Answers, st.Identity.ByMAC+st.Identity.ByAddr,
					wantStats.Frames, wantStats.Flow.SessionsStarted, wantStats.DNS.Queries, wantStats.DNS.Answers)
			}
		}
	}
}

// A batch's arena holds the largest payload a worker is given (a DNS
// message over TCP) and a SYN's options, whatever the worker count.
func TestArenaHoldsTheLargestPayload(t *testing.T) {
	if arenaSize < maxNamePayload+60 {
		t.Fatalf("arena %d bytes per worker, the largest kept payload %d and options", arenaSize, maxNamePayload)
	}
}

// replayAlerts replays data with the given workers, batch size and queue
// length (0: the defaults) and returns the alerts as JSON lines, in the
// order they were delivered.
func replayAlerts(t *testing.T, data []byte, workers, batch, queue int) ([]string, Stats) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Workers = workers
	if batch > 0 {
		cfg.BatchSize = batch
	}
	if queue > 0 {
		cfg.QueueLen = queue
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	src, err := capture.Options{Stdin: bytes.NewReader(data)}.Open("-")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan []string)
	go func() {
		var out []string
		for a := range p.Alerts() {
			b, err := json.Marshal(a)
			if err != nil {
				t.Error(err)
			}
			out = append(out, string(b))
		}
		done <- out
	}()
	if err := p.Replay(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	return <-done, p.Stats()
}
