// Package alert defines the alert launchtap emits for a periodic egress pair
// and writes alerts as JSON Lines. The JSON field names are a contract with
// users' scripts and SIEM parsers: fields may be added, never renamed or dropped.
package alert

import "time"

// Alert is one periodic-egress finding. See docs/alert-schema.md.
type Alert struct {
	TS       time.Time `json:"ts"`       // capture time at which the alert fired
	ID       string    `json:"id"`       // stable per pair and period: sensor-independent hash
	Sensor   string    `json:"sensor"`   // the sensor's name (hostname by default)
	Severity Severity  `json:"severity"` // high, medium or low
	SrcIP    string    `json:"src_ip"`   // internal host
	SrcMAC   string    `json:"src_mac"`  // its MAC where the span sees it, else ""
	// HostID is the host's stable identity (docs/host-identity.md): its
	// canonical MAC where the span sees end hosts' MACs — the same through
	// DHCP re-addressing, IPv6 temporary addresses and the two MACs of a
	// docked laptop — else its address. SrcIPs and SrcMACs are the
	// addresses and MACs its beats came from (bounded, most recent last).
	HostID    string    `json:"host_id"`
	SrcIPs    []string  `json:"src_ips"`
	SrcMACs   []string  `json:"src_macs"`
	DstFQDN   string    `json:"dst_fqdn"`     // name the source resolved for the destination, "" if none
	DstIPs    []string  `json:"dst_ips"`      // addresses the pair reached (bounded, most recent last)
	DstPort   uint16    `json:"dst_port"`     // destination port
	Proto     string    `json:"proto"`        // "tcp" or "udp"
	Kind      string    `json:"kind"`         // what beats: "session" starts, "burst"s inside one session, or "dns" lookups
	PeriodS   float64   `json:"period_s"`     // estimated period, seconds
	Jitter    float64   `json:"jitter"`       // robust spread of intervals around the period, as a fraction of it
	Beats     int       `json:"beats"`        // beats (grouped session starts) seen
	Missed    int       `json:"missed_beats"` // beats the period predicts but that did not happen
	FirstSeen time.Time `json:"first_seen"`   // first beat
	LastSeen  time.Time `json:"last_seen"`    // latest beat
	Score     float64   `json:"score"`        // 0..1, how strongly periodic

	BytesOutMedian float64 `json:"bytes_out_median"` // per session, source → destination
	BytesInMedian  float64 `json:"bytes_in_median"`  // per session, destination → source

	// DNS-channel pairs (kind "dns"; dst_fqdn is the name polled, or the
	// registered domain whose names change): the registered domain, the
	// record types its beats asked for and the resolver they went to.
	DNSDomain      string   `json:"dns_domain,omitempty"`
	DNSRecordTypes []string `json:"dns_record_types,omitempty"`
	DNSResolver    string   `json:"dns_resolver,omitempty"`

	HostOS           string   `json:"host_os"` // macos, ios, windows, linux, other, unknown
	HostOSConfidence float64  `json:"host_os_confidence"`
	Hostname         string   `json:"hostname"`
	HostEvidence     []string `json:"host_evidence,omitempty"`

	// Where dst_fqdn came from: "dns" (an answer the host received), "sni"
	// (a TLS ClientHello), "quic" (a QUIC Initial's ClientHello), "http" (a
	// Host header or an absolute-URI request), "connect" (an HTTP CONNECT);
	// "" when no name was on the wire.
	DstNameSource string `json:"dst_name_source"`
	// ViaProxy is the explicit proxy (addr:port) the beats were requests
	// to; the destination is the host the requests named.
	ViaProxy string `json:"via_proxy,omitempty"`

	Reasons    []string    `json:"reasons"` // plain-language explanation of the score
	Enrichment *Enrichment `json:"enrichment,omitempty"`

	// Fleet grouping (docs/fleet-grouping.md): set on a group alert — one
	// destination beating at one period from several hosts — on its update
	// records, and on later alerts of a member host. Absent on an ordinary
	// per-host alert of a host in no group.
	GroupID   string      `json:"group_id,omitempty"`   // stable per destination and period, sensor-independent
	HostCount int         `json:"host_count,omitempty"` // hosts in the group, exact even when Hosts is cut
	Hosts     []FleetHost `json:"hosts,omitempty"`      // the first hosts to join, in joining order (bounded)
	Update    bool        `json:"update,omitempty"`     // repeats a delivered group alert (same id) with hosts added

	// Hub alerts (docs/many-sensors.md): the sensors whose beats the hub
	// merged into this pair, and the destination's fleet prevalence.
	// Absent on a sensor's own alerts.
	Sensors    []string    `json:"sensors,omitempty"`
	Prevalence *Prevalence `json:"prevalence,omitempty"`

	// Beat times are carried for enrichment (StartCalendarInterval matching) and
	// are not serialised: a SIEM does not need them and they would bloat every line.
	BeatTimes []time.Time `json:"-"`
}

// FleetHost is one host of a fleet group.
type FleetHost struct {
	HostID    string    `json:"host_id"`  // the host's identity in the group: its MAC where seen, else its address
	SrcIP     string    `json:"src_ip"`   // address of its alert
	SrcMAC    string    `json:"src_mac"`  // "" where the span does not see it
	Hostname  string    `json:"hostname"` // passive or inventory name, "" if none
	Serial    string    `json:"serial"`   // the inventory's device serial, "" when not enriched
	PeriodS   float64   `json:"period_s"` // the host's own estimated period
	Beats     int       `json:"beats"`    // the host's beats
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	Severity  Severity  `json:"severity"`
	// AlertID is the id of the host's own alert when one was delivered
	// before the group formed; "" for hosts that joined an existing group.
	AlertID string `json:"alert_id,omitempty"`
}

// Prevalence is how many hosts of the fleet reached an alert's destination
// on the day (UTC, capture time) it alerted: one Mac of 800 is not the
// finding 780 are.
type Prevalence struct {
	Day        string  `json:"day"`         // YYYY-MM-DD
	Hosts      uint64  `json:"hosts"`       // distinct hosts that reached the destination that day
	FleetHosts uint64  `json:"fleet_hosts"` // distinct hosts the hub saw that day
	Fraction   float64 `json:"fraction"`    // hosts / fleet_hosts
}

// Enrichment statuses.
const (
	EnrichMatched       = "matched"
	EnrichNoMatch       = "no-match"
	EnrichHostNotFound  = "host-not-found"
	EnrichUnavailable   = "unavailable"
	EnrichNotConfigured = "not-configured"
)

// Enrichment is what the MDM inventory says about the source host and the
// launchd jobs that may explain the traffic.
type Enrichment struct {
	Status   string  `json:"status"`
	Provider string  `json:"provider"`
	Device   *Device `json:"device,omitempty"`
	Jobs     []Job   `json:"jobs,omitempty"` // ranked, best first
	Error    string  `json:"error,omitempty"`
	// CacheAgeS is set when the answer came from a cache because the host or
	// provider could not be asked now (e.g. an offline Fleet host).
	CacheAgeS float64 `json:"cache_age_s,omitempty"`
}

// Device identifies the host in the inventory.
type Device struct {
	Serial    string `json:"serial"`
	Hostname  string `json:"hostname"`
	OSVersion string `json:"os_version"`
	User      string `json:"user"`
	Platform  string `json:"platform,omitempty"`
}

// Job is a launchd job ranked against the alert.
type Job struct {
	Label            string   `json:"label"`
	Path             string   `json:"path"`
	Program          string   `json:"program,omitempty"`
	ProgramArguments []string `json:"program_arguments,omitempty"`
	StartInterval    int      `json:"start_interval,omitempty"`
	RunAtLoad        bool     `json:"run_at_load,omitempty"`
	KeepAlive        bool     `json:"keep_alive,omitempty"`
	Username         string   `json:"username,omitempty"`
	TeamID           string   `json:"team_id,omitempty"` // code-signing team of the program, when the inventory gives it
	Approved         bool     `json:"approved,omitempty"`
	MatchScore       float64  `json:"match_score"`
	Why              []string `json:"why"`
}
