package pipeline

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/baseline"
	"github.com/launchtap/launchtap/sensor/host"
	"github.com/launchtap/launchtap/sensor/shard"

	"github.com/launchtap/launchtap/sensor/beacon"
	"github.com/launchtap/launchtap/sensor/capture"
)

// Snapshots taken while a capture replays, and one after, account for every
// packet exactly once, hour by hour, whatever the worker count; the pairs
// they export restore into a new pipeline.
func TestSnapshotsCountEveryPacketOnce(t *testing.T) {
	for _, workers := range []int{1, 3} {
		cfg := DefaultConfig()
		cfg.Workers = workers
		p, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		src, err := capture.Options{}.Open("../../testdata/demo.pcapng")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for range p.Alerts() {
			}
		}()
		done := make(chan error)
		go func() { done <- p.Replay(context.Background(), src) }()
		var snaps []*Snapshot
		for i := 0; i < 5; i++ {
			s, err := p.Snapshot(context.Background(), 0)
			if err != nil {
				t.Fatal(err)
			}
			snaps = append(snaps, s)
			time.Sleep(time.Millisecond)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		last, err := p.Snapshot(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, last)
		var packets, sessions, named uint64
		hours := map[int64]bool{}
		for _, s := range snaps {
			for _, h := range s.Hours {
				packets += h.Packets
				sessions += h.Sessions
				named += h.NamedDNS + h.NamedMAC
				hours[h.Start] = true
			}
		}
		st := p.Stats()
		if packets != st.Packets || sessions != st.Flow.SessionsStarted {
			t.Errorf("workers %d: snapshots counted %d packets, %d sessions; the pipeline handled %d, %d", workers, packets, sessions, st.Packets, st.Flow.SessionsStarted)
		}
		if len(hours) != 3 || named == 0 {
			t.Errorf("workers %d: %d hours, %d named sessions; the demo spans 3 hours, most sessions named", workers, len(hours), named)
		}
		if len(last.Pairs) != int(st.Beacon.Pairs) || len(last.Hosts) == 0 {
			t.Errorf("workers %d: final snapshot has %d pairs (tracked %d), %d hosts", workers, len(last.Pairs), st.Beacon.Pairs, len(last.Hosts))
		}
		q, _ := New(cfg)
		n, refused, err := q.Restore(func(fn func(*beacon.PairState)) error {
			for _, s := range last.Pairs {
				fn(s)
			}
			return nil
		})
		if err != nil || n != len(last.Pairs) || refused != 0 {
			t.Errorf("restore: %d of %d, refused %d, err %v", n, len(last.Pairs), refused, err)
		}
	}
}

// A Snapshot waits for the workers only as long as its context.
func TestSnapshotHonoursContext(t *testing.T) {
	p, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := p.Snapshot(ctx, 0); err == nil {
		t.Fatal("a snapshot of a pipeline that never ran must give up with its context")
	}
}

// fakeLedger remembers fates in memory.
type fakeLedger struct {
	mu      sync.Mutex
	before  map[string]bool // ids delivered by an earlier run
	records []string        // "id fate rule label"
}

func (l *fakeLedger) Alerted(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.before[id]
}

func (l *fakeLedger) Record(a *alert.Alert, fate, rule, label string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, strings.TrimSpace(strings.Join([]string{a.ID, fate, rule, label}, " ")))
}

// The alert stage records every alert's fate — delivered, approved by
// destination, approved by label — and does not deliver an id an earlier run
// delivered.
func TestAlertStageLedger(t *testing.T) {
	b, err := baseline.Parse([]byte("approved_destinations: [\"*.approved.example\"]\napproved_labels: [\"com.jamfsoftware.*\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	sink := &recordSink{}
	led := &fakeLedger{before: map[string]bool{"2": true}}
	st := &AlertStage{Baseline: baseline.NewLive(b), Enricher: slowEnricher{}, Sinks: []Sink{sink}, Ledger: led}
	in := make(chan *alert.Alert, 8)
	for i := 0; i < 6; i++ {
		a := &alert.Alert{ID: fmt.Sprint(i), DstFQDN: "c2.evil.example"}
		if i == 5 {
			a.DstFQDN = "mdm.approved.example"
		}
		in <- a
	}
	close(in)
	st.Run(context.Background(), in)
	if want := []string{"0", "1", "4"}; !slices.Equal(sink.ids, want) {
		t.Errorf("delivered %v, want %v (2 was delivered before, 3 is approved by label, 5 by destination)", sink.ids, want)
	}
	if st.Counters.Duplicates.Load() != 1 {
		t.Errorf("duplicates %d, want 1", st.Counters.Duplicates.Load())
	}
	slices.Sort(led.records)
	want := []string{"0 alerted", "1 alerted", "3 approved_label com.jamfsoftware.* com.jamfsoftware.task.1", "4 alerted", "5 approved_destination *.approved.example"}
	if !slices.Equal(led.records, want) {
		t.Errorf("recorded %q,\nwant %q", led.records, want)
	}
}

// Restore puts each pair on the worker the shard rule gives its host (replay
// and the kernel's fanout share it), so the packets of its host find it there.
func TestRestoreUsesShardRule(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Workers = 3
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	k := beacon.PairKey{Host: host.AddrKey(netip.MustParseAddr("10.0.0.7")), Dest: "x.example", Port: 443, Proto: 6}
	st := &beacon.PairState{Key: k, First: 1e18, Beats: 1, Times: []int64{1e18}, Out: []uint16{0}, In: []uint16{0}}
	if n, _, err := p.Restore(func(fn func(*beacon.PairState)) error { fn(st); return nil }); n != 1 || err != nil {
		t.Fatalf("restored %d, %v", n, err)
	}
	want := shard.Worker(shard.HashKey(k.Host), cfg.Workers)
	for i, w := range p.workers {
		if got := w.det.Stats().Pairs; (i == want) != (got == 1) {
			t.Errorf("worker %d holds %d pairs; want the pair on worker %d only", i, got, want)
		}
	}
}
