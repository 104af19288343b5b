package host

import (
	"fmt"
	"testing"
)

// bus is the live writer: every change, in one order, to every binder (the
// teller's own included), until nothing new is told.
type bus struct {
	q  []Change
	bs []*Binder
}

func (u *bus) tell(c Change) { u.q = append(u.q, c) }
func (u *bus) run() {
	for i := 0; i < len(u.q); i++ {
		if i > 10000 {
			panic("changes never stop")
		}
		for _, b := range u.bs {
			b.Apply(u.q[i])
		}
	}
	u.q = u.q[:0]
}

// A router found by one live binder stays a router on every binder while
// its addresses keep coming, as with one binder: another worker that sees
// one of its sources has too few addresses to judge, and only the finder,
// which has the evidence, may say it is a host again.
func TestLiveRouterFlagStaysWithTheFinder(t *testing.T) {
	u := &bus{}
	a := newBinder(t, Config{Notify: u.tell, ShareKeys: true})
	b := newBinder(t, Config{Notify: u.tell, ShareKeys: true})
	one := newBinder(t, Config{})
	u.bs = []*Binder{a, b}
	ts := int64(0)
	// Worker a sees the router forward six hosts: router found, told.
	for i := 1; i <= 6; i++ {
		ts += sec
		p := tcp(ts, fmt.Sprintf("10.20.1.%d", i), "93.184.216.34", macR, 64)
		a.Learn(p)
		one.Learn(p)
		u.run()
	}
	// Worker b reads a seventh host behind it (steered by its address).
	ts += sec
	p := tcp(ts, "10.20.1.7", "93.184.216.34", macR, 64)
	b.Learn(p)
	one.Learn(p)
	u.run()
	for _, x := range []string{"10.20.1.1", "10.20.1.7"} {
		want := one.Resolve(addr(x))
		if got := a.Resolve(addr(x)); got != want {
			t.Errorf("worker a resolves %s to %v; one binder: %v", x, got, want)
		}
		if got := b.Resolve(addr(x)); got != want {
			t.Errorf("worker b resolves %s to %v; one binder: %v", x, got, want)
		}
	}
}

// A host full of active MACs refuses a fifth, live as with one binder: a
// binder that did not see a member's traffic does not take it for quiet.
func TestLiveFullHostKeepsActiveMembers(t *testing.T) {
	u := &bus{}
	a := newBinder(t, Config{Notify: u.tell, ShareKeys: true})
	b := newBinder(t, Config{Notify: u.tell, ShareKeys: true})
	one := newBinder(t, Config{})
	u.bs = []*Binder{a, b}
	macs := [][6]byte{}
	for i := 1; i <= 5; i++ {
		macs = append(macs, [6]byte{0x3c, 0x22, 0xfb, 0, 0, byte(i)})
	}
	for i, m := range macs[:4] {
		p := request(int64(i+1)*sec, m, "annas-mbp")
		a.Learn(p)
		one.Learn(p)
		u.run()
	}
	for i, m := range macs[:4] { // all four busy on worker a (their host's)
		p := tcp(3600*sec+int64(i), fmt.Sprintf("10.20.4.%d", i+1), "93.184.216.34", m, 64)
		a.Learn(p)
		one.Learn(p)
		u.run()
	}
	p := request(3601*sec, macs[4], "annas-mbp") // on worker b, its own MAC's
	b.Learn(p)
	one.Learn(p)
	u.run()
	for _, m := range macs {
		want := one.Canonical(m)
		if got := a.Canonical(m); got != want {
			t.Errorf("worker a: host of %s is %s; one binder: %s", MACString(m), MACString(got), MACString(want))
		}
		if got := b.Canonical(m); got != want {
			t.Errorf("worker b: host of %s is %s; one binder: %s", MACString(m), MACString(got), MACString(want))
		}
	}
}

// The conflict rule live: the Mac's traffic refreshes its binding only on
// its own worker, so another worker cannot tell it is busy; there only a
// lease moves an applied binding, and a spoofed DHCP REQUEST for the Mac's
// address, steered by its chaddr to that worker, is a conflict, as with one
// binder.
func TestLiveAppliedBindingResistsSpoofing(t *testing.T) {
	u := &bus{}
	a := newBinder(t, Config{Notify: u.tell, ShareKeys: true})
	b := newBinder(t, Config{Notify: u.tell, ShareKeys: true})
	one := newBinder(t, Config{})
	u.bs = []*Binder{a, b}
	p := ack(1*sec, "10.20.4.23", macA)
	a.Learn(p)
	one.Learn(p)
	u.run()
	for ts := int64(2); ts <= 600; ts += 5 { // the Mac busy, on its worker a
		p := tcp(ts*sec, "10.20.4.23", "93.184.216.34", macA, 64)
		a.Learn(p)
		one.Learn(p)
		q := tcp(ts*sec, "10.20.4.99", "93.184.216.34", macR, 64) // worker b busy too
		b.Learn(q)
		one.Learn(q)
		u.run()
	}
	spoof := udp(600*sec, "10.20.4.23", "10.20.0.1", macW, 68, 67, 64, dhcp4(1, 3, "0.0.0.0", "10.20.4.23", macW))
	b.Learn(spoof)
	one.Learn(spoof)
	u.run()
	want := one.Resolve(addr("10.20.4.23"))
	for i, x := range []*Binder{a, b} {
		if got := x.Resolve(addr("10.20.4.23")); got != want {
			t.Errorf("worker %d resolves the Mac's address to %v; one binder: %v (conflicts %d)", i, got, want, one.Stats().Conflicts)
		}
	}
}

// ... and it does not flap: a source the router forwards on one worker
// does not clear what another found.
func TestLiveRouterFlagDoesNotFlap(t *testing.T) {
	u := &bus{}
	a := newBinder(t, Config{Notify: u.tell, ShareKeys: true})
	b := newBinder(t, Config{Notify: u.tell, ShareKeys: true})
	u.bs = []*Binder{a, b}
	flips := 0
	tell := u.tell
	u2 := func(c Change) {
		if c.Router || c.NotRouter {
			flips++
		}
		tell(c)
	}
	a.SetNotify(u2, true)
	b.SetNotify(u2, true)
	for i := 1; i <= 30; i++ {
		x := a
		if i > 6 && i%2 == 0 {
			x = b
		}
		x.Learn(tcp(int64(i)*sec, fmt.Sprintf("10.20.1.%d", i), "93.184.216.34", macR, 64))
		u.run()
	}
	if flips > 1 {
		t.Errorf("the router flag changed %d times (one binder: once)", flips)
	}
}
