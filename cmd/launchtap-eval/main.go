// Command launchtap-eval measures launchtap's periodicity detection on the
// labelled evaluation scenarios of internal/synth. For each scenario and seed
// it writes the capture, replays it through the real `launchtap replay`
// binary (once with the default --os macos, once with --os any), matches the
// alerts against the ground-truth labels, and scores the same pairs with a
// reimplementation of RITA v5's beacon score computed from the capture's
// connection records. It prints, per labelled pair, what was expected, what
// alerted, at which beat and with what period error, RITA's score beside it,
// and then recall, precision and false alerts. The work is done by
// internal/eval; this command parses flags and prints.
//
//	launchtap-eval [-seeds 1,2,3] [-scenarios a,b] [-launchtap BIN] [-markdown FILE] [-check]
//
// With -check the exit status is 1 when a target is missed: recall >= 0.98
// on beacons with at least 8 beats and jitter <= 50 %, no false alerts,
// period error <= 2 % and first alert by the 8th beat for clean beacons
// (jitter <= 2 %).
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/launchtap/launchtap/internal/eval"
	"github.com/launchtap/launchtap/internal/synth"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("launchtap-eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	seeds := fs.String("seeds", "1,2,3", "comma-separated generator seeds")
	scen := fs.String("scenarios", "", "comma-separated scenario names (default: every evaluation scenario)")
	var (
		o                      eval.Options
		keep, markdown, jsonTo string
		check, compact         bool
	)
	fs.StringVar(&o.Bin, "launchtap", "", "launchtap binary to evaluate (default: go build ./cmd/launchtap into a temporary directory)")
	fs.StringVar(&keep, "keep", "", "keep captures, labels and alerts under this directory")
	fs.StringVar(&markdown, "markdown", "", "also write the table as Markdown to this file")
	fs.StringVar(&jsonTo, "json", "", "also write every per-pair result as JSON to this file")
	fs.BoolVar(&check, "check", false, "exit 1 when a target is missed")
	fs.BoolVar(&compact, "compact", false, "one table row per scenario and style instead of per labelled pair")
	fs.IntVar(&o.Parallel, "parallel", max(1, runtime.NumCPU()/2), "scenario runs in parallel")
	fs.DurationVar(&o.Timeout, "timeout", 10*time.Minute, "limit for one replay")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	for _, s := range strings.Split(*seeds, ",") {
		v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
		if err != nil {
			fmt.Fprintf(stderr, "launchtap-eval: -seeds %q: %v\n", s, err)
			return 2
		}
		o.Seeds = append(o.Seeds, v)
	}
	if *scen != "" {
		for _, s := range strings.Split(*scen, ",") {
			if _, ok := synth.Lookup(strings.TrimSpace(s)); !ok {
				fmt.Fprintf(stderr, "launchtap-eval: unknown scenario %q\n", s)
				return 2
			}
			o.Scenarios = append(o.Scenarios, strings.TrimSpace(s))
		}
	} else {
		for _, s := range synth.EvalScenarios() {
			o.Scenarios = append(o.Scenarios, s.Name)
		}
	}
	if len(o.Scenarios) == 0 {
		fmt.Fprintln(stderr, "launchtap-eval: no evaluation scenarios registered in internal/synth")
		return 2
	}
	work, err := os.MkdirTemp("", "launchtap-eval-")
	if err != nil {
		fmt.Fprintf(stderr, "launchtap-eval: %v\n", err)
		return 2
	}
	defer os.RemoveAll(work)
	if o.Bin == "" {
		o.Bin = filepath.Join(work, "launchtap")
		log.Info("building launchtap", "out", o.Bin)
		cmd := exec.Command("go", "build", "-o", o.Bin, "./cmd/launchtap")
		cmd.Stdout, cmd.Stderr = stderr, stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(stderr, "launchtap-eval: building launchtap (run from the repository root): %v\n", err)
			return 2
		}
	}
	outDir := work
	if keep != "" {
		outDir, o.Keep = keep, true
	}
	runs, err := eval.Run(o, outDir, log)
	if err != nil {
		fmt.Fprintf(stderr, "launchtap-eval: %v\n", err)
		return 2
	}
	rep := eval.Summarise(runs)
	rep.Compact = compact
	rep.Write(stdout, false)
	if markdown != "" {
		if err := writeFileWith(markdown, func(w io.Writer) { rep.Write(w, true) }); err != nil {
			fmt.Fprintf(stderr, "launchtap-eval: %v\n", err)
			return 2
		}
	}
	if jsonTo != "" {
		if err := writeFileWith(jsonTo, func(w io.Writer) {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			enc.Encode(rep.Rows())
		}); err != nil {
			fmt.Fprintf(stderr, "launchtap-eval: %v\n", err)
			return 2
		}
	}
	if check && len(rep.Missed()) > 0 {
		for _, m := range rep.Missed() {
			fmt.Fprintf(stderr, "launchtap-eval: target missed: %s\n", m)
		}
		return 1
	}
	return 0
}

func writeFileWith(path string, fn func(io.Writer)) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	bw := bufio.NewWriter(f)
	fn(bw)
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}
