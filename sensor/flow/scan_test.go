package flow

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/launchtap/launchtap/sensor/decode"
	"github.com/launchtap/launchtap/sensor/netset"
	"github.com/launchtap/launchtap/sensor/slru"
)

// sizedTracker is a tracker of the default config but for a table of
// maxSessions sessions.
func sizedTracker(t *testing.T, maxSessions int) (*Tracker, *recorder) {
	t.Helper()
	r := &recorder{}
	cfg := DefaultConfig()
	cfg.MaxSessions = maxSessions
	tr, err := NewTracker(cfg, netset.MustParse(netset.DefaultInternal), r)
	if err != nil {
		t.Fatal(err)
	}
	return tr, r
}

// scanTracker is a tracker with a table of maxSessions sessions and one
// established session (data both ways) to cdn:443.
func scanTracker(t *testing.T, maxSessions int) (*Tracker, *recorder) {
	t.Helper()
	tr, r := sizedTracker(t, maxSessions)
	keep := []decode.Packet{
		pkt(0, tcp, ">", cdn, 443, syn, 0),
		pkt(0.01, tcp, "<", cdn, 443, synack, 0),
		pkt(0.02, tcp, ">", cdn, 443, ack, 300),
		pkt(0.03, tcp, "<", cdn, 443, ack, 3000),
	}
	for i := range keep {
		tr.Packet(&keep[i])
	}
	return tr, r
}

// A port scan whose probes are answered — SYN-ACK (open port) or RST
// (closed) — churns probation only: it never ends an established session.
func TestAnsweredScanKeepsEstablishedSessions(t *testing.T) {
	for _, answer := range []uint8{synack, rst | ack} {
		tr, r := scanTracker(t, 1024)
		for i := 0; i < 5000; i++ {
			dst := netip.AddrFrom4([4]byte{44, byte(i >> 16), byte(i >> 8), byte(i)})
			p := decode.Packet{TS: int64(1e9) + int64(i)*1000, Proto: tcp, TCPFlags: syn,
				Src: netip.MustParseAddr(other), Dst: dst, SrcPort: 40000, DstPort: 80}
			tr.Packet(&p)
			q := decode.Packet{TS: p.TS + 500, Proto: tcp, TCPFlags: answer,
				Src: dst, Dst: netip.MustParseAddr(other), SrcPort: 80, DstPort: 40000}
			tr.Packet(&q)
		}
		for _, e := range r.events {
			if strings.HasPrefix(e, "end "+cdn) {
				t.Fatalf("answer %#x: the established session ended during the scan: %s", answer, e)
			}
		}
		if st := tr.Stats(); st.EvictionsProtected != 0 {
			t.Errorf("answer %#x: %d protected evictions, want none", answer, st.EvictionsProtected)
		}
	}
}

// A SYN flood that turns probation over within one round trip evicts the
// Mac's half-open session, but the server's SYN-ACK still starts it: the
// beat is kept, one round trip late.
func TestSynAckStartsAnEvictedHandshake(t *testing.T) {
	tr, r := sizedTracker(t, 1024)
	p := pkt(1, tcp, ">", cdn, 443, syn, 0)
	tr.Packet(&p)
	for i := 0; i < 2000; i++ { // 2000 SYNs in 100 ms
		q := decode.Packet{TS: int64(1e9) + int64(i)*50_000, Proto: tcp, TCPFlags: syn,
			Src: netip.MustParseAddr(other), Dst: netip.AddrFrom4([4]byte{44, byte(i >> 16), byte(i >> 8), byte(i)}), SrcPort: 40000, DstPort: 80}
		tr.Packet(&q)
	}
	rest := []decode.Packet{pkt(1.15, tcp, "<", cdn, 443, synack, 0), pkt(1.16, tcp, ">", cdn, 443, ack, 300), pkt(1.2, tcp, "<", cdn, 443, ack, 3000)}
	for i := range rest {
		tr.Packet(&rest[i])
	}
	for _, e := range r.events {
		if strings.HasPrefix(e, "start "+cdn) {
			return
		}
	}
	t.Errorf("no session start for the Mac's session: %q", r.events)
}

// A SYN flood into a large table cycles through ProbationLimit sessions
// only, and the established session stays.
func TestFloodStaysWithinProbationLimit(t *testing.T) {
	const maxSessions = 1 << 16
	tr, r := scanTracker(t, maxSessions)
	limit := ProbationLimit(maxSessions)
	if limit != 4096 {
		t.Fatalf("ProbationLimit(%d) = %d, want 4096", maxSessions, limit)
	}
	const syns = 20000
	for i := 0; i < syns; i++ {
		q := decode.Packet{TS: int64(1e9) + int64(i)*10_000, Proto: tcp, TCPFlags: syn,
			Src: netip.MustParseAddr(other), Dst: netip.AddrFrom4([4]byte{44, byte(i >> 16), byte(i >> 8), byte(i)}), SrcPort: 40000, DstPort: 80}
		tr.Packet(&q)
		if n := tr.tcp.LenOf(slru.Probation); n > limit {
			t.Fatalf("after %d SYNs: %d sessions in probation, limit %d", i+1, n, limit)
		}
	}
	st := tr.Stats()
	if st.ActiveTCP != uint64(limit)+1 || st.EvictionsProbation != syns-uint64(limit) || st.EvictionsProtected != 0 {
		t.Errorf("active %d, evictions %d probation / %d protected; want %d, %d, 0",
			st.ActiveTCP, st.EvictionsProbation, st.EvictionsProtected, limit+1, syns-limit)
	}
	for _, e := range r.events {
		if strings.HasPrefix(e, "end "+cdn) {
			t.Fatalf("the established session ended during the flood: %s", e)
		}
	}
}
