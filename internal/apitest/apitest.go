// Package apitest holds what the MDM vendor fakes (fakefleet, fakejamf)
// share: a queue of one-shot faults a test injects. How a fault is served —
// the vendor's HTML error page, its JSON shape — stays with each fake.
package apitest

import (
	"strings"
	"sync"
)

// Fault is one injected failure, served once, to the first request whose
// path starts with Path.
type Fault struct {
	Path       string // prefix; "" matches any
	Status     int
	RetryAfter string
	HTML       bool
	HugeBytes  int // body of this many bytes
}

// Faults is a queue of one-shot faults, safe for concurrent use. The zero
// value is empty.
type Faults struct {
	mu sync.Mutex
	q  []Fault
}

// Inject queues faults, served in order.
func (f *Faults) Inject(fs ...Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.q = append(f.q, fs...)
}

// Take removes and returns the first queued fault for path, or nil.
func (f *Faults) Take(path string) *Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, x := range f.q {
		if strings.HasPrefix(path, x.Path) {
			f.q = append(f.q[:i], f.q[i+1:]...)
			return &x
		}
	}
	return nil
}
