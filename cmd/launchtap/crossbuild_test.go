package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestBuildsForMacOS builds launchtap for macOS: an analyst replays a
// capture on a Mac, and Linux-only calls (bpf(2), TCGETS, the width of
// stat's fields) have twice slipped into code every system compiles.
func TestBuildsForMacOS(t *testing.T) {
	if testing.Short() {
		t.Skip("a cross build compiles every package again (-short)")
	}
	cmd := exec.Command("go", "build", "-o", filepath.Join(t.TempDir(), "launchtap"), ".")
	cmd.Env = append(os.Environ(), "GOOS=darwin", "GOARCH=arm64", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=darwin GOARCH=arm64 go build: %v\n%s", err, out)
	}
}
