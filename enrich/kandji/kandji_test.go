package kandji

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/launchtap/launchtap/enrich/internal/httpx"
	"github.com/launchtap/launchtap/enrich/inventory"
	"github.com/launchtap/launchtap/internal/kandjitest"
)

var updater = inventory.Job{
	Label: "com.example.updater", Path: "/Users/alice/Library/LaunchAgents/com.example.updater.plist",
	ProgramArguments: []string{"/Users/alice/Library/Application Support/.updater/updater", "--server", "cdn.example.net"},
	RunAtLoad:        true, StartInterval: 300,
}

var mau = inventory.Job{
	Label: "com.microsoft.update.agent", Path: "/Library/LaunchAgents/com.microsoft.update.agent.plist",
	ProgramArguments: []string{"/Library/Application Support/Microsoft/MAU2.0/Microsoft AutoUpdate.app/Contents/MacOS/Microsoft Update Assistant.app/Contents/MacOS/Microsoft Update Assistant", "--launchByAgent"},
	RunAtLoad:        true, StartInterval: 7200,
}

func provider(t *testing.T, srv *kandjitest.Server, token string) *Provider {
	c := &httpx.Client{HTTP: srv.Client(), Name: "kandji", MaxBody: 4 << 20, BaseBackoff: time.Millisecond, Log: slog.New(slog.DiscardHandler)}
	p, err := New(Config{URL: srv.URL, Token: token}, c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLookup(t *testing.T) {
	many := []inventory.Job{updater, mau}
	for i := range 650 { // three Prism pages
		many = append(many, inventory.Job{Label: fmt.Sprintf("com.apple.job%d", i), Path: fmt.Sprintf("/System/Library/LaunchDaemons/com.apple.job%d.plist", i)})
	}
	srv := kandjitest.New("ktok",
		kandjitest.Device{ID: "aa79459d", Name: "bobs-mbp", Serial: "C02ZZ9Y8JG5H", MAC: "3c:22:fb:44:55:66", Platform: "Mac", OS: "14.4", Jobs: []inventory.Job{mau}},
		kandjitest.Device{ID: "d6ac2d8c", Name: "alices-mbp", Serial: "C02XK1Y2JG5H", MAC: "3c:22:fb:1a:2b:3c", Platform: "Mac", OS: "14.5", UserEmail: "alice@example.com", Jobs: many},
		kandjitest.Device{ID: "ffff0001", Name: "carols-iphone", Serial: "DNPXK2QJN72Q", MAC: "b2:9c:4e:71:0a:d3", Platform: "iPhone", OS: "18.1"})
	defer srv.Close()
	p := provider(t, srv, "ktok")
	ctx := context.Background()
	h, err := p.Lookup(ctx, inventory.Query{IP: netip.MustParseAddr("10.20.1.15"), MAC: "3c:22:fb:1a:2b:3c"})
	if err != nil {
		t.Fatal(err)
	}
	if h.Hostname != "alices-mbp" || h.Serial != "C02XK1Y2JG5H" || h.User != "alice" || h.Platform != "macos" || len(h.Jobs) != 652 {
		t.Fatalf("host %+v (%d jobs)", h, len(h.Jobs))
	}
	if srv.PrismRequests.Load() != 3 {
		t.Errorf("prism requests %d, want 3 pages", srv.PrismRequests.Load())
	}
	u := h.Jobs[0]
	if u.Label != updater.Label || u.StartInterval != 300 || !u.RunAtLoad || strings.Join(u.ProgramArguments, "|") != strings.Join(updater.ProgramArguments, "|") || u.Program != "" {
		t.Errorf("updater %+v", u)
	}
	// By name; "alices" must not match a device whose name merely contains it.
	h, err = p.Lookup(ctx, inventory.Query{IP: netip.MustParseAddr("10.20.1.22"), Hostname: "bobs-mbp.corp.example"})
	if err != nil || h.Serial != "C02ZZ9Y8JG5H" || len(h.Jobs) != 1 {
		t.Fatalf("by name: %+v %v", h, err)
	}
	if _, err = p.Lookup(ctx, inventory.Query{IP: netip.MustParseAddr("10.20.1.22"), Hostname: "bobs"}); !errors.Is(err, inventory.ErrHostNotFound) {
		t.Fatalf("partial name matched: %v", err)
	}
	h, err = p.Lookup(ctx, inventory.Query{MAC: "b2:9c:4e:71:0a:d3"})
	if err != nil || h.Platform != "ios" || len(h.Jobs) != 0 {
		t.Fatalf("iphone: %+v %v", h, err)
	}
	if _, err = p.Lookup(ctx, inventory.Query{IP: netip.MustParseAddr("10.20.1.15")}); !errors.Is(err, inventory.ErrHostNotFound) || !strings.Contains(err.Error(), "cannot search by IP") {
		t.Fatalf("IP only: %v", err)
	}
}

func TestBadToken(t *testing.T) {
	srv := kandjitest.New("ktok", kandjitest.Device{ID: "1", Name: "x", MAC: "3c:22:fb:1a:2b:3c", Platform: "Mac"})
	defer srv.Close()
	_, err := provider(t, srv, "nope").Lookup(context.Background(), inventory.Query{MAC: "3c:22:fb:1a:2b:3c"})
	if !errors.Is(err, inventory.ErrUnavailable) || !strings.Contains(err.Error(), "API token rejected (HTTP 401: Unauthorized)") || strings.Contains(err.Error(), "nope") {
		t.Fatalf("%v", err)
	}
}

func FuzzParsePage(f *testing.F) {
	f.Add([]byte(`{"offset":null,"limit":25,"total":1,"data":[{"device_id":"aa","path":"/Library/LaunchAgents/com.microsoft.update.agent.plist","label":"com.microsoft.update.agent","program":null,"run_at_load":true,"keep_alive":false,"disabled":false,"user_name":null,"start_interval":7200,"program_arguments":"/Library/Application Support/Microsoft/MAU2.0/Microsoft AutoUpdate.app/Contents/MacOS/Microsoft Update Assistant.app/Contents/MacOS/Microsoft Update Assistant, --launchByAgent"}],"cursor":null}`))
	f.Add([]byte(`{"total":0,"data":[]}`))
	f.Add([]byte(`{"total":1,"data":[{"start_interval":-5,"label":"x"}]}`))
	f.Add([]byte(`[{"device_id":"x","user":{"email":"a@b"}}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if pg, err := ParsePage(b); err == nil {
			for _, r := range pg.Data {
				if j := JobFromRow(r); j.StartInterval < 0 || len(j.ProgramArguments) > inventory.MaxArguments {
					t.Fatalf("bad job %+v", j)
				}
			}
		}
		if ds, err := ParseDevices(b); err == nil {
			for _, d := range ds {
				_ = userName(d.User)
			}
		}
	})
}

// TestJobFromRowTeamID: Prism documents no team column; a row that carries
// one has it read, a malformed one dropped.
func TestJobFromRowTeamID(t *testing.T) {
	str := func(s string) *string { return &s }
	for in, want := range map[*string]string{nil: "", str("bj4haab9b3"): "BJ4HAAB9B3", str("not set"): "", str("zoom"): ""} {
		if got := JobFromRow(Row{Label: "us.zoom.ZoomDaemon", TeamID: in}).TeamID; got != want {
			t.Errorf("team_id %v: %q, want %q", in, got, want)
		}
	}
}
