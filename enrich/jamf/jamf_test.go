package jamf

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/launchtap/launchtap/enrich/internal/httpx"
	"github.com/launchtap/launchtap/enrich/inventory"
	"github.com/launchtap/launchtap/internal/jamftest"
)

const eaName = "launchtap launchd jobs"

var updaterEA = jamftest.EAJob{
	Path: "/Users/alice/Library/LaunchAgents/com.example.updater.plist", Owner: "alice", MTime: 1764018847,
	Plist: map[string]any{
		"Label":            "com.example.updater",
		"ProgramArguments": []string{"/Users/alice/Library/Application Support/.updater/updater", "--server", "cdn.example.net"},
		"RunAtLoad":        true, "KeepAlive": false, "StartInterval": 300,
	},
}

var periodicEA = jamftest.EAJob{
	Path: "/System/Library/LaunchDaemons/com.apple.periodic-daily.plist", Owner: "root",
	Plist: map[string]any{
		"Label": "com.apple.periodic-daily", "ProgramArguments": []string{"/usr/libexec/periodic-wrapper", "daily"},
		"StartCalendarInterval": map[string]any{"Hour": 3, "Minute": 15},
		"KeepAlive":             map[string]any{"SuccessfulExit": false},
		"MachServices":          map[string]any{"com.apple.periodic": true},
	},
}

func computers() []jamftest.Computer {
	t := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	return []jamftest.Computer{
		// Jamf saw this Mac's check-in come from the office NAT, which
		// happens to be a LAN address here: lastIpAddress must not be used.
		{ID: 3, Name: "nat-mac", Serial: "C02NAT", MAC: "3C:22:FB:00:00:01", LastReportedIP: "192.168.7.20", LastIPAddress: "10.20.1.15", LastContact: t, OSVersion: "14.4"},
		// A stale record of the re-imaged Mac, same reported address, older contact.
		{ID: 4, Name: "alices-mbp-old", Serial: "C02OLD", MAC: "3C:22:FB:00:00:02", LastReportedIP: "10.20.1.15", LastContact: t.Add(-30 * 24 * time.Hour), OSVersion: "13.6"},
		{ID: 8, Name: "alices-mbp", Serial: "C02XK1Y2JG5H", MAC: "3C:22:FB:1A:2B:3C", LastReportedIP: "10.20.1.15", LastIPAddress: "198.51.100.20", LastContact: t, OSVersion: "14.5", Username: "alice",
			EAs: map[string]string{eaName: jamftest.EAValue(updaterEA, periodicEA, jamftest.EAJob{Path: "/Library/LaunchDaemons/broken.plist", Owner: "root", Error: "unreadable"}), "Other EA": "x"}},
		{ID: 9, Name: "bobs-mbp", Serial: "C02ZZ9Y8JG5H", MAC: "3C:22:FB:44:55:66", LastReportedIP: "10.20.1.22", LastContact: t, OSVersion: "14.4", Username: "bob"},
	}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newProvider(t *testing.T, srv *jamftest.Server, id, secret string, retries int) (*Provider, *httpx.Client, *clock) {
	t.Helper()
	c := &httpx.Client{HTTP: srv.Client(), Name: "jamf", MaxBody: 1 << 20, MaxRetries: retries,
		BaseBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Breaker: httpx.NewBreaker(5, time.Minute),
		Log: slog.New(slog.DiscardHandler)}
	p, err := New(Config{URL: srv.URL, ClientID: id, ClientSecret: secret, EAName: eaName, PageSize: 2}, c)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now()}
	p.now = clk.now
	return p, c, clk
}

func q(ip string) inventory.Query { return inventory.Query{IP: netip.MustParseAddr(ip), PeriodS: 300} }

func TestLookup(t *testing.T) {
	srv := jamftest.New("cid", "csecret", computers()...)
	defer srv.Close()
	p, _, _ := newProvider(t, srv, "cid", "csecret", 0)
	h, err := p.Lookup(context.Background(), q("10.20.1.15"))
	if err != nil {
		t.Fatal(err)
	}
	if h.Hostname != "alices-mbp" || h.Serial != "C02XK1Y2JG5H" || h.OSVersion != "14.5" || h.User != "alice" || h.Platform != "macos" {
		t.Fatalf("host %+v", h)
	}
	if len(h.Jobs) != 2 {
		t.Fatalf("jobs %+v", h.Jobs)
	}
	u, per := h.Jobs[0], h.Jobs[1]
	if u.Label != "com.example.updater" || u.StartInterval != 300 || !u.RunAtLoad || u.KeepAlive || u.Username != "alice" ||
		!u.Modified.Equal(time.Unix(1764018847, 0)) || len(u.ProgramArguments) != 3 || u.ProgramArguments[2] != "cdn.example.net" {
		t.Errorf("updater %+v", u)
	}
	if !per.KeepAlive || len(per.StartCalendarInterval) != 1 || per.StartCalendarInterval[0].Hour != 3 || per.StartCalendarInterval[0].Minute != 15 || per.StartCalendarInterval[0].Weekday != inventory.Any {
		t.Errorf("periodic %+v", per)
	}
	lq, _ := srv.LastQuery.Load().(string)
	for _, want := range []string{"section=GENERAL", "section=HARDWARE", "section=OPERATING_SYSTEM", "section=EXTENSION_ATTRIBUTES", "page-size=2", "filter=general.lastReportedIp%3D%3D%2210.20.1.15%22"} {
		if !strings.Contains(lq, want) {
			t.Errorf("query %s lacks %s", lq, want)
		}
	}
	// Two records match (page size 2 → one page); with the NAT one excluded, the freshest wins.
	if srv.TokenRequests.Load() != 1 {
		t.Errorf("token requests %d", srv.TokenRequests.Load())
	}
}

func TestMACAndNameFallback(t *testing.T) {
	srv := jamftest.New("cid", "csecret", computers()...)
	defer srv.Close()
	p, _, _ := newProvider(t, srv, "cid", "csecret", 0)
	ctx := context.Background()
	_, err := p.Lookup(ctx, inventory.Query{IP: netip.MustParseAddr("10.20.5.5"), MAC: "3c:22:fb:44:55:66"})
	var nj *inventory.NoJobsError
	if !errors.As(err, &nj) || nj.Host.Hostname != "bobs-mbp" || !strings.Contains(err.Error(), "deploy deploy/jamf/launchd-jobs-ea.sh") {
		t.Fatalf("MAC lookup (no EA on bob): %v", err)
	}
	_, err = p.Lookup(ctx, inventory.Query{IP: netip.MustParseAddr("10.20.5.5"), Hostname: "bobs-mbp.corp.example."})
	if !errors.As(err, &nj) || nj.Host.Serial != "C02ZZ9Y8JG5H" {
		t.Fatalf("name lookup: %v", err)
	}
	_, err = p.Lookup(ctx, inventory.Query{IP: netip.MustParseAddr("10.20.5.5"), MAC: "aa:bb:cc:dd:ee:ff"})
	if !errors.Is(err, inventory.ErrHostNotFound) {
		t.Fatalf("want not found: %v", err)
	}
}

func TestPagination(t *testing.T) {
	var cs []jamftest.Computer
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := 1; i <= 5; i++ {
		cs = append(cs, jamftest.Computer{ID: i, Name: "mac" + string(rune('0'+i)), LastReportedIP: "10.1.1.1", LastContact: base.Add(time.Duration(i%4) * time.Hour),
			EAs: map[string]string{eaName: jamftest.EAValue()}})
	}
	srv := jamftest.New("cid", "csecret", cs...)
	defer srv.Close()
	p, _, _ := newProvider(t, srv, "cid", "csecret", 0)
	h, err := p.Lookup(context.Background(), q("10.1.1.1"))
	if err != nil || h.Hostname != "mac3" {
		t.Fatalf("%+v %v", h, err)
	}
	if srv.InventoryRequests.Load() != 3 {
		t.Errorf("%d requests for 5 results at page-size 2", srv.InventoryRequests.Load())
	}
}

func TestTokens(t *testing.T) {
	ctx := context.Background()
	t.Run("refreshed before expiry", func(t *testing.T) {
		srv := jamftest.New("cid", "csecret", computers()...)
		srv.TokenTTL = 60 * time.Second
		defer srv.Close()
		p, _, clk := newProvider(t, srv, "cid", "csecret", 0)
		for range 3 {
			if _, err := p.Lookup(ctx, q("10.20.1.15")); err != nil {
				t.Fatal(err)
			}
		}
		if srv.TokenRequests.Load() != 1 {
			t.Fatalf("token requests %d", srv.TokenRequests.Load())
		}
		clk.add(55 * time.Second) // within the 6 s refresh margin
		if _, err := p.Lookup(ctx, q("10.20.1.15")); err != nil {
			t.Fatal(err)
		}
		if srv.TokenRequests.Load() != 2 || srv.InvalidToken.Load() != 0 {
			t.Fatalf("token requests %d, invalid %d", srv.TokenRequests.Load(), srv.InvalidToken.Load())
		}
	})
	t.Run("401 INVALID_TOKEN then one refresh", func(t *testing.T) {
		srv := jamftest.New("cid", "csecret", computers()...)
		defer srv.Close()
		p, _, _ := newProvider(t, srv, "cid", "csecret", 0)
		if _, err := p.Lookup(ctx, q("10.20.1.15")); err != nil {
			t.Fatal(err)
		}
		srv.RevokeAll()
		if _, err := p.Lookup(ctx, q("10.20.1.15")); err != nil {
			t.Fatal(err)
		}
		if srv.TokenRequests.Load() != 2 || srv.InvalidToken.Load() != 1 {
			t.Fatalf("token requests %d, invalid %d", srv.TokenRequests.Load(), srv.InvalidToken.Load())
		}
	})
	t.Run("bad credentials", func(t *testing.T) {
		srv := jamftest.New("cid", "csecret", computers()...)
		defer srv.Close()
		p, _, _ := newProvider(t, srv, "cid", "wrong-secret", 3)
		_, err := p.Lookup(ctx, q("10.20.1.15"))
		if !errors.Is(err, inventory.ErrUnavailable) || !strings.Contains(err.Error(), "HTTP 401 invalid_client") || strings.Contains(err.Error(), "wrong-secret") {
			t.Fatalf("%v", err)
		}
		if srv.TokenRequests.Load() != 1 {
			t.Errorf("401 retried: %d", srv.TokenRequests.Load())
		}
	})
}

func TestHTTPFaults(t *testing.T) {
	ctx := context.Background()
	t.Run("429 Retry-After HTTP-date", func(t *testing.T) {
		srv := jamftest.New("cid", "csecret", computers()...)
		defer srv.Close()
		srv.Inject(jamftest.Fault{Path: "/api/v1/computers-inventory", Status: 429, RetryAfter: time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat)})
		p, c, _ := newProvider(t, srv, "cid", "csecret", 2)
		start := time.Now()
		if _, err := p.Lookup(ctx, q("10.20.1.15")); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 900*time.Millisecond {
			t.Errorf("Retry-After date not honoured: %v", d)
		}
		if c.RateLimited.Load() != 1 {
			t.Errorf("rate limited %d", c.RateLimited.Load())
		}
	})
	t.Run("500 on token endpoint retried", func(t *testing.T) {
		srv := jamftest.New("cid", "csecret", computers()...)
		defer srv.Close()
		srv.Inject(jamftest.Fault{Path: "/api/oauth/token", Status: 500})
		p, _, _ := newProvider(t, srv, "cid", "csecret", 2)
		if _, err := p.Lookup(ctx, q("10.20.1.15")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("HTML while starting up", func(t *testing.T) {
		srv := jamftest.New("cid", "csecret", computers()...)
		defer srv.Close()
		srv.Inject(jamftest.Fault{Path: "/api/v1/computers-inventory", HTML: true, Status: 200})
		p, _, _ := newProvider(t, srv, "cid", "csecret", 2)
		_, err := p.Lookup(ctx, q("10.20.1.15"))
		if !errors.Is(err, httpx.ErrNotJSON) || !strings.Contains(err.Error(), "Jamf Pro is starting up") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("huge body", func(t *testing.T) {
		srv := jamftest.New("cid", "csecret", computers()...)
		defer srv.Close()
		srv.Inject(jamftest.Fault{Path: "/api/v1/computers-inventory", HugeBytes: 2 << 20})
		p, _, _ := newProvider(t, srv, "cid", "csecret", 2)
		if _, err := p.Lookup(ctx, q("10.20.1.15")); !errors.Is(err, httpx.ErrBodyTooLarge) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("garbled extension attribute", func(t *testing.T) {
		srv := jamftest.New("cid", "csecret", computers()...)
		defer srv.Close()
		srv.SetEA(8, eaName, `<result>{"v":1,"jobs":[{"path":"/x","plist":{"Label":"x"}}`)
		p, _, _ := newProvider(t, srv, "cid", "csecret", 0)
		_, err := p.Lookup(ctx, q("10.20.1.15"))
		var nj *inventory.NoJobsError
		if !errors.As(err, &nj) || nj.Host.Hostname != "alices-mbp" || !strings.Contains(err.Error(), "<result> without </result>") {
			t.Fatalf("%v", err)
		}
	})
}

func TestParseEA(t *testing.T) {
	tests := []struct {
		name, in, wantErr string
		jobs, skipped     int
	}{
		{"without tags", `{"v":1,"jobs":[{"path":"/a","owner":"root","mtime":0,"plist":{"Label":"a","StartInterval":60}}]}`, "", 1, 0},
		{"with tags and noise", "  <result>{\"v\":1,\"jobs\":[]}</result>\n", "", 0, 0},
		{"empty", "<result></result>", "has not reported yet", 0, 0},
		{"version", `{"v":3,"jobs":[]}`, "format version 3", 0, 0},
		{"v2 with team IDs", `{"v":2,"jobs":[{"path":"/a","owner":"root","mtime":0,"team_id":"483DWKW443","plist":{"Label":"a"}},{"path":"/b","plist":{"Label":"b"}}]}`, "", 2, 0},
		{"v2 bad team ID skipped", `{"v":2,"jobs":[{"path":"/a","team_id":"not-a-team","plist":{"Label":"a"}}]}`, "", 0, 1},
		{"unknown top key", `{"v":1,"jobs":[],"hosts":[]}`, `unknown field "hosts"`, 0, 0},
		{"bad job skipped", `{"v":1,"jobs":[{"path":"/a","plist":{"Label":"a","StartInterval":"60"}},{"path":"/b","plist":{"Label":"b"}}]}`, "", 1, 1},
		{"calendar array", `{"v":1,"jobs":[{"path":"/a","plist":{"Label":"a","StartCalendarInterval":[{"Minute":0},{"Minute":30,"Weekday":7}]}}]}`, "", 1, 0},
		{"calendar bad", `{"v":1,"jobs":[{"path":"/a","plist":{"Label":"a","StartCalendarInterval":"hourly"}}]}`, "", 0, 1},
		{"error entry", `{"v":1,"jobs":[{"path":"/a","owner":"root","mtime":0,"error":"unreadable"}]}`, "", 0, 1},
		{"not json", `<result>sh: plutil: not found</result>`, "line 1", 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ea, err := ParseEA(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(ea.Jobs) != tc.jobs || ea.Skipped != tc.skipped {
				t.Fatalf("jobs %d skipped %d (%v)", len(ea.Jobs), ea.Skipped, ea.Problems)
			}
			if strings.Contains(tc.in, "483DWKW443") && ea.Jobs[0].TeamID != "483DWKW443" {
				t.Errorf("team ID %q", ea.Jobs[0].TeamID)
			}
		})
	}
}

func FuzzParseEA(f *testing.F) {
	f.Add(jamftest.EAValue(updaterEA, periodicEA))
	f.Add(`{"v":1,"generated":"2026-11-25T08:00:00Z","truncated":true,"jobs":[{"path":"/a","owner":"root","mtime":12,"plist":{"Label":"a","KeepAlive":{"SuccessfulExit":false},"StartCalendarInterval":[{"Hour":3}]}}]}`)
	f.Add(`<result>{"v":1,"jobs":[{"error":"x"}]}</result>`)
	f.Add(`<result>{"v":2,"jobs":[{"path":"/Library/LaunchDaemons/a.plist","owner":"root","mtime":1,"team_id":"483DWKW443","plist":{"Label":"a","Program":"/usr/local/jamf/bin/jamf"}}]}</result>`)
	f.Add(`<result>`)
	f.Fuzz(func(t *testing.T, s string) {
		ea, err := ParseEA(s)
		if err != nil {
			return
		}
		for _, j := range ea.Jobs {
			if j.Label == "" || j.StartInterval < 0 || (j.TeamID != "" && len(j.TeamID) != 10) {
				t.Fatalf("bad job %+v", j)
			}
		}
	})
}

func FuzzParsePage(f *testing.F) {
	f.Add([]byte(`{"totalCount":1,"results":[{"id":"8","general":{"name":"alices-mbp","lastReportedIp":"10.20.1.15","lastContactTime":"2026-11-25T08:00:00.000Z"},"hardware":{"serialNumber":"C02","macAddress":"3C:22:FB:1A:2B:3C"},"operatingSystem":{"version":"14.5"},"userAndLocation":null,"extensionAttributes":[{"name":"launchtap launchd jobs","values":["<result>{\"v\":1,\"jobs\":[]}</result>"]}]}]}`))
	f.Add([]byte(`{"totalCount":0,"results":[]}`))
	f.Add([]byte(`{"totalCount":-1,"results":[]}`))
	f.Add([]byte(`{"httpStatus":401,"errors":[{"code":"INVALID_TOKEN"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		pg, err := ParsePage(b)
		if err != nil {
			return
		}
		p := &Provider{cfg: Config{EAName: eaName}, log: slog.New(slog.DiscardHandler)}
		for i := range pg.Results {
			_, _ = p.host(&pg.Results[i])
		}
	})
}

func FuzzParseToken(f *testing.F) {
	f.Add([]byte(`{"access_token":"eyJabc","scope":"api-role:2","token_type":"Bearer","expires_in":59}`))
	f.Add([]byte(`{"access_token":"x","expires_in":1e300}`))
	f.Add([]byte(`{"error":"invalid_client"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, ttl, err := ParseToken(b)
		if err == nil && (tok == "" || ttl <= 0) {
			t.Fatalf("accepted %q %v", tok, ttl)
		}
	})
}
