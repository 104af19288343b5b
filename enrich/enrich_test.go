package enrich

import (
	"context"
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/launchtap/launchtap/enrich/inventory"
	"github.com/launchtap/launchtap/internal/fleettest"
	"github.com/launchtap/launchtap/internal/jamftest"
	"github.com/launchtap/launchtap/internal/kandjitest"
	"github.com/launchtap/launchtap/sensor/alert"
)

func repoRoot() string {
	_, f, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(f), "..")
}

var demoStart = time.Date(2026, 3, 2, 8, 1, 30, 0, time.UTC) // sensor/synth epoch + first beat

// demoAlert looks like the alert the detector raises for the planted beacon.
func demoAlert() *alert.Alert {
	a := &alert.Alert{
		TS: demoStart.Add(25 * 300 * time.Second), SrcIP: "10.20.1.15", SrcMAC: "3c:22:fb:1a:2b:3c",
		DstFQDN: "cdn.example.net", DstIPs: []string{"203.0.113.10", "203.0.113.11", "203.0.113.12"}, DstPort: 443, Proto: "tcp",
		PeriodS: 300.2, Jitter: 0.0028, Beats: 26, FirstSeen: demoStart, HostOS: "macos", Hostname: "alices-mbp",
	}
	for i := range 26 {
		a.BeatTimes = append(a.BeatTimes, demoStart.Add(time.Duration(i)*300*time.Second+time.Duration(i%3-1)*time.Second))
	}
	a.LastSeen = a.BeatTimes[len(a.BeatTimes)-1]
	return a
}

func TestBundledInventoryDemo(t *testing.T) {
	s, err := New(Config{Inventory: filepath.Join(repoRoot(), "testdata", "inventory.json")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a := demoAlert()
	s.Enrich(context.Background(), a)
	e := a.Enrichment
	if e == nil || e.Status != alert.EnrichMatched || e.Provider != "file" {
		t.Fatalf("enrichment %+v", e)
	}
	if e.Device == nil || *e.Device != (alert.Device{Serial: "C02XK1Y2JG5H", Hostname: "alices-mbp", OSVersion: "14.5", User: "alice", Platform: "macos"}) {
		t.Fatalf("device %+v", e.Device)
	}
	best := e.Jobs[0]
	if best.Label != "com.example.updater" || best.StartInterval != 300 || best.Approved || best.MatchScore < 0.7 {
		t.Fatalf("best job %+v", best)
	}
	why := strings.Join(best.Why, "|")
	for _, w := range []string{"StartInterval 300 s", "cdn.example.net", "~/Library/LaunchAgents", ".updater"} {
		if !strings.Contains(why, w) {
			t.Errorf("why %q lacks %q", why, w)
		}
	}
	if len(e.Jobs) > 1 && e.Jobs[1].MatchScore > best.MatchScore/2 {
		t.Errorf("runner-up %s too close: %.3f vs %.3f", e.Jobs[1].Label, e.Jobs[1].MatchScore, best.MatchScore)
	}
	// The alert JSON carries it.
	b, _ := json.Marshal(a)
	if !strings.Contains(string(b), `"enrichment":{"status":"matched","provider":"file"`) {
		t.Errorf("json: %s", b)
	}
	if p, ok := s.Platform(netip.MustParseAddr("10.20.2.40"), [6]byte{}); !ok || p != "windows" {
		t.Errorf("Platform(win-desk-07) = %q %v", p, ok)
	}
	if p, ok := s.Platform(netip.Addr{}, [6]byte{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}); !ok || p != "linux" {
		t.Errorf("Platform(by MAC) = %q %v", p, ok)
	}
	if _, ok := s.Platform(netip.MustParseAddr("10.9.9.9"), [6]byte{}); ok {
		t.Error("unknown host has a platform")
	}
}

// TestBobsJamfCheckin: enrichment names the Jamf check-in job as the
// explanation and leaves its approval to the alert stage.
func TestBobsJamfCheckin(t *testing.T) {
	s, err := New(Config{Inventory: filepath.Join(repoRoot(), "testdata", "inventory.json")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a := &alert.Alert{SrcIP: "10.20.1.22", DstFQDN: "acme.jamfcloud.com", PeriodS: 900, Jitter: 0.12, Beats: 10, FirstSeen: demoStart}
	s.Enrich(context.Background(), a)
	e := a.Enrichment
	if e.Status != alert.EnrichMatched || e.Jobs[0].Label != "com.jamfsoftware.task.1" {
		t.Fatalf("%+v", e)
	}
	for _, j := range e.Jobs {
		if j.Approved {
			t.Errorf("enrichment approved %s: approval is the alert stage's judgement", j.Label)
		}
	}
}

func TestStatuses(t *testing.T) {
	s, err := New(Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := demoAlert()
	s.Enrich(context.Background(), a)
	if a.Enrichment.Status != alert.EnrichNotConfigured {
		t.Fatalf("%+v", a.Enrichment)
	}
	s.Close()

	s, err = New(Config{Inventory: filepath.Join(repoRoot(), "testdata", "inventory.json")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range []struct {
		a    alert.Alert
		want string
	}{
		{alert.Alert{SrcIP: "10.20.1.99", DstFQDN: "x.example", PeriodS: 300}, alert.EnrichHostNotFound},
		{alert.Alert{SrcIP: "10.20.2.40", DstFQDN: "telemetry.example.org", PeriodS: 120}, alert.EnrichNoMatch},
		{alert.Alert{SrcIP: "10.20.1.15", DstFQDN: "cdn.other.example", PeriodS: 420, Jitter: 0.01}, alert.EnrichNoMatch},
		{alert.Alert{SrcIP: "not-an-ip"}, alert.EnrichHostNotFound},
	} {
		a := c.a
		s.Enrich(context.Background(), &a)
		if a.Enrichment.Status != c.want {
			t.Errorf("%s → %+v, want %s", a.SrcIP, a.Enrichment, c.want)
		}
	}
}

func TestInventoryMustBeValid(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(p, []byte(`{"devices":[{"hostname":"h","platform":"darwin","launchd":[{"label":"x","startInterval":300}]}]}`), 0o600)
	_, err := New(Config{Inventory: p}, nil)
	if err == nil || !strings.Contains(err.Error(), `did you mean "start_interval"`) {
		t.Fatalf("%v", err)
	}
}

func fleetJobs() []inventory.Job {
	return []inventory.Job{{
		Label: "com.example.updater", Path: "/Users/alice/Library/LaunchAgents/com.example.updater.plist",
		Program:          "/Users/alice/Library/Application Support/.updater/updater",
		ProgramArguments: []string{"/Users/alice/Library/Application Support/.updater/updater", "--server", "cdn.example.net"},
		RunAtLoad:        true, StartInterval: 300,
	}}
}

func TestFleetCacheOfflineAndTimeout(t *testing.T) {
	srv := fleettest.New("s3cret", fleettest.Host{ID: 8, Hostname: "alices-mbp", Serial: "C02XK1Y2JG5H", IP: "10.20.1.15", Platform: "darwin", OS: "macOS 14.5", Jobs: fleetJobs()},
		fleettest.Host{ID: 11, Hostname: "slow-mac", IP: "10.20.1.41", Platform: "darwin", OS: "macOS 14.5", Slow: true})
	defer srv.Close()
	srv.SlowDelay = 1500 * time.Millisecond
	t.Setenv(EnvFleetToken, "s3cret")
	s, err := New(Config{FleetURL: srv.URL, Timeout: 500 * time.Millisecond, CacheTTL: 50 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()

	a := demoAlert()
	s.Enrich(ctx, a)
	if a.Enrichment.Status != alert.EnrichMatched || a.Enrichment.Provider != "fleet" || a.Enrichment.CacheAgeS != 0 || a.Enrichment.Jobs[0].Label != "com.example.updater" {
		t.Fatalf("%+v", a.Enrichment)
	}
	// Cached: no new live query.
	n := srv.LiveQueries.Load()
	a = demoAlert()
	s.Enrich(ctx, a)
	if srv.LiveQueries.Load() != n || s.Stats().CacheHits != 1 {
		t.Fatalf("not served from cache: %d live queries, stats %+v", srv.LiveQueries.Load(), s.Stats())
	}
	// Host goes offline, fresh cache expires: the last answer is used, with its age.
	srv.SetOffline(8, true)
	time.Sleep(1100 * time.Millisecond)
	a = demoAlert()
	s.Enrich(ctx, a)
	e := a.Enrichment
	if e.Status != alert.EnrichMatched || e.CacheAgeS < 1 || !strings.Contains(e.Error, "offline") {
		t.Fatalf("offline: %+v", e)
	}
	// A slow host: the alert leaves at the timeout as unavailable.
	start := time.Now()
	a = &alert.Alert{SrcIP: "10.20.1.41", PeriodS: 300}
	s.Enrich(ctx, a)
	if d := time.Since(start); d > 800*time.Millisecond || a.Enrichment.Status != alert.EnrichUnavailable {
		t.Fatalf("slow host: %v after %v", a.Enrichment, d)
	}
	if st := s.Stats(); st.Timeouts != 1 || st.StaleHits != 1 || len(st.Providers) != 1 || st.Providers[0].Breaker != "closed" {
		t.Errorf("stats %+v", st)
	}
}

func TestConcurrentAlertsShareOneLookup(t *testing.T) {
	srv := fleettest.New("s3cret", fleettest.Host{ID: 8, Hostname: "alices-mbp", IP: "10.20.1.15", Platform: "darwin", Jobs: fleetJobs()})
	defer srv.Close()
	t.Setenv(EnvFleetToken, "s3cret")
	s, err := New(Config{FleetURL: srv.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := demoAlert()
			s.Enrich(context.Background(), a)
			if a.Enrichment.Status != alert.EnrichMatched {
				t.Errorf("%+v", a.Enrichment)
			}
		}()
	}
	wg.Wait()
	if srv.Searches.Load() != 1 {
		t.Errorf("%d host searches for 20 concurrent alerts", srv.Searches.Load())
	}
}

func TestSecrets(t *testing.T) {
	t.Setenv(EnvFleetToken, "")
	if _, err := New(Config{FleetURL: "https://fleet.example.com"}, nil); err == nil || !strings.Contains(err.Error(), EnvFleetToken) {
		t.Fatalf("missing token: %v", err)
	}
	f := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(f, []byte("filetoken\n"), 0o600)
	tok, err := readSecret("t", f, EnvFleetToken, discard())
	if err != nil || string(tok) != "filetoken" {
		t.Fatalf("%q %v", tok, err)
	}
	var sb strings.Builder
	log := slogTo(&sb)
	log.Info("x", "tok", tok)
	if strings.Contains(sb.String(), "filetoken") || !strings.Contains(sb.String(), "[redacted]") {
		t.Errorf("secret logged: %s", sb.String())
	}
}

func TestRegisterFlags(t *testing.T) {
	var c Config
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	c.RegisterFlags(fs)
	err := fs.Parse([]string{"--inventory", "i.json", "--fleet-url", "https://f", "--jamf-url", "https://j", "--enrich-timeout", "5s", "--enrich-concurrency", "3", "--mdm-ca-file", "ca.pem", "--fleet-token-file", "t", "--jamf-client-id-file", "i", "--jamf-client-secret-file", "s"})
	if err != nil || c.Inventory != "i.json" || c.Timeout != 5*time.Second || c.Concurrency != 3 || c.CAFile != "ca.pem" || c.JamfClientSecretFile != "s" {
		t.Fatalf("%v %+v", err, c)
	}
	for _, name := range []string{"fleet-token", "jamf-client-secret", "jamf-client-id"} {
		if fs.Lookup(name) != nil {
			t.Errorf("secret flag --%s exists", name)
		}
	}
}

func TestJamfThroughService(t *testing.T) {
	ea := jamftest.EAValue(jamftest.EAJob{
		Path: "/Users/alice/Library/LaunchAgents/com.example.updater.plist", Owner: "alice", MTime: demoStart.Add(-40 * time.Hour).Unix(),
		Plist: map[string]any{"Label": "com.example.updater", "Program": "/Users/alice/Library/Application Support/.updater/updater",
			"ProgramArguments": []string{"/Users/alice/Library/Application Support/.updater/updater", "--server", "cdn.example.net"},
			"RunAtLoad":        true, "StartInterval": 300},
	})
	srv := jamftest.New("cid", "csecret",
		jamftest.Computer{ID: 8, Name: "alices-mbp", Serial: "C02XK1Y2JG5H", MAC: "3C:22:FB:1A:2B:3C", LastReportedIP: "10.20.1.15", OSVersion: "14.5", Username: "alice", LastContact: demoStart, EAs: map[string]string{DefaultJamfEAName: ea}},
		jamftest.Computer{ID: 9, Name: "bobs-mbp", Serial: "C02ZZ9Y8JG5H", LastReportedIP: "10.20.1.22", OSVersion: "14.4", LastContact: demoStart})
	defer srv.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "id"), []byte("cid\n"), 0o600)
	t.Setenv(EnvJamfClientSecret, "csecret")
	s, err := New(Config{JamfURL: srv.URL, JamfClientIDFile: filepath.Join(dir, "id")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a := demoAlert()
	s.Enrich(context.Background(), a)
	e := a.Enrichment
	if e.Status != alert.EnrichMatched || e.Provider != "jamf" || e.Device.Serial != "C02XK1Y2JG5H" || e.Jobs[0].Label != "com.example.updater" {
		t.Fatalf("%+v", e)
	}
	a = &alert.Alert{SrcIP: "10.20.1.22", DstFQDN: "x.example", PeriodS: 600}
	s.Enrich(context.Background(), a)
	e = a.Enrichment
	if e.Status != alert.EnrichUnavailable || e.Device == nil || e.Device.Hostname != "bobs-mbp" || !strings.Contains(e.Error, "launchd-jobs-ea.sh") {
		t.Fatalf("%+v", e)
	}
}

func TestKandjiThroughService(t *testing.T) {
	srv := kandjitest.New("ktok", kandjitest.Device{ID: "d6ac2d8c", Name: "alices-mbp", Serial: "C02XK1Y2JG5H", MAC: "3c:22:fb:1a:2b:3c", Platform: "Mac", OS: "14.5", Jobs: fleetJobs()})
	defer srv.Close()
	t.Setenv(EnvKandjiToken, "ktok")
	s, err := New(Config{KandjiURL: srv.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a := demoAlert()
	s.Enrich(context.Background(), a)
	if e := a.Enrichment; e.Status != alert.EnrichMatched || e.Provider != "kandji" || e.Jobs[0].Label != "com.example.updater" {
		t.Fatalf("%+v", e)
	}
}

func TestReloadPicksUpNewDevice(t *testing.T) {
	p := filepath.Join(t.TempDir(), "inv.json")
	os.WriteFile(p, []byte(`{"devices":[]}`), 0o600)
	s, err := New(Config{Inventory: p, InventoryPoll: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a := demoAlert()
	s.Enrich(context.Background(), a)
	if a.Enrichment.Status != alert.EnrichHostNotFound {
		t.Fatalf("%+v", a.Enrichment)
	}
	b, _ := os.ReadFile(filepath.Join(repoRoot(), "testdata", "inventory.json"))
	os.WriteFile(p, b, 0o600)
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	s.Enrich(context.Background(), a)
	if a.Enrichment.Status != alert.EnrichMatched || s.Stats().InventoryReloads != 2 {
		t.Fatalf("%+v %+v", a.Enrichment, s.Stats())
	}
	os.WriteFile(p, []byte(`{"devices":[{"hostname":"x","platform":"macOS"}]}`), 0o600)
	if err := s.Reload(); err == nil || !strings.Contains(err.Error(), `"macOS" is not one of darwin`) {
		t.Fatalf("bad reload: %v", err)
	}
	s.Enrich(context.Background(), a) // the last good inventory stays
	if a.Enrichment.Status != alert.EnrichMatched || s.Stats().InventoryReloadErrors != 1 {
		t.Fatalf("%+v %+v", a.Enrichment, s.Stats())
	}
}

// TestDeviceMACs: a device listed with two MACs (a laptop's Wi-Fi and its
// dock's Ethernet) is handed to the sensor as one host; one with a single
// MAC needs no join.
func TestDeviceMACs(t *testing.T) {
	inv := `{"devices": [
	  {"serial": "C02DOCKED01", "hostname": "bobs-mbp", "platform": "darwin", "mac_addresses": ["3c:22:fb:00:00:01", "A0:CE:C8:00:00:02"]},
	  {"serial": "C02SINGLE01", "hostname": "eves-mbp", "platform": "darwin", "mac_addresses": ["3c:22:fb:00:00:03"]}]}`
	path := filepath.Join(t.TempDir(), "inventory.json")
	if err := os.WriteFile(path, []byte(inv), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Inventory: path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := s.DeviceMACs()
	want := [][][6]byte{{{0x3c, 0x22, 0xfb, 0, 0, 1}, {0xa0, 0xce, 0xc8, 0, 0, 2}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DeviceMACs = %x, want %x", got, want)
	}
	empty, err := New(Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if empty.DeviceMACs() != nil {
		t.Error("no inventory, yet device MACs")
	}
}
