package baseline

import (
	"errors"
	"fmt"
	"net/netip"
	"path"
	"strings"
)

// destSet matches destination names and addresses. Exact names and
// "*.suffix" globs are map lookups, so a long list costs no more per alert
// than a short one; other globs are matched one by one with path.Match.
//
// Glob semantics: "*" matches any run of characters, dots included, so
// "*.example.com" matches "a.example.com" and "a.b.example.com" but not
// "example.com" itself: a rule meaning both writes both.
type destSet struct {
	exact    map[string]string // fqdn → rule text
	suffix   map[string]string // ".example.com" → rule text ("*.example.com")
	globs    []globRule
	prefixes []prefixRule
}

type globRule struct{ glob, rule string }

type prefixRule struct {
	p    netip.Prefix
	rule string
}

func newDestSet() destSet {
	return destSet{exact: map[string]string{}, suffix: map[string]string{}}
}

func (d *destSet) empty() bool {
	return len(d.exact) == 0 && len(d.suffix) == 0 && len(d.globs) == 0 && len(d.prefixes) == 0
}

func (d *destSet) merge(o *destSet) {
	for k, v := range o.exact {
		if _, ok := d.exact[k]; !ok {
			d.exact[k] = v
		}
	}
	for k, v := range o.suffix {
		if _, ok := d.suffix[k]; !ok {
			d.suffix[k] = v
		}
	}
	d.globs = append(d.globs, o.globs...)
	d.prefixes = append(d.prefixes, o.prefixes...)
}

// add parses one destination: a name, a name glob, an address or a CIDR.
// rule is how a match names it.
func (d *destSet) add(s, rule string) error {
	s = strings.TrimSpace(s)
	if s == "" {
		return errors.New("empty destination")
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("not a CIDR: %w", err)
		}
		d.prefixes = append(d.prefixes, prefixRule{p.Masked(), orRule(rule, p.Masked().String())})
		return nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		p := netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		d.prefixes = append(d.prefixes, prefixRule{p, orRule(rule, p.String())})
		return nil
	}
	g := normName(s)
	if _, err := path.Match(g, ""); err != nil {
		return fmt.Errorf("bad glob: %w", err)
	}
	if strings.ContainsAny(g, "/ ") {
		return fmt.Errorf("%q is not a host name, glob, address or CIDR", s)
	}
	rule = orRule(rule, s)
	switch {
	case !strings.ContainsAny(g, "*?["):
		d.exact[g] = rule
	case strings.HasPrefix(g, "*.") && !strings.ContainsAny(g[2:], "*?["):
		d.suffix[g[1:]] = rule
	default:
		d.globs = append(d.globs, globRule{g, rule})
	}
	return nil
}

func orRule(rule, s string) string {
	if rule != "" {
		return rule
	}
	return s
}

func (d *destSet) matchName(fqdn string) (string, bool) {
	n := normName(fqdn)
	if n == "" {
		return "", false
	}
	if r, ok := d.exact[n]; ok {
		return r, true
	}
	for i := strings.IndexByte(n, '.'); i >= 0; {
		if r, ok := d.suffix[n[i:]]; ok {
			return r, true
		}
		j := strings.IndexByte(n[i+1:], '.')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	for _, g := range d.globs {
		if m, _ := path.Match(g.glob, n); m {
			return g.rule, true
		}
	}
	return "", false
}

func (d *destSet) matchAddr(ip netip.Addr) (string, bool) {
	ip = ip.Unmap()
	for _, p := range d.prefixes {
		if p.p.Contains(ip) {
			return p.rule, true
		}
	}
	return "", false
}

// matches reports whether the set approves d: by name, or by every address.
func (d *destSet) matches(dst Destination) bool {
	if dst.Name != "" {
		if _, ok := d.matchName(dst.Name); ok {
			return true
		}
	}
	if len(dst.Addrs) == 0 {
		return false
	}
	for _, a := range dst.Addrs {
		if _, ok := d.matchAddr(a); !ok {
			return false
		}
	}
	return true
}
