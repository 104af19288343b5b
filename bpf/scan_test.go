package bpf

import (
	"fmt"
	"testing"
	"time"
)

// flowEntries is the number of entries in the kernel's flow table.
func flowEntries(t *testing.T, o *Objects) int {
	t.Helper()
	var k FlowKey
	var v flowVal
	n := 0
	it := o.objs.Flows.Iterate()
	for it.Next(&k, &v) {
		n++
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// A port scan passes whole and leaves the flow table empty, however much
// larger than the table it is: nothing of it can be counted, so nothing is
// kept for user space to take, and the table keeps its room.
func TestScanLeavesFlowsEmpty(t *testing.T) {
	o := load(t, Options{FlowEntries: 16})
	var seq []pkt
	for i := 0; i < 300; i++ {
		dst := fmt.Sprintf("44.0.%d.%d", i/250, i%250)
		syn := pkt{src: "10.9.9.9", dst: dst, sport: uint16(40000 + i), dport: uint16(1 + i), flags: "S"}
		seq = append(seq, syn)
		back := pkt{src: syn.dst, dst: syn.src, sport: syn.dport, dport: syn.sport}
		switch i % 3 {
		case 0: // closed port
			back.flags = "RA"
			seq = append(seq, back)
		case 1: // open port: the scanner resets the half-open connection
			back.flags = "SA"
			seq = append(seq, back, pkt{src: syn.src, dst: syn.dst, sport: syn.sport, dport: syn.dport, flags: "R"})
		} // 2: filtered, no answer
	}
	for i := 0; i < 100; i++ {
		seq = append(seq,
			pkt{src: "10.9.9.9", dst: "44.1.0.1", sport: 50000, dport: uint16(1000 + i), udp: true, payload: i % 3},
			pkt{src: "fd00::9", dst: "2001:db8::1", sport: 50000, dport: uint16(1000 + i), flags: "S"},
		)
	}
	for i, p := range seq {
		if run(t, o.Filter(), p.bytes(t)) == 0 {
			t.Fatalf("packet %d (%s) was counted", i, p.key())
		}
	}
	if n := flowEntries(t, o); n != 0 {
		t.Errorf("the scan left %d flow entries, want none", n)
	}
	st, err := o.Stats()
	if err != nil {
		t.Fatal(err)
	}
	// Port 53 is a service port: always passed, never looked up.
	if st.PassNoEntry+st.PassService != uint64(len(seq)) || st.Passed() != uint64(len(seq)) || st.PassMapFull != 0 || st.Counted != 0 {
		t.Errorf("stats %+v, want all %d packets passed without an entry, no map-full", st, len(seq))
	}

	// The table still counts a real session.
	ack := pkt{src: "10.9.9.9", dst: "93.184.216.34", sport: 50001, dport: 443, flags: "A", payload: 100}
	got := verdicts(t, o, []step{{p: ack}, {p: ack}, {p: ack}})
	if want := []bool{true, false, false}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("session after the scan: verdicts %v, want %v", got, want)
	}
	if _, cur, err := o.Flows.Take(ack.key()); err != nil || cur != ack.counts(2) {
		t.Errorf("Take = %+v, %v; want %+v", cur, err, ack.counts(2))
	}
}

// Every packet of a session is either passed or counted, in the direction
// it belongs to: for each direction, the packets passed plus the kernel's
// counts (prev + cur) are the packets sent.
func TestSessionCountsExact(t *testing.T) {
	c := pkt{src: "192.168.1.10", dst: "93.184.216.34", sport: 50000, dport: 443, flags: "A"}
	s := pkt{src: c.dst, dst: c.src, sport: c.dport, dport: c.sport, flags: "A"}
	with := func(p pkt, flags string, payload int) pkt { p.flags, p.payload = flags, payload; return p }
	u := pkt{src: "10.0.0.5", dst: "198.51.100.9", sport: 50002, dport: 5000, udp: true}
	ub := pkt{src: u.dst, dst: u.src, sport: u.dport, dport: u.sport, udp: true}
	handshake := []pkt{with(c, "S", 0), with(s, "SA", 0), with(c, "A", 0)}
	data := func(n int) []pkt {
		var seq []pkt
		for i := 0; i < n; i++ {
			seq = append(seq, with(c, "PA", 300), with(s, "A", 0), with(s, "PA", 1400), with(s, "PA", 1400), with(c, "A", 0))
		}
		return seq
	}
	cat := func(parts ...[]pkt) []pkt {
		var seq []pkt
		for _, p := range parts {
			seq = append(seq, p...)
		}
		return seq
	}
	for _, tc := range []struct {
		name string
		seq  []pkt
	}{
		{"handshake, data, close", cat(handshake, data(20), []pkt{with(c, "FA", 0), with(s, "FA", 0), with(c, "A", 0)})},
		{"joined mid-stream", data(20)},
		{"handshake only", cat(handshake, []pkt{with(c, "FA", 0), with(s, "FA", 0)})},
		{"two sessions on one 5-tuple", cat(handshake, data(10), handshake, data(10))},
		{"UDP exchange", []pkt{with(u, "", 40), with(ub, "", 40), with(u, "", 100), with(u, "", 100),
			with(ub, "", 900), with(ub, "", 900), with(u, "", 1), with(u, "", 100), with(ub, "", 900)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := load(t, Options{SampleInterval: time.Hour})
			passed := map[FlowKey]uint64{}
			sent := map[FlowKey]uint64{}
			for _, p := range tc.seq {
				sent[p.key()]++
				if run(t, o.Filter(), p.bytes(t)) != 0 {
					passed[p.key()]++
				}
			}
			for k, n := range sent {
				prev, cur, err := o.Flows.Take(k)
				if err != nil {
					t.Fatal(err)
				}
				if got := passed[k] + prev.Packets + cur.Packets; got != n {
					t.Errorf("%s: passed %d + counted %d+%d = %d, sent %d", k, passed[k], prev.Packets, cur.Packets, got, n)
				}
			}
		})
	}
}

// A new SYN on a 5-tuple whose session the kernel counted splits both
// directions (the SYN the client's, the SYN-ACK the server's): the old
// session's counts are Prev, the new one's Cur, and the new session's first
// non-control segments pass before anything of it is counted.
func TestRestartOnNewSYN(t *testing.T) {
	o := load(t, Options{SampleInterval: time.Hour})
	c := pkt{src: "192.168.1.10", dst: "93.184.216.34", sport: 50000, dport: 443}
	s := pkt{src: c.dst, dst: c.src, sport: c.dport, dport: c.sport}
	with := func(p pkt, flags string, payload int) step { p.flags, p.payload = flags, payload; return step{p: p} }
	const P, C = true, false
	seq := []step{
		with(c, "S", 0), with(s, "SA", 0), with(c, "A", 0), // the answered handshake's ACK is counted
		with(c, "PA", 200), with(c, "PA", 200), with(s, "PA", 1400), // first payloads
		with(c, "PA", 200), with(s, "PA", 1400), with(s, "PA", 1400), with(c, "A", 0), // counted: 2 client, 2 server
		with(c, "S", 0), with(s, "SA", 0), // the port comes back: splits
		with(c, "A", 0), with(s, "A", 0), // first of each direction in the new session: pass
		with(c, "PA", 200), with(c, "PA", 200), with(s, "PA", 1400), // first payloads
		with(c, "A", 0), with(s, "PA", 1400), // counted: 1 client, 1 server
	}
	want := []bool{P, P, C, P, P, P, C, C, C, C, P, P, P, P, P, P, P, C, C}
	got := verdicts(t, o, seq)
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("packet %d: passed=%v, want %v", i, got[i], want[i])
		}
	}
	cp, cc, err := o.Flows.Take(c.key())
	if err != nil {
		t.Fatal(err)
	}
	sp, sc, err := o.Flows.Take(s.key())
	if err != nil {
		t.Fatal(err)
	}
	if cp.Packets != 3 || cc.Packets != 1 || sp.Packets != 2 || sc.Packets != 1 {
		t.Errorf("client prev %d cur %d, server prev %d cur %d; want 3 1 2 1", cp.Packets, cc.Packets, sp.Packets, sc.Packets)
	}
}

// The client flag comes from the SYN's mark, and the server's SYN-ACK mark
// lets the handshake's last ACK be counted. Marks pushed out of the LRU by a
// flood cost the session its second ClientHello segment (it is taken for one
// that began before the sensor) and pass its ACK, never a count.
func TestSYNMark(t *testing.T) {
	for _, tc := range []struct {
		name     string
		answered bool // the server's SYN-ACK comes before the flood
		flood    int  // SYNs to other ports between the SYN and the handshake's ACK
		want     []bool
		hits     uint64
	}{
		{"answered", true, 100, []bool{false, true, true, false}, 1},
		{"answered, marks aged out", true, 3 * MinMarks, []bool{true, true, false, false}, 0},
		{"no answer seen", false, 100, []bool{true, true, true, false}, 1},
		{"no answer seen, mark aged out", false, 3 * MinMarks, []bool{true, true, false, false}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := load(t, Options{FlowEntries: 1024, SampleInterval: time.Hour})
			c := pkt{src: "192.168.1.10", dst: "93.184.216.34", sport: 50000, dport: 443}
			run(t, o.Filter(), pkt{src: c.src, dst: c.dst, sport: c.sport, dport: c.dport, flags: "S"}.bytes(t))
			if tc.answered {
				run(t, o.Filter(), pkt{src: c.dst, dst: c.src, sport: c.dport, dport: c.sport, flags: "SA"}.bytes(t))
			}
			scan := pkt{src: "10.9.9.9", dst: "44.0.0.1", sport: 40000, flags: "S"}
			for i := 0; i < tc.flood; i++ {
				scan.dst = fmt.Sprintf("44.%d.%d.1", i/250%250, i%250)
				scan.dport = uint16(i)
				run(t, o.Filter(), scan.bytes(t))
			}
			ack, hello := c, c
			ack.flags = "A"
			hello.flags, hello.payload = "PA", 600
			got := verdicts(t, o, []step{{p: ack}, {p: hello}, {p: hello}, {p: hello}})
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("verdicts %v, want %v", got, tc.want)
			}
			st, err := o.Stats()
			if err != nil {
				t.Fatal(err)
			}
			if st.MarkHits != tc.hits {
				t.Errorf("mark hits %d, want %d", st.MarkHits, tc.hits)
			}
			_, cur, err := o.Flows.Take(c.key())
			if err != nil {
				t.Fatal(err)
			}
			counted := uint64(0)
			for _, p := range got {
				if !p {
					counted++
				}
			}
			want := hello.counts(counted)
			if !got[0] { // the handshake's ACK
				want = hello.counts(counted - 1).Add(ack.counts(1))
			}
			if cur != want {
				t.Errorf("counts %+v, want %+v", cur, want)
			}
		})
	}
}
