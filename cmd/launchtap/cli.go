package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"reflect"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// The command line is a cobra command tree over pflag flag sets. The sensor's
// packages register their flags on a standard library *flag.FlagSet
// (RegisterFlags); addGoFlags carries them over, filed in a help group.
//
// Adding a subcommand: write a func (a *app) newXCmd() *cobra.Command, add it
// in rootCmd. Adding a flag: register it where its package registers the
// others; it lands in that package's group (or "state" for a max-* bound).

// group is a section of a command's help.
type group string

// The groups, in help order.
const (
	groupGeneral    group = "general"
	groupCapture    group = "capture"
	groupDetection  group = "detection"
	groupIdentity   group = "identity"
	groupEnrichment group = "enrichment"
	groupOutput     group = "output"
	groupLive       group = "live"
	groupState      group = "state"
	groupHub        group = "hub"
)

var groups = []struct {
	g     group
	title string
}{
	{groupGeneral, "General"},
	{groupCapture, "Capture (what is read and who is internal)"},
	{groupLive, "Live capture (AF_PACKET rings and the eBPF pre-filter)"},
	{groupDetection, "Detection (sessions, DNS, periodicity, policy)"},
	{groupIdentity, "Host identity (OS evidence)"},
	{groupEnrichment, "Enrichment (inventory and MDM)"},
	{groupOutput, "Output (alerts, syslog, logs, metrics)"},
	{groupState, "State (the state directory; table bounds per worker, the least recently used entry evicted)"},
	{groupHub, "Hub (NATS JetStream, partition leases; docs/many-sensors.md)"},
}

const groupAnnotation = "launchtap-group"

// setGroup files the flag name of fs under g.
func setGroup(fs *pflag.FlagSet, g group, names ...string) {
	for _, n := range names {
		if err := fs.SetAnnotation(n, groupAnnotation, []string{string(g)}); err != nil {
			panic(fmt.Sprintf("launchtap: flag group for unknown flag %q", n)) // a programming error
		}
	}
}

func groupOf(f *pflag.Flag) group {
	if g := f.Annotations[groupAnnotation]; len(g) > 0 {
		return group(g[0])
	}
	return groupGeneral
}

// addGoFlags carries the flags register defines on a standard library flag
// set over to fs, filed under g; a table bound (max-*) goes under state. A
// one-letter flag sharing its value with a long one (-i and --interface)
// becomes that flag's shorthand.
func addGoFlags(fs *pflag.FlagSet, g group, register func(*flag.FlagSet)) {
	gfs := flag.NewFlagSet("", flag.ContinueOnError)
	register(gfs)
	short := map[uintptr]string{} // a one-letter flag's value, by address
	gfs.VisitAll(func(f *flag.Flag) {
		if p := valueAddr(f.Value); len(f.Name) == 1 && p != 0 {
			short[p] = f.Name
		}
	})
	aliased := map[string]bool{}
	gfs.VisitAll(func(f *flag.Flag) {
		if len(f.Name) == 1 || fs.Lookup(f.Name) != nil {
			return
		}
		pf := pflag.PFlagFromGoFlag(f)
		if s, ok := short[valueAddr(f.Value)]; ok && valueAddr(f.Value) != 0 {
			pf.Shorthand = s
			aliased[s] = true
		}
		fs.AddFlag(pf)
		fg := g
		if strings.HasPrefix(f.Name, "max-") {
			fg = groupState
		}
		setGroup(fs, fg, f.Name)
	})
	gfs.VisitAll(func(f *flag.Flag) {
		if len(f.Name) == 1 && !aliased[f.Name] && fs.Lookup(f.Name) == nil {
			fs.AddFlag(pflag.PFlagFromGoFlag(f))
			setGroup(fs, g, f.Name)
		}
	})
}

// valueAddr is the address a pointer flag.Value points at; 0 for other kinds
// (a func value), which are never shared.
func valueAddr(v flag.Value) uintptr {
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer {
		return rv.Pointer()
	}
	return 0
}

// cidrList is a repeatable, comma-separated list of CIDRs. A bare address is
// accepted as a one-address network (/32, /128) with a warning, because a
// script that meant a network should hear that it got one host.
type cidrList struct {
	flag     string
	prefixes []netip.Prefix
	def      string
	set      bool
	warn     func(msg string)
}

func newCIDRList(name, def string, warn func(string)) *cidrList {
	l := &cidrList{flag: name, def: def, warn: warn}
	if def != "" {
		if err := l.add(def); err != nil {
			panic(err) // a programming error: the default is a constant
		}
	}
	return l
}

func (l *cidrList) String() string {
	if !l.set {
		return l.def
	}
	s := make([]string, len(l.prefixes))
	for i, p := range l.prefixes {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func (l *cidrList) Type() string { return "cidrs" }

func (l *cidrList) Set(v string) error {
	if !l.set {
		l.prefixes, l.set = nil, true
	}
	return l.add(v)
}

func (l *cidrList) add(v string) error {
	for f := range strings.SplitSeq(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return fmt.Errorf("%q is not a CIDR (want e.g. 10.0.0.0/8)", f)
			}
			l.prefixes = append(l.prefixes, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return fmt.Errorf("%q is not a CIDR (want e.g. 10.0.0.0/8)", f)
		}
		p := netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		if l.warn != nil {
			l.warn(fmt.Sprintf("--%s %s is one address, not a network: taken as %s", l.flag, f, p))
		}
		l.prefixes = append(l.prefixes, p)
	}
	return nil
}

// cidrInto puts a cidrList in front of a CIDR flag a package defines
// (hostid's --macos): the list appends and warns on a bare address, then
// hands the whole list to the package's value.
type cidrInto struct {
	list  *cidrList
	inner pflag.Value
}

func (c *cidrInto) String() string { return c.inner.String() }
func (c *cidrInto) Type() string   { return c.list.Type() }
func (c *cidrInto) Set(v string) error {
	if err := c.list.Set(v); err != nil {
		return err
	}
	return c.inner.Set(c.list.String())
}

// cidrFlags makes the named flags of fs CIDR lists (see cidrInto).
func cidrFlags(fs *pflag.FlagSet, warn func(string), names ...string) {
	for _, n := range names {
		if f := fs.Lookup(n); f != nil {
			f.Value = &cidrInto{list: newCIDRList(n, "", warn), inner: f.Value}
		}
	}
}

// stringList is a repeatable, comma-separated list of words.
type stringList struct {
	vals []string
}

func (l *stringList) String() string { return strings.Join(l.vals, ",") }
func (l *stringList) Type() string   { return "strings" }
func (l *stringList) Set(v string) error {
	for f := range strings.SplitSeq(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			l.vals = append(l.vals, f)
		}
	}
	return nil
}

// app is one invocation: where it reads and writes, and its exit status.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	code           int
	// notes are warnings raised while parsing flags (before a logger
	// exists), logged by the command once it has one.
	notes []string
}

func (a *app) note(msg string) { a.notes = append(a.notes, msg) }

// Commands are listed in the order rootCmd adds them, most used first.
func init() { cobra.EnableCommandSorting = false }

// rootCmd builds the command tree.
func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "launchtap COMMAND",
		Short: "passive sensor for macOS launchd jobs that beacon",
		Long: "launchtap is a passive network sensor that finds macOS LaunchAgents and LaunchDaemons\n" +
			"making periodic external connections (MITRE ATT&CK AN1115).",
		Version:       version,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.printHelp(cmd, a.stderr)
			a.code = exitUsage
			return nil
		},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.applyConfig(cmd)
		},
	}
	root.SetVersionTemplate("launchtap {{.Version}}\n")
	root.SetHelpFunc(func(cmd *cobra.Command, _ []string) { a.printHelp(cmd, cmd.OutOrStdout()) })
	root.AddCommand(a.replayCmd(), a.runCmd(), a.hostsCmd(), a.baselineCmd(), a.reportCmd(), a.hubCmd(), a.versionCmd(), a.manCmd())
	// The completion command takes its output writer when it is made.
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Short = "print the shell completion script (bash, zsh, fish, powershell)"
		}
		completeValues(c)
	}
	return root
}

// valueChoices are the values shell completion offers for flags that take
// one of a few words.
var valueChoices = map[string][]string{
	"log-level":     {"debug", "info", "warn", "error"},
	"log-format":    {"text", "json"},
	"syslog-format": {"rfc5424", "cef", "leef", "json"},
	"syslog-bom":    {"auto", "never"},
	"spool-sync":    {"always", "interval", "never"},
}

// completeValues registers value completion on cmd's flags: the words of
// valueChoices, the OS families of --os, network interfaces for -i; other
// flags complete file names, cobra's default.
func completeValues(cmd *cobra.Command) {
	fixed := func(words ...string) cobra.CompletionFunc {
		return cobra.FixedCompletions(words, cobra.ShellCompDirectiveNoFileComp)
	}
	for name, words := range valueChoices {
		if cmd.Flags().Lookup(name) != nil {
			cmd.RegisterFlagCompletionFunc(name, fixed(words...))
		}
	}
	if cmd.Flags().Lookup("os") != nil {
		if cmd.Name() == "hosts" {
			cmd.RegisterFlagCompletionFunc("os", fixed("macos", "ios", "windows", "linux", "other", "unknown"))
		} else {
			cmd.RegisterFlagCompletionFunc("os", fixed("macos", "any"))
		}
	}
	if cmd.Flags().Lookup("interface") != nil {
		cmd.RegisterFlagCompletionFunc("interface", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			ifs, _ := net.Interfaces()
			names := make([]string, 0, len(ifs))
			for _, i := range ifs {
				names = append(names, i.Name)
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		})
	}
}

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print the version",
		Args:  cobra.NoArgs,
		Run:   func(*cobra.Command, []string) { fmt.Fprintln(a.stdout, "launchtap", version) },
	}
}

// applyConfig applies --config, when the command has it and it is set, to
// the flags not given on the command line.
func (a *app) applyConfig(cmd *cobra.Command) error {
	f := cmd.Flags().Lookup("config")
	if f == nil || f.Value.String() == "" {
		return nil
	}
	return applyConfigFile(cmd.Flags(), f.Value.String())
}

// usage reports err as a usage error of cmd and returns exitUsage.
func (a *app) usage(cmd *cobra.Command, err error) int {
	fmt.Fprintf(a.stderr, "%s: %s\nsee %s --help\n", cmd.CommandPath(), oneLine(err), cmd.CommandPath())
	return exitUsage
}

// fail reports err, an error of the run rather than its arguments, and
// returns code.
func (a *app) fail(cmd *cobra.Command, err error, code int) int {
	fmt.Fprintf(a.stderr, "%s: %s\n", cmd.CommandPath(), oneLine(err))
	return code
}

func dispatch(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	root := a.rootCmd()
	root.SetArgs(normalizeArgs(root, args))
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil {
		if cmd == nil {
			cmd = root
		}
		return a.usage(cmd, err)
	}
	return a.code
}

// normalizeArgs turns the single-dash long flags of the launchtap that used
// Go's flag package (-alerts x, -internal=y, -help) into pflag's double dash,
// so scripts written for it keep working, and --i into -i. Only names the
// command defines are rewritten, and never a flag's value or what follows
// "--".
func normalizeArgs(root *cobra.Command, args []string) []string {
	cmd, _, err := root.Find(args)
	if err != nil || cmd == nil {
		cmd = root
	}
	cmd.InitDefaultHelpFlag()
	cmd.InitDefaultVersionFlag()
	fs := cmd.Flags()
	lookup := func(name string) *pflag.Flag {
		if f := fs.Lookup(name); f != nil {
			return f
		}
		return cmd.InheritedFlags().Lookup(name)
	}
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			return append(out, args[i:]...)
		}
		if len(arg) < 2 || arg[0] != '-' {
			out = append(out, arg)
			continue
		}
		body := strings.TrimLeft(arg, "-")
		dashes := len(arg) - len(body)
		name, _, hasValue := strings.Cut(body, "=")
		var f *pflag.Flag
		switch {
		case dashes > 2, name == "": // "---x", "-=": left for pflag to refuse
		case len(name) == 1:
			if f = fs.ShorthandLookup(name); f != nil || lookup(name) != nil {
				arg = "-" + body
			}
		case dashes == 1:
			if f = lookup(name); f != nil {
				arg = "--" + body
			} else if f = fs.ShorthandLookup(name[:1]); f != nil && f.NoOptDefVal == "" {
				hasValue = true // -ieth0: the shorthand's value follows it
			}
		default:
			f = lookup(name)
		}
		out = append(out, arg)
		if f != nil && !hasValue && f.NoOptDefVal == "" && i+1 < len(args) {
			i++
			out = append(out, args[i]) // the flag's value, whatever it looks like
		}
	}
	return out
}

var errNoCapture = errors.New("no capture given (a pcap or pcapng file, a directory of them, or - for standard input)")
