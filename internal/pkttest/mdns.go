package pkttest

import (
	"net"
	"net/netip"

	"github.com/miekg/dns"
)

// MDNSAnnounce builds an mDNS response a Bonjour host sends at startup:
// its address record, _device-info._tcp TXT with model (and osxvers when
// non-zero), and optionally a _companion-link._tcp advertisement.
func MDNSAnnounce(host string, addr netip.Addr, model string, osxvers string, companion bool) []byte {
	m := new(dns.Msg)
	m.Response, m.Authoritative = true, true
	name := host + ".local."
	if addr.Is4() {
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET | 0x8000, Ttl: 120}, A: net.IP(addr.AsSlice())})
	} else {
		m.Answer = append(m.Answer, &dns.AAAA{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET | 0x8000, Ttl: 120}, AAAA: net.IP(addr.AsSlice())})
	}
	if model != "" {
		txt := []string{"model=" + model}
		if osxvers != "" {
			txt = append(txt, "osxvers="+osxvers)
		}
		m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: host + "._device-info._tcp.local.", Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 4500}, Txt: txt})
	}
	if companion {
		inst := host + "._companion-link._tcp.local."
		m.Answer = append(m.Answer, &dns.PTR{Hdr: dns.RR_Header{Name: "_companion-link._tcp.local.", Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: 4500}, Ptr: inst},
			&dns.SRV{Hdr: dns.RR_Header{Name: inst, Rrtype: dns.TypeSRV, Class: dns.ClassINET | 0x8000, Ttl: 120}, Port: 49152, Target: name})
	}
	b, err := m.Pack()
	if err != nil {
		panic(err)
	}
	return b
}
