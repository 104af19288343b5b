package bpf

import (
	"errors"
	"fmt"
	"sync"

	"github.com/cilium/ebpf"
)

// HostsMax bounds the fanout's hosts map: host.DefaultMaxBindings +
// host.DefaultMaxMACs, every address binding and MAC join one binder can
// hold (HOSTS_MAX in launchtap.c).
const HostsMax = 1 << 17

// Hosts is the fanout program's hosts map: shard.MapKey (an owner address,
// or a MAC that joined another MAC's host) → shard.HashKey of the host it
// belongs to. An address without an entry hashes as itself, a DHCP client's
// MAC without one as itself. The map is an LRU: an update never fails for
// room, and what falls out is what no packet looked up for longest.
//
// One goroutine should own the writes (sensor/pipeline's hosts writer);
// the methods are safe for concurrent use all the same.
type Hosts struct {
	m *ebpf.Map

	mu      sync.Mutex
	noBatch bool // BPF_MAP_UPDATE_BATCH is not there: one update per key
	stats   HostsStats
}

// HostsStats count the writes to the hosts map.
type HostsStats struct {
	Updates  uint64 // entries written
	Deletes  uint64 // entries removed (an entry already gone counts too)
	Failures uint64 // entries a write or delete failed on
	Syscalls uint64 // bpf(2) calls made
	Batched  bool   // updates go in BPF_MAP_UPDATE_BATCH calls
}

// Hosts is the fanout program's hosts map.
func (o *Objects) Hosts() *Hosts {
	o.hostsOnce.Do(func() { o.hosts = &Hosts{m: o.objs.Hosts} })
	return o.hosts
}

// Stats returns the write counters.
func (h *Hosts) Stats() HostsStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.stats
	s.Batched = !h.noBatch
	return s
}

// hostsChunk bounds one batch call: the kernel copies keys and values in.
const hostsChunk = 4096

// Update writes keys[i] → vals[i], in batches where the kernel has
// BPF_MAP_UPDATE_BATCH (Linux 5.6), else one by one. It returns the number
// written and the errors of the others.
func (h *Hosts) Update(keys [][16]byte, vals []uint32) (int, error) {
	if len(keys) != len(vals) {
		return 0, fmt.Errorf("bpf: hosts update: %d keys, %d values", len(keys), len(vals))
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	done := 0
	var errs []error
	for len(keys) > 0 && !h.noBatch {
		n := min(len(keys), hostsChunk)
		w, err := h.m.BatchUpdate(keys[:n], vals[:n], nil)
		h.stats.Syscalls++
		if errors.Is(err, ebpf.ErrNotSupported) {
			h.noBatch = true
			break
		}
		done += w
		h.stats.Updates += uint64(w)
		if err != nil {
			// The batch stops at the entry it could not write: count it
			// and go on after it.
			h.stats.Failures++
			errs = append(errs, fmt.Errorf("bpf: hosts update of %x: %w", keys[min(w, n-1)], err))
			w++
		}
		keys, vals = keys[min(w, len(keys)):], vals[min(w, len(vals)):]
	}
	for i := range keys {
		err := h.m.Update(&keys[i], &vals[i], ebpf.UpdateAny)
		h.stats.Syscalls++
		if err != nil {
			h.stats.Failures++
			errs = append(errs, fmt.Errorf("bpf: hosts update of %x: %w", keys[i], err))
			continue
		}
		done++
		h.stats.Updates++
	}
	return done, errors.Join(errs...)
}

// Delete removes keys; a key the map does not hold is no error (the LRU
// may have let it go).
func (h *Hosts) Delete(keys [][16]byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	for i := range keys {
		err := h.m.Delete(&keys[i])
		h.stats.Syscalls++
		if err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			h.stats.Failures++
			errs = append(errs, fmt.Errorf("bpf: hosts delete of %x: %w", keys[i], err))
			continue
		}
		h.stats.Deletes++
	}
	return errors.Join(errs...)
}

// Lookup returns the hash the map holds for k.
func (h *Hosts) Lookup(k [16]byte) (uint32, bool, error) {
	var v uint32
	err := h.m.Lookup(&k, &v)
	if errors.Is(err, ebpf.ErrKeyNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("bpf: hosts lookup of %x: %w", k, err)
	}
	return v, true, nil
}

// Clear empties the map.
func (h *Hosts) Clear() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var keys [][16]byte
	var k [16]byte
	var v uint32
	it := h.m.Iterate()
	for it.Next(&k, &v) {
		keys = append(keys, k)
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("bpf: iterating hosts: %w", err)
	}
	for i := range keys {
		if err := h.m.Delete(&keys[i]); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("bpf: clearing hosts: %w", err)
		}
	}
	return nil
}
