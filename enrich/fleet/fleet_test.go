package fleet

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/launchtap/launchtap/enrich/internal/httpx"
	"github.com/launchtap/launchtap/enrich/inventory"
	"github.com/launchtap/launchtap/internal/fleettest"
)

var updater = inventory.Job{
	Label: "com.example.updater", Path: "/Users/alice/Library/LaunchAgents/com.example.updater.plist",
	Program:          "/Users/alice/Library/Application Support/.updater/updater",
	ProgramArguments: []string{"/Users/alice/Library/Application Support/.updater/updater", "--server", "cdn.example.net"},
	RunAtLoad:        true, StartInterval: 300, Username: "alice", Modified: time.Date(2026, 11, 24, 21, 14, 7, 0, time.UTC),
}

var periodic = inventory.Job{
	Label: "com.apple.periodic-daily", Path: "/System/Library/LaunchDaemons/com.apple.periodic-daily.plist",
	ProgramArguments: []string{"/usr/libexec/periodic-wrapper", "daily"},
	StartCalendarInterval: []inventory.Calendar{
		{Minute: 15, Hour: 3, Day: inventory.Any, Weekday: inventory.Any, Month: inventory.Any},
		{Minute: 45, Hour: inventory.Any, Day: inventory.Any, Weekday: 0, Month: inventory.Any},
	},
}

// jamfTask is signed: the signature join gives its team.
var jamfTask = inventory.Job{
	Label: "com.jamfsoftware.task.1", Path: "/Library/LaunchDaemons/com.jamfsoftware.task.1.plist",
	ProgramArguments: []string{"/usr/local/jamf/bin/jamf", "policy"}, RunAtLoad: true, Username: "root", TeamID: "483DWKW443",
}

func hosts() []fleettest.Host {
	return []fleettest.Host{
		{ID: 7, Hostname: "decoy", Serial: "C02DECOY0001", IP: "10.20.1.150", Platform: "darwin", OS: "macOS 13.6"},
		{ID: 8, Hostname: "alices-mbp", Serial: "C02XK1Y2JG5H", IP: "10.20.1.15", MAC: "3c:22:fb:1a:2b:3c", Platform: "darwin", OS: "macOS 14.5", Jobs: []inventory.Job{updater, periodic, jamfTask}},
		{ID: 9, Hostname: "win-desk-07", Serial: "5CG3281XQZ", IP: "10.20.2.40", Platform: "windows", OS: "Windows 11 Pro 23H2"},
		{ID: 10, Hostname: "offline-mac", Serial: "C02OFF", IP: "10.20.1.40", Platform: "darwin", OS: "macOS 14.5", Offline: true},
		{ID: 11, Hostname: "slow-mac", Serial: "C02SLOW", IP: "10.20.1.41", Platform: "darwin", OS: "macOS 14.5", Slow: true},
	}
}

func newProvider(t *testing.T, srv *fleettest.Server, token string, retries int) (*Provider, *httpx.Client) {
	t.Helper()
	c := &httpx.Client{HTTP: srv.Client(), Name: "fleet", MaxBody: 1 << 20, MaxRetries: retries,
		BaseBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		Breaker: httpx.NewBreaker(5, time.Minute), Log: discard()}
	p, err := New(Config{URL: srv.URL, Token: token, PerPage: 2}, c)
	if err != nil {
		t.Fatal(err)
	}
	return p, c
}

func q(ip string, period float64) inventory.Query {
	return inventory.Query{IP: netip.MustParseAddr(ip), PeriodS: period}
}

func TestLookup(t *testing.T) {
	srv := fleettest.New("tok", hosts()...)
	defer srv.Close()
	p, _ := newProvider(t, srv, "tok", 2)
	ctx := context.Background()

	// 10.20.1.15 is a substring of 10.20.1.150 (listed first): the exact
	// primary_ip must win.
	h, err := p.Lookup(ctx, q("10.20.1.15", 300))
	if err != nil {
		t.Fatal(err)
	}
	if h.Hostname != "alices-mbp" || h.Serial != "C02XK1Y2JG5H" || h.OSVersion != "14.5" || h.Platform != "macos" || h.User != "alice" || h.Ref != "8" {
		t.Fatalf("host %+v", h)
	}
	var got *inventory.Job
	for i := range h.Jobs {
		if h.Jobs[i].Label == updater.Label {
			got = &h.Jobs[i]
		}
	}
	if got == nil || got.StartInterval != 300 || !got.RunAtLoad || got.KeepAlive || !got.Modified.Equal(updater.Modified) ||
		strings.Join(got.ProgramArguments, "|") != strings.Join(updater.ProgramArguments, "|") {
		t.Fatalf("job %+v", got)
	}
	teams := map[string]string{}
	for _, j := range h.Jobs {
		teams[j.Label] = j.TeamID
	}
	if teams[jamfTask.Label] != "483DWKW443" || teams[updater.Label] != "" {
		t.Errorf("team IDs from the signature join: %v", teams)
	}
	if h.CalendarComplete || srv.CalendarQueries.Load() != 0 {
		t.Errorf("period 300 is explained by StartInterval: no calendar query expected")
	}

	// An hourly period is not explained by a 300 s interval: read calendars.
	h, err = p.Lookup(ctx, q("10.20.1.15", 3600))
	if err != nil {
		t.Fatal(err)
	}
	if !h.CalendarComplete || srv.CalendarQueries.Load() != 1 {
		t.Fatalf("calendar not read: complete=%v queries=%d", h.CalendarComplete, srv.CalendarQueries.Load())
	}
	for _, j := range h.Jobs {
		if j.Label == periodic.Label {
			if len(j.StartCalendarInterval) != 2 || j.StartCalendarInterval[0] != periodic.StartCalendarInterval[0] || j.StartCalendarInterval[1] != periodic.StartCalendarInterval[1] {
				t.Fatalf("calendar %+v", j.StartCalendarInterval)
			}
		}
	}

	// Windows host: found, no live query.
	before := srv.LiveQueries.Load()
	h, err = p.Lookup(ctx, q("10.20.2.40", 120))
	if err != nil || h.Platform != "windows" || len(h.Jobs) != 0 || srv.LiveQueries.Load() != before {
		t.Fatalf("windows: %+v %v", h, err)
	}
}

func TestPagination(t *testing.T) {
	// Five hosts contain "10.0.0.5"; with per_page 2 the exact one is on page 2.
	var hs []fleettest.Host
	for i, ip := range []string{"10.0.0.50", "10.0.0.51", "10.0.0.52", "10.0.0.53", "10.0.0.5"} {
		hs = append(hs, fleettest.Host{ID: uint64(i + 1), Hostname: "h" + ip, IP: ip, Platform: "ubuntu"})
	}
	srv := fleettest.New("tok", hs...)
	defer srv.Close()
	p, _ := newProvider(t, srv, "tok", 0)
	h, err := p.Lookup(context.Background(), q("10.0.0.5", 60))
	if err != nil || h.Hostname != "h10.0.0.5" {
		t.Fatalf("%+v %v", h, err)
	}
	if srv.Searches.Load() != 3 {
		t.Errorf("searches %d, want 3 pages", srv.Searches.Load())
	}
}

func TestIdentifierFallbackAndNotFound(t *testing.T) {
	srv := fleettest.New("tok", hosts()...)
	defer srv.Close()
	p, _ := newProvider(t, srv, "tok", 0)
	// DHCP moved the Mac: the IP is unknown to Fleet but host identification named it.
	h, err := p.Lookup(context.Background(), inventory.Query{IP: netip.MustParseAddr("10.20.9.9"), Hostname: "alices-mbp", PeriodS: 300})
	if err != nil || h.Serial != "C02XK1Y2JG5H" || srv.Identifiers.Load() != 1 {
		t.Fatalf("%+v %v", h, err)
	}
	_, err = p.Lookup(context.Background(), inventory.Query{IP: netip.MustParseAddr("10.20.9.9"), Hostname: "nobody"})
	if !errors.Is(err, inventory.ErrHostNotFound) {
		t.Fatalf("want not found, got %v", err)
	}
	_, err = p.Lookup(context.Background(), q("10.20.9.9", 300))
	if !errors.Is(err, inventory.ErrHostNotFound) {
		t.Fatalf("want not found, got %v", err)
	}
}

func TestOfflineAndSlow(t *testing.T) {
	srv := fleettest.New("tok", hosts()...)
	defer srv.Close()
	p, _ := newProvider(t, srv, "tok", 0)
	_, err := p.Lookup(context.Background(), q("10.20.1.40", 300))
	var off *inventory.NoJobsError
	if !errors.As(err, &off) || off.Host == nil || off.Host.Hostname != "offline-mac" || !errors.Is(err, inventory.ErrUnavailable) {
		t.Fatalf("offline: %v", err)
	}
	_, err = p.Lookup(context.Background(), q("10.20.1.41", 300))
	if !errors.Is(err, inventory.ErrUnavailable) || !strings.Contains(err.Error(), "timeout waiting for results") {
		t.Fatalf("slow: %v", err)
	}
}

func TestHTTPFaults(t *testing.T) {
	ctx := context.Background()
	t.Run("401 bad token, not retried", func(t *testing.T) {
		srv := fleettest.New("tok", hosts()...)
		defer srv.Close()
		p, _ := newProvider(t, srv, "wrong", 3)
		_, err := p.Lookup(ctx, q("10.20.1.15", 300))
		if err == nil || !strings.Contains(err.Error(), "token rejected (HTTP 401: Authentication required)") || srv.Unauthorized.Load() != 1 {
			t.Fatalf("%v (unauthorized %d)", err, srv.Unauthorized.Load())
		}
		if strings.Contains(err.Error(), "wrong") {
			t.Fatal("token leaked into the error")
		}
	})
	t.Run("429 Retry-After seconds then success", func(t *testing.T) {
		srv := fleettest.New("tok", hosts()...)
		defer srv.Close()
		srv.Inject(fleettest.Fault{Path: "/api/v1/fleet/hosts", Status: 429, RetryAfter: "1"})
		p, c := newProvider(t, srv, "tok", 2)
		start := time.Now()
		if _, err := p.Lookup(ctx, q("10.20.1.15", 300)); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < time.Second {
			t.Errorf("Retry-After 1 not honoured: %v", d)
		}
		if c.RateLimited.Load() != 1 || c.Retries.Load() != 1 {
			t.Errorf("rate limited %d retries %d", c.RateLimited.Load(), c.Retries.Load())
		}
	})
	t.Run("429 Retry-After beyond the deadline fails fast", func(t *testing.T) {
		srv := fleettest.New("tok", hosts()...)
		defer srv.Close()
		srv.Inject(fleettest.Fault{Path: "/api/v1/fleet/hosts", Status: 429, RetryAfter: time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)})
		p, _ := newProvider(t, srv, "tok", 2)
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		start := time.Now()
		_, err := p.Lookup(ctx, q("10.20.1.15", 300))
		if !errors.Is(err, httpx.ErrRateLimited) || !errors.Is(err, inventory.ErrUnavailable) || time.Since(start) > time.Second {
			t.Fatalf("%v after %v", err, time.Since(start))
		}
	})
	t.Run("500s are retried", func(t *testing.T) {
		srv := fleettest.New("tok", hosts()...)
		defer srv.Close()
		srv.Inject(fleettest.Fault{Path: "/api/v1/fleet/hosts/8/query", Status: 500}, fleettest.Fault{Path: "/api/v1/fleet/hosts/8/query", Status: 502})
		p, c := newProvider(t, srv, "tok", 3)
		if _, err := p.Lookup(ctx, q("10.20.1.15", 300)); err != nil {
			t.Fatal(err)
		}
		if c.Retries.Load() != 2 {
			t.Errorf("retries %d", c.Retries.Load())
		}
	})
	t.Run("500s exhaust retries", func(t *testing.T) {
		srv := fleettest.New("tok", hosts()...)
		defer srv.Close()
		for range 3 {
			srv.Inject(fleettest.Fault{Status: 500})
		}
		p, _ := newProvider(t, srv, "tok", 2)
		_, err := p.Lookup(ctx, q("10.20.1.15", 300))
		if !errors.Is(err, inventory.ErrUnavailable) || !strings.Contains(err.Error(), "HTTP 500") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("HTML error page", func(t *testing.T) {
		srv := fleettest.New("tok", hosts()...)
		defer srv.Close()
		srv.Inject(fleettest.Fault{HTML: true})
		p, _ := newProvider(t, srv, "tok", 0)
		_, err := p.Lookup(ctx, q("10.20.1.15", 300))
		if !errors.Is(err, httpx.ErrNotJSON) || !strings.Contains(err.Error(), `"502 Bad Gateway"`) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("huge body", func(t *testing.T) {
		srv := fleettest.New("tok", hosts()...)
		defer srv.Close()
		srv.Inject(fleettest.Fault{HugeBytes: 4 << 20})
		p, _ := newProvider(t, srv, "tok", 2)
		_, err := p.Lookup(ctx, q("10.20.1.15", 300))
		if !errors.Is(err, httpx.ErrBodyTooLarge) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("breaker opens", func(t *testing.T) {
		srv := fleettest.New("tok", hosts()...)
		defer srv.Close()
		for range 10 {
			srv.Inject(fleettest.Fault{Status: 503})
		}
		p, c := newProvider(t, srv, "tok", 0)
		for range 5 {
			_, _ = p.Lookup(ctx, q("10.20.1.15", 300))
		}
		_, err := p.Lookup(ctx, q("10.20.1.15", 300))
		if !errors.Is(err, httpx.ErrBreakerOpen) || c.Breaker.State() != "open" {
			t.Fatalf("%v state %s", err, c.Breaker.State())
		}
	})
}

func TestTLSVerification(t *testing.T) {
	srv := fleettest.NewTLS("tok", hosts()...)
	defer srv.Close()
	hc, err := httpx.NewHTTPClient("", 2)
	if err != nil {
		t.Fatal(err)
	}
	c := &httpx.Client{HTTP: hc, Name: "fleet", Log: discard()}
	p, _ := New(Config{URL: srv.URL, Token: "tok"}, c)
	_, err = p.Lookup(context.Background(), q("10.20.1.15", 300))
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("self-signed server accepted: %v", err)
	}
}

func TestSplitArguments(t *testing.T) {
	for _, c := range []struct{ prog, joined, want string }{
		{"/A B/c", "/A B/c --x y", "/A B/c|--x|y"},
		{"", "/usr/bin/curl -s https://x", "/usr/bin/curl|-s|https://x"},
		{"/p", "", ""},
	} {
		if got := strings.Join(splitArguments(c.prog, c.joined), "|"); got != c.want {
			t.Errorf("splitArguments(%q,%q) = %q", c.prog, c.joined, got)
		}
	}
}

func TestJobsFromRowsErrors(t *testing.T) {
	for _, r := range []map[string]string{
		{"label": "a", "start_interval": "5m"},
		{"label": "a", "run_at_load": "maybe"},
		{"label": "a", "mtime": "-3"},
	} {
		if _, err := JobsFromRows([]map[string]string{r}); err == nil {
			t.Errorf("accepted %v", r)
		}
	}
	jobs, err := JobsFromRows([]map[string]string{{"label": "", "path": "/Library/LaunchAgents/broken.plist"}})
	if err != nil || len(jobs) != 0 {
		t.Errorf("unreadable plist row: %v %v", jobs, err)
	}
}

func TestApplyCalendarRows(t *testing.T) {
	jobs := []inventory.Job{{Label: "a", Path: "/p"}}
	err := ApplyCalendarRows(jobs, []map[string]string{{"path": "/p", "subkey": "Minute", "value": "30"}, {"path": "/p", "subkey": "Hour", "value": "4"}})
	if err != nil || len(jobs[0].StartCalendarInterval) != 1 || jobs[0].StartCalendarInterval[0].Minute != 30 || jobs[0].StartCalendarInterval[0].Hour != 4 {
		t.Fatalf("single dict: %+v %v", jobs[0].StartCalendarInterval, err)
	}
	if err := ApplyCalendarRows(jobs, []map[string]string{{"path": "/p", "subkey": "Hour", "value": "25"}}); err == nil {
		t.Error("Hour 25 accepted")
	}
}

func FuzzParseHosts(f *testing.F) {
	f.Add([]byte(`{"hosts":[{"id":8,"hostname":"alices-mbp","primary_ip":"10.20.1.15","primary_mac":"3c:22:fb:1a:2b:3c","hardware_serial":"C02XK1Y2JG5H","platform":"darwin","os_version":"macOS 14.5","status":"online","seen_time":"2026-11-25T09:00:00Z"}]}`))
	f.Add([]byte(`{"hosts":[]}`))
	f.Add([]byte(`{"hosts":null}`))
	f.Add([]byte(`{"hosts":[{"id":"8"}]}`))
	f.Add([]byte(`<html><title>Sign in</title></html>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		hs, err := ParseHosts(b)
		if err == nil {
			for i := range hs {
				_ = hostFrom(&hs[i])
			}
		}
		if h, err := ParseHost(b); err == nil && h.ID == 0 {
			t.Fatal("host without id accepted")
		}
	})
}

func FuzzParseLiveQuery(f *testing.F) {
	f.Add([]byte(`{"host_id":8,"query":"SELECT 1","status":"online","error":null,"rows":[{"path":"/Users/alice/Library/LaunchAgents/com.example.updater.plist","label":"com.example.updater","program":"","program_arguments":"/x --server cdn.example.net","run_at_load":"1","keep_alive":"0","disabled":"0","username":"","start_interval":"300","mtime":"1764018847"}]}`))
	f.Add([]byte(`{"host_id":10,"query":"SELECT 1","status":"offline","error":null,"rows":null}`))
	f.Add([]byte(`{"host_id":11,"query":"SELECT 1","status":"online","error":"timeout waiting for results","rows":null}`))
	f.Add([]byte(`{"host_id":8,"status":"online","rows":[{"path":"/p","subkey":"0/Minute","value":"15"},{"path":"/p","subkey":"1/Hour","value":"3"}]}`))
	f.Add([]byte(`{"host_id":8,"status":"online","rows":[{"label":1}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		lr, err := ParseLiveQuery(b)
		if err != nil {
			return
		}
		jobs, err := JobsFromRows(lr.Rows)
		if err != nil {
			return
		}
		for _, j := range jobs {
			if j.StartInterval < 0 || j.Label == "" {
				t.Fatalf("bad job %+v", j)
			}
		}
		for i := range jobs {
			jobs[i].Path = "/p"
		}
		_ = ApplyCalendarRows(jobs, lr.Rows)
	})
}
