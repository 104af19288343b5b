package dhcp

import (
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/launchtap/launchtap/internal/pkttest"
	"github.com/launchtap/launchtap/internal/testenv"
	"github.com/launchtap/launchtap/sensor/decode"
)

// capturesDir is the repository's real captures (testdata/captures).
func capturesDir(t testing.TB) string {
	return filepath.Dir(testenv.Capture(t, "README.md"))
}

// realPayloads returns the UDP payloads to or from the given ports in a capture.
func realPayloads(t testing.TB, rel string, ports ...uint16) [][]byte {
	pkts, err := pkttest.ReadFile(filepath.Join(capturesDir(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, p := range pkts {
		if p.Proto != decode.ProtoUDP {
			continue
		}
		for _, port := range ports {
			if p.DstPort == port || p.SrcPort == port {
				out = append(out, p.Payload)
				break
			}
		}
	}
	return out
}

func TestParseV4Built(t *testing.T) {
	mac := [6]byte{0x3c, 0x22, 0xfb, 1, 2, 3}
	b := pkttest.DHCP4{Reply: true, Type: layers.DHCPMsgTypeAck, XID: 7, CHAddr: mac,
		YIAddr: netip.MustParseAddr("10.20.1.15"), Lease: 86400, ServerID: netip.MustParseAddr("10.20.0.1"),
		PRL: []byte{1, 121, 3, 6, 15, 108, 114, 119, 252, 95, 44, 46}, Hostname: "alices-mbp"}.Bytes()
	var m V4
	if err := ParseV4(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.Type != Ack || m.CHAddr != mac || !m.HasCHAd || m.YIAddr.String() != "10.20.1.15" ||
		m.LeaseSecs != 86400 || !m.HasLease || string(m.Hostname) != "alices-mbp" || m.ServerID.String() != "10.20.0.1" {
		t.Fatalf("parsed %+v", m)
	}
	if g := ClassifyV4(&m); g.OS != "macos" {
		t.Errorf("classified %+v, want macos", g)
	}
	for _, cut := range []int{0, 10, 239, 245} {
		if err := ParseV4(b[:cut], &m); err == nil {
			t.Errorf("truncated to %d bytes: no error", cut)
		}
	}
	bad := append([]byte(nil), b...)
	bad[240+1] = 200 // first option's length runs past the end
	if err := ParseV4(bad, &m); err != ErrBadOption {
		t.Errorf("overlong option: err = %v, want ErrBadOption", err)
	}
}

func TestClassifyPRL(t *testing.T) {
	tests := []struct {
		name string
		prl  []byte
		want string
	}{
		{"macOS 12+", []byte{1, 121, 3, 6, 15, 108, 114, 119, 252, 95, 44, 46}, "macos"},
		{"macOS without 108", []byte{1, 121, 3, 6, 15, 114, 119, 252, 95, 44, 46}, "macos"},
		{"macOS without 108,114", []byte{1, 121, 3, 6, 15, 119, 252, 95, 44, 46}, "macos"},
		{"old Mac OS X", []byte{1, 3, 6, 15, 119, 95, 252, 44, 46, 47}, "macos"},
		{"iOS 16+", []byte{1, 121, 3, 6, 15, 108, 114, 119, 252}, "ios"},
		{"iOS older", []byte{1, 121, 3, 6, 15, 119, 252}, "ios"},
		{"iOS old", []byte{1, 3, 6, 15, 119, 252}, "ios"},
		{"Apple-like other", []byte{1, 121, 3, 6, 15, 119}, "darwin"},
		{"Windows 10", []byte{1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252}, "windows"},
		{"Windows 7", []byte{1, 15, 3, 6, 44, 46, 47, 31, 33, 121, 249, 43}, "windows"},
		{"Ubuntu dhclient", []byte{1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42}, "linux"},
		{"Debian dhclient", []byte{1, 28, 2, 121, 15, 6, 12, 40, 41, 42, 26, 119, 3}, "linux"},
		{"short embedded", []byte{1, 3, 6, 42}, ""},
		{"empty", nil, ""},
	}
	for _, tt := range tests {
		if g := ClassifyPRL(tt.prl); g.OS != tt.want {
			t.Errorf("%s: %v -> %+v, want %q", tt.name, tt.prl, g, tt.want)
		}
	}
	vc := []struct{ vendor, want string }{
		{"MSFT 5.0", "windows"}, {"android-dhcp-13", "linux"}, {"dhcpcd-9.4.1:Linux-6.1.0:x86_64:GenuineIntel", "linux"},
		{"udhcp 1.36.1", "linux"}, {"PXEClient:Arch:00000", ""},
	}
	for _, tt := range vc {
		m := V4{VendorClass: []byte(tt.vendor)}
		if g := ClassifyV4(&m); g.OS != tt.want {
			t.Errorf("vendor %q -> %+v, want %q", tt.vendor, g, tt.want)
		}
	}
}

func TestRealDHCPv4(t *testing.T) {
	var parsed, malformed, linux, apple int
	for _, f := range []string{"real/DHCP.pcap", "real/cs_dhcp_inlease_renewal.pcapng", "real/cs_dhcp_nolease_initialization.pcapng"} {
		for _, b := range realPayloads(t, f, ServerPort, ClientPort) {
			var m V4
			if err := ParseV4(b, &m); err != nil {
				// DHCP.pcap holds two LeaseQuery messages whose cookie sits two
				// bytes late; they must be rejected, not misread.
				malformed++
				continue
			}
			parsed++
			switch ClassifyV4(&m).OS {
			case "linux":
				linux++
			case "macos", "ios", "darwin":
				apple++
			}
		}
	}
	// The README says these captures hold Linux/embedded clients and no Apple ones.
	if parsed < 20 || malformed != 2 || linux == 0 || apple != 0 {
		t.Errorf("parsed %d messages (%d malformed), %d Linux, %d Apple; want >= 20 (2), > 0, 0", parsed, malformed, linux, apple)
	}
}

func TestRealDHCPv6(t *testing.T) {
	msgs := realPayloads(t, "real/dhcpv6.pcap", Client6Port, Server6Port)
	if len(msgs) == 0 {
		t.Fatal("no DHCPv6 in dhcpv6.pcap")
	}
	var solicit bool
	for _, b := range msgs {
		var m V6
		if err := ParseV6(b, &m); err != nil {
			t.Fatalf("%x: %v", b, err)
		}
		if m.Type == Solicit6 {
			solicit = true
			mac, ok := DUIDMAC(m.ClientDUID)
			if !ok || mac != [6]byte{0x08, 0x00, 0x27, 0xfe, 0x8f, 0x95} {
				t.Errorf("client DUID %x: mac %x ok=%v", m.ClientDUID, mac, ok)
			}
			if OROString(m.ORO) != "23,24" {
				t.Errorf("ORO = %q, want 23,24", OROString(m.ORO))
			}
		}
	}
	if !solicit {
		t.Error("no Solicit parsed")
	}
}

func TestParseV6Relay(t *testing.T) {
	inner := []byte{Solicit6, 0, 0, 1,
		0, 16, 0, 14, 0, 0, 1, 55, 0, 8, 'M', 'S', 'F', 'T', ' ', '5', '.', '0', // vendor class, enterprise 311
		0, 39, 0, 8, 0, 4, 'd', 'e', 's', 'k', 0, 0} // FQDN
	relay := append([]byte{RelayForw6, 0}, make([]byte, 32)...)
	relay = append(relay, 0, 9, 0, byte(len(inner)))
	relay = append(relay, inner...)
	var m V6
	if err := ParseV6(relay, &m); err != nil {
		t.Fatal(err)
	}
	if m.Type != Solicit6 || ClassifyV6(&m).OS != "windows" || FQDNString(m.FQDN) != "desk" {
		t.Errorf("parsed %+v (fqdn %q)", m, FQDNString(m.FQDN))
	}
	if err := ParseV6(relay[:40], &m); err == nil {
		t.Error("truncated relay: no error")
	}
}

func BenchmarkParseV4(b *testing.B) {
	msg := pkttest.DHCP4{Type: layers.DHCPMsgTypeRequest, CHAddr: [6]byte{1}, Hostname: "x",
		PRL: []byte{1, 121, 3, 6, 15, 108, 114, 119, 252, 95, 44, 46}}.Bytes()
	b.ReportAllocs()
	var m V4
	for b.Loop() {
		if err := ParseV4(msg, &m); err != nil {
			b.Fatal(err)
		}
	}
}
