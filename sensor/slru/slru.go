// Package slru is a bounded, scan-resistant table: a segmented LRU in the
// style of 2Q and SLRU. New keys enter a probation segment; a key the caller
// judges to have a history (a session that was answered, a pair with a
// second beat) is promoted to a protected segment. A key added when the table
// is full evicts the least recently used probation key, so a scan or flood of
// keys seen once churns probation and never pushes out a protected key.
// Protected keys are evicted only by promotions, when protected is full.
//
// The index is an open-addressing hash table with linear probing and
// backward-shift deletion, not a Go map: a table that is full and churns
// (every packet of a flood adds one key and evicts another) leaves no
// tombstones behind, so a lookup that misses stays as cheap as one that hits.
// Entries live in one slice linked by index, recycled through a free list,
// so a table that has reached its bound allocates nothing.
//
// A Table is not safe for concurrent use: each pipeline worker owns its own.
package slru

import (
	"fmt"
	"hash/maphash"
)

// Segment is where a key lives.
type Segment uint8

// Segments.
const (
	Probation Segment = iota // seen once, or not yet judged
	Protected                // has a history worth keeping
	numSegments
)

// String names the segment for logs and metrics.
func (s Segment) String() string {
	switch s {
	case Probation:
		return "probation"
	case Protected:
		return "protected"
	}
	return fmt.Sprintf("segment(%d)", uint8(s))
}

// DefaultProtectedShare is the part of the capacity protected keys may hold.
// The rest is left to probation, so that a new key always has room to prove
// itself even when protected is full; while protected is not full, probation
// may use its unused room.
const DefaultProtectedShare = 0.875

// entry indexes 0 and 1 are the segments' list heads (sentinels).
type entry[K comparable, V any] struct {
	key        K
	val        V
	prev, next int32
	seq        uint64 // order of the latest move to a segment's front, across segments
	seg        Segment
	slot       int32 // where the index points at it
}

// slot is one index cell: the entry (+1; 0 is empty) and 32 bits of its
// key's hash, whose low bits are the cell the key hashes to.
type slot struct {
	idx int32
	tag uint32
}

// Table is a segmented LRU of at most Cap keys.
type Table[K comparable, V any] struct {
	hash    func(K) uint64
	index   []slot
	mask    uint32
	ents    []entry[K, V]
	free    int32 // head of the free entries, linked by next; 0 = none
	n       int
	count   [numSegments]int
	cap     int
	protCap int
	probCap int // 0: probation may use all the room protected leaves
	seq     uint64
	onEvict func(K, V)
	evicted [numSegments]uint64

	// The last key a lookup missed, with its hash, while the index has not
	// changed since (gen): the Add that usually follows a miss neither
	// hashes nor probes again.
	gen      uint64
	miss     K
	missHash uint32
	missGen  uint64
}

// New returns a table of capacity keys of which at most protectedShare
// (0 < share < 1; 0 means DefaultProtectedShare) may be protected. onRemove,
// which may be nil, is called for every key that leaves the table, whether
// evicted, removed or flushed, after it has left.
func New[K comparable, V any](capacity int, protectedShare float64, onRemove func(K, V)) (*Table[K, V], error) {
	seed := maphash.MakeSeed()
	return NewHashed(capacity, protectedShare, func(k K) uint64 { return maphash.Comparable(seed, k) }, onRemove)
}

// NewHashed is New with the caller's hash function, for keys that carry or
// cheaply give a well-mixed hash. It must be seeded per table where keys
// come from the network, so that nobody can aim collisions at it.
func NewHashed[K comparable, V any](capacity int, protectedShare float64, hash func(K) uint64, onRemove func(K, V)) (*Table[K, V], error) {
	if protectedShare == 0 {
		protectedShare = DefaultProtectedShare
	}
	if capacity < 1 || capacity > 1<<30 {
		return nil, fmt.Errorf("slru: capacity %d: want 1..2^30", capacity)
	}
	if !(protectedShare > 0 && protectedShare < 1) {
		return nil, fmt.Errorf("slru: protected share %v: want (0, 1)", protectedShare)
	}
	t := &Table[K, V]{
		gen:     1, // missGen 0 never matches
		hash:    hash,
		cap:     capacity,
		protCap: min(capacity-1, max(1, int(float64(capacity)*protectedShare))), // 0 for a table of one: nothing is protected
		onEvict: onRemove,
		ents:    make([]entry[K, V], int(numSegments), int(numSegments)+min(capacity, 64)),
	}
	for i := range t.ents {
		t.ents[i].prev, t.ents[i].next = int32(i), int32(i)
	}
	t.resize(16)
	return t, nil
}

// LimitProbation bounds probation at n keys (n >= 1; 0 lifts the bound): a
// new key evicts the least recently used probation key once probation holds
// n, even while the table has room. Without it probation may take all the
// room protected does not use, and a flood of keys seen once cycles through
// the whole capacity: every new key then misses the CPU caches on its
// index cell, its victim and the victim's value. Bounded, the flood's
// working set stays small and protected keys are untouched either way.
func (t *Table[K, V]) LimitProbation(n int) {
	t.probCap = max(0, n)
}

// Len is the number of keys held.
func (t *Table[K, V]) Len() int { return t.n }

// LenOf is the number of keys in segment s.
func (t *Table[K, V]) LenOf(s Segment) int { return t.count[s] }

// Cap is the table's bound.
func (t *Table[K, V]) Cap() int { return t.cap }

// Evictions counts the keys of segment s pushed out for room (not those
// removed by the caller).
func (t *Table[K, V]) Evictions(s Segment) uint64 { return t.evicted[s] }

// resize rebuilds the index with size cells (a power of two).
func (t *Table[K, V]) resize(size int) {
	t.index = make([]slot, size)
	t.mask = uint32(size - 1)
	t.gen++
	for i := int32(numSegments); i < int32(len(t.ents)); i++ {
		if e := &t.ents[i]; e.slot >= 0 && t.isLive(i) {
			t.place(i, uint32(t.hash(e.key)))
		}
	}
}

// isLive reports whether entry i is held (not on the free list).
func (t *Table[K, V]) isLive(i int32) bool { return t.ents[i].prev != -1 }

// place puts entry i with hash tag h in the first free cell from its home.
func (t *Table[K, V]) place(i int32, h uint32) {
	t.gen++
	c := h & t.mask
	for t.index[c].idx != 0 {
		c = (c + 1) & t.mask
	}
	t.index[c] = slot{idx: i + 1, tag: h}
	t.ents[i].slot = int32(c)
}

// find returns the entry of k, or 0, and k's hash tag.
func (t *Table[K, V]) find(k K) (int32, uint32) {
	if t.missGen == t.gen && t.miss == k {
		return 0, t.missHash
	}
	h := uint32(t.hash(k))
	for c := h & t.mask; ; c = (c + 1) & t.mask {
		s := t.index[c]
		if s.idx == 0 {
			t.miss, t.missHash, t.missGen = k, h, t.gen
			return 0, h
		}
		if s.tag == h && t.ents[s.idx-1].key == k {
			return s.idx - 1, h
		}
	}
}

// unindex empties cell c and shifts back the cells after it that would
// otherwise be cut off from their home (no tombstones).
func (t *Table[K, V]) unindex(c uint32) {
	t.gen++
	for {
		t.index[c] = slot{}
		j := c
		for {
			j = (j + 1) & t.mask
			s := t.index[j]
			if s.idx == 0 {
				return
			}
			home := s.tag & t.mask
			// Move s to c unless its home lies cyclically in (c, j].
			if (j > c && (home <= c || home > j)) || (j < c && home <= c && home > j) {
				t.index[c] = s
				t.ents[s.idx-1].slot = int32(c)
				c = j
				break
			}
		}
	}
}

func (t *Table[K, V]) unlink(i int32) {
	e := &t.ents[i]
	t.ents[e.prev].next = e.next
	t.ents[e.next].prev = e.prev
	t.count[e.seg]--
}

// touch puts entry i at the front of its segment.
func (t *Table[K, V]) touch(i int32) {
	e := &t.ents[i]
	t.seq++
	e.seq = t.seq
	head := int32(e.seg)
	e.prev, e.next = head, t.ents[head].next
	t.ents[e.next].prev = i
	t.ents[head].next = i
	t.count[e.seg]++
}

func (t *Table[K, V]) back(s Segment) int32 {
	if t.count[s] == 0 {
		return 0
	}
	return t.ents[s].prev
}

// Get returns k's value and marks it most recently used in its segment.
func (t *Table[K, V]) Get(k K) (v V, ok bool) {
	i, _ := t.find(k)
	if i == 0 {
		return v, false
	}
	t.unlink(i)
	t.touch(i)
	return t.ents[i].val, true
}

// Peek returns k's value without changing its recency.
func (t *Table[K, V]) Peek(k K) (v V, ok bool) {
	i, _ := t.find(k)
	if i == 0 {
		return v, false
	}
	return t.ents[i].val, true
}

// SegmentOf says where k is.
func (t *Table[K, V]) SegmentOf(k K) (Segment, bool) {
	i, _ := t.find(k)
	if i == 0 {
		return 0, false
	}
	return t.ents[i].seg, true
}

// Add puts a new key in probation as its most recently used entry and
// reports whether another key was evicted for room. A key already held gets
// the new value and is marked used, in its own segment.
func (t *Table[K, V]) Add(k K, v V) (evicted bool) {
	i, h := t.find(k)
	if i != 0 {
		t.ents[i].val = v
		t.unlink(i)
		t.touch(i)
		return false
	}
	switch {
	case t.n >= t.cap:
		// Protected never holds the whole capacity, so probation has a victim.
		victim := Probation
		if t.count[Probation] == 0 {
			victim = Protected
		}
		t.evict(victim)
		evicted = true
	case t.probCap > 0 && t.count[Probation] >= t.probCap:
		t.evict(Probation)
		evicted = true
	}
	if t.free != 0 {
		i = t.free
		t.free = t.ents[i].next
	} else {
		var zero entry[K, V]
		t.ents = append(t.ents, zero)
		i = int32(len(t.ents) - 1)
	}
	t.n++
	if t.n > len(t.index)/2 {
		// At most half full: a miss probes ~2.5 cells on average.
		t.ents[i].prev = -1 // not yet live: resize skips it
		t.resize(2 * len(t.index))
	}
	e := &t.ents[i]
	e.key, e.val, e.seg = k, v, Probation
	t.place(i, h)
	t.touch(i)
	return evicted
}

// Promote moves k to the front of protected and reports whether a protected
// key was evicted for room. It returns false, doing nothing, for a key not
// held. In a table of one key nothing is protected: k is only marked used.
func (t *Table[K, V]) Promote(k K) (evicted bool) {
	i, _ := t.find(k)
	if i == 0 {
		return false
	}
	return t.promote(i)
}

// PromoteGet is Get then Promote in one lookup: k's value, k moved to the
// front of protected.
func (t *Table[K, V]) PromoteGet(k K) (v V, ok bool) {
	i, _ := t.find(k)
	if i == 0 {
		return v, false
	}
	t.promote(i)
	return t.ents[i].val, true
}

// PromoteSet is Add of a key held then Promote, in one lookup: k gets v and
// moves to the front of protected. It returns false, doing nothing, for a
// key not held.
func (t *Table[K, V]) PromoteSet(k K, v V) (ok bool) {
	i, _ := t.find(k)
	if i == 0 {
		return false
	}
	t.promote(i)
	t.ents[i].val = v
	return true
}

func (t *Table[K, V]) promote(i int32) (evicted bool) {
	t.unlink(i)
	e := &t.ents[i]
	if t.protCap > 0 && e.seg != Protected {
		if t.count[Protected] >= t.protCap {
			t.evict(Protected)
			evicted = true
		}
		e = &t.ents[i]
		e.seg = Protected
	}
	t.touch(i)
	return evicted
}

func (t *Table[K, V]) evict(s Segment) {
	t.evicted[s]++
	t.drop(t.back(s))
}

// drop takes entry i out of the table and reports it to onRemove.
func (t *Table[K, V]) drop(i int32) {
	t.unlink(i)
	e := &t.ents[i]
	t.unindex(uint32(e.slot))
	k, v := e.key, e.val
	var zk K
	var zv V
	e.key, e.val = zk, zv
	e.prev, e.next = -1, t.free
	t.free = i
	t.n--
	if t.onEvict != nil {
		t.onEvict(k, v)
	}
}

// Remove takes k out of the table, reporting whether it was held.
func (t *Table[K, V]) Remove(k K) bool {
	i, _ := t.find(k)
	if i == 0 {
		return false
	}
	t.drop(i)
	return true
}

// oldest is the least recently used entry of both segments: the one whose
// latest move to a front came first.
func (t *Table[K, V]) oldest() int32 {
	a, b := t.back(Probation), t.back(Protected)
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	case t.ents[b].seq < t.ents[a].seq:
		return b
	}
	return a
}

// Oldest returns the least recently used key of the whole table, as a
// single LRU would order it, without changing its recency.
func (t *Table[K, V]) Oldest() (k K, v V, ok bool) {
	i := t.oldest()
	if i == 0 {
		return k, v, false
	}
	return t.ents[i].key, t.ents[i].val, true
}

// RemoveOldest removes the key Oldest returns.
func (t *Table[K, V]) RemoveOldest() bool {
	i := t.oldest()
	if i == 0 {
		return false
	}
	t.drop(i)
	return true
}

// Values returns every value, least recently used first across both
// segments (as a single LRU would order them), without changing recency.
func (t *Table[K, V]) Values() []V {
	out := make([]V, 0, t.n)
	t.walk(func(e *entry[K, V]) { out = append(out, e.val) })
	return out
}

// Keys returns every key in the order Values returns their values.
func (t *Table[K, V]) Keys() []K {
	out := make([]K, 0, t.n)
	t.walk(func(e *entry[K, V]) { out = append(out, e.key) })
	return out
}

// walk calls fn with every entry, least recently used first across both
// segments.
func (t *Table[K, V]) walk(fn func(*entry[K, V])) {
	a, b := t.back(Probation), t.back(Protected)
	// From a segment's back toward its front: prev leads to newer entries,
	// and to the segment's head (its index) past the newest.
	newer := func(i int32, s Segment) int32 {
		if p := t.ents[i].prev; p != int32(s) {
			return p
		}
		return 0
	}
	for a != 0 || b != 0 {
		if b == 0 || a != 0 && t.ents[a].seq < t.ents[b].seq {
			fn(&t.ents[a])
			a = newer(a, Probation)
		} else {
			fn(&t.ents[b])
			b = newer(b, Protected)
		}
	}
}
