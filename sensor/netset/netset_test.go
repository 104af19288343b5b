package netset

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

func TestContains(t *testing.T) {
	s := MustParse(DefaultInternal + ",203.0.113.7")
	tests := []struct {
		addr string
		want bool
	}{
		{"10.20.1.15", true},
		{"10.255.255.255", true},
		{"11.0.0.1", false},
		{"172.16.0.1", true},
		{"172.31.255.255", true},
		{"172.32.0.1", false},
		{"192.168.1.1", true},
		{"192.169.1.1", false},
		{"100.64.0.1", true},
		{"100.127.255.255", true},
		{"100.128.0.1", false},
		{"203.0.113.7", true},
		{"203.0.113.8", false},
		{"::ffff:10.1.2.3", true},
		{"fd00::1", true},
		{"fc00::1", true},
		{"fe80::1", false},
		{"2001:db8::1", false},
	}
	for _, tt := range tests {
		if got := s.Contains(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("Contains(%s) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, bad := range []string{"10.0.0.0/33", "not-an-ip", "10.0.0/8"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded, want error", bad)
		}
	}
	s, err := Parse(" 10.0.0.0/8 , ,fd00::/8")
	if err != nil || s.String() != "10.0.0.0/8,fd00::/8" {
		t.Fatalf("Parse = %v, %v", s, err)
	}
}

func TestZeroPrefixMatchesAll(t *testing.T) {
	s := MustParse("0.0.0.0/0")
	if !s.Contains(netip.MustParseAddr("8.8.8.8")) {
		t.Fatal("0.0.0.0/0 must contain every IPv4 address")
	}
}

func BenchmarkContainsV4(b *testing.B) {
	s := MustParse(DefaultInternal)
	a := netip.MustParseAddr("203.0.113.9")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if s.Contains(a) {
			b.Fatal("external address reported internal")
		}
	}
}

func TestLearn(t *testing.T) {
	s := MustParse(DefaultInternal)
	office := netip.MustParsePrefix("2001:db8:1234:1::/64")
	host := netip.MustParseAddr("2001:db8:1234:1::10")
	if s.Contains(host) {
		t.Fatal("internal before learning")
	}
	if !s.Learn(office) || s.Learn(office) {
		t.Fatal("Learn: want new once")
	}
	if !s.Contains(host) || s.Contains(netip.MustParseAddr("2001:db8:1234:2::10")) {
		t.Fatal("Contains after learning")
	}
	for _, p := range []string{"fd00:1::/64", "2001:db8:1234:1::/80", "10.0.0.0/24", "::ffff:10.0.0.0/120"} {
		if s.Learn(netip.MustParsePrefix(p)) {
			t.Errorf("Learn(%s) added a prefix", p)
		}
	}
	for i := range MaxLearned + 3 {
		s.Learn(netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb9, byte(i)}), 64))
	}
	got, refused := s.Learned()
	if len(got) != MaxLearned || got[0] != office || refused != 4 {
		t.Fatalf("learned %d (first %v), refused %d", len(got), got[0], refused)
	}
	if s.String() != MustParse(DefaultInternal).String() {
		t.Fatal("learned prefixes changed the configured list")
	}
}

// TestContainsMatchesPrefixes checks the first-octet shortcut against the
// prefixes themselves, for random sets of short and long IPv4 prefixes.
func TestContainsMatchesPrefixes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	addr := func() netip.Addr {
		return netip.AddrFrom4([4]byte{byte(rng.IntN(16)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))})
	}
	for range 200 {
		var ps []netip.Prefix
		for range rng.IntN(5) {
			ps = append(ps, netip.PrefixFrom(addr(), rng.IntN(33)).Masked())
		}
		s := New(ps)
		for range 2000 {
			a := addr()
			want := false
			for _, p := range ps {
				want = want || p.Contains(a)
			}
			if got := s.Contains(a); got != want {
				t.Fatalf("%v.Contains(%v) = %v, want %v", ps, a, got, want)
			}
			if in, known := s.Quick(a); known && in != want {
				t.Fatalf("%v.Quick(%v) = %v, want %v", ps, a, in, want)
			}
			if in, known := s.Quick(netip.AddrFrom16(a.As16())); known {
				t.Fatalf("%v.Quick(%v) = %v: an IPv4-mapped address is not known", ps, netip.AddrFrom16(a.As16()), in)
			}
		}
	}
}
