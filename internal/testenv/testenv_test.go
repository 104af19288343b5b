package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// recorder is a testing.TB that records how a helper ended the test.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()                        {}
func (r *recorder) Fatalf(format string, a ...any) { r.fatal = fmt.Sprintf(format, a...) }
func (r *recorder) Skip(a ...any)                  { r.skip = fmt.Sprint(a...) }

func TestSkip(t *testing.T) {
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		r := &recorder{TB: t}
		Skip(r, "%s not installed", "p0f")
		switch {
		case ci == "true" && r.fatal != "cannot run under CI=true: p0f not installed":
			t.Errorf("CI=true: fatal %q, skip %q", r.fatal, r.skip)
		case ci == "" && r.skip != "p0f not installed":
			t.Errorf("locally: fatal %q, skip %q", r.fatal, r.skip)
		}
	}
}

func TestCaptures(t *testing.T) {
	if _, err := os.Stat(filepath.Join(Root(), "go.mod")); err != nil {
		t.Fatalf("Root %s: %v", Root(), err)
	}
	p := Capture(t, "real", "macos_tcp_flags.pcap")
	if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
		t.Fatalf("%s: %v", p, err)
	}
	r := &recorder{TB: t}
	Capture(r, "real", "no-such.pcap")
	if r.fatal == "" {
		t.Error("a missing capture is not an error")
	}
}
