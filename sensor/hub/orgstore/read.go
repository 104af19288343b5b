package orgstore

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/state"
)

// Read bounds: the report of an organisation reads at most this many rows
// of the largest tables, the newest first.
const (
	maxReadFindings = 1 << 20
	maxReadDoHHosts = 1 << 16
)

// Evidence reads the organisation's evidence from since (capture time,
// Unix ns; 0: all): every sensor's rows with their sensor named, the
// coverage hours summed over the sensors (an hour is observed when any
// sensor saw packets in it) and each sensor's own hours in Sensors.
func (s *Store) Evidence(ctx context.Context, since int64) (*state.Evidence, error) {
	return s.EvidenceOf(ctx, since, nil)
}

// EvidenceOf is Evidence of the named sensors only (nil: all).
func (s *Store) EvidenceOf(ctx context.Context, since int64, sensors []string) (*state.Evidence, error) {
	wrap := func(what string, err error) error {
		return fmt.Errorf("orgstore: %s: reading %s: %w", s.url, what, err)
	}
	clock, err := s.ClockOf(ctx, sensors)
	if err != nil {
		return nil, err
	}
	ev := &state.Evidence{Clock: clock, Size: s.Size(ctx), Path: s.url}
	sinceHour := since / int64(time.Second) / 3600 * 3600

	// Each sensor's hours, and the organisation's sums.
	rows, err := s.pool.Query(ctx, `SELECT sensor, hour, packets, bytes, drops, sessions, one_sided, named_dns, named_mac, named_wire, unnamed, dns_queries, evictions
		FROM coverage WHERE hour >= $1 AND ($2::text[] IS NULL OR sensor = ANY($2)) ORDER BY sensor, hour`, sinceHour, sensors)
	if err != nil {
		return nil, wrap("coverage", err)
	}
	sum := map[int64]*state.Hour{}
	for rows.Next() {
		var sensor string
		var h state.Hour
		var c [11]int64
		if err := rows.Scan(&sensor, &h.Start, &c[0], &c[1], &c[2], &c[3], &c[4], &c[5], &c[6], &c[7], &c[8], &c[9], &c[10]); err != nil {
			rows.Close()
			return nil, wrap("coverage", err)
		}
		for i, p := range []*uint64{&h.Packets, &h.Bytes, &h.Drops, &h.Sessions, &h.OneSided, &h.NamedDNS, &h.NamedMAC, &h.NamedWire, &h.Unnamed, &h.DNSQueries, &h.Evictions} {
			*p = uint64(max(c[i], 0))
		}
		if n := len(ev.Sensors); n == 0 || ev.Sensors[n-1].Sensor != sensor {
			ev.Sensors = append(ev.Sensors, state.SensorCoverage{Sensor: sensor})
		}
		sc := &ev.Sensors[len(ev.Sensors)-1]
		sc.Hours = append(sc.Hours, h)
		t := sum[h.Start]
		if t == nil {
			t = &state.Hour{Start: h.Start}
			sum[h.Start] = t
		}
		t.Packets += h.Packets
		t.Bytes += h.Bytes
		t.Drops += h.Drops
		t.Sessions += h.Sessions
		t.OneSided += h.OneSided
		t.NamedDNS += h.NamedDNS
		t.NamedMAC += h.NamedMAC
		t.NamedWire += h.NamedWire
		t.Unnamed += h.Unnamed
		t.DNSQueries += h.DNSQueries
		t.Evictions += h.Evictions
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, wrap("coverage", err)
	}
	for _, h := range sum {
		ev.Hours = append(ev.Hours, *h)
	}
	slices.SortFunc(ev.Hours, func(a, b state.Hour) int { return cmp.Compare(a.Start, b.Start) })
	if err := s.sensorMeta(ctx, ev, sensors); err != nil {
		return nil, err
	}

	rows, err = s.pool.Query(ctx, `SELECT sensor, ip, hour, sessions, named FROM host_hours WHERE hour >= $1
		AND ($2::text[] IS NULL OR sensor = ANY($2)) ORDER BY sensor, ip, hour`, sinceHour, sensors)
	if err != nil {
		return nil, wrap("host hours", err)
	}
	for rows.Next() {
		var h state.HostHour
		var n, named int64
		if err := rows.Scan(&h.Sensor, &h.IP, &h.Start, &n, &named); err != nil {
			rows.Close()
			return nil, wrap("host hours", err)
		}
		h.Sessions, h.Named = uint64(max(n, 0)), uint64(max(named, 0))
		ev.HostHours = append(ev.HostHours, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, wrap("host hours", err)
	}

	rows, err = s.pool.Query(ctx, `SELECT sensor, ip, mac, hostname, os, confidence, evidence, first_ns, last_ns FROM hosts WHERE last_ns >= $1
		AND ($2::text[] IS NULL OR sensor = ANY($2)) ORDER BY sensor, ip`, since, sensors)
	if err != nil {
		return nil, wrap("hosts", err)
	}
	for rows.Next() {
		var h state.Host
		var evj string
		if err := rows.Scan(&h.Sensor, &h.IP, &h.MAC, &h.Hostname, &h.OS, &h.Confidence, &evj, &h.First, &h.Last); err != nil {
			rows.Close()
			return nil, wrap("hosts", err)
		}
		json.Unmarshal([]byte(evj), &h.Evidence) // evidence is a nicety: a bad row keeps the verdict
		ev.Hosts = append(ev.Hosts, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, wrap("hosts", err)
	}

	rows, err = s.pool.Query(ctx, `SELECT sensor, fate, rule, label, alert, beat_times FROM findings WHERE last_ns >= $1
		AND ($3::text[] IS NULL OR sensor = ANY($3)) ORDER BY last_ns DESC, sensor, id LIMIT $2`, since, maxReadFindings, sensors)
	if err != nil {
		return nil, wrap("findings", err)
	}
	for rows.Next() {
		var f state.Finding
		var fate, aj, bj string
		if err := rows.Scan(&f.Sensor, &fate, &f.Rule, &f.Label, &aj, &bj); err != nil {
			rows.Close()
			return nil, wrap("findings", err)
		}
		f.Fate = state.Fate(fate)
		f.Alert = &alert.Alert{}
		if err := json.Unmarshal([]byte(aj), f.Alert); err != nil {
			ev.Unreadable++ // a row this version cannot read is left out, not fatal
			continue
		}
		var bt []int64
		json.Unmarshal([]byte(bj), &bt)
		for _, t := range bt {
			f.Alert.BeatTimes = append(f.Alert.BeatTimes, time.Unix(0, t).UTC())
		}
		ev.Findings = append(ev.Findings, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, wrap("findings", err)
	}

	rows, err = s.pool.Query(ctx, `SELECT sensor, version, clock_start, clock_end, wall_start, wall_end FROM runs WHERE clock_end >= $1
		AND ($2::text[] IS NULL OR sensor = ANY($2)) ORDER BY clock_start, sensor`, since, sensors)
	if err != nil {
		return nil, wrap("runs", err)
	}
	for rows.Next() {
		var r state.Run
		if err := rows.Scan(&r.Sensor, &r.Version, &r.Start, &r.End, &r.WallStart, &r.WallEnd); err != nil {
			rows.Close()
			return nil, wrap("runs", err)
		}
		ev.Runs = append(ev.Runs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, wrap("runs", err)
	}
	for i := range ev.Sensors {
		for _, r := range ev.Runs {
			if r.Sensor == ev.Sensors[i].Sensor {
				ev.Sensors[i].Version = r.Version // the newest: runs come oldest first
			}
		}
	}

	// The learned prefixes of all sensors, one row per prefix: first learned
	// by any, last held by any.
	rows, err = s.pool.Query(ctx, `SELECT prefix, min(first_ns), max(seen_ns) FROM learned_networks WHERE seen_ns >= $1
		AND ($2::text[] IS NULL OR sensor = ANY($2)) GROUP BY prefix ORDER BY max(seen_ns) DESC, min(first_ns) LIMIT 1024`, since, sensors)
	if err != nil {
		return nil, wrap("learned networks", err)
	}
	for rows.Next() {
		var txt string
		var l state.LearnedNetwork
		if err := rows.Scan(&txt, &l.First, &l.Seen); err != nil {
			rows.Close()
			return nil, wrap("learned networks", err)
		}
		if l.Prefix, err = netip.ParsePrefix(txt); err != nil {
			ev.Unreadable++
			continue
		}
		ev.Learned = append(ev.Learned, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, wrap("learned networks", err)
	}

	rows, err = s.pool.Query(ctx, `SELECT sensor, ip, providers, sessions, first_ns, last_ns FROM doh_hosts WHERE last_ns >= $1
		AND ($3::text[] IS NULL OR sensor = ANY($3)) ORDER BY sensor, ip LIMIT $2`, since, maxReadDoHHosts, sensors)
	if err != nil {
		return nil, wrap("DoH hosts", err)
	}
	for rows.Next() {
		var ip, pj string
		var n int64
		var h state.DoHHost
		if err := rows.Scan(&h.Sensor, &ip, &pj, &n, &h.First, &h.Last); err != nil {
			rows.Close()
			return nil, wrap("DoH hosts", err)
		}
		h.Sessions = uint64(max(n, 0))
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
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM pairs WHERE $1::text[] IS NULL OR sensor = ANY($1)", sensors).Scan(&ev.Pairs); err != nil {
		return nil, wrap("pairs", err)
	}
	return ev, nil
}

// sensorMeta reads each sensor's newest clock, and the baseline rules and
// internal networks of all: the union, since the report judges the
// organisation's baseline against every sensor's findings.
func (s *Store) sensorMeta(ctx context.Context, ev *state.Evidence, sensors []string) error {
	rows, err := s.pool.Query(ctx, `SELECT sensor, key, value FROM meta WHERE key IN ('clock', 'rules', 'internal')
		AND ($1::text[] IS NULL OR sensor = ANY($1)) ORDER BY sensor, key`, sensors)
	if err != nil {
		return fmt.Errorf("orgstore: %s: reading meta: %w", s.url, err)
	}
	defer rows.Close()
	var dest, label, internal []string
	rules := false
	clocks := map[string]int64{}
	for rows.Next() {
		var sensor, key, value string
		if err := rows.Scan(&sensor, &key, &value); err != nil {
			return fmt.Errorf("orgstore: %s: reading meta: %w", s.url, err)
		}
		switch key {
		case "clock":
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				ev.Unreadable++
				continue
			}
			clocks[sensor] = n
		case "rules":
			var r state.Rules
			if json.Unmarshal([]byte(value), &r) != nil {
				ev.Unreadable++
				continue
			}
			rules = true
			dest, label = append(dest, r.Destinations...), append(label, r.Labels...)
		case "internal":
			var l []string
			if json.Unmarshal([]byte(value), &l) != nil {
				ev.Unreadable++
				continue
			}
			internal = append(internal, l...)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("orgstore: %s: reading meta: %w", s.url, err)
	}
	union := func(l []string) []string {
		slices.Sort(l)
		return slices.Compact(l)
	}
	if rules {
		ev.Rules = &state.Rules{Destinations: union(dest), Labels: union(label)}
	}
	if internal != nil {
		ev.Internal = union(internal)
	}
	// A sensor with no hour in the window is listed still: a sensor down
	// all window is what the report must show.
	for sensor := range clocks {
		if !slices.ContainsFunc(ev.Sensors, func(c state.SensorCoverage) bool { return c.Sensor == sensor }) {
			ev.Sensors = append(ev.Sensors, state.SensorCoverage{Sensor: sensor})
		}
	}
	slices.SortFunc(ev.Sensors, func(a, b state.SensorCoverage) int { return cmp.Compare(a.Sensor, b.Sensor) })
	for i := range ev.Sensors {
		ev.Sensors[i].Clock = clocks[ev.Sensors[i].Sensor]
	}
	return nil
}
