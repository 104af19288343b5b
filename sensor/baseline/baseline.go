// Package baseline decides which periodic communicators are expected. An
// approval is a rule whose parts must all match: the destination (name glob,
// CIDR, port), the launchd label (glob), the program's path (prefix), its
// code-signing team identifier, and where the job's plist lives (system or
// user). The label is the attacker's choice; the program path, the plist's
// location and the signature are much harder to borrow, so a job whose label
// matches a rule but whose program, plist location or team ID contradicts it
// is a masquerade, not an approval.
//
// A default list of well-known benign services ships with the sensor
// (default.yaml: Apple's enterprise-network hosts, MDM, EDR and common
// updaters, each vendor as a rule binding its label, program, team ID and
// destinations) and is merged with an organisation's own file. The file
// format is documented in docs/baseline.md.
//
// A Baseline is immutable once built, so any number of goroutines may query
// it; Live swaps in a reloaded one atomically.
package baseline

import (
	_ "embed"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
)

//go:embed default.yaml
var defaultYAML []byte

// Baseline is a set of approval rules.
type Baseline struct {
	rules []*Rule // in file order: built-in first unless include_default is false

	// Destination-only rules without ports, merged for a fast lookup; the
	// other destination-only rules are checked one by one.
	dest     destSet
	destPort []*Rule
	jobRules []*Rule // rules with a job part: judged once enrichment names the job
}

var def = func() *Baseline {
	b, err := parse(defaultYAML, "built-in", nil)
	if err != nil {
		panic(fmt.Sprintf("baseline: embedded default: %v", err)) // caught by TestDefault
	}
	for _, r := range b.rules {
		r.Builtin = true
	}
	return b
}()

// Default returns the embedded default baseline.
func Default() *Baseline { return def }

// Load reads an organisation baseline file (YAML). Errors name the file and
// line. It is merged with Default unless the file says
// `include_default: false`.
func Load(file string) (*Baseline, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("baseline: reading %s: %w", file, err)
	}
	b, err := parse(data, file, def)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	return b, nil
}

// Parse builds a baseline from YAML, merged with Default unless
// include_default is false. An empty document approves only the default.
// Errors name the line.
func Parse(data []byte) (*Baseline, error) { return parse(data, "", def) }

func parse(data []byte, src string, base *Baseline) (*Baseline, error) {
	f, err := decode(data, src)
	if err != nil {
		return nil, err
	}
	b := &Baseline{dest: newDestSet()}
	if f.includeDefault && base != nil {
		for _, r := range base.rules {
			b.add(r)
		}
	}
	for _, r := range f.rules {
		b.add(r)
	}
	return b, nil
}

func (b *Baseline) add(r *Rule) {
	b.rules = append(b.rules, r)
	switch {
	case r.hasJob():
		b.jobRules = append(b.jobRules, r)
	case len(r.Ports) == 0:
		b.dest.merge(&r.dests)
	default:
		b.destPort = append(b.destPort, r)
	}
}

// Rules returns the effective rules in the order they are judged.
func (b *Baseline) Rules() []*Rule {
	if b == nil {
		return nil
	}
	return b.rules
}

// Destination is what the detector saw of a pair's far end.
type Destination struct {
	Name  string       // the name the source resolved, "" if none
	Addrs []netip.Addr // every address the pair reached
	Port  uint16
}

// ApprovedDestination reports whether a destination-only rule without ports
// approves a name (may be empty) or an address, and which rule. Rules that
// name a port or a launchd job are not consulted.
func (b *Baseline) ApprovedDestination(fqdn string, ip netip.Addr) (rule string, ok bool) {
	if b == nil {
		return "", false
	}
	if fqdn != "" {
		if r, ok := b.dest.matchName(fqdn); ok {
			return r, true
		}
	}
	if ip.IsValid() {
		return b.dest.matchAddr(ip)
	}
	return "", false
}

// DestinationRule reports whether a destination-only rule approves d: by
// its name, or else by every address it reached. It is judged before
// enrichment: such a destination needs no launchd job to explain it.
func (b *Baseline) DestinationRule(d Destination) (rule string, ok bool) {
	if b == nil {
		return "", false
	}
	if d.Name != "" {
		if r, ok := b.dest.matchName(d.Name); ok {
			return r, true
		}
		for _, r := range b.destPort {
			if r.portOK(d.Port) {
				if _, ok := r.dests.matchName(d.Name); ok {
					return r.Name, true
				}
			}
		}
	}
	if len(d.Addrs) == 0 {
		return "", false
	}
	for _, a := range d.Addrs {
		r, ok := b.addrRule(a, d.Port)
		if !ok {
			return "", false
		}
		rule = r
	}
	return rule, true
}

func (b *Baseline) addrRule(a netip.Addr, port uint16) (string, bool) {
	if r, ok := b.dest.matchAddr(a); ok {
		return r, true
	}
	for _, r := range b.destPort {
		if r.portOK(port) {
			if _, ok := r.dests.matchAddr(a); ok {
				return r.Name, true
			}
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

// Set makes b current (a baseline from elsewhere than a file: the hub's).
func (l *Live) Set(b *Baseline) { l.p.Store(b) }

// Reload loads file and makes it current; on error the old one stays.
func (l *Live) Reload(file string) error {
	b, err := Load(file)
	if err != nil {
		return err
	}
	l.p.Store(b)
	return nil
}

func normName(s string) string { return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".") }
