package host

import "testing"

// Two different Macs carrying macOS's default "<first name>s-MacBook-Pro"
// two days apart are two hosts: a name joins only while its first holder
// still announces it.
func TestStaleNameJoinsNothing(t *testing.T) {
	b := newBinder(t, Config{})
	macX := [6]byte{0x8c, 0x85, 0x90, 0x11, 0x22, 0x33}
	day := int64(86400e9)
	b.Learn(request(1e9, macA, "Johns-MacBook-Pro"))
	b.Learn(ack(2e9, "10.20.1.5", macA))
	b.Learn(request(2*day, macX, "Johns-MacBook-Pro")) // another John, another floor
	b.Learn(ack(2*day+1e9, "10.20.7.9", macX))
	b.Learn(tcp(2*day+2e9, "10.20.7.9", "203.0.113.10", macX, 64))
	if k := b.Resolve(addr("10.20.7.9")); k == MACKey(macA) {
		t.Errorf("second John's Mac resolves to the first John's host %s (joins %d)", k, b.Stats().Joins)
	}
}

// Any station can put any chaddr in a DHCP REQUEST: one whose chaddr is not
// the frame's sender teaches nothing, so the attacker cannot join the
// victim's MAC into its own host.
func TestForgedChaddrIsIgnored(t *testing.T) {
	b := newBinder(t, Config{})
	macE := [6]byte{0x02, 0xee, 0xee, 0xee, 0xee, 0x01}
	b.Learn(tcp(1e9, "10.20.1.5", "203.0.113.10", macA, 64)) // victim bound by its traffic
	b.Learn(request(2e9, macE, "evil-box"))                  // attacker announces its name first
	forged := request(3e9, macE, "evil-box")                 // frame from the attacker ...
	copy(forged.Payload[28:], macA[:])                       // ... chaddr the victim's
	b.Learn(forged)
	b.Learn(tcp(4e9, "10.20.1.5", "203.0.113.10", macA, 64))
	if k := b.Resolve(addr("10.20.1.5")); k != MACKey(macA) {
		t.Errorf("victim's address now resolves to %s: its beats restart under the attacker's host_id", k)
	}
}

// Spoofed sources each sent twice reach the MAC table's protected segment
// and evict the dock's record; the join lives apart and survives.
func TestFloodKeepsJoins(t *testing.T) {
	b := newBinder(t, Config{MaxMACs: 64, MaxBindings: 64})
	b.Learn(request(1e9, macA, "alices-mbp"))
	b.Learn(request(2e9, macA2, "alices-mbp"))
	b.Learn(tcp(3e9, "10.20.1.6", "203.0.113.10", macA2, 64))
	b.Learn(tcp(3e9+400e9, "10.20.1.6", "203.0.113.10", macA2, 64)) // seen again: protected
	if c := b.Canonical(macA2); c != macA {
		t.Fatalf("setup: dock not joined")
	}
	send := func(i int, ts int64) {
		m := [6]byte{0x02, 0xee, 0, 0, 1, byte(i)}
		a := addr("10.20.9.0")
		for range i + 1 {
			a = a.Next()
		}
		p := tcp(ts, a.String(), "203.0.113.10", m, 64)
		b.Learn(p)
	}
	ts := int64(10e12)
	for i := 0; i < 128; i += 2 { // a b a b: the second a misses the shortcut (b bumped gen) and is promoted
		send(i, ts)
		send(i+1, ts+1)
		send(i, ts+2)
		send(i+1, ts+3)
		ts += 10
	}
	t.Logf("%+v", b.Stats())
	if c := b.Canonical(macA2); c != macA {
		t.Errorf("after 256 spoofed frames the dock is its own host again (mac evictions %d)", b.Stats().MACEvictions)
	}
}

// A Mac that took 5 leases within --host-bind-ttl (roaming VLANs/SSIDs, a
// DHCP storm) looks like a router for a while; once those addresses age it
// is a host again.
func TestRouterFlagClears(t *testing.T) {
	b := newBinder(t, Config{})
	for i := range 5 {
		b.Learn(ack(1e9+int64(i)*60e9, "10.20.1."+string(rune('1'+i)), macA))
	}
	t.Logf("after leases: %+v", b.Stats())
	day := int64(86400e9)
	b.Learn(ack(3*day, "10.20.5.5", macA))
	b.Learn(tcp(3*day+1e9, "10.20.5.5", "203.0.113.10", macA, 64))
	if k := b.Resolve(addr("10.20.5.5")); k != MACKey(macA) {
		t.Errorf("3 days later, one address, still keyed %s (routers %d)", k, b.Stats().Routers)
	}
}
