package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

const configDoc = "../../docs/configuration.md"

// flagsTable renders every flag of the commands that take the sensor's
// flags as the Markdown table docs/configuration.md carries.
func flagsTable() string {
	a := &app{stdout: io.Discard, stderr: io.Discard}
	root := a.rootCmd()
	type row struct {
		f    *pflag.Flag
		cmds []string
		defs []string // the default under each of cmds
	}
	rows := map[string]*row{}
	for _, name := range []string{"replay", "run", "hosts", "report", "hub"} {
		cmd, _, err := root.Find([]string{name})
		if err != nil {
			panic(err)
		}
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Hidden || f.Name == "help" {
				return
			}
			r := rows[f.Name]
			if r == nil {
				r = &row{f: f}
				rows[f.Name] = r
			}
			r.cmds = append(r.cmds, name)
			r.defs = append(r.defs, f.DefValue)
		})
	}
	names := make([]string, 0, len(rows))
	for n := range rows {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString("| flag | default | commands | meaning |\n|---|---|---|---|\n")
	for _, n := range names {
		r := rows[n]
		varname, usage := pflag.UnquoteUsage(r.f)
		flag := "--" + n
		if r.f.Shorthand != "" {
			flag = "-" + r.f.Shorthand + ", " + flag
		}
		if varname != "" {
			flag += " " + varname
		}
		show := func(v string) string {
			if v == "" || v == "[]" || v == "0" || v == "false" {
				return "—"
			}
			return "`" + v + "`"
		}
		def := show(r.defs[0])
		if slices.ContainsFunc(r.defs, func(v string) bool { return v != r.defs[0] }) {
			per := make([]string, len(r.defs))
			for i, v := range r.defs {
				per[i] = show(v) + " (" + r.cmds[i] + ")"
			}
			def = strings.Join(per, ", ")
		}
		usage = strings.ReplaceAll(strings.ReplaceAll(usage, "|", `\|`), "\n", " ")
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", flag, def, strings.Join(r.cmds, ", "), usage)
	}
	return b.String()
}

// TestFlagsDocumented keeps docs/configuration.md's flag table what the flag
// definitions say: names, defaults and help (-update rewrites it).
func TestFlagsDocumented(t *testing.T) {
	doc, err := os.ReadFile(configDoc)
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- flags:begin -->\n", "<!-- flags:end -->"
	s, e := strings.Index(string(doc), begin), strings.Index(string(doc), end)
	if s < 0 || e < s {
		t.Fatalf("%s lacks the %q … %q markers", configDoc, begin, end)
	}
	want := flagsTable()
	if *update {
		doc = []byte(string(doc[:s+len(begin)]) + want + string(doc[e:]))
		if err := os.WriteFile(configDoc, doc, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got := string(doc[s+len(begin) : e]); got != want {
		t.Errorf("%s's flag table is out of step with the flags (go test ./cmd/launchtap -run TestFlagsDocumented -update)", configDoc)
	}
}
