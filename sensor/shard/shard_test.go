package shard

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"net/netip"
	"testing"

	"github.com/launchtap/launchtap/sensor/host"
)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

var internal = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("fc00::/7"),
}

func isInternal(a netip.Addr) bool {
	for _, p := range internal {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func pkt(src, dst string, sport, dport uint16, proto uint8, payload []byte) Packet {
	s, d := addr(src), addr(dst)
	return Packet{Src: s, Dst: d, SrcInternal: isInternal(s), DstInternal: isInternal(d),
		Proto: proto, SrcPort: sport, DstPort: dport, Payload: payload}
}

// dhcpMsg builds a BOOTP message with the given yiaddr and ciaddr, and the
// options after the magic cookie (without the end option).
func dhcpMsg(yiaddr, ciaddr string, opts ...byte) []byte {
	b := make([]byte, bootpFixed)
	copy(b[bootpYiaddr:], addr(yiaddr).AsSlice())
	copy(b[bootpCiaddr:], addr(ciaddr).AsSlice())
	binary.BigEndian.PutUint32(b[bootpCookie:], dhcpMagic)
	b = append(b, opts...)
	return append(b, 255)
}

func opt50(a string) []byte { return append([]byte{50, 4}, addr(a).AsSlice()...) }

func TestOwner(t *testing.T) {
	request := append([]byte{53, 1, 3}, opt50("10.20.1.15")...)
	tests := []struct {
		name string
		p    Packet
		want string
	}{
		{"egress", pkt("10.20.1.15", "203.0.113.10", 50000, 443, 6, nil), "10.20.1.15"},
		{"ingress reply", pkt("203.0.113.10", "10.20.1.15", 443, 50000, 6, nil), "10.20.1.15"},
		{"internal dns reply goes to the client", pkt("10.20.0.53", "10.20.1.15", 53, 53000, 17, nil), "10.20.1.15"},
		{"internal dns query from the client", pkt("10.20.1.15", "10.20.0.53", 53000, 53, 17, nil), "10.20.1.15"},
		{"internal same ports: smaller address", pkt("10.0.0.9", "10.0.0.2", 123, 123, 17, nil), "10.0.0.2"},
		{"internal without ports: smaller address", pkt("10.0.0.9", "10.0.0.2", 0, 0, 1, nil), "10.0.0.2"},
		{"dhcp ack by yiaddr", pkt("10.20.0.1", "255.255.255.255", 67, 68, 17, dhcpMsg("10.20.1.15", "0.0.0.0")), "10.20.1.15"},
		{"dhcp yiaddr wins over ciaddr", pkt("10.20.0.1", "10.20.1.15", 67, 68, 17, dhcpMsg("10.20.1.16", "10.20.1.15")), "10.20.1.16"},
		{"dhcp request by option 50", pkt("0.0.0.0", "255.255.255.255", 68, 67, 17, dhcpMsg("0.0.0.0", "0.0.0.0", request...)), "10.20.1.15"},
		{"dhcp renewal by ciaddr", pkt("10.20.1.15", "10.20.0.1", 68, 67, 17, dhcpMsg("0.0.0.0", "10.20.1.15")), "10.20.1.15"},
		{"dhcp discover: source", pkt("0.0.0.0", "255.255.255.255", 68, 67, 17, dhcpMsg("0.0.0.0", "0.0.0.0", 53, 1, 1)), "0.0.0.0"},
		{"dhcp over tcp is not dhcp", pkt("203.0.113.5", "10.0.0.1", 1000, 67, 6, dhcpMsg("10.20.1.15", "0.0.0.0")), "10.0.0.1"},
		{"dhcp from the server port only is not dhcp", pkt("10.0.0.7", "10.0.0.9", 67, 9999, 17, dhcpMsg("10.20.1.15", "0.0.0.0")), "10.0.0.9"},
		{"neither internal: source", pkt("198.51.100.1", "203.0.113.10", 1234, 80, 6, nil), "198.51.100.1"},
		{"neither internal, other way: source", pkt("203.0.113.10", "198.51.100.1", 80, 1234, 6, nil), "203.0.113.10"},
		{"link-local mDNS: source", pkt("fe80::1", "ff02::fb", 5353, 5353, 17, nil), "fe80::1"},
		{"ipv6 ula egress", pkt("fd00::15", "2001:db8::1", 50000, 443, 6, nil), "fd00::15"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Owner(&tt.p); got != addr(tt.want) {
				t.Errorf("Owner = %s, want %s", got, tt.want)
			}
			if Of(&tt.p) != Hash(addr(tt.want)) {
				t.Error("Of is not Hash(Owner)")
			}
		})
	}
}

// Both directions of every exchange with an internal host land on one worker.
func TestSymmetric(t *testing.T) {
	for i := 0; i < 1000; i++ {
		in := fmt.Sprintf("10.%d.%d.%d", i%7, i%251, i%253)
		in2 := fmt.Sprintf("192.168.%d.%d", i%13, i%249)
		ex := fmt.Sprintf("203.0.%d.%d", i%113, i%97)
		port := uint16(40000 + i)
		for _, pair := range [][2]Packet{
			{pkt(in, ex, port, 443, 6, nil), pkt(ex, in, 443, port, 6, nil)},
			{pkt(in, in2, port, 445, 6, nil), pkt(in2, in, 445, port, 6, nil)},
			{pkt(in, in2, 123, 123, 17, nil), pkt(in2, in, 123, 123, 17, nil)},
		} {
			for _, n := range []int{2, 3, 8} {
				if a, b := Worker(Of(&pair[0]), n), Worker(Of(&pair[1]), n); a != b {
					t.Fatalf("%s↔%s: workers %d and %d of %d", pair[0].Src, pair[0].Dst, a, b, n)
				}
			}
		}
	}
}

// The hash is part of the live contract (the kernel returns it): it is
// FNV-1a as hash/fnv computes it, and two values are pinned.
func TestHashValues(t *testing.T) {
	for _, tc := range []struct {
		a    string
		want uint32
	}{
		{"::", 0x69691905},
		{"10.20.1.15", 0xdf3d0a79},
	} {
		if got := Hash(addr(tc.a)); got != tc.want {
			t.Errorf("Hash(%s) = %#x, want %#x", tc.a, got, tc.want)
		}
	}
	for i := 0; i < 1000; i++ {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), byte(i * 7)})
		switch i % 4 {
		case 1, 3:
			a = netip.AddrFrom16([16]byte{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(i >> 8), byte(i), byte(i * 3)})
		case 2:
			a = netip.AddrFrom16(a.As16()) // IPv4-mapped: hashed in the same 16-byte form
		}
		h := fnv.New32a()
		b := a.As16()
		h.Write(b[:])
		if got, want := Hash(a), h.Sum32(); got != want {
			t.Fatalf("Hash(%s) = %#x, hash/fnv says %#x", a, got, want)
		}
	}
}

func TestWorker(t *testing.T) {
	for _, n := range []int{-1, 0, 1} {
		if w := Worker(0xffffffff, n); w != 0 {
			t.Errorf("Worker(.., %d) = %d, want 0", n, w)
		}
	}
	// Sequential addresses spread over the workers.
	const n = 4
	var per [n]int
	for i := 0; i < 256; i++ {
		per[Worker(Hash(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})), n)]++
	}
	for w, c := range per {
		if c < 48 || c > 80 {
			t.Errorf("worker %d owns %d of 256 sequential hosts: %v", w, c, per)
		}
	}
}

func TestDHCPAddr(t *testing.T) {
	pads := func(n int) []byte { return make([]byte, n) }
	tests := []struct {
		name string
		b    []byte
		want string // "" for none
	}{
		{"yiaddr", dhcpMsg("10.0.0.1", "0.0.0.0"), "10.0.0.1"},
		{"ciaddr", dhcpMsg("0.0.0.0", "10.0.0.2"), "10.0.0.2"},
		{"option 50", dhcpMsg("0.0.0.0", "0.0.0.0", opt50("10.0.0.3")...), "10.0.0.3"},
		{"option 50 of the wrong length is skipped", dhcpMsg("0.0.0.0", "0.0.0.0", append([]byte{50, 2, 1, 1}, opt50("10.0.0.4")...)...), "10.0.0.4"},
		{"option 50 after pads", dhcpMsg("0.0.0.0", "0.0.0.0", append(pads(10), opt50("10.0.0.5")...)...), "10.0.0.5"},
		{"option 50 as the last entry read", dhcpMsg("0.0.0.0", "0.0.0.0", append(pads(MaxDHCPOptions-1), opt50("10.0.0.6")...)...), "10.0.0.6"},
		{"option 50 beyond the entries read", dhcpMsg("0.0.0.0", "0.0.0.0", append(pads(MaxDHCPOptions), opt50("10.0.0.6")...)...), ""},
		{"option 50 after the end option", dhcpMsg("0.0.0.0", "0.0.0.0", append([]byte{255}, opt50("10.0.0.7")...)...), ""},
		{"option claims bytes that are not there", dhcpMsg("0.0.0.0", "0.0.0.0", 50, 200)[:bootpFixed+2], ""},
		{"option code without a length", dhcpMsg("0.0.0.0", "0.0.0.0", 50)[:bootpFixed+1], ""},
		{"option 50 cut short", dhcpMsg("0.0.0.0", "0.0.0.0", opt50("10.0.0.8")...)[:bootpFixed+5], ""},
		{"no options", dhcpMsg("0.0.0.0", "0.0.0.0")[:bootpFixed], ""},
		{"bad magic", func() []byte { b := dhcpMsg("10.0.0.1", "0.0.0.0"); b[bootpCookie] = 0; return b }(), ""},
		{"short", dhcpMsg("10.0.0.1", "0.0.0.0")[:100], ""},
		{"empty", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, ok := DHCPAddr(tt.b)
			if tt.want == "" {
				if ok {
					t.Errorf("DHCPAddr = %s, want none", a)
				}
				return
			}
			if !ok || a != addr(tt.want) {
				t.Errorf("DHCPAddr = %s, %v; want %s", a, ok, tt.want)
			}
		})
	}
}

func TestDHCPClientMAC(t *testing.T) {
	mac := [6]byte{0x3c, 0x22, 0xfb, 0x1a, 0x2b, 0x3c}
	eth := dhcpMsg("0.0.0.0", "0.0.0.0", 53, 1, 1)
	eth[1], eth[2] = 1, 6
	copy(eth[bootpChaddr:], mac[:])
	notEth := append([]byte(nil), eth...)
	notEth[1] = 6 // IEEE 802 token ring
	noCookie := append([]byte(nil), eth...)
	noCookie[bootpCookie] = 0
	tests := []struct {
		name string
		b    []byte
		ok   bool
	}{
		{"ethernet", eth, true},
		{"other hardware", notEth, false},
		{"no cookie", noCookie, false},
		{"short", eth[:bootpFixed-1], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := DHCPClientMAC(tt.b)
			if ok != tt.ok || (ok && m != mac) {
				t.Errorf("DHCPClientMAC = %x, %v; want %x, %v", m, ok, mac, tt.ok)
			}
		})
	}
}

func TestHashKey(t *testing.T) {
	a := addr("10.20.1.15")
	if HashKey(host.AddrKey(a)) != Hash(a) {
		t.Error("an address-keyed host must hash as its address")
	}
	m1, m2 := [6]byte{2, 0, 0, 0, 0, 1}, [6]byte{2, 0, 0, 0, 0, 2}
	if HashKey(host.MACKey(m1)) == HashKey(host.MACKey(m2)) {
		t.Error("neighbouring MACs hash alike")
	}
	// FNV-1a of the six bytes, as the kernel program computes it.
	h := uint32(2166136261)
	for _, c := range m1 {
		h = (h ^ uint32(c)) * 16777619
	}
	if HashKey(host.MACKey(m1)) != h {
		t.Error("MAC hash is not FNV-1a over its bytes")
	}
}

func TestMapKey(t *testing.T) {
	a := addr("10.20.1.15")
	if MapKey(a, [6]byte{}) != a.As16() {
		t.Error("an address's map key is its 16-byte form")
	}
	m := [6]byte{0x3c, 0x22, 0xfb, 0x1a, 0x2b, 0x3c}
	k := MapKey(netip.Addr{}, m)
	if !netip.AddrFrom16(k).IsMulticast() || [6]byte(k[10:]) != m {
		t.Errorf("MAC map key %x: want ff… then the MAC", k)
	}
}

func FuzzDHCPAddr(f *testing.F) {
	f.Add(dhcpMsg("10.0.0.1", "0.0.0.0"))
	f.Add(dhcpMsg("0.0.0.0", "0.0.0.0", opt50("10.1.2.3")...))
	f.Add(dhcpMsg("0.0.0.0", "0.0.0.0", 0, 0, 53, 1, 3, 50, 4, 10))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, ok := DHCPAddr(b)
		if ok && !a.Is4() {
			t.Fatalf("DHCPAddr returned %s, not an IPv4 address", a)
		}
	})
}

func BenchmarkOf(b *testing.B) {
	p := pkt("93.184.216.34", "192.168.1.10", 443, 50000, 6, nil)
	b.ReportAllocs()
	var sink uint32
	for b.Loop() {
		sink += Of(&p)
	}
	_ = sink
}
