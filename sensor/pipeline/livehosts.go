package pipeline

import (
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/launchtap/launchtap/sensor/host"
	"github.com/launchtap/launchtap/sensor/shard"
)

// HostsMap is the kernel fanout's hosts map (bpf.Hosts): shard.MapKey →
// shard.HashKey of the host an address or MAC belongs to.
type HostsMap interface {
	Update(keys [][16]byte, vals []uint32) (int, error)
	Delete(keys [][16]byte) error
}

// Bounds of the live host-change queues.
const (
	// hostQueueLen bounds the changes waiting for the writer: a DHCP storm
	// or a sweep of new addresses makes thousands a second at most.
	hostQueueLen = 4096
	// hostInboxLen bounds the changes a worker has not applied yet.
	hostInboxLen = 4096
	// hostBatchMax bounds the changes the writer takes at once.
	hostBatchMax = 1024
)

// HostsCounters count the live host changes (Stats.LiveHosts).
type HostsCounters struct {
	Changes     uint64 // changes the workers' binders told
	Updates     uint64 // hosts map entries written
	Deletes     uint64 // hosts map entries removed
	Failures    uint64 // hosts map writes that failed
	QueueDrops  uint64 // changes lost because the writer's queue was full
	InboxDrops  uint64 // changes a worker did not get because its inbox was full
	WriteCalls  uint64 // batches written to the kernel
	MaxBatch    uint64 // the most changes written in one batch
	LastWriteNs uint64 // how long the latest batch took, in nanoseconds
}

// liveHosts keeps live capture's workers and the kernel's fanout in step on
// which host each address and MAC belongs to. Every worker's binder tells
// its changes (host.Config.Notify) to one writer goroutine, through a
// bounded queue: the only cost on a worker's packet path is a channel send
// when a packet taught something. The writer hands each change, in the one
// order it received them, to every worker's inbox — the teller's too, so
// that all binders end in the order the kernel map has — and then writes
// the batch to the map (BPF_MAP_UPDATE_BATCH where the kernel has it). A
// worker applies its inbox (host.Binder.Apply) before its next packet when
// the inbox is not empty, a length read without a lock: a change is in the
// inbox of the worker the kernel will steer its address to before the
// kernel steers anything by it.
//
// Join keys (hostnames, DUIDs) go the same way (host.Config.ShareKeys): a
// docked Mac's two MACs announce its hostname on the two workers their
// DHCP messages are steered to, and every binder, hearing both in the one
// order, makes the same join and tells it.
type liveHosts struct {
	kernel  HostsMap // nil: the workers only share changes
	queue   chan host.Change
	inboxes []chan host.Change
	log     *slog.Logger

	changes, queueDrops, inboxDrops                    atomic.Uint64
	updates, deletes, failures, writes, maxBatch, last atomic.Uint64

	// writer's scratch
	batch []host.Change
	index map[[16]byte]int // key → its entry in keys/vals or dels
	keys  [][16]byte
	vals  []uint32
	dels  [][16]byte

	failLogged time.Time
	done       chan struct{}
	wg         sync.WaitGroup
}

func newLiveHosts(kernel HostsMap, workers int, log *slog.Logger) *liveHosts {
	h := &liveHosts{kernel: kernel, queue: make(chan host.Change, hostQueueLen), log: log,
		index: make(map[[16]byte]int, hostBatchMax), done: make(chan struct{})}
	for range workers {
		h.inboxes = append(h.inboxes, make(chan host.Change, hostInboxLen))
	}
	return h
}

// notify is every live binder's host.Config.Notify.
func (h *liveHosts) notify(c host.Change) {
	h.changes.Add(1)
	select {
	case h.queue <- c:
	default:
		h.queueDrops.Add(1)
	}
}

// start runs the writer; it first writes what every binder knew before
// capture began (the inventory's joins).
func (h *liveHosts) start(initial []host.Change) {
	if h.kernel != nil && len(initial) > 0 {
		h.write(initial)
	}
	h.wg.Add(1)
	go h.run()
}

// stop ends the writer once the workers have stopped telling.
func (h *liveHosts) stop() {
	close(h.done)
	h.wg.Wait()
}

func (h *liveHosts) run() {
	defer h.wg.Done()
	for {
		var c host.Change
		select {
		case c = <-h.queue:
		case <-h.done:
			// The workers have stopped: write what is left and end.
			for {
				select {
				case c := <-h.queue:
					h.batch = append(h.batch[:0], c)
					h.flush()
				default:
					return
				}
			}
		}
		h.batch = append(h.batch[:0], c)
	more:
		for len(h.batch) < hostBatchMax {
			select {
			case c := <-h.queue:
				h.batch = append(h.batch, c)
			default:
				break more
			}
		}
		h.flush()
	}
}

// flush hands h.batch to the inboxes, then to the kernel.
func (h *liveHosts) flush() {
	for _, c := range h.batch {
		for _, in := range h.inboxes {
			select {
			case in <- c:
			default:
				h.inboxDrops.Add(1)
			}
		}
	}
	if h.kernel != nil {
		h.write(h.batch)
	}
}

// hostsEntry is what a change makes of the kernel's hosts map: the key,
// and the hash to write, or del to remove the entry.
func hostsEntry(c host.Change) (key [16]byte, val uint32, del bool) {
	if c.Addr.IsValid() {
		key = shard.MapKey(c.Addr, [6]byte{})
		if c.Gone || !c.Host.IsMAC() {
			return key, 0, true
		}
		return key, shard.HashKey(c.Host), false
	}
	key = shard.MapKey(netip.Addr{}, c.MAC)
	if c.Gone || !c.Host.IsMAC() || c.Host.MAC == c.MAC {
		return key, 0, true
	}
	return key, shard.HashKey(c.Host), false
}

// write writes a batch to the kernel: the latest change of each key wins.
func (h *liveHosts) write(batch []host.Change) {
	start := time.Now()
	clear(h.index)
	h.keys, h.vals, h.dels = h.keys[:0], h.vals[:0], h.dels[:0]
	for _, c := range batch {
		if c.Key != "" || c.Router || c.NotRouter {
			continue // binders act on it, the kernel on the changes that follow
		}
		k, v, del := hostsEntry(c)
		if i, ok := h.index[k]; ok {
			// An earlier change of the same key in this batch: mark it
			// superseded (an update becomes a delete of nothing, a delete
			// an update) by moving the key to the latest list.
			if i >= 0 {
				h.vals[i], h.keys[i] = 0, [16]byte{}
			} else {
				h.dels[-i-1] = [16]byte{}
			}
		}
		if del {
			h.dels = append(h.dels, k)
			h.index[k] = -len(h.dels)
		} else {
			h.keys = append(h.keys, k)
			h.vals = append(h.vals, v)
			h.index[k] = len(h.keys) - 1
		}
	}
	keys, vals := compact(h.keys, h.vals)
	dels, _ := compact(h.dels, nil)
	var failed uint64
	if len(keys) > 0 {
		n, err := h.kernel.Update(keys, vals)
		h.updates.Add(uint64(n))
		if err != nil {
			failed += uint64(len(keys) - n)
			h.logFailure("writing the fanout's hosts map", err)
		}
	}
	if len(dels) > 0 {
		if err := h.kernel.Delete(dels); err != nil {
			failed++
			h.logFailure("deleting from the fanout's hosts map", err)
		} else {
			h.deletes.Add(uint64(len(dels)))
		}
	}
	h.failures.Add(failed)
	h.writes.Add(1)
	if n := uint64(len(batch)); n > h.maxBatch.Load() {
		h.maxBatch.Store(n)
	}
	h.last.Store(uint64(time.Since(start)))
}

// compact drops the zero keys (superseded entries) from keys and vals in place.
func compact(keys [][16]byte, vals []uint32) ([][16]byte, []uint32) {
	n := 0
	for i, k := range keys {
		if k == ([16]byte{}) {
			continue
		}
		keys[n] = k
		if vals != nil {
			vals[n] = vals[i]
		}
		n++
	}
	if vals != nil {
		vals = vals[:n]
	}
	return keys[:n], vals
}

// logFailure logs a failed map write at most once a minute: a kernel map
// that refuses writes refuses them all.
func (h *liveHosts) logFailure(what string, err error) {
	if time.Since(h.failLogged) < time.Minute {
		return
	}
	h.failLogged = time.Now()
	h.log.Warn(what+": the kernel steers those hosts by address until a later write succeeds", "err", err)
}

// drain applies what the worker's inbox holds to its binder.
func drainInbox(in chan host.Change, b *host.Binder) {
	for n := len(in); n > 0; n-- {
		b.Apply(<-in)
	}
}

// counters returns the counters.
func (h *liveHosts) counters() HostsCounters {
	if h == nil {
		return HostsCounters{}
	}
	return HostsCounters{
		Changes: h.changes.Load(), Updates: h.updates.Load(), Deletes: h.deletes.Load(), Failures: h.failures.Load(),
		QueueDrops: h.queueDrops.Load(), InboxDrops: h.inboxDrops.Load(), WriteCalls: h.writes.Load(),
		MaxBatch: h.maxBatch.Load(), LastWriteNs: h.last.Load(),
	}
}

// startLiveHosts starts sharing host changes between live workers (and the
// kernel map), when there are several: nil with one.
func (p *Pipeline) startLiveHosts() *liveHosts {
	if len(p.workers) < 2 {
		return nil
	}
	log := p.cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lh := newLiveHosts(p.cfg.Hosts, len(p.workers), log.With("component", "hosts"))
	for _, w := range p.workers {
		w.own.binder.SetNotify(lh.notify, true)
	}
	// Every binder made the same inventory joins and restored the same
	// checkpoint; the kernel hears them once.
	b := p.workers[0].own.binder
	lh.start(append(b.Static(), b.Restored()...))
	p.live.Store(lh)
	return lh
}
