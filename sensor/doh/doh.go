// Package doh knows the well-known public encrypted-DNS resolvers (DNS over
// HTTPS, and DNS over TLS or QUIC on port 853) by host name and by their
// published anycast addresses. A host that talks to one resolves names where
// the span cannot see them: its connections to the resolver are not beacon
// destinations, and the host is reported as a DNS blind spot.
//
// The list is built in and small; lookups allocate nothing.
package doh

import (
	"net/netip"
	"strings"
)

// Resolver is one provider's service.
type Resolver struct {
	Provider string   // "Cloudflare", "Google", ...
	Hosts    []string // DoH/DoT host names
	Addrs    []string // anycast addresses or prefixes, v4 and v6
	// Suffixes are parent domains whose every name is the provider's
	// resolver (per-profile names such as abc123.dns.nextdns.io).
	Suffixes []string
}

// Resolvers is the built-in list, from each provider's published setup
// pages (and Mozilla's and Apple's built-in resolver lists).
var Resolvers = []Resolver{
	{Provider: "Cloudflare",
		Hosts: []string{"cloudflare-dns.com", "one.one.one.one", "1dot1dot1dot1.cloudflare-dns.com",
			"security.cloudflare-dns.com", "family.cloudflare-dns.com", "mozilla.cloudflare-dns.com", "chrome.cloudflare-dns.com"},
		Addrs: []string{"1.1.1.1", "1.0.0.1", "1.1.1.2", "1.0.0.2", "1.1.1.3", "1.0.0.3",
			"2606:4700:4700::1111", "2606:4700:4700::1001", "2606:4700:4700::1112", "2606:4700:4700::1002",
			"2606:4700:4700::1113", "2606:4700:4700::1003", "162.159.36.1", "162.159.46.1"}},
	{Provider: "Google",
		Hosts: []string{"dns.google", "dns.google.com", "dns64.dns.google", "8888.google"},
		Addrs: []string{"8.8.8.8", "8.8.4.4", "2001:4860:4860::8888", "2001:4860:4860::8844",
			"2001:4860:4860::6464", "2001:4860:4860::64"}},
	{Provider: "Quad9",
		Hosts: []string{"dns.quad9.net", "dns9.quad9.net", "dns10.quad9.net", "dns11.quad9.net", "dns12.quad9.net"},
		Addrs: []string{"9.9.9.9", "149.112.112.112", "9.9.9.10", "149.112.112.10", "9.9.9.11", "149.112.112.11",
			"9.9.9.12", "149.112.112.12", "2620:fe::fe", "2620:fe::9", "2620:fe::10", "2620:fe::fe:10",
			"2620:fe::11", "2620:fe::fe:11", "2620:fe::12", "2620:fe::fe:12"}},
	{Provider: "Apple",
		// Apple's own encrypted resolver and iCloud Private Relay's ingress,
		// which carries the host's DNS as well as its browsing.
		Hosts: []string{"doh.dns.apple.com", "doh.dns.apple.com.v.aaplimg.com", "mask.icloud.com", "mask-h2.icloud.com", "mask-api.icloud.com"}},
	{Provider: "NextDNS",
		Hosts:    []string{"dns.nextdns.io", "firefox.dns.nextdns.io", "chromium.dns.nextdns.io", "anycast.dns.nextdns.io", "dns1.nextdns.io", "dns2.nextdns.io"},
		Suffixes: []string{"dns.nextdns.io"},
		Addrs:    []string{"45.90.28.0/24", "45.90.30.0/24", "2a07:a8c0::/32", "2a07:a8c1::/32"}},
	{Provider: "AdGuard",
		Hosts: []string{"dns.adguard-dns.com", "unfiltered.adguard-dns.com", "family.adguard-dns.com",
			"dns.adguard.com", "dns-unfiltered.adguard.com", "dns-family.adguard.com"},
		Suffixes: []string{"d.adguard-dns.com"},
		Addrs: []string{"94.140.14.14", "94.140.15.15", "94.140.14.140", "94.140.14.141", "94.140.14.15", "94.140.15.16",
			"2a10:50c0::ad1:ff", "2a10:50c0::ad2:ff", "2a10:50c0::1:ff", "2a10:50c0::2:ff", "2a10:50c0::bad1:ff", "2a10:50c0::bad2:ff"}},
	{Provider: "OpenDNS",
		Hosts: []string{"doh.opendns.com", "doh.familyshield.opendns.com", "doh.sandbox.opendns.com", "doh.umbrella.com", "dns.umbrella.com"},
		Addrs: []string{"208.67.222.222", "208.67.220.220", "208.67.222.123", "208.67.220.123", "208.67.222.2", "208.67.220.2",
			"2620:119:35::35", "2620:119:53::53", "2620:0:ccc::2", "2620:0:ccd::2", "2620:119:fc::123", "2620:119:fc::2"}},
	{Provider: "CleanBrowsing",
		Hosts: []string{"doh.cleanbrowsing.org"},
		Addrs: []string{"185.228.168.9", "185.228.169.9", "185.228.168.10", "185.228.169.11", "185.228.168.168", "185.228.169.168",
			"2a0d:2a00:1::", "2a0d:2a00:2::", "2a0d:2a00:1::1", "2a0d:2a00:2::1", "2a0d:2a00:1::2", "2a0d:2a00:2::2"}},
	{Provider: "Mullvad",
		Hosts:    []string{"dns.mullvad.net", "adblock.dns.mullvad.net", "base.dns.mullvad.net", "extended.dns.mullvad.net", "family.dns.mullvad.net", "all.dns.mullvad.net", "doh.mullvad.net"},
		Addrs:    []string{"194.242.2.2", "194.242.2.3", "194.242.2.4", "194.242.2.5", "194.242.2.6", "194.242.2.9", "2a07:e340::2", "2a07:e340::3", "2a07:e340::4", "2a07:e340::5", "2a07:e340::6", "2a07:e340::9"},
		Suffixes: []string{"dns.mullvad.net"}},
	{Provider: "Control D",
		Hosts:    []string{"freedns.controld.com", "dns.controld.com"},
		Suffixes: []string{"dns.controld.com"},
		Addrs:    []string{"76.76.2.0/24", "76.76.10.0/24", "2606:1a40::/48", "2606:1a40:1::/48"}},
	{Provider: "CIRA Canadian Shield",
		Hosts: []string{"private.canadianshield.cira.ca", "protected.canadianshield.cira.ca", "family.canadianshield.cira.ca"},
		Addrs: []string{"149.112.121.10", "149.112.122.10", "149.112.121.20", "149.112.122.20", "149.112.121.30", "149.112.122.30",
			"2620:10a:80bb::10", "2620:10a:80bc::10", "2620:10a:80bb::20", "2620:10a:80bc::20", "2620:10a:80bb::30", "2620:10a:80bc::30"}},
	{Provider: "Comcast Xfinity",
		Hosts: []string{"doh.xfinity.com"}},
	{Provider: "DNS.SB",
		Hosts: []string{"doh.dns.sb", "doh.sb", "dot.sb"},
		Addrs: []string{"185.222.222.222", "45.11.45.11", "2a09::", "2a11::"}},
}

// Ports on which a resolver's address speaks encrypted DNS: 443 (DoH over
// HTTP/2 or HTTP/3) and 853 (DNS over TLS or QUIC). Plain DNS to the same
// addresses on port 53 is visible to the span and stays DNS.
const (
	PortHTTPS = 443
	PortDoT   = 853
)

var (
	byHost   = map[string]string{}
	byAddr   = map[netip.Addr]string{}
	prefixes []netPrefix
	suffixes []suffix
)

type netPrefix struct {
	p        netip.Prefix
	provider string
}

type suffix struct {
	dotted   string // ".dns.nextdns.io"
	provider string
}

func init() {
	for _, r := range Resolvers {
		for _, h := range r.Hosts {
			byHost[h] = r.Provider
		}
		for _, s := range r.Suffixes {
			suffixes = append(suffixes, suffix{"." + s, r.Provider})
		}
		for _, a := range r.Addrs {
			if strings.Contains(a, "/") {
				prefixes = append(prefixes, netPrefix{netip.MustParsePrefix(a), r.Provider})
				continue
			}
			byAddr[netip.MustParseAddr(a)] = r.Provider
		}
	}
}

// ByName returns the provider whose resolver host name is name (lower case,
// no trailing dot).
func ByName(name string) (string, bool) {
	if p, ok := byHost[name]; ok {
		return p, true
	}
	for _, s := range suffixes {
		if strings.HasSuffix(name, s.dotted) {
			return s.provider, true
		}
	}
	return "", false
}

// ByAddr returns the provider whose published resolver address a is.
func ByAddr(a netip.Addr) (string, bool) {
	a = a.Unmap()
	if p, ok := byAddr[a]; ok {
		return p, true
	}
	for _, np := range prefixes {
		if np.p.Contains(a) {
			return np.provider, true
		}
	}
	return "", false
}

// Session returns the provider when a session is encrypted DNS: to a
// resolver host name on any port, or to a resolver address on an encrypted
// DNS port.
func Session(name string, addr netip.Addr, port uint16) (string, bool) {
	if name != "" {
		if p, ok := ByName(name); ok {
			return p, true
		}
	}
	if port != PortHTTPS && port != PortDoT {
		return "", false
	}
	return ByAddr(addr)
}
