package hostid

import (
	"strings"
	"testing"
)

// knownDomainRef is knownDomain as it was before its length check: the last
// two labels against every rule domain.
func knownDomainRef(name string) bool {
	dot := strings.LastIndexByte(name, '.')
	if dot <= 0 {
		return false
	}
	if d := strings.LastIndexByte(name[:dot], '.'); d >= 0 {
		name = name[d+1:]
	}
	for _, r := range ruleDomains {
		if strings.EqualFold(name, r) {
			return true
		}
	}
	return false
}

// FuzzKnownDomain: the length check changes no answer, for ASCII names and
// for names whose Unicode folds to a rule's ASCII at another length (the
// Kelvin sign is k, the long s is s).
func FuzzKnownDomain(f *testing.F) {
	for _, n := range []string{"gs.apple.com", "GS.APPLE.COM", "www.windows.com", "x.windowſ.com", "a.microſoft.com",
		"ntp.org", "pool.ntp.org.", "example.com", "apple.com.evil", ".com", "com", "", "a.b.\u212Aubuntu.com", "x.msftncsi.com"} {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if got, want := knownDomain(name), knownDomainRef(name); got != want {
			t.Fatalf("knownDomain(%q) = %v, want %v", name, got, want)
		}
	})
}
