package doh

import (
	"net/netip"
	"testing"
)

func TestSession(t *testing.T) {
	for _, tc := range []struct {
		name     string
		addr     string
		port     uint16
		provider string
	}{
		{"", "1.1.1.1", 443, "Cloudflare"},
		{"", "::ffff:1.1.1.1", 443, "Cloudflare"},
		{"", "2606:4700:4700::1111", 853, "Cloudflare"},
		{"", "1.1.1.1", 53, ""}, // plain DNS: the span sees it
		{"", "8.8.8.8", 443, "Google"},
		{"dns.google", "203.0.113.9", 443, "Google"},
		{"", "2620:fe::fe", 443, "Quad9"},
		{"abc123.dns.nextdns.io", "198.51.100.1", 443, "NextDNS"},
		{"", "45.90.28.77", 443, "NextDNS"},
		{"doh.dns.apple.com", "17.0.0.1", 443, "Apple"},
		{"mask.icloud.com", "17.0.0.2", 443, "Apple"},
		{"", "94.140.14.14", 443, "AdGuard"},
		{"", "208.67.222.222", 443, "OpenDNS"},
		{"mozilla.cloudflare-dns.com", "104.16.248.249", 443, "Cloudflare"},
		{"doh.cleanbrowsing.org", "185.228.168.10", 443, "CleanBrowsing"},
		{"www.example.com", "93.184.216.34", 443, ""},
		{"notdns.nextdns.io", "198.51.100.1", 443, ""},
		{"evil-dns.google.example", "198.51.100.1", 443, ""},
	} {
		p, ok := Session(tc.name, netip.MustParseAddr(tc.addr), tc.port)
		if p != tc.provider || ok != (tc.provider != "") {
			t.Errorf("Session(%q, %s, %d) = %q, %v; want %q", tc.name, tc.addr, tc.port, p, ok, tc.provider)
		}
	}
}

func TestListIsWellFormed(t *testing.T) {
	seen := map[string]string{}
	for _, r := range Resolvers {
		if r.Provider == "" || len(r.Hosts) == 0 {
			t.Errorf("%+v: a provider needs a name and a host", r)
		}
		for _, h := range r.Hosts {
			if prev, ok := seen[h]; ok {
				t.Errorf("%s listed by %s and %s", h, prev, r.Provider)
			}
			seen[h] = r.Provider
		}
	}
}

func TestLookupsDoNotAllocate(t *testing.T) {
	a := netip.MustParseAddr("45.90.30.1")
	if n := testing.AllocsPerRun(100, func() {
		Session("abc.dns.nextdns.io", a, 443)
		Session("www.example.com", a, 443)
	}); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}
