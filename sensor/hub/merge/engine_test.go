package merge

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/gopacket/gopacket"

	"github.com/launchtap/launchtap/internal/synth"
	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/beacon"
	"github.com/launchtap/launchtap/sensor/host"
)

func newEngine(t testing.TB, cfg Config) (*Engine, *[]*alert.Alert) {
	t.Helper()
	var got []*alert.Alert
	e, err := New(cfg, func(a *alert.Alert) { got = append(got, a) })
	if err != nil {
		t.Fatal(err)
	}
	return e, &got
}

func mustMAC(t testing.TB, s string) [6]byte {
	t.Helper()
	m, ok := parseMAC(s)
	if !ok {
		t.Fatalf("bad MAC %q", s)
	}
	return m
}

// roamingBeats are the roaming Mac's beats as office's sensor saw them,
// from the scenario's ground truth.
func roamingBeats(t *testing.T, office int) []Beat {
	t.Helper()
	labels, err := synth.Generate(synth.RoamingOffices[office], 1, discard{})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(labels, func(l synth.Label) bool { return l.DstFQDN == synth.RoamingFQDN })
	mac := mustMAC(t, synth.RoamingMAC)
	var out []Beat
	for n, bt := range labels[i].BeatTimes {
		stint := office + 2*(n/2) // two beats a stint
		out = append(out, Beat{Sensor: fmt.Sprintf("office-%c", 'a'+office), HostID: synth.RoamingMAC, MAC: mac,
			SrcIP: netip.MustParseAddr(synth.RoamingIP(stint)), Dest: synth.RoamingFQDN, DestIP: netip.MustParseAddr("198.51.100.77"),
			Port: 443, Proto: 6, Kind: beacon.KindSession, TS: bt.UnixNano(), BytesOut: 1200, BytesIn: 2600})
	}
	return out
}

type discard struct{}

func (discard) WritePacket(gopacket.CaptureInfo, []byte) error { return nil }

func roamerHost(sensor string, ts int64, mac [6]byte) *Host {
	return &Host{Sensor: sensor, HostID: synth.RoamingMAC, Hostname: synth.RoamingHostname, MACs: [][6]byte{mac},
		OS: "macos", Confidence: 0.9, TS: ts}
}

// TestRoamingMac is the case on the engine: each office's beats
// alone alert nothing; merged by MAC, in whichever order the sensors'
// beats arrive, exactly one alert, naming both sensors.
func TestRoamingMac(t *testing.T) {
	a, b := roamingBeats(t, 0), roamingBeats(t, 1)
	mac := mustMAC(t, synth.RoamingMAC)
	for _, tc := range []struct {
		name   string
		beats  [][]Beat
		alerts int
	}{
		{"office A alone", [][]Beat{a}, 0},
		{"office B alone", [][]Beat{b}, 0},
		{"A then B", [][]Beat{a, b}, 1},
		{"B then A", [][]Beat{b, a}, 1},
		{"interleaved", [][]Beat{interleave(a, b)}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, got := newEngine(t, Config{Name: "hub"})
			for _, s := range []string{"office-a", "office-b"} {
				if err := e.Host(7, roamerHost(s, a[0].TS, mac)); err != nil {
					t.Fatal(err)
				}
			}
			for _, bs := range tc.beats {
				for i := range bs {
					if err := e.Beat(7, &bs[i]); err != nil {
						t.Fatal(err)
					}
				}
			}
			if len(*got) != tc.alerts {
				t.Fatalf("%d alerts, want %d", len(*got), tc.alerts)
			}
			if tc.alerts == 0 {
				return
			}
			al := (*got)[0]
			if !slices.Equal(al.Sensors, []string{"office-a", "office-b"}) {
				t.Errorf("sensors %v, want both offices", al.Sensors)
			}
			if al.SrcMAC != synth.RoamingMAC || al.DstFQDN != synth.RoamingFQDN || al.HostOS != "macos" || al.Hostname != synth.RoamingHostname {
				t.Errorf("alert %s %s %s %s", al.SrcMAC, al.DstFQDN, al.HostOS, al.Hostname)
			}
			if al.PeriodS < 7190 || al.PeriodS > 7210 {
				t.Errorf("period %v, want 7200", al.PeriodS)
			}
			if al.Prevalence == nil || al.Prevalence.Hosts != 1 || al.Prevalence.FleetHosts != 1 {
				t.Errorf("prevalence %+v, want 1 of 1", al.Prevalence)
			}
			c, _ := e.Stats()
			if e.HostCount() != 1 || c.Merges != 0 {
				t.Errorf("%d hosts (%d merges), want 1 host: the MAC names it everywhere", e.HostCount(), c.Merges)
			}
		})
	}
}

func interleave(a, b []Beat) []Beat {
	var out []Beat
	for i := 0; i < max(len(a), len(b)); i++ {
		if i < len(b) {
			out = append(out, b[i])
		}
		if i < len(a) {
			out = append(out, a[i])
		}
	}
	return out
}

// TestMergeBySerial: a docked laptop is two MACs (Wi-Fi at one office, the
// dock's Ethernet at another); the inventory serial both sensors report
// merges them, and their beats, into one host.
func TestMergeBySerial(t *testing.T) {
	e, got := newEngine(t, Config{Name: "hub"})
	wifi, dock := mustMAC(t, "3c:22:fb:00:00:01"), mustMAC(t, "00:e0:4c:68:00:02")
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC).UnixNano()
	const period = int64(30 * time.Minute)
	beat := func(sensor string, mac [6]byte, ip string, i int) {
		b := Beat{Sensor: sensor, HostID: host.MACString(mac), MAC: mac, SrcIP: netip.MustParseAddr(ip), Dest: "c2.example", Port: 443, Proto: 6, TS: t0 + int64(i)*period}
		if err := e.Beat(3, &b); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		beat("office-a", wifi, "10.20.7.50", i)
	}
	for i := 3; i < 5; i++ {
		beat("office-b", dock, "10.30.9.31", i)
	}
	if len(*got) != 0 || e.HostCount() != 2 {
		t.Fatalf("%d alerts, %d hosts before the serial is known; want 0 and 2", len(*got), e.HostCount())
	}
	for _, h := range []*Host{
		{Sensor: "office-a", HostID: host.MACString(wifi), MACs: [][6]byte{wifi}, Serial: "C02XK1ZZJG5H", OS: "macos", Confidence: 0.9, TS: t0},
		{Sensor: "office-b", HostID: host.MACString(dock), MACs: [][6]byte{dock}, Serial: "c02xk1zzjg5h", OS: "macos", Confidence: 0.8, TS: t0},
	} {
		if err := e.Host(3, h); err != nil {
			t.Fatal(err)
		}
	}
	if c, _ := e.Stats(); e.HostCount() != 1 || c.Merges != 1 {
		t.Fatalf("%d hosts, %d merges; want 1 and 1", e.HostCount(), c.Merges)
	}
	beat("office-b", dock, "10.30.9.31", 5)
	if len(*got) != 1 {
		t.Fatalf("%d alerts after the merge, want 1", len(*got))
	}
	al := (*got)[0]
	if al.Beats != 6 || al.SrcMAC != "3c:22:fb:00:00:01" || !slices.Equal(al.Sensors, []string{"office-a", "office-b"}) {
		t.Errorf("alert: %d beats, src_mac %s, sensors %v", al.Beats, al.SrcMAC, al.Sensors)
	}
}

// TestHostnameMerge: a hostname merges only when asked and only when it is
// not a name many machines share.
func TestHostnameMerge(t *testing.T) {
	for _, tc := range []struct {
		name   string
		merge  bool
		host   string
		merged bool
	}{
		{"owner's name", true, "Janes-MacBook-Pro.local", true},
		{"default name", true, "MacBook-Pro", false},
		{"default name numbered", true, "MacBook-Pro (2)", false},
		{"off", false, "Janes-MacBook-Pro.local", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := newEngine(t, Config{MergeHostnames: tc.merge})
			for i, mac := range []string{"3c:22:fb:00:00:01", "3c:22:fb:00:00:02"} {
				m := mustMAC(t, mac)
				if err := e.Host(0, &Host{Sensor: fmt.Sprint("s", i), HostID: mac, MACs: [][6]byte{m}, Hostname: tc.host, TS: 1}); err != nil {
					t.Fatal(err)
				}
			}
			if got := e.HostCount() == 1; got != tc.merged {
				t.Fatalf("merged %v, want %v", got, tc.merged)
			}
		})
	}
}

// TestAddressHostsAreLocal: a host a sensor keys by address (no MAC on its
// span) is that sensor's alone: the same address at another office is
// another machine.
func TestAddressHostsAreLocal(t *testing.T) {
	e, _ := newEngine(t, Config{})
	for _, s := range []string{"office-a", "office-b"} {
		b := Beat{Sensor: s, HostID: "10.20.7.50", SrcIP: netip.MustParseAddr("10.20.7.50"), Dest: "x.example", Port: 443, Proto: 6, TS: 1}
		if err := e.Beat(0, &b); err != nil {
			t.Fatal(err)
		}
	}
	if e.HostCount() != 2 {
		t.Fatalf("%d hosts, want 2", e.HostCount())
	}
}

func TestMalformed(t *testing.T) {
	e, _ := newEngine(t, Config{})
	for _, tc := range []struct {
		b    Beat
		want error
	}{
		{Beat{Sensor: "s", HostID: "h", Dest: "x", TS: 0}, ErrNoTime},
		{Beat{Sensor: "s", HostID: "h", TS: 1}, ErrNoDest},
		{Beat{Sensor: "s", Dest: "x", TS: 1}, ErrNoHost},
	} {
		if err := e.Beat(0, &tc.b); !errors.Is(err, tc.want) {
			t.Errorf("%+v: %v, want %v", tc.b, err, tc.want)
		}
	}
	if err := e.Host(0, &Host{Sensor: "s", TS: 1}); !errors.Is(err, ErrNoHost) {
		t.Errorf("empty host: %v", err)
	}
	if c, _ := e.Stats(); c.Malformed != 4 || c.Beats != 0 {
		t.Errorf("malformed %d beats %d, want 4 and 0", c.Malformed, c.Beats)
	}
}

// TestHostsBounded: beyond MaxHosts the least recently active host is
// forgotten with its identities, and counted.
func TestHostsBounded(t *testing.T) {
	e, _ := newEngine(t, Config{MaxHosts: 10})
	for i := 0; i < 25; i++ {
		mac := [6]byte{2, 0, 0, 0, 0, byte(i)}
		b := Beat{Sensor: "s", HostID: host.MACString(mac), MAC: mac, Dest: "x.example", Port: 443, Proto: 6, TS: int64(i + 1)}
		if err := e.Beat(0, &b); err != nil {
			t.Fatal(err)
		}
	}
	c, _ := e.Stats()
	if e.HostCount() != 10 || c.HostEvictions != 15 || len(e.idx) != 10 {
		t.Fatalf("%d hosts, %d evictions, %d identities; want 10, 15, 10", e.HostCount(), c.HostEvictions, len(e.idx))
	}
}

func TestParseMAC(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"3c:22:fb:16:00:01", true}, {"3C-22-FB-16-00-01", true}, {"10.20.7.50", false}, {"3c:22:fb:16:00:0g", false}, {"3c:22:fb:16:00:01:", false},
	} {
		m, ok := parseMAC(tc.in)
		if ok != tc.ok {
			t.Errorf("%q: ok %v", tc.in, ok)
		}
		if ok && host.MACString(m) != "3c:22:fb:16:00:01" {
			t.Errorf("%q: %s", tc.in, host.MACString(m))
		}
	}
}
