package syslog

import (
	"bytes"
	"errors"
	"testing"
)

// TestBacklogContract runs one sequence against both backlogs: the worker
// relies on the same order, commit, rewind and bound semantics from each.
func TestBacklogContract(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(t *testing.T) backlog
		// full() at the bound: a spool is bounded in bytes, so a shorter
		// record might still fit and it never says it is full.
		fullAtBound bool
		durable     bool
	}{
		{"memory", func(*testing.T) backlog { return newMemBacklog(4) }, true, false},
		{"spool", func(t *testing.T) backlog {
			var corrupt int
			// Room for exactly four records of rec's size in one segment.
			return openTestSpool(t, t.TempDir(), int64(len(segMagic)+4*(recHdrLen+len(rec(0)))), &corrupt)
		}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.open(t)
			defer b.close()
			if b.durable() != tc.durable {
				t.Errorf("durable() = %v", b.durable())
			}
			for i := range 4 {
				if b.full() {
					t.Fatalf("full after %d records", i)
				}
				if err := b.append(rec(i)); err != nil {
					t.Fatalf("append %d: %v", i, err)
				}
			}
			if err := b.append(rec(4)); !errors.Is(err, errFull) {
				t.Errorf("fifth append: %v, want errFull", err)
			}
			if b.full() != tc.fullAtBound {
				t.Errorf("full() = %v at the bound", b.full())
			}
			want := func(i int) {
				t.Helper()
				r, err := b.next()
				if err != nil || !bytes.Equal(r, rec(i)) {
					t.Fatalf("next = %q, %v; want record %d", r, err, i)
				}
			}
			want(0)
			want(1)
			want(2)
			if d, u := b.depth(), b.unsent(); d != 4 || u != 1 {
				t.Errorf("after three sent: depth %d unsent %d", d, u)
			}
			if err := b.commit(1); err != nil {
				t.Fatal(err)
			}
			if n := b.rewind(); n != 2 {
				t.Errorf("rewind = %d, want 2", n)
			}
			if d, u := b.depth(), b.unsent(); d != 3 || u != 3 {
				t.Errorf("after commit and rewind: depth %d unsent %d", d, u)
			}
			if b.full() {
				t.Error("full after a commit")
			}
			want(1) // a rewind hands out the uncommitted records again, in order
			want(2)
			want(3)
			if r, err := b.next(); r != nil || err != nil {
				t.Errorf("next past the end = %q, %v", r, err)
			}
			if err := b.commit(3); err != nil {
				t.Fatal(err)
			}
			if d, u := b.depth(), b.unsent(); d != 0 || u != 0 {
				t.Errorf("all committed: depth %d unsent %d", d, u)
			}
			if err := b.sync(); err != nil {
				t.Errorf("sync: %v", err)
			}
		})
	}
}
