package pipeline

import (
	"container/heap"
	"math"

	"github.com/launchtap/launchtap/sensor/alert"
)

// Sharded replay delivers alerts in capture order: the workers run apart by
// up to the batch queue's length, so in the order they raise alerts a later
// packet's alert could overtake an earlier one's, and which one did would
// depend on the scheduler (and so would the alert stage's fleet groups,
// which take hosts in the order their alerts come). Replaying a capture
// twice with the same workers gives the same alerts in the same order.
//
// Each alert is tagged with the packet that raised it: its batch and its
// place in the batch, one packet having one worker (and each worker's
// sweeps at it, which come first). A worker that is done
// with a batch says so (a mark); an alert is delivered once every worker is
// done with its batch, the earliest first. Held alerts are those of at most
// the batches in the queue. Alerts raised as the capture ends (its sessions
// flushed) come last, worker by worker.
//
// The order is one worker's. A worker sweeps its idle sessions at the
// packets one worker's flow table would sweep at, its hosts' or not
// (sweepUpTo), and such a sweep's alerts come before what that packet
// raises, as there. Two exceptions: the sessions several workers end in one
// sweep, and those flushed at the capture's end, come worker by worker, not
// in the one table's order.

// orderedAlert is an alert and the packet that raised it, or, with a nil
// alert, a worker's mark: it is done with batches up to and including batch.
type orderedAlert struct {
	a      *alert.Alert
	batch  uint64 // the batch's sequence number; flushBatch at the capture's end
	idx    int    // 2 × the packet's place in its batch, + 1 unless raised by a sweep at it
	worker int
	n      uint64 // the worker's alerts so far: several from one packet keep their order
}

// flushBatch tags the alerts raised when a worker's sessions are flushed at
// the capture's end, after every packet's.
const flushBatch = math.MaxUint64

func (x *orderedAlert) before(y *orderedAlert) bool {
	if x.batch != y.batch {
		return x.batch < y.batch
	}
	if x.idx != y.idx {
		return x.idx < y.idx
	}
	if x.worker != y.worker {
		return x.worker < y.worker
	}
	return x.n < y.n
}

// alertHeap holds the alerts not yet delivered, earliest on top.
type alertHeap []orderedAlert

func (h alertHeap) Len() int           { return len(h) }
func (h alertHeap) Less(i, j int) bool { return h[i].before(&h[j]) }
func (h alertHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *alertHeap) Push(x any)        { *h = append(*h, x.(orderedAlert)) }
func (h *alertHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = orderedAlert{}
	*h = old[:len(old)-1]
	return x
}

// orderAlerts delivers the workers' alerts from in to out in capture order
// until in is closed, then the rest. Each worker sends its alerts and marks
// in the order it raised them.
func orderAlerts(in <-chan orderedAlert, workers int, out chan<- *alert.Alert) {
	done := make([]uint64, workers) // batches each worker is done with: 0 .. done-1
	var held alertHeap
	for m := range in {
		if m.a != nil {
			heap.Push(&held, m)
			continue
		}
		done[m.worker] = m.batch + 1
		all := done[0]
		for _, d := range done[1:] {
			all = min(all, d)
		}
		for len(held) > 0 && held[0].batch < all {
			out <- heap.Pop(&held).(orderedAlert).a
		}
	}
	for len(held) > 0 {
		out <- heap.Pop(&held).(orderedAlert).a
	}
}
