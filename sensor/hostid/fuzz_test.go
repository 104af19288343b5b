package hostid

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/launchtap/launchtap/internal/pkttest"
	"github.com/launchtap/launchtap/sensor/decode"
)

// FuzzObserve drives the whole table with arbitrary packets: header fields
// from the first bytes, the rest as payload on a signal port. Whatever
// arrives, Observe, Lookup and Hosts must not panic and bounds must hold.
func FuzzObserve(f *testing.F) {
	mac := [6]byte{0x3c, 0x22, 0xfb, 1, 2, 3}
	seed := func(proto uint8, flags uint8, sport, dport uint16, payload []byte) {
		hdr := make([]byte, 12)
		hdr[0], hdr[1] = proto, flags
		binary.BigEndian.PutUint16(hdr[2:], sport)
		binary.BigEndian.PutUint16(hdr[4:], dport)
		hdr[6] = 64
		f.Add(append(hdr, payload...))
	}
	seed(decode.ProtoUDP, 0, 68, 67, pkttest.DHCP4{Type: layers.DHCPMsgTypeRequest, CHAddr: mac,
		PRL: []byte{1, 121, 3, 6, 15, 108, 114, 119, 252, 95, 44, 46}, Hostname: "mbp"}.Bytes())
	seed(decode.ProtoUDP, 0, 67, 68, pkttest.DHCP4{Reply: true, Type: layers.DHCPMsgTypeAck, CHAddr: mac,
		YIAddr: netip.MustParseAddr("10.0.0.9"), Lease: 60}.Bytes())
	seed(decode.ProtoUDP, 0, 5353, 5353, pkttest.MDNSAnnounce("mbp", netip.MustParseAddr("10.0.0.9"), "MacBookPro18,3", "23", true))
	seed(decode.ProtoUDP, 0, 546, 547, []byte{1, 0, 0, 1, 0, 6, 0, 2, 0, 23})
	seed(decode.ProtoTCP, decode.TCPSyn|decode.TCPEce|decode.TCPCwr, 50000, 443, pkttest.Darwin.Options(1460, 1))
	seed(decode.ProtoTCP, decode.TCPAck, 50000, 80, []byte("GET / HTTP/1.1\r\nUser-Agent: CFNetwork/1 Darwin/23\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 12 {
			return
		}
		tb, err := NewTable(Config{MaxHosts: 4})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			p := decode.Packet{TS: int64(i+1) * 1e9, Proto: b[0], TCPFlags: b[1],
				SrcPort: binary.BigEndian.Uint16(b[2:]), DstPort: binary.BigEndian.Uint16(b[4:]),
				TTL: b[6], DF: b[7]&1 != 0, IPID: uint16(b[8]), HasMAC: b[9]&1 != 0,
				Src: netip.AddrFrom4([4]byte{10, 0, b[10] & 3, byte(i)}), Dst: netip.AddrFrom4([4]byte{224, 0, 0, 251}),
				SrcMAC: [6]byte{2, 0, 0, 0, b[11] & 3, byte(i)}}
			body := b[12:]
			if p.Proto == decode.ProtoTCP && p.TCPFlags&decode.TCPSyn != 0 {
				p.TCPOptions = body
			} else {
				p.Payload, p.PayloadLen = body, uint32(len(body))
			}
			tb.Observe(&p)
			tb.ObserveDNSQuery(p.Src, p.SrcMAC, p.HasMAC, string(body), p.TS)
			v := tb.Lookup(p.Src, p.SrcMAC, p.HasMAC)
			if v.Confidence < 0 || v.Confidence > 1 || v.OS == "" {
				t.Fatalf("verdict %+v", v)
			}
		}
		if n := len(tb.Hosts()); n > 4 {
			t.Fatalf("%d hosts in a table bounded at 4", n)
		}
	})
}
