package pipeline

import (
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/launchtap/launchtap/sensor/alert"
)

// Fleet grouping (docs/fleet-grouping.md): one unapproved destination
// beating at one period from many hosts is one decision for the SOC —
// approve the agent or investigate it — so it is one alert naming the hosts,
// not one alert per host.

// FleetConfig tunes fleet grouping. The zero value turns it off.
type FleetConfig struct {
	// MinHosts is how many hosts beating to one destination at one period
	// make a group (--group-min-hosts). Below it, hosts alert one by one as
	// without grouping. 0 turns grouping off; 1 is read as 2.
	MinHosts int
	// ListHosts caps the hosts a group alert lists (--fleet-list-hosts);
	// host_count stays exact. Default DefaultFleetListHosts.
	ListHosts int
	// MaxDests bounds the destinations remembered, least recently alerted
	// evicted. Default DefaultFleetMaxDests.
	MaxDests int
	// NoUpdates counts a host joining a delivered group without delivering
	// the update record (--group-updates=false).
	NoUpdates bool
}

// Validate reports a MinHosts that cannot make a group.
func (c FleetConfig) Validate() error {
	if c.MinHosts < 0 || c.MinHosts == 1 {
		return fmt.Errorf("group-min-hosts: %d hosts cannot make a group (0: off, or 2 and more)", c.MinHosts)
	}
	return nil
}

// Fleet grouping defaults and bounds.
const (
	DefaultFleetMinHosts  = 3
	DefaultFleetListHosts = 20
	DefaultFleetMaxDests  = 4096

	// fleetMaxPeriods bounds the period clusters kept per destination (a
	// destination several agents poll at different periods).
	fleetMaxPeriods = 4
	// fleetMaxMembers bounds the host identities the whole table remembers
	// (about 100 bytes each): past it, the least recently alerted
	// destinations are evicted to make room. A single group larger than it
	// stops remembering its new hosts, so a second alert of such a host
	// would be counted again; no fleet behind one sensor comes near.
	fleetMaxMembers = 65536

	// fleetPeriodTolerance is the relative distance within which two hosts'
	// periods are the same. launchd's StartInterval is one number on every
	// Mac that installed the agent, and the detector estimates it to well
	// under 1 % (a missed beat is a multiple of the period, not a change of
	// it); common intervals (300, 600, 900, 1800, 3600, 7200 s) are at least
	// 2× apart, so 5 % never merges two of them.
	fleetPeriodTolerance = 0.05
	// fleetJitterFactor widens the tolerance for jittered agents, whose
	// period is known only to within their jitter (the detector's re-alert
	// rule uses the same factor); fleetMaxTolerance caps it below the
	// distance between a period and its double.
	fleetJitterFactor = 1.5
	fleetMaxTolerance = 0.25
)

// FleetCounters count what fleet grouping did.
type FleetCounters struct {
	Groups       uint64 // groups formed: a group alert delivered
	Joined       uint64 // host alerts folded into a group instead of delivered as their own
	Updates      uint64 // update records delivered: a group grew, severity unchanged
	Raised       uint64 // group alerts delivered again under a new id because a joining host raised the severity
	MemberAlerts uint64 // later alerts of a member host, delivered with the group's id
	Evictions    uint64 // destinations or period clusters forgotten because the table was full
	Dests        uint64 // destinations remembered now
}

// fleetRecord says how to deliver an alert after grouping.
type fleetRecord uint8

const (
	recordOwn    fleetRecord = iota // the host's own alert (perhaps carrying a group id)
	recordGroup                     // a group alert: formed, or raised in severity
	recordUpdate                    // an update record of a delivered group alert
)

// fleetTable remembers, per destination, which hosts beat to it at which
// period. The alert stage's delivering goroutine is its only writer; the
// mutex is for the stats readers.
type fleetTable struct {
	cfg FleetConfig
	mu  sync.Mutex
	lru *simplelru.LRU[string, *fleetDest]
	seq uint64 // joins so far, to find a destination's least recently joined cluster
	// members is how many host identities the groups remember, at most
	// maxMembers (fleetMaxMembers; smaller in tests).
	members, maxMembers int
	c                   FleetCounters
}

// fleetDest is one destination's period clusters.
type fleetDest struct {
	groups []*fleetGroup
}

// fleetGroup is the hosts beating to one destination at one period.
type fleetGroup struct {
	id       string  // group_id
	period   float64 // its first host's period: the anchor later hosts are compared with
	jitter   float64 // the largest jitter of its hosts
	members  map[string]bool
	count    int               // hosts, exact
	hosts    []alert.FleetHost // the first ListHosts to join
	alertID  string            // id of the group alert delivered; "" before the group formed
	severity alert.Severity    // highest severity delivered for the group
	touched  uint64            // join sequence, for evicting a destination's oldest cluster
}

func newFleetTable(cfg FleetConfig) *fleetTable {
	if cfg.MinHosts == 1 {
		cfg.MinHosts = 2
	}
	if cfg.ListHosts <= 0 {
		cfg.ListHosts = DefaultFleetListHosts
	}
	if cfg.MaxDests <= 0 {
		cfg.MaxDests = DefaultFleetMaxDests
	}
	t := &fleetTable{cfg: cfg, maxMembers: fleetMaxMembers}
	t.lru, _ = simplelru.NewLRU[string, *fleetDest](cfg.MaxDests, func(_ string, d *fleetDest) {
		t.c.Evictions++
		for _, g := range d.groups {
			t.members -= len(g.members)
		}
	})
	return t
}

// counters returns a copy of the counters.
func (t *fleetTable) counters() FleetCounters {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.c
	c.Dests = uint64(t.lru.Len())
	return c
}

// fleetHostID is who the alert is about, for counting hosts: its host_id
// (sensor/host), which stays with a Mac through DHCP re-addressing and
// across a docked laptop's MACs, and is the address behind a router. An
// alert without one (made by hand, or restored from before host identity)
// falls back to its MAC, else its address.
func fleetHostID(a *alert.Alert) string {
	switch {
	case a.HostID != "":
		return a.HostID
	case a.SrcMAC != "":
		return a.SrcMAC
	}
	return a.SrcIP
}

// fleetKey is the destination the hosts must share: its name, or without
// one its address set, with port, protocol and kind.
func fleetKey(a *alert.Alert) string {
	dst := a.DstFQDN
	if dst == "" {
		ips := slices.Clone(a.DstIPs)
		slices.Sort(ips)
		dst = strings.Join(slices.Compact(ips), ",")
	}
	return fmt.Sprintf("%s %d/%s %s", dst, a.DstPort, a.Proto, a.Kind)
}

// samePeriod reports whether period p (of a host with jitter j) is the
// group's, and how far apart they are relative to the anchor.
func (g *fleetGroup) samePeriod(p, j float64) (float64, bool) {
	if g.period <= 0 || p <= 0 {
		return 0, false
	}
	tol := min(max(fleetPeriodTolerance, fleetJitterFactor*max(g.jitter, j)), fleetMaxTolerance)
	d := math.Abs(p-g.period) / g.period
	return d, math.Abs(p-g.period) <= max(tol*g.period, 1)
}

// fleetHash is a short, sensor-independent hash, as alertID.
func fleetHash(parts ...string) string {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{'|'})
	}
	return strconv.FormatUint(h.Sum64(), 16)
}

// observe records a delivered-to-be alert and says how to deliver it. It
// may rewrite a into a group alert or an update record.
func (t *fleetTable) observe(a *alert.Alert) fleetRecord {
	hid := fleetHostID(a)
	if t.cfg.MinHosts <= 0 || hid == "" {
		return recordOwn
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	key := fleetKey(a)
	d, ok := t.lru.Get(key)
	if !ok {
		d = &fleetDest{}
		t.lru.Add(key, d)
	}
	g := d.match(a)
	if g == nil {
		if len(d.groups) >= fleetMaxPeriods {
			oldest := 0
			for i, x := range d.groups {
				if x.touched < d.groups[oldest].touched {
					oldest = i
				}
			}
			t.members -= len(d.groups[oldest].members)
			d.groups = slices.Delete(d.groups, oldest, oldest+1)
			t.c.Evictions++
		}
		g = &fleetGroup{
			id:      fleetHash("fleet", key, strconv.FormatInt(int64(math.Round(a.PeriodS)), 10)),
			period:  a.PeriodS,
			members: map[string]bool{},
		}
		d.groups = append(d.groups, g)
	}
	t.seq++
	g.touched = t.seq
	g.jitter = max(g.jitter, a.Jitter)
	formed := g.alertID != ""
	if g.members[hid] {
		// A member alerting again (a re-alert, or a new address behind
		// the same MAC): its own alert, related to the group if there is one.
		g.refresh(hid, a)
		if formed {
			t.c.MemberAlerts++
			a.GroupID = g.id
		}
		return recordOwn
	}
	g.count++
	// Room for one more identity: the least recently alerted other
	// destinations go first (d is the most recent, just looked up).
	for t.members >= t.maxMembers && t.lru.Len() > 1 {
		t.lru.RemoveOldest()
	}
	if t.members < t.maxMembers {
		t.members++
		g.members[hid] = true
	}
	if len(g.hosts) < t.cfg.ListHosts {
		h := fleetHostOf(hid, a)
		if g.count < t.cfg.MinHosts {
			h.AlertID = a.ID // delivered as its own
		}
		g.hosts = append(g.hosts, h)
	}
	if g.count < t.cfg.MinHosts {
		g.severity = maxSeverity(g.severity, a.Severity)
		return recordOwn
	}
	t.c.Joined++
	switch {
	case !formed:
		t.c.Groups++
		g.severity = maxSeverity(g.severity, a.Severity)
		g.alertID = fleetHash(g.id, string(g.severity))
		g.record(a, false)
		return recordGroup
	case a.Severity.Rank() > g.severity.Rank():
		t.c.Raised++
		prev := g.severity
		g.severity = a.Severity
		g.alertID = fleetHash(g.id, string(g.severity))
		g.record(a, false)
		a.Reasons = append(a.Reasons, fmt.Sprintf("severity rose from %s to %s as %s joined the group: a new alert id", prev, a.Severity, hid))
		return recordGroup
	default:
		t.c.Updates++
		g.record(a, true)
		return recordUpdate
	}
}

// match is the period cluster a's period belongs to, the nearest if several.
func (d *fleetDest) match(a *alert.Alert) *fleetGroup {
	var best *fleetGroup
	bestD := math.Inf(1)
	for _, g := range d.groups {
		if dist, ok := g.samePeriod(a.PeriodS, a.Jitter); ok && dist < bestD {
			best, bestD = g, dist
		}
	}
	return best
}

// refresh updates a listed member's entry from its latest alert.
func (g *fleetGroup) refresh(hid string, a *alert.Alert) {
	for i := range g.hosts {
		if g.hosts[i].HostID == hid {
			id := g.hosts[i].AlertID
			g.hosts[i] = fleetHostOf(hid, a)
			g.hosts[i].AlertID = id
			return
		}
	}
}

// record turns a, the alert of the host that joined last, into the group's
// record: its id, the group's severity, count and listed hosts. The other
// top-level fields stay that host's.
func (g *fleetGroup) record(a *alert.Alert, update bool) {
	a.ID = g.alertID
	a.GroupID = g.id
	a.Severity = g.severity
	a.HostCount = g.count
	a.Hosts = slices.Clone(g.hosts)
	a.Update = update
	a.Reasons = append(a.Reasons, fmt.Sprintf(
		"the same destination beats every ~%s s from %d hosts (group %s): one decision for the fleet, approve the agent in the baseline or investigate it",
		ftoa1(g.period), g.count, g.id))
}

// fleetHostOf is a host's entry in a group.
func fleetHostOf(hid string, a *alert.Alert) alert.FleetHost {
	h := alert.FleetHost{
		HostID: hid, SrcIP: a.SrcIP, SrcMAC: a.SrcMAC, Hostname: a.Hostname,
		PeriodS: a.PeriodS, Beats: a.Beats, FirstSeen: a.FirstSeen, LastSeen: a.LastSeen, Severity: a.Severity,
	}
	if e := a.Enrichment; e != nil && e.Device != nil {
		h.Serial = e.Device.Serial
		if h.Hostname == "" {
			h.Hostname = e.Device.Hostname
		}
	}
	return h
}

func maxSeverity(a, b alert.Severity) alert.Severity {
	if b.Rank() > a.Rank() {
		return b
	}
	return a
}

func ftoa1(f float64) string { return strconv.FormatFloat(math.Round(f*10)/10, 'f', -1, 64) }
