package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/launchtap/launchtap/internal/testenv"
)

// parseOnly parses args as dispatch does, without running the command.
func parseOnly(t *testing.T, args ...string) (*cobra.Command, *app, error) {
	t.Helper()
	a := &app{stdin: strings.NewReader(""), stdout: &strings.Builder{}, stderr: &strings.Builder{}}
	root := a.rootCmd()
	args = normalizeArgs(root, args)
	cmd, rest, err := root.Find(args)
	if err != nil {
		return nil, a, err
	}
	return cmd, a, cmd.ParseFlags(rest)
}

// sampleValue is a value flag f accepts.
func sampleValue(f *pflag.Flag) string {
	switch f.Name {
	case "internal", "macos":
		return "10.0.0.0/8"
	case "syslog":
		return "udp://127.0.0.1:514"
	case "os":
		return "macos"
	case "i", "interface":
		return "eth0"
	case "syslog-resend-window":
		return "2s"
	}
	if f.DefValue != "" {
		return f.DefValue
	}
	switch f.Value.Type() {
	case "int", "func", "float64":
		return "1"
	}
	return "x"
}

// TestEveryFlagOfBeforeParses: every flag the Go-flag launchtap had (its
// -help, listed in testdata/flags) still exists, with its name, and parses
// in the single-dash form scripts use and in the double-dash form, before
// and after the capture name.
func TestEveryFlagOfBeforeParses(t *testing.T) {
	for _, command := range []string{"replay", "run", "hosts"} {
		data, err := os.ReadFile(filepath.Join("testdata", "flags", command+".txt"))
		if err != nil {
			t.Fatal(err)
		}
		names := strings.Fields(string(data))
		if len(names) < 20 {
			t.Fatalf("%s: only %d flags listed", command, len(names))
		}
		for _, name := range names {
			cmd, _, err := parseOnly(t, command, "--help=false")
			if err != nil {
				t.Fatal(err)
			}
			f := cmd.Flags().Lookup(name)
			if f == nil {
				f = cmd.Flags().ShorthandLookup(name)
			}
			if f == nil {
				t.Errorf("%s: flag %q is gone", command, name)
				continue
			}
			forms := [][]string{{"-" + name}, {"--" + name}, {"-" + name + "=" + sampleValue(f)}}
			if f.NoOptDefVal == "" {
				forms[0] = append(forms[0], sampleValue(f))
				forms[1] = append(forms[1], sampleValue(f))
			}
			for _, form := range forms {
				for _, args := range [][]string{
					append(append([]string{command}, form...), "cap.pcap"),
					append([]string{command, "cap.pcap"}, form...),
				} {
					cmd, _, err := parseOnly(t, args...)
					if err != nil {
						t.Errorf("%q: %v", args, err)
						continue
					}
					if g := cmd.Flags().Lookup(f.Name); !g.Changed {
						t.Errorf("%q: --%s not set", args, f.Name)
					}
					if command != "run" && !slices.Equal(cmd.Flags().Args(), []string{"cap.pcap"}) {
						t.Errorf("%q: arguments %q, want the capture only", args, cmd.Flags().Args())
					}
				}
			}
		}
	}
}

// TestEveryFlagHasAGroup: help files every flag under a named group;
// "general" holds only what every command has.
func TestEveryFlagHasAGroup(t *testing.T) {
	for _, command := range []string{"replay", "run", "hosts"} {
		cmd, _, err := parseOnly(t, command)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if g := groupOf(f); g == groupGeneral && f.Name != "config" && f.Name != "help" {
				t.Errorf("%s --%s: no help group", command, f.Name)
			}
			if ph := placeholder(f); ph == "VALUE" || ph == "STRING" {
				t.Errorf("%s --%s: placeholder %q says nothing", command, f.Name, ph)
			}
		})
	}
}

func TestHelpGrouped(t *testing.T) {
	code, out, _ := replay(t, nil, "replay", "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"Usage: launchtap replay [flags] CAPTURE...", "\nCapture", "\nDetection", "\nHost identity",
		"\nEnrichment", "\nOutput", "\nState", "--alerts FILE", "--internal CIDRS", "--max-sessions N", "--log-format text|json"} {
		if !strings.Contains(out, want) {
			t.Errorf("replay --help lacks %q", want)
		}
	}
	if strings.Contains(out, " value ") || strings.Contains(out, " string ") {
		t.Errorf("replay --help has a bare value/string placeholder:\n%s", out)
	}
	for _, l := range strings.Split(out, "\n") {
		if len([]rune(l)) > helpWidth+2 {
			t.Errorf("line longer than %d: %q", helpWidth, l)
		}
	}
	_, run, _ := replay(t, nil, "run", "-h")
	if !strings.Contains(run, "-i, --interface IFACE") || !strings.Contains(run, "\nLive capture") {
		t.Errorf("run -h lacks the live group or -i:\n%s", run)
	}
	// The old single-dash form of help still works.
	if code, out, _ := replay(t, nil, "hosts", "-help"); code != 0 || !strings.Contains(out, "Usage: launchtap hosts") {
		t.Errorf("hosts -help: exit %d\n%s", code, out)
	}
}

// TestUsageErrors: a bad command line is one line saying what is wrong, then
// where to read more; exit 2, nothing else.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"replay", "--bogus", demoPcap}, "launchtap replay: unknown flag: --bogus"},
		{[]string{"replay", "--workers", "-3", demoPcap}, "launchtap replay: workers: -3 is negative"},
		{[]string{"replay", "--workers=x", demoPcap}, `launchtap replay: invalid argument "x" for "--workers`},
		{[]string{"replay", "--syslog", "ftp://x", demoPcap}, "launchtap replay: invalid argument"},
		{[]string{"replay"}, "launchtap replay: no capture given"},
		{[]string{"hosts"}, "launchtap hosts: no capture given"},
		{[]string{"hosts", "--os", "beos", demoPcap}, `launchtap hosts: os: unknown family "beos"`},
		{[]string{"run"}, "launchtap run: no capture interface"},
		{[]string{"run", "-i", "eth0", "extra"}, "launchtap run: unknown command"},
		{[]string{"replay", "--internal", "10.0.0.0/33", demoPcap}, `launchtap replay: invalid argument "10.0.0.0/33"`},
		{[]string{"replay", "--log-format", "xml", demoPcap}, `launchtap replay: log-format: "xml" is not text or json`},
		{[]string{"frobnicate"}, `launchtap: unknown command "frobnicate"`},
	} {
		code, _, stderr := replay(t, nil, tc.args...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		cmdPath := strings.TrimSuffix(strings.SplitN(tc.want, ":", 2)[0], "")
		if code != exitUsage || len(lines) != 2 || !strings.HasPrefix(lines[0], tc.want) || lines[1] != "see "+cmdPath+" --help" {
			t.Errorf("%q: exit %d, stderr %q; want exit 2, %q and the help hint", tc.args, code, stderr, tc.want)
		}
	}
}

// TestListsAppend: a list flag given twice, or as a YAML list, adds up; the
// first value replaces the default.
func TestListsAppend(t *testing.T) {
	for _, args := range [][]string{
		{"replay", "--internal", "10.0.0.0/8", "--internal", "192.168.0.0/16"},
		{"replay", "--internal", "10.0.0.0/8,192.168.0.0/16"},
		{"replay", "-internal", "10.0.0.0/8", "-internal=192.168.0.0/16"},
	} {
		cmd, _, err := parseOnly(t, append(args, demoPcap)...)
		if err != nil {
			t.Fatal(err)
		}
		if got := cmd.Flags().Lookup("internal").Value.String(); got != "10.0.0.0/8,192.168.0.0/16" {
			t.Errorf("%q: internal %q", args, got)
		}
	}
	cmd, _, err := parseOnly(t, "hosts", "--macos", "10.1.0.0/16", "--macos", "10.2.0.0/16", "--os", "macos", "--os", "linux,ios", demoPcap)
	if err != nil {
		t.Fatal(err)
	}
	if got := cmd.Flags().Lookup("macos").Value.String(); got != "10.1.0.0/16,10.2.0.0/16" {
		t.Errorf("macos %q", got)
	}
	if got := cmd.Flags().Lookup("os").Value.String(); got != "macos,linux,ios" {
		t.Errorf("os %q", got)
	}

	// The README's example: a YAML list gives the demo its alert.
	dir := t.TempDir()
	conf := filepath.Join(dir, "c.yaml")
	os.WriteFile(conf, []byte("internal: [10.0.0.0/8, 192.168.0.0/16]\nmacos:\n  - 10.20.1.0/24\n  - 10.20.4.0/24\n"), 0o644)
	code, out, stderr := replay(t, nil, "replay", "--sensor-name", "demo", "--config", conf, demoPcap)
	if code != 0 || strings.Count(out, "\n") != 1 {
		t.Errorf("demo with internal as a YAML list: exit %d, %d alerts, want 1\n%s", code, strings.Count(out, "\n"), stderr)
	}
	var sum map[string]any
	path := filepath.Join(dir, "sum.json")
	replay(t, nil, "replay", "--config", conf, "--summary", path, demoPcap)
	b, _ := os.ReadFile(path)
	if json.Unmarshal(b, &sum) != nil || sum["pairs_tracked"].(float64) == 0 {
		t.Errorf("summary %s: want pairs tracked", b)
	}
	runConf := filepath.Join(dir, "run.yaml")
	os.WriteFile(runConf, []byte("i: [eth0, eth1]\ninternal: 10.0.0.0/8\n"), 0o644)
	runCmd, _, err := parseOnly(t, "run", "--config", runConf, "--internal", "192.168.0.0/16")
	if err != nil {
		t.Fatal(err)
	}
	if err := applyConfigFile(runCmd.Flags(), runConf); err != nil {
		t.Fatal(err)
	}
	if got := runCmd.Flags().Lookup("interface").Value.String(); got != "eth0,eth1" {
		t.Errorf("run: YAML i: [eth0, eth1] gave interfaces %q", got)
	}
	if got := runCmd.Flags().Lookup("internal").Value.String(); got != "192.168.0.0/16" {
		t.Errorf("run: the command line's --internal should win over the file's, got %q", got)
	}
}

// TestBareAddressWarns: a bare address in a CIDR flag is taken as one
// address, and the log says so.
func TestBareAddressWarns(t *testing.T) {
	code, _, stderr := replay(t, nil, "replay", "--internal", "10.0.0.0/8", "--internal", "192.168.1.7", demoPcap)
	if code != 0 || !strings.Contains(stderr, "level=WARN") || !strings.Contains(stderr, "--internal 192.168.1.7 is one address, not a network: taken as 192.168.1.7/32") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
	_, _, stderr = replay(t, nil, "hosts", "--internal", "fd00::1", demoPcap)
	if !strings.Contains(stderr, "taken as fd00::1/128") {
		t.Errorf("hosts: no warning for a bare IPv6 address:\n%s", stderr)
	}
	_, _, stderr = replay(t, nil, "replay", "--macos", "10.20.0.0/16", "--macos", "10.20.4.20", demoPcap)
	if !strings.Contains(stderr, "--macos 10.20.4.20 is one address, not a network: taken as 10.20.4.20/32") {
		t.Errorf("replay --macos: no warning for a bare address:\n%s", stderr)
	}
}

func TestHostsInternalFilters(t *testing.T) {
	count := func(args ...string) int {
		code, out, stderr := replay(t, nil, append(append([]string{"hosts"}, args...), demoPcap)...)
		if code != 0 {
			t.Fatalf("%q: exit %d\n%s", args, code, stderr)
		}
		return strings.Count(out, "\n")
	}
	all := count()
	if all < 3 {
		t.Fatalf("only %d hosts in the demo", all)
	}
	if n := count("--internal", "192.168.0.0/16"); n != 0 {
		t.Errorf("--internal 192.168.0.0/16 (none in the demo) printed %d hosts", n)
	}
	one, two := count("--internal", "10.20.1.0/24"), count("--internal", "10.20.1.0/24", "--internal", "10.20.2.0/24")
	if one == 0 || one >= all || two <= one {
		t.Errorf("10.20.1.0/24: %d hosts, with 10.20.2.0/24 too: %d, of %d", one, two, all)
	}
}

func TestLogFormatJSON(t *testing.T) {
	code, _, stderr := replay(t, nil, "replay", "--log-format", "json", "--internal", "10.1.1.1", demoPcap)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	sc := bufio.NewScanner(strings.NewReader(stderr))
	jsonLines := 0
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, "{") {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil || m["level"] != "WARN" {
				t.Errorf("log line %q: %v", l, err)
			}
			jsonLines++
		}
	}
	if jsonLines == 0 {
		t.Errorf("no JSON log line in:\n%s", stderr)
	}
}

func TestRound3(t *testing.T) {
	for in, want := range map[float64]float64{16.733333333333334: 16.7, 0.0012345: 0.00123, 123456: 123000, 0: 0, -2.555: -2.56} {
		if got := round3(in); got != want {
			t.Errorf("round3(%v) = %v, want %v", in, got, want)
		}
	}
}

func TestVersionAndCompletion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		if code, out, _ := replay(t, nil, args...); code != 0 || out != "launchtap "+version+"\n" {
			t.Errorf("%q: exit %d, %q", args, code, out)
		}
	}
	for shell, want := range map[string]string{"bash": "__start_launchtap", "zsh": "#compdef launchtap"} {
		code, out, _ := replay(t, nil, "completion", shell)
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("completion %s: exit %d, lacks %q", shell, code, want)
		}
	}
	// Completion offers the flags of the command being completed.
	_, out, _ := replay(t, nil, cobra.ShellCompRequestCmd, "replay", "--inter")
	if !strings.Contains(out, "--internal") {
		t.Errorf("completing replay --inter: %q", out)
	}
}

func TestManPage(t *testing.T) {
	code, out, _ := replay(t, nil, "man")
	if code != 0 || !strings.HasPrefix(out, ".TH LAUNCHTAP 1") {
		t.Fatalf("exit %d:\n%.200s", code, out)
	}
	for _, command := range []string{"replay", "run", "hosts"} {
		cmd, _, _ := parseOnly(t, command)
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if !f.Hidden && !strings.Contains(out, `\-\-`+roffEscape(f.Name)) {
				t.Errorf("man page lacks %s --%s", command, f.Name)
			}
		})
		if !strings.Contains(out, ".SH "+strings.ToUpper(command)) {
			t.Errorf("man page lacks the %s section", command)
		}
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, ".") && !slices.Contains([]string{".TH", ".SH", ".SS", ".TP", ".B", ".BR", ".PP", ".br", ".nf", ".fi"}, strings.Fields(l)[0]) {
			t.Errorf("text line read as a roff request: %q", l)
		}
	}
}

// TestManPageRenders: groff reads the page without a warning.
func TestManPageRenders(t *testing.T) {
	groff, err := exec.LookPath("groff")
	if err != nil {
		testenv.Skip(t, "groff not installed (apt-get install groff-base)")
	}
	_, page, _ := replay(t, nil, "man")
	cmd := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z")
	cmd.Stdin = strings.NewReader(page)
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("groff: %v\n%s", err, out)
	}
}

func TestNormalizeArgs(t *testing.T) {
	a := &app{}
	root := a.rootCmd()
	for _, tc := range []struct{ in, want string }{
		{"replay -alerts x.json -os any c.pcap", "replay --alerts x.json --os any c.pcap"},
		{"replay --sensor-name -alerts c.pcap", "replay --sensor-name -alerts c.pcap"}, // a value stays as given
		{"replay --workers -3 c.pcap", "replay --workers -3 c.pcap"},
		{"run -i eth0 --i eth1 -ieth2 -xdp -promisc=false", "run -i eth0 -i eth1 -ieth2 --xdp --promisc=false"},
		{"replay -nosuch c.pcap", "replay -nosuch c.pcap"}, // left for pflag to refuse
		{"replay -- -alerts", "replay -- -alerts"},
		{"-version", "--version"},
	} {
		if got := strings.Join(normalizeArgs(root, strings.Fields(tc.in)), " "); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPlainHTTPMDMWarns(t *testing.T) {
	t.Setenv("LAUNCHTAP_FLEET_TOKEN", "x")
	code, _, stderr := replay(t, nil, "replay", "--fleet-url", "http://127.0.0.1:1", "--enrich-timeout", "1s", demoPcap)
	if code != 0 || !strings.Contains(stderr, "level=WARN msg=\"MDM URL is plain http") || !strings.Contains(stderr, "flag=--fleet-url") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
	if strings.Contains(stderr, "query=") || strings.Contains(stderr, "fleet: fleet:") {
		t.Errorf("MDM error carries the query or stutters:\n%s", stderr)
	}
}

func TestCapabilityHint(t *testing.T) {
	err := capabilityHint(fmt.Errorf("live: socket(AF_PACKET): %w", syscall.EPERM))
	for _, want := range []string{"operation not permitted", "CAP_NET_RAW", "launchtap.service", "--no-bpf"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("hint lacks %q: %v", want, err)
		}
	}
	if !errors.Is(err, syscall.EPERM) {
		t.Error("the hint hides the cause")
	}
	other := errors.New("live: no such interface")
	if capabilityHint(other) != other {
		t.Error("a hint on an error that is not about privilege")
	}
}

// TestRunWithoutCapNetRaw runs `run -i lo` in a child whose capability
// bounding set lacks CAP_NET_RAW (setpriv): the error names the capability
// and the unit file.
func TestRunWithoutCapNetRaw(t *testing.T) {
	if os.Getenv("LAUNCHTAP_CAP_CHILD") == "1" {
		os.Exit(dispatch(context.Background(), []string{"run", "-i", "lo", "--stats-interval", "0"}, nil, os.Stdout, os.Stderr))
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		testenv.Skip(t, "setpriv (util-linux) not installed")
	}
	if os.Geteuid() != 0 {
		testenv.Skip(t, "needs root to drop a capability it holds")
	}
	cmd := exec.Command(setpriv, "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-net_raw,-bpf,-perfmon,-sys_admin",
		os.Args[0], "-test.run=^TestRunWithoutCapNetRaw$")
	cmd.Env = append(os.Environ(), "LAUNCHTAP_CAP_CHILD=1")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitFailure {
		t.Fatalf("want exit 1, got %v:\n%s", err, out)
	}
	for _, want := range []string{"operation not permitted: missing capability CAP_NET_RAW", "/lib/systemd/system/launchtap.service"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestCompleteValues(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"replay", "--log-format", ""}, "json"},
		{[]string{"hosts", "--os", ""}, "windows"},
		{[]string{"replay", "--os", ""}, "any"},
		{[]string{"run", "-i", ""}, "lo"},
	} {
		_, out, _ := replay(t, nil, append([]string{cobra.ShellCompRequestCmd}, tc.args...)...)
		if !slices.Contains(strings.Split(out, "\n"), tc.want) {
			t.Errorf("completing %q: %q lacks %q", tc.args, out, tc.want)
		}
	}
}

func TestWrap(t *testing.T) {
	for _, tc := range []struct {
		in    string
		width int
		want  []string
	}{
		{"a b c", 30, []string{"a b c"}},
		{strings.Repeat("word ", 10), 30, []string{"word word word word word word", "word word word word"}},
		{"internal networks (default " + strings.Repeat("x", 40) + ")", 30, []string{"internal networks (default", strings.Repeat("x", 40) + ")"}},
		{strings.Repeat("y", 40), 30, []string{strings.Repeat("y", 40)}},
	} {
		if got := wrap(strings.TrimSpace(tc.in), tc.width); !slices.Equal(got, tc.want) {
			t.Errorf("wrap(%q, %d) = %q, want %q", tc.in, tc.width, got, tc.want)
		}
	}
}
