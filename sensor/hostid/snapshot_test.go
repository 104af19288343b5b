package hostid

import (
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/launchtap/launchtap/internal/pkttest"
)

// mac identified by a SYN and an mDNS announcement, with a DHCP lease: what
// a restarted table must know again without a packet.
func identified(t testing.TB) (*Table, netip.Addr, [6]byte) {
	t.Helper()
	ip := netip.MustParseAddr("10.20.1.15")
	mac := [6]byte{0x3c, 0x22, 0xfb, 0x1a, 0x2b, 0x3c}
	tb := newTable(t, Config{})
	syn := pkttest.Darwin.SYN(baseTS, ip, netip.MustParseAddr("203.0.113.10"), mac, true, 0, 50000, 443)
	tb.Observe(&syn)
	tb.Observe(ptr(udp(baseTS+sec, ip, netip.MustParseAddr("224.0.0.251"), mac, 5353, 5353,
		pkttest.MDNSAnnounce("alices-mbp", ip, "MacBookPro18,3", "23", true))))
	tb.Observe(ptr(udp(baseTS+2*sec, netip.MustParseAddr("10.20.0.1"), ip, [6]byte{0, 0x1c, 0x73, 0, 0, 1}, 67, 68,
		pkttest.DHCP4{Reply: true, Type: layers.DHCPMsgTypeAck, CHAddr: mac, YIAddr: ip, Lease: 86400}.Bytes())))
	return tb, ip, mac
}

func exported(tb *Table) ([]HostState, []BindingState) {
	var hs []HostState
	var bs []BindingState
	tb.Export(func(h *HostState) { hs = append(hs, *h) }, func(b BindingState) { bs = append(bs, b) })
	return hs, bs
}

// A table imported from an export gives the same verdicts, by MAC and by
// the bound address alone, and exports the same state again.
func TestExportImport(t *testing.T) {
	tb, ip, mac := identified(t)
	want := tb.Lookup(ip, mac, true)
	if want.OS != MacOS {
		t.Fatalf("setup: %+v", want)
	}
	hs, bs := exported(tb)
	if len(hs) != 1 || len(bs) != 1 || bs[0].Addr != ip || bs[0].MAC != mac || !bs[0].DHCP {
		t.Fatalf("exported %+v, bindings %+v", hs, bs)
	}
	fresh := newTable(t, Config{})
	for i := range hs {
		b, err := hs[i].MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var h HostState
		if err := h.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if err := fresh.Import(&h); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range bs {
		if err := fresh.ImportBinding(b); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name   string
		mac    [6]byte
		hasMAC bool
	}{{"own MAC", mac, true}, {"address only (routed)", [6]byte{0, 0x1c, 0x73, 0, 0, 1}, true}, {"no MAC", [6]byte{}, false}} {
		if got := fresh.Lookup(ip, c.mac, c.hasMAC); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %+v, want %+v", c.name, got, want)
		}
	}
	again, bs2 := exported(fresh)
	if !reflect.DeepEqual(again, hs) || !reflect.DeepEqual(bs2, bs) {
		t.Errorf("re-export differs:\n%+v\n%+v", again, hs)
	}
}

// Importing beyond MaxHosts evicts the least recently observed and counts
// it, as observing would.
func TestImportKeepsBounds(t *testing.T) {
	tb := newTable(t, Config{MaxHosts: 4})
	for i := range 10 {
		h := HostState{MAC: [6]byte{2, 0, 0, 0, 0, byte(i + 1)}, First: baseTS, Last: baseTS + int64(i)}
		if err := tb.Import(&h); err != nil {
			t.Fatal(err)
		}
		if err := tb.ImportBinding(BindingState{Addr: netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), MAC: h.MAC, Until: baseTS + 3600*sec}); err != nil {
			t.Fatal(err)
		}
	}
	if s := tb.Stats(); s.Hosts != 4 || s.Evictions != 6 || s.Bindings != 4 || s.BindingEvictions != 6 {
		t.Fatalf("stats %+v", s)
	}
	hs, _ := exported(tb)
	if hs[0].MAC[5] != 7 || hs[3].MAC[5] != 10 {
		t.Fatalf("kept %v … %v, want the 4 imported last", hs[0].MAC, hs[3].MAC)
	}
}

// Merging is order-free and idempotent: two workers' copies of one
// dual-stack host, and a copy with an older checkpoint of itself.
func TestMerge(t *testing.T) {
	tb, _, _ := identified(t)
	hs, _ := exported(tb)
	v4 := hs[0]
	v6 := HostState{MAC: v4.MAC, First: baseTS + 5*sec, Last: baseTS + 9*sec,
		Addrs:    []AddrSeen{{netip.MustParseAddr("2001:db8::15"), baseTS + 9*sec}},
		Evidence: []EvidenceState{{Key: v4.Evidence[0].Key, Kind: v4.Evidence[0].Kind, Claim: v4.Evidence[0].Claim, Weight: v4.Evidence[0].Weight, Text: v4.Evidence[0].Text, Count: 5, First: baseTS + 5*sec, Last: baseTS + 9*sec}},
		Signals:  []uint32{5}}
	a := clone(v4)
	a.Merge(&v6)
	b := clone(v6)
	b.Merge(&v4)
	slices.SortFunc(a.Addrs, func(x, y AddrSeen) int { return x.Addr.Compare(y.Addr) })
	slices.SortFunc(b.Addrs, func(x, y AddrSeen) int { return x.Addr.Compare(y.Addr) })
	slices.SortFunc(a.Evidence, func(x, y EvidenceState) int { return int(x.Key) - int(y.Key) })
	slices.SortFunc(b.Evidence, func(x, y EvidenceState) int { return int(x.Key) - int(y.Key) })
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("merge depends on order:\n%+v\n%+v", a, b)
	}
	if len(a.Addrs) != 2 || a.First != v4.First || a.Last != v6.Last || a.Hostname != "alices-mbp" || a.Signals[0] != 5 {
		t.Fatalf("merged %+v", a)
	}
	c := clone(a)
	c.Merge(&v4)
	if !reflect.DeepEqual(c, a) {
		t.Fatalf("merging an older copy changed it:\n%+v\n%+v", c, a)
	}
}

func clone(s HostState) HostState {
	s.Addrs, s.Evidence, s.Signals = slices.Clone(s.Addrs), slices.Clone(s.Evidence), slices.Clone(s.Signals)
	return s
}

func TestUnmarshalRefuses(t *testing.T) {
	for _, c := range []struct{ name, js string }{
		{"not JSON", `{`},
		{"no key", `{"first":1,"last":2}`},
		{"two keys", `{"mac":[2,0,0,0,0,1],"ip":"10.0.0.1"}`},
		{"group MAC", `{"mac":[1,0,94,0,0,1]}`},
		{"unknown kind", `{"ip":"10.0.0.1","evidence":[{"kind":9,"count":1}]}`},
		{"NaN-free weight", `{"ip":"10.0.0.1","evidence":[{"weight":1e9,"count":1}]}`},
		{"zero count", `{"ip":"10.0.0.1","evidence":[{"count":0}]}`},
		{"too many signals", `{"ip":"10.0.0.1","signals":[1,2,3,4,5,6,7]}`},
		{"first after last", `{"ip":"10.0.0.1","first":5,"last":1}`},
		{"long hostname", `{"ip":"10.0.0.1","hostname":"` + strings.Repeat("a", 200) + `"}`},
	} {
		var h HostState
		if err := h.UnmarshalBinary([]byte(c.js)); !errors.Is(err, ErrBadState) {
			t.Errorf("%s: %v, want ErrBadState", c.name, err)
		}
	}
}

// FuzzHostState decodes arbitrary bytes as a stored host state: whatever
// is accepted imports without panic and keeps the table's bounds.
func FuzzHostState(f *testing.F) {
	tb, _, _ := identified(f)
	hs, _ := exported(tb)
	b, _ := hs[0].MarshalBinary()
	f.Add(b)
	f.Add([]byte(`{"ip":"10.0.0.1","first":1,"last":2,"evidence":[{"key":1,"kind":4,"claim":1,"weight":2,"text":"x","count":1}]}`))
	f.Add([]byte(`{"mac":[2,0,0,0,0,1],"router":true,"addrs":[{"addr":"10.0.0.1","last":3}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var h HostState
		if h.UnmarshalBinary(b) != nil {
			return
		}
		tb, err := NewTable(Config{MaxHosts: 2})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := tb.Import(&h); err != nil {
				t.Fatalf("checked state refused: %v", err)
			}
		}
		v := tb.Lookup(h.IP, h.MAC, h.MAC != [6]byte{})
		if v.Confidence < 0 || v.Confidence > 1 {
			t.Fatalf("verdict %+v", v)
		}
		again, _ := exported(tb)
		if len(again) != 1 || len(again[0].Evidence) > maxEvidence || len(again[0].Addrs) > ringSize {
			t.Fatalf("bounds: %+v", again)
		}
	})
}

// BenchmarkExport is the pause a checkpoint costs a worker for its host
// table: every host (10 000, each with evidence) and binding copied out.
func BenchmarkExport(b *testing.B) {
	tb := newTable(b, Config{})
	for i := range 10000 {
		ip := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
		syn := pkttest.Darwin.SYN(baseTS+int64(i), ip, netip.MustParseAddr("203.0.113.10"), [6]byte{0x3c, 0x22, 0xfb, 0, byte(i >> 8), byte(i)}, true, 0, 50000, 443)
		tb.Observe(&syn)
		tb.ObserveDNSQuery(ip, syn.SrcMAC, true, "time-macos.apple.com", baseTS+int64(i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		n := 0
		tb.Export(func(*HostState) { n++ }, func(BindingState) { n++ })
		if n != 20000 {
			b.Fatalf("exported %d", n)
		}
	}
}
