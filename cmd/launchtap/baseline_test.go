package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMasqueradeAlerts is the experiment: the demo's planted agent
// renamed after Jamf (same hidden program in ~/Library, same user plist,
// same destination) must still alert, at high severity, saying why.
func TestMasqueradeAlerts(t *testing.T) {
	inv, err := os.ReadFile("../../testdata/inventory.json")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "inventory.json")
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(string(inv), "com.example.updater", "com.jamf.updater")), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := replay(t, nil, "replay", "--sensor-name", "demo", "--inventory", p, "--workers", "1", demoPcap)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 || !strings.Contains(stderr, "approved_label=0") || !strings.Contains(stderr, "masquerades: 1") {
		t.Fatalf("want the masquerade alerted, got %d alerts; summary:\n%s", len(lines), stderr)
	}
	var a struct {
		Severity   string   `json:"severity"`
		Reasons    []string `json:"reasons"`
		Enrichment struct {
			Jobs []struct {
				Label    string   `json:"label"`
				Approved bool     `json:"approved"`
				Why      []string `json:"why"`
			} `json:"jobs"`
		} `json:"enrichment"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &a); err != nil {
		t.Fatal(err)
	}
	reason := a.Reasons[len(a.Reasons)-1]
	if a.Severity != "high" || a.Enrichment.Jobs[0].Label != "com.jamf.updater" || a.Enrichment.Jobs[0].Approved ||
		!strings.Contains(reason, "masquerades") || !strings.Contains(reason, "user-writable ~/Library/LaunchAgents") || !strings.Contains(reason, "not the Jamf agent") {
		t.Errorf("severity %s, best job %+v, reason %q", a.Severity, a.Enrichment.Jobs[0], reason)
	}
}

func TestBaselineCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte(`approved_labels: [com.acme.agent]
rules:
  - name: acme-backup
    labels: [com.acme.backupd]
    programs: ["/Library/Application Support/Acme/"]
    team_ids: [ABCDE12345]
    plist: system
    destinations: [backup.acme.example]
  - name: everything
    destinations: ["*.com"]
`), 0o600)
	code, out, stderr := replay(t, nil, "baseline", "check", good)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		`built-in:`, `"jamf": label com.jamf.* | com.jamfsoftware.*, program under`,
		`good.yaml:3`, `"acme-backup": label com.acme.backupd, program under /Library/Application Support/Acme/, team ID ABCDE12345, plist system, destination backup.acme.example`,
		`warning: ` + good + `:1: rule "com.acme.agent": weak`,
		`warning: ` + good + `:9: rule "everything": broad: destination glob "*.com"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("rules:\n  - name: x\n    plist: somewhere\n"), 0o600)
	code, _, stderr = replay(t, nil, "baseline", "check", bad)
	if code != exitFailure || !strings.Contains(stderr, bad+`:3: rules[0].plist: "somewhere" is not system or user`) {
		t.Errorf("bad file: exit %d, stderr %q", code, stderr)
	}

	code, out, _ = replay(t, nil, "baseline", "check")
	if code != 0 || !strings.Contains(out, "no weak or broad rules") {
		t.Errorf("built-in alone: exit %d\n%s", code, out)
	}
	if code, _, _ = replay(t, nil, "baseline"); code != exitUsage {
		t.Errorf("baseline without check: exit %d", code)
	}
}

// TestReplayWarnsWeakBaseline: a weak rule in --baseline is logged at load.
func TestReplayWarnsWeakBaseline(t *testing.T) {
	p := filepath.Join(t.TempDir(), "b.yaml")
	os.WriteFile(p, []byte("approved_labels: [com.example.*]\n"), 0o600)
	code, out, stderr := replay(t, nil, demoArgs("1", "--baseline", p)...)
	if code != 0 || !strings.Contains(stderr, "baseline rule is weak or broad") || !strings.Contains(stderr, p+":1") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	// The weak label rule approves the planted agent by its label: the
	// reason to warn.
	if strings.TrimSpace(out) != "" || !strings.Contains(stderr, "approved_label=1") {
		t.Errorf("alerts %q, stderr:\n%s", out, stderr)
	}
}
