package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/launchtap/launchtap/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite golden files")

const (
	demoPcap   = "../../testdata/demo.pcapng"
	demoGolden = "../../testdata/demo.alerts.jsonl"
)

// demoArgs is exactly what `make demo` runs, plus the worker count.
func demoArgs(workers string, extra ...string) []string {
	args := []string{"replay", "--sensor-name", "demo", "--inventory", "../../testdata/inventory.json", "--workers", workers}
	return append(append(args, extra...), demoPcap)
}

func replay(t *testing.T, stdin []byte, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = dispatch(context.Background(), args, bytes.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestDemoGolden(t *testing.T) {
	code, out, stderr := replay(t, nil, demoArgs("1")...)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if *update {
		if err := os.WriteFile(demoGolden, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(demoGolden)
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Errorf("alerts differ from %s (run with -update if intended):\ngot:\n%s\nwant:\n%s", demoGolden, out, want)
	}
	// The planted beacon, and nothing else, must alert.
	var alerts []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var a map[string]any
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("alert is not JSON: %v: %s", err, line)
		}
		alerts = append(alerts, a)
	}
	if len(alerts) != 1 {
		t.Fatalf("want exactly the planted alert, got %d", len(alerts))
	}
	a := alerts[0]
	if a["src_ip"] != "10.20.1.15" || a["dst_fqdn"] != "cdn.example.net" || a["dst_port"] != 443.0 || a["proto"] != "tcp" {
		t.Errorf("wrong pair: %v", a)
	}
	if p := a["period_s"].(float64); p < 294 || p > 306 {
		t.Errorf("period %v, want 300 ± 2 %%", p)
	}
	for _, field := range []string{"ts", "src_ip", "src_mac", "dst_fqdn", "dst_ips", "dst_port", "proto", "period_s",
		"jitter", "beats", "first_seen", "last_seen", "score", "bytes_out_median", "bytes_in_median", "host_os", "reasons"} {
		if _, ok := a[field]; !ok {
			t.Errorf("alert lacks %q", field)
		}
	}
}

// Sharding must not change what is found: one worker or several, the same
// alerts. (Host evidence counts may differ: a DHCP DISCOVER, which has no
// address yet, reaches only the worker its source hashes to.)
func TestDemoShardedSameAlerts(t *testing.T) {
	for _, os := range []string{"macos", "any"} {
		_, one, _ := replay(t, nil, demoArgs("1", "--os", os)...)
		code, three, stderr := replay(t, nil, demoArgs("3", "--os", os)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if a, b := alertKeys(t, one), alertKeys(t, three); !sameAlerts(a, b, 0) || len(a) == 0 {
			t.Errorf("--os %s: 1 worker:\n%+v\n3 workers:\n%+v", os, a, b)
		}
	}
}

// TestSummaryHostsSameWithWorkers: the summary counts each host and each
// DHCP message once, whatever the worker count (DHCP from a host without an
// address reaches every worker).
func TestSummaryHostsSameWithWorkers(t *testing.T) {
	var first map[string]uint64
	for _, w := range []string{"1", "2", "4"} {
		path := filepath.Join(t.TempDir(), "summary.json")
		code, _, stderr := replay(t, nil, "replay", "--workers", w, "--summary", path, demoPcap)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var sum struct {
			Hosts map[string]uint64 `json:"hosts"`
		}
		b, _ := os.ReadFile(path)
		if err := json.Unmarshal(b, &sum); err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = sum.Hosts
			if first["hosts"] == 0 || first["dhcp"] == 0 {
				t.Fatalf("1 worker: %v", first)
			}
			continue
		}
		for _, k := range []string{"hosts", "dhcp", "dhcp_errors", "syns", "mdns"} {
			if sum.Hosts[k] != first[k] {
				t.Errorf("%s workers: %s = %d, 1 worker: %d", w, k, sum.Hosts[k], first[k])
			}
		}
	}
}

// alertKey is what detection decided about one alert.
type alertKey struct {
	ID       string  `json:"id"`
	SrcIP    string  `json:"src_ip"`
	DstFQDN  string  `json:"dst_fqdn"`
	DstPort  int     `json:"dst_port"`
	Proto    string  `json:"proto"`
	Kind     string  `json:"kind"`
	Severity string  `json:"severity"`
	HostOS   string  `json:"host_os"`
	Beats    int     `json:"beats"`
	PeriodS  float64 `json:"period_s"`
}

// jsonLines parses JSON Lines alerts into a T each, in order; a line that
// is not JSON fails the test.
func jsonLines[T any](t *testing.T, jsonl string) []T {
	t.Helper()
	var out []T
	for _, l := range strings.Split(strings.TrimSpace(jsonl), "\n") {
		if l == "" {
			continue
		}
		var a T
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatalf("alert is not JSON: %v: %s", err, l)
		}
		out = append(out, a)
	}
	return out
}

// alertKeys parses JSON Lines alerts into keys sorted by ID.
func alertKeys(t *testing.T, jsonl string) []alertKey {
	t.Helper()
	keys := jsonLines[alertKey](t, jsonl)
	sort.Slice(keys, func(i, j int) bool { return keys[i].ID < keys[j].ID })
	return keys
}

// sameAlerts reports whether two runs alerted on the same pairs with the same
// verdicts and periods within tol (a live capture's kernel timestamps carry
// the replaying tool's scheduling error).
func sameAlerts(a, b []alertKey, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if math.Abs(x.PeriodS-y.PeriodS) > tol*x.PeriodS {
			return false
		}
		x.PeriodS, y.PeriodS = 0, 0
		if x != y {
			return false
		}
	}
	return true
}

func TestSummaryJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "summary.json")
	code, _, stderr := replay(t, nil, "replay", "--summary", path, demoPcap)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var s map[string]any
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"packets", "bytes", "decode_errors", "pairs_tracked", "evictions", "alerts", "packets_per_s"} {
		if _, ok := s[k]; !ok {
			t.Errorf("summary lacks %q: %s", k, b)
		}
	}
	if s["packets"].(float64) < 1000 {
		t.Errorf("packets = %v", s["packets"])
	}
	// The detector's work: the demo's beacon beats and is rescored.
	beats, _ := s["beats"].(map[string]any)
	for _, k := range []string{"beats", "grouped", "out_of_order", "late", "scored", "steady", "unalertable", "collisions"} {
		if _, ok := beats[k]; !ok {
			t.Errorf("summary's beats lacks %q: %s", k, b)
		}
	}
	if n, _ := beats["beats"].(float64); n == 0 || beats["scored"].(float64) == 0 || beats["scored"].(float64) > n {
		t.Errorf("beats %v, scored %v", beats["beats"], beats["scored"])
	}
	if !strings.Contains(stderr, "  beats: beats=") {
		t.Errorf("no beats line on stderr: %s", stderr)
	}
	if !strings.Contains(stderr, "packets/s") {
		t.Errorf("no summary on stderr: %s", stderr)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("this is not a capture\n"), 0o644)
	demo, err := os.ReadFile(demoPcap)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.pcapng")
	os.WriteFile(cut, demo[:len(demo)/2], 0o644)

	tests := []struct {
		name     string
		args     []string
		code     int
		inStderr []string
	}{
		{"not a capture", []string{"replay", text}, 2, []string{"notes.txt"}},
		{"missing file", []string{"replay", filepath.Join(dir, "nope.pcap")}, 2, []string{"nope.pcap"}},
		{"no capture given", []string{"replay"}, 2, []string{"no capture"}},
		{"unknown flag", []string{"replay", "--bogus", demoPcap}, 2, []string{"bogus"}},
		{"bad internal", []string{"replay", "--internal", "10.0.0.0/99", demoPcap}, 2, []string{"internal"}},
		{"truncated", []string{"replay", cut}, 0, []string{"cut.pcapng", "offset"}},
		{"unknown command", []string{"frobnicate"}, 2, []string{"frobnicate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := replay(t, nil, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.code, stderr)
			}
			for _, s := range tt.inStderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
		})
	}
}

func TestNotACaptureIsOneLine(t *testing.T) {
	f := filepath.Join(t.TempDir(), "x.pcap")
	os.WriteFile(f, []byte("GIF89a........"), 0o644)
	code, _, stderr := replay(t, nil, "replay", f)
	if code != 2 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, f) {
		t.Fatalf("exit %d, stderr %q: want one line naming the file, exit 2", code, stderr)
	}
}

// TestBadFlagValues: a value a flag cannot mean is a one-line error naming
// the flag, then where to read more, exit 2 — never a silent default — with
// or without --syslog.
func TestBadFlagValues(t *testing.T) {
	for _, tc := range []struct{ flag, value, want string }{
		{"--enrich-timeout", "-1s", "enrich-timeout: must be positive"},
		{"--enrich-concurrency", "0", "enrich-concurrency: must be at least 1"},
		{"--enrich-cache-ttl", "0", "enrich-cache-ttl: must be positive"},
		{"--syslog-queue", "0", "syslog-queue: must be at least 1"},
		{"--spool-max-bytes", "-1", "spool-max-bytes: must be positive"},
		{"--syslog-format", "xml", `unknown format "xml"`},
		{"--syslog-max-udp", "100", "--syslog-max-udp 100"},
		{"--unknown-min-score", "1.5", "unknown-min-score: 1.5 is not within 0..1"},
		{"--proxy", "10.20.0.8", `proxy: "10.20.0.8" is not addr:port`},
		{"--proxy", "10.20.0.8:0", `proxy: "10.20.0.8:0" is not addr:port`},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			code, _, stderr := replay(t, nil, "replay", tc.flag, tc.value, demoPcap)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if code != 2 || len(lines) != 2 || !strings.Contains(lines[0], tc.want) || lines[1] != "see launchtap replay --help" {
				t.Errorf("exit %d, stderr %q: want exit 2, one line containing %q and the help hint", code, stderr, tc.want)
			}
		})
	}
}

// TestBadProfilePath: a profile that cannot be written is an error before
// anything runs (it once left the process waiting for an alert stage that
// could never end).
func TestBadProfilePath(t *testing.T) {
	done := make(chan string, 1)
	go func() {
		code, _, stderr := replay(t, nil, "replay", "--cpu-profile", filepath.Join(t.TempDir(), "no", "such", "dir", "x.prof"), demoPcap)
		done <- fmt.Sprintf("%d %s", code, stderr)
	}()
	select {
	case got := <-done:
		if !strings.HasPrefix(got, "2 ") || !strings.Contains(got, "cpu-profile:") {
			t.Errorf("got %q, want exit 2 naming cpu-profile", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("replay with an unwritable --cpu-profile did not return")
	}
}

func TestStdin(t *testing.T) {
	demo, _ := os.ReadFile(demoPcap)
	code, out, stderr := replay(t, demo, "replay", "--os", "any", "-")
	_, fromFile, _ := replay(t, nil, "replay", "--os", "any", demoPcap)
	if code != 0 || sortedLines(out) != sortedLines(fromFile) || out == "" {
		t.Fatalf("stdin replay: exit %d, %d bytes of alerts vs %d from the file; stderr %s", code, len(out), len(fromFile), stderr)
	}
}

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	tests := []struct {
		name   string
		config string
		args   []string
		code   int
		want   string // in stderr
	}{
		{"unknown key", "os: any\nbeacon-min-beat: 6\n", nil, 2, `unknown key "beacon-min-beat" (did you mean "beacon-min-beats"?)`},
		{"bad value", "workers: many\n", nil, 2, `key "workers"`},
		{"not a mapping", "- a\n- b\n", nil, 2, "mapping"},
		{"valid", "os: any\nworkers: 2\ninternal:\n  - 10.0.0.0/8\n  - 192.168.0.0/16\n", nil, 0, "2 workers"},
		{"command line wins", "workers: 2\n", []string{"--workers", "1"}, 0, "1 workers"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := write(filepath.Base(t.Name())+string(rune('a'+i))+".yaml", tt.config)
			args := append([]string{"replay", "--config", cfg}, tt.args...)
			code, _, stderr := replay(t, nil, append(args, demoPcap)...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d (want %d); stderr lacks %q:\n%s", code, tt.code, tt.want, stderr)
			}
		})
	}
}

// Every real capture in testdata/captures replays without error.
func TestSharedCaptures(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(testenv.Captures(), "*", "*.pcap*"))
	if len(files) < 20 {
		t.Fatalf("%d captures in %s: the repository holds more", len(files), testenv.Captures())
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			code, _, stderr := replay(t, nil, "replay", "--os", "any", f)
			if code != 0 || strings.Contains(stderr, "level=ERROR") {
				t.Errorf("exit %d:\n%s", code, stderr)
			}
		})
	}
	// And all of them at once, merged.
	code, _, stderr := replay(t, nil, append([]string{"replay"}, files...)...)
	if code != 0 {
		t.Errorf("merged replay: exit %d:\n%s", code, stderr)
	}
}

func sortedLines(s string) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	sort.Strings(l)
	return strings.Join(l, "\n")
}

// The example configuration shipped in deploy/ must stay valid for run: a
// rejected key would stop the packaged service at start.
func TestDeployConfigValid(t *testing.T) {
	code, _, stderr := replay(t, nil, "run", "--config", "../../deploy/launchtap.yaml", "-i", "lt-none0")
	if code == exitUsage || strings.Contains(stderr, "config") {
		t.Fatalf("deploy/launchtap.yaml rejected (exit %d):\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "lt-none0") {
		t.Fatalf("want the run to fail on the missing interface, got exit %d:\n%s", code, stderr)
	}
}
