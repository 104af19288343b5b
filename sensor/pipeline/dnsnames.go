package pipeline

import (
	"encoding/binary"
	"hash/maphash"

	"github.com/launchtap/launchtap/sensor/host"
	"github.com/launchtap/launchtap/sensor/slru"
)

// dnsPairKey keys the DNS-channel tables: the client host and a name, a
// registered domain (dnsNew) or a whole name (dnsPolls), with the name's
// hash under the worker's seed. The hash rides in the key so that a query,
// whose name and domain regDomains has hashed already, hashes no string to
// probe both tables; keys built elsewhere (sessions, answers, alerts) hash
// their name once, in dnsKey.
type dnsPairKey struct {
	client host.Key
	domain string
	hash   uint64 // maphash.String(seed, domain)
}

// dnsKey is the key of client's channel of name.
func (w *worker) dnsKey(client host.Key, name string) dnsPairKey {
	return dnsPairKey{client: client, domain: name, hash: maphash.String(w.regDomains.seed, name)}
}

// newDNSNames builds a DNS-channel table: a plain LRU (nothing is promoted)
// of capacity channels; onRemove (may be nil) is told of each that leaves.
// A probe hashes the name's hash and the host's address bytes with the
// worker's seed: a generic hash of a struct holding a string, as a Go map or
// maphash.Comparable would take, costs several times as much.
func newDNSNames(capacity int, seed maphash.Seed, onRemove func(dnsPairKey, *dnsChannel)) (*slru.Table[dnsPairKey, *dnsChannel], error) {
	return slru.NewHashed[dnsPairKey, *dnsChannel](capacity, 0, func(k dnsPairKey) uint64 {
		var b [8 + 6 + 16 + 1]byte
		binary.LittleEndian.PutUint64(b[:], k.hash)
		copy(b[8:], k.client.MAC[:])
		a := k.client.Addr.As16()
		copy(b[14:], a[:])
		b[30] = byte(k.client.Addr.BitLen()) // an IPv4 address and its IPv4-mapped IPv6 form differ
		return maphash.Bytes(seed, b[:])
	}, onRemove)
}

// pollMemo remembers the dnsPolls channels a worker used last, for the
// lookups that follow a query by moments and need no recency: its answer
// (DNSAnswer) and the sessions to the name (sessionBeat). A hit is one
// compare in a small array where a probe of dnsPolls, far larger than the
// CPU's caches, costs several misses. A channel stays in dnsPolls under its
// key until it leaves the table (nothing replaces a held key's value), so a
// memo is right while nothing has left since it was made (gen).
type pollMemo struct {
	slots [pollMemoSlots]pollMemoSlot
	gen   uint64 // bumped whenever a channel leaves dnsPolls or dnsNew (lastQuery's too)
}

type pollMemoSlot struct {
	key dnsPairKey
	ch  *dnsChannel
	gen uint64
}

const pollMemoSlots = 64 // a power of two

func (m *pollMemo) slot(k dnsPairKey) *pollMemoSlot {
	a := k.client.Addr.As16()
	h := (k.hash ^ uint64(k.client.MAC[5]) ^ uint64(a[15])<<8 ^ uint64(a[14])<<16) * 0x9E3779B97F4A7C15
	return &m.slots[h>>(64-6)]
}

// remember notes that k's channel in dnsPolls is ch.
func (m *pollMemo) remember(k dnsPairKey, ch *dnsChannel) {
	*m.slot(k) = pollMemoSlot{key: k, ch: ch, gen: m.gen}
}

// peekPoll is w.dnsPolls.Peek(k), answered from the memo when it can be.
func (w *worker) peekPoll(k dnsPairKey) (*dnsChannel, bool) {
	s := w.polls.slot(k)
	if s.ch != nil && s.gen == w.polls.gen && s.key == k {
		return s.ch, true
	}
	ch, ok := w.dnsPolls.Peek(k)
	if ok {
		*s = pollMemoSlot{key: k, ch: ch, gen: w.polls.gen}
	}
	return ch, ok
}
