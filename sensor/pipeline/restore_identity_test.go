package pipeline

import (
	"context"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/launchtap/launchtap/sensor/capture"
	"github.com/launchtap/launchtap/sensor/host"
	"github.com/launchtap/launchtap/sensor/shard"
)

var (
	idWiFi = [6]byte{0xf0, 0x18, 0x98, 0x6a, 0x21, 0x07}
	idDock = [6]byte{0x00, 0xe0, 0x4c, 0x68, 0x0a, 0x3e}
	idAddr = netip.MustParseAddr("10.20.8.31")
	idT0   = time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC).UnixNano()
)

// dockedSaved is a checkpoint of a docked Mac: its dock joined its Wi-Fi's
// host, the dock's leased address bound to the dock.
func dockedSaved() host.Saved {
	return host.Saved{Clock: idT0,
		Joins:    []host.Join{{Member: idDock, Host: idWiFi, Last: idT0 - int64(time.Hour)}},
		Bindings: []host.Binding{{Addr: idAddr, MAC: idDock, Last: idT0 - int64(time.Minute), Lease: true}}}
}

// TestRestoreIdentityReachesEveryBinder: every worker's binder and the
// binder a sharded replay's reader makes later resolve the dock's MAC and
// address to the Wi-Fi's host; a checkpoint after a replay of nothing
// carries the state on.
func TestRestoreIdentityReachesEveryBinder(t *testing.T) {
	for _, workers := range []int{1, 3} {
		cfg := DefaultConfig()
		cfg.Log = slog.New(slog.DiscardHandler)
		cfg.Workers = workers
		p, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.RestoreIdentity(dockedSaved()); got != (IdentityRestore{Joins: 1, Bindings: 1}) {
			t.Errorf("workers %d: restore counted %+v", workers, got)
		}
		own, err := newOwners(&p.cfg) // as replaySharded makes its reader's
		if err != nil {
			t.Fatal(err)
		}
		binders := []*host.Binder{own.binder}
		for _, w := range p.workers {
			binders = append(binders, w.own.binder)
		}
		for i, b := range binders {
			if c := b.Canonical(idDock); c != idWiFi {
				t.Errorf("workers %d, binder %d: the dock's canonical MAC is %v", workers, i, host.MACKey(c))
			}
			if k := b.Resolve(idAddr); k != host.MACKey(idWiFi) {
				t.Errorf("workers %d, binder %d: %s resolves to %v", workers, i, idAddr, k)
			}
		}
		go func() {
			for range p.Alerts() {
			}
		}()
		if err := p.Replay(context.Background(), &memSource{}); err != nil {
			t.Fatal(err)
		}
		snap, err := p.Snapshot(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(snap.Identity.Joins) != 1 || snap.Identity.Joins[0] != dockedSaved().Joins[0] || len(snap.Identity.Bindings) != 1 {
			t.Errorf("workers %d: a checkpoint after no packet carries %+v", workers, snap.Identity)
		}
		if s := p.Stats().Identity; s.RestoredJoins != 1 || s.RestoredBindings != 1 {
			t.Errorf("workers %d: stats count %d joins, %d bindings restored", workers, s.RestoredJoins, s.RestoredBindings)
		}
	}
}

// TestRunWritesRestoredIdentity: live capture with several workers tells
// the kernel's hosts map the restored join and binding before the first
// packet, as it does the inventory's joins.
func TestRunWritesRestoredIdentity(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Log = slog.New(slog.DiscardHandler)
	cfg.Workers = 2
	f := &fakeHosts{m: map[[16]byte]uint32{}}
	cfg.Hosts = f
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.RestoreIdentity(dockedSaved())
	go func() {
		for range p.Alerts() {
		}
	}()
	if err := p.Run(context.Background(), []capture.Source{&memSource{}, &memSource{}}); err != nil {
		t.Fatal(err)
	}
	want := shard.HashKey(host.MACKey(idWiFi))
	if v, ok := f.m[shard.MapKey(netip.Addr{}, idDock)]; !ok || v != want {
		t.Errorf("kernel map for the dock's MAC: %#x, %v; want %#x", v, ok, want)
	}
	if v, ok := f.m[shard.MapKey(idAddr, [6]byte{})]; !ok || v != want {
		t.Errorf("kernel map for %s: %#x, %v; want %#x", idAddr, v, ok, want)
	}
	if s := p.Stats().Identity; s.RestoredJoins != 1 || s.RestoredBindings != 1 {
		t.Errorf("stats count %d joins, %d bindings restored (once, not per worker)", s.RestoredJoins, s.RestoredBindings)
	}
}
