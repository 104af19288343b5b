// Package netset answers "is this address internal?" for the configured
// internal networks, fast enough to ask twice per packet.
package netset

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
)

// DefaultInternal are the networks treated as internal when none are configured:
// RFC 1918, RFC 6598 shared address space (carrier-grade NAT), and IPv6 ULA.
const DefaultInternal = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,fc00::/7"

// Set is a set of prefixes: those it was built from, which never change,
// and IPv6 prefixes learned while the sensor runs (Learn). IPv4 prefixes
// are kept as mask/value pairs so that the common IPv4 lookup is a few
// integer operations.
type Set struct {
	v4       []v4net
	v4first  [256]v4cover // what v4 holds of each first octet: most lookups stop here
	v6       []netip.Prefix
	prefixes []netip.Prefix

	// learned is replaced whole under mu and read without a lock: the
	// lookup of an IPv6 address outside the configured prefixes costs one
	// atomic load and a scan of at most MaxLearned prefixes.
	mu      sync.Mutex
	learned atomic.Pointer[[]netip.Prefix]
	refused atomic.Uint64
}

// MaxLearned bounds the prefixes a Set learns; later ones are refused and
// counted.
const MaxLearned = 64

type v4net struct{ value, mask uint32 }

// v4cover is how much of the addresses with one first octet the IPv4
// prefixes hold. The internal networks are a few short prefixes and most
// addresses a sensor looks up (every packet's two ends) are external ones
// whose first octet none of them starts with.
type v4cover uint8

const (
	v4None v4cover = iota
	v4Some         // a prefix longer than /8 starts with it: scan v4
	v4All          // a prefix of /8 or shorter holds it
)

// Parse reads a comma-separated list of CIDRs (a bare address is a /32 or /128).
func Parse(list string) (*Set, error) {
	var ps []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		var p netip.Prefix
		var err error
		if strings.Contains(f, "/") {
			p, err = netip.ParsePrefix(f)
		} else {
			var a netip.Addr
			a, err = netip.ParseAddr(f)
			if err == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil {
			return nil, fmt.Errorf("netset: %q is not a CIDR: %w", f, err)
		}
		ps = append(ps, p.Masked())
	}
	return New(ps), nil
}

// MustParse is Parse for constants; it panics on a malformed list.
func MustParse(list string) *Set {
	s, err := Parse(list)
	if err != nil {
		panic(err)
	}
	return s
}

// New builds a Set from prefixes.
func New(ps []netip.Prefix) *Set {
	s := &Set{prefixes: append([]netip.Prefix(nil), ps...)}
	for _, p := range ps {
		p = p.Masked()
		if p.Addr().Is4() {
			a := p.Addr().As4()
			v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
			var m uint32
			if p.Bits() > 0 {
				m = ^uint32(0) << (32 - p.Bits())
			}
			s.v4 = append(s.v4, v4net{v & m, m})
			first := v >> 24
			if p.Bits() <= 8 {
				for o := first; o < first+1<<(8-p.Bits()); o++ {
					s.v4first[o] = v4All
				}
			} else if s.v4first[first] == v4None {
				s.v4first[first] = v4Some
			}
		} else {
			s.v6 = append(s.v6, p)
		}
	}
	return s
}

// Contains reports whether a is inside one of the set's prefixes.
// IPv4-mapped IPv6 addresses are treated as IPv4.
func (s *Set) Contains(a netip.Addr) bool {
	if in, known := s.Quick(a); known {
		return in
	}
	return s.contains(a)
}

// Quick answers Contains for an IPv4 address whose first octet no prefix
// or a /8-or-shorter one holds (known true), the common case, and is small
// enough to inline where every packet's ends are looked up (Contains, with
// its call, is not). known false: ask Contains.
func (s *Set) Quick(a netip.Addr) (in, known bool) {
	// As16, not As4: As4's panic path costs more than the inlining budget
	// allows. An IPv4 address is ::ffff:a.b.c.d there.
	c := s.v4first[a.As16()[12]]
	return c == v4All, a.Is4() && c != v4Some
}

func (s *Set) contains(a netip.Addr) bool {
	if a.Is4() || a.Is4In6() {
		b := a.As4()
		switch s.v4first[b[0]] {
		case v4None:
			return false
		case v4All:
			return true
		}
		v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		for _, n := range s.v4 {
			if v&n.mask == n.value {
				return true
			}
		}
		return false
	}
	for _, p := range s.v6 {
		if p.Contains(a) {
			return true
		}
	}
	if l := s.learned.Load(); l != nil {
		for _, p := range *l {
			if p.Contains(a) {
				return true
			}
		}
	}
	return false
}

// Learn adds an IPv6 prefix found on the wire (a router advertisement's) and
// reports whether it is new. Prefixes already inside the set, and any beyond
// MaxLearned, are not added. Safe for concurrent use with Contains.
func (s *Set) Learn(p netip.Prefix) bool {
	p = p.Masked()
	if !p.IsValid() || !p.Addr().Is6() || p.Addr().Is4In6() || s.Contains(p.Addr()) && s.covers(p) {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var cur []netip.Prefix
	if l := s.learned.Load(); l != nil {
		cur = *l
	}
	for _, q := range cur {
		if q.Overlaps(p) && q.Bits() <= p.Bits() {
			return false
		}
	}
	if len(cur) >= MaxLearned {
		s.refused.Add(1)
		return false
	}
	next := append(append(make([]netip.Prefix, 0, len(cur)+1), cur...), p)
	s.learned.Store(&next)
	return true
}

// covers reports whether a configured or learned prefix holds all of p.
func (s *Set) covers(p netip.Prefix) bool {
	for _, q := range s.v6 {
		if q.Bits() <= p.Bits() && q.Contains(p.Addr()) {
			return true
		}
	}
	if l := s.learned.Load(); l != nil {
		for _, q := range *l {
			if q.Bits() <= p.Bits() && q.Contains(p.Addr()) {
				return true
			}
		}
	}
	return false
}

// Learned returns the prefixes learned so far, in the order learned, and how
// many were refused because MaxLearned were held.
func (s *Set) Learned() ([]netip.Prefix, uint64) {
	var out []netip.Prefix
	if l := s.learned.Load(); l != nil {
		out = append(out, *l...)
	}
	return out, s.refused.Load()
}

// Prefixes returns the prefixes the set was built from.
func (s *Set) Prefixes() []netip.Prefix { return append([]netip.Prefix(nil), s.prefixes...) }

// String renders the set as the comma-separated list Parse accepts.
func (s *Set) String() string {
	parts := make([]string, len(s.prefixes))
	for i, p := range s.prefixes {
		parts[i] = p.String()
	}
	return strings.Join(parts, ",")
}
