// Package testenv is what tests need from their surroundings: the
// repository's committed captures, and skipping a test that cannot run here
// (no root, a tool not installed) so that the reason is said, and so that
// under CI=true, where everything must run, it fails instead.
package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// CI reports whether the tests run in CI (CI=true), where a skip is a
// failure: the CI machine is set up to run every test.
func CI() bool { return os.Getenv("CI") == "true" }

// Skip skips tb saying why; under CI=true it fails instead.
func Skip(tb testing.TB, format string, args ...any) {
	tb.Helper()
	reason := fmt.Sprintf(format, args...)
	if CI() {
		tb.Fatalf("cannot run under CI=true: %s", reason)
	}
	tb.Skip(reason)
}

// RequireRoot skips tb (fails it under CI) unless the process is root.
func RequireRoot(tb testing.TB, what string) {
	tb.Helper()
	if os.Geteuid() != 0 {
		Skip(tb, "%s needs root", what)
	}
}

// Root is the repository's top directory (where go.mod is).
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Captures is testdata/captures: the real public captures the tests read,
// each with its provenance in testdata/captures/README.md.
func Captures() string { return filepath.Join(Root(), "testdata", "captures") }

// Capture is the path of a committed capture, e.g. Capture("real",
// "macos_tcp_flags.pcap"); it fails tb when the file is missing, since the
// repository holds it.
func Capture(tb testing.TB, elem ...string) string {
	tb.Helper()
	p := filepath.Join(append([]string{Captures()}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("committed capture missing: %v", err)
	}
	return p
}
