package jamfdeploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/launchtap/launchtap/enrich/inventory"
	"github.com/launchtap/launchtap/enrich/jamf"
)

const xmlHead = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
`

var plists = map[string]string{
	// The demo's planted agent, with keys the attribute must drop.
	"Users/alice/Library/LaunchAgents/com.example.updater.plist": xmlHead + `<dict>
	<key>Label</key><string>com.example.updater</string>
	<key>ProgramArguments</key><array>
		<string>/Users/alice/Library/Application Support/.updater/updater</string>
		<string>--server</string><string>cdn.example.net</string></array>
	<key>RunAtLoad</key><true/>
	<key>KeepAlive</key><false/>
	<key>StartInterval</key><integer>300</integer>
	<key>EnvironmentVariables</key><dict><key>A</key><string>"quoted", {braced}: [x]</string></dict>
	<key>StandardOutPath</key><string>/tmp/u.log</string>
</dict></plist>`,
	// A <date> value makes plutil -convert json fail: read key by key.
	"Library/LaunchDaemons/com.vendor.nightly.plist": xmlHead + `<dict>
	<key>Label</key><string>com.vendor.nightly</string>
	<key>Program</key><string>/Library/Vendor/nightly "tool"</string>
	<key>StartCalendarInterval</key><dict><key>Hour</key><integer>2</integer><key>Minute</key><integer>30</integer></dict>
	<key>KeepAlive</key><dict><key>SuccessfulExit</key><false/></dict>
	<key>Disabled</key><true/>
	<key>InstalledOn</key><date>2026-01-02T03:04:05Z</date>
</dict></plist>`,
	"Library/LaunchAgents/broken.plist":           "this is not a plist",
	"Library/LaunchAgents/we\"ird name.plist":     xmlHead + `<dict><key>Label</key><string>org.weird</string><key>StartInterval</key><integer>60</integer></dict></plist>`,
	"Library/LaunchAgents/array.plist":            xmlHead + `<array><string>x</string></array></plist>`,
	"Users/bob/Library/LaunchAgents/hourly.plist": xmlHead + `<dict><key>Label</key><string>com.bob.hourly</string><key>ProgramArguments</key><array><string>/Users/bob/bin/sync</string></array><key>StartCalendarInterval</key><array><dict><key>Minute</key><integer>0</integer></dict><dict><key>Minute</key><integer>30</integer><key>Weekday</key><integer>7</integer></dict></array></dict></plist>`,
	// Programs, for codesign (testdata/codesign) to read a team from.
	"Library/Vendor/nightly \"tool\"":                          "binary",
	"Users/alice/Library/Application Support/.updater/updater": "binary",
	"System/Library/LaunchDaemons/com.apple.timed.plist":       xmlHead + `<dict><key>Label</key><string>com.apple.timed</string><key>Program</key><string>/usr/libexec/timed</string><key>KeepAlive</key><true/><key>UserName</key><string>_timed</string></dict></plist>`,
}

func runEA(t *testing.T, awk string, includeSystem bool) string {
	t.Helper()
	python := "/usr/bin/python3" // not a pyenv shim: those take seconds to start
	if _, err := os.Stat(python); err != nil {
		if python, err = exec.LookPath("python3"); err != nil {
			t.Skip("python3 (for the plutil stand-in) not installed")
		}
	}
	awkPath, err := exec.LookPath(awk)
	if err != nil {
		t.Skipf("%s not installed (apt-get install original-awk for macOS's BWK awk)", awk)
	}
	root := t.TempDir()
	for p, body := range plists {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := t.TempDir()
	td, _ := filepath.Abs("testdata")
	wrapper := "#!/bin/sh\nexec " + python + " " + filepath.Join(td, "plutil.py") + ` "$@"` + "\n"
	if err := os.WriteFile(filepath.Join(bin, "plutil"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"stat", "dscl", "codesign"} {
		if err := os.Symlink(filepath.Join(td, tool), filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(awkPath, filepath.Join(bin, "awk")); err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile("launchd-jobs-ea.sh")
	if err != nil {
		t.Fatal(err)
	}
	s := string(script)
	for old, repl := range map[string]string{
		"PATH=/usr/bin:/bin:/usr/sbin:/sbin\n": "PATH=" + bin + ":/usr/bin:/bin\n",
		`ROOT=""`:                              `ROOT="` + root + `"`,
	} {
		if !strings.Contains(s, old) {
			t.Fatalf("script lacks %q", old)
		}
		s = strings.Replace(s, old, repl, 1)
	}
	if !includeSystem {
		s = strings.Replace(s, "INCLUDE_SYSTEM=1", "INCLUDE_SYSTEM=0", 1)
	}
	cmd := exec.Command("/bin/sh", "-c", s)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("script: %v", err)
	}
	return string(out)
}

func TestExtensionAttribute(t *testing.T) {
	for _, awk := range []string{"original-awk", "mawk"} {
		t.Run(awk, func(t *testing.T) {
			out := runEA(t, awk, true)
			if !strings.HasPrefix(out, "<result>{") || !strings.HasSuffix(out, "}</result>\n") {
				t.Fatalf("not wrapped in <result>: %q", out)
			}
			if strings.Contains(out, "EnvironmentVariables") || strings.Contains(out, "InstalledOn") || strings.Contains(out, "StandardOutPath") {
				t.Errorf("unfiltered keys leaked: %s", out)
			}
			ea, err := jamf.ParseEA(out)
			if err != nil {
				t.Fatalf("ParseEA: %v\n%s", err, out)
			}
			if ea.Truncated || ea.Generated.IsZero() {
				t.Errorf("header: %+v", ea)
			}
			jobs := map[string]inventory.Job{}
			for _, j := range ea.Jobs {
				jobs[j.Label] = j
			}
			if len(jobs) != 5 || ea.Skipped != 2 {
				t.Fatalf("jobs %v skipped %d %v\n%s", jobs, ea.Skipped, ea.Problems, out)
			}
			u := jobs["com.example.updater"]
			if u.Path != "/Users/alice/Library/LaunchAgents/com.example.updater.plist" || u.StartInterval != 300 || !u.RunAtLoad || u.KeepAlive ||
				strings.Join(u.ProgramArguments, "|") != "/Users/alice/Library/Application Support/.updater/updater|--server|cdn.example.net" || u.Modified.IsZero() {
				t.Errorf("updater %+v", u)
			}
			n := jobs["com.vendor.nightly"]
			if n.Program != `/Library/Vendor/nightly "tool"` || !n.KeepAlive || !n.Disabled || len(n.StartCalendarInterval) != 1 ||
				n.StartCalendarInterval[0].Hour != 2 || n.StartCalendarInterval[0].Minute != 30 {
				t.Errorf("key-by-key fallback %+v", n)
			}
			if w := jobs["org.weird"]; w.Path != `/Library/LaunchAgents/we"ird name.plist` || w.StartInterval != 60 {
				t.Errorf("weird path %+v", w)
			}
			if b := jobs["com.bob.hourly"]; len(b.StartCalendarInterval) != 2 || b.StartCalendarInterval[1].Weekday != 0 || b.StartCalendarInterval[1].Minute != 30 {
				t.Errorf("calendar array %+v", b)
			}
			if a := jobs["com.apple.timed"]; a.Username != "_timed" || !a.KeepAlive || a.Path != "/System/Library/LaunchDaemons/com.apple.timed.plist" {
				t.Errorf("system job %+v", a)
			}
			// Format version 2: the program's team from codesign -dv; none
			// for an ad-hoc signature, a missing program or the system volume.
			if !strings.Contains(out, `{"v":2,`) {
				t.Errorf("format version not 2: %.40s", out)
			}
			for label, team := range map[string]string{"com.vendor.nightly": "ABCDE12345", "com.example.updater": "", "com.apple.timed": "", "com.bob.hourly": ""} {
				if got := jobs[label].TeamID; got != team {
					t.Errorf("%s: team %q, want %q", label, got, team)
				}
			}
		})
	}
}

func TestWithoutSystem(t *testing.T) {
	out := runEA(t, "mawk", false)
	if strings.Contains(out, "/System/") {
		t.Fatalf("INCLUDE_SYSTEM=0 still reads /System: %s", out)
	}
	if _, err := jamf.ParseEA(out); err != nil {
		t.Fatal(err)
	}
}
