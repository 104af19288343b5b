package dnstrack

import (
	"errors"
	"fmt"
	"net/netip"
)

// Answer is one stored DNS answer as a checkpoint keeps it: the client
// resolved Name to Addr, usable until Expires.
type Answer struct {
	Client, Addr netip.Addr
	Name         string
	Expires      int64 // capture time, Unix ns: TTL (at least MinTTL) plus Grace after At
	At           int64 // capture time the response was read
}

// ErrBadAnswer is wrapped by Import for an answer the tracker could not
// have stored.
var ErrBadAnswer = errors.New("dnstrack: bad answer")

// maxName is the longest presentation-format DNS name.
const maxName = 255

// Export calls fn with up to max answers stored at or after since and still
// live at capture time now, most recently used first. A checkpoint calls it
// between batches, never per packet.
func (t *Tracker) Export(since, now int64, max int, fn func(Answer)) {
	keys := t.answers.Keys() // least recently used first
	n := 0
	for i := len(keys) - 1; i >= 0 && n < max; i-- {
		a, ok := t.answers.Peek(keys[i])
		if !ok || a.at < since || a.expires < now {
			continue
		}
		fn(Answer{Client: netip.AddrFrom16(keys[i].client).Unmap(), Addr: netip.AddrFrom16(keys[i].addr).Unmap(),
			Name: a.name, Expires: a.expires, At: a.at})
		n++
	}
}

// Import stores an answer a previous run exported, unless the tracker holds
// one for the same client and address that lasts longer. Beyond MaxAnswers
// the least recently used answer is evicted and counted, as when a
// response is read.
func (t *Tracker) Import(a Answer) error {
	switch {
	case !a.Client.IsValid() || !a.Addr.IsValid():
		return fmt.Errorf("%w: client %v, address %v", ErrBadAnswer, a.Client, a.Addr)
	case a.Name == "" || len(a.Name) > maxName:
		return fmt.Errorf("%w: name of %d bytes", ErrBadAnswer, len(a.Name))
	case a.At > a.Expires:
		return fmt.Errorf("%w: expires before it was read", ErrBadAnswer)
	}
	k := answerKey{client: a.Client.As16(), addr: a.Addr.As16()}
	if old, ok := t.answers.Peek(k); ok && old.expires >= a.Expires {
		return nil
	}
	if t.answers.Add(k, answer{name: normalize(a.Name), expires: a.Expires, at: a.At}) {
		t.stats.Evictions++
	}
	return nil
}
