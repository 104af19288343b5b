package mdns

import (
	"net/netip"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/miekg/dns"

	"github.com/launchtap/launchtap/internal/pkttest"
)

func TestParse(t *testing.T) {
	src := netip.MustParseAddr("10.20.1.15")
	tests := []struct {
		name      string
		msg       []byte
		want      Info
		wantKind  Kind
		wantError bool
	}{
		{"mac", pkttest.MDNSAnnounce("alices-mbp", src, "MacBookPro18,3", "23", true),
			Info{Model: "MacBookPro18,3", OSXVers: 23, CompanionLink: true, Hostname: "alices-mbp", Response: true, SelfAddr: true}, KindMac, false},
		{"iphone", pkttest.MDNSAnnounce("Alices-iPhone", src, "iPhone14,2", "", true),
			Info{Model: "iPhone14,2", CompanionLink: true, Hostname: "Alices-iPhone", Response: true, SelfAddr: true}, KindIOS, false},
		{"samba", pkttest.MDNSAnnounce("nas", src, "MacSamba", "", false),
			Info{Model: "MacSamba", Hostname: "nas", Response: true, SelfAddr: true}, KindSamba, false},
		{"sleep proxy answering for another host", pkttest.MDNSAnnounce("sleepy-mac", netip.MustParseAddr("10.0.0.99"), "Macmini9,1", "", false),
			Info{Model: "Macmini9,1", Response: true, OtherAddr: true}, KindMac, false},
		{"v6", pkttest.MDNSAnnounce("mini", netip.MustParseAddr("fe80::1"), "Mac14,3", "24", false),
			Info{Model: "Mac14,3", OSXVers: 24, Response: true, OtherAddr: true}, KindMac, false},
		{"garbage", []byte{1, 2, 3}, Info{}, KindUnknown, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var info Info
			err := Parse(tt.msg, src, &info)
			if (err != nil) != tt.wantError {
				t.Fatalf("err = %v", err)
			}
			if info != tt.want {
				t.Errorf("got %+v, want %+v", info, tt.want)
			}
			if k := ModelKind(info.Model); k != tt.wantKind {
				t.Errorf("kind %d, want %d", k, tt.wantKind)
			}
		})
	}
	q := new(dns.Msg)
	q.SetQuestion("_companion-link._tcp.local.", dns.TypePTR)
	b, _ := q.Pack()
	var info Info
	if err := Parse(b, src, &info); err != nil || info.Response || info.CompanionLink {
		t.Errorf("query parsed as %+v, %v", info, err)
	}
}

func TestModelKind(t *testing.T) {
	for m, want := range map[string]Kind{
		"MacBookPro18,3": KindMac, "MacBookAir10,1": KindMac, "Macmini9,1": KindMac, "iMac21,1": KindMac,
		"Mac14,2": KindMac, "MacPro7,1": KindMac, "VirtualMac2,1": KindMac, "iPhone15,3": KindIOS, "iPad13,4": KindIOS,
		"AppleTV14,1": KindAppleOth, "AudioAccessory5,1": KindAppleOth, "MacSamba": KindSamba, "Mac": KindUnknown,
		"Macintosh": KindUnknown, "RaspberryPi": KindUnknown,
	} {
		if got := ModelKind(m); got != want {
			t.Errorf("ModelKind(%q) = %d, want %d", m, got, want)
		}
	}
	for d, want := range map[int]string{19: "10.15", 20: "11", 23: "14", 24: "15", 25: "26", 2: ""} {
		if got := MacOSVersion(d); got != want {
			t.Errorf("MacOSVersion(%d) = %q, want %q", d, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(pkttest.MDNSAnnounce("alices-mbp", netip.MustParseAddr("10.20.1.15"), "MacBookPro18,3", "23", true))
	f.Add(pkttest.MDNSAnnounce("nas", netip.MustParseAddr("fe80::1"), "MacSamba", "", false))
	f.Add([]byte{0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0xc0, 0x0c})
	// mDNS from the committed demo capture (synth's Bonjour announcements).
	_, file, _, _ := runtime.Caller(0)
	if pkts, err := pkttest.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata", "demo.pcapng")); err == nil {
		n := 0
		for _, p := range pkts {
			if p.SrcPort == Port && p.DstPort == Port && n < 20 {
				f.Add(append([]byte(nil), p.Payload...))
				n++
			}
		}
	}
	src := netip.MustParseAddr("10.20.1.15")
	f.Fuzz(func(t *testing.T, b []byte) {
		var info Info
		if Parse(b, src, &info) == nil {
			ModelKind(info.Model)
			MacOSVersion(info.OSXVers)
		}
	})
}

// BenchmarkParse measures one Bonjour announcement of a Mac (device-info
// TXT, companion-link PTR/SRV, A record). mDNS chatter reaches host
// identification on every UDP 5353 packet a LAN-side tap sees.
func BenchmarkParse(b *testing.B) {
	src := netip.MustParseAddr("192.168.1.20")
	msg := pkttest.MDNSAnnounce("alices-mbp", src, "MacBookPro18,3", "23", true)
	var info Info
	b.ReportAllocs()
	for b.Loop() {
		if err := Parse(msg, src, &info); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
}
