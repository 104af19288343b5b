package file

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/launchtap/launchtap/enrich/inventory"
	"github.com/launchtap/launchtap/sensor/hostid"
)

func repoRoot(t testing.TB) string {
	_, f, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(f), "..", "..")
}

func bundled(t testing.TB) []byte {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "testdata", "inventory.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseBundled(t *testing.T) {
	inv, err := Parse(bundled(t))
	if err != nil {
		t.Fatal(err)
	}
	h := inv.Find(netip.MustParseAddr("10.20.1.15"), "", "")
	if h == nil || h.Hostname != "alices-mbp" || h.Serial != "C02XK1Y2JG5H" || h.Platform != hostid.MacOS || h.OSVersion != "14.5" || h.User != "alice" {
		t.Fatalf("alices-mbp: %+v", h)
	}
	var planted *inventory.Job
	for i := range h.Jobs {
		if h.Jobs[i].Label == "com.example.updater" {
			planted = &h.Jobs[i]
		}
	}
	if planted == nil || planted.StartInterval != 300 || !planted.RunAtLoad || planted.KeepAlive ||
		planted.Path != "/Users/alice/Library/LaunchAgents/com.example.updater.plist" ||
		strings.Join(planted.ProgramArguments, "|") != "/Users/alice/Library/Application Support/.updater/updater|--server|cdn.example.net" {
		t.Fatalf("planted job: %+v", planted)
	}
	teams := map[string]string{}
	for _, j := range h.Jobs {
		teams[j.Label] = j.TeamID
	}
	if teams["com.jamf.management.daemon"] != "483DWKW443" || teams["com.example.updater"] != "" {
		t.Errorf("team IDs: %v", teams)
	}
	for _, c := range []struct {
		ip, mac, host, want, plat string
	}{
		{"10.20.1.22", "", "", "bobs-mbp", "macos"},
		{"10.99.9.9", "00:15:5D:07:07:07", "", "win-desk-07", "windows"},
		{"", "", "BUILD-LINUX.corp.example", "build-linux", "linux"},
		{"::ffff:10.20.3.9", "", "", "build-linux", "linux"},
	} {
		var ip netip.Addr
		if c.ip != "" {
			ip = netip.MustParseAddr(c.ip)
		}
		mac := ""
		if c.mac != "" {
			mac, _ = inventory.NormalizeMAC(c.mac)
		}
		h := inv.Find(ip, mac, c.host)
		if h == nil || h.Hostname != c.want || string(h.Platform) != c.plat {
			t.Errorf("Find(%q,%q,%q) = %+v, want %s", c.ip, c.mac, c.host, h, c.want)
		}
	}
	if inv.Find(netip.MustParseAddr("10.20.1.150"), "", "") != nil {
		t.Error("10.20.1.150 must not match 10.20.1.15")
	}
}

func TestParseErrors(t *testing.T) {
	job := `{"label":"a","path":"/Library/LaunchAgents/a.plist","start_interval":300}`
	dev := func(extra string) string {
		return `{"devices":[{"hostname":"h","platform":"darwin","ip_addresses":["10.0.0.1"],"launchd":[` + extra + `]}]}`
	}
	tests := []struct {
		name, in, want string
	}{
		{"syntax", `{"devices":[}`, "line 1 column 13"},
		{"trailing", `{"devices":[]} x`, "after the top-level"},
		{"top unknown", `{"device":[]}`, `unknown field "device" (did you mean "devices"?)`},
		{"camelCase", dev(`{"label":"a","startInterval":300}`), `devices[0].launchd[0]: unknown field "startInterval" (did you mean "start_interval"?)`},
		{"case", dev(`{"Label":"a"}`), `unknown field "Label" (did you mean "label"?)`},
		{"string interval", dev(`{"label":"a","start_interval":"300"}`), "devices[0].launchd[0].start_interval: want an integer, got a string"},
		{"float interval", dev(`{"label":"a","start_interval":300.5}`), "want an integer, got 300.5"},
		{"negative", dev(`{"label":"a","start_interval":-1}`), "outside 0.."},
		{"bool as string", dev(`{"label":"a","run_at_load":"true"}`), "run_at_load: want true or false"},
		{"no label", dev(`{"path":"/x"}`), "label: missing or empty"},
		{"bad time", dev(`{"label":"a","modified":"yesterday"}`), "not an RFC 3339 time"},
		{"single calendar", dev(`{"label":"a","start_calendar_interval":{"Minute":0}}`), "wrap a single dictionary in [ ]"},
		{"calendar case", dev(`{"label":"a","start_calendar_interval":[{"minute":0}]}`), `unknown field "minute" (did you mean "Minute"?)`},
		{"calendar range", dev(`{"label":"a","start_calendar_interval":[{"Hour":24}]}`), "Hour: 24 is outside 0..23"},
		{"platform", `{"devices":[{"hostname":"h","platform":"macos"}]}`, `"macos" is not one of darwin, windows, linux, ios`},
		{"bad ip", `{"devices":[{"hostname":"h","platform":"linux","ip_addresses":["10.0.0"]}]}`, `ip_addresses[0]: "10.0.0" is not an IP address`},
		{"bad mac", `{"devices":[{"hostname":"h","platform":"linux","mac_addresses":["zz"]}]}`, `mac_addresses[0]`},
		{"anonymous", `{"devices":[{"platform":"linux","ip_addresses":["10.0.0.1"]}]}`, "needs a hostname or a serial"},
		{"not object", `[]`, "inventory: want an object, got an array"},
		{"devices missing", `{}`, `missing "devices"`},
		{"truncated", `{"devices":[{"hostname":"h"`, "truncated JSON"},
		{"args type", dev(`{"label":"a","program_arguments":"x y"}`), "program_arguments: want an array of strings"},
		{"bad team ID", dev(`{"label":"a","team_id":"Jamf"}`), `launchd[0].team_id: "Jamf" is not a team identifier`},
		{"team ID ok", dev(`{"label":"a","team_id":"483dwkw443"}`), ""},
		{"team ID not set", dev(`{"label":"a","team_id":"not set"}`), ""},
		{"ok", dev(job), ""},
		{"null fields ok", dev(`{"label":"a","start_calendar_interval":null,"modified":null,"program_arguments":null}`), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestDuplicateAddressWarns(t *testing.T) {
	inv, err := Parse([]byte(`{"devices":[
	  {"hostname":"a","platform":"darwin","ip_addresses":["10.0.0.1"]},
	  {"hostname":"b","platform":"darwin","ip_addresses":["10.0.0.1"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Warnings) != 1 || inv.Find(netip.MustParseAddr("10.0.0.1"), "", "").Hostname != "a" {
		t.Fatalf("warnings %v", inv.Warnings)
	}
}

func TestCalendarParsed(t *testing.T) {
	inv, err := Parse([]byte(`{"devices":[{"hostname":"h","platform":"darwin","launchd":[{"label":"x","start_calendar_interval":[{"Minute":15,"Hour":3},{"Weekday":7}]}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	c := inv.Hosts[0].Jobs[0].StartCalendarInterval
	want := []inventory.Calendar{{Minute: 15, Hour: 3, Day: -1, Weekday: -1, Month: -1}, {Minute: -1, Hour: -1, Day: -1, Weekday: 0, Month: -1}}
	if len(c) != 2 || c[0] != want[0] || c[1] != want[1] {
		t.Fatalf("calendar %+v", c)
	}
}

func TestReloadAndWatch(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "inv.json")
	write := func(s string) {
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"devices":[{"hostname":"one","platform":"darwin","ip_addresses":["10.0.0.1"]}]}`)
	p, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Watch(ctx, 10*time.Millisecond)
	q := inventory.Query{IP: netip.MustParseAddr("10.0.0.1")}
	if h, err := p.Lookup(ctx, q); err != nil || h.Hostname != "one" {
		t.Fatalf("lookup: %v %v", h, err)
	}
	write(`{"devices":[{"hostname":"two","platform":"darwin","ip_addresses":["10.0.0.1", "10.0.0.2"]}]}`)
	waitFor(t, func() bool { h, _ := p.Lookup(ctx, q); return h != nil && h.Hostname == "two" })
	// A broken file keeps the last good inventory.
	write(`{"devices":[{"hostname":"three","platform":"darwin","bogus":1}]}`)
	waitFor(t, func() bool { return p.ReloadErrors.Load() >= 1 })
	if h, _ := p.Lookup(ctx, q); h == nil || h.Hostname != "two" {
		t.Fatalf("after broken reload: %+v", h)
	}
	if err := p.Reload(); err == nil || !strings.Contains(err.Error(), `unknown field "bogus"`) {
		t.Fatalf("Reload: %v", err)
	}
	_, err = p.Lookup(ctx, inventory.Query{IP: netip.MustParseAddr("10.9.9.9")})
	if !errors.Is(err, inventory.ErrHostNotFound) {
		t.Fatalf("not found: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestOpenMissing(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "nope.json"), nil); err == nil {
		t.Fatal("want error")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(bundled(f))
	f.Add([]byte(`{"devices":[{"hostname":"h","platform":"darwin","ip_addresses":["10.0.0.1"],"launchd":[{"label":"a","start_calendar_interval":[{"Minute":0}]}]}]}`))
	f.Add([]byte(`{"devices":[{"hostname":"h","platform":"ios","mac_addresses":["AA-BB-CC-DD-EE-FF"]}]}`))
	f.Add([]byte(`{"devices":null}`))
	f.Add([]byte(`{"devices":[{"launchd":[{"label":1e400}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := Parse(data)
		if err != nil {
			return
		}
		for _, h := range inv.Hosts {
			if h.Hostname == "" && h.Serial == "" {
				t.Fatal("accepted a nameless device")
			}
			for _, j := range h.Jobs {
				if j.Label == "" || j.StartInterval < 0 {
					t.Fatalf("accepted bad job %+v", j)
				}
			}
		}
	})
}
