// Package chromiumtest loads a self-contained HTML page (the evidence
// report) in headless Chromium, as a person's browser would: the page must
// load with no console error (its Content-Security-Policy turns any fetch
// or script into one) and render; the screenshot is kept to look at.
package chromiumtest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/launchtap/launchtap/internal/testenv"
)

// consoleErr matches what Chromium logs for a console message
// (CONSOLE(line) "message") and for a blocked fetch or script.
var consoleErr = regexp.MustCompile(`(?i)CONSOLE\(|Content.Security.Policy|Uncaught|Failed to load|net::ERR_`)

// SelfContained fails tb when html fetches or runs anything.
func SelfContained(tb testing.TB, html string) {
	tb.Helper()
	for _, bad := range []string{"<script", "http://", "https://", "@import", "url("} {
		if strings.Contains(strings.ReplaceAll(html, `xmlns="http://www.w3.org/2000/svg"`, ""), bad) {
			tb.Errorf("page contains %q: it must need nothing from anywhere", bad)
		}
	}
}

// Load opens the page at path in headless Chromium and returns the
// screenshot's path: LAUNCHTAP_SCREENSHOT_DIR/name if set, else in the
// temporary directory. Without chromium it skips (fails under CI=true).
func Load(tb testing.TB, path, name string) string {
	tb.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		testenv.Skip(tb, "chromium not installed (apt-get install chromium)")
	}
	shot := filepath.Join(os.TempDir(), "launchtap-"+name)
	if d := os.Getenv("LAUNCHTAP_SCREENSHOT_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			tb.Fatal(err)
		}
		shot = filepath.Join(d, name)
	}
	os.Remove(shot)
	abs, err := filepath.Abs(path)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir="+tb.TempDir(),
		"--window-size=1280,2000", "--screenshot="+shot, "--enable-logging=stderr", "--v=0", "file://"+abs)
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("chromium: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if consoleErr.MatchString(line) {
			tb.Errorf("console: %s", line)
		}
	}
	fi, err := os.Stat(shot)
	if err != nil {
		tb.Fatalf("screenshot %s: %v: the page did not render", shot, err)
	}
	if fi.Size() < 20000 {
		tb.Fatalf("screenshot %s: %d bytes: the page did not render", shot, fi.Size())
	}
	tb.Logf("screenshot: %s (%d bytes)", shot, fi.Size())
	return shot
}
