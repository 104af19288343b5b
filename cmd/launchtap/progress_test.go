package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/launchtap/launchtap/sensor/capture"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestProgressSilentOffTerminal: standard error that is a file or a pipe
// gets the summary, never a progress line.
func TestProgressSilentOffTerminal(t *testing.T) {
	_, _, stderr := replay(t, nil, "replay", demoPcap)
	if strings.Contains(stderr, "\r") || strings.Contains(stderr, "replay: ") {
		t.Errorf("progress drawn on a non-terminal:\n%q", stderr)
	}
}

// TestProgressOnTerminal reads the demo slowly through the progress wrapper
// and checks the line: capture time, share of the input read, packets and
// rate; and that stopping clears it.
func TestProgressOnTerminal(t *testing.T) {
	defer func(f func(io.Writer) bool, d time.Duration) { isTerminal, progressEvery = f, d }(isTerminal, progressEvery)
	isTerminal, progressEvery = func(io.Writer) bool { return true }, 5*time.Millisecond

	src, err := capture.Options{}.Open(demoPcap)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var out lockedBuffer
	in, stop := startProgress(src, src.Files(), &out)
	var f capture.Frame
	n := 0
	for in.Next(&f) == nil {
		if n++; n%500 == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	time.Sleep(20 * time.Millisecond)
	stop()
	got := out.String()
	lines := strings.Split(got, "\r\x1b[K")
	if len(lines) < 3 {
		t.Fatalf("%d progress lines: %q", len(lines), got)
	}
	last := lines[len(lines)-2]
	for _, want := range []string{"replay: 20", " UTC  ", "% of 2.0 MiB", "packets  ", "/s"} {
		if !strings.Contains(last, want) {
			t.Errorf("progress line %q lacks %q", last, want)
		}
	}
	if !strings.Contains(last, "100% of") || !strings.Contains(last, "8.18 k packets") {
		t.Errorf("at the end: %q, want 100%% of the input and its 8177 packets", last)
	}
	if !strings.HasSuffix(got, "\r\x1b[K") {
		t.Errorf("the line is not cleared at the end: %q", got)
	}
}

func TestHumanCount(t *testing.T) {
	for n, want := range map[float64]string{0: "0", 999: "999", 16733: "16.7 k", 1044322: "1.04 M", 2.5e9: "2.5 G"} {
		if got := humanCount(n); got != want {
			t.Errorf("humanCount(%v) = %q, want %q", n, got, want)
		}
	}
}

// The progress wrapper passes the capture reader's fault guard on: a mapped
// file truncated during a replay that shows progress ends the read with an
// error naming it, not the process.
func TestProgressKeepsFaultGuard(t *testing.T) {
	defer func(f func(io.Writer) bool) { isTerminal = f }(isTerminal)
	isTerminal = func(io.Writer) bool { return true }
	data, err := os.ReadFile("../../testdata/demo.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "demo.pcapng")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := capture.Options{}.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	in, stop := startProgress(r, r.Files(), io.Discard)
	defer stop()
	g, ok := in.(interface{ Guard(func() error) error })
	if !ok {
		t.Fatal("the progress wrapper hides the reader's Guard")
	}
	var f capture.Frame
	if err := in.Next(&f); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 8192); err != nil {
		t.Fatal(err)
	}
	err = g.Guard(func() error {
		sum := 0
		for {
			if err := in.Next(&f); err != nil {
				return err
			}
			for _, b := range f.Data {
				sum += int(b)
			}
		}
	})
	if err == nil || !strings.Contains(err.Error(), "shrank") {
		t.Fatalf("read ended with %v, want the file named as shrunk", err)
	}
}
