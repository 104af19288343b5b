package baseline

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const acmeRule = `
include_default: false
rules:
  - name: acme-backup
    description: the Acme backup agent
    labels: [com.acme.backup*]
    programs: ["/Library/Application Support/Acme/", /usr/local/acme/bin/acmed]
    team_ids: [ABCDE12345]
    plist: system
    destinations: [backup.acme.example, "*.acme.example", 198.51.100.0/24]
    ports: [443]
`

var acme = Job{
	Label:   "com.acme.backupd",
	Plist:   "/Library/LaunchDaemons/com.acme.backupd.plist",
	Program: "/Library/Application Support/Acme/acmed",
	TeamID:  "ABCDE12345",
}

var acmeDest = Destination{Name: "backup.acme.example", Port: 443}

func mustParse(t *testing.T, y string) *Baseline {
	t.Helper()
	b, err := Parse([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRuleParts: every part a rule sets must match; each is tested alone
// by changing only it.
func TestRuleParts(t *testing.T) {
	b := mustParse(t, acmeRule)
	for _, tc := range []struct {
		name   string
		job    func(*Job)
		dest   func(*Destination)
		want   bool
		masq   bool
		reason string
	}{
		{name: "all parts match", want: true, reason: `approved by baseline rule "acme-backup"`},
		{name: "label glob", job: func(j *Job) { j.Label = "com.acme.other" }},
		{name: "program prefix", job: func(j *Job) { j.Program = "/Library/Application Support/Other/acmed" }, masq: true, reason: "is not under"},
		{name: "program file prefix matches only itself", job: func(j *Job) { j.Program = "/usr/local/acme/bin/acmed" }, want: true},
		{name: "program file prefix is not a string prefix", job: func(j *Job) { j.Program = "/usr/local/acme/bin/acmed-evil" }, masq: true},
		{name: "program path with .. is cleaned", job: func(j *Job) { j.Program = "/Library/Application Support/Acme/../../../Users/eve/x" }, masq: true},
		{name: "team ID", job: func(j *Job) { j.TeamID = "ZZZZZ99999" }, masq: true, reason: "signed by team ZZZZZ99999"},
		{name: "team ID case-insensitive", job: func(j *Job) { j.TeamID = "abcde12345" }, want: true},
		{name: "plist location", job: func(j *Job) { j.Plist = "/Users/eve/Library/LaunchAgents/com.acme.backupd.plist" }, masq: true, reason: "user-writable"},
		{name: "destination name", dest: func(d *Destination) { d.Name = "cdn.example.net" }, reason: "approves it only towards"},
		{name: "destination glob", dest: func(d *Destination) { d.Name = "eu.backup.acme.example" }, want: true},
		{name: "destination glob is not the bare domain", dest: func(d *Destination) { d.Name = "acme.example" }},
		{name: "destination CIDR", dest: func(d *Destination) {
			d.Name, d.Addrs = "", []netip.Addr{netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("198.51.100.8")}
		}, want: true},
		{name: "destination CIDR needs every address", dest: func(d *Destination) {
			d.Name, d.Addrs = "", []netip.Addr{netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("203.0.113.1")}
		}},
		{name: "port", dest: func(d *Destination) { d.Port = 8443 }, reason: "port 443"},
		{name: "no team ID from the inventory", job: func(j *Job) { j.TeamID = "" }, reason: "gives no team ID"},
		{name: "no program from the inventory", job: func(j *Job) { j.Program = "" }, reason: "gives no program path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, d := acme, acmeDest
			if tc.job != nil {
				tc.job(&j)
			}
			if tc.dest != nil {
				tc.dest(&d)
			}
			v := b.JudgeJob(j, d)
			if v.Approved != tc.want || v.Masquerade != tc.masq || !strings.Contains(v.Why, tc.reason) {
				t.Errorf("approved %v masquerade %v why %q; want %v, %v, mentioning %q", v.Approved, v.Masquerade, v.Why, tc.want, tc.masq, tc.reason)
			}
		})
	}
}

// TestMasqueradeStyles: a job that takes a vendor's label but not the rest
// of its identity is a masquerade, for each way it can fail; the issue's
// renamed demo updater first.
func TestMasqueradeStyles(t *testing.T) {
	b := Default()
	jamfd := Destination{Name: "acme.jamfcloud.com", Port: 443}
	realJamf := Job{
		Label: "com.jamf.management.daemon", Plist: "/Library/LaunchDaemons/com.jamf.management.daemon.plist",
		Program: "/Library/Application Support/JAMF/Jamf.app/Contents/MacOS/Jamf", TeamID: "483DWKW443",
	}
	for _, tc := range []struct {
		name   string
		job    Job
		dest   Destination
		reason string
	}{
		{"renamed updater: hidden program in ~/Library, user plist", Job{
			Label: "com.jamf.updater", Plist: "/Users/alice/Library/LaunchAgents/com.jamf.updater.plist",
			Program: "/Users/alice/Library/Application Support/.updater/updater",
		}, Destination{Name: "cdn.example.net", Port: 443}, "the program /Users/alice/Library/Application Support/.updater/updater is not under"},
		{"label only: right label, program elsewhere", func() Job { j := realJamf; j.Program = "/usr/local/bin/jamf-helper"; return j }(), jamfd, "not the Jamf agent"},
		{"path: program in /tmp", func() Job { j := realJamf; j.Program = "/tmp/Jamf"; return j }(), jamfd, "/tmp/Jamf is not under"},
		{"user-writable location: right program, plist in ~/Library/LaunchAgents", func() Job {
			j := realJamf
			j.Plist = "/Users/bob/Library/LaunchAgents/com.jamf.management.daemon.plist"
			return j
		}(), jamfd, "the plist is in the user-writable ~/Library/LaunchAgents"},
		{"wrong team ID: a copy re-signed by someone else", func() Job { j := realJamf; j.TeamID = "EVIL000001"; return j }(), jamfd, "signed by team EVIL000001, not 483DWKW443"},
		{"apple label outside the system volume", Job{
			Label: "com.apple.bird", Plist: "/Library/LaunchAgents/com.apple.bird.plist", Program: "/Library/Caches/bird",
		}, Destination{Name: "p01-content.icloud-content.com"}, "not Apple's iCloud Drive daemon"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := b.JudgeJob(tc.job, tc.dest)
			if v.Approved || !v.Masquerade || !strings.Contains(v.Why, tc.reason) {
				t.Errorf("approved %v masquerade %v why %q; want a masquerade mentioning %q", v.Approved, v.Masquerade, v.Why, tc.reason)
			}
		})
	}
	if v := b.JudgeJob(realJamf, jamfd); !v.Approved {
		t.Errorf("the real Jamf daemon: %+v", v)
	}
}

// TestRealVendorJobsApproved: the real jobs of common agents, with their
// real program paths and team IDs, are approved towards their vendor's
// hosts and not elsewhere.
func TestRealVendorJobsApproved(t *testing.T) {
	b := Default()
	for _, tc := range []struct {
		job  Job
		dest string
	}{
		{Job{"com.jamfsoftware.task.1", "/Library/LaunchDaemons/com.jamfsoftware.task.1.plist", "/usr/local/jamf/bin/jamf", "483DWKW443"}, "acme.jamfcloud.com"},
		{Job{"com.microsoft.update.agent", "/Library/LaunchAgents/com.microsoft.update.agent.plist",
			"/Library/Application Support/Microsoft/MAU2.0/Microsoft AutoUpdate.app/Contents/MacOS/Microsoft Update Assistant.app/Contents/MacOS/Microsoft Update Assistant", "UBF8T346G9"}, "officecdnmac.microsoft.com"},
		{Job{"com.microsoft.autoupdate.helper", "/Library/LaunchDaemons/com.microsoft.autoupdate.helper.plist", "/Library/PrivilegedHelperTools/com.microsoft.autoupdate.helper", "UBF8T346G9"}, "go.microsoft.com"},
		{Job{"com.microsoft.OneDriveStandaloneUpdater", "/Library/LaunchAgents/com.microsoft.OneDriveStandaloneUpdater.plist",
			"/Applications/OneDrive.app/Contents/StandaloneUpdater.app/Contents/MacOS/OneDriveStandaloneUpdater", "UBF8T346G9"}, "g.live.com"},
		{Job{"com.microsoft.EdgeUpdater.wake", "/Users/alice/Library/LaunchAgents/com.microsoft.EdgeUpdater.wake.plist",
			"/Users/alice/Library/Application Support/Microsoft/EdgeUpdater/132.0.2957.140/EdgeUpdater.app/Contents/MacOS/EdgeUpdater", "UBF8T346G9"}, "msedge.api.cdp.microsoft.com"},
		{Job{"com.google.keystone.agent", "/Users/alice/Library/LaunchAgents/com.google.keystone.agent.plist",
			"/Users/alice/Library/Google/GoogleSoftwareUpdate/GoogleSoftwareUpdate.bundle/Contents/Resources/GoogleSoftwareUpdateAgent.app/Contents/MacOS/GoogleSoftwareUpdateAgent", "EQHXZ8M8AV"}, "update.googleapis.com"},
		{Job{"com.google.GoogleUpdater.wake.system", "/Library/LaunchDaemons/com.google.GoogleUpdater.wake.system.plist",
			"/Library/Application Support/Google/GoogleUpdater/Current/GoogleUpdater.app/Contents/MacOS/GoogleUpdater", "EQHXZ8M8AV"}, "dl.google.com"},
		{Job{"us.zoom.ZoomDaemon", "/Library/LaunchDaemons/us.zoom.ZoomDaemon.plist", "/Library/PrivilegedHelperTools/us.zoom.ZoomDaemon", "BJ4HAAB9B3"}, "us05web.zoom.us"},
		{Job{"com.crowdstrike.falcond", "/Library/LaunchDaemons/com.crowdstrike.falcond.plist", "/Applications/Falcon.app/Contents/Resources/falcond", "X9E956P446"}, "ts01-b.cloudsink.net"},
		{Job{"com.dropbox.DropboxMacUpdate.agent", "/Users/bob/Library/LaunchAgents/com.dropbox.DropboxMacUpdate.agent.plist",
			"/Users/bob/Library/Dropbox/DropboxMacUpdate.app/Contents/MacOS/DropboxMacUpdate", "G7HH3F8CAK"}, "client.dropbox.com"},
	} {
		d := Destination{Name: tc.dest, Port: 443}
		if v := b.JudgeJob(tc.job, d); !v.Approved {
			t.Errorf("%s → %s: %+v", tc.job.Label, tc.dest, v)
		}
		if v := b.JudgeJob(tc.job, Destination{Name: "cdn.example.net", Port: 443}); v.Approved || v.Masquerade {
			t.Errorf("%s → cdn.example.net: approved %v masquerade %v", tc.job.Label, v.Approved, v.Masquerade)
		}
	}
}

// TestSharedPlatformsNeedTheJob: Dropbox, Slack, Google APIs and iCloud
// Drive are approved with the vendor's job, never by destination alone.
func TestSharedPlatformsNeedTheJob(t *testing.T) {
	b := Default()
	for _, n := range []string{"content.dropboxapi.com", "files.slack.com", "update.googleapis.com", "p42-content.icloud-content.com"} {
		if r, ok := b.DestinationRule(Destination{Name: n, Port: 443}); ok {
			t.Errorf("%s approved by destination alone (rule %q)", n, r)
		}
	}
	if _, ok := b.DestinationRule(Destination{Name: "icloud.com"}); !ok {
		t.Error("bare icloud.com not approved")
	}
	for _, w := range b.Warnings() {
		if strings.Contains(w.Msg, "shared platform") {
			t.Errorf("built-in: %s", w)
		}
	}
}

func TestGlobSemantics(t *testing.T) {
	b := mustParse(t, "include_default: false\napproved_destinations: [\"*.example.com\", \"api-??.example.org\", example.net, \"*.example.net\"]\n")
	for name, want := range map[string]bool{
		"a.example.com": true, "a.b.example.com": true, "example.com": false, "aexample.com": false,
		"api-01.example.org": true, "api-1.example.org": false, "example.net": true, "www.example.net": true,
		"EXAMPLE.NET.": true,
	} {
		if _, ok := b.ApprovedDestination(name, netip.Addr{}); ok != want {
			t.Errorf("%s: %v, want %v", name, ok, want)
		}
	}
}

func TestDestinationRulePorts(t *testing.T) {
	b := mustParse(t, "include_default: false\nrules:\n  - name: ntp\n    destinations: [ntp.example]\n    ports: [123]\n  - name: net\n    destinations: [192.0.2.0/24]\n    ports: [8443]\n")
	for _, tc := range []struct {
		d    Destination
		want string
	}{
		{Destination{Name: "ntp.example", Port: 123}, "ntp"},
		{Destination{Name: "ntp.example", Port: 443}, ""},
		{Destination{Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.9")}, Port: 8443}, "net"},
		{Destination{Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.9")}, Port: 443}, ""},
	} {
		r, _ := b.DestinationRule(tc.d)
		if r != tc.want {
			t.Errorf("%+v: rule %q, want %q", tc.d, r, tc.want)
		}
	}
	if _, ok := b.ApprovedDestination("ntp.example", netip.Addr{}); ok {
		t.Error("ApprovedDestination ignores ports: a port rule must not answer it")
	}
}

func TestRuleErrorsNameFileAndLine(t *testing.T) {
	for _, tc := range []struct{ yml, want string }{
		{"rules:\n  - name: x\n    plist: usr\n", `b.yaml:3: rules[0].plist: "usr" is not system or user`},
		{"rules:\n  - name: x\n    team_ids: [ABC]\n", "b.yaml:3: rules[0].team_ids"},
		{"rules:\n  - name: x\n    programs: [Library/X]\n", "b.yaml:3: rules[0].programs"},
		{"rules:\n  - name: x\n    programs: [\"/Library/*/x\"]\n", "not globs"},
		{"rules:\n  - name: x\n    ports: [70000]\n    destinations: [a.example]\n", "b.yaml:3: rules[0].ports"},
		{"rules:\n  - name: x\n    lables: [a]\n", `b.yaml:3: rules[0]: unknown key "lables"`},
		{"rules:\n  - name: x\n", "b.yaml:2: rules[0]: a rule needs"},
		{"rules:\n  - name: x\n    labels: [a]\n  - name: x\n    labels: [b]\n", `b.yaml:4: rules[1]: name "x" already used at line 2`},
		{"approved_destinations:\n  - a.example\n  - 10.0.0.0/33\n", "b.yaml:3: approved_destinations[1]"},
		{"rules: {}\n", "b.yaml:1: key \"rules\""},
	} {
		p := filepath.Join(t.TempDir(), "b.yaml")
		if err := os.WriteFile(p, []byte(tc.yml), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%q) error = %v, want it to mention %q", tc.yml, err, tc.want)
		}
	}
}

func TestWarnings(t *testing.T) {
	b := mustParse(t, `include_default: false
approved_labels: [com.acme.agent]
approved_destinations: ["*.com", "*.dropbox.com", 0.0.0.0/1]
rules:
  - name: home
    programs: ["~/bin/"]
    plist: user
  - name: any-acme
    labels: ["com.*"]
    programs: [/Library/Acme/]
`)
	var got []string
	for _, w := range b.Warnings() {
		got = append(got, w.String())
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{
		`line 2: rule "com.acme.agent": weak`,
		`rule "*.com": broad: destination glob "*.com" matches every domain under the public suffix com`,
		`rule "*.dropbox.com": destination "*.dropbox.com" is on dropbox.com, a shared platform`,
		`rule "0.0.0.0/1": broad: network`,
		`rule "home": program prefix "~/bin/" is in the user's home`,
		`rule "home": plist: user is writable`,
		`rule "any-acme": broad: label glob "com.*"`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings lack %q:\n%s", want, all)
		}
	}
	for _, w := range Default().Warnings() {
		if strings.Contains(w.Msg, "weak") {
			t.Errorf("built-in rule is weak: %s", w)
		}
	}
}

func TestPlistLocation(t *testing.T) {
	for p, want := range map[string]Location{
		"/Library/LaunchDaemons/a.plist":                  LocationSystem,
		"/Library/LaunchAgents/a.plist":                   LocationSystem,
		"/System/Library/LaunchAgents/com.apple.a.plist":  LocationSystem,
		"/Users/alice/Library/LaunchAgents/a.plist":       LocationUser,
		"/var/root/Library/LaunchAgents/a.plist":          LocationUser,
		"/Library/LaunchDaemons/../../tmp/a.plist":        LocationOther,
		"/Library/LaunchDaemons/sub/a.plist":              LocationOther,
		"/tmp/a.plist":                                    LocationOther,
		"":                                                LocationUnknown,
		"/Users/alice/Library/LaunchAgents/../x/a.plist":  LocationOther,
		"/Users/alice/Library/LaunchAgentsX/a.plist":      LocationOther,
		"/Users/Shared/Library/LaunchAgents/a.plist":      LocationOther,
		"/Users/alice/Library/LaunchAgents/x/y/z/a.plist": LocationOther,
	} {
		if got := PlistLocation(p); got != want {
			t.Errorf("PlistLocation(%q) = %q, want %q", p, got, want)
		}
	}
}

func TestHomePrefix(t *testing.T) {
	b := mustParse(t, "include_default: false\nrules:\n  - name: tool\n    labels: [org.acme.tool]\n    programs: [\"~/Applications/Acme.app/\"]\n    team_ids: [ABCDE12345]\n")
	j := Job{Label: "org.acme.tool", Plist: "/Users/bob/Library/LaunchAgents/org.acme.tool.plist", Program: "/Users/bob/Applications/Acme.app/Contents/MacOS/acme", TeamID: "ABCDE12345"}
	if v := b.JudgeJob(j, Destination{Name: "x.example"}); !v.Approved {
		t.Errorf("~/ prefix: %+v", v)
	}
	for _, p := range []string{"/Applications/Acme.app/Contents/MacOS/acme", "/Users/Shared/Applications/Acme.app/Contents/MacOS/acme"} {
		j.Program = p
		if v := b.JudgeJob(j, Destination{Name: "x.example"}); v.Approved {
			t.Errorf("~/ prefix matched outside a home (%s): %+v", p, v)
		}
	}
}
