package baseline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

type file struct {
	includeDefault bool
	rules          []*Rule
}

var (
	topKeys  = []string{"include_default", "approved_destinations", "approved_labels", "rules"}
	ruleKeys = []string{"name", "description", "labels", "programs", "team_ids", "plist", "destinations", "ports"}
)

// posError is a problem at a line of a baseline file.
type posError struct {
	src  string
	line int
	msg  string
}

func (e *posError) Error() string {
	if e.src == "" {
		return fmt.Sprintf("line %d: %s", e.line, e.msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.src, e.line, e.msg)
}

// decode reads a baseline document. Keys are checked by hand so an unknown
// or misspelt key is reported by name, and every error names its line.
func decode(data []byte, src string) (file, error) {
	f := file{includeDefault: true}
	errAt := func(line int, format string, args ...any) error {
		return &posError{src: src, line: line, msg: fmt.Sprintf(format, args...)}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return f, nil
		}
		if src != "" {
			return f, fmt.Errorf("%s: parsing YAML: %w", src, err)
		}
		return f, fmt.Errorf("parsing YAML: %w", err)
	}
	if len(doc.Content) == 0 {
		return f, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return f, nil
	}
	if root.Kind != yaml.MappingNode {
		return f, errAt(root.Line, "want a mapping with rules / approved_destinations / approved_labels")
	}
	names := map[string]int{}
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if seen[k.Value] {
			return f, errAt(k.Line, "key %q given twice", k.Value)
		}
		seen[k.Value] = true
		switch k.Value {
		case "include_default":
			if err := v.Decode(&f.includeDefault); err != nil {
				return f, errAt(v.Line, "key %q: want true or false", k.Value)
			}
		case "approved_destinations", "approved_labels":
			items, err := scalars(v)
			if err == nil && v.Kind != yaml.SequenceNode && v.Tag != "!!null" {
				err = errors.New("want a list")
			}
			if err != nil {
				return f, errAt(v.Line, "key %q: %v", k.Value, err)
			}
			for j, it := range items {
				r := &Rule{Name: strings.TrimSpace(it.Value), Source: at(src, it.Line), legacy: true, dests: newDestSet()}
				var err error
				if k.Value == "approved_labels" {
					err = r.addLabel(it.Value)
				} else {
					r.Destinations = []string{r.Name}
					err = r.dests.add(it.Value, "")
				}
				if err != nil {
					return f, errAt(it.Line, "%s[%d] %q: %v", k.Value, j, it.Value, err)
				}
				f.rules = append(f.rules, r)
			}
		case "rules":
			if v.Kind != yaml.SequenceNode {
				return f, errAt(v.Line, "key %q: want a list of rules", k.Value)
			}
			for j, n := range v.Content {
				r, err := decodeRule(n, src, fmt.Sprintf("rules[%d]", j))
				if err != nil {
					return f, err
				}
				if prev, ok := names[r.Name]; ok {
					return f, errAt(n.Line, "rules[%d]: name %q already used at line %d", j, r.Name, prev)
				}
				names[r.Name] = n.Line
				f.rules = append(f.rules, r)
			}
		default:
			return f, errAt(k.Line, "unknown key %q (want %s)", k.Value, strings.Join(topKeys, ", "))
		}
	}
	return f, nil
}

func at(src string, line int) string {
	if src == "" {
		return "line " + strconv.Itoa(line)
	}
	return src + ":" + strconv.Itoa(line)
}

// scalars returns the plain values of a scalar or a list of scalars.
func scalars(v *yaml.Node) ([]*yaml.Node, error) {
	switch v.Kind {
	case yaml.ScalarNode:
		if v.Tag == "!!null" {
			return nil, nil
		}
		return []*yaml.Node{v}, nil
	case yaml.SequenceNode:
		for _, e := range v.Content {
			if e.Kind != yaml.ScalarNode {
				return nil, errors.New("want a value or a list of plain values")
			}
		}
		return v.Content, nil
	}
	return nil, errors.New("want a value or a list of plain values")
}

func decodeRule(n *yaml.Node, src, where string) (*Rule, error) {
	errAt := func(line int, format string, args ...any) error {
		return &posError{src: src, line: line, msg: where + fmt.Sprintf(format, args...)}
	}
	if n.Kind != yaml.MappingNode {
		return nil, errAt(n.Line, ": want a mapping (name, labels, programs, team_ids, plist, destinations, ports)")
	}
	r := &Rule{Source: at(src, n.Line), dests: newDestSet()}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			return nil, errAt(k.Line, ": key %q given twice", k.Value)
		}
		seen[k.Value] = true
		if k.Value == "name" || k.Value == "description" || k.Value == "plist" {
			if v.Kind != yaml.ScalarNode {
				return nil, errAt(v.Line, ".%s: want a single value", k.Value)
			}
		}
		items, err := scalars(v)
		if err != nil {
			return nil, errAt(v.Line, ".%s: %v", k.Value, err)
		}
		for _, it := range items {
			s := strings.TrimSpace(it.Value)
			var err error
			switch k.Value {
			case "name":
				r.Name = s
			case "description":
				r.Description = s
			case "labels":
				err = r.addLabel(s)
			case "programs":
				err = r.addProgram(s)
			case "team_ids":
				err = r.addTeam(s)
			case "plist":
				switch Location(s) {
				case LocationSystem, LocationUser:
					r.Plist = Location(s)
				default:
					err = fmt.Errorf("%q is not system or user", s)
				}
			case "destinations":
				if err = r.dests.add(s, ""); err == nil {
					r.Destinations = append(r.Destinations, s)
				}
			case "ports":
				p, perr := strconv.ParseUint(s, 10, 16)
				if perr != nil || p == 0 {
					err = fmt.Errorf("%q is not a port (1-65535)", s)
				}
				r.Ports = append(r.Ports, uint16(p))
			default:
				return nil, errAt(k.Line, ": unknown key %q (want %s)", k.Value, strings.Join(ruleKeys, ", "))
			}
			if err != nil {
				return nil, errAt(it.Line, ".%s: %v", k.Value, err)
			}
		}
	}
	if r.Name == "" {
		r.Name = where
		if src != "" {
			r.Name = fmt.Sprintf("%s (%s)", where, r.Source)
		}
	}
	// The destination set names the rule on a match.
	r.dests = relabel(r.dests, r.Name)
	if !r.hasJob() && len(r.Destinations) == 0 {
		return nil, errAt(n.Line, ": a rule needs destinations or a launchd job part (labels, programs, team_ids, plist)")
	}
	return r, nil
}

// relabel names every entry of d by rule.
func relabel(d destSet, rule string) destSet {
	out := newDestSet()
	for k := range d.exact {
		out.exact[k] = rule
	}
	for k := range d.suffix {
		out.suffix[k] = rule
	}
	for _, g := range d.globs {
		out.globs = append(out.globs, globRule{g.glob, rule})
	}
	for _, p := range d.prefixes {
		out.prefixes = append(out.prefixes, prefixRule{p.p, rule})
	}
	return out
}

func (r *Rule) addLabel(s string) error {
	s = strings.TrimSpace(s)
	if s == "" {
		return errors.New("empty label")
	}
	if _, err := path.Match(s, ""); err != nil {
		return fmt.Errorf("bad glob: %w", err)
	}
	r.Labels = append(r.Labels, s)
	return nil
}

func (r *Rule) addProgram(s string) error {
	if s == "" {
		return errors.New("empty program path")
	}
	if !strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "~/") {
		return fmt.Errorf("%q is not an absolute path (or ~/ for any user's home)", s)
	}
	if strings.ContainsAny(s, "*?[") {
		return fmt.Errorf("%q: programs are path prefixes, not globs", s)
	}
	dir := strings.HasSuffix(s, "/")
	c := path.Clean(s)
	if strings.HasPrefix(s, "~/") {
		c = "~/" + strings.TrimPrefix(path.Clean("/"+s[2:]), "/")
	}
	if dir && !strings.HasSuffix(c, "/") {
		c += "/"
	}
	r.Programs = append(r.Programs, c)
	return nil
}

func (r *Rule) addTeam(s string) error {
	t := strings.ToUpper(s)
	if len(t) != 10 || strings.Trim(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" {
		return fmt.Errorf("%q is not a team identifier (10 letters and digits, as codesign -dv prints TeamIdentifier)", s)
	}
	r.TeamIDs = append(r.TeamIDs, t)
	return nil
}
