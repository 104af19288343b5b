package host

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/launchtap/launchtap/sensor/decode"
)

var (
	macA  = [6]byte{0x3c, 0x22, 0xfb, 0x1a, 0x2b, 0x3c} // a Mac's Wi-Fi
	macA2 = [6]byte{0x3c, 0x22, 0xfb, 0x99, 0x00, 0x01} // its dock's Ethernet
	macW  = [6]byte{0x00, 0x15, 0x5d, 0x01, 0x02, 0x03} // a Windows laptop
	macR  = [6]byte{0x00, 0x00, 0x5e, 0x00, 0x01, 0x01} // the router
)

type internalNets []netip.Prefix

func (n internalNets) Contains(a netip.Addr) bool {
	for _, p := range n {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

var office = internalNets{netip.MustParsePrefix("10.20.0.0/16"), netip.MustParsePrefix("2001:db8:1::/48")}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func newBinder(t testing.TB, cfg Config) *Binder {
	t.Helper()
	if cfg.Internal == nil {
		cfg.Internal = office
	}
	b, err := NewBinder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dhcp4 is a DHCPv4 message: op, type (option 53), yiaddr, ciaddr, chaddr,
// and more options.
func dhcp4(op, typ byte, yiaddr, ciaddr string, chaddr [6]byte, opts ...byte) []byte {
	b := make([]byte, 240)
	b[0], b[1], b[2] = op, 1, 6
	copy(b[16:], addr(yiaddr).AsSlice())
	copy(b[12:], addr(ciaddr).AsSlice())
	copy(b[28:], chaddr[:])
	binary.BigEndian.PutUint32(b[236:], 0x63825363)
	b = append(b, 53, 1, typ)
	b = append(b, opts...)
	return append(b, 255)
}

func hostname(n string) []byte { return append([]byte{12, byte(len(n))}, n...) }

func udp(ts int64, src, dst string, mac [6]byte, sport, dport uint16, ttl uint8, payload []byte) *decode.Packet {
	return &decode.Packet{TS: ts, Src: addr(src), Dst: addr(dst), SrcMAC: mac, HasMAC: true, TTL: ttl,
		Proto: decode.ProtoUDP, SrcPort: sport, DstPort: dport, Payload: payload}
}

func tcp(ts int64, src, dst string, mac [6]byte, ttl uint8) *decode.Packet {
	return &decode.Packet{TS: ts, Src: addr(src), Dst: addr(dst), SrcMAC: mac, HasMAC: true, TTL: ttl,
		Proto: decode.ProtoTCP, SrcPort: 50000, DstPort: 443}
}

func ack(ts int64, yiaddr string, chaddr [6]byte) *decode.Packet {
	return udp(ts, "10.20.0.1", "255.255.255.255", macR, 67, 68, 64, dhcp4(2, 5, yiaddr, "0.0.0.0", chaddr))
}

func request(ts int64, chaddr [6]byte, name string) *decode.Packet {
	return udp(ts, "0.0.0.0", "255.255.255.255", chaddr, 68, 67, 64, dhcp4(1, 3, "0.0.0.0", "0.0.0.0", chaddr, hostname(name)...))
}

func dhcp6(ts int64, src string, mac [6]byte, duid []byte) *decode.Packet {
	b := []byte{1, 0xab, 0xcd, 0xef, 0, 1, 0, byte(len(duid))}
	return udp(ts, src, "ff02::1:2", mac, 546, 547, 1, append(b, duid...))
}

func mdnsAnnounce(t testing.TB, ts int64, src string, mac [6]byte, name string) *decode.Packet {
	m := new(dns.Msg)
	m.Response = true
	rr, err := dns.NewRR(name + ".local. 120 IN A " + src)
	if err != nil {
		t.Fatal(err)
	}
	m.Answer = append(m.Answer, rr)
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return udp(ts, src, "224.0.0.251", mac, 5353, 5353, 255, b)
}

// dad is a neighbour solicitation for duplicate address detection of
// target: from the unspecified address, with no link-layer option.
func dad(ts int64, mac [6]byte, target string) *decode.Packet {
	b := make([]byte, 24)
	b[0] = 135
	copy(b[8:], addr(target).AsSlice())
	return &decode.Packet{TS: ts, Src: addr("::"), Dst: addr("ff02::1:ff00:1"), SrcMAC: mac, HasMAC: true, TTL: 255,
		Proto: decode.ProtoICMPv6, Payload: b}
}

const sec = int64(1e9)

func TestResolve(t *testing.T) {
	duid := []byte{0, 1, 0, 1, 0x2c, 0x3d, 0x4e, 0x5f, 0x3c, 0x22, 0xfb, 0x1a, 0x2b, 0x3c}
	tests := []struct {
		name  string
		pkts  func(t testing.TB) []*decode.Packet
		addr  string
		want  Key
		check func(t *testing.T, b *Binder)
	}{
		{"dhcp ack binds the lease", func(testing.TB) []*decode.Packet {
			return []*decode.Packet{ack(1*sec, "10.20.1.15", macA)}
		}, "10.20.1.15", MACKey(macA), nil},
		{"traffic a host sent itself binds", func(testing.TB) []*decode.Packet {
			return []*decode.Packet{tcp(1*sec, "10.20.1.15", "203.0.113.10", macA, 64)}
		}, "10.20.1.15", MACKey(macA), nil},
		{"routed traffic carries the router's MAC: no binding", func(testing.TB) []*decode.Packet {
			return []*decode.Packet{tcp(1*sec, "10.20.1.15", "203.0.113.10", macR, 63)}
		}, "10.20.1.15", AddrKey(addr("10.20.1.15")), nil},
		{"a link-local source is its frame's sender, whatever its hop limit (a DHCPv6 Solicit)", func(testing.TB) []*decode.Packet {
			return []*decode.Packet{udp(1*sec, "fe80::a179:b3ff:199:2314", "ff02::1:2", macA, 546, 547, 1, []byte{1, 0, 0, 1})}
		}, "fe80::a179:b3ff:199:2314", MACKey(macA), nil},
		{"an IPv4 link-local source too", func(testing.TB) []*decode.Packet {
			return []*decode.Packet{udp(1*sec, "169.254.7.9", "169.254.255.255", macA, 137, 137, 1, nil)}
		}, "169.254.7.9", MACKey(macA), nil},
		{"a routable source at hop limit 1 is not bound", func(testing.TB) []*decode.Packet {
			return []*decode.Packet{udp(1*sec, "10.20.1.15", "10.20.0.1", macR, 50000, 53, 1, nil)}
		}, "10.20.1.15", AddrKey(addr("10.20.1.15")), nil},
		{"external sources are nobody's", func(testing.TB) []*decode.Packet {
			return []*decode.Packet{tcp(1*sec, "203.0.113.10", "10.20.1.15", macR, 64)}
		}, "203.0.113.10", AddrKey(addr("203.0.113.10")), nil},
		{"an address handed to another MAC moves at once", func(testing.TB) []*decode.Packet {
			return []*decode.Packet{ack(1*sec, "10.20.1.15", macA), tcp(2*sec, "10.20.1.15", "203.0.113.10", macA, 64),
				ack(3*sec, "10.20.1.15", macW)}
		}, "10.20.1.15", MACKey(macW), func(t *testing.T, b *Binder) {
			if b.Stats().Moved != 1 {
				t.Errorf("moved = %d, want 1", b.Stats().Moved)
			}
		}},
		{"a release ends the binding", func(testing.TB) []*decode.Packet {
			return []*decode.Packet{ack(1*sec, "10.20.1.15", macA),
				udp(2*sec, "10.20.1.15", "10.20.0.1", macA, 68, 67, 64, dhcp4(1, 7, "0.0.0.0", "10.20.1.15", macA))}
		}, "10.20.1.15", AddrKey(addr("10.20.1.15")), nil},
		{"a MAC with many addresses is a router", func(testing.TB) []*decode.Packet {
			var ps []*decode.Packet
			for i := range 6 {
				ps = append(ps, tcp(int64(i+1)*sec, netip.AddrFrom4([4]byte{10, 20, 2, byte(i + 1)}).String(), "203.0.113.10", macR, 64))
			}
			return ps
		}, "10.20.2.1", AddrKey(addr("10.20.2.1")), func(t *testing.T, b *Binder) {
			if b.Stats().Routers != 1 {
				t.Errorf("routers = %d, want 1", b.Stats().Routers)
			}
		}},
		{"IPv6 temporary addresses of one MAC are one host", func(testing.TB) []*decode.Packet {
			var ps []*decode.Packet
			for i := range 8 {
				ps = append(ps, dad(int64(i)*4*3600*sec, macA, netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0xa, 0xb, 0xc, 0xd, 0xe, 0xf, 0, byte(i)}).String()))
			}
			return ps
		}, "2001:db8:1:0:a0b:c0d:e0f:7", MACKey(macA), func(t *testing.T, b *Binder) {
			if b.Stats().Routers != 0 {
				t.Error("temporary addresses in one /64 made the Mac a router")
			}
		}},
		{"a docked laptop's two MACs join by hostname", func(testing.TB) []*decode.Packet {
			return []*decode.Packet{request(1*sec, macA, "Alices-MacBook-Pro"), ack(2*sec, "10.20.1.15", macA),
				request(3*sec, macA2, "Alices-MacBook-Pro"), ack(4*sec, "10.20.1.77", macA2)}
		}, "10.20.1.77", MACKey(macA), nil},
		{"and by mDNS host name", func(t testing.TB) []*decode.Packet {
			return []*decode.Packet{mdnsAnnounce(t, 1*sec, "10.20.1.15", macA, "alices-mbp"),
				mdnsAnnounce(t, 2*sec, "10.20.1.77", macA2, "Alices-MBP")}
		}, "10.20.1.77", MACKey(macA), nil},
		{"and by DHCPv6 DUID", func(testing.TB) []*decode.Packet {
			return []*decode.Packet{dhcp6(1*sec, "fe80::1", macA, duid), dhcp6(2*sec, "fe80::2", macA2, duid),
				tcp(3*sec, "10.20.1.77", "203.0.113.10", macA2, 64)}
		}, "10.20.1.77", MACKey(macA), nil},
		{"generic names join nothing", func(testing.TB) []*decode.Packet {
			return []*decode.Packet{request(1*sec, macA, "MacBook-Pro"), request(2*sec, macA2, "MacBook-Pro"),
				ack(3*sec, "10.20.1.77", macA2)}
		}, "10.20.1.77", MACKey(macA2), func(t *testing.T, b *Binder) {
			if b.Stats().JoinsGeneric != 2 || b.Stats().Joins != 0 {
				t.Errorf("stats %+v: want 2 generic, no joins", b.Stats())
			}
		}},
		{"forged DHCP is counted and skipped", func(testing.TB) []*decode.Packet {
			return []*decode.Packet{udp(1*sec, "10.20.1.15", "10.20.0.1", macA, 68, 67, 64, []byte{1, 2, 3})}
		}, "10.20.1.15", MACKey(macA), func(t *testing.T, b *Binder) {
			if b.Stats().DHCPErrors != 1 {
				t.Errorf("dhcp errors = %d, want 1", b.Stats().DHCPErrors)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBinder(t, Config{})
			for _, p := range tt.pkts(t) {
				b.Learn(p)
			}
			if got := b.Resolve(addr(tt.addr)); got != tt.want {
				t.Errorf("Resolve(%s) = %s, want %s", tt.addr, got, tt.want)
			}
			before := b.Stats()
			if got := b.ResolveMAC(addr(tt.addr)); got != tt.want.MAC {
				t.Errorf("ResolveMAC(%s) = %s, want %s", tt.addr, MACString(got), MACString(tt.want.MAC))
			}
			after := b.Stats()
			if after.ByMAC+after.ByAddr != before.ByMAC+before.ByAddr+1 || (after.ByMAC > before.ByMAC) != tt.want.IsMAC() {
				t.Errorf("ResolveMAC counted by_mac %d → %d, by_addr %d → %d", before.ByMAC, after.ByMAC, before.ByAddr, after.ByAddr)
			}
			if tt.check != nil {
				tt.check(t, b)
			}
		})
	}
}

func TestJoinLimits(t *testing.T) {
	b := newBinder(t, Config{MaxMACsPerHost: 2})
	m3 := [6]byte{0x3c, 0x22, 0xfb, 0x99, 0x00, 0x03}
	b.Learn(request(1*sec, macA, "alices-mbp"))
	b.Learn(request(2*sec, macA2, "alices-mbp"))
	b.Learn(request(3*sec, m3, "alices-mbp"))
	if b.Canonical(macA2) != macA || b.Canonical(m3) != m3 {
		t.Errorf("canonical %x %x: want the second joined, the third refused", b.Canonical(macA2), b.Canonical(m3))
	}
	if s := b.Stats(); s.Joins != 1 || s.JoinsRefused != 1 {
		t.Errorf("stats %+v: want 1 join, 1 refused", s)
	}
}

func TestJoinStatic(t *testing.T) {
	var changes []Change
	b := newBinder(t, Config{Notify: func(c Change) { changes = append(changes, c) }})
	b.JoinStatic([][6]byte{macA, macA2})
	b.Learn(ack(1*sec, "10.20.1.77", macA2))
	if got := b.Resolve(addr("10.20.1.77")); got != MACKey(macA) {
		t.Errorf("Resolve = %s, want the inventory's first MAC", got)
	}
	// (The server's own address, sent from at TTL 64, is bound too.)
	want := []Change{{MAC: macA2, Host: MACKey(macA)}, {Addr: addr("10.20.1.77"), MAC: macA2, Host: MACKey(macA)}, {Addr: addr("10.20.0.1"), MAC: macR, Host: MACKey(macR)}}
	if len(changes) != len(want) || changes[0] != want[0] || changes[1] != want[1] || changes[2] != want[2] {
		t.Errorf("changes %+v, want %+v", changes, want)
	}
}

func TestBounds(t *testing.T) {
	var gone int
	b := newBinder(t, Config{MaxBindings: 4, MaxMACs: 64, RouterIPs: 100, Notify: func(c Change) {
		if c.Gone {
			gone++
		}
	}})
	for i := range 20 {
		b.Learn(ack(int64(i+1)*sec, netip.AddrFrom4([4]byte{10, 20, 3, byte(i + 1)}).String(), [6]byte{2, 0, 0, 0, 0, byte(i + 1)}))
	}
	// 20 leases and the server's own address: 21 bindings, 4 kept.
	s := b.Stats()
	if s.Bindings != 4 || s.BindingEvictions != 17 || gone != 17 {
		t.Errorf("bindings %d, evictions %d, gone %d: want 4, 17, 17", s.Bindings, s.BindingEvictions, gone)
	}
}

func TestKeyString(t *testing.T) {
	for _, k := range []Key{MACKey(macA), AddrKey(addr("10.20.1.15")), AddrKey(addr("2001:db8::1"))} {
		got, err := ParseKey(k.String())
		if err != nil || got != k {
			t.Errorf("ParseKey(%q) = %v, %v", k.String(), got, err)
		}
	}
	for _, s := range []string{"", "nope", "00:00:00:00:00:00", "3c:22:fb:1a:2b"} {
		if _, err := ParseKey(s); err == nil {
			t.Errorf("ParseKey(%q) accepted", s)
		}
	}
}

func TestGenericName(t *testing.T) {
	for name, want := range map[string]bool{
		"MacBook-Pro": true, "MacBook-Pro-2": true, "iPhone": true, "MacBook Air": true, "localhost": true,
		"Alices-MacBook-Pro": false, "alices-mbp": false, "DESKTOP-7H2K9QX": false,
	} {
		if got := GenericName(name); got != want {
			t.Errorf("GenericName(%q) = %v, want %v", name, got, want)
		}
	}
}

// FuzzLearn: whatever DHCP, DHCPv6, mDNS and NDP packets say, in any
// order, learning from them never panics, the tables keep their bounds and
// every address resolves to a usable MAC or to itself.
func FuzzLearn(f *testing.F) {
	f.Add([]byte{0}, dhcp4(2, 5, "10.20.1.15", "0.0.0.0", macA))
	f.Add([]byte{4}, dhcp4(1, 3, "0.0.0.0", "0.0.0.0", macA, hostname("alices-mbp")...))
	f.Add([]byte{1}, []byte{1, 0xab, 0xcd, 0xef, 0, 1, 0, 4, 0, 3, 0, 1})
	f.Add([]byte{2}, mdnsAnnounce(f, 0, "10.20.1.15", macA, "alices-mbp").Payload)
	f.Add([]byte{3, 7}, dad(0, macA, "2001:db8:1::7").Payload)
	f.Add([]byte{3, 4, 0, 1, 2}, append(dad(0, macA, "2001:db8:1::7").Payload, 2, 1, 0x3c, 0x22, 0xfb, 0x1a, 0x2b, 0x3c))
	f.Fuzz(func(t *testing.T, script []byte, payload []byte) {
		const bound = 8
		b := newBinder(t, Config{MaxBindings: bound, MaxMACs: bound, MaxJoinKeys: bound, MaxMACsPerHost: 2})
		macs := [][6]byte{macA, macA2, macW}
		srcs := []string{"10.20.1.15", "10.20.1.16", "fe80::1"}
		for i, op := range script {
			if i == 16 {
				break
			}
			mac, src := macs[int(op>>2)%len(macs)], srcs[int(op>>4)%len(srcs)]
			var p *decode.Packet
			switch op & 3 {
			case 0:
				sport, dport := uint16(68), uint16(67)
				if op&0x40 != 0 {
					sport, dport = 67, 68
				}
				p = udp(int64(i)*sec, src, "10.20.0.1", mac, sport, dport, 64, payload)
			case 1:
				p = udp(int64(i)*sec, src, "ff02::1:2", mac, 546, 547, 1, payload)
			case 2:
				p = udp(int64(i)*sec, src, "224.0.0.251", mac, 5353, 5353, 255, payload)
			default:
				body := append([]byte(nil), payload...)
				if len(body) > 0 {
					body[0] = 135 + op>>7 // a solicitation or an advertisement
				}
				p = &decode.Packet{TS: int64(i) * sec, Src: addr(src), Dst: addr("ff02::1"), SrcMAC: mac, HasMAC: true, TTL: 255,
					Proto: decode.ProtoICMPv6, Payload: body}
			}
			b.Learn(p)
		}
		s := b.Stats()
		if s.Bindings > bound || s.MACs > bound || s.JoinKeys > bound {
			t.Fatalf("tables past their bounds: %+v", s)
		}
		for _, a := range srcs {
			k := b.Resolve(addr(a))
			if k.IsMAC() && !UsableMAC(k.MAC) || !k.IsMAC() && k.Addr != addr(a) {
				t.Fatalf("Resolve(%s) = %+v", a, k)
			}
		}
	})
}

// A flood of spoofed internal sources, each seen once, churns probation:
// the binding of a host that keeps sending survives it.
func TestFloodKeepsBindings(t *testing.T) {
	b := newBinder(t, Config{MaxBindings: 64, MaxMACs: 64, RouterIPs: 1 << 20})
	b.Learn(tcp(1*sec, "10.20.1.15", "203.0.113.10", macA, 64))
	b.Learn(tcp(2*sec+int64(DefaultBindTTL), "10.20.1.15", "203.0.113.10", macA, 64)) // seen again: protected
	for i := range 10_000 {
		src := netip.AddrFrom4([4]byte{10, 20, byte(100 + i>>8), byte(i)})
		b.Learn(tcp(3*sec+int64(DefaultBindTTL)+int64(i), src.String(), "203.0.113.10", [6]byte{2, 0, 0, 0, byte(i >> 8), byte(i)}, 64))
	}
	if got := b.Resolve(addr("10.20.1.15")); got != MACKey(macA) {
		t.Errorf("after the flood the Mac resolves to %s", got)
	}
	if s := b.Stats(); s.Bindings > 64 || s.MACs > 64 || s.BindingEvictions == 0 {
		t.Errorf("stats %+v: want bounded tables and counted evictions", s)
	}
}

// A Mac rotating its private Wi-Fi address every two weeks stays one host:
// each new MAC announces the Mac's name while the name is still fresh, and
// takes the place of the member that went quiet.
func TestRotatingPrivateAddress(t *testing.T) {
	b := newBinder(t, Config{})
	first := [6]byte{0x3a, 0x10, 0, 0, 0, 0}
	const hour = int64(3600e9)
	ts := int64(1e9)
	for i := range 6 {
		m := [6]byte{0x3a, 0x10, 0, 0, 0, byte(i)}
		for range 14 * 24 / 6 { // announces every 6 hours for two weeks
			b.Learn(mdnsAnnounce(t, ts, "10.20.1.15", m, "alices-mbp"))
			ts += 6 * hour
		}
		if c := b.Canonical(m); c != first {
			t.Errorf("rotation %d: host %s, want %s", i, MACString(c), MACString(first))
		}
	}
	if s := b.Stats(); s.Joins != 5 || s.JoinEvictions < 2 {
		t.Errorf("stats %+v: want 5 joins, quiet members dropped to make room", s)
	}
}

// Cloned virtual machines keep their image's DUID (naming an interface
// none of them has) and often its host name: they stay separate hosts.
func TestClonesAreNotOneHost(t *testing.T) {
	clone := func(i int) [6]byte { return [6]byte{0x52, 0x54, 0x00, 0, 0, byte(i)} }
	imageDUID := []byte{0, 1, 0, 1, 0x28, 0x83, 0x36, 0xa5, 0x18, 0xf7, 0x78, 0x6f, 0x96, 0xee}
	b := newBinder(t, Config{})
	for i := range 6 {
		b.Learn(dhcp6(int64(i+1)*sec, "fe80::"+string(rune('1'+i)), clone(i), imageDUID))
	}
	for i := range 6 {
		if c := b.Canonical(clone(i)); c != clone(i) {
			t.Errorf("clone %d joined to %s by a DUID naming none of them", i, MACString(c))
		}
	}
	b = newBinder(t, Config{})
	for i := range 6 {
		b.Learn(request(int64(i+1)*sec, clone(i), "win-7h2k9qx"))
	}
	for i := range 6 {
		if c := b.Canonical(clone(i)); c != clone(i) {
			t.Errorf("clone %d still joined to %s after six MACs claimed one name", i, MACString(c))
		}
	}
	if s := b.Stats(); s.JoinsShared == 0 {
		t.Errorf("stats %+v: the shared name is not counted", s)
	}
}

// TestMemoSlotIPv4 checks that the IPv4 shortcut picks the slot the 16-byte
// form would: which entry an address takes decides which refreshes the
// sender shortcut skips, so it must not change with the representation.
func TestMemoSlotIPv4(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		n := uint32(i) * 2654435761
		a := netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
		b := a.As16()
		want := int(b[15]^b[14]*7^b[13]*31) & (memoSize - 1)
		if got := memoSlot(a); got != want {
			t.Fatalf("memoSlot(%v) = %d, want %d", a, got, want)
		}
		if got := memoSlot(netip.AddrFrom16(b)); got != want {
			t.Fatalf("memoSlot(%v) = %d, want %d", netip.AddrFrom16(b), got, want)
		}
	}
}

// BenchmarkLearn is the binder's cost per packet of a span's usual mix:
// half the packets forwarded by the router to the hosts (a TTL below its
// initial value), half sent by the hosts themselves; each host heard again
// within the refresh interval (memo) or after it (refresh: the binding's
// time is renewed, as on a day where a host talks every few seconds).
func BenchmarkLearn(b *testing.B) {
	for _, c := range []struct {
		name  string
		round time.Duration // capture time between two rounds of the hosts' packets
	}{{"memo", time.Millisecond}, {"refresh", 11 * time.Second}} {
		b.Run(c.name, func(b *testing.B) {
			bd := newBinder(b, Config{})
			var pkts []*decode.Packet
			for i := range 256 {
				h := fmt.Sprintf("10.20.1.%d", i%64+1)
				mac := [6]byte{2, 0, 0, 0, 0, byte(i%64 + 1)}
				pkts = append(pkts, tcp(0, h, "203.0.113.10", mac, 64), tcp(0, "203.0.113.10", h, macR, 52))
			}
			var ts int64
			for b.Loop() {
				ts += int64(c.round)
				for _, p := range pkts {
					p.TS = ts
					bd.Learn(p)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pkts)), "ns/pkt")
		})
	}
}
