package pipeline

import (
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/launchtap/launchtap/internal/pkttest"
	"github.com/launchtap/launchtap/sensor/dnstrack"
	"github.com/launchtap/launchtap/sensor/host"
	"github.com/launchtap/launchtap/sensor/hostid"
	"github.com/launchtap/launchtap/sensor/shard"
)

// After a restart a Mac's packets go to the worker of its MAC (the reader
// binds the address from its first frame): RestoreDNS and RestoreHosts hand
// its answers and OS evidence to that worker.
func TestRestoreGoesToTheHostsWorker(t *testing.T) {
	const n = 4
	cfg := DefaultConfig()
	cfg.Log = slog.New(slog.DiscardHandler)
	cfg.Workers = n
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr("10.20.1.15")
	mac := [6]byte{0x3c, 0x22, 0xfb, 0x1a, 0x2b, 0x3c}
	for i := byte(0); ; i++ {
		own, _ := newOwners(&p.cfg)
		syn := pkttest.Darwin.SYN(1, a, c2, mac, true, 0, 50000, 443)
		if shard.Worker(shard.HashKey(own.host(&syn).key), n) != shard.Worker(shard.Hash(a), n) {
			break
		}
		mac[5] = i
	}
	start := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC).UnixNano()
	_, refused, err := p.RestoreDNS(func(fn func(dnstrack.Answer)) error {
		fn(dnstrack.Answer{Client: a, Addr: c2, Name: "c2.example.com", At: start, Expires: start + int64(time.Hour)})
		return nil
	})
	if err != nil || refused != 0 {
		t.Fatal(refused, err)
	}
	ev := hostid.EvidenceState{Key: 27, Claim: 3, Weight: 3, Text: "TCP SYN matches 'Darwin'", Count: 2, First: 1, Last: 5}
	if _, _, err := p.RestoreHosts(func(fn func(*hostid.HostState)) error {
		fn(&hostid.HostState{MAC: mac, First: 1, Last: 5, Addrs: []hostid.AddrSeen{{Addr: a, Last: 5}}, Evidence: []hostid.EvidenceState{ev}})
		return nil
	}, func(func(hostid.BindingState)) error { return nil }); err != nil {
		t.Fatal(err)
	}
	// The first packet after the restart, as the sharded reader owns it.
	own, _ := newOwners(&p.cfg)
	syn := pkttest.Darwin.SYN(start+int64(time.Minute), a, c2, mac, true, 0, 50000, 443)
	w := p.workers[shard.Worker(shard.HashKey(own.host(&syn).key), n)]
	if _, ok := w.dns.Name(a, c2, syn.TS); !ok {
		t.Errorf("the worker that handles %s (host %v) has no restored DNS answer", a, own.host(&syn).key)
	}
	if v := w.hosts.Lookup(a, mac, true); len(v.Evidence) == 0 {
		t.Errorf("the worker that handles %s has no restored OS evidence: %+v", a, v)
	}
}

// A joined MAC found a router and later a host again (a docked laptop's
// Wi-Fi that roamed): the NotRouter change is no end of the MAC's join for
// the kernel's map, which keeps the entry every binder holds.
func TestNotRouterKeepsJoinEntries(t *testing.T) {
	m1, canon := [6]byte{0x3c, 0, 0, 0, 0, 1}, [6]byte{0x3c, 0, 0, 0, 0, 9}
	f := &fakeHosts{m: map[[16]byte]uint32{}}
	h := newLiveHosts(f, 0, slog.New(slog.DiscardHandler))
	h.write([]host.Change{{MAC: m1, Host: host.MACKey(canon)}})
	h.write([]host.Change{{MAC: m1, Host: host.MACKey(m1), Router: true}})
	h.write([]host.Change{{MAC: m1, Host: host.MACKey(m1), NotRouter: true}})
	if got, ok := f.m[shard.MapKey(netip.Addr{}, m1)]; !ok || got != shard.HashKey(host.MACKey(canon)) {
		t.Errorf("the kernel's entry of the joined MAC: %#x %v, want the host's hash", got, ok)
	}
}
