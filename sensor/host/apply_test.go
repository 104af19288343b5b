package host

import (
	"net/netip"
	"testing"

	"github.com/launchtap/launchtap/sensor/decode"
)

// A binder that applies another's changes, in the order they were told,
// resolves every address and MAC as the one that learned them.
func TestApplyMirrorsLearning(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		pkts  func(t testing.TB) []*decode.Packet
		addrs []string
		macs  [][6]byte
	}{
		{
			name:  "dhcp ack binds",
			pkts:  func(testing.TB) []*decode.Packet { return []*decode.Packet{ack(1*sec, "10.20.4.23", macA)} },
			addrs: []string{"10.20.4.23"},
		},
		{
			name: "address moves to another MAC",
			pkts: func(testing.TB) []*decode.Packet {
				return []*decode.Packet{ack(1*sec, "10.20.4.23", macA), ack(9*sec, "10.20.4.23", macW)}
			},
			addrs: []string{"10.20.4.23"},
		},
		{
			name: "mac moves to another address",
			pkts: func(testing.TB) []*decode.Packet {
				return []*decode.Packet{ack(1*sec, "10.20.4.23", macA), tcp(2*sec, "10.20.4.23", "93.184.216.34", macA, 64),
					ack(3600*sec, "10.20.7.7", macA), tcp(3601*sec, "10.20.7.7", "93.184.216.34", macA, 64)}
			},
			addrs: []string{"10.20.4.23", "10.20.7.7"},
		},
		{
			name: "join by hostname, then the joined MAC's addresses",
			pkts: func(testing.TB) []*decode.Packet {
				return []*decode.Packet{request(1*sec, macA, "annas-mbp"), ack(2*sec, "10.20.4.23", macA),
					ack(3*sec, "10.20.4.24", macA2), request(4*sec, macA2, "annas-mbp"), tcp(5*sec, "10.20.4.24", "1.1.1.1", macA2, 64)}
			},
			addrs: []string{"10.20.4.23", "10.20.4.24"},
			macs:  [][6]byte{macA, macA2},
		},
		{
			name: "release",
			pkts: func(testing.TB) []*decode.Packet {
				return []*decode.Packet{ack(1*sec, "10.20.4.23", macA),
					udp(2*sec, "10.20.4.23", "10.20.0.1", macA, 68, 67, 64, dhcp4(1, 7, "0.0.0.0", "10.20.4.23", macA))}
			},
			addrs: []string{"10.20.4.23"},
		},
		{
			name: "router found: its addresses are their own again",
			pkts: func(testing.TB) []*decode.Packet {
				var ps []*decode.Packet
				for i, a := range []string{"10.20.1.1", "10.20.1.2", "10.20.1.3", "10.20.1.4", "10.20.1.5", "10.20.1.6"} {
					ps = append(ps, tcp(int64(i+1)*sec, a, "93.184.216.34", macR, 64))
				}
				return ps
			},
			addrs: []string{"10.20.1.1", "10.20.1.2", "10.20.1.5", "10.20.1.6"},
		},
		{
			name: "MACs evicted",
			cfg:  Config{MaxMACs: 2},
			pkts: func(testing.TB) []*decode.Packet {
				return []*decode.Packet{request(1*sec, macA, "annas-mbp"), request(2*sec, macA2, "annas-mbp"),
					ack(3*sec, "10.20.4.24", macA2), ack(4*sec, "10.20.5.5", macW), ack(5*sec, "10.20.5.6", macR)}
			},
			addrs: []string{"10.20.4.24", "10.20.5.5", "10.20.5.6"},
			macs:  [][6]byte{macA, macA2, macW},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var told []Change
			cfg := tc.cfg
			cfg.Notify = func(c Change) { told = append(told, c) }
			learner := newBinder(t, cfg)
			cfg.Notify = func(c Change) { t.Errorf("Apply notified %+v", c) }
			mirror := newBinder(t, cfg)
			for _, p := range tc.pkts(t) {
				learner.Learn(p)
				for _, c := range told {
					mirror.Apply(c)
					mirror.Apply(c) // twice: no change the second time
				}
				told = told[:0]
				for _, a := range tc.addrs {
					if got, want := mirror.Resolve(addr(a)), learner.Resolve(addr(a)); got != want {
						t.Errorf("after %v: mirror resolves %s to %v, learner to %v", p.TS/sec, a, got, want)
					}
				}
				for _, m := range tc.macs {
					if got, want := mirror.Canonical(m), learner.Canonical(m); got != want {
						t.Errorf("after %v: mirror's host of %s is %s, learner's %s", p.TS/sec, MACString(m), MACString(got), MACString(want))
					}
				}
			}
			if mirror.Stats().Applied == 0 {
				t.Error("nothing applied")
			}
		})
	}
}

// Applying a change that says what this binder already answers changes
// nothing and counts nothing; a change to an address of a MAC this binder
// takes for a router follows the binder that told it.
func TestApplyIdempotentAndAuthoritative(t *testing.T) {
	b := newBinder(t, Config{})
	b.Learn(ack(1*sec, "10.20.4.23", macA))
	before := b.Stats()
	b.Apply(Change{Addr: addr("10.20.4.23"), MAC: macA, Host: MACKey(macA)})
	if b.Stats() != before {
		t.Errorf("re-applying a known binding: stats %+v, before %+v", b.Stats(), before)
	}

	// A join this binder would refuse (macA2 is already macW's member)
	// still holds: the binder that made it had the evidence.
	b.Apply(Change{MAC: macA2, Host: MACKey(macW)})
	b.Apply(Change{MAC: macA2, Host: MACKey(macA)})
	if got := b.Canonical(macA2); got != macA {
		t.Errorf("host of macA2 = %s, want macA's", MACString(got))
	}
	b.Apply(Change{MAC: macA2, Host: MACKey(macA2), Gone: true})
	if got := b.Canonical(macA2); got != macA2 {
		t.Errorf("after the join ended: host of macA2 = %s, want itself", MACString(got))
	}

	// A binding to a MAC joined elsewhere here: resolve as the change says.
	b.Apply(Change{MAC: macW, Host: MACKey(macR)})
	b.Apply(Change{Addr: addr("10.20.9.9"), MAC: macW, Host: MACKey(macW)})
	if got := b.Resolve(addr("10.20.9.9")); got != MACKey(macW) {
		t.Errorf("10.20.9.9 resolves to %v, want macW as told", got)
	}
	b.Apply(Change{Addr: addr("10.20.9.9"), MAC: macW, Host: AddrKey(addr("10.20.9.9")), Gone: true})
	if got := b.Resolve(addr("10.20.9.9")); got != AddrKey(addr("10.20.9.9")) {
		t.Errorf("after Gone 10.20.9.9 resolves to %v", got)
	}
	if st := b.Stats(); st.BindingEvictions != 0 {
		t.Errorf("an applied removal counted as an eviction: %+v", st)
	}
	// Nonsense is ignored.
	b.Apply(Change{})
	b.Apply(Change{MAC: [6]byte{1, 0, 0x5e, 0, 0, 1}, Host: MACKey(macA)})
	b.Apply(Change{Addr: netip.MustParseAddr("10.20.9.10"), Host: Key{}})
}

// With ShareKeys, two MACs announcing one hostname to two binders join on
// both, the same way, when each hears the other's announcement in one
// shared order (its own included); without it neither joins.
func TestApplyAnnouncements(t *testing.T) {
	for _, share := range []bool{true, false} {
		var bus []Change
		tell := func(c Change) { bus = append(bus, c) }
		b1 := newBinder(t, Config{Notify: tell, ShareKeys: share})
		b2 := newBinder(t, Config{Notify: tell, ShareKeys: share})
		b1.Learn(request(1*sec, macA, "annas-mbp"))
		b2.Learn(request(2*sec, macA2, "annas-mbp"))
		b2.Learn(ack(3*sec, "10.20.4.24", macA2))
		joins := 0
		for i := 0; i < len(bus); i++ { // the writer's order; applying may tell more
			if c := bus[i]; c.Key == "" && !c.Addr.IsValid() && !c.Gone {
				joins++
			}
			b1.Apply(bus[i])
			b2.Apply(bus[i])
		}
		for _, b := range []*Binder{b1, b2} {
			got := b.Canonical(macA2)
			if share && got != macA || !share && got != macA2 {
				t.Errorf("share %v: host of the dock's MAC is %s", share, MACString(got))
			}
		}
		if share && (joins == 0 || b1.Resolve(addr("10.20.4.24")) != MACKey(macA) || b2.Resolve(addr("10.20.4.24")) != MACKey(macA)) {
			t.Errorf("share: %d joins told; 10.20.4.24 resolves to %v and %v", joins, b1.Resolve(addr("10.20.4.24")), b2.Resolve(addr("10.20.4.24")))
		}
	}
	// A forged announcement is bounded and ignored.
	b := newBinder(t, Config{ShareKeys: true})
	b.Apply(Change{MAC: macA, Key: string(make([]byte, 400))})
	b.Apply(Change{MAC: [6]byte{}, Key: "name:x"})
	if b.Stats().JoinKeys != 0 {
		t.Errorf("bad announcements recorded: %+v", b.Stats())
	}
}

// A router found by one binder is a router to all: applying it marks the
// MAC and tells its addresses as their own hosts; a binding another binder
// still makes to it is answered the same way.
func TestApplyRouter(t *testing.T) {
	var told []Change
	b := newBinder(t, Config{Notify: func(c Change) { told = append(told, c) }})
	b.Learn(tcp(1*sec, "10.20.1.1", "93.184.216.34", macR, 64)) // bound here, as a host
	told = told[:0]
	b.Apply(Change{MAC: macR, Host: MACKey(macR), Router: true})
	if got := b.Resolve(addr("10.20.1.1")); got != AddrKey(addr("10.20.1.1")) {
		t.Errorf("after the router was found elsewhere: 10.20.1.1 resolves to %v", got)
	}
	if len(told) != 1 || told[0].Addr != addr("10.20.1.1") || !told[0].Gone {
		t.Errorf("told %+v; want 10.20.1.1 gone", told)
	}
	told = told[:0]
	b.Apply(Change{MAC: macR, Host: MACKey(macR), Router: true}) // again: nothing
	b.Apply(Change{Addr: addr("10.20.1.9"), MAC: macR, Host: MACKey(macR)})
	if got := b.Resolve(addr("10.20.1.9")); got != AddrKey(addr("10.20.1.9")) {
		t.Errorf("a binding to the router: 10.20.1.9 resolves to %v", got)
	}
	if len(told) != 1 || told[0].Addr != addr("10.20.1.9") || !told[0].Gone {
		t.Errorf("told %+v; want 10.20.1.9 gone again", told)
	}
	if b.Stats().Routers != 0 {
		t.Error("an applied router counted as found here")
	}
}
