package synth

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/miekg/dns"
)

// optionKinds lists a SYN's TCP option kinds, with window scale values.
func synShape(tc *layers.TCP) (kinds []layers.TCPOptionKind, ws int) {
	ws = -1
	for _, o := range tc.Options {
		kinds = append(kinds, o.OptionType)
		if o.OptionType == layers.TCPOptionKindWindowScale {
			ws = int(o.OptionData[0])
		}
		if o.OptionType == layers.TCPOptionKindEndList {
			break
		}
	}
	return kinds, ws
}

func TestSYNFingerprints(t *testing.T) {
	const (
		mss  = layers.TCPOptionKindMSS
		nopK = layers.TCPOptionKindNop
		ws   = layers.TCPOptionKindWindowScale
		ts   = layers.TCPOptionKindTimestamps
		sok  = layers.TCPOptionKindSACKPermitted
		eolK = layers.TCPOptionKindEndList
	)
	tests := []struct {
		name  string
		src   string
		ttl   uint8
		wins  []uint16
		kinds []layers.TCPOptionKind
		ws    int
		ipID0 bool
		ecn   bool // at least one ECN-setup SYN expected
	}{
		{"macOS", DemoBeaconIP, 64, []uint16{65535}, []layers.TCPOptionKind{mss, nopK, ws, nopK, nopK, ts, sok, eolK}, 6, true, true},
		{"Windows 11", "10.20.2.40", 128, []uint16{64240, 65535, 8192}, []layers.TCPOptionKind{mss, nopK, ws, nopK, nopK, sok}, 8, false, false},
		{"Linux", "10.20.3.9", 64, []uint16{64240}, []layers.TCPOptionKind{mss, sok, ts, nopK, ws}, 7, false, false},
	}
	m, _, _ := gen(t, "demo", demoSeed, Options{}, true)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := netip.MustParseAddr(tt.src)
			n, ecn := 0, 0
			for _, f := range m.frames {
				p := gopacket.NewPacket(f.data, layers.LayerTypeEthernet, gopacket.NoCopy)
				ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
				tc, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
				if ip == nil || tc == nil || !tc.SYN || tc.ACK {
					continue
				}
				if a, _ := netip.AddrFromSlice(ip.SrcIP.To4()); a != src {
					continue
				}
				n++
				if ip.TTL != tt.ttl || ip.Flags&layers.IPv4DontFragment == 0 {
					t.Fatalf("SYN TTL %d flags %v, want TTL %d with DF", ip.TTL, ip.Flags, tt.ttl)
				}
				if !slices.Contains(tt.wins, tc.Window) {
					t.Fatalf("SYN window %d, want one of %v", tc.Window, tt.wins)
				}
				kinds, w := synShape(tc)
				if !slices.Equal(kinds, tt.kinds) || w != tt.ws {
					t.Fatalf("SYN options %v ws %d, want %v ws %d", kinds, w, tt.kinds, tt.ws)
				}
				if tt.ipID0 && ip.Id != 0 {
					t.Fatalf("Darwin SYN with IP ID %d, want 0", ip.Id)
				}
				if tc.ECE && tc.CWR {
					ecn++
				}
			}
			if n < 10 {
				t.Fatalf("only %d SYNs from %s", n, tt.src)
			}
			if tt.ecn != (ecn > 0) {
				t.Fatalf("%d of %d SYNs ECN-setup; want some: %v", ecn, n, tt.ecn)
			}
		})
	}
}

func TestDHCPAndMDNSSignals(t *testing.T) {
	m, _, _ := gen(t, "demo", demoSeed, Options{}, true)
	prl := map[string][]byte{}
	host := map[string]string{}
	txt := map[string]string{}
	for _, f := range m.frames {
		p := gopacket.NewPacket(f.data, layers.LayerTypeEthernet, gopacket.Default)
		if d, ok := p.Layer(layers.LayerTypeDHCPv4).(*layers.DHCPv4); ok && d.Operation == layers.DHCPOpRequest {
			mac := d.ClientHWAddr.String()
			for _, o := range d.Options {
				switch o.Type {
				case layers.DHCPOptParamsRequest:
					prl[mac] = o.Data
				case layers.DHCPOptHostname:
					host[mac] = string(o.Data)
				case layers.DHCPOptClientID:
					if !bytes.Equal(o.Data[1:], d.ClientHWAddr) {
						t.Fatalf("client id %x does not carry MAC %s", o.Data, mac)
					}
				}
			}
		}
		if u, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP); ok && u.SrcPort == 5353 {
			var msg dns.Msg
			if err := msg.Unpack(u.Payload); err != nil {
				t.Fatal(err)
			}
			eth := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
			for _, rr := range msg.Answer {
				if x, ok := rr.(*dns.TXT); ok && strings.Contains(x.Hdr.Name, "_device-info._tcp.local.") {
					txt[eth.SrcMAC.String()] = strings.Join(x.Txt, " ")
				}
			}
		}
	}
	tests := []struct {
		mac, prl, hostname, txt string
	}{
		{DemoBeaconMAC, "1,121,3,6,15,108,114,119,252,95,44,46", "alices-mbp", "model=MacBookPro18,3 osxvers=23"},
		{"3c:22:fb:44:55:66", "1,121,3,6,15,108,114,119,252,95,44,46", "bobs-mbp", "model=MacBookPro18,3 osxvers=23"},
		{"00:15:5d:07:07:07", "1,3,6,15,31,33,43,44,46,47,119,121,249,252", "WIN-DESK-07", ""},
		{"52:54:00:12:34:56", "1,28,2,3,15,6,119,12,44,47,26,121,42", "build-linux", ""},
	}
	for _, tt := range tests {
		var got []string
		for _, b := range prl[tt.mac] {
			got = append(got, itoa(int(b)))
		}
		if strings.Join(got, ",") != tt.prl || host[tt.mac] != tt.hostname || txt[tt.mac] != tt.txt {
			t.Errorf("%s: option 55 %v hostname %q TXT %q; want %s %q %q", tt.mac, got, host[tt.mac], txt[tt.mac], tt.prl, tt.hostname, tt.txt)
		}
	}
	iphones := 0
	for mac, v := range txt {
		if strings.HasPrefix(v, "model=iPhone14,2") {
			iphones++
			var got []string
			for _, b := range prl[mac] {
				got = append(got, itoa(int(b)))
			}
			if strings.Join(got, ",") != "1,121,3,6,15,108,114,119,252" {
				t.Errorf("iPhone %s option 55 %v", mac, got)
			}
		}
	}
	if iphones == 0 {
		t.Error("no iPhone announced model=iPhone14,2")
	}
}

func itoa(v int) string {
	if v < 10 {
		return string(rune('0' + v))
	}
	return itoa(v/10) + string(rune('0'+v%10))
}

// TestUserAgents: cleartext HTTP in the evaluation carries per-OS
// User-Agents (CFNetwork/Darwin from Apple hosts, never from others).
func TestUserAgents(t *testing.T) {
	m, labels, _ := gen(t, "eval-noise", 4, Options{}, true)
	osOf := map[string]string{}
	for _, l := range labels {
		osOf[l.SrcIP] = l.OS
	}
	seen := map[string]int{}
	for _, f := range m.frames {
		p := gopacket.NewPacket(f.data, layers.LayerTypeEthernet, gopacket.NoCopy)
		tc, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		if tc == nil || tc.DstPort != 80 || !bytes.HasPrefix(tc.Payload, []byte("GET ")) {
			continue
		}
		var ua string
		for _, line := range strings.Split(string(tc.Payload), "\r\n") {
			if v, ok := strings.CutPrefix(line, "User-Agent: "); ok {
				ua = v
			}
		}
		os := osOf[ip.SrcIP.String()]
		cf := strings.Contains(ua, "CFNetwork/") && strings.Contains(ua, "Darwin/")
		if cf && os != "macos" && os != "ios" {
			t.Fatalf("%s host %s sent %q", os, ip.SrcIP, ua)
		}
		if cf {
			seen[os+"/cfnetwork"]++
		} else {
			seen[os]++
		}
	}
	for _, k := range []string{"macos/cfnetwork", "ios/cfnetwork", "macos", "windows", "linux"} {
		if seen[k] == 0 {
			t.Errorf("no cleartext HTTP User-Agent from %s (seen %v)", k, seen)
		}
	}
}

// TestSYNRetransmissions: in the evaluation some first SYNs are lost and
// resent 1 s later with the same port and sequence number, without ECN.
func TestSYNRetransmissions(t *testing.T) {
	m, _, _ := gen(t, "eval-noise", 2, Options{}, true)
	type key struct {
		src  string
		port layers.TCPPort
		seq  uint32
	}
	first := map[key]time.Time{}
	retrans := 0
	for _, f := range m.frames {
		p := gopacket.NewPacket(f.data, layers.LayerTypeEthernet, gopacket.NoCopy)
		tc, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tc == nil || !tc.SYN || tc.ACK {
			continue
		}
		k := key{p.NetworkLayer().NetworkFlow().Src().String(), tc.SrcPort, tc.Seq}
		if t0, ok := first[k]; ok {
			retrans++
			if d := f.ts.Sub(t0); d < 990*time.Millisecond || d > 1010*time.Millisecond {
				t.Fatalf("SYN resent after %v, want the 1 s RTO", d)
			}
			if tc.ECE || tc.CWR {
				t.Fatalf("retransmitted SYN still asks for ECN")
			}
			continue
		}
		first[k] = f.ts
	}
	if retrans == 0 || retrans > len(first)/10 {
		t.Fatalf("%d retransmitted SYNs among %d connections", retrans, len(first))
	}
}
