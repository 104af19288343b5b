package baseline

import (
	"net/netip"
	"slices"
	"testing"
)

// Every rule Rules lists is the name the matchers give when it matches.
func TestRulesNameWhatMatches(t *testing.T) {
	b, err := Parse([]byte("approved_destinations: [updates.example.com, \"*.cdn.example\", \"api-?.example.org\", 192.0.2.0/24]\napproved_labels: [com.example.agent, \"com.corp.*\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	dests, labels := b.Rules()
	for _, c := range []struct {
		fqdn string
		ip   string
	}{{"updates.example.com", ""}, {"a.cdn.example", ""}, {"api-1.example.org", ""}, {"", "192.0.2.7"}} {
		var ip netip.Addr
		if c.ip != "" {
			ip = netip.MustParseAddr(c.ip)
		}
		r, ok := b.ApprovedDestination(c.fqdn, ip)
		if !ok || !slices.Contains(dests, r) {
			t.Errorf("%s%s matched rule %q (%v), not among Rules %v", c.fqdn, c.ip, r, ok, dests)
		}
	}
	for _, l := range []string{"com.example.agent", "com.corp.sync"} {
		r, ok := b.ApprovedLabel(l)
		if !ok || !slices.Contains(labels, r) {
			t.Errorf("%s matched rule %q (%v), not among Rules %v", l, r, ok, labels)
		}
	}
}
