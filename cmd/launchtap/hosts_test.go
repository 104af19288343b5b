package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/launchtap/launchtap/internal/testenv"
)

// hostsCaptures is the repository's real captures (testdata/captures).
func hostsCaptures(t *testing.T) string {
	return filepath.Dir(testenv.Capture(t, "README.md"))
}

type hostsRow struct {
	IP         string            `json:"ip"`
	MAC        string            `json:"mac"`
	OS         string            `json:"os"`
	Confidence float64           `json:"confidence"`
	Hostname   string            `json:"hostname"`
	Evidence   []string          `json:"evidence"`
	FirstSeen  string            `json:"first_seen"`
	LastSeen   string            `json:"last_seen"`
	Signals    map[string]uint32 `json:"signals"`
}

func runHostsJSON(t *testing.T, args ...string) ([]hostsRow, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := dispatch(context.Background(), append([]string{"hosts"}, args...), nil, &out, &errb)
	var rows []hostsRow
	for line := range strings.SplitSeq(strings.TrimSpace(out.String()), "\n") {
		if line == "" {
			continue
		}
		var r hostsRow
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %q is not JSON: %v", line, err)
		}
		if r.OS == "" || r.FirstSeen == "" || r.LastSeen == "" || r.Signals == nil || r.Evidence == nil {
			t.Errorf("row lacks fields: %s", line)
		}
		rows = append(rows, r)
	}
	return rows, errb.String(), code
}

func TestHostsEveryCapture(t *testing.T) {
	dir := hostsCaptures(t)
	var files []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".pcap") || strings.HasSuffix(p, ".pcapng")) {
			files = append(files, p)
		}
		return nil
	})
	if len(files) < 10 {
		t.Fatalf("found %d captures", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, stderr, code := runHostsJSON(t, f); code != exitOK {
				t.Errorf("exit %d: %s", code, stderr)
			}
		})
	}
}

func TestHostsRealMac(t *testing.T) {
	dir := hostsCaptures(t)
	rows, stderr, code := runHostsJSON(t, filepath.Join(dir, "real", "macos_tcp_flags.pcap"))
	if code != exitOK || len(rows) != 1 {
		t.Fatalf("exit %d, %d rows; %s", code, len(rows), stderr)
	}
	r := rows[0]
	if r.IP != "172.16.5.16" || r.MAC != "9a:4b:87:d9:e9:6e" || r.OS != "macos" || r.Signals["tcp_syn"] != 1 ||
		!strings.Contains(r.Evidence[0], "Darwin") {
		t.Errorf("row %+v", r)
	}
}

func TestHostsDHCPCapture(t *testing.T) {
	dir := hostsCaptures(t)
	rows, stderr, code := runHostsJSON(t, "--os", "linux", filepath.Join(dir, "real", "cs_dhcp_nolease_initialization.pcapng"))
	if code != exitOK || len(rows) != 1 {
		t.Fatalf("exit %d, %d rows; %s", code, len(rows), stderr)
	}
	if r := rows[0]; r.MAC != "00:0c:29:59:fd:21" || r.Hostname != "ubuntu2" || r.IP != "192.168.1.10" {
		t.Errorf("row %+v", r)
	}
}

func TestHostsBadInput(t *testing.T) {
	notCapture := filepath.Join(t.TempDir(), "x.pcap")
	os.WriteFile(notCapture, []byte("hello, not a capture"), 0o644)
	for _, args := range [][]string{{}, {notCapture}, {"--os", "beos", notCapture}, {"--macos", "10.0.0.0/99", notCapture},
		{"--p0f-db", "/nonexistent", notCapture}} {
		if _, stderr, code := runHostsJSON(t, args...); code != exitUsage || stderr == "" {
			t.Errorf("args %q: exit %d, stderr %q; want %d with a message", args, code, stderr, exitUsage)
		}
	}
}

// TestHostsDemo checks the hosts DEMO.md names in the committed demo capture.
func TestHostsDemo(t *testing.T) {
	demo := filepath.Join("..", "..", "testdata", "demo.pcapng")
	if _, err := os.Stat(demo); err != nil {
		t.Skipf("demo capture absent: %v", err)
	}
	rows, stderr, code := runHostsJSON(t, "--internal", "10.0.0.0/8", demo)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := map[string]struct{ os, mac, hostname string }{
		"10.20.1.15": {"macos", "3c:22:fb:1a:2b:3c", "alices-mbp"},
		"10.20.1.22": {"macos", "3c:22:fb:44:55:66", "bobs-mbp"},
		"10.20.2.40": {"windows", "00:15:5d:07:07:07", ""},
		"10.20.3.9":  {"linux", "52:54:00:12:34:56", "build-linux"},
	}
	seen := 0
	for _, r := range rows {
		w, ok := want[r.IP]
		if !ok {
			continue
		}
		seen++
		if r.OS != w.os || r.MAC != w.mac || (w.hostname != "" && r.Hostname != w.hostname) || r.Confidence < 0.9 {
			t.Errorf("%s: %+v, want %+v with confidence >= 0.9", r.IP, r, w)
		}
	}
	if seen != len(want) {
		t.Errorf("found %d of the %d DEMO.md hosts", seen, len(want))
	}
	macs, _, _ := runHostsJSON(t, "--os", "macos", "--internal", "10.0.0.0/8", demo)
	for _, r := range macs {
		if r.OS != "macos" {
			t.Errorf("--os macos printed %+v", r)
		}
	}
	if len(macs) == 0 || len(macs) >= len(rows) {
		t.Errorf("--os macos printed %d of %d hosts", len(macs), len(rows))
	}
}

func TestHostsConfigFile(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.yaml"), filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("os: windows\n"), 0o644)
	os.WriteFile(bad, []byte("oss: macos\n"), 0o644)
	var out, errb bytes.Buffer
	if code := dispatch(context.Background(), []string{"hosts", "--config", good, demoPcap}, nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	for _, l := range lines {
		if !strings.Contains(l, `"os":"windows"`) {
			t.Errorf("--config os: windows printed a host of another OS: %s", l)
		}
	}
	if !strings.Contains(out.String(), `"ip":"10.20.2.40"`) {
		t.Errorf("--config os: windows left out win-desk-07:\n%s", out.String())
	}
	errb.Reset()
	if code := dispatch(context.Background(), []string{"hosts", "--config", bad, demoPcap}, nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), `unknown key "oss"`) {
		t.Errorf("bad key: exit %d, stderr %q", code, errb.String())
	}
}

// TestHostsInventory: with --inventory the table shows the platform the
// inventory states, as alerts do, and says where it came from.
func TestHostsInventory(t *testing.T) {
	rows, stderr, code := runHostsJSON(t, "--inventory", filepath.Join("..", "..", "testdata", "inventory.json"), demoPcap)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	found := false
	for _, r := range rows {
		if r.IP == "10.20.1.15" {
			found = true
			if r.OS != "macos" || r.Confidence != 1 || len(r.Evidence) == 0 || r.Evidence[0] != "inventory says platform macos" {
				t.Errorf("10.20.1.15: %s %.2f %v", r.OS, r.Confidence, r.Evidence)
			}
		}
	}
	if !found {
		t.Errorf("10.20.1.15 not listed: %v", rows)
	}
}

// With --internal, launchtap hosts learns the prefixes router advertisements
// announce as replay does: a Mac on the office's global IPv6 prefix is
// listed; with --learn-internal=false it is not.
func TestHostsLearnsRouterAdvertPrefix(t *testing.T) {
	w := &learnWire{t: t}
	w.routerAdvert(0)
	w.session(time.Second, netip.MustParseAddr("2001:db8:aa:1::15"), netip.MustParseAddr("2001:db8:ffff::10"))
	whole, _, _ := w.write(time.Hour)
	for _, tc := range []struct {
		learn string
		want  int
	}{{"true", 1}, {"false", 0}} {
		rows, stderr, code := runHostsJSON(t, "--internal", "10.0.0.0/8", "--learn-internal="+tc.learn, whole)
		if code != exitOK || len(rows) != tc.want {
			t.Fatalf("--learn-internal=%s: exit %d, %d rows, want %d; %s", tc.learn, code, len(rows), tc.want, stderr)
		}
		if tc.want == 1 && (rows[0].IP != "2001:db8:aa:1::15" || rows[0].OS != "macos") {
			t.Errorf("row %+v", rows[0])
		}
		if learned := strings.Contains(stderr, "prefix=2001:db8:aa:1::/64"); learned != (tc.learn == "true") {
			t.Errorf("--learn-internal=%s: learned logged %v; %s", tc.learn, learned, stderr)
		}
	}
}
