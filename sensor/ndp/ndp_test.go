package ndp

import (
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

// ra is a Router Advertisement as a home or office router sends it: source
// link-layer address, MTU, a global /64 (L, A) and a ULA /48 (L only).
var ra = unhex(`
86 00 0000  40 00 0708  00000000 00000000
01 01 f4f26d1e2a01
05 01 0000 000005dc
03 04 40 c0 00278d00 00093a80 00000000 20010db8 12340001 00000000 00000000
03 04 30 80 ffffffff ffffffff 00000000 fd005a5a 17000000 00000000 00000000
`)

func TestRouterAdvert(t *testing.T) {
	var buf [8]Prefix
	got, err := RouterAdvert(ra, buf[:0])
	if err != nil {
		t.Fatal(err)
	}
	want := []Prefix{
		{Prefix: netip.MustParsePrefix("2001:db8:1234:1::/64"), OnLink: true, Autonomous: true, Valid: 2592000, Preferred: 604800},
		{Prefix: netip.MustParsePrefix("fd00:5a5a:1700::/48"), OnLink: true, Valid: 0xffffffff, Preferred: 0xffffffff},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("prefix %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	// out's capacity bounds the prefixes kept.
	if got, err := RouterAdvert(ra, buf[:0:1]); err != nil || len(got) != 1 {
		t.Fatalf("capacity 1: %v %v", got, err)
	}
	if n := testing.AllocsPerRun(100, func() { RouterAdvert(ra, buf[:0]) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

func TestRouterAdvertRejects(t *testing.T) {
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), ra...)) }
	for _, tc := range []struct {
		name string
		b    []byte
		err  error
	}{
		{"echo request", []byte{128, 0, 0, 0}, ErrNotNDP},
		{"short", ra[:10], ErrMalformed},
		{"code", mod(func(b []byte) []byte { b[1] = 1; return b }), ErrMalformed},
		{"zero-length option", mod(func(b []byte) []byte { b[17] = 0; return b }), ErrMalformed},
		{"option past the end", ra[:len(ra)-8], ErrMalformed},
		{"prefix length 129", mod(func(b []byte) []byte { b[16+8+8+2] = 129; return b }), ErrMalformed},
		{"prefix option of the wrong size", mod(func(b []byte) []byte { b[16+8+8+1] = 3; return b[:len(b)-40] }), ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := RouterAdvert(tc.b, nil); !errors.Is(err, tc.err) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.err)
			}
		})
	}
}

func TestParseNeighbor(t *testing.T) {
	na := unhex(`88 00 0000 60000000 20010db8123400010000000000000010 02 01 a4834f112233`)
	n, err := ParseNeighbor(na)
	if err != nil {
		t.Fatal(err)
	}
	if n.Type != TypeNeighborAdvert || n.Target != netip.MustParseAddr("2001:db8:1234:1::10") ||
		!n.HasLinkAddr || n.LinkAddr != [6]byte{0xa4, 0x83, 0x4f, 0x11, 0x22, 0x33} || !n.Solicited || !n.Override || n.Router {
		t.Fatalf("%+v", n)
	}
	ns := unhex(`87 00 0000 00000000 fe80000000000000a68340fffe112233`)
	if n, err := ParseNeighbor(ns); err != nil || n.Type != TypeNeighborSolict || n.HasLinkAddr {
		t.Fatalf("%+v %v", n, err)
	}
	for _, b := range [][]byte{na[:20], unhex(`88 00 0000 00000000 ff020000000000000000000000000001`), append(append([]byte(nil), na[:24]...), 2, 0)} {
		if _, err := ParseNeighbor(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("% x: %v", b, err)
		}
	}
	if n := testing.AllocsPerRun(100, func() { ParseNeighbor(na) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

func FuzzRouterAdvert(f *testing.F) {
	f.Add(ra)
	var buf [4]Prefix
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := RouterAdvert(b, buf[:0])
		if len(got) > len(buf) {
			t.Fatal("beyond capacity")
		}
		for _, p := range got {
			if err == nil && (!p.Prefix.IsValid() || p.Prefix.Masked() != p.Prefix) {
				t.Fatalf("prefix %v", p.Prefix)
			}
		}
	})
}

func FuzzNeighbor(f *testing.F) {
	f.Add(unhex(`88 00 0000 60000000 20010db8123400010000000000000010 02 01 a4834f112233`))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := ParseNeighbor(b)
		if err == nil && (!n.Target.Is6() || n.Target.IsMulticast()) {
			t.Fatalf("%+v", n)
		}
	})
}
