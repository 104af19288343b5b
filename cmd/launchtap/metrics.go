package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/launchtap/launchtap/bpf"
	"github.com/launchtap/launchtap/enrich"
	"github.com/launchtap/launchtap/sensor/capture/live"
	"github.com/launchtap/launchtap/sensor/decode"
	"github.com/launchtap/launchtap/sensor/hub/proc"
	"github.com/launchtap/launchtap/sensor/pipeline"
	"github.com/launchtap/launchtap/sensor/syslog"
)

// snapshot is every counter of the sensor at one moment: what the Prometheus
// metrics, the stats log line and the SENSOR-STATS syslog message report.
type snapshot struct {
	metrics []sample
	// stats is the stats line and SENSOR-STATS: totals by name (drops,
	// decode errors, evictions) rather than one entry per label, so the set
	// stays small and its names fit an RFC 5424 PARAM-NAME (32 characters).
	// Prometheus keeps the labelled detail.
	stats map[string]uint64
}

type sample struct {
	def       *metricDef
	labelVals []string
	value     uint64
}

// readings are the stages' counters at one moment, read once per snapshot.
type readings struct {
	pipe   pipeline.Stats
	alerts *pipeline.AlertCounters
	fleet  pipeline.FleetCounters
	enrich enrich.Stats
	syslog []syslog.DestCounters // nil without --syslog
	kernel *live.Stats           // nil under replay
	ifaces []ifaceKernel         // the kernel's counters per interface (live)
	flows  *bpf.TakeStats        // the pre-filter's flow-table takes (live, with the filter)
	state  *stateReading         // nil without --state-dir
	hub    *hubReading           // nil without --hub-url
	hubd   *proc.Stats           // a hub process's counters (launchtap hub); nil on a sensor
}

// ifaceKernel is one interface's kernel counters, summed over its sockets.
type ifaceKernel struct {
	name                    string
	packets, drops, freezes uint64
}

// stateReading is the state directory's size and last checkpoint.
type stateReading struct {
	bytes      uint64
	at         time.Time // zero: no checkpoint yet
	durationMs uint64
	errors     uint64
}

type metricType uint8

const (
	counter metricType = iota // exposed as launchtap_NAME_total
	gauge                     // exposed as launchtap_NAME
)

// statsRule says how a metric appears on the stats line and in SENSOR-STATS.
type statsRule uint8

const (
	statsNone     statsRule = iota // Prometheus only
	statsAsIs                      // unlabelled: the metric's name
	statsSum                       // labelled: one key, the sum of the series statsKeep accepts
	statsPerLabel                  // one label: a key NAME_VALUE per series
)

// A metricDef is one metric: its name (without the launchtap_ prefix and
// the _total suffix of counters), help, type, labels, how the stats line
// carries it, and where its value comes from. read calls emit once per
// series, with one value per label, or not at all when the source is absent
// (syslog off, replay's missing kernel).
type metricDef struct {
	name   string
	help   string
	typ    metricType
	labels []string
	stats  statsRule
	// statsAs is the stats key when it is not name; alias is a second key
	// with the same value, present even when the metric is not (the names
	// the issue gave SENSOR-STATS).
	statsAs, alias string
	statsKeep      func(labelVals []string) bool // statsSum: the series that count; nil: all
	read           func(r *readings, emit func(v uint64, labelVals ...string))
}

// metricDefs is every metric the sensor exports. Adding a counter is one
// entry here; Prometheus, the stats line and SENSOR-STATS follow. The names
// are contracts (testdata/metric-names.golden pins them): add, never rename.
var metricDefs = []metricDef{
	{name: "packets", help: "Frames read from the capture.", stats: statsAsIs,
		read: func(r *readings, e func(uint64, ...string)) { e(r.pipe.Frames) }},
	{name: "bytes", help: "Wire bytes of the frames read.", stats: statsAsIs,
		read: func(r *readings, e func(uint64, ...string)) { e(r.pipe.Bytes) }},
	{name: "decode_errors", help: "Frames not decoded to TCP/UDP, by kind.", labels: []string{"kind"},
		// ARP, LLDP, ICMP and the like are counted, not errors.
		stats: statsSum, statsKeep: func(lv []string) bool {
			return lv[0] != decode.ErrNotIP.String() && lv[0] != decode.ErrOtherTransport.String()
		},
		read: func(r *readings, e func(uint64, ...string)) {
			for k, v := range r.pipe.Decode {
				if decode.ErrKind(k) != decode.OK {
					e(v, decode.ErrKind(k).String())
				}
			}
		}},
	{name: "decapsulated", help: "Encapsulation layers removed (GRE, ERSPAN, VXLAN), by kind.", labels: []string{"kind"},
		read: func(r *readings, e func(uint64, ...string)) {
			for k, v := range r.pipe.Decapsulated {
				if decode.Tunnel(k) != decode.TunnelNone {
					e(v, decode.Tunnel(k).String())
				}
			}
		}},
	{name: "first_fragments", help: "First fragments of fragmented IP datagrams (decoded).",
		read: func(r *readings, e func(uint64, ...string)) { e(r.pipe.FirstFrags) }},
	{name: "sessions", help: "Sessions by event.", labels: []string{"event"},
		read: func(r *readings, e func(uint64, ...string)) {
			e(r.pipe.Flow.SessionsStarted, "started")
			e(r.pipe.Flow.SessionsJoined, "joined")
			e(r.pipe.Flow.SessionsEnded, "ended")
			e(r.pipe.Flow.Unanswered, "unanswered")
			e(r.pipe.LocalLink, "local_link")
		}},
	{name: "bursts", help: "Activity bursts inside long sessions.",
		read: func(r *readings, e func(uint64, ...string)) { e(r.pipe.Flow.Bursts) }},
	{name: "sessions_active", help: "Sessions tracked now.", typ: gauge, stats: statsAsIs,
		read: func(r *readings, e func(uint64, ...string)) { e(r.pipe.Flow.ActiveTCP + r.pipe.Flow.ActiveUDP) }},
	{name: "pairs_tracked", help: "Pairs scored by the periodicity detector now.", typ: gauge, stats: statsAsIs, alias: "pairs",
		read: func(r *readings, e func(uint64, ...string)) { e(r.pipe.Beacon.Pairs) }},
	{name: "dns_answers", help: "DNS answers remembered now.", typ: gauge,
		read: func(r *readings, e func(uint64, ...string)) { e(r.pipe.DNS.Entries) }},
	{name: "hosts", help: "Hosts in the host-identification tables now.", typ: gauge,
		read: func(r *readings, e func(uint64, ...string)) { e(uint64(r.pipe.Hosts.Hosts)) }},
	{name: "evictions", help: "Entries evicted from a full table, by table.", labels: []string{"table"}, stats: statsSum,
		read: func(r *readings, e func(uint64, ...string)) {
			e(r.pipe.Hosts.Evictions, "hosts")
			e(r.pipe.Hosts.BindingEvictions, "host_bindings")
			e(r.pipe.Flow.Evictions, "sessions")
			e(r.pipe.Beacon.Evictions, "pairs")
			e(r.pipe.DNS.Evictions, "dns_answers")
			e(r.pipe.DNS.TCPEvictions, "dns_streams")
			e(r.pipe.DNS.MACEvictions, "dns_mac_answers")
			e(r.pipe.DNS.MACOwnerEvictions, "dns_mac_owners")
			e(r.pipe.DNSNameEvictions, "dns_names")
			e(r.alerts.HeldEvictions.Load(), "held_alerts")
			e(r.pipe.Names.PairMetaEvictions, "pair_meta")
			e(r.pipe.Names.DoHHostEvictions, "doh_hosts")
			e(r.pipe.Names.HelloHoldEvictions, "held_hellos")
			e(r.pipe.Names.LearnMACEvictions, "internal_macs")
			e(r.fleet.Evictions, "fleet")
			e(r.pipe.Identity.BindingEvictions, "host_identity_bindings")
			e(r.pipe.Identity.MACEvictions, "host_identity_macs")
			e(r.pipe.Identity.JoinKeyEvictions, "host_identity_join_keys")
			e(r.pipe.Identity.JoinEvictions, "host_identity_joins")
			e(r.pipe.HostSeenEvictions, "host_seen")
		}},
	{name: "class_evictions", help: "Evictions from the scan-resistant tables, by table and class: probation (seen once) or protected (with a history).", labels: []string{"table", "class"},
		read: func(r *readings, e func(uint64, ...string)) {
			e(r.pipe.Flow.EvictionsProbation, "sessions", "probation")
			e(r.pipe.Flow.EvictionsProtected, "sessions", "protected")
			e(r.pipe.Beacon.EvictionsProbation, "pairs", "probation")
			e(r.pipe.Beacon.EvictionsProtected, "pairs", "protected")
		}},
	{name: "dns_messages", help: "DNS messages by outcome.", labels: []string{"event"},
		read: func(r *readings, e func(uint64, ...string)) {
			e(r.pipe.DNS.Queries, "query")
			e(r.pipe.DNS.Responses, "response")
			e(r.pipe.DNS.Malformed, "malformed")
			e(r.pipe.DNS.Truncated, "truncated")
		}},
	{name: "named_sessions", help: "Sessions without a DNS name, by where their name came from (unnamed: none on the wire).", labels: []string{"source"},
		read: func(r *readings, e func(uint64, ...string)) {
			nm := &r.pipe.Names
			e(nm.SNI, "sni")
			e(nm.QUIC, "quic")
			e(nm.HTTP, "http")
			e(nm.Connect, "connect")
			e(nm.Unnamed, "unnamed")
		}},
	{name: "name_errors", help: "First payloads and router advertisements that could not be read, by kind.", labels: []string{"kind"},
		read: func(r *readings, e func(uint64, ...string)) {
			nm := &r.pipe.Names
			e(nm.HelloIncomplete, "hello_incomplete")
			e(nm.HelloMalformed, "hello_malformed")
			e(nm.QUICIncomplete, "quic_incomplete")
			e(nm.QUICMalformed, "quic_malformed")
			e(nm.HTTPMalformed, "http_malformed")
			e(nm.RouterAdvertErrors, "router_advert")
		}},
	{name: "split_hellos", help: "ClientHellos whose name was beyond the first segment, by outcome.", labels: []string{"outcome"},
		read: func(r *readings, e func(uint64, ...string)) {
			e(r.pipe.Names.HelloHeld, "held")
			e(r.pipe.Names.HelloJoined, "named")
		}},
	{name: "refused", help: "Entries a full bounded list refused (it keeps what it has: learned IPv6 prefixes, recognised proxies), by table.", labels: []string{"table"},
		read: func(r *readings, e func(uint64, ...string)) {
			e(r.pipe.Names.PrefixesRefused, "learned_prefixes")
			e(r.pipe.Names.ProxiesRefused, "proxies")
		}},
	{name: "dns_name_cache_misses", help: "DNS question names unpacked because the cache of recent ones lacked them.",
		read: func(r *readings, e func(uint64, ...string)) { e(r.pipe.DNS.NameCacheMisses) }},
	{name: "rescores_skipped", help: "Rescorings skipped: an alerted pair whose intervals cannot move its period.",
		read: func(r *readings, e func(uint64, ...string)) { e(r.pipe.Beacon.Steady) }},
	{name: "rescores_unalertable", help: "Rescorings stopped after the search for a period: timing evidence below --beacon-timing-evidence, so the pair cannot alert; neither described nor its sizes weighed.",
		read: func(r *readings, e func(uint64, ...string)) { e(r.pipe.Beacon.Unalertable) }},
	{name: "pairs_renamed", help: "Address-keyed pairs moved to their name once it was known.",
		read: func(r *readings, e func(uint64, ...string)) { e(r.pipe.Beacon.Rekeyed) }},
	{name: "proxy_requests", help: "CONNECT and absolute-URI requests to explicit proxies beaten as egress.",
		read: func(r *readings, e func(uint64, ...string)) { e(r.pipe.Names.ProxyRequests) }},
	{name: "proxy_egress_skipped", help: "Sessions from a proxy's own address, not scored (its clients' egress).",
		read: func(r *readings, e func(uint64, ...string)) { e(r.pipe.Names.ProxyEgress) }},
	{name: "proxies_learned", help: "Explicit proxies recognised from CONNECT traffic.", typ: gauge,
		read: func(r *readings, e func(uint64, ...string)) { e(r.pipe.Names.ProxiesLearned) }},
	{name: "doh_sessions", help: "Sessions to encrypted-DNS resolvers, not scored.",
		read: func(r *readings, e func(uint64, ...string)) { e(r.pipe.Names.DoHSessions) }},
	{name: "doh_hosts", help: "Hosts seen using encrypted-DNS resolvers (their lookups are invisible to the span).", typ: gauge,
		read: func(r *readings, e func(uint64, ...string)) { e(r.pipe.Names.DoHHosts) }},
	{name: "router_adverts", help: "ICMPv6 router advertisements read.",
		read: func(r *readings, e func(uint64, ...string)) { e(r.pipe.Names.RouterAdverts) }},
	{name: "learned_internal_prefixes", help: "IPv6 prefixes learned as internal, from router advertisements and from internal hosts' MACs.", typ: gauge,
		read: func(r *readings, e func(uint64, ...string)) { e(r.pipe.Names.PrefixesLearned) }},
	{name: "learned_internal_prefixes_from_macs", help: "Of the learned internal IPv6 prefixes, those learned from a global address of a MAC known as an internal host's.", typ: gauge,
		read: func(r *readings, e func(uint64, ...string)) { e(r.pipe.Names.PrefixesFromMACs) }},
	{name: "internal_host_prefixes_treated_external", help: "Global IPv6 /64s an internal host's MAC sent from while --learn-internal=false: its traffic there is treated as external.",
		read: func(r *readings, e func(uint64, ...string)) { e(r.pipe.Names.ExternalHostWarns) }},
	{name: "host_identity_lookups", help: "Owner addresses resolved to hosts (every packet when replay shards, each session start and lookup otherwise), by how keyed: by the MAC of the host it is bound to, or by its address (unbound, or bound only to a router's MAC).", labels: []string{"by"},
		read: func(r *readings, e func(uint64, ...string)) {
			e(r.pipe.Identity.ByMAC, "mac")
			e(r.pipe.Identity.ByAddr, "address")
		}},
	{name: "host_identity_bindings", help: "Address-to-MAC bindings held now.", typ: gauge,
		read: func(r *readings, e func(uint64, ...string)) { e(uint64(r.pipe.Identity.Bindings)) }},
	{name: "host_identity_moves", help: "Addresses bound to another MAC than before (DHCP re-addressing, a lease handed to another host).",
		read: func(r *readings, e func(uint64, ...string)) { e(r.pipe.Identity.Moved) }},
	{name: "host_identity_joins", help: "MACs joined to another MAC's host (hostname, DUID, inventory), and joins not made, by outcome.", labels: []string{"outcome"},
		read: func(r *readings, e func(uint64, ...string)) {
			e(r.pipe.Identity.Joins, "joined")
			e(r.pipe.Identity.JoinsRefused, "refused")
			e(r.pipe.Identity.JoinsGeneric, "generic_name")
			e(r.pipe.Identity.JoinsShared, "shared")
		}},
	{name: "host_identity_restored", help: "Learned joins and address bindings restored from the state directory at start (docs/host-identity.md), those that still stood after the first packet, by kind.", typ: gauge, labels: []string{"kind"},
		read: func(r *readings, e func(uint64, ...string)) {
			e(r.pipe.Identity.RestoredJoins, "joins")
			e(r.pipe.Identity.RestoredBindings, "bindings")
		}},
	{name: "host_identity_restore_skipped", help: "Joins and address bindings in the state directory not restored at start, by reason: refused (against a rule of the binder: a MAC already part of a host, a router's MAC, an inventory join, a host with its most MACs) or aged (older than the join or bind window at the checkpoint's or the first packet's time).", labels: []string{"reason"},
		read: func(r *readings, e func(uint64, ...string)) {
			e(r.pipe.Identity.RestoreRefused, "refused")
			e(r.pipe.Identity.RestoreAged, "aged")
		}},
	{name: "host_identity_conflicts", help: "Frames claiming a bound address from another MAC while its holder was active (spoofing, or an address conflict): the address did not move.",
		read: func(r *readings, e func(uint64, ...string)) { e(r.pipe.Identity.Conflicts) }},
	{name: "host_identity_routers", help: "MACs found sending from more addresses than a host uses: routers, whose frames name no host.",
		read: func(r *readings, e func(uint64, ...string)) { e(r.pipe.Identity.Routers) }},
	{name: "host_identity_errors", help: "DHCP, NDP and mDNS messages host identity could not read, by kind (counted and skipped).", labels: []string{"kind"},
		read: func(r *readings, e func(uint64, ...string)) {
			e(r.pipe.Identity.DHCPErrors, "dhcp")
			e(r.pipe.Identity.NDPErrors, "ndp")
			e(r.pipe.Identity.MDNSErrors, "mdns")
			e(r.pipe.Identity.DHCPMismatch, "dhcp_mismatch")
		}},
	{name: "findings", help: "Periodic pairs found, before host-OS policy and baseline.", stats: statsAsIs,
		read: func(r *readings, e func(uint64, ...string)) { e(r.pipe.Findings) }},
	{name: "alerts", help: "Alerts delivered.", stats: statsAsIs,
		read: func(r *readings, e func(uint64, ...string)) { e(r.alerts.Emitted.Load()) }},
	{name: "suppressed", help: "Findings suppressed, by reason (one a baseline reload later releases stays counted here, and in released).", labels: []string{"reason"},
		read: func(r *readings, e func(uint64, ...string)) {
			e(r.pipe.SuppressedOS, "host_os")
			e(r.pipe.DNSShadows, "dns_shadow")
			e(r.alerts.SuppressedDest.Load(), "baseline_dest")
			e(r.alerts.SuppressedLabel.Load(), "approved_label")
			e(r.alerts.Duplicates.Load(), "already_alerted")
		}},
	{name: "released", help: "Suppressed alerts delivered after a baseline reload withdrew the approval.",
		read: func(r *readings, e func(uint64, ...string)) { e(r.alerts.Released.Load()) }},
	{name: "state_db_bytes", help: "Bytes the state database takes on disk (with its write-ahead log).", typ: gauge, stats: statsAsIs,
		read: func(r *readings, e func(uint64, ...string)) {
			if r.state != nil {
				e(r.state.bytes)
			}
		}},
	{name: "state_checkpoint_time", help: "Unix time the last checkpoint committed (0: none yet).", typ: gauge, stats: statsAsIs,
		read: func(r *readings, e func(uint64, ...string)) {
			if r.state != nil {
				var at uint64
				if !r.state.at.IsZero() {
					at = uint64(r.state.at.Unix())
				}
				e(at)
			}
		}},
	{name: "state_checkpoint_ms", help: "Milliseconds the last checkpoint took.", typ: gauge, stats: statsAsIs,
		read: func(r *readings, e func(uint64, ...string)) {
			if r.state != nil {
				e(r.state.durationMs)
			}
		}},
	{name: "state_checkpoint_errors", help: "Checkpoints that failed (the next one retries).",
		read: func(r *readings, e func(uint64, ...string)) {
			if r.state != nil {
				e(r.state.errors)
			}
		}},
	{name: "hub_beats", help: "Beats the workers handed the hub publisher, by outcome: queued (sized or not), unsized (sent without sizes: the session outlived the wait), dropped (the publisher's queue was full).",
		labels: []string{"outcome"}, stats: statsPerLabel,
		read: func(r *readings, e func(uint64, ...string)) {
			if r.hub != nil {
				h := r.pipe.Hub
				e(h.Beats, "queued")
				e(h.Unsized, "unsized")
				e(h.Dropped+h.FindingsDropped+h.HostsDropped, "dropped")
			}
		}},
	{name: "hub_records", help: "Observations packed into frames for the hub, by event: packed, queue_full (dropped: the publisher's queue was full), refused (not encodable, logged).",
		labels: []string{"event"},
		read: func(r *readings, e func(uint64, ...string)) {
			if r.hub != nil {
				e(r.hub.pub.Records, "packed")
				e(r.hub.pub.QueueDrops, "queue_full")
				e(r.hub.pub.Refused, "refused")
			}
		}},
	{name: "hub_frames", help: "Frames of observations, by event: stored (in the outbox), sent (acknowledged by JetStream), duplicate (acknowledged as already stored: sent again after a lost acknowledgement), outbox_error (the outbox could not store it: lost), rejected (refused for good by the stream: larger than its message limit; dropped).",
		labels: []string{"event"},
		read: func(r *readings, e func(uint64, ...string)) {
			if r.hub != nil {
				e(r.hub.pub.Frames, "stored")
				e(r.hub.pub.Sent, "sent")
				e(r.hub.pub.Duplicates, "duplicate")
				e(r.hub.pub.OutboxErrors, "outbox_error")
				e(r.hub.pub.Rejected, "rejected")
			}
		}},
	{name: "hub_sent_records", help: "Observations JetStream acknowledged.", stats: statsAsIs,
		read: func(r *readings, e func(uint64, ...string)) {
			if r.hub != nil {
				e(r.hub.pub.SentRecords)
			}
		}},
	{name: "hub_send_errors", help: "Sends to the hub that failed (unreachable, timed out); the frames stay in the outbox and are sent again.", stats: statsAsIs,
		read: func(r *readings, e func(uint64, ...string)) {
			if r.hub != nil {
				e(r.hub.pub.PublishErrors)
			}
		}},
	{name: "hub_connected", help: "1 while the link to the hub's NATS servers is up.", typ: gauge, stats: statsAsIs,
		read: func(r *readings, e func(uint64, ...string)) {
			if r.hub != nil {
				var up uint64
				if r.hub.pub.Connected {
					up = 1
				}
				e(up)
			}
		}},
	{name: "hub_outbox_frames", help: "Frames in the hub outbox not yet acknowledged.", typ: gauge, stats: statsAsIs,
		read: func(r *readings, e func(uint64, ...string)) {
			if r.hub != nil {
				e(r.hub.pub.Outbox.Pending)
			}
		}},
	{name: "hub_outbox_bytes", help: "Bytes the hub outbox takes on disk.", typ: gauge,
		read: func(r *readings, e func(uint64, ...string)) {
			if r.hub != nil {
				e(r.hub.pub.Outbox.PendingBytes)
			}
		}},
	{name: "hub_outbox_dropped", help: "Frames the hub outbox dropped unsent to stay within --hub-outbox-max-bytes (the oldest first).", stats: statsAsIs,
		read: func(r *readings, e func(uint64, ...string)) {
			if r.hub != nil {
				e(r.hub.pub.Outbox.Dropped)
			}
		}},
	{name: "hub_outbox_corrupt", help: "Unreadable records the hub outbox skipped (a torn write at a power cut, a damaged disk).",
		read: func(r *readings, e func(uint64, ...string)) {
			if r.hub != nil {
				e(r.hub.pub.Outbox.Corrupt)
			}
		}},
	{name: "hub_baseline_loads", help: "Organisation baselines received from the hub, by result: loaded, invalid (the one in force kept).",
		labels: []string{"result"},
		read: func(r *readings, e func(uint64, ...string)) {
			if r.hub != nil {
				e(r.hub.reloads, "loaded")
				e(r.hub.rejected, "invalid")
			}
		}},
	{name: "masquerades", help: "Alerts whose launchd job took an approved label but not the rest of the rule (program, plist location, team ID).",
		read: func(r *readings, e func(uint64, ...string)) { e(r.alerts.Masquerades.Load()) }},
	{name: "fleet", help: "Fleet grouping (docs/fleet-grouping.md), by event: groups formed, host alerts joined to a group, update records, group alerts raised in severity, member hosts' own alerts.",
		labels: []string{"event"}, stats: statsPerLabel,
		read: func(r *readings, e func(uint64, ...string)) {
			e(r.fleet.Groups, "groups")
			e(r.fleet.Joined, "joined")
			e(r.fleet.Updates, "updates")
			e(r.fleet.Raised, "raised")
			e(r.fleet.MemberAlerts, "member_alerts")
		}},
	{name: "fleet_destinations", help: "Destinations the fleet grouping table remembers now.", typ: gauge,
		read: func(r *readings, e func(uint64, ...string)) { e(r.fleet.Dests) }},
	{name: "sink_errors", help: "Alert deliveries that failed.", stats: statsAsIs,
		read: func(r *readings, e func(uint64, ...string)) { e(r.alerts.SinkErrors.Load()) }},
	{name: "mdm_lookups", help: "MDM inventory lookups.", stats: statsAsIs,
		read: func(r *readings, e func(uint64, ...string)) { e(r.enrich.Lookups) }},
	{name: "mdm_failures", help: "MDM inventory lookups that failed.", stats: statsAsIs, alias: "enrichment_failures",
		read: func(r *readings, e func(uint64, ...string)) { e(r.enrich.Failures) }},
	{name: "enrichment", help: "Alerts by enrichment status.", labels: []string{"status"},
		stats: statsPerLabel, // a handful of statuses: matched, no-match, ...
		read: func(r *readings, e func(uint64, ...string)) {
			for status, n := range r.alerts.EnrichmentStatus() {
				e(n, status)
			}
		}},
	{name: "syslog_messages", help: "Syslog messages by destination and outcome.", labels: []string{"destination", "outcome"},
		stats: statsSum, statsAs: "syslog_dropped", statsKeep: func(lv []string) bool { return lv[1] == "dropped" },
		read: func(r *readings, e func(uint64, ...string)) {
			for _, d := range r.syslog {
				e(d.Queued, d.URL, "queued")
				e(d.Sent, d.URL, "sent")
				e(d.Delivered, d.URL, "delivered")
				e(d.Retried, d.URL, "retried")
				e(d.Dropped, d.URL, "dropped")
				e(d.Spooled, d.URL, "spooled")
			}
		}},
	{name: "syslog_queue_depth", help: "Syslog messages waiting per destination.", typ: gauge, labels: []string{"destination"},
		read: func(r *readings, e func(uint64, ...string)) {
			for _, d := range r.syslog {
				e(d.Depth, d.URL)
			}
		}},
	// Live capture only. Packets are lost in the kernel only: each live
	// worker reads its own ring, and replay and the alert queue wait rather
	// than drop; so the stats line's drops are the kernel's.
	{name: "kernel_packets", help: "Packets the AF_PACKET sockets accepted (after the pre-filter), drops included, by interface.", labels: []string{"interface"},
		read: func(r *readings, e func(uint64, ...string)) {
			if r.kernel != nil && len(r.ifaces) == 0 {
				e(r.kernel.Packets, "") // no socket reported: the total alone
			}
			for _, k := range r.ifaces {
				e(k.packets, k.name)
			}
		}},
	{name: "kernel_drops", help: "Packets the kernel dropped because a ring was full (tp_drops), by interface.", labels: []string{"interface"},
		stats: statsSum, alias: "drops",
		read: func(r *readings, e func(uint64, ...string)) {
			if r.kernel != nil && len(r.ifaces) == 0 {
				e(r.kernel.Drops, "") // no socket reported: the total alone
			}
			for _, k := range r.ifaces {
				e(k.drops, k.name)
			}
		}},
	{name: "kernel_freezes", help: "Times a ring filled and its queue froze (tp_freeze_q_cnt), by interface.", labels: []string{"interface"},
		stats: statsSum,
		read: func(r *readings, e func(uint64, ...string)) {
			if r.kernel != nil && len(r.ifaces) == 0 {
				e(r.kernel.Freezes, "")
			}
			for _, k := range r.ifaces {
				e(k.freezes, k.name)
			}
		}},
	{name: "bpf_map_full", help: "Packets the pre-filter passed because its flow table was full.", stats: statsAsIs,
		read: func(r *readings, e func(uint64, ...string)) {
			kernel(r, e, func(k *live.Stats) uint64 { return k.Filter.PassMapFull })
		}},
	{name: "bpf_pass_no_entry", help: "Packets the pre-filter passed without making a flow entry: TCP SYNs, FINs and RSTs of a direction without one, UDP directions' first datagrams (a port scan's packets). Included in bpf_passed.", stats: statsAsIs,
		read: func(r *readings, e func(uint64, ...string)) {
			kernel(r, e, func(k *live.Stats) uint64 { return k.Filter.PassNoEntry })
		}},
	{name: "bpf_mark_hits", help: "Flow entries the pre-filter made that found their direction's mark (its SYN, its first UDP datagram); marks aged out of their LRU make this fall behind.",
		read: func(r *readings, e func(uint64, ...string)) {
			kernel(r, e, func(k *live.Stats) uint64 { return k.Filter.MarkHits })
		}},
	{name: "bpf_counted", help: "Packets the pre-filter counted in the kernel instead of passing them.", stats: statsAsIs,
		read: func(r *readings, e func(uint64, ...string)) {
			kernel(r, e, func(k *live.Stats) uint64 { return k.Filter.Counted })
		}},
	{name: "capture_seen", help: "Packets the capture saw: passed to the sockets plus counted by the pre-filter (seen = delivered + bpf_counted + kernel_drops + undelivered).", stats: statsAsIs,
		read: func(r *readings, e func(uint64, ...string)) {
			kernel(r, e, func(k *live.Stats) uint64 { return k.Seen })
		}},
	{name: "capture_delivered", help: "Packets delivered to the workers.", stats: statsAsIs,
		read: func(r *readings, e func(uint64, ...string)) {
			kernel(r, e, func(k *live.Stats) uint64 { return k.Delivered })
		}},
	{name: "capture_undelivered", help: "Packets in the rings not yet delivered; after a stop, those left behind.", typ: gauge, stats: statsAsIs,
		read: func(r *readings, e func(uint64, ...string)) {
			kernel(r, e, func(k *live.Stats) uint64 { return k.Undelivered })
		}},
	{name: "capture_unaccounted", help: "Packets seen that are neither delivered, counted in the kernel, dropped nor waiting in a ring (0 when every packet is accounted for).", typ: gauge, stats: statsAsIs,
		read: func(r *readings, e func(uint64, ...string)) {
			kernel(r, e, func(k *live.Stats) uint64 { return k.Unaccounted })
		}},
	{name: "bpf_flow_syscalls", help: "bpf(2) calls made to take ended sessions' kernel counts (batched: walks of 4096 entries, batch deletes).",
		read: func(r *readings, e func(uint64, ...string)) {
			if r.flows != nil {
				e(r.flows.Syscalls)
			}
		}},
	{name: "bpf_flow_taken", help: "Ended sessions' flow directions asked of the kernel's flow table.",
		read: func(r *readings, e func(uint64, ...string)) {
			if r.flows != nil {
				e(r.flows.Keys)
			}
		}},
	{name: "bpf_flow_skipped", help: "Ended sessions' flow directions not asked of the kernel: the pre-filter cannot have counted their packets (no TCP segment but SYN, FIN or RST; a lone UDP datagram).",
		read: func(r *readings, e func(uint64, ...string)) {
			if r.flows != nil {
				e(r.flows.Skipped)
			}
		}},
	{name: "bpf_passed", help: "Packets the pre-filter passed to user space.", stats: statsAsIs,
		read: func(r *readings, e func(uint64, ...string)) {
			kernel(r, e, func(k *live.Stats) uint64 { return k.Filter.Passed() })
		}},
	{name: "fanout_hosts", help: "Writes to the kernel fanout's hosts map (live capture with several workers), by result: updated, deleted, failed.", labels: []string{"result"},
		read: func(r *readings, e func(uint64, ...string)) {
			if r.kernel != nil {
				h := &r.pipe.LiveHosts
				e(h.Updates, "updated")
				e(h.Deletes, "deleted")
				e(h.Failures, "failed")
			}
		}},
	{name: "host_changes", help: "Address bindings, MAC joins and join keys (hostnames, DUIDs) live workers' binders learned and shared with the other workers and the kernel.",
		read: func(r *readings, e func(uint64, ...string)) {
			if r.kernel != nil {
				e(r.pipe.LiveHosts.Changes)
			}
		}},
	{name: "host_changes_applied", help: "Host changes a live worker took from another worker's binder (or its own, in the kernel's order) that changed what it resolves.",
		read: func(r *readings, e func(uint64, ...string)) {
			if r.kernel != nil {
				e(r.pipe.Identity.Applied)
			}
		}},
	{name: "host_changes_dropped", help: "Host changes not shared because a queue was full, by where: queue (to the kernel map and the workers), inbox (one worker's).", labels: []string{"where"},
		stats: statsSum,
		read: func(r *readings, e func(uint64, ...string)) {
			if r.kernel != nil {
				e(r.pipe.LiveHosts.QueueDrops, "queue")
				e(r.pipe.LiveHosts.InboxDrops, "inbox")
			}
		}},
	// A hub process (launchtap hub; docs/many-sensors.md): absent from a sensor.
	{name: "hub_process_frames", help: "Hub process: observation frames read from the stream.", stats: statsAsIs,
		read: hubProcRead(func(h *proc.Stats, e func(uint64, ...string)) { e(h.Frames) })},
	{name: "hub_process_records", help: "Hub process: observation records read, by kind.", labels: []string{"kind"},
		read: hubProcRead(func(h *proc.Stats, e func(uint64, ...string)) {
			for k, v := range h.Records {
				e(v, k)
			}
		})},
	{name: "hub_process_malformed", help: "Hub process: frames, records and prevalence tables that did not decode (skipped).", stats: statsAsIs,
		read: hubProcRead(func(h *proc.Stats, e func(uint64, ...string)) { e(h.Malformed) })},
	{name: "hub_process_refused", help: "Hub process: records refused: no host, destination or time.",
		read: hubProcRead(func(h *proc.Stats, e func(uint64, ...string)) { e(h.Refused) })},
	{name: "hub_process_partitions", help: "Hub process: observation partitions this process holds now.", typ: gauge, stats: statsAsIs,
		read: hubProcRead(func(h *proc.Stats, e func(uint64, ...string)) { e(uint64(h.Owned)) })},
	{name: "hub_process_partition_changes", help: "Hub process: partition leases gained and lost (released, or taken over), by event.", labels: []string{"event"},
		read: hubProcRead(func(h *proc.Stats, e func(uint64, ...string)) {
			e(h.Gained, "gained")
			e(h.Lost, "lost")
		})},
	{name: "hub_process_hosts", help: "Hub process: merged hosts tracked now.", typ: gauge, stats: statsAsIs,
		read: hubProcRead(func(h *proc.Stats, e func(uint64, ...string)) { e(uint64(h.Hosts)) })},
	{name: "hub_process_host_merges", help: "Hub process: hosts merged into another by a shared MAC, serial or hostname.",
		read: hubProcRead(func(h *proc.Stats, e func(uint64, ...string)) { e(h.Engine.Merges) })},
	{name: "hub_process_beats", help: "Hub process: beats merged, and of them those older than their pair's latest (another sensor's order), by order.", labels: []string{"order"},
		read: hubProcRead(func(h *proc.Stats, e func(uint64, ...string)) {
			e(h.Engine.Beats-h.Engine.LateBeats, "in_order")
			e(h.Engine.LateBeats, "late")
		})},
	{name: "hub_process_pairs", help: "Hub process: pairs of merged hosts scored by the detector now.", typ: gauge,
		read: hubProcRead(func(h *proc.Stats, e func(uint64, ...string)) { e(h.Pairs) })},
	{name: "hub_process_findings", help: "Hub process: periodic pairs found on merged beats, and of them those the host-OS policy suppressed, by outcome.", labels: []string{"outcome"},
		read: hubProcRead(func(h *proc.Stats, e func(uint64, ...string)) {
			e(h.Engine.Alerts, "alerted")
			e(h.Engine.SuppressedOS, "host_os")
		})},
	{name: "hub_process_evictions", help: "Hub process: entries a full table evicted or refused, by table.", labels: []string{"table"}, stats: statsSum,
		read: hubProcRead(func(h *proc.Stats, e func(uint64, ...string)) {
			e(h.Engine.HostEvictions, "hosts")
			e(h.PairEvicts, "pairs")
			e(h.Engine.KeysDropped, "host_keys")
			e(h.Engine.PairsUntracked, "host_pairs")
			e(h.Engine.DestsDropped, "prevalence_dests")
			e(h.Engine.DaysExpired, "prevalence_days")
			e(h.Engine.Saturated, "prevalence_saturated")
			e(h.Truncated, "prevalence_truncated")
		})},
	{name: "hub_process_checkpoints", help: "Hub process: sensor checkpoints handed to the organisation's store (--db), by outcome: stored, failed (redelivered, or refused as no checkpoint).", labels: []string{"outcome"},
		read: hubProcRead(func(h *proc.Stats, e func(uint64, ...string)) {
			e(h.Checkpoints, "stored")
			e(h.CkptErrors, "failed")
		})},
	{name: "hub_process_prevalence_published", help: "Hub process: prevalence tables of this process's partitions published for the others.",
		read: hubProcRead(func(h *proc.Stats, e func(uint64, ...string)) { e(h.Published) })},
}

// hubProcRead reads a hub process's metric, nothing on a sensor.
func hubProcRead(read func(h *proc.Stats, e func(uint64, ...string))) func(*readings, func(uint64, ...string)) {
	return func(r *readings, e func(uint64, ...string)) {
		if r.hubd != nil {
			read(r.hubd, e)
		}
	}
}

// hubShared are the sensor's metrics a hub process reports too: its alert
// stage's and outputs'.
var hubShared = map[string]bool{"alerts": true, "released": true, "masquerades": true, "fleet": true, "fleet_destinations": true,
	"sink_errors": true, "mdm_lookups": true, "mdm_failures": true, "enrichment": true, "syslog_messages": true, "syslog_queue_depth": true}

// hubSnapshot reads a hub process: its own metrics and its alert stage's.
func (s *sensor) hubSnapshot(st proc.Stats) snapshot {
	r := readings{alerts: &s.stage.Counters, fleet: s.stage.FleetCounters(), enrich: s.enrich.Stats(), hubd: &st}
	if s.syslog != nil {
		r.syslog = s.syslog.Counters().Destinations
	}
	defs := make([]metricDef, 0, len(hubShared)+16)
	for _, d := range metricDefs {
		if hubShared[d.name] || strings.HasPrefix(d.name, "hub_process_") {
			defs = append(defs, d)
		}
	}
	return r.snapshot(defs)
}

// kernel emits one of the live capture's counters, nothing under replay.
func kernel(r *readings, emit func(uint64, ...string), v func(*live.Stats) uint64) {
	if r.kernel != nil {
		emit(v(r.kernel))
	}
}

// snapshot reads every stage once; extra adds the capture side's readings
// (live capture's kernel counters), nil under replay.
func (s *sensor) snapshot(extra func(*readings)) snapshot {
	r := readings{pipe: s.pipe.Stats(), alerts: &s.stage.Counters, fleet: s.stage.FleetCounters(), enrich: s.enrich.Stats()}
	if s.syslog != nil {
		r.syslog = s.syslog.Counters().Destinations
	}
	if s.state != nil {
		r.state = s.state.reading()
	}
	if s.hub != nil {
		r.hub = s.hub.reading()
	}
	if extra != nil {
		extra(&r)
	}
	return r.snapshot(metricDefs)
}

// snapshot evaluates defs against r.
func (r *readings) snapshot(defs []metricDef) snapshot {
	snap := snapshot{stats: map[string]uint64{}}
	for i := range defs {
		d := &defs[i]
		if d.alias != "" {
			snap.stats[d.alias] += 0 // present even when the metric is not
		}
		d.read(r, func(v uint64, labelVals ...string) {
			snap.metrics = append(snap.metrics, sample{def: d, labelVals: labelVals, value: v})
			switch d.stats {
			case statsAsIs:
				snap.stats[d.name] = v
			case statsSum:
				key := d.name
				if d.statsAs != "" {
					key = d.statsAs
				}
				var n uint64 // a series left out still makes the key present
				if d.statsKeep == nil || d.statsKeep(labelVals) {
					n = v
				}
				snap.stats[key] += n
			case statsPerLabel:
				snap.stats[d.name+"_"+labelVals[0]] = v
			}
			if d.alias != "" {
				if d.stats == statsSum {
					snap.stats[d.alias] = snap.stats[d.name]
				} else {
					snap.stats[d.alias] = v
				}
			}
		})
	}
	return snap
}

// captureReadings adds the live capture's kernel counters to a snapshot.
func captureReadings(capt *live.Capture, log *slog.Logger) func(*readings) {
	return func(r *readings) {
		cs, err := capt.Stats()
		if err != nil {
			log.Warn("reading capture statistics", "err", err)
			return
		}
		r.kernel = &cs
		if fc := capt.Flows(); fc != nil {
			ts := fc.Stats()
			r.flows = &ts
		}
		// Per interface, summed over its sockets (one per worker).
		for _, sk := range cs.Sockets {
			i := slices.IndexFunc(r.ifaces, func(k ifaceKernel) bool { return k.name == sk.Iface })
			if i < 0 {
				r.ifaces = append(r.ifaces, ifaceKernel{name: sk.Iface})
				i = len(r.ifaces) - 1
			}
			k := &r.ifaces[i]
			k.packets += sk.Packets
			k.drops += sk.Drops
			k.freezes += sk.Freezes
		}
	}
}

// collector exposes snapshots to Prometheus under the launchtap_ namespace.
type collector struct{ snap func() snapshot }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	prometheus.DescribeByCollect(c, ch)
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	descs := map[*metricDef]*prometheus.Desc{}
	for _, m := range c.snap().metrics {
		d := descs[m.def]
		if d == nil {
			d = prometheus.NewDesc(m.def.promName(), m.def.help, m.def.labels, nil)
			descs[m.def] = d
		}
		typ := prometheus.GaugeValue
		if m.def.typ == counter {
			typ = prometheus.CounterValue
		}
		ch <- prometheus.MustNewConstMetric(d, typ, float64(m.value), m.labelVals...)
	}
}

// promName is the metric's Prometheus name.
func (d *metricDef) promName() string {
	if d.typ == counter {
		return "launchtap_" + d.name + "_total"
	}
	return "launchtap_" + d.name
}

// newRegistry holds the sensor's metrics and client_golang's standard
// collectors: process (CPU, memory, file descriptors), Go runtime, the Go
// build information, and launchtap_build_info with the version.
func newRegistry(snap func() snapshot) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collector{snap: snap},
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
		collectors.NewBuildInfoCollector(),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "launchtap_build_info",
			Help:        "Always 1; the version label is the launchtap release (git describe).",
			ConstLabels: prometheus.Labels{"version": version},
		}, func() float64 { return 1 }),
	)
	return reg
}

// serveMetrics serves /metrics on addr until ctx is done.
func serveMetrics(ctx context.Context, addr string, snap func() snapshot, log *slog.Logger) (string, error) {
	reg := newRegistry(snap)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("metrics-addr: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	return ln.Addr().String(), nil
}

// logStats writes one stats line every interval until ctx is done, and sends
// the same counters as a SENSOR-STATS syslog message when syslog is on, so a
// SIEM can tell the sensor is alive and seeing traffic. Kernel drops in an
// interval are a warning per interface.
func logStats(ctx context.Context, every time.Duration, snap func() snapshot, log *slog.Logger, sys *syslog.Emitter) {
	t := time.NewTicker(every)
	defer t.Stop()
	var prev, prevAll map[string]uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s := snap()
		cur, all := s.stats, s.kernelByIface()
		keys := make([]string, 0, len(cur))
		for k := range cur {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		attrs := make([]any, 0, 2*len(keys)+2)
		for _, k := range keys {
			attrs = append(attrs, k, cur[k])
		}
		if prev != nil {
			attrs = append(attrs, "packets_per_s", float64(cur["packets"]-prev["packets"])/every.Seconds())
			warnDrops(log, all, prevAll, every)
		}
		log.Info("stats", attrs...)
		if sys != nil {
			sys.Stats(cur)
		}
		prev, prevAll = cur, all
	}
}

// kernelByIface is the kernel's per-interface series keyed NAME_IFACE
// (kernel_drops_eth0), for warnDrops.
func (s snapshot) kernelByIface() map[string]uint64 {
	m := map[string]uint64{}
	for _, x := range s.metrics {
		if (x.def.name == "kernel_drops" || x.def.name == "kernel_packets") && len(x.labelVals) == 1 && x.labelVals[0] != "" {
			m[x.def.name+"_"+x.labelVals[0]] = x.value
		}
	}
	return m
}

// warnDrops logs, for each interface whose kernel ring dropped packets since
// the last interval, one warning: one line per interval for a drop burst,
// never one per packet.
func warnDrops(log *slog.Logger, cur, prev map[string]uint64, every time.Duration) {
	const prefix = "kernel_drops_"
	var ifaces []string
	for k := range cur {
		if strings.HasPrefix(k, prefix) && cur[k] > prev[k] {
			ifaces = append(ifaces, strings.TrimPrefix(k, prefix))
		}
	}
	slices.Sort(ifaces)
	for _, i := range ifaces {
		k := prefix + i
		log.Warn("kernel dropped packets in the last interval: the capture ring overflowed", "interface", i,
			"drops", cur[k]-prev[k], "packets", cur["kernel_packets_"+i]-prev["kernel_packets_"+i], "interval", every)
	}
}
