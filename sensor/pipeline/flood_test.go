package pipeline

import (
	"net/netip"
	"testing"
	"time"

	"github.com/launchtap/launchtap/internal/pkttest"
	"github.com/launchtap/launchtap/sensor/alert"
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
		w.read(&pkt, decode.OK)
		if i%2 == 0 {
			ans := pkt
			ans.Src, ans.Dst, ans.SrcPort, ans.DstPort = pkt.Dst, pkt.Src, pkt.DstPort, pkt.SrcPort
			ans.SrcMAC, ans.DstMAC, ans.TCPFlags = [6]byte{2, 0, 0, 0, 0, 2}, pkt.SrcMAC, decode.TCPSyn|decode.TCPAck
			w.read(&ans, decode.OK)
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

// feedBeaconSession hands w one whole TCP session of a Mac's beacon at ts.
func feedBeaconSession(w *worker, ts int64, port uint16) {
	mac := netip.MustParseAddr("10.1.2.3")
	c2 := netip.MustParseAddr("198.51.100.7")
	srcMAC := [6]byte{0x3c, 0x22, 0xfb, 1, 2, 3}
	pkts := []decode.Packet{
		// A Darwin SYN, so that host identification calls the host a Mac.
		pkttest.Darwin.SYN(0, mac, c2, srcMAC, true, 0, port, 443),
		{Src: c2, Dst: mac, SrcPort: 443, DstPort: port, TCPFlags: decode.TCPSyn | decode.TCPAck, TTL: 50},
		{Src: mac, Dst: c2, SrcPort: port, DstPort: 443, TCPFlags: decode.TCPAck | decode.TCPPsh, PayloadLen: 517, TTL: 64},
		{Src: c2, Dst: mac, SrcPort: 443, DstPort: port, TCPFlags: decode.TCPAck | decode.TCPPsh, PayloadLen: 3900, TTL: 50},
		{Src: mac, Dst: c2, SrcPort: port, DstPort: 443, TCPFlags: decode.TCPAck | decode.TCPFin, TTL: 64},
		{Src: c2, Dst: mac, SrcPort: 443, DstPort: port, TCPFlags: decode.TCPAck | decode.TCPFin, TTL: 50},
	}
	for i := range pkts {
		p := &pkts[i]
		p.TS = ts + int64(i)*int64(20*time.Millisecond)
		p.Proto = decode.ProtoTCP
		p.HasMAC = true
		if p.Src == mac {
			p.SrcMAC = srcMAC
		} else {
			p.DstMAC = srcMAC
		}
		w.read(p, decode.OK)
	}
}

// beaconUnderScan runs a Mac beacon (60 s period, ten beats) on one worker
// with the default table bounds, with scanned pairs (one scanner host, each
// SYN to a new destination) all inside the period after the third beat, and
// returns the alerts and the pipeline's counters.
func beaconUnderScan(t *testing.T, scanned int) ([]*alert.Alert, Stats) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Workers = 1
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := p.workers[0]
	const period = int64(60 * time.Second)
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC).UnixNano()
	scanner := netip.MustParseAddr("10.9.9.9")
	for beat := 0; beat < 10; beat++ {
		ts := t0 + int64(beat)*period + int64(beat%3)*int64(40*time.Millisecond)
		feedBeaconSession(w, ts, uint16(49152+beat))
		if beat != 2 {
			continue
		}
		// The scan: every SYN a new session to a new destination, all
		// within 50 s, and every destination answers (an unanswered SYN is
		// no session start, so it would make no pair): each is a beat of a
		// new pair.
		pkt := decode.Packet{Src: scanner, Proto: decode.ProtoTCP, TCPFlags: decode.TCPSyn, TTL: 64, Window: 1024,
			SrcMAC: [6]byte{2, 0, 0, 9, 9, 9}, HasMAC: true, SrcPort: 40000, DstPort: 80}
		answer := decode.Packet{Dst: scanner, Proto: decode.ProtoTCP, TCPFlags: decode.TCPSyn | decode.TCPAck, TTL: 58, Window: 65535,
			DstMAC: [6]byte{2, 0, 0, 9, 9, 9}, HasMAC: true, SrcPort: 80, DstPort: 40000}
		step := int64(50*time.Second) / int64(max(1, scanned))
		for i := 0; i < scanned; i++ {
			pkt.TS = ts + int64(time.Second) + int64(i)*step
			pkt.Dst = netip.AddrFrom4([4]byte{44, byte(i >> 16), byte(i >> 8), byte(i)})
			w.read(&pkt, decode.OK)
			answer.TS, answer.Src = pkt.TS+step/2, pkt.Dst
			w.read(&answer, decode.OK)
		}
	}
	w.flush()
	w.publish()
	var out []*alert.Alert
	for {
		select {
		case a := <-p.Alerts():
			out = append(out, a)
			continue
		default:
		}
		break
	}
	return out, p.Stats()
}

// A scan of 2 M destinations inside one beacon period, on one worker, must
// not cost the Mac's beacon its beat history: it alerts at the same beat as
// without the scan, and the scan's pairs and sessions evict only each other.
func TestBeaconAlertsOnTimeUnderScan(t *testing.T) {
	quiet, _ := beaconUnderScan(t, 0)
	if len(quiet) != 1 {
		t.Fatalf("%d alerts without a scan, want 1", len(quiet))
	}
	scanned := 2_000_000
	got, st := beaconUnderScan(t, scanned)
	if len(got) != 1 {
		t.Fatalf("%d alerts under a scan of %d pairs, want 1", len(got), scanned)
	}
	if !got[0].TS.Equal(quiet[0].TS) || got[0].Beats != quiet[0].Beats {
		t.Errorf("under the scan the beacon alerted at %v after %d beats; without it at %v after %d",
			got[0].TS, got[0].Beats, quiet[0].TS, quiet[0].Beats)
	}
	if got[0].HostOS != "macos" || got[0].Severity != quiet[0].Severity || got[0].Score != quiet[0].Score {
		t.Errorf("under the scan: host OS %q, severity %q, score %v; without it: %q, %q, %v",
			got[0].HostOS, got[0].Severity, got[0].Score, quiet[0].HostOS, quiet[0].Severity, quiet[0].Score)
	}
	if st.Beacon.EvictionsProbation == 0 || st.Flow.Evictions == 0 {
		t.Errorf("scan did not fill the tables: probation evictions of pairs %d, session evictions %d",
			st.Beacon.EvictionsProbation, st.Flow.Evictions)
	}
	// Pairs beaten once and sessions that carried no data (the scan's)
	// evict only each other.
	if st.Beacon.EvictionsProtected != 0 || st.Flow.EvictionsProtected != 0 {
		t.Errorf("protected evictions: pairs %d, sessions %d, want none", st.Beacon.EvictionsProtected, st.Flow.EvictionsProtected)
	}
	if st.Beacon.Pairs > uint64(DefaultConfig().Beacon.MaxPairs) {
		t.Errorf("%d pairs tracked, bound %d", st.Beacon.Pairs, DefaultConfig().Beacon.MaxPairs)
	}
}
