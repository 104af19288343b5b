package pipeline

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"

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
// A probe mixes the name's hash (seeded) with the host's MAC and address
// under secrets drawn from the worker's seed, two 64-bit multiplies as
// wyhash mixes: cheaper than the generic hash of a struct holding a string
// that a Go map or maphash.Comparable takes, or maphash.Bytes of the same
// fields (a cold probe: 86 → 73 ns).
func newDNSNames(capacity int, seed maphash.Seed, onRemove func(dnsPairKey, *dnsChannel)) (*slru.Table[dnsPairKey, *dnsChannel], error) {
	var s [4]uint64
	for i := range s {
		s[i] = maphash.Comparable(seed, i) | 1
	}
	return slru.NewHashed[dnsPairKey, *dnsChannel](capacity, 0, func(k dnsPairKey) uint64 {
		m := k.client.MAC
		mac := uint64(m[0])<<40 | uint64(m[1])<<32 | uint64(m[2])<<24 | uint64(m[3])<<16 | uint64(m[4])<<8 | uint64(m[5])
		a := k.client.Addr.As16()
		// The bit length tells an IPv4 address from its IPv4-mapped form.
		hi := binary.BigEndian.Uint64(a[:8]) ^ uint64(k.client.Addr.BitLen())<<48
		lo := binary.BigEndian.Uint64(a[8:])
		return mum(k.hash^s[0], mac^s[1]) ^ mum(hi^s[2], lo^s[3])
	}, onRemove)
}

// mum folds the 128-bit product of a and b.
func mum(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// pollMemo remembers the dnsPolls channels a worker used last, for the
// lookups that follow a query by moments and need no recency: its answer
// (DNSAnswer) and the sessions to the name (sessionBeat). A hit is one
// compare in a small array where a probe of dnsPolls (thousands of channels
// on an office network) costs several cache misses. A channel stays in dnsPolls under its
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
