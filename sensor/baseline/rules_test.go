package baseline

import (
	"net/netip"
	"slices"
	"testing"
)

// Every rule RuleNames lists is the name the judges give when it approves.
func TestRuleNamesNameWhatMatches(t *testing.T) {
	b, err := Parse([]byte("approved_destinations: [updates.example.com, \"*.cdn.example\", \"api-?.example.org\", 192.0.2.0/24]\napproved_labels: [com.example.agent, \"com.corp.*\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	dests, jobs := b.RuleNames()
	for _, d := range []Destination{
		{Name: "updates.example.com"}, {Name: "a.cdn.example"}, {Name: "api-1.example.org"},
		{Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.7")}},
	} {
		r, ok := b.DestinationRule(d)
		if !ok || !slices.Contains(dests, r) {
			t.Errorf("%+v matched rule %q (%v), not among RuleNames %v", d, r, ok, dests)
		}
	}
	for _, l := range []string{"com.example.agent", "com.corp.sync"} {
		v := b.JudgeJob(Job{Label: l}, Destination{Name: "x.example.net"})
		if !v.Approved || v.Rule == nil || !slices.Contains(jobs, v.Rule.Name) {
			t.Errorf("%s: verdict %+v, not approved by a rule among RuleNames %v", l, v, jobs)
		}
	}
}
