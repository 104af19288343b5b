package flow

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/launchtap/launchtap/sensor/decode"
	"github.com/launchtap/launchtap/sensor/netset"
)

// recorder writes every event as a line, so tests compare event sequences.
type recorder struct{ events []string }

func (r *recorder) SessionStart(s *Session) {
	r.events = append(r.events, fmt.Sprintf("start %s:%d@%d", s.ServerAddr, s.Key.ServerPort, s.Start/1e9))
}
func (r *recorder) SessionEnd(s *Session) {
	r.events = append(r.events, fmt.Sprintf("end %s:%d out=%d in=%d mid=%v", s.ServerAddr, s.Key.ServerPort, s.BytesOut, s.BytesIn, s.Midstream))
}
func (r *recorder) Burst(s *Session, ts int64) {
	r.events = append(r.events, fmt.Sprintf("burst %s:%d@%d", s.ServerAddr, s.Key.ServerPort, ts/1e9))
}
func (r *recorder) BurstEnd(s *Session, start int64, out, in uint64) {
	r.events = append(r.events, fmt.Sprintf("burst-end %s:%d@%d out=%d in=%d", s.ServerAddr, s.Key.ServerPort, start/1e9, out, in))
}

const (
	mac   = "10.20.1.15"
	cdn   = "203.0.113.10"
	other = "10.20.3.10"
)

// pkt builds a packet at second sec; dir ">" is mac→remote, "<" the reverse.
func pkt(sec float64, proto uint8, dir string, remote string, rport uint16, flags uint8, payload uint32) decode.Packet {
	p := decode.Packet{TS: int64(sec * 1e9), Proto: proto, TCPFlags: flags, PayloadLen: payload}
	a, b := netip.MustParseAddr(mac), netip.MustParseAddr(remote)
	if dir == ">" {
		p.Src, p.Dst, p.SrcPort, p.DstPort = a, b, 50000, rport
	} else {
		p.Src, p.Dst, p.SrcPort, p.DstPort = b, a, rport, 50000
	}
	return p
}

const (
	syn    = decode.TCPSyn
	synack = decode.TCPSyn | decode.TCPAck
	ack    = decode.TCPAck
	fin    = decode.TCPFin | decode.TCPAck
	rst    = decode.TCPRst
	tcp    = decode.ProtoTCP
	udp    = decode.ProtoUDP
)

func TestTracker(t *testing.T) {
	tests := []struct {
		name string
		pkts []decode.Packet
		want []string
	}{
		{
			name: "tcp handshake data fin",
			pkts: []decode.Packet{
				pkt(0, tcp, ">", cdn, 443, syn, 0),
				pkt(0.05, tcp, "<", cdn, 443, synack, 0),
				pkt(0.1, tcp, ">", cdn, 443, ack, 600),
				pkt(0.2, tcp, "<", cdn, 443, ack, 4000),
				pkt(0.3, tcp, ">", cdn, 443, fin, 0),
				pkt(0.35, tcp, "<", cdn, 443, fin, 0),
				pkt(0.4, tcp, ">", cdn, 443, ack, 0), // trailing ACK: no new session
			},
			want: []string{"start 203.0.113.10:443@0", "end 203.0.113.10:443 out=600 in=4000 mid=false"},
		},
		{
			name: "syn retransmissions then an answer are one beat at the first syn",
			pkts: []decode.Packet{
				pkt(0, tcp, ">", cdn, 443, syn, 0),
				pkt(1, tcp, ">", cdn, 443, syn, 0),
				pkt(3, tcp, ">", cdn, 443, syn, 0),
				pkt(3.1, tcp, "<", cdn, 443, synack, 0),
				pkt(3.2, tcp, ">", cdn, 443, rst, 0),
			},
			want: []string{"start 203.0.113.10:443@0", "end 203.0.113.10:443 out=0 in=0 mid=false"},
		},
		{
			name: "a refused handshake is no beat",
			pkts: []decode.Packet{
				pkt(0, tcp, ">", cdn, 443, syn, 0),
				pkt(1, tcp, ">", cdn, 443, syn, 0),
				pkt(1.1, tcp, "<", cdn, 443, rst|ack, 0),
			},
			want: []string{"end 203.0.113.10:443 out=0 in=0 mid=false"},
		},
		{
			name: "an unanswered syn is no beat",
			pkts: []decode.Packet{
				pkt(0, tcp, ">", cdn, 443, syn, 0),
				pkt(1, tcp, ">", cdn, 443, syn, 0),
				pkt(3, tcp, ">", cdn, 443, syn, 0),
			},
			want: nil, // ended later by the sweep, still no beat
		},
		{
			name: "data from the client confirms a handshake whose answer the tap missed",
			pkts: []decode.Packet{
				pkt(0, tcp, ">", cdn, 443, syn, 0),
				pkt(0.1, tcp, ">", cdn, 443, ack, 0),
				pkt(0.1, tcp, ">", cdn, 443, ack, 300),
			},
			want: []string{"start 203.0.113.10:443@0"},
		},
		{
			name: "port reuse after data starts a new session",
			pkts: []decode.Packet{
				pkt(0, tcp, ">", cdn, 443, syn, 0),
				pkt(0.1, tcp, ">", cdn, 443, ack, 10),
				pkt(100, tcp, ">", cdn, 443, syn, 0),
				pkt(100.1, tcp, "<", cdn, 443, synack, 0),
			},
			want: []string{"start 203.0.113.10:443@0", "end 203.0.113.10:443 out=10 in=0 mid=false", "start 203.0.113.10:443@100"},
		},
		{
			name: "inbound syn is no session of ours",
			pkts: []decode.Packet{pkt(0, tcp, "<", cdn, 443, syn, 0)},
			want: nil,
		},
		{
			name: "internal to internal is never tracked",
			pkts: []decode.Packet{pkt(0, tcp, ">", other, 22, syn, 0), pkt(1, udp, ">", other, 53, 0, 40)},
			want: nil,
		},
		{
			name: "udp idle gap starts a new session",
			pkts: []decode.Packet{
				pkt(0, udp, ">", cdn, 443, 0, 1200),
				pkt(0.1, udp, "<", cdn, 443, 0, 1200),
				pkt(30, udp, ">", cdn, 443, 0, 100), // within idle: same session
				pkt(200, udp, ">", cdn, 443, 0, 1200),
			},
			// The exchange at 30 s reuses the 5-tuple within the idle time: a burst, not a new session.
			want: []string{"start 203.0.113.10:443@0", "burst 203.0.113.10:443@30", "burst-end 203.0.113.10:443@30 out=100 in=0",
				"end 203.0.113.10:443 out=1300 in=1200 mid=false", "start 203.0.113.10:443@200"},
		},
		{
			name: "keep-alive bursts inside one session",
			pkts: []decode.Packet{
				pkt(0, tcp, ">", cdn, 8443, syn, 0),
				pkt(0.1, tcp, ">", cdn, 8443, ack, 200),
				pkt(60, tcp, ">", cdn, 8443, ack, 100),
				pkt(60.1, tcp, "<", cdn, 8443, ack, 100),
				pkt(90, tcp, ">", cdn, 8443, ack, 1), // keep-alive probe: no burst
				pkt(120, tcp, ">", cdn, 8443, ack, 100),
			},
			// Each burst's first exchange is reported when the next begins:
			// 100 out, 100 in (the keep-alive probe is no request).
			want: []string{"start 203.0.113.10:8443@0", "burst 203.0.113.10:8443@60", "burst-end 203.0.113.10:8443@60 out=100 in=100", "burst 203.0.113.10:8443@120"},
		},
		{
			name: "a burst is sized by its first request and answer, not what follows",
			pkts: []decode.Packet{
				pkt(0, tcp, ">", cdn, 8888, syn, 0),
				pkt(0.05, tcp, "<", cdn, 8888, synack, 0),
				pkt(0.1, tcp, ">", cdn, 8888, ack, 300),
				pkt(50, tcp, ">", cdn, 8888, ack, 704), // check-in: request in two segments
				pkt(50, tcp, ">", cdn, 8888, ack, 40),
				pkt(50.01, tcp, "<", cdn, 8888, ack, 152), // answer: a task
				pkt(50.01, tcp, "<", cdn, 8888, ack, 428),
				pkt(50.05, tcp, ">", cdn, 8888, ack, 9000), // the task's output: varies
				pkt(50.06, tcp, "<", cdn, 8888, ack, 243),
				pkt(100, tcp, ">", cdn, 8888, fin, 0),
				pkt(100, tcp, "<", cdn, 8888, fin, 0),
			},
			want: []string{"start 203.0.113.10:8888@0", "burst 203.0.113.10:8888@50", "burst-end 203.0.113.10:8888@50 out=744 in=580",
				"end 203.0.113.10:8888 out=10044 in=823 mid=false"},
		},
		{
			// Pings every 5 s never leave the 8 s burst gap of silence; from
			// the fifth request on pace each one is a burst of its own.
			name: "pings faster than the burst gap",
			pkts: append([]decode.Packet{
				pkt(0, tcp, ">", cdn, 4444, syn, 0),
				pkt(0.05, tcp, "<", cdn, 4444, synack, 0),
			}, pings(5, 7, 23, 23)...),
			want: []string{"start 203.0.113.10:4444@0", "burst 203.0.113.10:4444@25", "burst-end 203.0.113.10:4444@25 out=23 in=23",
				"burst 203.0.113.10:4444@30", "burst-end 203.0.113.10:4444@30 out=23 in=23", "burst 203.0.113.10:4444@35"},
		},
		{
			name: "a loop moving more than a ping is no burst",
			pkts: append([]decode.Packet{
				pkt(0, tcp, ">", cdn, 4444, syn, 0),
				pkt(0.05, tcp, "<", cdn, 4444, synack, 0),
			}, pings(5, 7, 23, 20000)...),
			want: []string{"start 203.0.113.10:4444@0"},
		},
		{
			name: "requests not waiting for an answer are no burst",
			pkts: append([]decode.Packet{
				pkt(0, tcp, ">", cdn, 4444, syn, 0),
				pkt(0.05, tcp, "<", cdn, 4444, synack, 0),
			}, pings(5, 7, 23, 0)...),
			want: []string{"start 203.0.113.10:4444@0"},
		},
		{
			name: "mid-stream join is tracked but no beat",
			pkts: []decode.Packet{
				pkt(0, tcp, "<", cdn, 443, ack, 0),  // pure ACK: ignored
				pkt(1, tcp, ">", cdn, 443, ack, 50), // data: joined
				pkt(2, tcp, "<", cdn, 443, ack, 70),
				pkt(3, tcp, ">", cdn, 443, rst, 0),
			},
			want: []string{"end 203.0.113.10:443 out=50 in=70 mid=true"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{}
			tr, err := NewTracker(DefaultConfig(), netset.MustParse(netset.DefaultInternal), r)
			if err != nil {
				t.Fatal(err)
			}
			for i := range tt.pkts {
				tr.Packet(&tt.pkts[i])
			}
			if got, want := strings.Join(r.events, "\n"), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("events:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// pings returns n requests of out bytes every period seconds from period on
// to cdn:4444, each answered by in bytes (none when in is 0) 30 ms later.
func pings(period float64, n int, out, in uint32) []decode.Packet {
	var ps []decode.Packet
	for i := 1; i <= n; i++ {
		at := period * float64(i)
		ps = append(ps, pkt(at, tcp, ">", cdn, 4444, ack, out))
		if in > 0 {
			ps = append(ps, pkt(at+0.03, tcp, "<", cdn, 4444, ack, in))
		}
	}
	return ps
}

// TestSessionSize keeps the per-session state of burst and pace tracking in
// the struct's padding: a Session is 256 bytes (a 256-byte size class; the
// host's MAC, which keeps a Mac's beats together through address changes,
// took the last 8).
func TestSessionSize(t *testing.T) {
	if got := unsafe.Sizeof(Session{}); got > 256 {
		t.Errorf("Session is %d bytes, want at most 256", got)
	}
}

func TestIdleSweepAndEviction(t *testing.T) {
	r := &recorder{}
	cfg := DefaultConfig()
	cfg.MaxSessions = 16
	tr, err := NewTracker(cfg, netset.MustParse(netset.DefaultInternal), r)
	if err != nil {
		t.Fatal(err)
	}
	// A port scan: 100 SYNs to distinct ports fill the table; it must stay bounded.
	for i := 0; i < 100; i++ {
		p := pkt(float64(i)*0.01, tcp, ">", cdn, uint16(1000+i), syn, 0)
		tr.Packet(&p)
	}
	st := tr.Stats()
	if st.ActiveTCP != 16 || st.Evictions != 84 || st.SessionsEnded != 84 {
		t.Fatalf("after scan: %+v", st)
	}
	// Long after, any packet sweeps the idle sessions away.
	p := pkt(float64(cfg.TCPIdle/time.Second)+100, udp, ">", cdn, 443, 0, 10)
	tr.Packet(&p)
	if st := tr.Stats(); st.ActiveTCP != 0 || st.ActiveUDP != 1 {
		t.Fatalf("after sweep: %+v", st)
	}
	tr.Flush()
	if st := tr.Stats(); st.ActiveUDP != 0 || st.SessionsEnded != 101 {
		t.Fatalf("after flush: %+v", st)
	}
}

func TestConfigValidate(t *testing.T) {
	c := DefaultConfig()
	c.MaxSessions = 1
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "max-sessions") {
		t.Fatalf("Validate = %v, want error naming max-sessions", err)
	}
}

type nopHandler struct{}

func (nopHandler) SessionStart(*Session)                    {}
func (nopHandler) SessionEnd(*Session)                      {}
func (nopHandler) Burst(*Session, int64)                    {}
func (nopHandler) BurstEnd(*Session, int64, uint64, uint64) {}

// BenchmarkEstablished measures the per-packet cost of a packet in a known session.
func BenchmarkEstablished(b *testing.B) {
	tr, _ := NewTracker(DefaultConfig(), netset.MustParse(netset.DefaultInternal), nopHandler{})
	const flows = 4096
	pk := make([]decode.Packet, flows)
	for i := range pk {
		s := pkt(0, tcp, ">", fmt.Sprintf("203.0.%d.%d", i/250, i%250+1), 443, syn, 0)
		tr.Packet(&s)
		pk[i] = pkt(0, tcp, ">", fmt.Sprintf("203.0.%d.%d", i/250, i%250+1), 443, ack, 1400)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := &pk[i%flows]
		p.TS = int64(i)
		tr.Packet(p)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
}

// BenchmarkSessionMemory reports the heap bytes one tracked session costs
// (session, LRU entry and map slot), measured over a full table.
func BenchmarkSessionMemory(b *testing.B) {
	const n = 1 << 17
	cfg := DefaultConfig()
	cfg.MaxSessions = n
	var before, after runtime.MemStats
	for i := 0; i < b.N; i++ {
		runtime.GC()
		runtime.ReadMemStats(&before)
		tr, _ := NewTracker(cfg, netset.MustParse(netset.DefaultInternal), nopHandler{})
		for j := 0; j < n; j++ {
			p := decode.Packet{TS: int64(j), Proto: decode.ProtoTCP, TCPFlags: decode.TCPSyn,
				Src: netip.AddrFrom4([4]byte{10, byte(j >> 16), byte(j >> 8), byte(j)}), Dst: netip.MustParseAddr("203.0.113.1"),
				SrcPort: uint16(j), DstPort: 443}
			tr.Packet(&p)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/session")
		runtime.KeepAlive(tr)
	}
}

// TestCacheKeepsLRUExact: the session cache refreshes the LRU order lazily;
// idle sessions must still end on time behind a busy one, and a full table
// must still evict an idle session rather than a busy one.
func TestCacheKeepsLRUExact(t *testing.T) {
	r := &recorder{}
	cfg := DefaultConfig()
	cfg.MaxSessions = 16
	cfg.UDPIdle = 10 * time.Second
	tr, err := NewTracker(cfg, netset.MustParse(netset.DefaultInternal), r)
	if err != nil {
		t.Fatal(err)
	}
	feed := func(p decode.Packet) { tr.Packet(&p) }
	// busy (port 1) starts first, then idle (port 2); busy then sends a
	// packet every 0.4 s, so most of them hit the cache without moving it in
	// the LRU: the list's oldest stays busy, with a stale position.
	feed(pkt(0, udp, ">", cdn, 1, 0, 10))
	feed(pkt(0.1, udp, ">", cdn, 2, 0, 10))
	for s := 0.4; s < 30; s += 0.4 {
		feed(pkt(s, udp, ">", cdn, 1, 0, 10))
	}
	ended := strings.Join(r.events, "; ")
	if !strings.Contains(ended, "end 203.0.113.10:2 ") || strings.Contains(ended, "end 203.0.113.10:1 ") {
		t.Fatalf("idle session must end, busy one must not: %s", ended)
	}
	// Fill the table (busy + 15 newcomers); busy stays active, with its LRU
	// position older than theirs. The next session must evict the first
	// newcomer, not busy.
	r.events = nil
	for i := range 15 {
		feed(pkt(30+float64(i)*0.01, udp, ">", cdn, uint16(100+i), 0, 10))
	}
	for s := 30.2; s < 31; s += 0.1 {
		feed(pkt(s, udp, ">", cdn, 1, 0, 10))
	}
	feed(pkt(31, udp, ">", cdn, 200, 0, 10)) // its sweep (once a second) first puts busy back in order
	var ends []string
	for _, e := range r.events {
		if strings.HasPrefix(e, "end ") {
			ends = append(ends, e)
		}
	}
	if got := strings.Join(ends, "; "); got != "end 203.0.113.10:100 out=10 in=0 mid=false" {
		t.Fatalf("eviction ended %q; want only the first newcomer", got)
	}
}

// TestCacheNoStaleSession: a session that ended is never found again
// through the cache, though its memory is reused for the next one.
func TestCacheNoStaleSession(t *testing.T) {
	r := &recorder{}
	tr, err := NewTracker(DefaultConfig(), netset.MustParse(netset.DefaultInternal), r)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []decode.Packet{
		pkt(0, tcp, ">", cdn, 443, syn, 0),
		pkt(0.1, tcp, ">", cdn, 443, ack, 100),
		pkt(0.2, tcp, "<", cdn, 443, rst, 0),
		pkt(0.3, tcp, ">", cdn, 443, ack, 50), // after the reset: no session, not joined (a trailing packet would be)
		pkt(1, tcp, ">", cdn, 443, syn, 0),
		pkt(1.1, tcp, ">", cdn, 443, ack, 7),
	} {
		tr.Packet(&p)
	}
	tr.Flush()
	want := "start 203.0.113.10:443@0; end 203.0.113.10:443 out=100 in=0 mid=false; " +
		"end 203.0.113.10:443 out=50 in=0 mid=true; start 203.0.113.10:443@1; end 203.0.113.10:443 out=7 in=0 mid=false"
	if got := strings.Join(r.events, "; "); got != want {
		t.Errorf("events\n got %s\nwant %s", got, want)
	}
}

// TestSweepStaleOrder: a session whose LRU position is stale must not be
// moved in front of sessions active after it (review finding): it ends at
// most promoteEvery late, and a full table evicts it before them.
func TestSweepStaleOrder(t *testing.T) {
	r := &recorder{}
	cfg := DefaultConfig()
	cfg.MaxSessions = 16
	cfg.UDPIdle = 10 * time.Second
	tr, err := NewTracker(cfg, netset.MustParse(netset.DefaultInternal), r)
	if err != nil {
		t.Fatal(err)
	}
	feed := func(sec float64, port uint16) {
		p := pkt(sec, udp, ">", cdn, port, 0, 10)
		tr.Packet(&p)
	}
	feed(0, 1)   // X
	feed(0.1, 2) // A starts...
	feed(0.6, 2) // ...and is last active at 0.6 (a cache hit: not promoted)
	feed(9.5, 3) // C
	feed(10.5, 4)
	feed(11.7, 4) // the sweep at 11.7 is past A's idle time by 1.1 s
	ends := func() (out []string) {
		for _, e := range r.events {
			if strings.HasPrefix(e, "end ") {
				out = append(out, strings.Fields(e)[1])
			}
		}
		return out
	}
	if got := strings.Join(ends(), " "); got != "203.0.113.10:1 203.0.113.10:2" {
		t.Fatalf("ended by 11.7 s: %q, want X then A (C is active until 19.5)", got)
	}
}

// TestFailedHandshakesAreCountedNotBeats: a client retrying an unreachable
// server (every SYN a new port, none answered, or each refused) produces no
// beat, and every attempt is counted once it ends.
func TestFailedHandshakesAreCountedNotBeats(t *testing.T) {
	r := &recorder{}
	tr, err := NewTracker(DefaultConfig(), netset.MustParse(netset.DefaultInternal), r)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		p := pkt(float64(i), tcp, ">", cdn, 443, syn, 0)
		p.SrcPort = uint16(40000 + i)
		tr.Packet(&p)
		if i%2 == 1 {
			q := pkt(float64(i)+0.01, tcp, "<", cdn, 443, rst|ack, 0)
			q.DstPort = p.SrcPort
			tr.Packet(&q)
		}
	}
	tr.Flush()
	for _, e := range r.events {
		if strings.HasPrefix(e, "start") {
			t.Fatalf("a failed handshake was reported as a beat: %q", r.events)
		}
	}
	if st := tr.Stats(); st.Unanswered != 10 || st.SessionsEnded != 10 {
		t.Errorf("unanswered %d ended %d, want 10 and 10", st.Unanswered, st.SessionsEnded)
	}
}

// A SYN flood of one-way sessions, many times the table's bound, never ends
// an answered session: it churns the probation class only.
func TestFloodKeepsAnsweredSessions(t *testing.T) {
	tr, r := scanTracker(t, 1024)
	const maxSessions = 1024 // scanTracker's bound
	const n = 100_000
	for i := 0; i < n; i++ {
		p := decode.Packet{TS: int64(1e9) + int64(i)*1000, Proto: tcp, TCPFlags: syn,
			Src: netip.MustParseAddr(other), Dst: netip.AddrFrom4([4]byte{44, byte(i >> 16), byte(i >> 8), byte(i)}),
			SrcPort: 40000, DstPort: 80}
		tr.Packet(&p)
	}
	for _, e := range r.events {
		if strings.HasPrefix(e, "end "+cdn) {
			t.Fatalf("the answered session ended during the flood: %s", e)
		}
	}
	st := tr.Stats()
	if st.EvictionsProtected != 0 || st.EvictionsProbation != n-maxSessions+1 {
		t.Errorf("evictions: probation %d, protected %d; want %d and 0", st.EvictionsProbation, st.EvictionsProtected, n-maxSessions+1)
	}
	if st.Evictions != st.EvictionsProbation+st.EvictionsProtected {
		t.Errorf("evictions %d, not the sum of the classes %d + %d", st.Evictions, st.EvictionsProbation, st.EvictionsProtected)
	}
	// Its next packet still finds it: bytes add up at its end.
	end := []decode.Packet{pkt(2, tcp, ">", cdn, 443, fin, 0), pkt(2.01, tcp, "<", cdn, 443, fin, 0)}
	for i := range end {
		tr.Packet(&end[i])
	}
	if last := r.events[len(r.events)-1]; last != "end "+cdn+":443 out=300 in=3000 mid=false" {
		t.Errorf("last event %q", last)
	}
}

// TestKeyHash checks the session tables' hash: every field of the key
// counts, and two tables hash the same key differently (secrets per table).
func TestKeyHash(t *testing.T) {
	h1, h2 := newKeyHash(), newKeyHash()
	base := Key{Client: netip.MustParseAddr("10.0.0.1").As16(), Server: netip.MustParseAddr("203.0.113.9").As16(),
		ClientPort: 50000, ServerPort: 443, Proto: decode.ProtoTCP}
	if h1.sum(base) != h1.sum(base) {
		t.Fatal("hash is not a function of the key")
	}
	if h1.sum(base) == h2.sum(base) {
		t.Error("two tables hash a key alike")
	}
	variants := []func(*Key){
		func(k *Key) { k.Client[15]++ },
		func(k *Key) { k.Client[0]++ },
		func(k *Key) { k.Server[15]++ },
		func(k *Key) { k.Server[3]++ },
		func(k *Key) { k.ClientPort++ },
		func(k *Key) { k.ServerPort++ },
		func(k *Key) { k.Proto = decode.ProtoUDP },
	}
	for i, f := range variants {
		k := base
		f(&k)
		if h1.sum(k) == h1.sum(base) {
			t.Errorf("variant %d: same hash as the base key", i)
		}
	}
	// A scan: one client, consecutive servers. The low bits pick the
	// table's cell; they must spread.
	cells := map[uint64]int{}
	k := base
	for i := range 1 << 16 {
		k.Server = netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}).As16()
		cells[h1.sum(k)&(1<<16-1)]++
	}
	if len(cells) < 40000 { // a uniform hash fills ~41,400 of 65,536
		t.Errorf("65,536 scanned keys fill %d of 65,536 cells", len(cells))
	}
}

// TestKeyEqual checks the field-by-field compare against == for random keys
// and copies of them with each bit of any byte flipped.
func TestKeyEqual(t *testing.T) {
	keyBytes := func(k *Key) *[38]byte { return (*[38]byte)(unsafe.Pointer(k)) }
	rng := rand.New(rand.NewPCG(5, 6))
	for range 50 {
		var base Key
		for i := range keyBytes(&base) {
			keyBytes(&base)[i] = byte(rng.Uint32())
		}
		base.pad = 0
		if k := base; !base.equal(&k) {
			t.Fatal("a key is not equal to its copy")
		}
		for i := range len(keyBytes(&base)) {
			for bit := range 8 {
				k := base
				keyBytes(&k)[i] ^= 1 << bit
				if got, want := base.equal(&k), base == k; got != want {
					t.Fatalf("%x: byte %d bit %d flipped: equal %v, == %v", *keyBytes(&base), i, bit, got, want)
				}
			}
		}
	}
}

// TestPutAddr checks putAddr against As16 for IPv4, IPv4-mapped, IPv6 and
// zero addresses.
func TestPutAddr(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	addrs := []netip.Addr{{}, netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("255.255.255.255"), netip.MustParseAddr("::ffff:10.1.2.3"), netip.MustParseAddr("fe80::1%en0")}
	for range 1000 {
		var b [16]byte
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		addrs = append(addrs, netip.AddrFrom4([4]byte(b[:4])), netip.AddrFrom16(b))
	}
	for _, a := range addrs {
		var got [16]byte
		for i := range got {
			got[i] = 0xaa // putAddr must write every byte
		}
		if putAddr(&got, a); got != a.As16() {
			t.Fatalf("putAddr(%v) = %x, want %x", a, got, a.As16())
		}
	}
}
