package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/launchtap/launchtap/enrich"
)

// manCmd writes launchtap(1) in roff from the same command tree and flag
// groups as --help, so the page cannot drift from the flags. Hidden: the
// package build runs it (make man).
func (a *app) manCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "man",
		Short:  "write the launchtap(1) manual page (roff) to standard output",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return writeMan(a.stdout, cmd.Root())
		},
	}
}

func writeMan(w io.Writer, root *cobra.Command) error {
	var b strings.Builder
	fmt.Fprintf(&b, ".TH LAUNCHTAP 1 \"\" \"launchtap %s\" \"User Commands\"\n", roffEscape(version))
	b.WriteString(".SH NAME\nlaunchtap \\- " + roffEscape(root.Short) + "\n")
	b.WriteString(".SH SYNOPSIS\n")
	cmds := manCommands(root)
	for _, c := range cmds {
		fmt.Fprintf(&b, ".B %s\n%s\n.br\n", c.CommandPath(), roffEscape(strings.TrimSpace(strings.TrimPrefix(c.UseLine(), c.CommandPath()))))
	}
	b.WriteString(".SH DESCRIPTION\n" + roffEscape(root.Long) + "\n.PP\n" +
		"Flags may come anywhere on the line and take one or two dashes. A list flag may be repeated, " +
		"take a comma-separated list, or be a YAML list in the --config file; the values add up. " +
		"Every flag can be set in the YAML file given with --config, under its own name; the command line wins.\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, ".SH %s\n", strings.ToUpper(strings.TrimPrefix(c.CommandPath(), "launchtap ")))
		if c.Long != "" {
			b.WriteString(roffEscape(c.Long) + "\n")
		} else {
			b.WriteString(roffEscape(c.Short) + "\n")
		}
		if c.Example != "" {
			b.WriteString(".PP\nExamples:\n.PP\n.nf\n" + roffEscape(strings.TrimSpace(strings.ReplaceAll(c.Example, "\n  ", "\n"))) + "\n.fi\n")
		}
		for _, g := range flagGroups(c) {
			fmt.Fprintf(&b, ".SS %s\n", roffEscape(g.title))
			for _, f := range g.flags {
				fmt.Fprintf(&b, ".TP\n.B %s\n%s\n", roffEscape(strings.TrimSpace(manSpec(f))), roffEscape(flagText(f)))
			}
		}
	}
	b.WriteString(".SH EXIT STATUS\n0 on success, 1 when the run failed, 2 for bad flags, configuration or input.\n")
	b.WriteString(".SH ENVIRONMENT\nMDM credentials come from the environment or from the files the *\\-file flags name, never from a flag value.\n")
	for _, e := range []struct{ name, what string }{
		{enrich.EnvFleetToken, "Fleet API token (else \\-\\-fleet\\-token\\-file)"},
		{enrich.EnvJamfClientID, "Jamf Pro API client id (else \\-\\-jamf\\-client\\-id\\-file)"},
		{enrich.EnvJamfClientSecret, "Jamf Pro API client secret (else \\-\\-jamf\\-client\\-secret\\-file)"},
		{enrich.EnvKandjiToken, "Kandji API token (else \\-\\-kandji\\-token\\-file)"},
	} {
		fmt.Fprintf(&b, ".TP\n.B %s\n%s\n", e.name, e.what)
	}
	b.WriteString(".SH FILES\n.TP\n/etc/launchtap/launchtap.yaml\nthe configuration the systemd unit passes with --config.\n" +
		".TP\n/lib/systemd/system/launchtap.service\nthe unit: capabilities CAP_NET_RAW, CAP_NET_ADMIN, CAP_BPF, CAP_PERFMON for run.\n")
	b.WriteString(".SH SEE ALSO\n.BR tcpdump (8),\n.BR p0f (1)\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// manCommands lists the commands the page documents: the ones with flags.
func manCommands(root *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	for _, c := range root.Commands() {
		if !c.IsAvailableCommand() || c.Name() == "completion" || c.Name() == "help" {
			continue
		}
		out = append(out, c)
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() {
				out = append(out, sub)
			}
		}
	}
	return out
}

func manSpec(f *pflag.Flag) string { return strings.TrimSpace(flagSpec(f)) }

// roffEscape keeps text from being read as roff requests or escapes, and
// writes non-ASCII characters (→, ↔) as groff's \[uXXXX] so the page is
// plain ASCII whatever the reader's locale.
func roffEscape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	var b strings.Builder
	for _, r := range s {
		if r > 127 {
			fmt.Fprintf(&b, `\[u%04X]`, r)
		} else {
			b.WriteRune(r)
		}
	}
	s = b.String()
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			lines[i] = `\&` + l
		}
	}
	return strings.Join(lines, "\n")
}
