package pipeline

import (
	"testing"

	"golang.org/x/net/publicsuffix"
)

// The cache answers what the public suffix list answers, hit or miss, for
// names that collide in its slots too.
func TestRegDomains(t *testing.T) {
	var r regDomains
	names := []string{"a.b.example.com", "example.com", "com", "x.co.uk", "co.uk", "foo.local", "", "a..b", "c2.duckdns.org"}
	for i := range 2000 {
		names = append(names, "h"+string(rune('a'+i%26))+".n"+string(rune('a'+i/26%26))+".example.net")
	}
	for round := range 2 {
		for _, n := range names {
			want, err := publicsuffix.EffectiveTLDPlusOne(n)
			got, ok := r.of(n)
			if ok != (err == nil) || (ok && got != want) {
				t.Fatalf("round %d: of(%q) = %q, %v; want %q, %v", round, n, got, ok, want, err)
			}
		}
	}
}
