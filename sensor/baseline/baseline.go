// Package baseline decides which periodic communicators are expected: a
// default list of well-known benign services shipped with the sensor (Apple
// time, push and update services; major MDM and EDR vendors' check-in
// domains) merged with an organisation's own file of approved destinations
// (domain globs or CIDRs) and approved launchd labels (globs).
//
// A Baseline is immutable once built, so any number of goroutines may query
// it; Live swaps in a reloaded one atomically.
package baseline

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path"
	"strings"
	"sync/atomic"

	"gopkg.in/yaml.v3"
)

//go:embed default.yaml
var defaultYAML []byte

// Baseline is a set of approved destinations and launchd labels.
type Baseline struct {
	exact    map[string]string // fqdn → rule
	suffix   map[string]string // ".example.com" → rule ("*.example.com")
	globs    []string          // other globs, matched with path.Match
	prefixes []netip.Prefix
	labels   []string
	labelEx  map[string]string
}

var def = func() *Baseline {
	b, err := parse(defaultYAML, nil)
	if err != nil {
		panic(fmt.Sprintf("baseline: embedded default: %v", err)) // caught by TestDefault
	}
	return b
}()

// Default returns the embedded default baseline.
func Default() *Baseline { return def }

// Load reads an organisation baseline file (YAML). Unknown keys are rejected
// naming the key. It is merged with Default unless the file says
// `include_default: false`.
func Load(file string) (*Baseline, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("baseline: reading %s: %w", file, err)
	}
	b, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("baseline: %s: %w", file, err)
	}
	return b, nil
}

// Parse builds a baseline from YAML, merged with Default unless
// include_default is false. An empty document approves only the default.
func Parse(data []byte) (*Baseline, error) { return parse(data, def) }

func parse(data []byte, base *Baseline) (*Baseline, error) {
	f, err := decode(data)
	if err != nil {
		return nil, err
	}
	b := &Baseline{exact: map[string]string{}, suffix: map[string]string{}, labelEx: map[string]string{}}
	if f.includeDefault && base != nil {
		b.merge(base)
	}
	for i, r := range f.destinations {
		if err := b.addDestination(r); err != nil {
			return nil, fmt.Errorf("approved_destinations[%d] %q: %w", i, r, err)
		}
	}
	for i, r := range f.labels {
		if err := b.addLabel(r); err != nil {
			return nil, fmt.Errorf("approved_labels[%d] %q: %w", i, r, err)
		}
	}
	return b, nil
}

type file struct {
	includeDefault bool
	destinations   []string
	labels         []string
}

// decode checks keys by hand so an unknown or misspelt key is reported by name.
func decode(data []byte) (file, error) {
	f := file{includeDefault: true}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, errEOF()) {
			return f, nil
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
		return f, fmt.Errorf("line %d: want a mapping with approved_destinations / approved_labels", root.Line)
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		var err error
		switch k.Value {
		case "include_default":
			err = v.Decode(&f.includeDefault)
		case "approved_destinations":
			err = v.Decode(&f.destinations)
		case "approved_labels":
			err = v.Decode(&f.labels)
		default:
			return f, fmt.Errorf("line %d: unknown key %q (want include_default, approved_destinations, approved_labels)", k.Line, k.Value)
		}
		if err != nil {
			return f, fmt.Errorf("key %q (line %d): %w", k.Value, k.Line, err)
		}
	}
	return f, nil
}

func errEOF() error { return io.EOF }

func (b *Baseline) merge(o *Baseline) {
	for k, v := range o.exact {
		b.exact[k] = v
	}
	for k, v := range o.suffix {
		b.suffix[k] = v
	}
	b.globs = append(b.globs, o.globs...)
	b.prefixes = append(b.prefixes, o.prefixes...)
	b.labels = append(b.labels, o.labels...)
	for k, v := range o.labelEx {
		b.labelEx[k] = v
	}
}

func (b *Baseline) addDestination(r string) error {
	r = strings.TrimSpace(r)
	if r == "" {
		return errors.New("empty rule")
	}
	if strings.Contains(r, "/") {
		p, err := netip.ParsePrefix(r)
		if err != nil {
			return fmt.Errorf("not a CIDR: %w", err)
		}
		b.prefixes = append(b.prefixes, p.Masked())
		return nil
	}
	if a, err := netip.ParseAddr(r); err == nil {
		b.prefixes = append(b.prefixes, netip.PrefixFrom(a, a.BitLen()))
		return nil
	}
	g := normName(r)
	if _, err := path.Match(g, ""); err != nil {
		return fmt.Errorf("bad glob: %w", err)
	}
	switch {
	case !strings.ContainsAny(g, "*?["):
		b.exact[g] = r
	case strings.HasPrefix(g, "*.") && !strings.ContainsAny(g[2:], "*?["):
		b.suffix[g[1:]] = r
	default:
		b.globs = append(b.globs, g)
	}
	return nil
}

func (b *Baseline) addLabel(r string) error {
	r = strings.TrimSpace(r)
	if r == "" {
		return errors.New("empty rule")
	}
	if _, err := path.Match(r, ""); err != nil {
		return fmt.Errorf("bad glob: %w", err)
	}
	if !strings.ContainsAny(r, "*?[") {
		b.labelEx[r] = r
		return nil
	}
	b.labels = append(b.labels, r)
	return nil
}

func normName(s string) string { return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".") }

// ApprovedDestination reports whether a destination is approved, by name
// (fqdn, may be empty) or address, and the rule that approved it.
func (b *Baseline) ApprovedDestination(fqdn string, ip netip.Addr) (rule string, ok bool) {
	if b == nil {
		return "", false
	}
	if fqdn != "" {
		n := normName(fqdn)
		if r, ok := b.exact[n]; ok {
			return r, true
		}
		for i := strings.IndexByte(n, '.'); i >= 0; {
			if r, ok := b.suffix[n[i:]]; ok {
				return r, true
			}
			j := strings.IndexByte(n[i+1:], '.')
			if j < 0 {
				break
			}
			i += 1 + j
		}
		for _, g := range b.globs {
			if m, _ := path.Match(g, n); m {
				return g, true
			}
		}
	}
	if ip.IsValid() {
		ip = ip.Unmap()
		for _, p := range b.prefixes {
			if p.Contains(ip) {
				return p.String(), true
			}
		}
	}
	return "", false
}

// ApprovedLabel reports whether a launchd label is approved and by which rule.
func (b *Baseline) ApprovedLabel(label string) (rule string, ok bool) {
	if b == nil || label == "" {
		return "", false
	}
	if r, ok := b.labelEx[label]; ok {
		return r, true
	}
	for _, g := range b.labels {
		if m, _ := path.Match(g, label); m {
			return g, true
		}
	}
	return "", false
}

// Live holds the current baseline for concurrent readers and swaps in a
// reloaded file atomically (for example on SIGHUP).
type Live struct{ p atomic.Pointer[Baseline] }

// NewLive returns a Live holding b (Default when b is nil).
func NewLive(b *Baseline) *Live {
	if b == nil {
		b = Default()
	}
	l := &Live{}
	l.p.Store(b)
	return l
}

// Get returns the current baseline.
func (l *Live) Get() *Baseline { return l.p.Load() }

// Reload loads file and makes it current; on error the old one stays.
func (l *Live) Reload(file string) error {
	b, err := Load(file)
	if err != nil {
		return err
	}
	l.p.Store(b)
	return nil
}
