package pipeline

import (
	"net/netip"
	"testing"
	"time"

	"github.com/launchtap/launchtap/internal/pkttest"
	"github.com/launchtap/launchtap/sensor/beacon"
	"github.com/launchtap/launchtap/sensor/decode"
	"github.com/launchtap/launchtap/sensor/host"
)

// A session the capture joined mid-stream (no SYN: the sensor started, or
// the session was evicted) gets no SessionStart: its bursts are keyed by
// its host all the same.
func TestMidstreamBurstsKeyedByHost(t *testing.T) {
	r := newIdentityRun(t)
	wifi := [6]byte{0x3c, 0x22, 0xfb, 0x1a, 0x2b, 0x3c}
	a := netip.MustParseAddr("10.20.1.7")
	start := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC).UnixNano()
	for i := range 20 {
		ts := start + int64(i)*60e9
		r.feed(decode.Packet{TS: ts, Src: a, Dst: c2, SrcMAC: wifi, HasMAC: true, TTL: 64, Proto: decode.ProtoTCP, SrcPort: 50123, DstPort: 443,
			TCPFlags: decode.TCPAck | decode.TCPPsh, Payload: make([]byte, 300), PayloadLen: 300})
		r.feed(decode.Packet{TS: ts + 30e6, Src: c2, Dst: a, SrcMAC: gatewayMAC, DstMAC: wifi, HasMAC: true, TTL: 57, Proto: decode.ProtoTCP, SrcPort: 443, DstPort: 50123,
			TCPFlags: decode.TCPAck | decode.TCPPsh, Payload: make([]byte, 600), PayloadLen: 600})
	}
	r.w.det.Export(0, func(st *beacon.PairState) {
		if !st.Key.Host.IsMAC() {
			t.Errorf("pair %v (%d beats) keyed by address though %s is bound to %s", st.Key, st.Beats, a, host.MACString(wifi))
		}
	})
}

// An attacker on the LAN sending frames with the victim's source address
// (its own MAC, TTL 64) every few ms does not move the binding while the
// victim is active: the victim's beats and alert stay with its host_id.
func TestSpoofedSourceCannotTakeSessions(t *testing.T) {
	r := newIdentityRun(t)
	mac := [6]byte{0x3c, 0x22, 0xfb, 0x1a, 0x2b, 0x3c}
	evil := [6]byte{0x02, 0xee, 0xee, 0xee, 0xee, 0x01}
	a := netip.MustParseAddr("10.20.1.7")
	start := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC).UnixNano()
	for i := range 24 {
		ts := start + int64(i)*300e9
		sport := uint16(50000 + i)
		r.feed(pkttest.Darwin.SYN(ts, a, c2, mac, true, 0, sport, 443))
		r.feed(decode.Packet{TS: ts + 10e6, Src: a, Dst: netip.MustParseAddr("198.51.100.1"), SrcMAC: evil, HasMAC: true, TTL: 64,
			Proto: decode.ProtoUDP, SrcPort: 9, DstPort: 9}) // one of the attacker's frames, sent every few ms
		r.feed(decode.Packet{TS: ts + 20e6, Src: c2, Dst: a, SrcMAC: gatewayMAC, DstMAC: mac, HasMAC: true, TTL: 57,
			Proto: decode.ProtoTCP, SrcPort: 443, DstPort: sport, TCPFlags: decode.TCPSyn | decode.TCPAck, Window: 65535})
	}
	r.w.det.Export(0, func(st *beacon.PairState) {
		if st.Key.DestIP == c2 {
			t.Logf("pair host %s beats %d", st.Key.Host, st.Beats)
			if st.Key.Host != host.MACKey(mac) {
				t.Errorf("the victim's beats are keyed %s", st.Key.Host)
			}
		}
	})
	for _, al := range r.alerts {
		t.Logf("alert host_id %s src_mac %s src_macs %v", al.HostID, al.SrcMAC, al.SrcMACs)
	}
}
