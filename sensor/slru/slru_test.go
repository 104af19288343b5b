package slru

import (
	"testing"
)

func newTable(t *testing.T, capacity int, share float64) (*Table[int, int], *[]int) {
	t.Helper()
	var removed []int
	tb, err := New[int, int](capacity, share, func(k, _ int) { removed = append(removed, k) })
	if err != nil {
		t.Fatal(err)
	}
	return tb, &removed
}

func TestNewRejects(t *testing.T) {
	for _, c := range []struct {
		capacity int
		share    float64
	}{{0, 0}, {-1, 0}, {10, 1}, {10, -0.5}, {10, 1.5}} {
		if _, err := New[int, int](c.capacity, c.share, nil); err == nil {
			t.Errorf("New(%d, %v): no error", c.capacity, c.share)
		}
	}
}

// A scan of keys seen once never evicts a protected key.
func TestScanKeepsProtected(t *testing.T) {
	tb, removed := newTable(t, 100, 0.5)
	for k := 0; k < 50; k++ {
		tb.Add(k, k)
		tb.Promote(k)
	}
	for k := 1000; k < 1_000_000; k++ {
		tb.Add(k, k)
	}
	for k := 0; k < 50; k++ {
		if _, ok := tb.Peek(k); !ok {
			t.Fatalf("protected key %d evicted by a scan", k)
		}
	}
	if got, want := tb.Len(), 100; got != want {
		t.Errorf("Len %d, want %d", got, want)
	}
	if got, want := tb.Evictions(Probation), uint64(1_000_000-1000-50); got != want {
		t.Errorf("probation evictions %d, want %d", got, want)
	}
	if tb.Evictions(Protected) != 0 {
		t.Errorf("protected evictions %d, want 0", tb.Evictions(Protected))
	}
	if got := uint64(len(*removed)); got != tb.Evictions(Probation) {
		t.Errorf("onRemove called %d times for %d evictions", got, tb.Evictions(Probation))
	}
}

// Promotions beyond the protected share evict the least recently used
// protected key; probation keeps its room.
func TestProtectedBound(t *testing.T) {
	tb, removed := newTable(t, 10, 0.5)
	for k := 0; k < 8; k++ {
		tb.Add(k, k)
		tb.Promote(k)
	}
	if got := tb.LenOf(Protected); got != 5 {
		t.Fatalf("protected holds %d, want 5", got)
	}
	if got, want := *removed, []int{0, 1, 2}; !equal(got, want) {
		t.Errorf("removed %v, want %v", got, want)
	}
	if tb.Evictions(Protected) != 3 {
		t.Errorf("protected evictions %d, want 3", tb.Evictions(Protected))
	}
	// Probation has room for five: adding six evicts the first.
	for k := 100; k < 106; k++ {
		tb.Add(k, k)
	}
	if _, ok := tb.Peek(100); ok {
		t.Error("oldest probation key kept beyond capacity")
	}
	if got := tb.Len(); got != 10 {
		t.Errorf("Len %d, want 10", got)
	}
}

// Oldest orders both segments as one LRU would.
func TestOldestAcrossSegments(t *testing.T) {
	tb, removed := newTable(t, 100, 0)
	for k := 0; k < 6; k++ {
		tb.Add(k, k)
	}
	tb.Promote(3)
	tb.Get(0)
	tb.Promote(1)
	for tb.RemoveOldest() {
	}
	if got, want := *removed, []int{2, 4, 5, 3, 0, 1}; !equal(got, want) {
		t.Errorf("removal order %v, want %v", got, want)
	}
	if tb.Len() != 0 || tb.LenOf(Probation) != 0 || tb.LenOf(Protected) != 0 {
		t.Errorf("not empty: %d %d %d", tb.Len(), tb.LenOf(Probation), tb.LenOf(Protected))
	}
}

func TestTableOfOne(t *testing.T) {
	tb, removed := newTable(t, 1, 0)
	tb.Add(1, 1)
	if tb.Promote(1) {
		t.Error("promotion in a table of one evicted")
	}
	if !tb.Add(2, 2) {
		t.Error("second key in a table of one did not evict")
	}
	if got, want := *removed, []int{1}; !equal(got, want) {
		t.Errorf("removed %v, want %v", got, want)
	}
}

func TestGetPeekRemove(t *testing.T) {
	tb, removed := newTable(t, 4, 0)
	tb.Add(1, 10)
	tb.Add(2, 20)
	if v, ok := tb.Get(1); !ok || v != 10 {
		t.Errorf("Get(1) = %d, %v", v, ok)
	}
	if tb.Add(1, 11) {
		t.Error("re-adding a held key evicted")
	}
	if v, _ := tb.Peek(1); v != 11 {
		t.Errorf("Peek(1) = %d after update, want 11", v)
	}
	if s, ok := tb.SegmentOf(1); !ok || s != Probation {
		t.Errorf("SegmentOf(1) = %v, %v", s, ok)
	}
	if tb.Promote(9) {
		t.Error("promoting a missing key evicted")
	}
	if !tb.Remove(2) || tb.Remove(2) {
		t.Error("Remove(2) twice: want true then false")
	}
	if k, _, ok := tb.Oldest(); !ok || k != 1 {
		t.Errorf("Oldest = %d, %v, want 1", k, ok)
	}
	if got, want := *removed, []int{2}; !equal(got, want) {
		t.Errorf("removed %v, want %v", got, want)
	}
}

func TestSteadyStateAllocatesNothing(t *testing.T) {
	tb, _ := newTable(t, 1024, 0)
	k := 0
	for ; k < 4096; k++ {
		tb.Add(k, k)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		tb.Add(k, k)
		tb.Promote(k)
		k++
	})
	if allocs > 0.01 {
		t.Errorf("%.2f allocations per add at capacity, want none", allocs)
	}
}

func BenchmarkAddScan(b *testing.B) {
	tb, err := New[int, int](1<<16, 0, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tb.Add(i, i)
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
