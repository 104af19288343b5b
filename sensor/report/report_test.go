package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/launchtap/launchtap/enrich/inventory"
	"github.com/launchtap/launchtap/internal/chromiumtest"
	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/hostid"
	"github.com/launchtap/launchtap/sensor/state"
)

var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// office fills a state directory with days of a generated office: hosts
// Macs (a few Windows), each with Apple time and MDM check-ins approved,
// every tenth with an alerted beacon, one approved by label alone; the
// sensor down for six hours on day two and blind to DNS for one host.
func office(t testing.TB, dir string, hosts, days int) {
	t.Helper()
	s, err := state.Open(dir, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for d := 0; d < days; d++ {
		var cp state.Checkpoint
		for h := 0; h < 24; h++ {
			hour := t0.Add(time.Duration(d*24+h) * time.Hour)
			if d == 1 && h >= 10 && h < 16 {
				continue // the sensor was down
			}
			cp.Hours = append(cp.Hours, state.Hour{Start: hour.Unix(), Packets: uint64(50000 + 1000*h), Sessions: uint64(40 * hosts),
				OneSided: 12, NamedDNS: uint64(38 * hosts), Unnamed: uint64(2 * hosts), DNSQueries: uint64(60 * hosts), Drops: uint64(h / 23 * 17)})
			for i := 0; i < hosts; i++ {
				named := uint64(38)
				if i == 7 {
					named = 2 // DoH
				}
				cp.HostHours = append(cp.HostHours, state.HostHour{IP: ip(i), Start: hour.Unix(), Sessions: 40, Named: named})
			}
			cp.Clock = hour.Add(59 * time.Minute).UnixNano()
		}
		if hosts > 0 {
			// Host 7 resolves over DoH all day: the reason its sessions go
			// unnamed (in an office too small for it, the last host, whose
			// sessions the SNI names). From the third day on it also tries
			// Google's.
			doh := state.DoHHost{IP: netip.MustParseAddr(ip(min(7, hosts-1))), Providers: []string{"Cloudflare"}, Sessions: 96,
				First: t0.Add(time.Duration(d*24) * time.Hour).UnixNano(), Last: t0.Add(time.Duration(d*24+23) * time.Hour).UnixNano()}
			if d >= 2 {
				doh.Providers = append(doh.Providers, "Google")
			}
			cp.DoHHosts = []state.DoHHost{doh}
		}
		for i := 0; i < hosts; i++ {
			os := "macos"
			if i%9 == 8 {
				os = "windows"
			}
			cp.Hosts = append(cp.Hosts, hostRow(i, os))
		}
		if _, err := s.Checkpoint(ctx, &cp); err != nil {
			t.Fatal(err)
		}
	}
	end := t0.Add(time.Duration(days*24) * time.Hour)
	for i := 0; i < hosts; i++ {
		s.Record(finding(i, "time.apple.com", 123, 1024, end), string(state.ApprovedDestination), "time.apple.com", "")
		s.Record(finding(i, "acme.jamfcloud.com", 443, 900, end), string(state.ApprovedDestination), "*.jamfcloud.com", "")
		if i%10 == 3 {
			a := finding(i, fmt.Sprintf("cdn%d.example.net", i), 443, 300, end)
			a.Reasons = []string{"connects every 5 min (32 beats over 2.6 h)", "timing is machine-exact"}
			a.Enrichment = &alert.Enrichment{Status: alert.EnrichMatched, Jobs: []alert.Job{{Label: "com.example.updater", Program: "/Users/alice/updater"}}}
			s.Record(a, string(state.Alerted), "", "com.example.updater")
		}
	}
	s.Record(finding(5, "sync.vendor.example", 443, 3600, end), string(state.ApprovedLabel), "com.vendor.*", "com.vendor.sync")
	// The office's IPv6 prefix was learned from a router advertisement on
	// the first morning.
	if _, err := s.Checkpoint(ctx, &state.Checkpoint{Clock: end.UnixNano(), Internal: []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16")},
		Learned: []state.LearnedNetwork{{Prefix: netip.MustParsePrefix("2001:db8:20::/64"), First: t0.Add(7 * time.Hour).UnixNano()}}}); err != nil {
		t.Fatal(err)
	}
}

func ip(i int) string { return fmt.Sprintf("10.20.%d.%d", 1+i/200, 10+i%200) }

func hostRow(i int, os string) hostid.Host {
	return hostid.Host{IP: ip(i), MAC: fmt.Sprintf("3c:22:fb:00:%02x:%02x", i>>8, i&0xff), OS: hostid.Platform(os), Confidence: 0.99,
		Hostname: fmt.Sprintf("mac-%02d", i), FirstSeen: t0, LastSeen: t0.Add(time.Hour)}
}

func finding(i int, dest string, port uint16, period float64, end time.Time) *alert.Alert {
	var beats []time.Time
	for j := 0; j < 32; j++ {
		beats = append(beats, end.Add(-time.Duration(float64(32-j)*period*float64(time.Second))+time.Duration(j%3)*time.Second))
	}
	return &alert.Alert{ID: fmt.Sprintf("%x-%s", i, dest), TS: end, SrcIP: ip(i), Hostname: fmt.Sprintf("mac-%02d", i), DstFQDN: dest,
		DstPort: port, Proto: "tcp", Kind: "session", PeriodS: period, Beats: 32, Severity: "high", Score: 0.9,
		FirstSeen: beats[0], LastSeen: beats[len(beats)-1], BeatTimes: beats}
}

func inventoryOf(hosts int) []*inventory.Host {
	var inv []*inventory.Host
	for i := 0; i < hosts+2; i++ { // two Macs the span never sees
		inv = append(inv, &inventory.Host{Serial: fmt.Sprintf("C02X%04d", i), Hostname: fmt.Sprintf("mac-%02d", i), Platform: "macos",
			IPs: []netip.Addr{netip.MustParseAddr(ip(i))}})
	}
	return inv
}

func build(t testing.TB, dir string, hosts int) *Report {
	t.Helper()
	s, err := state.Open(dir, state.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ev, err := s.Evidence(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return Build(ev, Options{Inventory: inventoryOf(hosts), DestRules: []string{"*.jamfcloud.com", "legacy-av.example.com", "time.apple.com"},
		LabelRules: []string{"com.vendor.*"}, Builtin: map[string]bool{"time.apple.com": true}})
}

func TestBuildOffice(t *testing.T) {
	dir := t.TempDir()
	office(t, dir, 50, 7)
	r := build(t, dir, 50)
	c := &r.Coverage
	if len(c.Gaps) != 1 || c.Gaps[0].Hours() != 6 {
		t.Errorf("gaps %+v, want the 6 hours the sensor was down", c.Gaps)
	}
	if c.WindowHours != 7*24 || c.ObservedHours != 7*24-6 {
		t.Errorf("observed %d of %d hours, want %d of %d", c.ObservedHours, c.WindowHours, 7*24-6, 7*24)
	}
	if len(c.DNSBlind) != 1 || c.DNSBlind[0].IP != ip(7) || strings.Join(c.DNSBlind[0].EncryptedDNS, ",") != "Cloudflare,Google" {
		t.Errorf("DNS-blind hosts %+v, want %s alone, on encrypted DNS", c.DNSBlind, ip(7))
	}
	if e := c.EncryptedDNS; len(e) != 1 || e[0].IP != ip(7) || e[0].Hostname != "mac-07" || e[0].Sessions != 7*96 ||
		strings.Join(e[0].Providers, ",") != "Cloudflare,Google" || !e[0].First.Equal(t0) || !e[0].Last.Equal(t0.Add(6*24*time.Hour+23*time.Hour)) {
		t.Errorf("encrypted-DNS hosts %+v, want %s on Cloudflare and Google, 7 days of sessions", e, ip(7))
	}
	if c.MacsInventory != 52 || len(c.InventoryNotSeen) != 2 {
		t.Errorf("inventory Macs %d, not seen %+v; want 52 and the 2 the span never saw", c.MacsInventory, c.InventoryNotSeen)
	}
	for _, h := range c.Hosts {
		// The longest unbroken stretch is the 5 days after the outage.
		if h.ContinuousHours != 5*24+8 || h.LongestPeriodS != 86400 {
			t.Fatalf("host %s: unbroken %v h, longest period %v s; want 128 h and the detector's 24 h", h.IP, h.ContinuousHours, h.LongestPeriodS)
		}
	}
	if len(r.Alerts) != 5 || len(r.Periodic) != 5+2*50+1 {
		t.Errorf("%d alerts, %d communicators; want 5 and 106", len(r.Alerts), len(r.Periodic))
	}
	if a := r.Alerts[0]; len(a.Intervals) != 31 || a.Job != "com.example.updater" {
		t.Errorf("alert %+v: want 31 intervals and its launchd job", a)
	}
	if p := r.Periodic[len(r.Periodic)-1]; !p.Approved || p.Rule == "" {
		t.Errorf("approved communicators must come last, with their rule: %+v", p)
	}
	h := r.Hygiene
	if len(h.UnusedRules) != 1 || h.UnusedRules[0] != "legacy-av.example.com" || len(h.LabelApprovals) != 1 {
		t.Errorf("hygiene %+v: want legacy-av.example.com unused and one label-only approval", h)
	}
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"coverage", "periodic_communicators", "alerts", "baseline_hygiene"} {
		if back[k] == nil {
			t.Errorf("JSON lacks %q", k)
		}
	}
}

// TestHTMLInChromium loads the page in headless Chromium: it must load with
// no console error (the page's Content-Security-Policy turns any fetch or
// script into one) and the screenshot is kept for a person to look at.
func TestHTMLInChromium(t *testing.T) {
	dir := t.TempDir()
	office(t, dir, 50, 7)
	r := build(t, dir, 50)
	page := filepath.Join(dir, "report.html")
	var buf bytes.Buffer
	if err := r.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	chromiumtest.SelfContained(t, buf.String())
	if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	chromiumtest.Load(t, page, "report.png")
}

// BenchmarkReport builds the report over 7 days of a 60-host office: read
// the evidence, build, write HTML and JSON.
func BenchmarkReport(b *testing.B) {
	dir := b.TempDir()
	office(b, dir, 60, 7)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := build(b, dir, 60)
		if err := r.WriteHTML(io.Discard); err != nil {
			b.Fatal(err)
		}
		if err := r.WriteJSON(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
