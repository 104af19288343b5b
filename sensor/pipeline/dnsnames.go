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
// of capacity channels. A probe hashes the name's hash and the host's
// address bytes with the worker's seed: a generic hash of a struct holding a
// string, as a Go map or maphash.Comparable would take, costs several times
// as much.
func newDNSNames(capacity int, seed maphash.Seed) (*slru.Table[dnsPairKey, *dnsChannel], error) {
	return slru.NewHashed[dnsPairKey, *dnsChannel](capacity, 0, func(k dnsPairKey) uint64 {
		var b [8 + 6 + 16 + 1]byte
		binary.LittleEndian.PutUint64(b[:], k.hash)
		copy(b[8:], k.client.MAC[:])
		a := k.client.Addr.As16()
		copy(b[14:], a[:])
		b[30] = byte(k.client.Addr.BitLen()) // an IPv4 address and its IPv4-mapped IPv6 form differ
		return maphash.Bytes(seed, b[:])
	}, nil)
}
