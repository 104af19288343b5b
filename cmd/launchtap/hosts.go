package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/launchtap/launchtap/enrich"
	"github.com/launchtap/launchtap/sensor/capture"
	"github.com/launchtap/launchtap/sensor/decode"
	"github.com/launchtap/launchtap/sensor/dnstrack"
	"github.com/launchtap/launchtap/sensor/hostid"
	"github.com/launchtap/launchtap/sensor/ndp"
	"github.com/launchtap/launchtap/sensor/netset"
	"github.com/launchtap/launchtap/sensor/pipeline"
)

// hostsCmd is `launchtap hosts [flags] CAPTURE...`: it reads the captures
// through one host table and prints every host as a JSON line (ip, mac, os,
// confidence, hostname, evidence, first_seen, last_seen, signals). Logs and
// a one-line summary go to stderr.
func (a *app) hostsCmd() *cobra.Command {
	h := &hostsFlags{}
	cmd := &cobra.Command{
		Use:   "hosts [flags] CAPTURE...",
		Short: "print the passive host table (OS, confidence, evidence) as JSON Lines",
		Long: "Prints the passive host table (OS, confidence, hostname, evidence) as JSON Lines, one host\n" +
			"a line. CAPTURE is a pcap or pcapng file (optionally gzip-compressed), a directory of\n" +
			"captures, or - for standard input.",
		Example: "  launchtap hosts --os macos,ios day.pcap\n" +
			"  launchtap hosts --internal 10.20.0.0/16 --inventory inventory.json captures/",
		Args: cobra.ArbitraryArgs,
		Run: func(cmd *cobra.Command, args []string) {
			a.code = a.runHosts(cmd, h, args)
		},
	}
	fs := cmd.Flags()
	addLogFlags(fs, &h.config, &h.logLevel, &h.logFormat)
	addGoFlags(fs, groupIdentity, h.cfg.RegisterFlags)
	cidrFlags(fs, a.note, "macos")
	// The inventory says the platform authoritatively, as in replay.
	addGoFlags(fs, groupEnrichment, h.ec.RegisterFlags)
	h.internal = newCIDRList("internal", "", a.note)
	fs.Var(h.internal, "internal", "list only hosts in these `CIDRs` (repeatable, comma-separated; default: every source)")
	setGroup(fs, groupCapture, "internal")
	fs.BoolVar(&h.learn, "learn-internal", true, "with --internal, also list hosts in the global IPv6 prefixes router advertisements announce, as replay learns them")
	setGroup(fs, groupCapture, "learn-internal")
	fs.Var(&h.os, "os", "print only hosts of these `families` (repeatable, comma-separated: macos,ios,windows,linux,other,unknown)")
	setGroup(fs, groupOutput, "os")
	return cmd
}

type hostsFlags struct {
	cfg                         hostid.Config
	ec                          enrich.Config
	internal                    *cidrList
	learn                       bool
	os                          stringList
	config, logLevel, logFormat string
}

// runHosts is the hosts command once its flags are parsed.
func (a *app) runHosts(cmd *cobra.Command, h *hostsFlags, args []string) int {
	ctx, stdin, stdout, stderr := cmd.Context(), a.stdin, a.stdout, a.stderr
	if len(args) == 0 {
		return a.usage(cmd, errNoCapture)
	}
	log, err := newLogger(h.logLevel, h.logFormat, stderr)
	if err != nil {
		return a.usage(cmd, err)
	}
	for _, n := range a.notes {
		log.Warn(n)
	}
	want, err := hostsOSFilter(h.os.vals)
	if err != nil {
		return a.usage(cmd, err)
	}
	cfg, ec := h.cfg, h.ec
	cfg.Internal = h.internal.prefixes
	// With --internal, the networks grow by the prefixes router
	// advertisements announce, by replay's rule, so that a Mac on the
	// office's global IPv6 prefix is a host here as it is there.
	var internal *netset.Set
	if len(cfg.Internal) > 0 {
		internal = netset.New(cfg.Internal)
		cfg.InternalSet = internal
	}
	if err := ec.CheckFlags(); err != nil {
		return a.usage(cmd, err)
	}
	warnPlainHTTP(log, ec)
	inv, err := enrich.New(ec, log)
	if err != nil {
		return a.fail(cmd, err, exitUsage)
	}
	defer inv.Close()
	cfg.Platform = platformFunc(inv.Platform)
	table, err := hostid.NewTable(cfg)
	if err != nil {
		return a.usage(cmd, err)
	}
	// DNS goes through the same tracker as in replay (UDP and TCP, counted
	// when malformed), which hands each query's name to the table.
	names, err := dnstrack.New(dnstrack.DefaultConfig(), hostsQueries{table})
	if err != nil {
		return a.fail(cmd, err, exitUsage)
	}
	src, err := capture.Options{Stdin: stdin, Logger: log}.Open(args...)
	if err != nil {
		return a.fail(cmd, err, exitUsage)
	}
	defer src.Close()

	var (
		dec     decode.Decoder
		f       capture.Frame
		p       decode.Packet
		packets uint64
		code    = exitOK
		ra      [8]ndp.Prefix
	)
	// Guard: frames of a mapped file alias it; a file truncated meanwhile
	// ends the read with an error, not the process.
	err = src.Guard(func() error {
		for {
			if packets&0xfff == 0 && ctx.Err() != nil {
				log.Warn("interrupted; printing the hosts seen so far")
				return nil
			}
			if err := src.Next(&f); err != nil {
				return err
			}
			packets++
			if dec.Decode(&f, &p) != decode.OK {
				if internal != nil && h.learn && pipeline.IsRouterAdvert(&p) {
					learnRA(log, internal, &p, ra[:0])
				}
				continue
			}
			table.Observe(&p)
			if dnstrack.IsDNS(&p) {
				names.Packet(&p)
			}
		}
	})
	var trunc *capture.TruncatedError
	switch {
	case err == nil, errors.Is(err, io.EOF):
	case errors.As(err, &trunc):
		log.Warn("capture truncated: frames before the cut were processed", "err", err.Error())
	default:
		code = a.fail(cmd, err, exitFailure)
	}
	for _, w := range src.Warnings() {
		log.Warn("capture truncated: frames before the cut were processed", "err", w.Error())
	}

	hosts := table.Hosts()
	slices.SortFunc(hosts, func(a, b hostid.Host) int {
		return cmp.Or(hostsCompareIP(a.IP, b.IP), strings.Compare(a.MAC, b.MAC))
	})
	out := bufio.NewWriter(stdout)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	printed := 0
	for _, h := range hosts {
		if want != nil && !want[h.OS] || !inPrefixes(h.IP, internal) {
			continue
		}
		if err := enc.Encode(h); err != nil {
			fmt.Fprintln(stderr, "launchtap hosts: writing:", err)
			return exitFailure
		}
		printed++
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintln(stderr, "launchtap hosts: writing:", err)
		return exitFailure
	}
	st := table.Stats()
	log.Info("hosts done", "packets", packets, "hosts", st.Hosts, "printed", printed, "evictions", st.Evictions,
		"syns", st.SYNs, "syns_unmatched", st.SYNUnmatched, "dhcp", st.DHCP, "dhcp_errors", st.DHCPErrors,
		"dhcpv6", st.DHCPv6, "mdns", st.MDNS, "mdns_errors", st.MDNSErrors, "dns_names", st.DNSNames,
		"http_user_agents", st.HTTPUserAgents, "routers", st.Routers, "churn", st.Churn,
		"dns_queries", names.Stats().Queries, "dns_malformed", names.Stats().Malformed, "prefixes_learned", len(learnedOf(internal)))
	return code
}

// hostsQueries hands the names hosts look up to the table, as the
// pipeline's workers do in replay.
type hostsQueries struct{ t *hostid.Table }

func (q hostsQueries) DNSQuery(client netip.Addr, mac [6]byte, hasMAC bool, _ netip.Addr, name string, _ uint16, ts int64) {
	q.t.ObserveDNSQuery(client, mac, hasMAC, name, ts)
}

func hostsOSFilter(list []string) (map[hostid.Platform]bool, error) {
	if len(list) == 0 {
		return nil, nil
	}
	want := map[hostid.Platform]bool{}
	for _, s := range list {
		f := hostid.Platform(strings.TrimSpace(s))
		switch f {
		case hostid.MacOS, hostid.IOS, hostid.Windows, hostid.Linux, hostid.Other, hostid.Unknown:
			want[f] = true
		default:
			return nil, fmt.Errorf("os: unknown family %q (want macos, ios, windows, linux, other or unknown)", f)
		}
	}
	return want, nil
}

func hostsCompareIP(a, b string) int {
	pa, errA := netip.ParseAddr(a)
	pb, errB := netip.ParseAddr(b)
	if errA != nil || errB != nil {
		return strings.Compare(a, b)
	}
	return pa.Compare(pb)
}

// inPrefixes reports whether ip is in the internal networks; every address
// is when there are none. The table already keeps to --internal the hosts it
// learns from a host's own packets; this also drops those learned from
// others' (a DHCP server's offer, an mDNS answer) and hosts known only by MAC.
func inPrefixes(ip string, internal *netset.Set) bool {
	if internal == nil {
		return true
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	return internal.Contains(a.Unmap())
}

// learnRA adds the prefixes of a router advertisement to the internal
// networks, logging each once; a malformed one is skipped.
func learnRA(log *slog.Logger, internal *netset.Set, p *decode.Packet, buf []ndp.Prefix) {
	_, err := pipeline.LearnRouterAdvert(internal, p, buf, func(pf ndp.Prefix) {
		log.Info("learned an internal IPv6 prefix from a router advertisement", "prefix", pf.Prefix, "router", p.Src)
	})
	if err != nil {
		log.Debug("router advertisement skipped", "router", p.Src, "err", err)
	}
}

func learnedOf(internal *netset.Set) []netip.Prefix {
	if internal == nil {
		return nil
	}
	l, _ := internal.Learned()
	return l
}
