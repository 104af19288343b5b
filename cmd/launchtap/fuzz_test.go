package main

import (
	"strings"
	"testing"
)

// FuzzNormalizeArgs: rewriting argv never panics, keeps every word in its
// place, and changes a word only in its leading dashes.
func FuzzNormalizeArgs(f *testing.F) {
	for _, s := range []string{
		"replay -alerts x.json -os any c.pcap", "run -i eth0 --i eth1 -ieth2 -xdp", "replay -- -alerts",
		"hosts -internal=10.0.0.1 -", "-version", "replay --workers -3", "replay ---x -", "run -", "x -y=",
	} {
		f.Add(s)
	}
	root := (&app{}).rootCmd()
	f.Fuzz(func(t *testing.T, line string) {
		in := strings.Split(line, " ")
		out := normalizeArgs(root, in)
		if len(out) != len(in) {
			t.Fatalf("%q became %q", in, out)
		}
		for i := range in {
			if strings.TrimLeft(in[i], "-") != strings.TrimLeft(out[i], "-") {
				t.Fatalf("word %d: %q became %q", i, in[i], out[i])
			}
		}
	})
}

// FuzzCIDRList: a CIDR flag's value either is refused or gives prefixes
// whose rendering parses back to the same list.
func FuzzCIDRList(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "10.0.0.1", "fd00::1,192.168.0.0/16", "::ffff:10.0.0.1", "10.0.0.0/33", ",,", " 10.1.2.3/8 ", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		l := newCIDRList("internal", "", nil)
		if err := l.Set(v); err != nil {
			return
		}
		for _, p := range l.prefixes {
			if !p.IsValid() || p != p.Masked() {
				t.Fatalf("%q gave %v", v, p)
			}
		}
		again := newCIDRList("internal", "", nil)
		if err := again.Set(l.String()); err != nil && len(l.prefixes) > 0 {
			t.Fatalf("%q rendered as %q, which does not parse: %v", v, l.String(), err)
		}
		if len(again.prefixes) != len(l.prefixes) {
			t.Fatalf("%q: %v, then %v", v, l.prefixes, again.prefixes)
		}
		for i := range l.prefixes {
			if again.prefixes[i] != l.prefixes[i] {
				t.Fatalf("%q: %v, then %v", v, l.prefixes, again.prefixes)
			}
		}
	})
}
