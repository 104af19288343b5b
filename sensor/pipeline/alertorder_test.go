package pipeline

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/miekg/dns"

	"github.com/launchtap/launchtap/sensor/alert"
)

// Whatever the interleaving of the workers' alerts and marks, each worker's
// own order kept, orderAlerts delivers the alerts in capture order: by
// batch, place in the batch, worker, and the worker's order; the capture's
// end last.
func TestOrderAlertsAnyInterleaving(t *testing.T) {
	const workers, batches = 3, 6
	// Each worker raises alerts at some of its packets, sometimes two at
	// one packet, and more as its sessions are flushed.
	streams := make([][]orderedAlert, workers)
	var want []string
	type raise struct{ batch, idx, worker int }
	var all []raise
	for b := range batches {
		for idx := range 8 {
			w := (b + idx) % workers // one packet, one worker
			if (b*7+idx*3)%4 == 0 {
				all = append(all, raise{b, idx, w})
				if idx == 5 {
					all = append(all, raise{b, idx, w})
				}
			}
		}
	}
	name := func(r raise, n int) string { return fmt.Sprintf("b%d/i%d/w%d/%d", r.batch, r.idx, r.worker, n) }
	raised := make([]uint64, workers)
	for _, r := range all {
		raised[r.worker]++
		want = append(want, name(r, int(raised[r.worker])))
	}
	// The streams: per worker, its alerts of a batch, then its mark.
	raised = make([]uint64, workers)
	for b := range batches {
		for w := range workers {
			for _, r := range all {
				if r.batch == b && r.worker == w {
					raised[w]++
					n := raised[w]
					streams[w] = append(streams[w], orderedAlert{a: &alert.Alert{ID: name(r, int(n))}, batch: uint64(b), idx: r.idx, worker: w, n: n})
				}
			}
			streams[w] = append(streams[w], orderedAlert{batch: uint64(b), worker: w})
		}
	}
	for w := range workers {
		for k := range 2 {
			raised[w]++
			id := fmt.Sprintf("flush/w%d/%d", w, k)
			streams[w] = append(streams[w], orderedAlert{a: &alert.Alert{ID: id}, batch: flushBatch, worker: w, n: raised[w]})
			want = append(want, id)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		in := make(chan orderedAlert)
		out := make(chan *alert.Alert)
		go func() {
			orderAlerts(in, workers, out)
			close(out)
		}()
		go func() {
			next := make([]int, workers)
			for left := true; left; {
				left = false
				w := rng.IntN(workers)
				for range workers {
					if next[w] < len(streams[w]) {
						in <- streams[w][next[w]]
						next[w]++
						left = true
						break
					}
					w = (w + 1) % workers
				}
			}
			close(in)
		}()
		var got []string
		for a := range out {
			got = append(got, a.ID)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("trial %d: delivered\n%v\nwant\n%v", trial, got, want)
		}
	}
}

// An alert is delivered as soon as every worker is done with its batch, not
// held to the capture's end.
func TestOrderAlertsDeliversAtTheMark(t *testing.T) {
	in := make(chan orderedAlert)
	out := make(chan *alert.Alert, 1)
	go orderAlerts(in, 2, out)
	defer close(in)
	in <- orderedAlert{a: &alert.Alert{ID: "late"}, batch: 1, worker: 1, n: 1}
	in <- orderedAlert{a: &alert.Alert{ID: "first"}, batch: 0, idx: 4, worker: 0, n: 1}
	in <- orderedAlert{batch: 0, worker: 0}
	select {
	case a := <-out:
		t.Fatalf("%s delivered before worker 1 was done with batch 0", a.ID)
	case <-time.After(20 * time.Millisecond):
	}
	in <- orderedAlert{batch: 0, worker: 1}
	select {
	case a := <-out:
		if a.ID != "first" {
			t.Fatalf("delivered %s, want first", a.ID)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("batch 0's alert held after both workers were done with it")
	}
	select {
	case a := <-out:
		t.Fatalf("%s delivered before worker 0 was done with batch 1", a.ID)
	case <-time.After(20 * time.Millisecond):
	}
}

// A sharded replay's alerts come in the same order run after run, also those
// raised at the capture's end: six hosts, spread over the workers, each open
// five handshake-only sessions to an address a minute apart (a beacon to a
// C2 server that no longer answers), still open when the capture ends, so
// every beat is taken as the sessions are flushed. The alerts are those of
// one worker; their order, that of the workers.
func TestShardedAlertOrderRepeats(t *testing.T) {
	w := &wire{t: t}
	server := addr("203.0.113.9")
	for i := range 5 {
		for h := range 6 {
			c := addr(fmt.Sprintf("10.0.0.%d", h+1))
			sp := layers.TCPPort(40000 + 10*i + h)
			ts := at(float64(i) + float64(h)/10)
			deadBeacon(w, ts, c, server, sp, byte(h+1))
		}
	}
	inline, _ := replayNames(t, w, 1, nil)
	if len(inline) < 4 {
		t.Fatalf("%d alerts inline, want one per host: the test tests nothing", len(inline))
	}
	want := slices.Sorted(slices.Values(alertKeys(inline)))
	for _, workers := range []int{2, 3} {
		var first []string
		for run := range 10 {
			got, _ := replayNames(t, w, workers, nil)
			if run == 0 {
				first = alertKeys(got)
				if sorted := slices.Sorted(slices.Values(first)); !slices.Equal(sorted, want) {
					t.Fatalf("%d workers: alerts %v, want one worker's %v", workers, sorted, want)
				}
				continue
			}
			if !slices.Equal(alertKeys(got), first) {
				t.Fatalf("%d workers, run %d: alerts in the order %v, the first run's %v", workers, run, alertKeys(got), first)
			}
		}
	}
}

// deadBeacon adds a handshake and nothing more from c (its MAC ending in
// mac) to server: a session that ends only when a sweep finds it idle.
func deadBeacon(w *wire, ts time.Time, c, server netip.Addr, sp layers.TCPPort, mac byte) {
	from := len(w.frames)
	w.add(ts, c, server, &layers.TCP{SrcPort: sp, DstPort: 443, SYN: true, Window: 65535, Seq: 1}, nil)
	w.add(ts.Add(20*time.Millisecond), server, c, &layers.TCP{SrcPort: 443, DstPort: sp, SYN: true, ACK: true}, nil)
	w.add(ts.Add(21*time.Millisecond), c, server, &layers.TCP{SrcPort: sp, DstPort: 443, ACK: true, Seq: 2}, nil)
	ownMAC(w, from, mac)
}

// ownMAC gives the host of w's frames from on its own MAC, ending in mac:
// the source of the frames it sent, the destination of those it got.
func ownMAC(w *wire, from int, mac byte) {
	for i := range w.frames[from:] {
		d := w.frames[from+i].Data
		if d[26] == 10 { // IPv4 source 10/8: the host's
			d[11] = mac
		} else {
			d[5] = mac
		}
	}
}

// Sessions that end unseen are found by the idle sweep, which one worker's
// flow table runs about once a second of capture time at whatever packet
// comes; a sharded worker sweeps at the same packets, its hosts' or not, so
// the alerts come in one worker's order: here three hosts beacon to dead
// servers (handshakes only) and go silent, then two others beacon to live
// ones, while two more talk between themselves; the dead beacons' alerts
// come as their last sessions go idle, before the live ones', not at the
// capture's end. (Sessions ended by one sweep of several workers come by
// worker, not in one table's order: there each goes idle at its own sweep.)
func TestShardedSweepsAsOneWorker(t *testing.T) {
	w := &wire{t: t}
	for i := range 5 {
		for h := range 3 {
			deadBeacon(w, at(float64(i)+float64(h)/10), addr(fmt.Sprintf("10.0.1.%d", h+1)), addr(fmt.Sprintf("203.0.113.%d", h+1)),
				layers.TCPPort(41000+10*i+h), byte(h+1))
		}
	}
	for i := range 6 {
		for h := range 2 {
			from := len(w.frames)
			w.tcp(at(10+float64(i)+float64(h)/10), addr(fmt.Sprintf("10.0.2.%d", h+1)), addr(fmt.Sprintf("198.51.100.%d", h+1)), 443, []byte("hello"))
			ownMAC(w, from, byte(h+10))
		}
	}
	// Two internal hosts talk all along (no alert: internal to internal);
	// the flow tables sweep at their packets too.
	for s := 0.0; s < 20*60; s += 2 {
		w.udp(at(s/60), addr("10.0.3.1"), addr("10.0.3.2"), 5000, []byte("x"))
	}
	idle := func(c *Config) { c.Flow.TCPIdle = 20 * time.Second }
	inline, _ := replayNames(t, w, 1, idle)
	want := alertKeys(inline)
	if len(want) != 5 {
		t.Fatalf("one worker: alerts %v, want five (three dead beacons, two live)", want)
	}
	for _, workers := range []int{2, 3} {
		got, _ := replayNames(t, w, workers, idle)
		if !slices.Equal(alertKeys(got), want) {
			t.Errorf("%d workers: alerts in the order\n%v\nwant one worker's\n%v", workers, alertKeys(got), want)
		}
	}
}

// When one packet both triggers the sweep that ends a session and raises an
// alert itself, one worker's flow table sweeps first: the ended session's
// alert comes before the packet's, whichever workers the two hosts have.
// A dead beacon's sessions (handshakes only) go idle between a live
// beacon's, named by a lookup made once, whose connections sweep them; the
// fifth of each alerts at the same packet.
func TestShardedSweepBeforePacket(t *testing.T) {
	live, resolver := addr("10.0.2.1"), addr("192.0.2.53")
	q := new(dns.Msg)
	q.SetQuestion("sync.example.com.", dns.TypeA)
	r := new(dns.Msg)
	r.SetReply(q)
	r.Answer = append(r.Answer, &dns.A{Hdr: dns.RR_Header{Name: "sync.example.com.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 3600},
		A: addr("198.51.100.1").AsSlice()})
	query, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	reply, err := r.Pack()
	if err != nil {
		t.Fatal(err)
	}
	for _, macs := range [][2]byte{{1, 2}, {1, 3}, {2, 5}, {4, 7}} {
		w := &wire{t: t}
		from := len(w.frames)
		w.add(at(0.9), live, resolver, &layers.UDP{SrcPort: 53000, DstPort: 53}, query)
		w.add(at(0.901), resolver, live, &layers.UDP{SrcPort: 53, DstPort: 53000}, reply)
		ownMAC(w, from, macs[1])
		for i := range 5 {
			deadBeacon(w, at(0.5+float64(i)), addr("10.0.1.1"), addr("203.0.113.1"), layers.TCPPort(41000+i), macs[0])
			from := len(w.frames)
			w.tcp(at(1+float64(i)), live, addr("198.51.100.1"), 443, []byte("hello"))
			ownMAC(w, from, macs[1])
		}
		// The live beacon's fifth session starts (its SYN-ACK: it
		// alerts) 29.999 s after the dead one's fifth went quiet, and a
		// packet between two other hosts 1.01 s before makes the next
		// sweep due just after its SYN: the SYN-ACK sweeps.
		w.udp(at(4+59.010/60), addr("10.0.3.1"), addr("10.0.3.2"), 5000, []byte("x"))
		idle := func(c *Config) { c.Flow.TCPIdle = 29500 * time.Millisecond }
		inline, _ := replayNames(t, w, 1, idle)
		want := alertKeys(inline)
		if len(inline) != 2 || inline[0].SrcIP != "10.0.1.1" || inline[1].SrcIP != "10.0.2.1" {
			t.Fatalf("one worker: alerts %v, want the dead beacon's (10.0.1.1), then the live one's", want)
		}
		for _, workers := range []int{2, 3} {
			got, _ := replayNames(t, w, workers, idle)
			if !slices.Equal(alertKeys(got), want) {
				t.Errorf("MACs %v, %d workers: alerts from %v, want %v", macs, workers, alertKeys(got), want)
			}
		}
	}
}

// What a host says of itself from its link-local address reaches its alerts
// whatever the worker count: a Windows host's DHCPv6 Solicit (hop limit 1,
// vendor class "MSFT 5.0") goes to the worker of the host's MAC, as its
// beacon over IPv4 does, because the Solicit's frame binds its link-local
// source to that MAC.
func TestShardedLinkLocalEvidence(t *testing.T) {
	const mac = 0x42
	solicit := []byte{1, 0x12, 0x34, 0x56, // SOLICIT, transaction id
		0, 16, 0, 14, 0, 0, 1, 0x37, 0, 8, 'M', 'S', 'F', 'T', ' ', '5', '.', '0', // vendor class: enterprise 311
		0, 6, 0, 8, 0, 24, 0, 23, 0, 17, 0, 39} // option request
	w := &wire{t: t}
	host, ll := addr("10.0.4.7"), addr("fe80::a179:b3ff:199:2314")
	w.add(at(0.1), ll, addr("ff02::1:2"), &layers.UDP{SrcPort: 546, DstPort: 547}, solicit)
	d := w.frames[len(w.frames)-1].Data
	copy(d[6:12], []byte{0x3c, 0x22, 0xfb, 0, 0, mac}) // sent by the host
	d[14+7] = 1                                        // at hop limit 1, as a Solicit is
	for i := range 8 {
		from := len(w.frames)
		w.tcp(at(1+float64(i)), host, addr("198.51.100.7"), 443, []byte("hello"))
		ownMAC(w, from, mac)
	}
	evidence := func(as []*alert.Alert) string {
		if len(as) != 1 {
			return fmt.Sprintf("%d alerts", len(as))
		}
		return fmt.Sprintf("%s %s %v", as[0].HostID, as[0].HostOS, as[0].HostEvidence)
	}
	inline, _ := replayNames(t, w, 1, nil)
	want := evidence(inline)
	if !strings.Contains(want, "MSFT 5.0") {
		t.Fatalf("one worker: %s, want the DHCPv6 vendor class in the evidence", want)
	}
	for workers := 2; workers <= 6; workers++ {
		got, _ := replayNames(t, w, workers, nil)
		if g := evidence(got); g != want {
			t.Errorf("%d workers: %s, want one worker's %s", workers, g, want)
		}
	}
}

// alertKeys names alerts by source and id, in their order.
func alertKeys(as []*alert.Alert) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.SrcIP+" "+a.ID)
	}
	return out
}
