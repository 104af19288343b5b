package pipeline

import "golang.org/x/net/publicsuffix"

// regDomains remembers the registered domain (eTLD+1) of the names a worker
// saw lately: a host asks the same few names again and again, and the public
// suffix list's search was 4.5 % of an office capture's replay. The cache is
// direct-mapped by a hash of the name, so it is bounded and a name that
// misses costs one lookup more than without it.
type regDomains struct {
	slots [regDomainSlots]regDomain
}

type regDomain struct {
	name, domain string
	ok           bool // domain is valid (EffectiveTLDPlusOne gave no error)
}

const regDomainSlots = 512 // a power of two

// of is publicsuffix.EffectiveTLDPlusOne(name), with ok for its error's
// absence.
func (r *regDomains) of(name string) (domain string, ok bool) {
	h := uint32(2166136261)
	for i := 0; i < len(name); i++ {
		h = (h ^ uint32(name[i])) * 16777619
	}
	s := &r.slots[h&(regDomainSlots-1)]
	if s.name == name && name != "" {
		return s.domain, s.ok
	}
	d, err := publicsuffix.EffectiveTLDPlusOne(name)
	*s = regDomain{name: name, domain: d, ok: err == nil}
	return d, err == nil
}
