package pipeline

import (
	"net/netip"
	"testing"

	"github.com/launchtap/launchtap/sensor/decode"
)

// A SYN flood and a port scan from spoofed internal sources must leave every
// table at its bound, with the overflow counted as evictions. Half the SYNs
// are answered (open ports: beats, so pairs fill up), half are not (no beat,
// counted as unanswered when their session is evicted).
func TestFloodStaysBounded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Workers = 1
	cfg.Flow.MaxSessions = 1024
	cfg.Beacon.MaxPairs = 2048
	cfg.HostID.MaxHosts = 512
	cfg.DNS.MaxAnswers = 256
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for range p.Alerts() {
		}
	}()
	w := p.workers[0]
	const n = 200_000
	opts := []byte{2, 4, 5, 180, 1, 3, 3, 6, 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 4, 2, 0, 0}
	for i := 0; i < n; i++ {
		pkt := decode.Packet{
			TS:       int64(i) * 1000, // 1 µs apart: a 1 M packets/s flood
			Src:      netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}),
			Dst:      netip.AddrFrom4([4]byte{203, 0, byte(i >> 8), byte(i)}),
			SrcMAC:   [6]byte{2, 0, byte(i >> 16), byte(i >> 8), byte(i), 1},
			HasMAC:   true,
			Proto:    decode.ProtoTCP,
			SrcPort:  uint16(1024 + i%60000),
			DstPort:  uint16(i % 1024),
			TCPFlags: decode.TCPSyn,
			TTL:      64, Window: 65535, TCPOptions: opts,
		}
		w.handle(&pkt, decode.OK)
		if i%2 == 0 {
			ans := pkt
			ans.Src, ans.Dst, ans.SrcPort, ans.DstPort = pkt.Dst, pkt.Src, pkt.DstPort, pkt.SrcPort
			ans.SrcMAC, ans.DstMAC, ans.TCPFlags = [6]byte{2, 0, 0, 0, 0, 2}, pkt.SrcMAC, decode.TCPSyn|decode.TCPAck
			w.handle(&ans, decode.OK)
		}
	}
	w.publish()
	st := p.Stats()
	if got := st.Flow.ActiveTCP; got > uint64(cfg.Flow.MaxSessions) {
		t.Errorf("%d sessions tracked, bound %d", got, cfg.Flow.MaxSessions)
	}
	if st.Flow.Evictions < n-uint64(cfg.Flow.MaxSessions) {
		t.Errorf("session evictions %d, want at least %d", st.Flow.Evictions, n-cfg.Flow.MaxSessions)
	}
	if got := st.Beacon.Pairs; got > uint64(cfg.Beacon.MaxPairs) {
		t.Errorf("%d pairs tracked, bound %d", got, cfg.Beacon.MaxPairs)
	}
	if st.Beacon.Evictions == 0 {
		t.Error("pair evictions were not counted")
	}
	if st.Flow.Unanswered == 0 || st.Flow.Unanswered > n/2 {
		t.Errorf("unanswered handshakes %d, want some and at most %d", st.Flow.Unanswered, n/2)
	}
	if got := st.Hosts.Hosts; got > cfg.HostID.MaxHosts {
		t.Errorf("%d hosts tracked, bound %d", got, cfg.HostID.MaxHosts)
	}
	if st.Hosts.Evictions == 0 {
		t.Error("host evictions were not counted")
	}
}
