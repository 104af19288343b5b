package host

import "net/netip"

// maxRecentAddrs bounds the rings RecentAddrs reads (the binder's and
// hostid's keep 8 addresses a MAC).
const maxRecentAddrs = 16

// RecentAddrs counts what the router rule compares with --router-ips: the
// distinct IPv4 addresses and IPv6 /64 prefixes among the n addresses at
// gives (at most maxRecentAddrs), seen within ttl before ts. Link-local
// addresses are left aside: every host has one besides its global ones.
// The host binder and hostid's table each keep such a ring per MAC; this is
// the rule both apply.
func RecentAddrs(n int, at func(i int) (netip.Addr, int64), ts, ttl int64) (v4, v6 int) {
	var seen [maxRecentAddrs]netip.Prefix
	for i := range min(n, maxRecentAddrs) {
		a, last := at(i)
		if !a.IsValid() || a.IsLinkLocalUnicast() || ts-last > ttl {
			continue
		}
		if a.Is4() || a.Is4In6() {
			v4++
			continue
		}
		p, _ := a.Prefix(64)
		dup := false
		for _, q := range seen[:v6] {
			dup = dup || q == p
		}
		if !dup {
			seen[v6] = p
			v6++
		}
	}
	return v4, v6
}
