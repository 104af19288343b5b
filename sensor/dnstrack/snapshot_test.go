package dnstrack

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// Answers exported from one tracker and imported into another name the
// same sessions until the same expiry; only those stored since the given
// time and still live are exported, most recently used first, at most max.
func TestExportImport(t *testing.T) {
	tr := newTracker(t, nil)
	p := udpResponse(int64(time.Minute), response(t, "cdn.example.net.", 300))
	tr.Packet(&p)
	var got []Answer
	tr.Export(0, int64(2*time.Minute), 100, func(a Answer) { got = append(got, a) })
	if len(got) != 2 || got[0].Client != client || got[0].Name != "cdn.example.net" || got[0].At != int64(time.Minute) {
		t.Fatalf("exported %+v", got)
	}
	fresh := newTracker(t, nil)
	for _, a := range slices.Backward(got) {
		if err := fresh.Import(a); err != nil {
			t.Fatal(err)
		}
	}
	expires := got[0].Expires
	for _, addr := range []netip.Addr{edge1, edge2} {
		if name, ok := fresh.Name(client, addr, expires); !ok || name != "cdn.example.net" {
			t.Errorf("after import, Name(%s) = %q, %v", addr, name, ok)
		}
		if _, ok := fresh.Name(client, addr, expires+1); ok {
			t.Errorf("imported answer for %s outlived its expiry", addr)
		}
	}
	var n int
	tr.Export(int64(time.Minute)+1, 0, 100, func(Answer) { n++ })
	tr.Export(0, expires+1, 100, func(Answer) { n++ })
	if n != 0 {
		t.Errorf("exported %d answers stored before since or expired", n)
	}
	tr.Export(0, 0, 1, func(Answer) { n++ })
	if n != 1 {
		t.Errorf("max 1 exported %d", n)
	}
}

// Import keeps the tracker's bound, evicting and counting, refuses what no
// response could have stored, and does not shorten a live answer.
func TestImportBoundedAndChecked(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxAnswers = 16
	tr, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		a := Answer{Client: client, Addr: netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}), Name: "x.example", Expires: 100, At: 1}
		if err := tr.Import(a); err != nil {
			t.Fatal(err)
		}
	}
	if s := tr.Stats(); s.Entries != 16 || s.Evictions != 4 {
		t.Fatalf("stats %+v", s)
	}
	if err := tr.Import(Answer{Client: client, Addr: netip.AddrFrom4([4]byte{203, 0, 113, 19}), Name: "y.example", Expires: 50, At: 1}); err != nil {
		t.Fatal(err)
	}
	if name, _ := tr.Name(client, netip.AddrFrom4([4]byte{203, 0, 113, 19}), 60); name != "x.example" {
		t.Errorf("a shorter-lived import replaced a live answer: %q", name)
	}
	for _, a := range []Answer{
		{Addr: edge1, Name: "a.example", Expires: 2},
		{Client: client, Name: "a.example", Expires: 2},
		{Client: client, Addr: edge1, Expires: 2},
		{Client: client, Addr: edge1, Name: strings.Repeat("a", 300), Expires: 2},
		{Client: client, Addr: edge1, Name: "a.example", Expires: 1, At: 2},
	} {
		if err := tr.Import(a); !errors.Is(err, ErrBadAnswer) {
			t.Errorf("Import(%+v) = %v, want ErrBadAnswer", a, err)
		}
	}
}

// BenchmarkExport is the pause a checkpoint costs a worker for its DNS
// answers: a full table (131 072) of which 10 000 were read since the last
// checkpoint.
func BenchmarkExport(b *testing.B) {
	tr := newTracker(b, nil)
	n := DefaultConfig().MaxAnswers
	for i := range n {
		at := int64(i)
		if i >= n-10000 {
			at += int64(time.Hour)
		}
		tr.Import(Answer{Client: netip.AddrFrom4([4]byte{10, 0, byte(i >> 16), byte(i >> 8)}), Addr: netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}),
			Name: "cdn.example.net", At: at, Expires: at + int64(2*time.Hour)})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		got := 0
		tr.Export(int64(time.Hour), int64(time.Hour), 1<<14, func(Answer) { got++ })
		if got != 10000 {
			b.Fatalf("exported %d", got)
		}
	}
}
