package p0f

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/launchtap/launchtap/internal/pkttest"
	"github.com/launchtap/launchtap/internal/testenv"
	"github.com/launchtap/launchtap/sensor/decode"
)

const systemDB = "/etc/p0f/p0f.fp" // Debian package p0f

// capturesDir is the repository's real captures (testdata/captures).
func capturesDir(t testing.TB) string {
	return filepath.Dir(testenv.Capture(t, "README.md"))
}

func mustDefault(t testing.TB) *DB {
	db, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// realMacSYN is the SYN of ../shared/captures/real/macos_tcp_flags.pcap.
func realMacSYN(t testing.TB) decode.Packet {
	pkts, err := pkttest.ReadFile(filepath.Join(capturesDir(t), "real", "macos_tcp_flags.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkts {
		if p.TCPFlags&(decode.TCPSyn|decode.TCPAck) == decode.TCPSyn {
			return p
		}
	}
	t.Fatal("no SYN in macos_tcp_flags.pcap")
	return decode.Packet{}
}

func TestParseDefault(t *testing.T) {
	db := mustDefault(t)
	if len(db.Sigs) < 40 {
		t.Fatalf("default database has %d signatures, want >= 40", len(db.Sigs))
	}
}

func TestParseSystemP0fFile(t *testing.T) {
	if _, err := os.Stat(systemDB); err != nil {
		t.Skipf("p0f not installed: %v", err)
	}
	db, err := Load(systemDB)
	if err != nil {
		t.Fatal(err)
	}
	if len(db.Sigs) < 50 {
		t.Fatalf("p0f.fp gave %d [tcp:request] signatures, want >= 50", len(db.Sigs))
	}
}

func TestParseErrors(t *testing.T) {
	const hdr = "[tcp:request]\nlabel = s:unix:X:1\n"
	tests := []struct {
		name, in string
		line     int
	}{
		{"sig before label", "[tcp:request]\nsig = *:64:0:*:*,*:mss:df:0\n", 2},
		{"bad label", "[tcp:request]\nlabel = s:unix\n", 2},
		{"bad label type", "[tcp:request]\nlabel = x:unix:A:b\n", 2},
		{"seven fields", hdr + "sig = *:64:0:*:*,*:mss:df\n", 3},
		{"bad version", hdr + "sig = 5:64:0:*:*,*:mss:df:0\n", 3},
		{"bad ttl", hdr + "sig = *:x:0:*:*,*:mss:df:0\n", 3},
		{"zero ttl", hdr + "sig = *:0:0:*:*,*:mss:df:0\n", 3},
		{"ttl overflow", hdr + "sig = *:250+10:0:*:*,*:mss:df:0\n", 3},
		{"bad olen", hdr + "sig = *:64:z:*:*,*:mss:df:0\n", 3},
		{"bad mss", hdr + "sig = *:64:0:70000:*,*:mss:df:0\n", 3},
		{"no scale", hdr + "sig = *:64:0:*:8192:mss:df:0\n", 3},
		{"bad window", hdr + "sig = *:64:0:*:mss*x,0:mss:df:0\n", 3},
		{"mod zero", hdr + "sig = *:64:0:*:%0,0:mss:df:0\n", 3},
		{"bad scale", hdr + "sig = *:64:0:*:*,x:mss:df:0\n", 3},
		{"bad option", hdr + "sig = *:64:0:*:*,*:mss,foo:df:0\n", 3},
		{"eol not last", hdr + "sig = *:64:0:*:*,*:eol+1,mss:df:0\n", 3},
		{"bad quirk", hdr + "sig = *:64:0:*:*,*:mss:zz:0\n", 3},
		{"bad pclass", hdr + "sig = *:64:0:*:*,*:mss:df:7\n", 3},
		{"unknown key", hdr + "foo = bar\n", 3},
		{"userland without sys", "[tcp:request]\nlabel = s:!:NMap:x\nsig = *:64:0:*:*,*:mss:df:0\n", 3},
		{"no equals", hdr + "garbage\n", 3},
		{"unterminated section", "[tcp:request\n", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.in))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse: err = %v, want a *ParseError", err)
			}
			if pe.Line != tt.line {
				t.Errorf("error %q names line %d, want %d", pe, pe.Line, tt.line)
			}
		})
	}
	if _, err := Parse(strings.NewReader("[mtu]\nlabel = x\nsig = 1500\n")); err == nil {
		t.Error("a file without [tcp:request] signatures was accepted")
	}
}

func TestRawMatchesP0fLog(t *testing.T) {
	p := realMacSYN(t)
	var s SYN
	if !FromPacket(&p, &s) {
		t.Fatal("FromPacket rejected the SYN")
	}
	// What p0f 3.09b logs for this packet (raw_sig=).
	const want = "4:64+0:0:1460:65535,6:mss,nop,ws,nop,nop,ts,sok,eol+1:df,ecn:0"
	if got := s.Raw(); got != want {
		t.Errorf("Raw() = %q, want %q", got, want)
	}
}

func TestMatchRealMacSYN(t *testing.T) {
	p := realMacSYN(t)
	var s SYN
	FromPacket(&p, &s)
	m, ok := mustDefault(t).Match(&s)
	if !ok || m.Fuzzy || m.Sig.Label.Name != "Darwin" || m.Sig.Label.Generic || m.Dist != 0 {
		t.Fatalf("default db: %+v ok=%v, want exact specific Darwin at distance 0", m, ok)
	}
	if _, err := os.Stat(systemDB); err != nil {
		t.Skipf("p0f not installed: %v", err)
	}
	sys, err := Load(systemDB)
	if err != nil {
		t.Fatal(err)
	}
	// p0f's own file only matches it through the generic rule, fuzzily.
	m, ok = sys.Match(&s)
	if !ok || !m.Fuzzy || !m.Sig.Label.Generic || m.Sig.Label.Name != "Mac OS X" {
		t.Fatalf("p0f db: %+v ok=%v, want generic fuzzy Mac OS X", m, ok)
	}
}

func TestMatchStacks(t *testing.T) {
	db := mustDefault(t)
	v4 := netip.MustParseAddr("10.0.0.5")
	v6 := netip.MustParseAddr("fd00::5")
	dst := netip.MustParseAddr("203.0.113.10")
	dst6 := netip.MustParseAddr("2001:db8::10")
	tests := []struct {
		stack       pkttest.Stack
		src, dst    netip.Addr
		hops        uint8
		name        string
		fuzzy       bool
		wantGeneric bool
	}{
		{pkttest.Darwin, v4, dst, 0, "Darwin", false, false},
		{pkttest.Darwin, v4, dst, 3, "Darwin", false, false},
		{pkttest.DarwinNoECN, v4, dst, 1, "Darwin", false, false},
		{pkttest.Darwin, v6, dst6, 0, "Darwin", false, false},
		{pkttest.Windows, v4, dst, 0, "Windows", false, false},
		{pkttest.Windows, v4, dst, 2, "Windows", false, false},
		{pkttest.Windows, v6, dst6, 0, "Windows", false, false},
		{pkttest.Linux, v4, dst, 0, "Linux", false, false},
		{pkttest.Linux, v6, dst6, 1, "Linux", false, false},
		{pkttest.FreeBSD, v4, dst, 0, "FreeBSD", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.stack.Name, func(t *testing.T) {
			p := tt.stack.SYN(1e9, tt.src, tt.dst, [6]byte{}, false, tt.hops, 50000, 443)
			var s SYN
			if !FromPacket(&p, &s) {
				t.Fatal("not a SYN")
			}
			m, ok := db.Match(&s)
			if !ok {
				t.Fatalf("no match for %s", s.Raw())
			}
			if m.Sig.Label.Name != tt.name || m.Fuzzy != tt.fuzzy || m.Sig.Label.Generic != tt.wantGeneric {
				t.Errorf("%s matched %q (generic=%v fuzzy=%v), want %q generic=%v fuzzy=%v",
					s.Raw(), m.Sig.Label, m.Sig.Label.Generic, m.Fuzzy, tt.name, tt.wantGeneric, tt.fuzzy)
			}
			if m.Dist != int(tt.hops) {
				t.Errorf("distance %d, want %d", m.Dist, tt.hops)
			}
		})
	}
}

func TestMatchFuzzyRules(t *testing.T) {
	const fp = "[tcp:request]\nlabel = s:unix:A:1\nsig = *:64:0:*:8192,0:mss:df,id+:0\n" +
		"label = g:unix:B:\nsig = *:64:0:*:*,*:mss:df,id+:0\n"
	db, err := Parse(strings.NewReader(fp))
	if err != nil {
		t.Fatal(err)
	}
	base := decode.Packet{Proto: decode.ProtoTCP, TCPFlags: decode.TCPSyn, TTL: 60, DF: true, IPID: 7,
		Window: 8192, TCPOptions: []byte{2, 4, 5, 0xb4}, Seq: 1}
	tests := []struct {
		name  string
		mod   func(p *decode.Packet)
		label string
		fuzzy bool
		ok    bool
	}{
		{"exact specific", func(*decode.Packet) {}, "A", false, true},
		{"window only generic", func(p *decode.Packet) { p.Window = 1000 }, "B", false, true},
		{"ttl too far is fuzzy", func(p *decode.Packet) { p.TTL = 20 }, "A", true, true},
		{"ttl above ittl is fuzzy", func(p *decode.Packet) { p.TTL = 100 }, "A", true, true},
		{"id+ disappearing is fuzzy", func(p *decode.Packet) { p.IPID = 0 }, "A", true, true},
		{"ecn appearing is fuzzy", func(p *decode.Packet) { p.TCPFlags |= decode.TCPEce | decode.TCPCwr }, "A", true, true},
		{"df+id+ disappearing gives id- and stays fuzzy", func(p *decode.Packet) { p.DF = false; p.IPID = 0 }, "A", true, true},
		{"pushf appearing is no match", func(p *decode.Packet) { p.TCPFlags |= decode.TCPPsh }, "", false, false},
		{"layout differs", func(p *decode.Packet) { p.TCPOptions = []byte{2, 4, 5, 0xb4, 1} }, "", false, false},
		{"ack is not a request", func(p *decode.Packet) { p.TCPFlags |= decode.TCPAck }, "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := base
			tt.mod(&p)
			var s SYN
			if !FromPacket(&p, &s) {
				if tt.ok {
					t.Fatal("FromPacket rejected the packet")
				}
				return
			}
			m, ok := db.Match(&s)
			if ok != tt.ok {
				t.Fatalf("matched=%v (%+v), want %v", ok, m, tt.ok)
			}
			if ok && (m.Sig.Label.Name != tt.label || m.Fuzzy != tt.fuzzy) {
				t.Errorf("got %s fuzzy=%v, want %s fuzzy=%v", m.Sig.Label.Name, m.Fuzzy, tt.label, tt.fuzzy)
			}
		})
	}
}

func TestWindowForms(t *testing.T) {
	tests := []struct {
		win    string
		mss    uint16
		window uint16
		ok     bool
	}{
		{"mss*44", 1460, 64240, true},
		{"mss*44", 1400, 64240, false},
		{"mtu*4", 1460, 6000, true},
		{"%8192", 1460, 16384, true},
		{"%8192", 1460, 16385, false},
		{"*", 1, 7, true},
		{"512", 1460, 512, true},
	}
	for _, tt := range tests {
		db, err := Parse(strings.NewReader("[tcp:request]\nlabel = s:unix:W:x\nsig = 4:64:0:*:" + tt.win + ",0:mss::0\n"))
		if err != nil {
			t.Fatal(err)
		}
		p := decode.Packet{Proto: decode.ProtoTCP, TCPFlags: decode.TCPSyn, TTL: 64, IPID: 1, Seq: 1,
			Window: tt.window, TCPOptions: []byte{2, 4, byte(tt.mss >> 8), byte(tt.mss)}}
		var s SYN
		FromPacket(&p, &s)
		if _, ok := db.Match(&s); ok != tt.ok {
			t.Errorf("window %s vs mss %d win %d: match=%v, want %v", tt.win, tt.mss, tt.window, ok, tt.ok)
		}
	}
}

func TestOptionQuirks(t *testing.T) {
	tests := []struct {
		name string
		opts []byte
		want Quirks
	}{
		{"truncated mss", []byte{2, 4, 5}, QBad},
		{"zero length", []byte{3, 0}, QBad},
		{"huge scale", []byte{3, 3, 20}, QExWS},
		{"ts own zero, peer set", []byte{8, 10, 0, 0, 0, 0, 0, 0, 0, 1}, QTS1Minus | QTS2Plus},
		{"data after eol", []byte{0, 0, 7, 0}, QOptPlus},
		{"lone kind", []byte{2}, QBad},
	}
	for _, tt := range tests {
		p := decode.Packet{Proto: decode.ProtoTCP, TCPFlags: decode.TCPSyn, TTL: 64, IPID: 1, Seq: 1, TCPOptions: tt.opts}
		var s SYN
		FromPacket(&p, &s)
		if s.Quirks != tt.want {
			t.Errorf("%s: quirks %q, want %q", tt.name, s.Quirks, tt.want)
		}
	}
}

func BenchmarkMatch(b *testing.B) {
	db := mustDefault(b)
	p := pkttest.Darwin.SYN(1e9, netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("203.0.113.1"), [6]byte{}, false, 0, 50000, 443)
	b.ReportAllocs()
	var s SYN
	for b.Loop() {
		FromPacket(&p, &s)
		if _, ok := db.Match(&s); !ok {
			b.Fatal("no match")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "syns/s")
}
