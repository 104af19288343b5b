package hostid

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"slices"
)

// HostState is one host of a Table as a checkpoint keeps it: its key, the
// addresses it used, its evidence and signal counts. A restarted sensor
// imports it (Import) so that the OS verdict an alert carries just after a
// restart is the one the sensor had reached before it.
type HostState struct {
	MAC      [6]byte         `json:"mac,omitzero"` // the host's own MAC; zero for a host keyed by address
	IP       netip.Addr      `json:"ip,omitzero"`  // the key of a host seen without its own MAC
	Addrs    []AddrSeen      `json:"addrs,omitempty"`
	Router   bool            `json:"router,omitempty"`
	First    int64           `json:"first"` // capture time, Unix ns
	Last     int64           `json:"last"`
	Hostname string          `json:"hostname,omitempty"`
	HostPrio uint8           `json:"hostname_prio,omitempty"`
	Evidence []EvidenceState `json:"evidence,omitempty"`
	Signals  []uint32        `json:"signals,omitempty"` // packets per signal kind (tcp_syn, dhcp, dhcpv6, mdns, dns, http_ua)
}

// AddrSeen is an address a host sent from, and when last.
type AddrSeen struct {
	Addr netip.Addr `json:"addr"`
	Last int64      `json:"last"`
}

// EvidenceState is one piece of a host's evidence.
type EvidenceState struct {
	Key    uint32  `json:"key"`
	Kind   uint8   `json:"kind"`
	Claim  uint8   `json:"claim"`
	Weight float64 `json:"weight"`
	Text   string  `json:"text"`
	Count  uint32  `json:"count"`
	First  int64   `json:"first"`
	Last   int64   `json:"last"`
}

// BindingState is an address bound to a host's MAC until a time.
type BindingState struct {
	Addr  netip.Addr
	MAC   [6]byte
	Until int64 // Unix ns
	DHCP  bool  // from a DHCP lease, not only from traffic
}

// Limits of an imported state, beyond which it is refused: what a Table
// itself never exceeds.
const (
	maxEvidenceText = 512
	maxWeight       = 100
)

// ErrBadState is wrapped by Import and UnmarshalBinary for a state that a
// Table could not have written.
var ErrBadState = errors.New("hostid: bad host state")

// Key names the host: "mac 3c:22:fb:00:00:01" or "ip 10.0.0.9". Two workers
// holding one host (a dual-stack Mac's IPv4 and IPv6 are sharded apart)
// export the same key; Merge joins them.
func (s *HostState) Key() string {
	if s.MAC != [6]byte{} {
		return "mac " + net.HardwareAddr(s.MAC[:]).String()
	}
	return "ip " + s.IP.String()
}

// MarshalBinary encodes the state for the state database.
func (s *HostState) MarshalBinary() ([]byte, error) { return json.Marshal(s) }

// UnmarshalBinary decodes what MarshalBinary wrote and checks it.
func (s *HostState) UnmarshalBinary(b []byte) error {
	var x HostState
	if err := json.Unmarshal(b, &x); err != nil {
		return fmt.Errorf("%w: %v", ErrBadState, err)
	}
	if err := x.check(); err != nil {
		return err
	}
	*s = x
	return nil
}

// check refuses what no Table writes: no key or two, more evidence,
// addresses or signal kinds than a host holds, unknown kinds or claims.
func (s *HostState) check() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrBadState}, a...)...)
	}
	hasMAC := s.MAC != [6]byte{}
	switch {
	case hasMAC == s.IP.IsValid():
		return bad("a host is keyed by its MAC or by one address")
	case hasMAC && !usableMAC(s.MAC):
		return bad("MAC %s is a group address", net.HardwareAddr(s.MAC[:]))
	case len(s.Addrs) > ringSize:
		return bad("%d addresses, at most %d", len(s.Addrs), ringSize)
	case len(s.Evidence) > maxEvidence:
		return bad("%d evidence entries, at most %d", len(s.Evidence), maxEvidence)
	case len(s.Signals) > int(numKinds):
		return bad("%d signal kinds, at most %d", len(s.Signals), numKinds)
	case len(s.Hostname) > maxHostname:
		return bad("hostname of %d bytes", len(s.Hostname))
	case s.HostPrio > prioMDNS:
		return bad("hostname priority %d", s.HostPrio)
	case s.First > s.Last:
		return bad("first seen after last seen")
	}
	for _, a := range s.Addrs {
		if !a.Addr.IsValid() {
			return bad("an invalid address")
		}
	}
	for _, e := range s.Evidence {
		switch {
		case e.Kind >= uint8(numKinds) || e.Claim >= uint8(numClaims):
			return bad("evidence kind %d, claim %d", e.Kind, e.Claim)
		case math.IsNaN(e.Weight) || e.Weight < 0 || e.Weight > maxWeight:
			return bad("evidence weight %v", e.Weight)
		case len(e.Text) > maxEvidenceText:
			return bad("evidence text of %d bytes", len(e.Text))
		case e.Count == 0 || e.First > e.Last:
			return bad("evidence count %d, first %d, last %d", e.Count, e.First, e.Last)
		}
	}
	return nil
}

func (h *host) state() HostState {
	s := HostState{MAC: h.key.mac, IP: h.key.ip, Router: h.router, First: h.first, Last: h.last,
		Hostname: h.hostname, HostPrio: h.hostPrio}
	for _, a := range h.ips {
		if a.addr.IsValid() {
			s.Addrs = append(s.Addrs, AddrSeen{a.addr, a.last})
		}
	}
	for _, e := range h.ev {
		s.Evidence = append(s.Evidence, EvidenceState{Key: e.key, Kind: uint8(e.kind), Claim: uint8(e.claim), Weight: e.weight,
			Text: e.text, Count: e.count, First: e.first, Last: e.last})
	}
	if h.signals != ([numKinds]uint32{}) {
		s.Signals = slices.Clone(h.signals[:])
	}
	return s
}

// Export copies out every host and every unexpired binding whose host is in
// the table, least recently observed first. A checkpoint calls it between
// batches, never per packet.
func (t *Table) Export(host func(*HostState), bind func(BindingState)) {
	for _, h := range t.hosts.Values() {
		s := h.state()
		host(&s)
	}
	if bind == nil {
		return
	}
	for _, a := range t.binds.Keys() {
		b, ok := t.binds.Peek(a)
		if !ok || b.until < t.now || !t.hosts.Contains(hostKey{mac: b.mac}) {
			continue
		}
		bind(BindingState{Addr: a, MAC: b.mac, Until: b.until, DHCP: b.dhcp})
	}
}

// Import adds a host a previous run exported, merging it with the host of
// the same key if the table has one. The table's bounds hold: a host beyond
// MaxHosts evicts the least recently observed, counted as any eviction.
func (t *Table) Import(s *HostState) error {
	if err := s.check(); err != nil {
		return err
	}
	k := hostKey{mac: s.MAC, ip: s.IP}
	m := *s
	if old, ok := t.hosts.Peek(k); ok {
		o := old.state()
		m = o
		m.Merge(s)
	}
	h := &host{key: k, router: m.Router, first: m.First, last: m.Last, hostname: m.Hostname, hostPrio: m.HostPrio}
	for i, a := range m.Addrs {
		h.ips[i] = ipSeen{a.Addr, a.Last}
	}
	for _, e := range m.Evidence {
		h.ev = append(h.ev, evidence{key: e.Key, kind: kind(e.Kind), claim: claim(e.Claim), weight: e.Weight, text: e.Text,
			count: e.Count, first: e.First, last: e.Last})
	}
	copy(h.signals[:], m.Signals)
	if t.hosts.Add(k, h) {
		t.stats.Evictions++
	}
	t.now = max(t.now, m.Last)
	return nil
}

// ImportBinding restores an address's binding to a MAC unless the table
// holds one that lasts longer. Beyond MaxHosts bindings the least recently
// used is evicted and counted.
func (t *Table) ImportBinding(b BindingState) error {
	if !b.Addr.IsValid() || b.Addr.IsUnspecified() || !usableMAC(b.MAC) {
		return fmt.Errorf("%w: binding of %v to %s", ErrBadState, b.Addr, net.HardwareAddr(b.MAC[:]))
	}
	if old, ok := t.binds.Peek(b.Addr); ok && old.until >= b.Until {
		return nil
	}
	if t.binds.Add(b.Addr, binding{mac: b.MAC, until: b.Until, dhcp: b.DHCP}) {
		t.stats.BindingEvictions++
	}
	return nil
}

// Merge adds what o knows about the same host: its addresses (the most
// recent ringSize kept), evidence (identical evidence counted once, at the
// larger count; the strongest and most recent maxEvidence kept), signals
// and the better hostname. Merging a state with an older copy of itself
// changes nothing, so the copies of two workers and of two checkpoints
// merge in any order.
func (s *HostState) Merge(o *HostState) {
	s.Router = s.Router || o.Router
	if o.HostPrio > s.HostPrio || o.HostPrio == s.HostPrio && o.Hostname != "" && o.Last > s.Last {
		s.Hostname, s.HostPrio = o.Hostname, o.HostPrio
	}
	s.First, s.Last = min(s.First, o.First), max(s.Last, o.Last)
	for _, a := range o.Addrs {
		i := slices.IndexFunc(s.Addrs, func(x AddrSeen) bool { return x.Addr == a.Addr })
		if i < 0 {
			s.Addrs = append(s.Addrs, a)
		} else if a.Last > s.Addrs[i].Last {
			s.Addrs[i].Last = a.Last
		}
	}
	if len(s.Addrs) > ringSize {
		slices.SortStableFunc(s.Addrs, func(a, b AddrSeen) int { return cmp.Compare(b.Last, a.Last) })
		s.Addrs = s.Addrs[:ringSize]
	}
	for _, e := range o.Evidence {
		i := slices.IndexFunc(s.Evidence, func(x EvidenceState) bool { return x.Key == e.Key })
		if i < 0 {
			s.Evidence = append(s.Evidence, e)
			continue
		}
		x := &s.Evidence[i]
		x.Count = max(x.Count, e.Count)
		x.First = min(x.First, e.First)
		x.Last = max(x.Last, e.Last)
	}
	if len(s.Evidence) > maxEvidence {
		slices.SortStableFunc(s.Evidence, func(a, b EvidenceState) int {
			if a.Weight != b.Weight {
				if a.Weight > b.Weight {
					return -1
				}
				return 1
			}
			return cmp.Compare(b.Last, a.Last)
		})
		s.Evidence = s.Evidence[:maxEvidence]
	}
	if s.Router {
		// A router's evidence is another host's: noteIP drops it too.
		s.Evidence, s.Hostname, s.HostPrio = nil, "", 0
	}
	for i, n := range o.Signals {
		if i >= len(s.Signals) {
			s.Signals = append(s.Signals, n)
		} else {
			s.Signals[i] = max(s.Signals[i], n)
		}
	}
}
