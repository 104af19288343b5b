package synth

import (
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/miekg/dns"
)

// TestHostLabels checks the host ground truth against the wire: every host
// label's MAC asks DHCP for its address with its hostname, sends SYNs with
// its OS's TTL, and is silent after it leaves.
func TestHostLabels(t *testing.T) {
	hosts, err := HostLabels("hosts-mix", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(hosts) != 17 {
		t.Fatalf("%d host labels, want 17", len(hosts))
	}
	m, _, _ := gen(t, "hosts-mix", 1, Options{}, true)
	type seen struct {
		dhcpHost string
		mdnsTXT  string
		synTTL   map[uint8]int
		last     time.Time
	}
	byMAC := map[string]*seen{}
	for _, f := range m.frames {
		p := gopacket.NewPacket(f.data, layers.LayerTypeEthernet, gopacket.Default)
		eth := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		s := byMAC[eth.SrcMAC.String()]
		if s == nil {
			s = &seen{synTTL: map[uint8]int{}}
			byMAC[eth.SrcMAC.String()] = s
		}
		s.last = f.ts
		if d, ok := p.Layer(layers.LayerTypeDHCPv4).(*layers.DHCPv4); ok && d.Operation == layers.DHCPOpRequest {
			for _, o := range d.Options {
				if o.Type == layers.DHCPOptHostname {
					s.dhcpHost = string(o.Data)
				}
			}
		}
		if u, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP); ok && u.SrcPort == 5353 {
			var msg dns.Msg
			if msg.Unpack(u.Payload) == nil {
				for _, rr := range msg.Answer {
					if x, ok := rr.(*dns.TXT); ok && strings.Contains(x.Hdr.Name, "_device-info") {
						s.mdnsTXT = strings.Join(x.Txt, " ")
					}
				}
			}
		}
		if tc, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP); ok && tc.SYN && !tc.ACK {
			if ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok {
				s.synTTL[ip.TTL]++
			}
		}
	}
	wantTTL := map[string]uint8{"macos": 64, "ios": 64, "linux": 64, "windows": 128}
	ips := map[string]int{}
	for _, h := range hosts {
		ips[h.IP]++
		s := byMAC[h.MAC]
		if s == nil {
			t.Fatalf("%s (%s): no frames from its MAC", h.Hostname, h.MAC)
		}
		if !strings.EqualFold(s.dhcpHost, h.Hostname) {
			t.Errorf("%s: DHCP hostname %q", h.Hostname, s.dhcpHost)
		}
		if len(s.synTTL) != 1 || s.synTTL[wantTTL[h.OS]] == 0 {
			t.Errorf("%s (%s): SYN TTLs %v, want only %d", h.Hostname, h.OS, s.synTTL, wantTTL[h.OS])
		}
		switch {
		case strings.Contains(h.Note, "MacSamba"):
			if s.mdnsTXT != "model=MacSamba" {
				t.Errorf("%s: device-info %q, want the Samba spoof", h.Hostname, s.mdnsTXT)
			}
		case h.OS == "macos" || h.OS == "ios":
			if !strings.HasPrefix(s.mdnsTXT, "model="+h.Model) {
				t.Errorf("%s: device-info %q, want model=%s", h.Hostname, s.mdnsTXT, h.Model)
			}
		case s.mdnsTXT != "":
			t.Errorf("%s (%s) announced %q", h.Hostname, h.OS, s.mdnsTXT)
		}
		if h.Until != nil && s.last.After(h.Until.Add(3*time.Minute)) {
			t.Errorf("%s left at %v but sent a frame at %v", h.Hostname, h.Until, s.last)
		}
	}
	if ips["10.20.7.50"] != 2 {
		t.Errorf("DHCP churn: 10.20.7.50 held by %d hosts, want 2", ips["10.20.7.50"])
	}
}
