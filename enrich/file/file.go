// Package file is the file inventory provider: a JSON export of devices and
// their launchd jobs (the schema in docs/enrichment/file.md), indexed by
// IP address, MAC address and hostname, reloaded when the file changes or on
// demand (SIGHUP). A file that fails to parse never replaces a good one.
package file

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/launchtap/launchtap/enrich/inventory"
	"github.com/launchtap/launchtap/sensor/hostid"
)

// MaxFileSize bounds the inventory file; larger files are rejected, not truncated.
const MaxFileSize = 64 << 20

// MaxJobsPerDevice bounds one device's launchd list (a Mac has ~500 with /System).
const MaxJobsPerDevice = 20000

var (
	topKeys    = []string{"devices"}
	deviceKeys = []string{"serial", "hostname", "platform", "os_version", "user", "mac_addresses", "ip_addresses", "launchd"}
	platforms  = []string{"darwin", "windows", "linux", "ios"}
)

// Inventory is one parsed file, indexed for lookups. It is immutable.
type Inventory struct {
	Hosts      []*inventory.Host
	byIP       map[netip.Addr]*inventory.Host
	byMAC      map[string]*inventory.Host
	byHostname map[string]*inventory.Host
	// Warnings are non-fatal findings (an address claimed by two devices).
	Warnings []string
}

// Parse decodes and validates an inventory in the documented schema.
func Parse(data []byte) (*Inventory, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("inventory: %d bytes exceed the %d-byte limit", len(data), MaxFileSize)
	}
	tree, err := inventory.DecodeTree(data)
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	top, err := inventory.Object(tree, "inventory", topKeys)
	if err != nil {
		return nil, err
	}
	devs, ok := top["devices"].([]any)
	if !ok {
		if top["devices"] == nil {
			return nil, fmt.Errorf(`inventory: missing "devices" array (want {"devices":[...]})`)
		}
		return nil, fmt.Errorf(`inventory.devices: want an array`)
	}
	inv := &Inventory{
		byIP:       make(map[netip.Addr]*inventory.Host),
		byMAC:      make(map[string]*inventory.Host),
		byHostname: make(map[string]*inventory.Host),
	}
	for i, d := range devs {
		h, err := decodeDevice(d, fmt.Sprintf("devices[%d]", i))
		if err != nil {
			return nil, fmt.Errorf("inventory: %w", err)
		}
		inv.add(h, i)
	}
	return inv, nil
}

func decodeDevice(v any, path string) (*inventory.Host, error) {
	m, err := inventory.Object(v, path, deviceKeys)
	if err != nil {
		return nil, err
	}
	h := &inventory.Host{CalendarComplete: true}
	for _, f := range []struct {
		key string
		dst *string
	}{{"serial", &h.Serial}, {"hostname", &h.Hostname}, {"os_version", &h.OSVersion}, {"user", &h.User}} {
		if *f.dst, err = inventory.String(m, f.key, path); err != nil {
			return nil, err
		}
	}
	plat, err := inventory.String(m, "platform", path)
	if err != nil {
		return nil, err
	}
	if !contains(platforms, plat) {
		return nil, fmt.Errorf("%s.platform: %q is not one of darwin, windows, linux, ios", path, plat)
	}
	h.Platform = hostid.ParsePlatform(plat)
	macs, err := inventory.Strings(m, "mac_addresses", path, 64)
	if err != nil {
		return nil, err
	}
	for i, s := range macs {
		mac, err := inventory.NormalizeMAC(s)
		if err != nil {
			return nil, fmt.Errorf("%s.mac_addresses[%d]: %q is not a MAC address such as 3c:22:fb:1a:2b:3c", path, i, s)
		}
		h.MACs = append(h.MACs, mac)
	}
	ips, err := inventory.Strings(m, "ip_addresses", path, 64)
	if err != nil {
		return nil, err
	}
	for i, s := range ips {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%s.ip_addresses[%d]: %q is not an IP address", path, i, s)
		}
		h.IPs = append(h.IPs, a.Unmap())
	}
	if h.Hostname == "" && h.Serial == "" {
		return nil, fmt.Errorf("%s: needs a hostname or a serial to be named in alerts", path)
	}
	if len(h.IPs) == 0 && len(h.MACs) == 0 && h.Hostname == "" {
		return nil, fmt.Errorf("%s: needs ip_addresses, mac_addresses or hostname to be found", path)
	}
	switch jl := m["launchd"].(type) {
	case nil:
	case []any:
		if len(jl) > MaxJobsPerDevice {
			return nil, fmt.Errorf("%s.launchd: %d jobs exceed the limit of %d", path, len(jl), MaxJobsPerDevice)
		}
		h.Jobs = make([]inventory.Job, 0, len(jl))
		for k, jv := range jl {
			j, err := inventory.DecodeJob(jv, fmt.Sprintf("%s.launchd[%d]", path, k))
			if err != nil {
				return nil, err
			}
			h.Jobs = append(h.Jobs, j)
		}
	default:
		return nil, fmt.Errorf("%s.launchd: want an array of jobs or null", path)
	}
	return h, nil
}

func (inv *Inventory) add(h *inventory.Host, idx int) {
	inv.Hosts = append(inv.Hosts, h)
	for _, a := range h.IPs {
		if prev, dup := inv.byIP[a]; dup {
			inv.Warnings = append(inv.Warnings, fmt.Sprintf("devices[%d] (%s): ip %s already belongs to %s; keeping the first", idx, h.Hostname, a, prev.Hostname))
			continue
		}
		inv.byIP[a] = h
	}
	for _, mac := range h.MACs {
		if prev, dup := inv.byMAC[mac]; dup {
			inv.Warnings = append(inv.Warnings, fmt.Sprintf("devices[%d] (%s): mac %s already belongs to %s; keeping the first", idx, h.Hostname, mac, prev.Hostname))
			continue
		}
		inv.byMAC[mac] = h
	}
	if h.Hostname != "" {
		k := strings.ToLower(h.Hostname)
		if _, dup := inv.byHostname[k]; !dup {
			inv.byHostname[k] = h
		}
	}
}

// Find returns the device for an address, then a MAC, then a hostname.
func (inv *Inventory) Find(ip netip.Addr, mac, hostname string) *inventory.Host {
	if ip.IsValid() {
		if h := inv.byIP[ip.Unmap()]; h != nil {
			return h
		}
	}
	if mac != "" {
		if h := inv.byMAC[strings.ToLower(mac)]; h != nil {
			return h
		}
	}
	if hostname != "" {
		k := strings.ToLower(strings.TrimSuffix(hostname, "."))
		if h := inv.byHostname[k]; h != nil {
			return h
		}
		if short, _, ok := strings.Cut(k, "."); ok {
			return inv.byHostname[short]
		}
	}
	return nil
}

// Provider serves lookups from the current inventory and reloads it.
type Provider struct {
	path string
	log  *slog.Logger
	cur  atomic.Pointer[Inventory]

	mu      sync.Mutex // serialises reloads
	modTime time.Time
	size    int64

	Reloads      atomic.Uint64
	ReloadErrors atomic.Uint64
}

// Open loads the inventory; an unreadable or invalid file is an error.
func Open(path string, log *slog.Logger) (*Provider, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Provider{path: path, log: log.With("component", "enrich/file")}
	if err := p.Reload(); err != nil {
		return nil, err
	}
	return p, nil
}

// Name is the provider's name in alerts.
func (p *Provider) Name() string { return "file" }

// Current returns the inventory in use.
func (p *Provider) Current() *Inventory { return p.cur.Load() }

// Reload re-reads the file. On error the previous inventory stays in use.
func (p *Provider) Reload() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reloadLocked()
}

func (p *Provider) reloadLocked() error {
	f, err := os.Open(p.path)
	if err != nil {
		p.ReloadErrors.Add(1)
		return fmt.Errorf("inventory: opening %s: %w", p.path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		p.ReloadErrors.Add(1)
		return fmt.Errorf("inventory: stat %s: %w", p.path, err)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		p.ReloadErrors.Add(1)
		return fmt.Errorf("inventory: reading %s: %w", p.path, err)
	}
	inv, err := Parse(data)
	if err != nil {
		p.ReloadErrors.Add(1)
		return fmt.Errorf("%s: %w", p.path, err)
	}
	for _, w := range inv.Warnings {
		p.log.Warn("inventory: duplicate address", "file", p.path, "detail", w)
	}
	p.cur.Store(inv)
	p.modTime, p.size = st.ModTime(), st.Size()
	p.Reloads.Add(1)
	p.log.Info("inventory loaded", "file", p.path, "devices", len(inv.Hosts))
	return nil
}

// Watch polls the file every interval and reloads it when its size or
// modification time changes, until ctx ends. Polling rather than inotify
// keeps it working for files replaced by rename, on NFS and in containers.
func (p *Provider) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st, err := os.Stat(p.path)
		if err != nil {
			continue
		}
		p.mu.Lock()
		changed := !st.ModTime().Equal(p.modTime) || st.Size() != p.size
		if changed {
			if err := p.reloadLocked(); err != nil {
				p.log.Error("inventory reload failed; keeping the previous inventory", "err", err)
				// Do not retry the same broken file every tick.
				p.modTime, p.size = st.ModTime(), st.Size()
			}
		}
		p.mu.Unlock()
	}
}

// Lookup finds the host. It never blocks on anything but memory.
func (p *Provider) Lookup(_ context.Context, q inventory.Query) (*inventory.Host, error) {
	inv := p.cur.Load()
	if inv == nil {
		return nil, fmt.Errorf("file inventory not loaded: %w", inventory.ErrUnavailable)
	}
	if h := inv.Find(q.IP, q.MAC, q.Hostname); h != nil {
		return h, nil
	}
	return nil, fmt.Errorf("%s in %s: %w", q.IP, p.path, inventory.ErrHostNotFound)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
