package state

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/launchtap/launchtap/sensor/alert"
)

// Run is one span of time a sensor process covered, in capture time.
type Run struct {
	Sensor, Version string
	Start, End      int64 // capture time, Unix ns
	WallStart       int64
	WallEnd         int64
}

// Host is a host the sensor saw, with its last OS verdict.
type Host struct {
	IP, MAC, Hostname, OS string
	Confidence            float64
	Evidence              []string
	First, Last           int64  // Unix ns
	Sensor                string // the sensor that saw it: the organisation's store only
}

// SensorCoverage is one sensor's hours and newest checkpoint, in the
// organisation's store.
type SensorCoverage struct {
	Sensor  string
	Version string // of its newest run
	Clock   int64  // newest capture time it checkpointed, Unix ns
	Hours   []Hour
}

// Evidence is everything the report reads for a window.
type Evidence struct {
	Clock     int64 // newest capture time checkpointed
	Hours     []Hour
	HostHours []HostHour
	Hosts     []Host
	Findings  []Finding // newest last-seen first
	Runs      []Run
	Pairs     int              // pair states stored
	Rules     *Rules           // the baseline rules of the latest checkpoint (nil: none recorded)
	Internal  []string         // the configured internal networks of the latest checkpoint (nil: none recorded)
	Learned   []LearnedNetwork // prefixes learned from router advertisements, held in the window
	DoHHosts  []DoHHost        // hosts that used encrypted-DNS resolvers in the window, by address
	// Sensors is each sensor's own coverage, for the organisation's report
	// (sensor/hub/orgstore); nil in a sensor's own state, whose Hours are
	// the one sensor's.
	Sensors []SensorCoverage
	// Unreadable counts rows left out because this version cannot read them.
	Unreadable int
	Size       int64
	Path       string
}

// Evidence reads the evidence from since (capture time, Unix ns; 0: all).
func (s *Store) Evidence(ctx context.Context, since int64) (*Evidence, error) {
	ev := &Evidence{Clock: s.Clock(ctx), Size: s.Size(), Path: s.path}
	wrap := func(what string, err error) error { return fmt.Errorf("state: %s: reading %s: %w", s.path, what, err) }
	sinceHour := since / int64(time.Second) / 3600 * 3600

	rows, err := s.db.QueryContext(ctx, `SELECT hour, packets, bytes, drops, sessions, one_sided, named_dns, named_mac, named_wire, unnamed, dns_queries, evictions
		FROM coverage WHERE hour >= ? ORDER BY hour`, sinceHour)
	if err != nil {
		return nil, wrap("coverage", err)
	}
	for rows.Next() {
		var h Hour
		if err := rows.Scan(&h.Start, &h.Packets, &h.Bytes, &h.Drops, &h.Sessions, &h.OneSided, &h.NamedDNS, &h.NamedMAC, &h.NamedWire, &h.Unnamed, &h.DNSQueries, &h.Evictions); err != nil {
			rows.Close()
			return nil, wrap("coverage", err)
		}
		ev.Hours = append(ev.Hours, h)
	}
	rows.Close()

	rows, err = s.db.QueryContext(ctx, "SELECT ip, hour, sessions, named FROM host_hours WHERE hour >= ? ORDER BY ip, hour", sinceHour)
	if err != nil {
		return nil, wrap("host hours", err)
	}
	for rows.Next() {
		var h HostHour
		if err := rows.Scan(&h.IP, &h.Start, &h.Sessions, &h.Named); err != nil {
			rows.Close()
			return nil, wrap("host hours", err)
		}
		ev.HostHours = append(ev.HostHours, h)
	}
	rows.Close()

	rows, err = s.db.QueryContext(ctx, "SELECT ip, mac, hostname, os, confidence, evidence, first_ns, last_ns FROM hosts WHERE last_ns >= ? ORDER BY ip", since)
	if err != nil {
		return nil, wrap("hosts", err)
	}
	for rows.Next() {
		var h Host
		var evj string
		if err := rows.Scan(&h.IP, &h.MAC, &h.Hostname, &h.OS, &h.Confidence, &evj, &h.First, &h.Last); err != nil {
			rows.Close()
			return nil, wrap("hosts", err)
		}
		json.Unmarshal([]byte(evj), &h.Evidence) // evidence is a nicety: a bad row keeps the verdict
		ev.Hosts = append(ev.Hosts, h)
	}
	rows.Close()

	rows, err = s.db.QueryContext(ctx, "SELECT fate, rule, label, alert, beat_times FROM findings WHERE last_ns >= ? ORDER BY last_ns DESC", since)
	if err != nil {
		return nil, wrap("findings", err)
	}
	for rows.Next() {
		var f Finding
		var fate, aj, bj string
		if err := rows.Scan(&fate, &f.Rule, &f.Label, &aj, &bj); err != nil {
			rows.Close()
			return nil, wrap("findings", err)
		}
		f.Fate = Fate(fate)
		f.Alert = &alert.Alert{}
		if err := json.Unmarshal([]byte(aj), f.Alert); err != nil {
			continue // a row this version cannot read is left out, not fatal
		}
		var bt []int64
		json.Unmarshal([]byte(bj), &bt)
		for _, t := range bt {
			f.Alert.BeatTimes = append(f.Alert.BeatTimes, time.Unix(0, t).UTC())
		}
		ev.Findings = append(ev.Findings, f)
	}
	rows.Close()

	rows, err = s.db.QueryContext(ctx, "SELECT sensor, version, clock_start, clock_end, wall_start, wall_end FROM runs WHERE clock_end >= ? ORDER BY clock_start", since)
	if err != nil {
		return nil, wrap("runs", err)
	}
	for rows.Next() {
		var r Run
		if err := rows.Scan(&r.Sensor, &r.Version, &r.Start, &r.End, &r.WallStart, &r.WallEnd); err != nil {
			rows.Close()
			return nil, wrap("runs", err)
		}
		ev.Runs = append(ev.Runs, r)
	}
	rows.Close()
	if v, ok := s.meta(ctx, "rules"); ok {
		var r Rules
		if json.Unmarshal([]byte(v), &r) == nil {
			ev.Rules = &r
		}
	}
	if v, ok := s.meta(ctx, "internal"); ok {
		json.Unmarshal([]byte(v), &ev.Internal) // a nicety: a bad value leaves the list out
	}
	if ev.Learned, _, err = s.learned(ctx, since, maxLearnedRows); err != nil {
		return nil, err
	}
	rows, err = s.db.QueryContext(ctx, "SELECT ip, providers, sessions, first_ns, last_ns FROM doh_hosts WHERE last_ns >= ? ORDER BY ip LIMIT ?", since, maxDoHHostRows)
	if err != nil {
		return nil, wrap("DoH hosts", err)
	}
	for rows.Next() {
		var ip, pj string
		var h DoHHost
		if err := rows.Scan(&ip, &pj, &h.Sessions, &h.First, &h.Last); err != nil {
			rows.Close()
			return nil, wrap("DoH hosts", err)
		}
		var err1 error
		if h.IP, err1 = netip.ParseAddr(ip); err1 != nil || json.Unmarshal([]byte(pj), &h.Providers) != nil {
			ev.Unreadable++
			continue
		}
		ev.DoHHosts = append(ev.DoHHosts, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, wrap("DoH hosts", err)
	}
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM pairs").Scan(&ev.Pairs); err != nil {
		return nil, wrap("pairs", err)
	}
	return ev, nil
}
