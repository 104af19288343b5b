package dhcp

import (
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/launchtap/launchtap/internal/pkttest"
)

func FuzzParseV4(f *testing.F) {
	f.Add(pkttest.DHCP4{Type: layers.DHCPMsgTypeRequest, CHAddr: [6]byte{1}, Hostname: "h", Vendor: "MSFT 5.0",
		PRL: []byte{1, 121, 3, 6, 15, 108, 114, 119, 252, 95, 44, 46}}.Bytes())
	for _, rel := range []string{"real/DHCP.pcap", "real/cs_dhcp_inlease_renewal.pcapng"} {
		for _, b := range realPayloads(f, rel, ServerPort, ClientPort) {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m V4
		if ParseV4(b, &m) == nil {
			ClassifyV4(&m)
		}
	})
}

func FuzzParseV6(f *testing.F) {
	for _, b := range realPayloads(f, "real/dhcpv6.pcap", Client6Port, Server6Port) {
		f.Add(b)
	}
	f.Add([]byte{RelayForw6, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m V6
		if ParseV6(b, &m) == nil {
			ClassifyV6(&m)
			DUIDMAC(m.ClientDUID)
			FQDNString(m.FQDN)
			OROString(m.ORO)
		}
	})
}
