package pipeline

import (
	"hash/maphash"

	"golang.org/x/net/publicsuffix"
)

// regDomains remembers the registered domain (eTLD+1) of the names a worker
// saw lately: a host asks the same few names again and again, and the public
// suffix list's search was 4.5 % of an office capture's replay. The cache is
// direct-mapped by a hash of the name, so it is bounded and a name that
// misses costs one lookup more than without it. The hash is the one the
// DNS-channel tables file a name under (dnsNames), and a slot keeps its
// domain's too: a query hashes its name once and its domain never.
type regDomains struct {
	seed  maphash.Seed
	slots [regDomainSlots]regDomain
}

// regDomain is what a query's name tells the DNS-channel tables.
type regDomain struct {
	name, domain      string
	nameHash, domHash uint64 // dnsNames.hash of name and of domain
	ok                bool   // domain is valid (EffectiveTLDPlusOne gave no error)
	local             bool   // domain is a local or reverse-lookup zone (isLocalName)
}

const regDomainSlots = 512 // a power of two

// of is publicsuffix.EffectiveTLDPlusOne(name), with ok for its error's
// absence, and the names' hashes. The slot it returns is valid until the next
// call.
func (r *regDomains) of(name string) *regDomain {
	h := maphash.String(r.seed, name)
	s := &r.slots[h&(regDomainSlots-1)]
	if s.name == name && name != "" {
		return s
	}
	d, err := publicsuffix.EffectiveTLDPlusOne(name)
	*s = regDomain{name: name, domain: d, nameHash: h, ok: err == nil, local: isLocalName(d)}
	if s.ok {
		s.domHash = maphash.String(r.seed, d)
	}
	return s
}
