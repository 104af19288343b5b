package pipeline

import (
	"bytes"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/launchtap/launchtap/sensor/decode"
	"github.com/launchtap/launchtap/sensor/netset"
)

// An office whose global IPv6 prefix no router advertisement on the span
// announces: a dual-stack Mac, known by its IPv4 address and MAC, beacons
// over IPv6 from a global address. By default its /64 is learned from the
// MAC and the beacon alerts once; with learning off it does not, and one
// warning line names the MAC, the prefix and the flag.
func TestMACLearnedPrefixBeacon(t *testing.T) {
	v4, v6, dst := addr("10.20.1.42"), addr("2001:db8:aa:7::15"), addr("2001:db8:ffff::10")
	hello := clientHello(t, "v6.vendor.example")
	w := &wire{t: t}
	w.tcp(at(-3), v4, addr("198.51.100.5"), 443, clientHello(t, "www.example.com"))
	for i := range 24 {
		w.tcp(at(float64(i)*5), v6, dst, 443, hello)
	}
	for _, workers := range []int{1, 3} {
		got, p := replayNames(t, w, workers, nil)
		if len(got) != 1 || got[0].SrcIP != v6.String() || got[0].DstFQDN != "v6.vendor.example" {
			t.Fatalf("%d workers: %s", workers, summarize(got))
		}
		l := p.LearnedPrefixes()
		if len(l) != 1 || l[0].Prefix.String() != "2001:db8:aa:7::/64" || l[0].Source != LearnedFromMAC || l[0].First != at(0).UnixNano() {
			t.Fatalf("%d workers: learned %+v", workers, l)
		}
		if st := p.Stats().Names; st.PrefixesLearned != 1 || st.PrefixesFromMACs != 1 || st.ExternalHostWarns != 0 {
			t.Fatalf("%d workers: learned %d, from MACs %d, warned %d", workers, st.PrefixesLearned, st.PrefixesFromMACs, st.ExternalHostWarns)
		}

		var log bytes.Buffer
		got, p = replayNames(t, w, workers, func(c *Config) {
			c.LearnInternal = false
			c.Log = slog.New(slog.NewTextHandler(&log, nil))
		})
		if len(got) != 0 {
			t.Fatalf("learning off, %d workers: %s", workers, summarize(got))
		}
		var warns []string
		for _, line := range strings.Split(log.String(), "\n") {
			if strings.Contains(line, "level=WARN") {
				warns = append(warns, line)
			}
		}
		if len(warns) != 1 {
			t.Fatalf("learning off, %d workers: %d warnings, want 1:\n%s", workers, len(warns), log.String())
		}
		for _, want := range []string{"mac=3c:22:fb:00:00:01", "prefix=2001:db8:aa:7::/64", "--learn-internal=true"} {
			if !strings.Contains(warns[0], want) {
				t.Errorf("learning off, %d workers: warning lacks %q: %s", workers, want, warns[0])
			}
		}
		if l := p.LearnedInternal(); len(l) != 0 || p.Stats().Names.ExternalHostWarns != 1 {
			t.Fatalf("learning off, %d workers: learned %v, warned %d", workers, l, p.Stats().Names.ExternalHostWarns)
		}
	}
}

// Only a MAC seen as an internal host's teaches a prefix: not one never seen
// with an internal address, not a router's (too many addresses, or a router
// advertisement's sender), and not from a frame a router forwarded.
func TestMACLearner(t *testing.T) {
	mac := [6]byte{0x3c, 0x22, 0xfb, 0, 0, 1}
	syn := func(src, dst string, mac [6]byte, ttl uint8) *decode.Packet {
		return &decode.Packet{Proto: decode.ProtoTCP, TCPFlags: decode.TCPSyn, HasMAC: true, SrcMAC: mac, TTL: ttl,
			Src: addr(src), Dst: addr(dst), TS: 1}
	}
	for _, tc := range []struct {
		name  string
		setup func(m *macLearner, cfg *Config)
		pkt   *decode.Packet
		learn bool
	}{
		{"internal host's MAC", func(m *macLearner, cfg *Config) {
			m.syn(cfg, syn("10.1.1.5", "198.51.100.1", mac, 64), true, new(synMemo))
		},
			syn("2001:db8:5:1::9", "2001:db8:ffff::1", mac, 64), true},
		{"unknown MAC", func(*macLearner, *Config) {},
			syn("2001:db8:5:1::9", "2001:db8:ffff::1", mac, 64), false},
		{"router by addresses", func(m *macLearner, cfg *Config) {
			for _, a := range []string{"10.1.1.5", "10.1.1.6", "10.1.1.7", "10.1.1.8", "10.1.1.9"} {
				m.syn(cfg, syn(a, "198.51.100.1", mac, 64), true, new(synMemo))
			}
		}, syn("2001:db8:5:1::9", "2001:db8:ffff::1", mac, 64), false},
		{"host re-addressed every hour", func(m *macLearner, cfg *Config) {
			for i, a := range []string{"10.1.1.5", "10.1.1.6", "10.1.1.7", "10.1.1.8", "10.1.1.9", "10.1.1.10"} {
				p := syn(a, "198.51.100.1", mac, 64)
				p.TS = int64(i) * int64(time.Hour)
				m.syn(cfg, p, true, new(synMemo))
			}
		}, func() *decode.Packet {
			p := syn("2001:db8:5:1::9", "2001:db8:ffff::1", mac, 64)
			p.TS = 6 * int64(time.Hour)
			return p
		}(), true},
		{"router advertisement sender", func(m *macLearner, cfg *Config) {
			m.syn(cfg, syn("10.1.1.5", "198.51.100.1", mac, 64), true, new(synMemo))
			m.router(mac)
		}, syn("2001:db8:5:1::9", "2001:db8:ffff::1", mac, 64), false},
		{"to an internal address", func(m *macLearner, cfg *Config) {
			m.syn(cfg, syn("10.1.1.5", "198.51.100.1", mac, 64), true, new(synMemo))
		},
			syn("2001:db8:5:1::9", "fd00::1", mac, 64), false},
		{"not global", func(m *macLearner, cfg *Config) {
			m.syn(cfg, syn("10.1.1.5", "198.51.100.1", mac, 64), true, new(synMemo))
		},
			syn("fe80::9", "2001:db8:ffff::1", mac, 64), false},
	} {
		cfg := &Config{Internal: netset.MustParse(netset.DefaultInternal), Log: slog.New(slog.DiscardHandler), learnedAt: &prefixTimes{at: map[netip.Prefix]int64{}}}
		m := newMACLearner(4, 30*time.Minute, cfg.Log)
		tc.setup(m, cfg)
		m.syn(cfg, tc.pkt, true, new(synMemo))
		l, _ := cfg.Internal.Learned()
		if learned := len(l) == 1 && l[0].String() == "2001:db8:5:1::/64"; learned != tc.learn || len(l) > 1 {
			t.Errorf("%s: learned %v, want learned %v", tc.name, l, tc.learn)
		}
	}
	if wantsSYN(&decode.Packet{Proto: decode.ProtoTCP, TCPFlags: decode.TCPSyn, HasMAC: true, SrcMAC: mac, TTL: 63}) {
		t.Error("a SYN a router forwarded (TTL 63) is read")
	}
	if wantsSYN(&decode.Packet{Proto: decode.ProtoTCP, TCPFlags: decode.TCPSyn | decode.TCPAck, HasMAC: true, SrcMAC: mac, TTL: 64}) {
		t.Error("a SYN-ACK is read")
	}
}
