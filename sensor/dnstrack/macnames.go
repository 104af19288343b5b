package dnstrack

import (
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// MACNames remembers answers by the client's MAC address, shared by every
// worker. A dual-stack host often resolves a name over IPv4 and connects
// over IPv6: the two addresses are sharded to different workers, but the MAC
// is the same. It is consulted only for IPv6 sessions whose own address
// resolved nothing, so the locks are taken on DNS responses and on those
// session starts, never per packet.
type MACNames struct {
	stripes   [macStripes]macStripe
	evictions atomic.Uint64
}

const macStripes = 64

type macStripe struct {
	mu  sync.Mutex
	lru *simplelru.LRU[macKey, answer]
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
		m.stripes[i].lru, _ = simplelru.NewLRU[macKey, answer](per, nil) // per >= 1: cannot fail
	}
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

func (m *MACNames) add(mac [6]byte, addr netip.Addr, a answer) {
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

// usableMAC is a unicast, non-zero MAC: one that names a host.
func usableMAC(m [6]byte) bool { return m != [6]byte{} && m[0]&1 == 0 }
