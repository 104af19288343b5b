package hostid

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Config configures a Table. The zero value is usable: defaults apply to
// zero fields.
type Config struct {
	// P0fDB is a p0f.fp file to use instead of the embedded database (--p0f-db).
	P0fDB string
	// MacOS lists networks known to hold only Macs (--macos CIDR,...).
	MacOS PrefixList
	// MaxHosts bounds the host table (--max-hosts); least recently observed
	// hosts are evicted first. The IP↔MAC binding table has the same bound.
	MaxHosts int
	// BindTTL is how long an IP↔MAC binding learned from traffic stays valid
	// after it was last seen (--host-bind-ttl); DHCP bindings last the lease.
	BindTTL time.Duration
	// RouterIPs is how many distinct recent IPv4 addresses (or IPv6 /64s) one
	// MAC may source before it is treated as a router whose frames carry other
	// hosts' traffic (--router-ips).
	RouterIPs int
	// Internal, when set, restricts hosts to sources in these networks
	// (link-local addresses always count). Not a flag here: the pipeline's
	// --internal feeds it. Empty means every source.
	Internal []netip.Prefix
	// InternalSet, when set, is asked instead of Internal. The pipeline
	// hands its own set (*netset.Set) so that the IPv6 prefixes it learns
	// from router advertisements while it runs count at once: a copy of
	// the configured prefixes would leave their hosts untracked.
	InternalSet Networks
	// Platform, when set, is asked for the authoritative platform of a host
	// at Lookup (the inventory / MDM enrichment).
	Platform PlatformLookup
}

// Networks is a set of networks that can grow while the table is in use;
// Contains is called per observed packet, so it must not lock or allocate.
type Networks interface {
	Contains(netip.Addr) bool
}

// Defaults.
const (
	DefaultMaxHosts  = 65536
	DefaultBindTTL   = 30 * time.Minute
	DefaultRouterIPs = 4
)

// RegisterFlags registers --p0f-db, --macos, --max-hosts, --host-bind-ttl and
// --router-ips on fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.P0fDB, "p0f-db", c.P0fDB, "TCP SYN signature `file` in p0f v3 p0f.fp format (default: the embedded launchtap database)")
	fs.Var(&c.MacOS, "macos", "comma-separated `CIDRs` known to hold only macOS hosts (static override)")
	fs.IntVar(&c.MaxHosts, "max-hosts", DefaultMaxHosts, "bound on the host table per worker; oldest hosts are evicted")
	fs.DurationVar(&c.BindTTL, "host-bind-ttl", DefaultBindTTL, "how long an IP↔MAC binding learned from traffic stays valid for host identification; also the window of the router rule and of host identity's name joins (docs/host-identity.md)")
	fs.IntVar(&c.RouterIPs, "router-ips", DefaultRouterIPs, "distinct recent IPv4 addresses (or IPv6 /64s) after which a MAC is treated as a router")
}

func (c *Config) withDefaults() (Config, error) {
	cfg := *c
	if cfg.MaxHosts == 0 {
		cfg.MaxHosts = DefaultMaxHosts
	}
	if cfg.BindTTL == 0 {
		cfg.BindTTL = DefaultBindTTL
	}
	if cfg.RouterIPs == 0 {
		cfg.RouterIPs = DefaultRouterIPs
	}
	switch {
	case cfg.MaxHosts < 1:
		return cfg, fmt.Errorf("hostid: --max-hosts must be positive, got %d", cfg.MaxHosts)
	case cfg.BindTTL < 0:
		return cfg, fmt.Errorf("hostid: --host-bind-ttl must not be negative, got %s", cfg.BindTTL)
	case cfg.RouterIPs < 1 || cfg.RouterIPs > ringSize-1:
		return cfg, fmt.Errorf("hostid: --router-ips must be 1..%d, got %d", ringSize-1, cfg.RouterIPs)
	}
	return cfg, nil
}

// PrefixList is a flag.Value holding comma-separated CIDRs (a bare address is
// a /32 or /128).
type PrefixList []netip.Prefix

// String renders the list as it is given on the command line.
func (l *PrefixList) String() string {
	if l == nil {
		return ""
	}
	s := make([]string, len(*l))
	for i, p := range *l {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// Set parses a comma-separated list, replacing the current value.
func (l *PrefixList) Set(v string) error {
	ps, err := ParsePrefixes(v)
	if err != nil {
		return err
	}
	*l = ps
	return nil
}

// ParsePrefixes parses comma-separated CIDRs or addresses.
func ParsePrefixes(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for f := range strings.SplitSeq(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("hostid: bad CIDR %q: %w", f, err)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("hostid: bad address %q: %w", f, err)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	if len(out) == 0 && strings.TrimSpace(v) != "" {
		return nil, errors.New("hostid: empty CIDR list")
	}
	return out, nil
}
