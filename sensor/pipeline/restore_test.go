package pipeline

import (
	"log/slog"
	"net/netip"
	"testing"

	"github.com/launchtap/launchtap/sensor/hostid"
	"github.com/launchtap/launchtap/sensor/shard"
)

// A dual-stack Mac's IPv4 and IPv6 belong to different workers: each
// worker exports its copy, the snapshot merges them into one state, and a
// restore gives the merged state to both owners (and a binding to its
// address's owner), so either worker names the Mac after a restart.
func TestRestoreHostsToOwners(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Log = slog.New(slog.DiscardHandler)
	cfg.Workers = 4
	v4, v6 := netip.MustParseAddr("10.0.0.7"), netip.MustParseAddr("fd00::7")
	for n := 0; shard.Worker(shard.Hash(v4), 4) == shard.Worker(shard.Hash(v6), 4); n++ {
		v6 = netip.AddrFrom16([16]byte{0xfd, 15: byte(n)}) // find an address another worker owns
	}
	mac := [6]byte{0x3c, 0x22, 0xfb, 0, 0, 7}
	ev := hostid.EvidenceState{Key: 27, Claim: 3, Weight: 3, Text: "TCP SYN matches 'Darwin'", Count: 2, First: 1, Last: 5}
	copies := []*hostid.HostState{
		{MAC: mac, First: 1, Last: 5, Addrs: []hostid.AddrSeen{{Addr: v4, Last: 5}}, Evidence: []hostid.EvidenceState{ev}},
		{MAC: mac, First: 3, Last: 9, Addrs: []hostid.AddrSeen{{Addr: v6, Last: 9}}},
		{IP: netip.MustParseAddr("10.0.0.99"), First: 1, Last: 2}, // observed before since: not written
	}
	binds := []hostid.BindingState{{Addr: v4, MAC: mac, Until: 100}, {Addr: v4, MAC: mac, Until: 200, DHCP: true}}
	hs, bs := mergeHosts(copies, binds, 3)
	if len(hs) != 1 || len(hs[0].Addrs) != 2 || hs[0].First != 1 || hs[0].Last != 9 || len(bs) != 1 || bs[0].Until != 200 {
		t.Fatalf("merged %+v, bindings %+v", hs, bs)
	}

	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	restored, refused, err := p.RestoreHosts(func(fn func(*hostid.HostState)) error {
		for _, h := range hs {
			fn(h)
		}
		return nil
	}, func(fn func(hostid.BindingState)) error {
		for _, b := range bs {
			fn(b)
		}
		return nil
	})
	if err != nil || restored != 1 || refused != 0 {
		t.Fatalf("restored %d, refused %d, %v", restored, refused, err)
	}
	for i, w := range p.workers {
		owner := i == shard.Worker(shard.Hash(v4), 4) || i == shard.Worker(shard.Hash(v6), 4)
		if got := w.hosts.Stats().Hosts; got != map[bool]int{true: 1, false: 0}[owner] {
			t.Errorf("worker %d holds %d hosts (owner %v)", i, got, owner)
		}
	}
	w4 := p.workers[shard.Worker(shard.Hash(v4), 4)]
	if w4.hosts.Stats().Bindings != 1 {
		t.Errorf("the IPv4 owner holds %d bindings", w4.hosts.Stats().Bindings)
	}
	// By the bound address alone (a routed frame), the evidence is found.
	if v := w4.hosts.Lookup(v4, [6]byte{}, false); len(v.Evidence) == 0 || v.MAC == "" {
		t.Errorf("verdict by address after restore: %+v", v)
	}
}
