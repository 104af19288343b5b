package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/launchtap/launchtap/sensor/baseline"
)

// runBaseline is `launchtap baseline check [FILE]`: it validates a baseline
// file (errors name file and line), prints the effective rules (built-in and
// file) and warns about weak and broad ones. Warnings do not fail the check;
// an invalid file does.
func runBaseline(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprintln(stderr, "usage: launchtap baseline check [FILE]")
		return exitUsage
	}
	fs := flag.NewFlagSet("baseline check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quiet := fs.Bool("q", false, "print only warnings and errors, not the rules")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: launchtap baseline check [-q] [FILE]\n\nValidates FILE (default: none, the built-in baseline alone), prints the\neffective rules in the order they are judged and warns about weak or broad ones.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		return exitUsage
	}
	if fs.NArg() > 1 {
		fs.Usage()
		return exitUsage
	}
	b := baseline.Default()
	if fs.NArg() == 1 {
		var err error
		if b, err = baseline.Load(fs.Arg(0)); err != nil {
			fmt.Fprintln(stderr, "launchtap baseline check:", err)
			return exitFailure
		}
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	rules := b.Rules()
	if !*quiet {
		var dest, job, builtin int
		for _, r := range rules {
			kind := "destination"
			if len(r.Labels) > 0 || len(r.Programs) > 0 || len(r.TeamIDs) > 0 || r.Plist != baseline.LocationUnknown {
				kind = "job"
				job++
			} else {
				dest++
			}
			if r.Builtin {
				builtin++
			}
			fmt.Fprintf(w, "%-24s %-11s %q: %s\n", r.Source, kind, r.Name, r.Summary())
		}
		fmt.Fprintf(w, "%d rules (%d built-in): %d destination-only, judged before enrichment; %d naming a launchd job, judged after it\n",
			len(rules), builtin, dest, job)
	}
	warns := b.Warnings()
	for _, x := range warns {
		fmt.Fprintln(w, "warning:", x)
	}
	if len(warns) == 0 {
		fmt.Fprintln(w, "no weak or broad rules")
	}
	return exitOK
}

// logBaselineWarnings says, when a baseline file is loaded, which of its
// rules are weak or broad (the built-in ones are not).
func logBaselineWarnings(log *slog.Logger, b *baseline.Baseline) {
	for _, w := range b.Warnings() {
		if !w.Rule.Builtin {
			log.Warn("baseline rule is weak or broad; see launchtap baseline check", "source", w.Rule.Source, "rule", w.Rule.Name, "warning", w.Msg)
		}
	}
}
