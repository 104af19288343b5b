package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/launchtap/launchtap/sensor/capture"
	"github.com/launchtap/launchtap/sensor/decode"
	"github.com/launchtap/launchtap/sensor/pipeline"
)

func (a *app) replayCmd() *cobra.Command {
	var (
		o  *sensorFlags
		sf *stateFlags
	)
	cmd := &cobra.Command{
		Use:   "replay [flags] CAPTURE...",
		Short: "replay pcap/pcapng captures and print alerts as JSON Lines",
		Long: "Replays captures through the sensor and prints its alerts as JSON Lines on standard output.\n" +
			"CAPTURE is a pcap or pcapng file (optionally gzip-compressed), a directory of captures, or -\n" +
			"for standard input; several are merged in timestamp order. A summary goes to standard error,\n" +
			"and progress too when standard error is a terminal.",
		Example: "  launchtap replay --internal 10.20.0.0/16 monday.pcap.gz\n" +
			"  launchtap replay --os any --alerts alerts.jsonl --summary summary.json /var/captures/\n" +
			"  tcpdump -i eth1 -w - | launchtap replay --config /etc/launchtap/launchtap.yaml -",
		Args: cobra.ArbitraryArgs,
		Run: func(cmd *cobra.Command, args []string) {
			a.code = a.runReplay(cmd, o, sf, args)
		},
	}
	o = newSensorFlags(a, cmd.Flags())
	sf = registerStateFlags(cmd.Flags(), "")
	return cmd
}

// runReplay is the replay command once its flags are parsed.
func (a *app) runReplay(cmd *cobra.Command, o *sensorFlags, sf *stateFlags, args []string) int {
	ctx, stdin, stdout, stderr := cmd.Context(), a.stdin, a.stdout, a.stderr
	if len(args) == 0 {
		return a.usage(cmd, errNoCapture)
	}
	if err := o.prepare(stderr); err != nil {
		return a.usage(cmd, err)
	}
	o.hub.stateDir = sf.dir
	s, err := o.build(stdout, stderr)
	if err != nil {
		return a.fail(cmd, err, exitUsage)
	}
	// With workers to feed, the reading goroutine sets the pace: its page
	// faults move to a goroutine of their own. One worker reads inline,
	// where that would only add CPU.
	src, err := capture.Options{Stdin: stdin, Logger: s.log, Prefault: s.pipe.Workers() > 1}.Open(args...)
	if err != nil {
		s.finish(ctx)
		return a.fail(cmd, err, exitUsage)
	}
	defer src.Close()
	ck, err := openState(sf, o, s)
	if err != nil {
		s.finish(ctx)
		return a.fail(cmd, err, exitUsage)
	}

	obsCtx, stopObs := context.WithCancel(ctx)
	defer stopObs()
	if err := s.startObservability(obsCtx, o, nil); err != nil {
		s.finish(ctx)
		return a.fail(cmd, err, exitUsage)
	}
	// Before the alert stage starts: finish waits for that stage, which ends
	// only when the pipeline has run.
	stopProfile, err := startCPUProfile(o.cpuProfile)
	if err != nil {
		s.finish(ctx)
		return a.fail(cmd, err, exitUsage)
	}
	s.startAlerts(ctx)
	if ck != nil {
		ck.start(ctx)
	}
	in, stopProgress := startProgress(src, src.Files(), stderr)
	runErr := s.pipe.Replay(ctx, in)
	stopProgress()
	if err := stopProfile(); err != nil {
		s.log.Error("writing the CPU profile", "err", err)
	}
	stopObs()
	finishErr := s.finish(ctx)
	if err := ck.finish(); err != nil {
		finishErr = errors.Join(finishErr, err)
	}

	code := exitOK
	var trunc *capture.TruncatedError
	switch {
	case runErr == nil:
	case errors.As(runErr, &trunc):
		// Reported below with the other inputs' warnings: what came before the cut was processed.
	case errors.Is(runErr, context.Canceled):
		s.log.Warn("replay interrupted; summary covers what was read")
	default:
		a.fail(cmd, runErr, exitFailure)
		code = exitFailure
	}
	for _, w := range src.Warnings() {
		s.log.Warn("capture truncated: frames before the cut were processed", "err", w.Error())
	}
	if finishErr != nil {
		a.fail(cmd, finishErr, exitFailure)
		code = exitFailure
	}
	sum := newSummary(s, src.Files(), src.Warnings())
	if !a.summarize(cmd, sum, stderr, o.summaryPath) {
		code = exitFailure
	}
	return code
}

// summary is the end-of-run report: to standard error as text and, with
// --summary, as one JSON object. Field names are a contract for scripts.
type summary struct {
	Files        []string          `json:"files,omitempty"`
	Warnings     []string          `json:"warnings,omitempty"`
	Packets      uint64            `json:"packets"`
	Bytes        uint64            `json:"bytes"`
	DecodeErrors map[string]uint64 `json:"decode_errors"`          // by kind; "ok" excluded
	Decoded      uint64            `json:"decoded"`                // packets with a TCP/UDP header
	Decapsulated map[string]uint64 `json:"decapsulated,omitempty"` // GRE/ERSPAN/VXLAN layers removed, by kind
	PairsTracked uint64            `json:"pairs_tracked"`
	Evictions    map[string]uint64 `json:"evictions"` // by table
	Alerts       uint64            `json:"alerts"`
	Findings     uint64            `json:"findings"`        // periodic pairs found, before policy
	Suppressed   map[string]uint64 `json:"suppressed"`      // findings not alerted, by reason
	Masquerades  uint64            `json:"masquerades"`     // alerts whose launchd job poses as an approved one
	Fleet        map[string]uint64 `json:"fleet,omitempty"` // fleet grouping by event (docs/fleet-grouping.md); absent when off
	Sessions     map[string]uint64 `json:"sessions"`
	DNS          map[string]uint64 `json:"dns"`
	Hosts        map[string]uint64 `json:"hosts"`
	// Beats counts the periodicity detector's work: beats offered, merged
	// into a pair's current beat (grouped), dropped as out of order or
	// merged late (the hub's), rescorings done (scored) and those skipped
	// or cut short because they could not change the verdict (steady,
	// unalertable), and pair IDs that collided.
	Beats      map[string]uint64            `json:"beats"`
	Kernel     map[string]uint64            `json:"kernel,omitempty"`     // live capture: AF_PACKET and pre-filter counters
	Syslog     map[string]map[string]uint64 `json:"syslog,omitempty"`     // per destination URL: queued, sent, delivered, retried, dropped, spooled, depth
	Enrichment map[string]uint64            `json:"enrichment,omitempty"` // alerts by enrichment status
	// Names counts destination names read from the wire (sni, quic, http,
	// connect), proxy requests, encrypted-DNS sessions and learned prefixes.
	Names map[string]uint64 `json:"names"`
	// Identity counts how packets were tied to hosts (docs/host-identity.md):
	// address bindings, MAC joins, routers, and packets keyed by MAC or by
	// address. IdentityBy says which: "mac" (the span sees end hosts' MACs),
	// "address" (only routers' MACs or none: beyond the first hop, or no
	// Ethernet) or "mixed".
	Identity   map[string]uint64 `json:"identity"`
	IdentityBy string            `json:"identity_by"`
	// DoHHosts are the hosts seen using encrypted-DNS resolvers: their
	// lookups are invisible to the span.
	DoHHosts        []pipeline.DoHHost `json:"doh_hosts,omitempty"`
	LearnedInternal []string           `json:"learned_internal,omitempty"` // IPv6 prefixes learned from router advertisements and internal hosts' MACs
	// LearnedPrefixes are the same prefixes with how each was learned
	// ("ra": a router advertisement, "mac": a global address of a MAC known
	// as an internal host's) and when.
	LearnedPrefixes []learnedPrefix  `json:"learned_prefixes,omitempty"`
	Proxies         []pipeline.Proxy `json:"proxies,omitempty"` // explicit proxies, configured and recognised
	Workers         int              `json:"workers"`
	ElapsedS        float64          `json:"elapsed_s"`
	PacketsPerSec   float64          `json:"packets_per_s"`
	// CPUS is the process's user+system CPU time; packets per CPU-second is
	// the per-core rate, whatever else the machine was doing.
	CPUS             float64 `json:"cpu_s"`
	PacketsPerCPUSec float64 `json:"packets_per_cpu_s"`

	// EvictionsByClass splits the scan-resistant tables' evictions: entries
	// seen once (probation) and entries with a history (protected).
	EvictionsByClass map[string]uint64 `json:"evictions_by_class"`
}

func newSummary(s *sensor, files []string, warns []error) *summary {
	st := s.pipe.Stats()
	c := &s.stage.Counters
	f := s.stage.FleetCounters()
	sum := &summary{
		Files:        files,
		Packets:      st.Frames,
		Bytes:        st.Bytes,
		DecodeErrors: map[string]uint64{},
		Decoded:      st.Decode[decode.OK],
		PairsTracked: st.Beacon.Pairs,
		Evictions: map[string]uint64{
			"sessions":        st.Flow.Evictions,
			"pairs":           st.Beacon.Evictions,
			"dns_answers":     st.DNS.Evictions,
			"dns_streams":     st.DNS.TCPEvictions,
			"dns_mac_answers": st.DNS.MACEvictions,
			"dns_mac_owners":  st.DNS.MACOwnerEvictions,
			"dns_names":       st.DNSNameEvictions,
			"hosts":           st.Hosts.Evictions,
			"held_alerts":     c.HeldEvictions.Load(),
			"pair_meta":       st.Names.PairMetaEvictions,
			"doh_hosts":       st.Names.DoHHostEvictions,
			"held_hellos":     st.Names.HelloHoldEvictions,
			"internal_macs":   st.Names.LearnMACEvictions,
			"fleet":           f.Evictions,
			"host_bindings":   st.Identity.BindingEvictions,
			"host_macs":       st.Identity.MACEvictions,
			"host_join_keys":  st.Identity.JoinKeyEvictions,
			"host_joins":      st.Identity.JoinEvictions,
			"host_seen":       st.HostSeenEvictions,
		},
		Alerts:      c.Emitted.Load(),
		Masquerades: c.Masquerades.Load(),
		Findings:    st.Findings,
		Suppressed: map[string]uint64{
			"host_os":         st.SuppressedOS,
			"baseline_dest":   c.SuppressedDest.Load(),
			"approved_label":  c.SuppressedLabel.Load(),
			"already_alerted": c.Duplicates.Load(),
			"dns_shadow":      st.DNSShadows,
		},
		Sessions: map[string]uint64{
			"started":    st.Flow.SessionsStarted,
			"joined":     st.Flow.SessionsJoined,
			"ended":      st.Flow.SessionsEnded,
			"unanswered": st.Flow.Unanswered,
			"local_link": st.LocalLink, // to multicast, broadcast, link-local: never beats
			"bursts":     st.Flow.Bursts,
		},
		DNS: map[string]uint64{
			"queries":   st.DNS.Queries,
			"responses": st.DNS.Responses,
			"answers":   st.DNS.Answers,
			"malformed": st.DNS.Malformed,
			"truncated": st.DNS.Truncated,
			"tcp_gaps":  st.DNS.TCPGaps,
		},
		Beats: map[string]uint64{
			"beats":        st.Beacon.Beats,
			"grouped":      st.Beacon.Grouped,
			"out_of_order": st.Beacon.OutOfOrder,
			"late":         st.Beacon.Late,
			"scored":       st.Beacon.Scored,
			"steady":       st.Beacon.Steady,
			"unalertable":  st.Beacon.Unalertable,
			"collisions":   st.Beacon.Collisions,
		},
		Hosts: map[string]uint64{
			"hosts":            uint64(s.pipe.DistinctHosts()), // the workers have stopped
			"syns":             st.Hosts.SYNs,
			"dhcp":             st.Hosts.DHCP,
			"mdns":             st.Hosts.MDNS,
			"http_user_agents": st.Hosts.HTTPUserAgents,
			"routers":          st.Hosts.Routers,
		},
		Names: map[string]uint64{
			"sni":                  st.Names.SNI,
			"quic":                 st.Names.QUIC,
			"http":                 st.Names.HTTP,
			"connect":              st.Names.Connect,
			"unnamed":              st.Names.Unnamed,
			"hello_incomplete":     st.Names.HelloIncomplete,
			"hello_held":           st.Names.HelloHeld,
			"hello_joined":         st.Names.HelloJoined,
			"hello_malformed":      st.Names.HelloMalformed,
			"quic_incomplete":      st.Names.QUICIncomplete,
			"quic_malformed":       st.Names.QUICMalformed,
			"http_malformed":       st.Names.HTTPMalformed,
			"proxy_requests":       st.Names.ProxyRequests,
			"proxy_not_requests":   st.Names.ProxyNotRequests,
			"proxy_egress":         st.Names.ProxyEgress,
			"proxies_learned":      st.Names.ProxiesLearned,
			"doh_sessions":         st.Names.DoHSessions,
			"doh_hosts":            st.Names.DoHHosts,
			"router_adverts":       st.Names.RouterAdverts,
			"router_advert_errors": st.Names.RouterAdvertErrors,
			"prefixes_learned":     st.Names.PrefixesLearned,
			"prefixes_ignored":     st.Names.PrefixesIgnored,
			"prefixes_refused":     st.Names.PrefixesRefused,
			"prefixes_from_macs":   st.Names.PrefixesFromMACs,
			"prefixes_warned":      st.Names.ExternalHostWarns,
			"proxies_refused":      st.Names.ProxiesRefused,
			"pairs_renamed":        st.Beacon.Rekeyed,
		},
		Identity: map[string]uint64{
			"lookups_by_mac":     st.Identity.ByMAC,
			"lookups_by_address": st.Identity.ByAddr,
			"bindings":           uint64(st.Identity.Bindings),
			"macs":               uint64(st.Identity.MACs),
			"moved":              st.Identity.Moved,
			"released":           st.Identity.Released,
			"joins":              st.Identity.Joins,
			"joins_refused":      st.Identity.JoinsRefused,
			"joins_generic":      st.Identity.JoinsGeneric,
			"joins_shared":       st.Identity.JoinsShared,
			"routers":            st.Identity.Routers,
			"conflicts":          st.Identity.Conflicts,
			"dhcp_mismatch":      st.Identity.DHCPMismatch,
			"joined":             uint64(st.Identity.Joined),
			"dhcp_errors":        st.Identity.DHCPErrors,
			"ndp_errors":         st.Identity.NDPErrors,
			"mdns_errors":        st.Identity.MDNSErrors,
			"restored_joins":     st.Identity.RestoredJoins,
			"restored_bindings":  st.Identity.RestoredBindings,
			"restore_refused":    st.Identity.RestoreRefused,
			"restore_aged":       st.Identity.RestoreAged,
		},
		IdentityBy: identityBy(st.Identity.ByMAC, st.Identity.ByAddr),
		DoHHosts:   s.pipe.DoHHosts(), // the workers have stopped
		Proxies:    s.pipe.Proxies(),
		Enrichment: c.EnrichmentStatus(),
		Workers:    st.Workers,
		ElapsedS:   st.Elapsed.Seconds(),
		EvictionsByClass: map[string]uint64{
			"sessions_probation": st.Flow.EvictionsProbation,
			"sessions_protected": st.Flow.EvictionsProtected,
			"pairs_probation":    st.Beacon.EvictionsProbation,
			"pairs_protected":    st.Beacon.EvictionsProtected,
		},
	}
	if s.stage.Fleet.MinHosts > 0 {
		sum.Fleet = map[string]uint64{"groups": f.Groups, "joined": f.Joined, "updates": f.Updates,
			"raised": f.Raised, "member_alerts": f.MemberAlerts, "destinations": f.Dests}
	}
	for _, l := range s.pipe.LearnedPrefixes() {
		sum.LearnedInternal = append(sum.LearnedInternal, l.Prefix.String())
		lp := learnedPrefix{Prefix: l.Prefix.String(), Source: l.Source}
		if l.First != 0 {
			lp.First = time.Unix(0, l.First).UTC()
		}
		sum.LearnedPrefixes = append(sum.LearnedPrefixes, lp)
	}
	sum.DNS["fast_responses"] = st.DNS.FastResponses      // read in place; also in responses
	sum.DNS["name_cache_misses"] = st.DNS.NameCacheMisses // question names unpacked (not in the cache of recent ones)
	for k, v := range st.Decapsulated {
		if decode.Tunnel(k) != decode.TunnelNone && v > 0 {
			if sum.Decapsulated == nil {
				sum.Decapsulated = map[string]uint64{}
			}
			sum.Decapsulated[decode.Tunnel(k).String()] = v
		}
	}
	for k, v := range st.Decode {
		if decode.ErrKind(k) != decode.OK && v > 0 {
			sum.DecodeErrors[decode.ErrKind(k).String()] = v
		}
	}
	if s.syslog != nil {
		sum.Syslog = map[string]map[string]uint64{}
		for _, d := range s.syslog.Counters().Destinations {
			sum.Syslog[d.URL] = map[string]uint64{"queued": d.Queued, "sent": d.Sent, "delivered": d.Delivered,
				"retried": d.Retried, "dropped": d.Dropped, "spooled": d.Spooled, "depth": d.Depth}
		}
	}
	for _, w := range warns {
		sum.Warnings = append(sum.Warnings, w.Error())
	}
	if st.Elapsed > 0 {
		sum.PacketsPerSec = float64(st.Frames) / st.Elapsed.Seconds()
	}
	if cpu := processCPU(); cpu > 0 {
		sum.CPUS = cpu.Seconds()
		sum.PacketsPerCPUSec = float64(st.Frames) / cpu.Seconds()
	}
	return sum
}

// identityBy says how hosts were keyed: by MAC when nearly every owned
// packet resolved to one, by address when none did.
func identityBy(byMAC, byAddr uint64) string {
	switch {
	case byMAC == 0:
		return "address"
	case byAddr <= byMAC/20:
		return "mac"
	}
	return "mixed"
}

func (s *summary) print(w io.Writer) {
	fmt.Fprintf(w, "launchtap: %d packets (%s) in %s, %.0f packets/s, %d workers, %.0f packets per CPU-second\n",
		s.Packets, humanBytes(s.Bytes), (time.Duration(s.ElapsedS * float64(time.Second))).Round(time.Millisecond), s.PacketsPerSec, s.Workers, s.PacketsPerCPUSec)
	fmt.Fprintf(w, "  decode: %d with TCP/UDP; %s", s.Decoded, kv(s.DecodeErrors))
	if len(s.Decapsulated) > 0 {
		fmt.Fprintf(w, "; decapsulated: %s", kv(s.Decapsulated))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  sessions: %s; dns: %s\n", kv(s.Sessions), kv(s.DNS))
	fmt.Fprintf(w, "  hosts: %s\n", kv(s.Hosts))
	fmt.Fprintf(w, "  beats: %s\n", kv(s.Beats))
	fmt.Fprintf(w, "  identity by %s: %s\n", s.IdentityBy, kv(s.Identity))
	if s.IdentityBy == "address" && s.Packets > 0 {
		fmt.Fprintln(w, "  identity: no end host's MAC was seen (a span beyond the first hop, or no Ethernet): hosts are keyed by their addresses, and a host that changes address is a new host")
	}
	if len(s.Kernel) > 0 {
		fmt.Fprintf(w, "  kernel: %s\n", kv(s.Kernel))
	}
	fmt.Fprintf(w, "  names: %s\n", kv(s.Names))
	if len(s.DoHHosts) > 0 {
		fmt.Fprintf(w, "  encrypted DNS (lookups invisible to the span): %d hosts:", len(s.DoHHosts))
		for i, h := range s.DoHHosts {
			if i == 20 {
				fmt.Fprintf(w, " … (%d more in --summary)", len(s.DoHHosts)-i)
				break
			}
			fmt.Fprintf(w, " %s (%s)", h.Addr, h.Provider)
		}
		fmt.Fprintln(w)
	}
	if len(s.LearnedPrefixes) > 0 {
		fmt.Fprint(w, "  learned internal:")
		for i, l := range s.LearnedPrefixes {
			sep := ","
			if i == 0 {
				sep = ""
			}
			if l.Source != "" {
				fmt.Fprintf(w, "%s %s (%s)", sep, l.Prefix, l.Source)
			} else {
				fmt.Fprintf(w, "%s %s", sep, l.Prefix)
			}
		}
		fmt.Fprintln(w)
	}
	if len(s.Proxies) > 0 {
		fmt.Fprint(w, "  proxies:")
		for _, p := range s.Proxies {
			how := "configured"
			if p.Learned {
				how = "recognised from CONNECT by " + p.Client.String()
			}
			fmt.Fprintf(w, " %s (%s)", p.Addr, how)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  pairs tracked: %d; evictions: %s; by class: %s\n", s.PairsTracked, kv(s.Evictions), kv(s.EvictionsByClass))
	fmt.Fprintf(w, "  alerts: %d (findings %d; suppressed: %s)", s.Alerts, s.Findings, kv(s.Suppressed))
	if len(s.Enrichment) > 0 {
		fmt.Fprintf(w, "; enrichment: %s", kv(s.Enrichment))
	}
	if s.Masquerades > 0 {
		fmt.Fprintf(w, "; masquerades: %d", s.Masquerades)
	}
	if s.Fleet["groups"] > 0 || s.Fleet["member_alerts"] > 0 {
		fmt.Fprintf(w, "; fleet: %s", kv(s.Fleet))
	}
	fmt.Fprintln(w)
	for url, c := range s.Syslog {
		fmt.Fprintf(w, "  syslog %s: %s\n", url, kv(c))
	}
}

// summarize prints sum, a command's end-of-run summary, to w and, with a
// --summary path, writes it there as one JSON object; false when that
// fails, which it reports.
func (a *app) summarize(cmd *cobra.Command, sum interface{ print(io.Writer) }, w io.Writer, path string) bool {
	sum.print(w)
	if path == "" {
		return true
	}
	if err := writeSummaryJSON(path, sum); err != nil {
		a.fail(cmd, err, exitFailure)
		return false
	}
	return true
}

func writeSummaryJSON(path string, sum any) error {
	b, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	return nil
}

func kv(m map[string]uint64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := ""
	for i, k := range keys {
		if i > 0 {
			out += " "
		}
		out += fmt.Sprintf("%s=%d", k, m[k])
	}
	return out
}

func humanBytes(b uint64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	div, exp := uint64(unit), 0
	for n := b / unit; n >= unit; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(b)/float64(div), "KMGTPE"[exp])
}

// processCPU is the user+system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// learnedPrefix is a learned internal prefix in the summary.
type learnedPrefix struct {
	Prefix string    `json:"prefix"`
	Source string    `json:"source,omitempty"` // "ra" or "mac"; empty when restored from a state that did not record it
	First  time.Time `json:"first,omitzero"`
}
