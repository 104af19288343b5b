package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"

	"github.com/launchtap/launchtap/enrich"
	"github.com/launchtap/launchtap/sensor/capture"
	"github.com/launchtap/launchtap/sensor/decode"
	"github.com/launchtap/launchtap/sensor/dnstrack"
	"github.com/launchtap/launchtap/sensor/hostid"
)

// runHosts implements `launchtap hosts [flags] CAPTURE...`: it reads the
// captures through one host table and prints every host as a JSON line
// (ip, mac, os, confidence, hostname, evidence, first_seen, last_seen,
// signals). Logs and a one-line summary go to stderr.
func runHosts(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hosts", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: launchtap hosts [flags] CAPTURE...\n\nPrints the passive host table (OS, confidence, hostname, evidence) as JSON Lines, one host per line.\nCAPTURE is a pcap or pcapng file (optionally gzip-compressed), a directory of captures, or - for standard input. Flags:")
		fs.PrintDefaults()
	}
	var cfg hostid.Config
	cfg.RegisterFlags(fs)
	// The inventory says the platform authoritatively, as in replay.
	var ec enrich.Config
	ec.RegisterFlags(fs)
	var (
		internal hostid.PrefixList
		osFilter string
		config   string
	)
	fs.StringVar(&config, "config", "", "YAML `file` setting any of these flags (keys are flag names); command-line flags win")
	fs.Var(&internal, "internal", "comma-separated `CIDRs` whose hosts are listed (default: every source)")
	fs.StringVar(&osFilter, "os", "", "print only hosts of these `families` (comma-separated: macos,ios,windows,linux,other,unknown)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if config != "" {
		if err := applyConfigFile(fs, config); err != nil {
			fmt.Fprintln(stderr, "launchtap hosts:", oneLine(err))
			return exitUsage
		}
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "launchtap hosts: no capture given")
		fs.Usage()
		return exitUsage
	}
	want, err := hostsOSFilter(osFilter)
	if err != nil {
		fmt.Fprintln(stderr, "launchtap hosts:", err)
		return exitUsage
	}
	cfg.Internal = internal
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if err := ec.CheckFlags(); err != nil {
		fmt.Fprintln(stderr, "launchtap hosts:", err)
		return exitUsage
	}
	inv, err := enrich.New(ec, nil, log)
	if err != nil {
		fmt.Fprintln(stderr, "launchtap hosts:", oneLine(err))
		return exitUsage
	}
	defer inv.Close()
	cfg.Platform = platformFunc(inv.Platform)
	table, err := hostid.NewTable(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "launchtap hosts:", err)
		return exitUsage
	}
	// DNS goes through the same tracker as in replay (UDP and TCP, counted
	// when malformed), which hands each query's name to the table.
	names, err := dnstrack.New(dnstrack.DefaultConfig(), hostsQueries{table})
	if err != nil {
		fmt.Fprintln(stderr, "launchtap hosts:", err)
		return exitUsage
	}
	src, err := capture.Options{Logger: log}.Open(fs.Args()...)
	if err != nil {
		fmt.Fprintln(stderr, "launchtap hosts:", strings.ReplaceAll(err.Error(), "\n", "; "))
		return exitUsage
	}
	defer src.Close()

	var (
		dec     decode.Decoder
		f       capture.Frame
		p       decode.Packet
		packets uint64
		code    = exitOK
	)
	for {
		if packets&0xfff == 0 && ctx.Err() != nil {
			log.Warn("interrupted; printing the hosts seen so far")
			break
		}
		err := src.Next(&f)
		if err != nil {
			var trunc *capture.TruncatedError
			switch {
			case errors.Is(err, io.EOF):
			case errors.As(err, &trunc):
				log.Warn("capture truncated: frames before the cut were processed", "err", err.Error())
			default:
				fmt.Fprintln(stderr, "launchtap hosts:", err)
				code = exitFailure
			}
			break
		}
		packets++
		if dec.Decode(&f, &p) != decode.OK {
			continue
		}
		table.Observe(&p)
		if dnstrack.IsDNS(&p) {
			names.Packet(&p)
		}
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
		if want != nil && !want[h.OS] {
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
		"dns_queries", names.Stats().Queries, "dns_malformed", names.Stats().Malformed)
	return code
}

// hostsQueries hands the names hosts look up to the table, as the
// pipeline's workers do in replay.
type hostsQueries struct{ t *hostid.Table }

func (q hostsQueries) DNSQuery(client netip.Addr, mac [6]byte, hasMAC bool, _ netip.Addr, name string, _ uint16, ts int64) {
	q.t.ObserveDNSQuery(client, mac, hasMAC, name, ts)
}

func hostsOSFilter(list string) (map[string]bool, error) {
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	want := map[string]bool{}
	for f := range strings.SplitSeq(list, ",") {
		f = strings.TrimSpace(f)
		switch f {
		case hostid.MacOS, hostid.IOS, hostid.Windows, hostid.Linux, hostid.Other, hostid.Unknown:
			want[f] = true
		default:
			return nil, fmt.Errorf("--os: unknown family %q (want macos, ios, windows, linux, other or unknown)", f)
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
