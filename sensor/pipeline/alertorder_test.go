package pipeline

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/launchtap/launchtap/sensor/alert"
)

// Whatever the interleaving of the workers' alerts and marks, each worker's
// own order kept, orderAlerts delivers the alerts in capture order: by
// batch, place in the batch, worker, and the worker's order; the capture's
// end last.
func TestOrderAlertsAnyInterleaving(t *testing.T) {
	const workers, batches = 3, 6
	// Each worker raises alerts at some of its packets, sometimes two at
	// one packet, and more as its sessions are flushed.
	streams := make([][]orderedAlert, workers)
	var want []string
	type raise struct{ batch, idx, worker int }
	var all []raise
	for b := range batches {
		for idx := range 8 {
			w := (b + idx) % workers // one packet, one worker
			if (b*7+idx*3)%4 == 0 {
				all = append(all, raise{b, idx, w})
				if idx == 5 {
					all = append(all, raise{b, idx, w})
				}
			}
		}
	}
	name := func(r raise, n int) string { return fmt.Sprintf("b%d/i%d/w%d/%d", r.batch, r.idx, r.worker, n) }
	raised := make([]uint64, workers)
	for _, r := range all {
		raised[r.worker]++
		want = append(want, name(r, int(raised[r.worker])))
	}
	// The streams: per worker, its alerts of a batch, then its mark.
	raised = make([]uint64, workers)
	for b := range batches {
		for w := range workers {
			for _, r := range all {
				if r.batch == b && r.worker == w {
					raised[w]++
					n := raised[w]
					streams[w] = append(streams[w], orderedAlert{a: &alert.Alert{ID: name(r, int(n))}, batch: uint64(b), idx: r.idx, worker: w, n: n})
				}
			}
			streams[w] = append(streams[w], orderedAlert{batch: uint64(b), worker: w})
		}
	}
	for w := range workers {
		for k := range 2 {
			raised[w]++
			id := fmt.Sprintf("flush/w%d/%d", w, k)
			streams[w] = append(streams[w], orderedAlert{a: &alert.Alert{ID: id}, batch: flushBatch, worker: w, n: raised[w]})
			want = append(want, id)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		in := make(chan orderedAlert)
		out := make(chan *alert.Alert)
		go func() {
			orderAlerts(in, workers, out)
			close(out)
		}()
		go func() {
			next := make([]int, workers)
			for left := true; left; {
				left = false
				w := rng.IntN(workers)
				for range workers {
					if next[w] < len(streams[w]) {
						in <- streams[w][next[w]]
						next[w]++
						left = true
						break
					}
					w = (w + 1) % workers
				}
			}
			close(in)
		}()
		var got []string
		for a := range out {
			got = append(got, a.ID)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("trial %d: delivered\n%v\nwant\n%v", trial, got, want)
		}
	}
}

// An alert is delivered as soon as every worker is done with its batch, not
// held to the capture's end.
func TestOrderAlertsDeliversAtTheMark(t *testing.T) {
	in := make(chan orderedAlert)
	out := make(chan *alert.Alert, 1)
	go orderAlerts(in, 2, out)
	defer close(in)
	in <- orderedAlert{a: &alert.Alert{ID: "late"}, batch: 1, worker: 1, n: 1}
	in <- orderedAlert{a: &alert.Alert{ID: "first"}, batch: 0, idx: 4, worker: 0, n: 1}
	in <- orderedAlert{batch: 0, worker: 0}
	select {
	case a := <-out:
		t.Fatalf("%s delivered before worker 1 was done with batch 0", a.ID)
	case <-time.After(20 * time.Millisecond):
	}
	in <- orderedAlert{batch: 0, worker: 1}
	select {
	case a := <-out:
		if a.ID != "first" {
			t.Fatalf("delivered %s, want first", a.ID)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("batch 0's alert held after both workers were done with it")
	}
	select {
	case a := <-out:
		t.Fatalf("%s delivered before worker 0 was done with batch 1", a.ID)
	case <-time.After(20 * time.Millisecond):
	}
}

// A sharded replay's alerts come in the same order run after run, also those
// raised at the capture's end: six hosts, spread over the workers, each open
// five handshake-only sessions to an address a minute apart (a beacon to a
// C2 server that no longer answers), still open when the capture ends, so
// every beat is taken as the sessions are flushed. The alerts are those of
// one worker; their order, that of the workers.
func TestShardedAlertOrderRepeats(t *testing.T) {
	w := &wire{t: t}
	server := addr("203.0.113.9")
	for i := range 5 {
		for h := range 6 {
			c := addr(fmt.Sprintf("10.0.0.%d", h+1))
			sp := layers.TCPPort(40000 + 10*i + h)
			ts := at(float64(i) + float64(h)/10)
			// Each host its own MAC: the client's frames' source, the
			// server's frames' destination.
			mac := func(off int) { w.frames[len(w.frames)-1].Data[off+5] = byte(h + 1) }
			w.add(ts, c, server, &layers.TCP{SrcPort: sp, DstPort: 443, SYN: true, Window: 65535, Seq: 1}, nil)
			mac(6)
			w.add(ts.Add(20*time.Millisecond), server, c, &layers.TCP{SrcPort: 443, DstPort: sp, SYN: true, ACK: true}, nil)
			mac(0)
			w.add(ts.Add(21*time.Millisecond), c, server, &layers.TCP{SrcPort: sp, DstPort: 443, ACK: true, Seq: 2}, nil)
			mac(6)
		}
	}
	ids := func(as []*alert.Alert) []string {
		var out []string
		for _, a := range as {
			out = append(out, a.SrcIP+" "+a.ID)
		}
		return out
	}
	inline, _ := replayNames(t, w, 1, nil)
	if len(inline) < 4 {
		t.Fatalf("%d alerts inline, want one per host: the test tests nothing", len(inline))
	}
	want := slices.Sorted(slices.Values(ids(inline)))
	for _, workers := range []int{2, 3} {
		var first []string
		for run := range 10 {
			got, _ := replayNames(t, w, workers, nil)
			if run == 0 {
				first = ids(got)
				if sorted := slices.Sorted(slices.Values(first)); !slices.Equal(sorted, want) {
					t.Fatalf("%d workers: alerts %v, want one worker's %v", workers, sorted, want)
				}
				continue
			}
			if !slices.Equal(ids(got), first) {
				t.Fatalf("%d workers, run %d: alerts in the order %v, the first run's %v", workers, run, ids(got), first)
			}
		}
	}
}
