// Package slru is a bounded, scan-resistant table: a segmented LRU in the
// style of 2Q and SLRU. New keys enter a probation segment; a key the caller
// judges to have a history (a session that was answered, a pair with a
// second beat) is promoted to a protected segment. A key added when the table
// is full evicts the least recently used probation key, so a scan or flood of
// keys seen once churns probation and never pushes out a protected key.
// Protected keys are evicted only by promotions, when protected is full.
//
// A Table is not safe for concurrent use: each pipeline worker owns its own.
// Entries are recycled, so a steady table allocates nothing per operation.
package slru

import "fmt"

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

type entry[K comparable, V any] struct {
	key        K
	val        V
	prev, next *entry[K, V]
	seq        uint64 // order of the latest move to a segment's front, across segments
	seg        Segment
}

// list is a doubly linked list with a sentinel: root.next is the most
// recently used entry, root.prev the least.
type list[K comparable, V any] struct {
	root entry[K, V]
	n    int
}

func (l *list[K, V]) init() {
	l.root.next, l.root.prev = &l.root, &l.root
}

func (l *list[K, V]) pushFront(e *entry[K, V]) {
	e.prev, e.next = &l.root, l.root.next
	l.root.next.prev = e
	l.root.next = e
	l.n++
}

func (l *list[K, V]) unlink(e *entry[K, V]) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	l.n--
}

func (l *list[K, V]) back() *entry[K, V] {
	if l.n == 0 {
		return nil
	}
	return l.root.prev
}

// Table is a segmented LRU of at most Cap keys.
type Table[K comparable, V any] struct {
	m       map[K]*entry[K, V]
	segs    [numSegments]list[K, V]
	cap     int
	protCap int
	seq     uint64
	free    []*entry[K, V]
	onEvict func(K, V)
	evicted [numSegments]uint64
}

// New returns a table of capacity keys of which at most protectedShare
// (0 < share < 1; 0 means DefaultProtectedShare) may be protected. onRemove,
// which may be nil, is called for every key that leaves the table, whether
// evicted, removed or flushed, after it has left.
func New[K comparable, V any](capacity int, protectedShare float64, onRemove func(K, V)) (*Table[K, V], error) {
	if protectedShare == 0 {
		protectedShare = DefaultProtectedShare
	}
	if capacity < 1 {
		return nil, fmt.Errorf("slru: capacity %d: want at least 1", capacity)
	}
	if !(protectedShare > 0 && protectedShare < 1) {
		return nil, fmt.Errorf("slru: protected share %v: want (0, 1)", protectedShare)
	}
	t := &Table[K, V]{
		m:       make(map[K]*entry[K, V]),
		cap:     capacity,
		protCap: min(capacity-1, max(1, int(float64(capacity)*protectedShare))), // 0 for a table of one: nothing is protected
		onEvict: onRemove,
	}
	for i := range t.segs {
		t.segs[i].init()
	}
	return t, nil
}

// Len is the number of keys held.
func (t *Table[K, V]) Len() int { return len(t.m) }

// LenOf is the number of keys in segment s.
func (t *Table[K, V]) LenOf(s Segment) int { return t.segs[s].n }

// Cap is the table's bound.
func (t *Table[K, V]) Cap() int { return t.cap }

// Evictions counts the keys of segment s pushed out for room (not those
// removed by the caller).
func (t *Table[K, V]) Evictions(s Segment) uint64 { return t.evicted[s] }

func (t *Table[K, V]) touch(e *entry[K, V]) {
	t.seq++
	e.seq = t.seq
	t.segs[e.seg].pushFront(e)
}

// Get returns k's value and marks it most recently used in its segment.
func (t *Table[K, V]) Get(k K) (v V, ok bool) {
	e := t.m[k]
	if e == nil {
		return v, false
	}
	t.segs[e.seg].unlink(e)
	t.touch(e)
	return e.val, true
}

// Peek returns k's value without changing its recency.
func (t *Table[K, V]) Peek(k K) (v V, ok bool) {
	e := t.m[k]
	if e == nil {
		return v, false
	}
	return e.val, true
}

// SegmentOf says where k is.
func (t *Table[K, V]) SegmentOf(k K) (Segment, bool) {
	e := t.m[k]
	if e == nil {
		return 0, false
	}
	return e.seg, true
}

// Add puts a new key in probation as its most recently used entry and
// reports whether another key was evicted for room. A key already held gets
// the new value and is marked used, in its own segment.
func (t *Table[K, V]) Add(k K, v V) (evicted bool) {
	if e := t.m[k]; e != nil {
		e.val = v
		t.segs[e.seg].unlink(e)
		t.touch(e)
		return false
	}
	if len(t.m) >= t.cap {
		// Protected never holds the whole capacity, so probation has a victim.
		victim := Probation
		if t.segs[Probation].n == 0 {
			victim = Protected
		}
		t.evict(victim)
		evicted = true
	}
	var e *entry[K, V]
	if n := len(t.free); n > 0 {
		e = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		e = new(entry[K, V])
	}
	e.key, e.val, e.seg = k, v, Probation
	t.m[k] = e
	t.touch(e)
	return evicted
}

// Promote moves k to the front of protected and reports whether a protected
// key was evicted for room. It returns false, doing nothing, for a key not
// held. In a table of one key nothing is protected: k is only marked used.
func (t *Table[K, V]) Promote(k K) (evicted bool) {
	e := t.m[k]
	if e == nil {
		return false
	}
	t.segs[e.seg].unlink(e)
	if t.protCap == 0 {
		t.touch(e)
		return false
	}
	if e.seg != Protected && t.segs[Protected].n >= t.protCap {
		t.evict(Protected)
		evicted = true
	}
	e.seg = Protected
	t.touch(e)
	return evicted
}

func (t *Table[K, V]) evict(s Segment) {
	t.evicted[s]++
	t.drop(t.segs[s].back())
}

// drop takes e out of the table and reports it to onRemove.
func (t *Table[K, V]) drop(e *entry[K, V]) {
	t.segs[e.seg].unlink(e)
	delete(t.m, e.key)
	k, v := e.key, e.val
	var zk K
	var zv V
	e.key, e.val = zk, zv
	t.free = append(t.free, e)
	if t.onEvict != nil {
		t.onEvict(k, v)
	}
}

// Remove takes k out of the table, reporting whether it was held.
func (t *Table[K, V]) Remove(k K) bool {
	e := t.m[k]
	if e == nil {
		return false
	}
	t.drop(e)
	return true
}

// oldest is the least recently used entry of both segments: the one whose
// latest move to a front came first.
func (t *Table[K, V]) oldest() *entry[K, V] {
	a, b := t.segs[Probation].back(), t.segs[Protected].back()
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case b.seq < a.seq:
		return b
	}
	return a
}

// Oldest returns the least recently used key of the whole table, as a
// single LRU would order it, without changing its recency.
func (t *Table[K, V]) Oldest() (k K, v V, ok bool) {
	e := t.oldest()
	if e == nil {
		return k, v, false
	}
	return e.key, e.val, true
}

// RemoveOldest removes the key Oldest returns.
func (t *Table[K, V]) RemoveOldest() bool {
	e := t.oldest()
	if e == nil {
		return false
	}
	t.drop(e)
	return true
}
