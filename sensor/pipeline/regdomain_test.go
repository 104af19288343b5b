package pipeline

import (
	"hash/maphash"
	"testing"

	"golang.org/x/net/publicsuffix"
)

// The cache answers what the public suffix list answers, hit or miss, for
// names that collide in its slots too.
func TestRegDomains(t *testing.T) {
	r := regDomains{seed: maphash.MakeSeed()}
	names := []string{"a.b.example.com", "example.com", "com", "x.co.uk", "co.uk", "foo.local", "", "a..b", "c2.duckdns.org"}
	for i := range 2000 {
		names = append(names, "h"+string(rune('a'+i%26))+".n"+string(rune('a'+i/26%26))+".example.net")
	}
	for round := range 2 {
		for _, n := range names {
			want, err := publicsuffix.EffectiveTLDPlusOne(n)
			rd := r.of(n)
			if rd.ok != (err == nil) || (rd.ok && rd.domain != want) {
				t.Fatalf("round %d: of(%q) = %q, %v; want %q, %v", round, n, rd.domain, rd.ok, want, err)
			}
			// The hashes are the ones dnsKey files the name and the domain under.
			if rd.nameHash != maphash.String(r.seed, n) || rd.ok && rd.domHash != maphash.String(r.seed, want) {
				t.Fatalf("round %d: of(%q): hashes %x, %x not the name's and the domain's", round, n, rd.nameHash, rd.domHash)
			}
			if rd.local != isLocalName(rd.domain) {
				t.Fatalf("round %d: of(%q): local %v", round, n, rd.local)
			}
		}
	}
}
