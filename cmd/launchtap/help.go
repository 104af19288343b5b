package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// helpWidth is where help text wraps, short of a 100-column terminal.
const helpWidth = 98

// printHelp writes cmd's help: synopsis, description, then its flags by
// group, one line each as tcpdump's usage does, wrapped at helpWidth.
func (a *app) printHelp(cmd *cobra.Command, w io.Writer) {
	fmt.Fprintf(w, "Usage: %s\n", cmd.UseLine())
	if cmd.Long != "" {
		fmt.Fprintf(w, "\n%s\n", cmd.Long)
	} else if cmd.Short != "" {
		fmt.Fprintf(w, "\n%s\n", cmd.Short)
	}
	if cmd.HasAvailableSubCommands() {
		fmt.Fprintln(w, "\nCommands:")
		for _, c := range cmd.Commands() {
			if c.IsAvailableCommand() {
				fmt.Fprintf(w, "  %-12s %s\n", c.Name(), c.Short)
			}
		}
	}
	gs := flagGroups(cmd)
	// One description column for the whole command; a longer spec gets a
	// line of its own.
	col := 0
	for _, g := range gs {
		for _, f := range g.flags {
			if n := len(flagSpec(f)); n <= 32 {
				col = max(col, n)
			}
		}
	}
	for _, g := range gs {
		fmt.Fprintf(w, "\n%s:\n", g.title)
		for _, f := range g.flags {
			spec := flagSpec(f)
			text := flagText(f)
			if len(spec) > col {
				fmt.Fprintf(w, "  %s\n", spec)
				spec = ""
			}
			lines := wrap(text, helpWidth-col-4)
			for i, l := range lines {
				if i > 0 {
					spec = ""
				}
				fmt.Fprintf(w, "  %-*s  %s\n", col, spec, l)
			}
		}
	}
	if cmd.Example != "" {
		fmt.Fprintf(w, "\nExamples:\n%s\n", cmd.Example)
	}
	if cmd.HasParent() {
		fmt.Fprintf(w, "\nFlags may come anywhere on the line, with - or --; lists repeat or take commas.\nSee man launchtap for the whole reference.\n")
	} else {
		fmt.Fprintf(w, "\nRun \"launchtap COMMAND --help\" for the flags of a command.\n")
	}
}

type flagGroup struct {
	title string
	flags []*pflag.Flag
}

// flagGroups returns cmd's visible flags by group, in help order.
func flagGroups(cmd *cobra.Command) []flagGroup {
	by := map[group][]*pflag.Flag{}
	cmd.InitDefaultHelpFlag()
	visit := func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		g := groupOf(f)
		if !slices.Contains(by[g], f) {
			by[g] = append(by[g], f)
		}
	}
	cmd.NonInheritedFlags().VisitAll(visit)
	cmd.InheritedFlags().VisitAll(visit)
	var out []flagGroup
	for _, g := range groups {
		if fs := by[g.g]; len(fs) > 0 {
			slices.SortFunc(fs, func(a, b *pflag.Flag) int { return strings.Compare(a.Name, b.Name) })
			out = append(out, flagGroup{title: g.title, flags: fs})
		}
	}
	return out
}

// flagSpec renders "-i, --interface IFACE" or "    --alerts FILE".
func flagSpec(f *pflag.Flag) string {
	s := "    --" + f.Name
	if f.Shorthand != "" && f.Shorthand != f.Name {
		s = "-" + f.Shorthand + ", --" + f.Name
	}
	if ph := placeholder(f); ph != "" {
		s += " " + ph
	}
	return s
}

// flagText is the flag's description with its default.
func flagText(f *pflag.Flag) string {
	_, usage := pflag.UnquoteUsage(f)
	if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" && !strings.Contains(usage, "(default") {
		usage += fmt.Sprintf(" (default %s)", f.DefValue)
	}
	return usage
}

// placeholders name the value of flags whose description has no
// back-quoted name and whose type says too little.
var placeholders = map[string]string{
	"os":                   "FAMILY",
	"log-level":            "LEVEL",
	"log-format":           "text|json",
	"syslog-format":        "FORMAT",
	"syslog-facility":      "FACILITY",
	"syslog-sd-id":         "SD-ID",
	"syslog-bom":           "auto|never",
	"spool-sync":           "POLICY",
	"spool":                "DIR",
	"sensor-name":          "NAME",
	"jamf-ea-name":         "NAME",
	"inventory":            "FILE",
	"fanout-group":         "ID",
	"bpf-flow-entries":     "N",
	"syslog-resend-window": "DURATION",
	"interface":            "IFACE",
	"i":                    "IFACE",
}

// placeholder names a flag's value: the back-quoted word of its usage, else
// the table above, else its type; "" for a boolean.
func placeholder(f *pflag.Flag) string {
	if f.NoOptDefVal != "" {
		return ""
	}
	if strings.Contains(f.Usage, "`") {
		name, _ := pflag.UnquoteUsage(f)
		return strings.ToUpper(name)
	}
	if p, ok := placeholders[f.Name]; ok {
		return p
	}
	switch t := f.Value.Type(); t {
	case "duration":
		return "DURATION"
	case "int", "int64", "uint", "uint32", "uint64":
		return "N"
	case "float64", "float":
		return "NUM"
	case "cidrs":
		return "CIDRS"
	}
	switch {
	case strings.HasSuffix(f.Name, "-file"), strings.HasSuffix(f.Name, "-db"):
		return "FILE"
	case strings.HasSuffix(f.Name, "-url"):
		return "URL"
	case strings.HasSuffix(f.Name, "-addr"):
		return "HOST:PORT"
	}
	parts := strings.Split(f.Name, "-")
	return strings.ToUpper(parts[len(parts)-1])
}

// wrap breaks s into lines of at most width runes at spaces; a word longer
// than width stays whole on its own line.
func wrap(s string, width int) []string {
	width = max(width, 30)
	var lines []string
	for len([]rune(s)) > width {
		r := []rune(s)
		cut := width
		for cut > 0 && !unicode.IsSpace(r[cut]) {
			cut--
		}
		if cut == 0 { // one word longer than the line: keep it whole
			for cut = width; cut < len(r) && !unicode.IsSpace(r[cut]); cut++ {
			}
			if cut == len(r) {
				break
			}
		}
		lines = append(lines, strings.TrimRightFunc(string(r[:cut]), unicode.IsSpace))
		s = strings.TrimLeftFunc(string(r[cut:]), unicode.IsSpace)
	}
	return append(lines, s)
}
