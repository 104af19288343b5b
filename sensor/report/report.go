// Package report turns the evidence in the state database into the report
// an auditor asks for: when and how well the sensor watched (coverage and
// blind spots), every periodic communicator found and what approved it, the
// alerts with pictures of their beats, and the baseline's hygiene. The same
// content is rendered as JSON and as one self-contained HTML page (inline
// CSS and SVG; nothing fetched, no scripts).
package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/launchtap/launchtap/enrich/inventory"
	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/state"
)

// Options are the inputs besides the evidence.
type Options struct {
	Since     time.Time // window start (zero: everything stored)
	Now       time.Time // window end (zero: the newest capture time stored)
	MinBeats  int       // beats the detector needs (default 6): bounds the longest detectable period
	MaxPeriod time.Duration
	// Inventory is the MDM's devices (nil: not compared).
	Inventory []*inventory.Host
	// Rules are the baseline's destination and label rules in force, and
	// Builtin those of the built-in default (listed apart: they are the
	// vendor's, not the organisation's).
	DestRules, LabelRules []string
	Builtin               map[string]bool
}

// Report is the evidence report. Its JSON field names are a contract.
type Report struct {
	Generated time.Time      `json:"generated"`
	From      time.Time      `json:"from"`
	To        time.Time      `json:"to"`
	StateFile string         `json:"state_file"`
	StateSize int64          `json:"state_bytes"`
	Coverage  Coverage       `json:"coverage"`
	Periodic  []Communicator `json:"periodic_communicators"`
	Alerts    []Alert        `json:"alerts"`
	Hygiene   Hygiene        `json:"baseline_hygiene"`
}

// Span is a stretch of time.
type Span struct {
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Why    string    `json:"why,omitempty"`
	Sensor string    `json:"sensor,omitempty"` // a run's sensor, in the organisation's report
}

// Hours is the span's length in hours.
func (s Span) Hours() float64 { return s.To.Sub(s.From).Hours() }

// Coverage says what the sensor saw and where it was blind.
type Coverage struct {
	Runs              []Span     `json:"runs"` // capture time each sensor run covered
	Gaps              []Span     `json:"gaps"` // no packets: sensor down, or running on a silent span
	ObservedHours     int        `json:"observed_hours"`
	WindowHours       int        `json:"window_hours"`
	Packets           uint64     `json:"packets"`
	Drops             uint64     `json:"kernel_drops"`
	Sessions          uint64     `json:"external_sessions"`
	OneSided          uint64     `json:"one_sided_sessions"`
	OneSidedShare     float64    `json:"one_sided_share"`
	NamedDNS          uint64     `json:"named_by_dns"`
	NamedMAC          uint64     `json:"named_by_mac"`
	NamedWire         uint64     `json:"named_by_wire"` // TLS SNI, QUIC, HTTP Host, CONNECT: no DNS answer seen
	Unnamed           uint64     `json:"unnamed"`
	NamedShare        float64    `json:"named_share"`
	DNSQueries        uint64     `json:"dns_queries"`
	Evictions         uint64     `json:"table_evictions"`
	Hours             []HourRow  `json:"hours"`
	DNSBlind          []HostDNS  `json:"dns_blind_hosts"` // hosts whose sessions mostly had no name
	MacsSeen          int        `json:"macs_seen"`
	MacsInventory     int        `json:"macs_in_inventory"`
	InventoryNotSeen  []Device   `json:"inventory_macs_not_seen,omitempty"`
	SeenNotInventory  []string   `json:"macs_not_in_inventory,omitempty"`
	InventoryCompared bool       `json:"inventory_compared"`
	Hosts             []HostSpan `json:"hosts"`
	// InternalNetworks is what counted as internal: the configured networks
	// and the IPv6 prefixes learned from router advertisements, with when
	// each was learned. A host outside them is not watched.
	InternalNetworks []InternalNet `json:"internal_networks"`
	// EncryptedDNS are the hosts seen using encrypted-DNS resolvers (DoH,
	// DoT): the span sees none of their lookups. Most sessions first.
	EncryptedDNS []EncryptedDNSHost `json:"encrypted_dns_hosts"`
	// Sensors is each sensor's coverage in the organisation's report
	// (launchtap report --db), by name; absent from one sensor's report.
	Sensors []SensorCoverage `json:"sensors,omitempty"`
}

// SensorCoverage is what one sensor of the organisation saw and where it
// was blind, in the report's window.
type SensorCoverage struct {
	Sensor         string    `json:"sensor"`
	Version        string    `json:"version,omitempty"`        // of its newest run
	LastCheckpoint time.Time `json:"last_checkpoint,omitzero"` // the newest capture time it checkpointed
	Runs           []Span    `json:"runs"`                     // capture time its runs covered
	Gaps           []Span    `json:"gaps"`                     // hours of the window it saw no packets, said why
	ObservedHours  int       `json:"observed_hours"`
	WindowHours    int       `json:"window_hours"`
	Packets        uint64    `json:"packets"`
	Drops          uint64    `json:"kernel_drops"`
	Sessions       uint64    `json:"external_sessions"`
	OneSidedShare  float64   `json:"one_sided_share"`
	NamedShare     float64   `json:"named_share"`
	Hosts          int       `json:"hosts"`     // hosts with external sessions or Macs seen
	MacsSeen       int       `json:"macs_seen"` // of them, Macs
	Periodic       int       `json:"periodic_communicators"`
	Alerts         int       `json:"alerts"`
}

// InternalNet is one internal network and where it came from.
type InternalNet struct {
	Prefix  string     `json:"prefix"`
	Source  string     `json:"source"`            // configured, or learned (from a router advertisement)
	Learned *time.Time `json:"learned,omitempty"` // when it was first learned (capture time)
	Held    *time.Time `json:"held,omitempty"`    // the newest checkpoint that still held it
}

// HourRow is one hour's counters.
type HourRow struct {
	Hour     time.Time `json:"hour"`
	Packets  uint64    `json:"packets"`
	Drops    uint64    `json:"drops"`
	Sessions uint64    `json:"sessions"`
	OneSided uint64    `json:"one_sided"`
	Named    uint64    `json:"named"`
	Hosts    int       `json:"hosts"`
}

// HostDNS is a host whose external sessions mostly got no name.
type HostDNS struct {
	Sensor     string  `json:"sensor,omitempty"` // the organisation's report: the sensor that saw it
	IP         string  `json:"ip"`
	Hostname   string  `json:"hostname,omitempty"`
	Sessions   uint64  `json:"sessions"`
	NamedShare float64 `json:"named_share"`
	// EncryptedDNS names the encrypted-DNS resolvers the host was seen
	// using: the reason its sessions went unnamed, not a guess.
	EncryptedDNS []string `json:"encrypted_dns_providers,omitempty"`
}

// EncryptedDNSHost is a host that resolved names over DNS over HTTPS or
// TLS in the window: a blind spot of the span's DNS.
type EncryptedDNSHost struct {
	Sensor    string    `json:"sensor,omitempty"` // the organisation's report: the sensor that saw it
	IP        string    `json:"ip"`
	Hostname  string    `json:"hostname,omitempty"`
	Providers []string  `json:"providers"` // the resolvers' operators (Cloudflare, Google, ...)
	Sessions  uint64    `json:"sessions"`  // sessions to those resolvers, over all the state keeps (as First)
	First     time.Time `json:"first_seen"`
	Last      time.Time `json:"last_seen"`
}

// Device is an inventory device.
type Device struct {
	Serial   string `json:"serial,omitempty"`
	Hostname string `json:"hostname"`
	IPs      string `json:"ips,omitempty"`
}

// HostSpan is one host's observation.
type HostSpan struct {
	Sensor           string    `json:"sensor,omitempty"` // the organisation's report: the sensor that saw it
	IP               string    `json:"ip"`
	Hostname         string    `json:"hostname,omitempty"`
	OS               string    `json:"os"`
	Confidence       float64   `json:"os_confidence"`
	First            time.Time `json:"first_seen"`
	Last             time.Time `json:"last_seen"`
	ActiveHours      int       `json:"active_hours"`
	ContinuousHours  float64   `json:"longest_continuous_observation_h"`
	LongestPeriodS   float64   `json:"longest_detectable_period_s"`
	PeriodLimitedBy  string    `json:"period_limited_by"`
	SessionsObserved uint64    `json:"sessions"`
}

// Communicator is a periodic (host, destination) pair found in the window.
type Communicator struct {
	ID         string    `json:"id"`
	Sensor     string    `json:"sensor,omitempty"` // the organisation's report: the sensor (or hub) that judged it
	Src        string    `json:"src_ip"`
	HostID     string    `json:"host_id,omitempty"` // the host's identity (its MAC where seen): stable across addresses and sensors
	Hostname   string    `json:"hostname,omitempty"`
	Dest       string    `json:"destination"`
	Port       uint16    `json:"port"`
	Proto      string    `json:"proto"`
	Kind       string    `json:"kind"`
	PeriodS    float64   `json:"period_s"`
	Beats      int       `json:"beats"`
	First      time.Time `json:"first_seen"`
	Last       time.Time `json:"last_seen"`
	Status     string    `json:"status"` // alerted, approved_destination, approved_label
	Approved   bool      `json:"approved"`
	Rule       string    `json:"approving_rule,omitempty"`
	Job        string    `json:"launchd_job,omitempty"`
	JobProgram string    `json:"launchd_program,omitempty"`
}

// Alert is a delivered alert with what its pictures show.
type Alert struct {
	Communicator
	Severity  string      `json:"severity"`
	Score     float64     `json:"score"`
	Jitter    float64     `json:"jitter"`
	Reasons   []string    `json:"reasons"`
	BeatTimes []time.Time `json:"beat_times"`
	Intervals []float64   `json:"intervals_s"`
}

// Hygiene is what the baseline approves without evidence, or too loosely.
type Hygiene struct {
	Compared       bool           `json:"compared"`
	UnusedRules    []string       `json:"unused_rules"`         // the organisation's rules that matched nothing
	UnusedBuiltin  int            `json:"unused_builtin_rules"` // built-in rules that matched nothing (counted)
	UsedRules      map[string]int `json:"rule_matches"`
	LabelApprovals []Communicator `json:"label_only_approvals"` // approved by launchd label alone
}

// Build assembles the report from the evidence.
func Build(ev *state.Evidence, opt Options) *Report {
	if opt.MinBeats < 3 {
		opt.MinBeats = 6
	}
	if opt.MaxPeriod <= 0 {
		opt.MaxPeriod = 24 * time.Hour
	}
	to := opt.Now
	if to.IsZero() {
		to = time.Unix(0, ev.Clock).UTC()
	}
	from := opt.Since
	if from.IsZero() && len(ev.Hours) > 0 {
		from = time.Unix(ev.Hours[0].Start, 0).UTC()
	}
	r := &Report{Generated: time.Now().UTC(), From: from.UTC(), To: to.UTC(), StateFile: ev.Path, StateSize: ev.Size}
	r.coverage(ev, opt)
	r.findings(ev)
	r.sensors(ev)
	r.hygiene(ev, opt)
	return r
}

func hourOf(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }

func (r *Report) coverage(ev *state.Evidence, opt Options) {
	c := &r.Coverage
	c.InternalNetworks = []InternalNet{}
	for _, p := range ev.Internal {
		c.InternalNetworks = append(c.InternalNetworks, InternalNet{Prefix: p, Source: "configured"})
	}
	learned := slices.Clone(ev.Learned)
	slices.SortFunc(learned, func(a, b state.LearnedNetwork) int { return cmp.Compare(a.First, b.First) })
	for _, l := range learned {
		first, held := time.Unix(0, l.First).UTC(), time.Unix(0, l.Seen).UTC()
		c.InternalNetworks = append(c.InternalNetworks, InternalNet{Prefix: l.Prefix.String(), Source: "learned", Learned: &first, Held: &held})
	}
	for _, run := range ev.Runs {
		c.Runs = append(c.Runs, Span{From: time.Unix(0, run.Start).UTC(), To: time.Unix(0, run.End).UTC(), Sensor: run.Sensor})
	}
	observed := map[int64]bool{}
	hostsPerHour := map[int64]int{}
	for _, h := range ev.HostHours {
		hostsPerHour[h.Start]++
	}
	for _, h := range ev.Hours {
		if h.Packets > 0 {
			observed[h.Start] = true
		}
		c.Packets += h.Packets
		c.Drops += h.Drops
		c.Sessions += h.Sessions
		c.OneSided += h.OneSided
		c.NamedDNS += h.NamedDNS
		c.NamedMAC += h.NamedMAC
		c.NamedWire += h.NamedWire
		c.Unnamed += h.Unnamed
		c.DNSQueries += h.DNSQueries
		c.Evictions += h.Evictions
		c.Hours = append(c.Hours, HourRow{Hour: time.Unix(h.Start, 0).UTC(), Packets: h.Packets, Drops: h.Drops, Sessions: h.Sessions,
			OneSided: h.OneSided, Named: h.NamedDNS + h.NamedMAC + h.NamedWire, Hosts: hostsPerHour[h.Start]})
	}
	c.OneSidedShare = share(c.OneSided, c.Sessions)
	c.NamedShare = share(c.NamedDNS+c.NamedMAC+c.NamedWire, c.Sessions)
	c.ObservedHours = len(observed)

	// Gaps: hours of the window without packets, said why.
	start, end := hourOf(r.From), hourOf(r.To.Add(-time.Nanosecond)) // the hour To ends, not one it starts
	c.WindowHours = int(end.Sub(start).Hours()) + 1
	c.Gaps = gaps(start, end, observed, c.Runs)
	// Each sensor's own hours, in the organisation's report: a host is
	// observed only when its own sensor was.
	bySensor := map[string]map[int64]bool{}
	for _, sc := range ev.Sensors {
		obs := map[int64]bool{}
		for _, h := range sc.Hours {
			if h.Packets > 0 {
				obs[h.Start] = true
			}
		}
		bySensor[sc.Sensor] = obs
	}
	observedBy := func(sensor string) map[int64]bool {
		if o, ok := bySensor[sensor]; ok && sensor != "" {
			return o
		}
		return observed
	}

	// Per host: sessions and names, active hours, and the longest stretch
	// of unbroken observation inside its active span.
	type agg struct {
		sessions, named uint64
		hours           []int64
	}
	// Hosts are keyed by sensor and address: two offices may number their
	// Macs alike.
	byHost := map[string]*agg{}
	for _, h := range ev.HostHours {
		k := hostKey(h.Sensor, h.IP)
		a := byHost[k]
		if a == nil {
			a = &agg{}
			byHost[k] = a
		}
		a.sessions += h.Sessions
		a.named += h.Named
		a.hours = append(a.hours, h.Start)
	}
	hostInfo := map[string]state.Host{}
	for _, h := range ev.Hosts {
		hostInfo[hostKey(h.Sensor, h.IP)] = h
	}
	c.EncryptedDNS = []EncryptedDNSHost{}
	encrypted := map[string][]string{}
	for _, h := range ev.DoHHosts {
		ip, k := h.IP.String(), hostKey(h.Sensor, h.IP.String())
		encrypted[k] = h.Providers
		c.EncryptedDNS = append(c.EncryptedDNS, EncryptedDNSHost{Sensor: h.Sensor, IP: ip, Hostname: hostInfo[k].Hostname, Providers: h.Providers,
			Sessions: h.Sessions, First: time.Unix(0, h.First).UTC(), Last: time.Unix(0, h.Last).UTC()})
	}
	slices.SortStableFunc(c.EncryptedDNS, func(a, b EncryptedDNSHost) int { return cmp.Compare(b.Sessions, a.Sessions) })
	keys := make([]string, 0, len(byHost))
	for k := range byHost {
		keys = append(keys, k)
	}
	for _, h := range ev.Hosts {
		if k := hostKey(h.Sensor, h.IP); byHost[k] == nil && h.OS == "macos" {
			keys = append(keys, k) // a Mac seen without external sessions
			byHost[k] = &agg{}
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		a, info := byHost[k], hostInfo[k]
		sensor, ip, _ := strings.Cut(k, "\x00")
		observed := observedBy(sensor)
		hs := HostSpan{Sensor: sensor, IP: ip, Hostname: info.Hostname, OS: cmp.Or(info.OS, "unknown"), Confidence: info.Confidence,
			ActiveHours: len(a.hours), SessionsObserved: a.sessions}
		if info.First != 0 {
			hs.First, hs.Last = time.Unix(0, info.First).UTC(), time.Unix(0, info.Last).UTC()
		}
		if len(a.hours) > 0 {
			slices.Sort(a.hours)
			lo, hi := a.hours[0], a.hours[len(a.hours)-1]
			if hs.First.IsZero() {
				hs.First, hs.Last = time.Unix(lo, 0).UTC(), time.Unix(hi+3600, 0).UTC()
			}
			best, run := 0, 0
			for t := lo; t <= hi; t += 3600 {
				if observed[t] {
					run++
					best = max(best, run)
				} else {
					run = 0
				}
			}
			hs.ContinuousHours = float64(best)
		}
		span := time.Duration(hs.ContinuousHours * float64(time.Hour))
		p := span / time.Duration(opt.MinBeats-1)
		hs.PeriodLimitedBy = fmt.Sprintf("%d beats in %gh of unbroken observation", opt.MinBeats, hs.ContinuousHours)
		if p > opt.MaxPeriod {
			p, hs.PeriodLimitedBy = opt.MaxPeriod, "the detector's longest period"
		}
		hs.LongestPeriodS = p.Seconds()
		c.Hosts = append(c.Hosts, hs)
		if a.sessions >= 20 && share(a.named, a.sessions) < 0.5 {
			c.DNSBlind = append(c.DNSBlind, HostDNS{Sensor: sensor, IP: ip, Hostname: info.Hostname, Sessions: a.sessions, NamedShare: share(a.named, a.sessions),
				EncryptedDNS: encrypted[k]})
		}
		if hs.OS == "macos" {
			c.MacsSeen++
		}
	}

	if opt.Inventory != nil {
		c.InventoryCompared = true
		seen := map[string]bool{}
		for _, h := range ev.Hosts {
			seen["ip "+h.IP] = true
			if h.MAC != "" {
				seen["mac "+strings.ToLower(h.MAC)] = true
			}
			if h.Hostname != "" {
				seen["name "+strings.ToLower(h.Hostname)] = true
			}
		}
		matched := map[string]bool{}
		for _, d := range opt.Inventory {
			if d.Platform != "macos" && d.Platform != "darwin" {
				continue
			}
			c.MacsInventory++
			found := seen["name "+strings.ToLower(d.Hostname)] || seen["name "+strings.ToLower(d.Hostname)+".local"]
			var ips []string
			for _, a := range d.IPs {
				ips = append(ips, a.String())
				if seen["ip "+a.String()] {
					found = true
					matched[a.String()] = true
				}
			}
			for _, m := range d.MACs {
				found = found || seen["mac "+m]
			}
			if !found {
				c.InventoryNotSeen = append(c.InventoryNotSeen, Device{Serial: d.Serial, Hostname: d.Hostname, IPs: strings.Join(ips, ", ")})
			}
		}
		invIP := map[string]bool{}
		for _, d := range opt.Inventory {
			for _, a := range d.IPs {
				invIP[a.String()] = true
			}
		}
		for _, h := range c.Hosts {
			if h.OS == "macos" && !invIP[h.IP] {
				c.SeenNotInventory = append(c.SeenNotInventory, strings.TrimSpace(h.IP+" "+h.Hostname))
			}
		}
	}
}

// hostKey names a host in one sensor's network ("" for a sensor's own
// report).
func hostKey(sensor, ip string) string { return sensor + "\x00" + ip }

// gaps are the hours from start to end (inclusive) without packets, runs
// of one reason merged, each said why.
func gaps(start, end time.Time, observed map[int64]bool, runs []Span) []Span {
	running := func(t time.Time) bool {
		for _, s := range runs {
			if t.Add(time.Hour).After(s.From) && !t.After(s.To) { // the hour [t, t+1h) overlaps the run
				return true
			}
		}
		return false
	}
	var out []Span
	var gap *Span
	for t := start; !t.After(end); t = t.Add(time.Hour) {
		if observed[t.Unix()] {
			gap = nil
			continue
		}
		why := "sensor not running"
		if running(t) {
			why = "sensor running, no packets (span or tap down?)"
		}
		if gap != nil && gap.Why == why {
			gap.To = t.Add(time.Hour)
			continue
		}
		out = append(out, Span{From: t, To: t.Add(time.Hour), Why: why})
		gap = &out[len(out)-1]
	}
	return out
}

// sensors fills each sensor's coverage, in the organisation's report.
func (r *Report) sensors(ev *state.Evidence) {
	if len(ev.Sensors) == 0 {
		return
	}
	start, end := hourOf(r.From), hourOf(r.To.Add(-time.Nanosecond))
	for _, sc := range ev.Sensors {
		s := SensorCoverage{Sensor: sc.Sensor, Version: sc.Version, Runs: []Span{}, WindowHours: r.Coverage.WindowHours}
		if sc.Clock > 0 {
			s.LastCheckpoint = time.Unix(0, sc.Clock).UTC()
		}
		for _, run := range ev.Runs {
			if run.Sensor == sc.Sensor {
				s.Runs = append(s.Runs, Span{From: time.Unix(0, run.Start).UTC(), To: time.Unix(0, run.End).UTC()})
			}
		}
		observed := map[int64]bool{}
		var oneSided, named uint64
		for _, h := range sc.Hours {
			if h.Packets > 0 {
				observed[h.Start] = true
			}
			s.Packets += h.Packets
			s.Drops += h.Drops
			s.Sessions += h.Sessions
			oneSided += h.OneSided
			named += h.NamedDNS + h.NamedMAC + h.NamedWire
		}
		s.ObservedHours = len(observed)
		s.OneSidedShare, s.NamedShare = share(oneSided, s.Sessions), share(named, s.Sessions)
		s.Gaps = gaps(start, end, observed, s.Runs)
		if s.Gaps == nil {
			s.Gaps = []Span{}
		}
		for _, h := range r.Coverage.Hosts {
			if h.Sensor == sc.Sensor {
				s.Hosts++
				if h.OS == "macos" {
					s.MacsSeen++
				}
			}
		}
		for _, p := range r.Periodic {
			if p.Sensor == sc.Sensor {
				s.Periodic++
				if !p.Approved {
					s.Alerts++
				}
			}
		}
		r.Coverage.Sensors = append(r.Coverage.Sensors, s)
	}
}

// Org reports an organisation's report: several sensors, each named.
func (r *Report) Org() bool { return len(r.Coverage.Sensors) > 0 }

func share(n, of uint64) float64 {
	if of == 0 {
		return 0
	}
	return math.Round(1000*float64(n)/float64(of)) / 1000
}

func communicator(f *state.Finding) Communicator {
	a := f.Alert
	dest := a.DstFQDN
	if dest == "" {
		dest = strings.Join(a.DstIPs, ", ")
	}
	c := Communicator{ID: a.ID, Sensor: f.Sensor, Src: a.SrcIP, HostID: a.HostID, Hostname: a.Hostname, Dest: dest, Port: a.DstPort, Proto: a.Proto, Kind: a.Kind,
		PeriodS: a.PeriodS, Beats: a.Beats, First: a.FirstSeen, Last: a.LastSeen, Status: string(f.Fate),
		Approved: f.Fate != state.Alerted, Rule: f.Rule, Job: f.Label}
	if e := a.Enrichment; e != nil && e.Status == alert.EnrichMatched && len(e.Jobs) > 0 {
		c.Job = e.Jobs[0].Label
		c.JobProgram = e.Jobs[0].Program
		if c.Hostname == "" && e.Device != nil {
			c.Hostname = e.Device.Hostname
		}
	}
	return c
}

func (r *Report) findings(ev *state.Evidence) {
	r.Periodic, r.Alerts = []Communicator{}, []Alert{}
	for i := range ev.Findings {
		f := &ev.Findings[i]
		c := communicator(f)
		r.Periodic = append(r.Periodic, c)
		if f.Fate != state.Alerted {
			continue
		}
		a := Alert{Communicator: c, Severity: string(f.Alert.Severity), Score: f.Alert.Score, Jitter: f.Alert.Jitter,
			Reasons: f.Alert.Reasons, BeatTimes: f.Alert.BeatTimes}
		for j := 1; j < len(a.BeatTimes); j++ {
			a.Intervals = append(a.Intervals, math.Round(a.BeatTimes[j].Sub(a.BeatTimes[j-1]).Seconds()*1000)/1000)
		}
		r.Alerts = append(r.Alerts, a)
	}
	// The auditor's list: unapproved first, then by host and destination.
	slices.SortStableFunc(r.Periodic, func(a, b Communicator) int {
		if a.Approved != b.Approved {
			if !a.Approved {
				return -1
			}
			return 1
		}
		return cmp.Or(strings.Compare(a.Src, b.Src), strings.Compare(a.Dest, b.Dest), cmp.Compare(a.Port, b.Port), strings.Compare(a.Sensor, b.Sensor))
	})
	slices.SortStableFunc(r.Alerts, func(a, b Alert) int { return b.Last.Compare(a.Last) })
}

func (r *Report) hygiene(ev *state.Evidence, opt Options) {
	h := &r.Hygiene
	h.UsedRules = map[string]int{}
	h.UnusedRules = []string{}
	h.LabelApprovals = []Communicator{}
	for i := range ev.Findings {
		f := &ev.Findings[i]
		if f.Rule != "" {
			h.UsedRules[f.Rule]++
		}
		if f.Fate == state.ApprovedLabel {
			h.LabelApprovals = append(h.LabelApprovals, communicator(f))
		}
	}
	if opt.DestRules == nil && opt.LabelRules == nil {
		return
	}
	h.Compared = true
	for _, rule := range append(slices.Clone(opt.DestRules), opt.LabelRules...) {
		if h.UsedRules[rule] > 0 {
			continue
		}
		if opt.Builtin[rule] {
			h.UnusedBuiltin++
			continue
		}
		h.UnusedRules = append(h.UnusedRules, rule)
	}
}
