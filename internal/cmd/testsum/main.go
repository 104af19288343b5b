// Command testsum reads `go test -json` on standard input and prints what
// `go test` prints for a package list (ok / FAIL per package, the output of
// failed tests) plus one line for every skipped test with its reason, which
// go test shows only with -v. Under CI=true a skipped test fails the run: the
// CI machine is set up to run them all.
//
//	go test -json ./... | go run ./internal/cmd/testsum
//
// It exits 1 when a test or package failed, or when CI=true and one skipped.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

type key struct{ pkg, test string }

// maxOutput bounds the output kept per test: a chatty test cannot exhaust
// memory; what is cut is counted in the last line kept.
const maxOutput = 1 << 20

type summary struct {
	out     map[key]*strings.Builder
	cut     map[key]int
	skipped []string
	failed  int
	ci      bool
}

func main() {
	s := &summary{out: map[key]*strings.Builder{}, cut: map[key]int{}, ci: os.Getenv("CI") == "true"}
	if err := s.read(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "testsum:", err)
		os.Exit(1)
	}
	os.Exit(s.finish(os.Stdout))
}

func (s *summary) read(r io.Reader, w io.Writer) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintf(w, "%s\n", line) // not an event: a build error or the like, as go test printed it
			continue
		}
		s.event(e, w)
	}
	return sc.Err()
}

func (s *summary) event(e event, w io.Writer) {
	k := key{e.Package, e.Test}
	switch e.Action {
	case "output", "build-output":
		b := s.out[k]
		if b == nil {
			b = &strings.Builder{}
			s.out[k] = b
		}
		if b.Len()+len(e.Output) > maxOutput {
			s.cut[k]++
			return
		}
		b.WriteString(e.Output)
	case "skip":
		if e.Test != "" {
			s.skipped = append(s.skipped, fmt.Sprintf("SKIP %s %s: %s", e.Package, e.Test, reason(s.out[k])))
		}
		delete(s.out, k)
	case "pass":
		if e.Test == "" {
			fmt.Fprintf(w, "ok  \t%s\t%.3fs\n", e.Package, e.Elapsed)
		}
		delete(s.out, k)
	case "fail", "build-fail":
		s.failed++
		if b := s.out[k]; b != nil {
			fmt.Fprint(w, b.String())
			if n := s.cut[k]; n > 0 {
				fmt.Fprintf(w, "(testsum: %d more lines of output not shown)\n", n)
			}
		}
		if e.Test == "" && e.Action == "fail" {
			fmt.Fprintf(w, "FAIL\t%s\t%.3fs\n", e.Package, e.Elapsed)
		}
		delete(s.out, k)
	}
}

// reason is what a skipped test said: its output without go test's own
// === and --- lines, on one line.
func reason(b *strings.Builder) string {
	if b == nil {
		return "(no reason given)"
	}
	var parts []string
	for l := range strings.SplitSeq(b.String(), "\n") {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- ") {
			continue
		}
		parts = append(parts, t)
	}
	if len(parts) == 0 {
		return "(no reason given)"
	}
	return strings.Join(parts, " | ")
}

func (s *summary) finish(w io.Writer) int {
	sort.Strings(s.skipped)
	if len(s.skipped) > 0 {
		fmt.Fprintf(w, "\n%d tests skipped:\n", len(s.skipped))
		for _, l := range s.skipped {
			fmt.Fprintln(w, l)
		}
	}
	switch {
	case s.failed > 0:
		fmt.Fprintf(w, "\nFAIL: %d failures\n", s.failed)
		return 1
	case s.ci && len(s.skipped) > 0:
		fmt.Fprintf(w, "\nFAIL: CI=true and %d tests skipped (install what they name; CI runs as root)\n", len(s.skipped))
		return 1
	}
	return 0
}
