package dnstrack

import (
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/launchtap/launchtap/sensor/slru"
)

// MACNames remembers answers by the client's MAC address, shared by every
// worker. A dual-stack host often resolves a name over IPv4 and connects
// over IPv6: the two addresses are sharded to different workers, but the MAC
// is the same. It is consulted only for IPv6 sessions whose own address
// resolved nothing, so the locks are taken on DNS responses and on those
// session starts, never per packet.
//
// A MAC that receives answers for many client addresses is a router's (the
// span sees routed traffic with the router as the frame's destination): its
// answers would name one host's sessions after another host's lookups, so
// such a MAC is never used.
type MACNames struct {
	stripes        [macStripes]macStripe
	evictions      atomic.Uint64
	ownerEvictions atomic.Uint64 // MACs forgotten from owners (their client count restarts)

	mu     sync.Mutex                      // guards owners
	owners *slru.Table[[6]byte, *macOwner] // a plain LRU, as the stripes
}

// maxClientsPerMAC is how many client addresses one MAC may resolve for
// before it counts as a router: a dual-stack host has an IPv4 address and a
// few (temporary) IPv6 ones.
const maxClientsPerMAC = 4

type macOwner struct {
	clients [maxClientsPerMAC][16]byte
	n       int
	router  bool
}

const macStripes = 64

// macStripe is one lock's share of the answers: a plain LRU (an slru.Table
// whose keys are never promoted, so all of them age in one list). Its index
// is open-addressed and its entries one slice, where a map and a linked
// list of entries spread every answer over several cache lines: refreshing
// an answer, which most responses do, cost several cache misses.
type macStripe struct {
	mu  sync.Mutex
	lru *slru.Table[macKey, answer]
}

type macKey struct {
	mac  [6]byte
	addr [16]byte
}

// NewMACNames bounds the table at bound answers (at least one per stripe).
func NewMACNames(bound int) *MACNames {
	m := &MACNames{}
	per := max(1, bound/macStripes)
	for i := range m.stripes {
		m.stripes[i].lru, _ = slru.New[macKey, answer](per, 0, nil) // per >= 1: cannot fail
	}
	m.owners, _ = slru.New(max(16, bound/4), 0, func([6]byte, *macOwner) { m.ownerEvictions.Add(1) })
	return m
}

func (m *MACNames) stripe(k *macKey) *macStripe {
	h := uint32(2166136261)
	for _, c := range k.mac {
		h = (h ^ uint32(c)) * 16777619
	}
	for _, c := range k.addr[12:] {
		h = (h ^ uint32(c)) * 16777619
	}
	return &m.stripes[h%macStripes]
}

// hostMAC records that mac received an answer for client and reports
// whether mac still looks like one host's rather than a router's.
func (m *MACNames) hostMAC(mac [6]byte, client netip.Addr) bool {
	c := client.As16()
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.owners.Get(mac)
	if !ok {
		o = &macOwner{}
		m.owners.Add(mac, o)
	}
	if o.router {
		return false
	}
	for i := 0; i < o.n; i++ {
		if o.clients[i] == c {
			return true
		}
	}
	if o.n == maxClientsPerMAC {
		o.router = true
		return false
	}
	o.clients[o.n] = c
	o.n++
	return true
}

func (m *MACNames) isRouter(mac [6]byte) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.owners.Peek(mac)
	return ok && o.router
}

func (m *MACNames) add(mac [6]byte, client, addr netip.Addr, a answer) {
	if !m.hostMAC(mac, client) {
		return
	}
	k := macKey{mac: mac, addr: addr.As16()}
	s := m.stripe(&k)
	s.mu.Lock()
	evicted := s.lru.Add(k, a)
	s.mu.Unlock()
	if evicted {
		m.evictions.Add(1)
	}
}

func (m *MACNames) name(mac [6]byte, addr netip.Addr, ts int64) (string, bool) {
	if m.isRouter(mac) {
		return "", false
	}
	k := macKey{mac: mac, addr: addr.As16()}
	s := m.stripe(&k)
	s.mu.Lock()
	a, ok := s.lru.Get(k)
	s.mu.Unlock()
	if !ok || ts > a.expires {
		return "", false
	}
	return a.name, true
}

// Evictions counts answers dropped because the table was full.
func (m *MACNames) Evictions() uint64 { return m.evictions.Load() }

// OwnerEvictions counts MACs whose client addresses were forgotten because
// the router-detection table was full.
func (m *MACNames) OwnerEvictions() uint64 { return m.ownerEvictions.Load() }

// usableMAC is a unicast, non-zero MAC: one that names a host.
func usableMAC(m [6]byte) bool { return m != [6]byte{} && m[0]&1 == 0 }
