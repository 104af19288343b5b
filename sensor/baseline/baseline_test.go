package baseline

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultApprovesKnownServices(t *testing.T) {
	b := Default()
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"time.apple.com", true},
		{"time-macos.apple.com.", true},
		{"TIME-MACOS.APPLE.COM", true},
		{"17-courier.push.apple.com", true},
		{"mesu.apple.com", true},
		{"acme.jamfcloud.com", true},
		{"jamfcloud.com", false}, // "*." needs a label before the suffix
		{"ts01-b.cloudsink.net", true},
		{"cdn.example.net", false},
		{"telemetry.example.org", false},
		{"apple.com.evil.example", false},
		{"notpush.apple.com", false},
		{"", false},
	} {
		r, ok := b.ApprovedDestination(tc.name, netip.Addr{})
		if ok != tc.ok {
			t.Errorf("ApprovedDestination(%q) = %q, %v; want %v", tc.name, r, ok, tc.ok)
		}
	}
	if r, ok := b.ApprovedDestination("", netip.MustParseAddr("17.57.146.52")); !ok || r != "17.0.0.0/8" {
		t.Errorf("APNs address by IP: %q %v, want Apple's 17.0.0.0/8", r, ok)
	}
	if v := b.JudgeJob(Job{Label: "com.apple.softwareupdated"}, Destination{}); v.Approved {
		t.Error("com.apple.* labels must not be approved by default (malware imitates them)")
	}
	if v := b.JudgeJob(Job{Label: "com.jamf.management.daemon"}, Destination{Name: "acme.jamfcloud.com"}); v.Approved {
		t.Errorf("a Jamf label alone approved the job: %+v", v)
	}
}

// approvesLabel reports whether b approves a job known only by its label.
func approvesLabel(b *Baseline, label string) bool {
	return b.JudgeJob(Job{Label: label}, Destination{}).Approved
}

func TestLoadMergesAndMatchesCIDRs(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "b.yaml")
	yml := "approved_destinations:\n  - \"*.corp.example.com\"\n  - 198.51.100.0/24\n  - 192.0.2.7\n  - \"backup-??.example.org\"\napproved_labels:\n  - com.example.backup\n  - org.acme.*\n"
	if err := os.WriteFile(p, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name, ip string, want bool, rule string) {
		t.Helper()
		var a netip.Addr
		if ip != "" {
			a = netip.MustParseAddr(ip)
		}
		r, ok := b.ApprovedDestination(name, a)
		if ok != want || (want && r != rule) {
			t.Errorf("ApprovedDestination(%q, %q) = %q, %v; want %q, %v", name, ip, r, ok, rule, want)
		}
	}
	check("a.b.corp.example.com", "", true, "*.corp.example.com")
	check("", "198.51.100.9", true, "198.51.100.0/24")
	check("", "::ffff:198.51.100.9", true, "198.51.100.0/24")
	check("", "192.0.2.7", true, "192.0.2.7/32")
	check("", "192.0.2.8", false, "")
	check("backup-07.example.org", "", true, "backup-??.example.org")
	check("time.apple.com", "", true, "time.apple.com") // default merged
	if !approvesLabel(b, "org.acme.agent") {
		t.Error("label glob not applied")
	}
	if !approvesLabel(b, "com.example.backup") {
		t.Error("exact label not applied")
	}
	if approvesLabel(b, "com.example.updater") {
		t.Error("unlisted label approved")
	}
}

func TestIncludeDefaultFalse(t *testing.T) {
	b, err := Parse([]byte("include_default: false\napproved_destinations: [x.example]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.ApprovedDestination("time.apple.com", netip.Addr{}); ok {
		t.Error("default applied despite include_default: false")
	}
	if _, ok := b.ApprovedDestination("x.example", netip.Addr{}); !ok {
		t.Error("own rule missing")
	}
}

func TestBadFilesNameTheProblem(t *testing.T) {
	for _, tc := range []struct{ yml, want string }{
		{"approved_destination: [a]\n", `unknown key "approved_destination"`},
		{"approved_destinations: [10.0.0.0/33]\n", "approved_destinations[0]"},
		{"approved_destinations: [\"[a\"]\n", "bad glob"},
		{"include_default: maybe\n", `key "include_default"`},
		{"- a\n- b\n", "want a mapping"},
		{"approved_labels: \"x\"\n", `key "approved_labels"`},
	} {
		_, err := Parse([]byte(tc.yml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) error = %v, want it to mention %q", tc.yml, err, tc.want)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file error = %v", err)
	}
}

func TestEmptyFileIsDefault(t *testing.T) {
	for _, s := range []string{"", "# nothing\n", "~\n"} {
		b, err := Parse([]byte(s))
		if err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
		if _, ok := b.ApprovedDestination("time.apple.com", netip.Addr{}); !ok {
			t.Errorf("Parse(%q) lost the default", s)
		}
	}
}

func TestLiveReloadKeepsOldOnError(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "b.yaml")
	l := NewLive(nil)
	if _, ok := l.Get().ApprovedDestination("x.example", netip.Addr{}); ok {
		t.Fatal("approved before reload")
	}
	os.WriteFile(p, []byte("approved_destinations: [x.example]\n"), 0o600)
	if err := l.Reload(p); err != nil {
		t.Fatal(err)
	}
	if _, ok := l.Get().ApprovedDestination("x.example", netip.Addr{}); !ok {
		t.Fatal("reload not applied")
	}
	os.WriteFile(p, []byte("bogus: 1\n"), 0o600)
	if err := l.Reload(p); err == nil {
		t.Fatal("bad reload accepted")
	}
	if _, ok := l.Get().ApprovedDestination("x.example", netip.Addr{}); !ok {
		t.Fatal("bad reload replaced the good baseline")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("approved_destinations: ['*.a.example', 10.0.0.0/8]\napproved_labels: [com.x.*]\n"))
	f.Add([]byte("include_default: false\n"))
	f.Add(defaultYAML)
	f.Add([]byte("a: [\n"))
	f.Add([]byte("rules:\n  - name: x\n    labels: [com.x.*]\n    programs: [/Library/X/]\n    team_ids: [ABCDE12345]\n    plist: system\n    destinations: [\"*.x.example\", 10.0.0.0/8]\n    ports: [443]\n"))
	f.Add([]byte("rules:\n  - {programs: [\"~/x/\"], plist: user}\n  - destinations: [a.example]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Parse(data)
		if err != nil {
			return
		}
		b.ApprovedDestination("host.a.example", netip.MustParseAddr("10.1.2.3"))
		b.JudgeJob(Job{Label: "com.x.y", Program: "/Library/X/x", Plist: "/Library/LaunchDaemons/x.plist", TeamID: "ABCDE12345"},
			Destination{Name: "host.a.example", Addrs: []netip.Addr{netip.MustParseAddr("10.1.2.3")}, Port: 443})
		b.Warnings()
	})
}

func BenchmarkApprovedDestination(b *testing.B) {
	bl := Default()
	b.ReportAllocs()
	for b.Loop() {
		bl.ApprovedDestination("edge-17.cdn.example.net", netip.MustParseAddr("203.0.113.10"))
	}
}
