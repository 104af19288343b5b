package pipeline

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/flow"
	"github.com/launchtap/launchtap/sensor/slru"
)

func dnsTestWorker(t testing.TB) (*worker, chan *alert.Alert) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.OS = "any"
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	out := make(chan *alert.Alert, 64)
	w, err := newWorker(0, &cfg, out)
	if err != nil {
		t.Fatal(err)
	}
	return w, out
}

func secs(s float64) int64 { return int64(s * float64(time.Second)) }

var (
	dnsClient   = netip.MustParseAddr("10.20.1.50")
	dnsResolver = netip.MustParseAddr("10.20.0.53")
)

// TestDNSChannelBeats: which repeated lookups of one name are beats of a
// DNS-channel pair, and what its alert says.
func TestDNSChannelBeats(t *testing.T) {
	t.Run("TXT polled every 1.3 s alerts naming domain, type and resolver", func(t *testing.T) {
		w, out := dnsTestWorker(t)
		for i := 0; i < 12; i++ {
			w.DNSQuery(dnsClient, [6]byte{}, false, dnsResolver, "c.1-1.24006.ns.evil.example", dns.TypeTXT, secs(1000+1.3*float64(i)))
		}
		if len(out) == 0 {
			t.Fatal("TXT poll did not alert")
		}
		a := <-out
		if a.Kind != "dns" || a.DstFQDN != "c.1-1.24006.ns.evil.example" || a.DNSDomain != "evil.example" ||
			!slices.Equal(a.DNSRecordTypes, []string{"TXT"}) || a.DNSResolver != dnsResolver.String() {
			t.Errorf("alert %+v", a)
		}
		if a.PeriodS < 1.28 || a.PeriodS > 1.32 {
			t.Errorf("period %.3f s, want 1.3", a.PeriodS)
		}
	})
	t.Run("A re-asked the moment its 60 s TTL runs out alerts", func(t *testing.T) {
		w, out := dnsTestWorker(t)
		for i := 0; i < 6; i++ {
			ts := 1000 + 60.2*float64(i)
			w.DNSQuery(dnsClient, [6]byte{}, false, dnsResolver, "rat.ddns.example", dns.TypeA, secs(ts))
			w.DNSAnswer(dnsClient, "rat.ddns.example", dns.TypeA, 60*time.Second, netip.MustParseAddr("198.51.100.66"), secs(ts+0.01))
		}
		if len(out) != 1 {
			t.Fatalf("%d alerts, want 1", len(out))
		}
		if a := <-out; a.PeriodS < 59 || a.PeriodS > 61 || a.Beats != 5 {
			t.Errorf("alert at beat %d, period %.1f; want the 5th, 60.2 s", a.Beats, a.PeriodS)
		}
	})
	t.Run("A asked again after its TTL and a pause is no beat", func(t *testing.T) {
		w, out := dnsTestWorker(t)
		for i := 0; i < 20; i++ {
			ts := 1000 + 300*float64(i)
			w.DNSQuery(dnsClient, [6]byte{}, false, dnsResolver, "www.news.example", dns.TypeA, secs(ts))
			w.DNSQuery(dnsClient, [6]byte{}, false, dnsResolver, "www.news.example", dns.TypeAAAA, secs(ts+0.004))
			w.DNSAnswer(dnsClient, "www.news.example", dns.TypeA, 60*time.Second, netip.Addr{}, secs(ts+0.01))
			w.DNSAnswer(dnsClient, "www.news.example", dns.TypeAAAA, 60*time.Second, netip.Addr{}, secs(ts+0.011))
		}
		// One beat: the first name asked under news.example, for the pair of
		// names changing under the domain. The repeats are none.
		if len(out) != 0 || w.det.Stats().Beats != 1 {
			t.Fatalf("cached lookups made %d beats and %d alerts, want 1 and 0", w.det.Stats().Beats, len(out))
		}
	})
	t.Run("AAAA right after the A answer is the same round, no beat", func(t *testing.T) {
		w, _ := dnsTestWorker(t)
		for i := 0; i < 20; i++ {
			ts := 1000 + 90*float64(i)
			w.DNSQuery(dnsClient, [6]byte{}, false, dnsResolver, "api.app.example", dns.TypeA, secs(ts))
			w.DNSAnswer(dnsClient, "api.app.example", dns.TypeA, 60*time.Second, netip.Addr{}, secs(ts+0.01))
			w.DNSQuery(dnsClient, [6]byte{}, false, dnsResolver, "api.app.example", dns.TypeAAAA, secs(ts+0.02))
			w.DNSAnswer(dnsClient, "api.app.example", dns.TypeAAAA, 60*time.Second, netip.Addr{}, secs(ts+0.03))
		}
		if b := w.det.Stats().Beats; b != 1 {
			t.Fatalf("%d beats from A+AAAA rounds after each TTL ran out, want 1 (the domain's first name)", b)
		}
	})
	t.Run("a name that answers with an internal address is never polled", func(t *testing.T) {
		w, out := dnsTestWorker(t)
		for i := 0; i < 12; i++ {
			ts := 1000 + 60.2*float64(i)
			w.DNSQuery(dnsClient, [6]byte{}, false, dnsResolver, "ci.corp.example", dns.TypeA, secs(ts))
			w.DNSAnswer(dnsClient, "ci.corp.example", dns.TypeA, 60*time.Second, netip.MustParseAddr("10.20.3.9"), secs(ts+0.01))
		}
		if len(out) != 0 || w.det.Stats().Beats > 1 {
			t.Fatalf("internal service: %d beats, %d alerts", w.det.Stats().Beats, len(out))
		}
	})
	t.Run("a lookup before every connection is the connection pair's, not a second alert", func(t *testing.T) {
		w, out := dnsTestWorker(t)
		server := netip.MustParseAddr("203.0.113.7")
		for i := 0; i < 12; i++ {
			ts := 1000 + 20*float64(i)
			w.DNSQuery(dnsClient, [6]byte{}, false, dnsResolver, "c2.evil.example", dns.TypeA, secs(ts))
			w.DNSAnswer(dnsClient, "c2.evil.example", dns.TypeA, 300*time.Second, server, secs(ts+0.01))
			s := &flow.Session{ClientAddr: dnsClient, ServerAddr: server, Start: secs(ts + 0.02)}
			s.Key.ServerPort, s.Key.Proto = 443, 6
			s.Name = "c2.evil.example"
			w.sessionBeat(s)
		}
		var kinds []string
		for len(out) > 0 {
			kinds = append(kinds, (<-out).Kind)
		}
		if !slices.Equal(kinds, []string{"session"}) || w.c.dnsShadows == 0 {
			t.Fatalf("alerts %v, shadows %d; want the session pair alone, the DNS pair counted as its shadow", kinds, w.c.dnsShadows)
		}
	})
}

// smallDNSWorker is a worker whose DNS-channel tables hold 16 channels each.
func smallDNSWorker(t *testing.T) *worker {
	t.Helper()
	cfg := DefaultConfig()
	cfg.DNS.MaxAnswers = 64 // tables of 16 channels
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	w, err := newWorker(0, &cfg, make(chan *alert.Alert, 64))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestDNSChannelTablesBounded: each DNS-channel table holds at most its
// bound, evicts the least recently used channel for a new one and counts
// every eviction.
func TestDNSChannelTablesBounded(t *testing.T) {
	w := smallDNSWorker(t)
	const keep = "keep.sub.kept.example"
	for i := range 40 {
		w.DNSQuery(dnsClient, [6]byte{}, false, dnsResolver, keep, dns.TypeA, secs(float64(1000+i)))
		w.DNSQuery(dnsClient, [6]byte{}, false, dnsResolver, fmt.Sprintf("n%d.d%d.example", i, i), dns.TypeA, secs(float64(1000+i)))
	}
	// 41 names and 41 domains each went into a table of 16.
	if w.dnsPolls.Len() != 16 || w.dnsNew.Len() != 16 || w.c.dnsNameEvictions != 2*(41-16) {
		t.Fatalf("tables hold %d and %d channels, %d evictions; want 16, 16, %d", w.dnsPolls.Len(), w.dnsNew.Len(), w.c.dnsNameEvictions, 2*(41-16))
	}
	h := w.hostOf(dnsClient)
	if _, ok := w.dnsPolls.Peek(w.dnsKey(h, keep)); !ok {
		t.Error("the name asked all along was evicted")
	}
	if _, ok := w.dnsNew.Peek(w.dnsKey(h, "kept.example")); !ok {
		t.Error("the domain asked all along was evicted")
	}
	if _, ok := w.dnsPolls.Peek(w.dnsKey(h, "n0.d0.example")); ok {
		t.Error("the oldest name was kept")
	}
}

// TestPollMemoForgetsEvicted: a channel remembered for the lookups after a
// query is not found there once it has left dnsPolls, and a new channel of
// the same name is the one found.
func TestPollMemoForgetsEvicted(t *testing.T) {
	w := smallDNSWorker(t)
	const name = "c2.evil.example"
	w.DNSQuery(dnsClient, [6]byte{}, false, dnsResolver, name, dns.TypeA, secs(1000))
	k := w.dnsKey(w.hostOf(dnsClient), name)
	first, ok := w.peekPoll(k)
	if !ok {
		t.Fatal("the channel of the name just asked is not found")
	}
	// Other lookups fill the table and push it out (added straight to the
	// table: the memo keeps its slot).
	for i := range 16 {
		w.dnsPolls.Add(w.dnsKey(w.hostOf(dnsClient), fmt.Sprintf("n%d.example", i)), &dnsChannel{})
	}
	if _, ok := w.dnsPolls.Peek(k); ok {
		t.Fatal("the table kept the oldest channel")
	}
	if ch, ok := w.peekPoll(k); ok {
		t.Fatalf("an evicted channel was found: %p (was %p)", ch, first)
	}
	w.DNSQuery(dnsClient, [6]byte{}, false, dnsResolver, name, dns.TypeA, secs(1100))
	w.DNSAnswer(dnsClient, name, dns.TypeA, 60*time.Second, netip.MustParseAddr("198.51.100.7"), secs(1100.01))
	ch, ok := w.dnsPolls.Peek(k)
	if !ok || ch == first || ch.expires == 0 || first.expires != 0 {
		t.Fatalf("the answer went to channel %p (expires %d), want the new one %p", first, first.expires, ch)
	}
}

// TestDNSMemosChangeNothing: a worker whose memos (lastQuery, pollMemo) are
// forgotten before every call ends with the same channels, in the same
// order of recency, the same beats and evictions as one that uses them,
// over a run of lookups that repeat, answer, connect and overflow small
// tables.
func TestDNSMemosChangeNothing(t *testing.T) {
	newW := func() *worker {
		cfg := DefaultConfig()
		cfg.DNS.MaxAnswers = 64 // tables of 16 channels
		cfg.OS = "any"
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
		w, err := newWorker(0, &cfg, make(chan *alert.Alert, 4096))
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	memo, plain := newW(), newW()
	forget := func(w *worker) { w.lastQuery, w.polls = lastQuery{}, pollMemo{gen: w.polls.gen + 1} }
	rng := rand.New(rand.NewPCG(1, 2))
	hosts := []netip.Addr{dnsClient, netip.MustParseAddr("10.20.1.51"), netip.MustParseAddr("10.20.1.52")}
	beacon := netip.MustParseAddr("10.20.1.60")
	types := []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeTXT}
	ts := secs(1000)
	var c netip.Addr
	var name string
	for i := range 20000 {
		ts += int64(rng.IntN(3000)) * int64(time.Millisecond)
		if i == 0 || rng.IntN(2) == 0 { // else the same host asks the same name again
			c, name = hosts[rng.IntN(len(hosts))], fmt.Sprintf("n%d.d%d.example", rng.IntN(12), rng.IntN(4))
			if rng.IntN(8) == 0 {
				name = fmt.Sprintf("d%d.example", rng.IntN(4)) // an apex
			}
		}
		qt := types[rng.IntN(len(types))]
		for _, w := range []*worker{memo, plain} {
			if w == plain {
				forget(w)
			}
			if i%10 == 0 { // a beacon polling its name, and connecting after each poll
				w.DNSQuery(beacon, [6]byte{}, false, dnsResolver, "poll.evil.example", dns.TypeTXT, secs(float64(i/2)))
				if w == plain {
					forget(w)
				}
				s := &flow.Session{ClientAddr: beacon, ServerAddr: netip.MustParseAddr("203.0.113.9"), Start: secs(float64(i/2) + 0.1), Name: "poll.evil.example"}
				s.Key.ServerPort, s.Key.Proto = 443, 6
				w.sessionBeat(s)
				if w == plain {
					forget(w)
				}
			}
			switch rng := rand.New(rand.NewPCG(uint64(i), 3)); rng.IntN(4) {
			case 0:
				w.DNSAnswer(c, name, qt, time.Duration(1+rng.IntN(5))*time.Second, netip.MustParseAddr("198.51.100.7"), ts)
			case 1:
				s := &flow.Session{ClientAddr: c, ServerAddr: netip.MustParseAddr("198.51.100.7"), Start: ts, Name: name}
				s.Key.ServerPort, s.Key.Proto = 443, 6
				w.sessionBeat(s)
			default:
				w.DNSQuery(c, [6]byte{}, false, dnsResolver, name, qt, ts)
			}
		}
	}
	for _, tb := range []struct {
		name       string
		memo, main *slru.Table[dnsPairKey, *dnsChannel]
	}{{"dnsNew", memo.dnsNew, plain.dnsNew}, {"dnsPolls", memo.dnsPolls, plain.dnsPolls}} {
		mk, pk := tb.memo.Keys(), tb.main.Keys()
		if len(mk) != len(pk) {
			t.Fatalf("%s: %d channels with memos, %d without", tb.name, len(mk), len(pk))
		}
		mv, pv := tb.memo.Values(), tb.main.Values()
		for i := range mk {
			if mk[i].client != pk[i].client || mk[i].domain != pk[i].domain || *mv[i] != *pv[i] {
				t.Fatalf("%s: %dth least recently used: %v %+v with memos, %v %+v without", tb.name, i, mk[i], *mv[i], pk[i], *pv[i])
			}
		}
	}
	if memo.c.dnsNameEvictions == 0 || memo.c.dnsNameEvictions != plain.c.dnsNameEvictions {
		t.Errorf("evictions %d with memos, %d without; want equal, not 0", memo.c.dnsNameEvictions, plain.c.dnsNameEvictions)
	}
	if ms, ps := memo.det.Stats(), plain.det.Stats(); ms.Beats == 0 || ms != ps {
		t.Errorf("detector %+v with memos, %+v without", ms, ps)
	}
	t.Logf("beats %d, findings %d, shadows %d, evictions %d", memo.det.Stats().Beats, memo.c.findings, memo.c.dnsShadows, memo.c.dnsNameEvictions)
	if memo.c.findings != plain.c.findings || memo.c.dnsShadows != plain.c.dnsShadows {
		t.Errorf("findings %d, shadows %d with memos; %d, %d without", memo.c.findings, memo.c.dnsShadows, plain.c.findings, plain.c.dnsShadows)
	}
}
