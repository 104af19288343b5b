package host

import (
	"net/netip"
	"testing"
	"time"
)

// dockedBinder learns the docked Mac of the restore tests: macA (Wi-Fi)
// announces the name first, at t0, macA2 (the dock) joins it a minute
// later; both hold a leased address.
func dockedBinder(t *testing.T, t0 int64) *Binder {
	t.Helper()
	b := newBinder(t, Config{})
	b.Learn(request(t0, macA, "Priyas-MacBook-Pro"))
	b.Learn(ack(t0+int64(time.Second), "10.20.9.77", macA))
	b.Learn(request(t0+int64(time.Minute), macA2, "Priyas-MacBook-Pro"))
	b.Learn(ack(t0+int64(time.Minute+time.Second), "10.20.8.31", macA2))
	if b.Canonical(macA2) != macA {
		t.Fatalf("setup: the dock's MAC did not join the Wi-Fi's host")
	}
	return b
}

// TestRestoreKeepsCanonical: a binder restored from another's export, whose
// first packets are the other MAC announcing first, keeps the canonical MAC
// the first binder chose; without the restore it picks the other.
func TestRestoreKeepsCanonical(t *testing.T) {
	t0 := int64(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC).UnixNano())
	saved := dockedBinder(t, t0).Export()
	if len(saved.Joins) != 1 || saved.Joins[0] != (Join{Member: macA2, Host: macA, Last: t0 + int64(time.Minute)}) {
		t.Fatalf("export joins %+v", saved.Joins)
	}
	if len(saved.Bindings) != 3 { // both leases, and the DHCP server's own address
		t.Fatalf("export bindings %+v", saved.Bindings)
	}
	later := t0 + int64(10*time.Minute)
	for _, restore := range []bool{false, true} {
		b := newBinder(t, Config{})
		if restore {
			b.Restore(saved)
			if s := b.Stats(); s.RestoredJoins != 1 || s.RestoredBindings != 3 || s.RestoreRefused != 0 || s.RestoreAged != 0 {
				t.Fatalf("restore counted %+v", s)
			}
			// Before any packet, the dock's leased address is the host's.
			if k := b.Resolve(addr("10.20.8.31")); k != MACKey(macA) {
				t.Errorf("restored binding resolves to %v", k)
			}
		}
		b.Learn(request(later, macA2, "Priyas-MacBook-Pro"))
		b.Learn(ack(later+int64(time.Second), "10.20.8.31", macA2))
		b.Learn(request(later+int64(time.Minute), macA, "Priyas-MacBook-Pro"))
		want := macA2 // the dock announced first after the restart
		if restore {
			want = macA
		}
		if got := b.Resolve(addr("10.20.8.31")); got != MACKey(want) {
			t.Errorf("restore=%v: the dock's address resolves to %v, want %v", restore, got, MACKey(want))
		}
		if got := b.Canonical(macA); got != want {
			t.Errorf("restore=%v: Wi-Fi's canonical %v, want %v", restore, MACKey(got), MACKey(want))
		}
	}
}

// TestRestoreRefused: a restored join or binding that would break one of
// the binder's rules is refused and counted; one too old is aged.
func TestRestoreRefused(t *testing.T) {
	t0 := int64(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC).UnixNano())
	m := func(i byte) [6]byte { return [6]byte{0x3c, 0x22, 0xfb, 0x40, 0, i} }
	for _, tc := range []struct {
		name          string
		setup         func(b *Binder)
		saved         Saved
		joins, binds  uint64 // restored
		refused, aged uint64
		member, canon [6]byte // after restore, Canonical(member) == canon
		addr          string  // and, when set, it resolves to canon
	}{{
		name:  "restored",
		saved: Saved{Clock: t0, Joins: []Join{{m(2), m(1), t0}}, Bindings: []Binding{{addr("10.20.1.2"), m(2), t0, true}}},
		joins: 1, binds: 1,
		member: m(2), canon: m(1), addr: "10.20.1.2",
	}, {
		name:  "most MACs per host",
		saved: Saved{Clock: t0, Joins: []Join{{m(2), m(1), t0 - 4}, {m(3), m(1), t0 - 3}, {m(4), m(1), t0 - 2}, {m(5), m(1), t0 - 1}}},
		joins: 3, refused: 1,
		member: m(5), canon: m(5),
	}, {
		name:    "router's MAC",
		saved:   Saved{Clock: t0, Joins: []Join{{m(2), macR, t0}}, Bindings: []Binding{{addr("10.20.0.1"), macR, t0, false}}, Routers: [][6]byte{macR}},
		refused: 2,
		member:  m(2), canon: m(2), addr: "",
	}, {
		name:    "inventory join wins",
		setup:   func(b *Binder) { b.JoinStatic([][6]byte{m(9), m(2)}) },
		saved:   Saved{Clock: t0, Joins: []Join{{m(2), m(1), t0}}},
		refused: 1,
		member:  m(2), canon: m(9),
	}, {
		name:  "member already part of a host",
		saved: Saved{Clock: t0, Joins: []Join{{m(2), m(1), t0 - 1}, {m(2), m(3), t0}}},
		joins: 1, refused: 1,
		member: m(2), canon: m(1),
	}, {
		name:  "canonical of others cannot join",
		saved: Saved{Clock: t0, Joins: []Join{{m(2), m(1), t0 - 1}, {m(1), m(3), t0}}},
		joins: 1, refused: 1,
		member: m(1), canon: m(1),
	}, {
		name:    "bad MACs and addresses",
		saved:   Saved{Clock: t0, Joins: []Join{{[6]byte{}, m(1), t0}, {m(1), m(1), t0}, {[6]byte{1, 0, 0x5e, 0, 0, 1}, m(1), t0}}, Bindings: []Binding{{Addr: addr("224.0.0.251"), MAC: m(1), Last: t0}, {MAC: m(1), Last: t0}}},
		refused: 5,
		member:  m(1), canon: m(1),
	}, {
		name:   "aged at the checkpoint's time",
		saved:  Saved{Clock: t0, Joins: []Join{{m(2), m(1), t0 - int64(JoinTTL)}}, Bindings: []Binding{{addr("10.20.1.2"), m(2), t0 - int64(DefaultBindTTL) - 1, false}}},
		aged:   2,
		member: m(2), canon: m(2),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBinder(t, Config{})
			if tc.setup != nil {
				tc.setup(b)
			}
			b.Restore(tc.saved)
			s := b.Stats()
			if s.RestoredJoins != tc.joins || s.RestoredBindings != tc.binds || s.RestoreRefused != tc.refused || s.RestoreAged != tc.aged {
				t.Errorf("restored joins %d bindings %d, refused %d, aged %d; want %d %d %d %d",
					s.RestoredJoins, s.RestoredBindings, s.RestoreRefused, s.RestoreAged, tc.joins, tc.binds, tc.refused, tc.aged)
			}
			if got := b.Canonical(tc.member); got != tc.canon {
				t.Errorf("Canonical(%v) = %v, want %v", MACKey(tc.member), MACKey(got), MACKey(tc.canon))
			}
			if tc.addr != "" {
				if k := b.Resolve(addr(tc.addr)); k != MACKey(tc.canon) {
					t.Errorf("Resolve(%s) = %v, want %v", tc.addr, k, MACKey(tc.canon))
				}
			}
		})
	}
}

// TestRestoreAgedAtFirstPacket: entries fresh at the checkpoint's time but
// old at the first packet's (a capture resumed days later) are ended then.
func TestRestoreAgedAtFirstPacket(t *testing.T) {
	t0 := int64(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC).UnixNano())
	m1, m2 := [6]byte{0x3c, 0x22, 0xfb, 0x40, 0, 1}, [6]byte{0x3c, 0x22, 0xfb, 0x40, 0, 2}
	saved := Saved{Clock: t0, Joins: []Join{{m2, m1, t0}}, Bindings: []Binding{{addr("10.20.1.2"), m2, t0, true}}}
	for _, tc := range []struct {
		name   string
		first  time.Duration // after the checkpoint
		joined bool
		bound  bool
	}{
		{"resumed at once", time.Minute, true, true},
		{"resumed after the bind TTL", DefaultBindTTL + time.Minute, true, false},
		{"resumed after the join TTL", JoinTTL + time.Minute, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var told []Change
			b := newBinder(t, Config{Notify: func(c Change) { told = append(told, c) }})
			b.Restore(saved)
			if got := b.Restored(); len(got) != 2 {
				t.Fatalf("Restored() = %+v, want the join and the binding", got)
			}
			told = nil
			b.Learn(tcp(t0+int64(tc.first), "10.20.1.99", "192.0.2.1", [6]byte{0x3c, 0x22, 0xfb, 0x40, 0, 99}, 64))
			if got := b.Canonical(m2) == m1; got != tc.joined {
				t.Errorf("joined after the first packet: %v, want %v", got, tc.joined)
			}
			if got := b.Resolve(addr("10.20.1.2")).IsMAC(); got != tc.bound {
				t.Errorf("bound after the first packet: %v, want %v", got, tc.bound)
			}
			s := b.Stats()
			aged := uint64(0)
			if !tc.joined {
				aged++
			}
			if !tc.bound {
				aged++
			}
			if s.RestoreAged != aged || s.JoinEvictions != 0 || s.BindingEvictions != 0 {
				t.Errorf("aged %d (join evictions %d, binding evictions %d), want %d and no evictions", s.RestoreAged, s.JoinEvictions, s.BindingEvictions, aged)
			}
			if gone := 0; !tc.bound {
				for _, c := range told {
					if c.Gone && c.Addr == addr("10.20.1.2") {
						gone++
					}
				}
				if gone != 1 {
					t.Errorf("the aged binding was told gone %d times: %+v", gone, told)
				}
			}
		})
	}
}

// TestRestoreConfirmKeepsJoinFresh: a member announcing its name again
// confirms its join, so the checkpoint's time for it moves on.
func TestRestoreConfirmKeepsJoinFresh(t *testing.T) {
	t0 := int64(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC).UnixNano())
	b := dockedBinder(t, t0)
	later := t0 + int64(3*time.Hour)
	b.Learn(request(later, macA, "Priyas-MacBook-Pro"))
	b.Learn(request(later+int64(time.Second), macA2, "Priyas-MacBook-Pro"))
	s := b.Export()
	if len(s.Joins) != 1 || s.Joins[0].Last != later+int64(time.Second) {
		t.Errorf("export joins %+v, want the join confirmed at %d", s.Joins, later+int64(time.Second))
	}
}

// TestRestoreHolderConfirmsJoins: the MAC holding the name announcing it
// again confirms the joins of its host's members too: the name they joined
// by is still its.
func TestRestoreHolderConfirmsJoins(t *testing.T) {
	t0 := int64(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC).UnixNano())
	b := dockedBinder(t, t0)
	later := t0 + int64(20*time.Hour)
	b.Learn(request(later, macA, "Priyas-MacBook-Pro"))
	if s := b.Export(); len(s.Joins) != 1 || s.Joins[0].Last != later {
		t.Errorf("export joins %+v, want the join confirmed at %d", s.Joins, later)
	}
}

// BenchmarkExport measures the pause a checkpoint costs the read loop that
// owns a binder holding its bounds: 16 384 joins, 65 536 bindings (restored,
// which fills the tables as learning would). Restore is measured too: it
// runs once, before the first packet.
func BenchmarkExport(b *testing.B) {
	t0 := int64(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC).UnixNano())
	s := Saved{Clock: t0}
	for i := range 1 << 14 {
		s.Joins = append(s.Joins, Join{Member: [6]byte{2, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)},
			Host: [6]byte{4, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)}, Last: t0})
	}
	for i := range 1 << 16 {
		s.Bindings = append(s.Bindings, Binding{Addr: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}),
			MAC: [6]byte{6, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)}, Last: t0})
	}
	b.Run("restore", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			bd := newBinder(b, Config{})
			bd.Restore(s)
			if st := bd.Stats(); st.RestoredJoins != 1<<14 || st.RestoredBindings != 1<<16 {
				b.Fatalf("restored %+v", st)
			}
		}
	})
	bd := newBinder(b, Config{})
	bd.Restore(s)
	bd.now = t0
	b.Run("export", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if e := bd.Export(); len(e.Joins) != 1<<14 || len(e.Bindings) != 1<<16 {
				b.Fatalf("exported %d joins, %d bindings", len(e.Joins), len(e.Bindings))
			}
		}
	})
}

// FuzzRestore restores arbitrary joins and bindings (a state file written by
// anything) into a binder with an inventory join: it must not panic, and
// the binder's invariants must hold — no host past its most MACs, no member
// that is canonical for others, the inventory's joins intact, no join or
// binding to a router's MAC.
func FuzzRestore(f *testing.F) {
	f.Add([]byte{0, 2, 0, 0, 0, 0, 1, 4, 0, 0, 0, 0, 1, 0}, []byte{10, 20, 1, 2, 2, 0, 0, 0, 0, 1, 0, 1})
	f.Add([]byte{0, 2, 0, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 1, 5, 0, 2, 0, 0, 0, 0, 9, 2, 0, 0, 0, 0, 1, 0}, []byte{})
	f.Add([]byte{1, 0, 0, 0x5e, 0, 1, 1, 2, 0, 0, 0, 0, 7, 200}, []byte{10, 20, 0, 1, 0, 0, 0x5e, 0, 1, 1, 3, 0})
	f.Fuzz(func(t *testing.T, joins, binds []byte) {
		t0 := int64(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC).UnixNano())
		router := [6]byte{0, 0, 0x5e, 0, 1, 1}
		inv := [][6]byte{{2, 0, 0, 0, 0, 9}, {2, 0, 0, 0, 0, 1}}
		b := newBinder(t, Config{})
		b.JoinStatic(inv)
		s := Saved{Clock: t0, Routers: [][6]byte{router}}
		for ; len(joins) >= 14; joins = joins[14:] {
			j := Join{Last: t0 - int64(joins[13])*int64(time.Hour)}
			copy(j.Member[:], joins[1:7])
			copy(j.Host[:], joins[7:13])
			s.Joins = append(s.Joins, j)
		}
		for ; len(binds) >= 12; binds = binds[12:] {
			bd := Binding{Addr: netip.AddrFrom4([4]byte(binds[0:4])), Last: t0 - int64(binds[10])*int64(time.Minute), Lease: binds[11]&1 == 1}
			copy(bd.MAC[:], binds[4:10])
			s.Bindings = append(s.Bindings, bd)
		}
		b.Restore(s)
		st := b.Stats()
		if got := st.RestoredJoins + st.RestoredBindings + st.RestoreRefused + st.RestoreAged; got != uint64(len(s.Joins)+len(s.Bindings)) {
			t.Fatalf("counted %d of %d entries", got, len(s.Joins)+len(s.Bindings))
		}
		if b.Canonical(inv[1]) != inv[0] {
			t.Fatalf("the inventory's join was undone")
		}
		for _, m := range b.joins.Keys() {
			j, _ := b.joins.Peek(m)
			if len(b.members[m]) > 0 || m == router || j.canon == router {
				t.Fatalf("join %v → %v: a member canonical for others, or a router's", MACKey(m), MACKey(j.canon))
			}
		}
		for c, ms := range b.members {
			if 1+len(ms) > b.cfg.MaxMACsPerHost {
				t.Fatalf("host %v has %d MACs", MACKey(c), 1+len(ms))
			}
		}
		for _, a := range b.binds.Keys() {
			if bd, _ := b.binds.Peek(a); bd.mac == router {
				t.Fatalf("%s bound to the router's MAC", a)
			}
		}
	})
}
