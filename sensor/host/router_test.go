package host

import (
	"net/netip"
	"testing"
)

func TestRecentAddrs(t *testing.T) {
	const ttl = 100
	mp := netip.MustParseAddr
	for _, c := range []struct {
		name   string
		addrs  []recentAddr
		v4, v6 int
	}{
		{"nothing", nil, 0, 0},
		{"IPv4 addresses, each", []recentAddr{{mp("10.0.0.1"), 500}, {mp("10.0.0.2"), 500}}, 2, 0},
		{"IPv4-mapped counts as IPv4", []recentAddr{{mp("::ffff:10.0.0.1"), 500}}, 1, 0},
		{"IPv6 by /64", []recentAddr{{mp("2001:db8::1"), 500}, {mp("2001:db8::2"), 500}, {mp("2001:db8:0:1::1"), 500}}, 0, 2},
		{"link-local aside", []recentAddr{{mp("fe80::1"), 500}, {mp("169.254.1.1"), 500}}, 0, 0},
		{"aged aside", []recentAddr{{mp("10.0.0.1"), 399}, {mp("10.0.0.2"), 400}}, 1, 0},
		{"invalid aside", []recentAddr{{netip.Addr{}, 500}}, 0, 0},
	} {
		v4, v6 := RecentAddrs(len(c.addrs), func(i int) (netip.Addr, int64) { return c.addrs[i].Addr, c.addrs[i].Last }, 500, ttl)
		if v4 != c.v4 || v6 != c.v6 {
			t.Errorf("%s: %d IPv4, %d IPv6 /64s; want %d, %d", c.name, v4, v6, c.v4, c.v6)
		}
	}
}

// recentAddr is a test row: an address and when it was last seen.
type recentAddr struct {
	Addr netip.Addr
	Last int64
}
