package main

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"

	"github.com/launchtap/launchtap/sensor/baseline"
	"github.com/spf13/cobra"
)

func (a *app) baselineCmd() *cobra.Command {
	parent := &cobra.Command{
		Use:   "baseline",
		Short: "work with the approval baseline (see docs/baseline.md)",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			a.printHelp(cmd, a.stderr)
			a.code = exitUsage
		},
	}
	var quiet bool
	check := &cobra.Command{
		Use:   "check [FILE]",
		Short: "validate a baseline file, print the effective rules, warn about weak or broad ones",
		Long: "Validates FILE (default: none, the built-in baseline alone), prints the effective rules in the\n" +
			"order they are judged and warns about weak or broad ones. Warnings do not fail the check; an\n" +
			"invalid file does (exit 1), with its file and line.",
		Args: cobra.MaximumNArgs(1),
		Run: func(cmd *cobra.Command, args []string) {
			a.code = runBaselineCheck(args, quiet, a.stdout, a.stderr)
		},
	}
	check.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only warnings and errors, not the rules")
	parent.AddCommand(check)
	parent.AddCommand(a.baselinePublishCmd())
	return parent
}

// runBaselineCheck is `launchtap baseline check [FILE]`: it validates a
// baseline file (errors name file and line), prints the effective rules
// (built-in and file) and warns about weak and broad ones. Warnings do not
// fail the check; an invalid file does.
func runBaselineCheck(args []string, quiet bool, stdout, stderr io.Writer) int {
	b := baseline.Default()
	if len(args) == 1 {
		var err error
		if b, err = baseline.Load(args[0]); err != nil {
			fmt.Fprintln(stderr, "launchtap baseline check:", err)
			return exitFailure
		}
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	rules := b.Rules()
	if !quiet {
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
