package orgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/launchtap/launchtap/sensor/state"
)

// maxIDLen bounds a checkpoint id (a NATS message id is far shorter).
const maxIDLen = 256

// Checkpoint writes one sensor's checkpoint (c.Sensor says whose) and the
// alert fates its Ledger recorded since, in one transaction. On error
// nothing of it is written and the fates stay pending.
func (s *Store) Checkpoint(ctx context.Context, c *state.Checkpoint) error {
	_, err := s.CheckpointOnce(ctx, "", c)
	return err
}

// CheckpointOnce is Checkpoint for a checkpoint with an id (the message id
// it came in): an id applied before for that sensor is skipped, and
// applied reports false. An empty id is always applied.
func (s *Store) CheckpointOnce(ctx context.Context, id string, c *state.Checkpoint) (applied bool, err error) {
	if s.opt.ReadOnly {
		return false, ErrReadOnly
	}
	sensor := clean(c.Sensor)
	if sensor == "" || len(id) > maxIDLen {
		s.count(func(st *Stats) { st.Rejected++ })
		if sensor == "" {
			return false, ErrNoSensor
		}
		return false, fmt.Errorf("orgstore: checkpoint id of %d bytes (at most %d)", len(id), maxIDLen)
	}
	l := s.ledger(sensor)
	fates := l.take()
	applied, err = s.write(ctx, id, sensor, c, fates)
	if err != nil || !applied {
		l.putBack(fates)
	}
	if err != nil {
		s.count(func(st *Stats) { st.Errors++ })
		return false, fmt.Errorf("orgstore: %s: checkpoint of sensor %q: %w", s.url, sensor, err)
	}
	if !applied {
		s.count(func(st *Stats) { st.Duplicates++ })
		return false, nil
	}
	s.count(func(st *Stats) { st.Checkpoints++; st.Findings += uint64(len(fates) + len(c.Findings)) })
	s.maybeBound(ctx)
	return true, nil
}

// Findings writes alert fates judged elsewhere (a sensor's local alerts,
// as the hub receives them) at once. Each is the sensor's of f.Sensor, else
// of its alert's Sensor; one that names none is refused.
func (s *Store) Findings(ctx context.Context, fs []state.Finding) error {
	if s.opt.ReadOnly {
		return ErrReadOnly
	}
	by := map[string][]state.Finding{}
	for _, f := range fs {
		if f.Alert == nil {
			continue
		}
		sensor := clean(cmpOr(f.Sensor, f.Alert.Sensor))
		if sensor == "" {
			s.count(func(st *Stats) { st.Rejected++ })
			return fmt.Errorf("orgstore: finding %s: %w", f.Alert.ID, ErrNoSensor)
		}
		by[sensor] = append(by[sensor], f)
	}
	for sensor, list := range by {
		tx, err := s.pool.Begin(ctx)
		if err != nil {
			return fmt.Errorf("orgstore: %s: %w", s.url, err)
		}
		b := &pgx.Batch{}
		if err := queueFindings(b, sensor, list, 0); err != nil {
			tx.Rollback(ctx)
			return err
		}
		err = tx.SendBatch(ctx, b).Close()
		if err == nil {
			err = tx.Commit(ctx)
		}
		if err != nil {
			tx.Rollback(ctx)
			s.count(func(st *Stats) { st.Errors++ })
			return fmt.Errorf("orgstore: %s: findings of sensor %q: %w", s.url, sensor, err)
		}
		s.count(func(st *Stats) { st.Findings += uint64(len(list)) })
	}
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (s *Store) count(fn func(*Stats)) {
	s.mu.Lock()
	fn(&s.stats)
	s.mu.Unlock()
}

// clean makes text from a checkpoint storable: PostgreSQL's text refuses
// NUL bytes and invalid UTF-8, and one bad hostname must not make a whole
// checkpoint fail again on every retry.
func clean(s string) string {
	if strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

func (s *Store) write(ctx context.Context, id, sensor string, c *state.Checkpoint, fates []state.Finding) (bool, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(ctx)
	// One sensor's checkpoints one at a time, whichever hub process holds
	// them: coverage adds up and a run is continued, not started twice.
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2))", int32(schemaLock), sensor); err != nil {
		return false, err
	}
	if id != "" {
		tag, err := tx.Exec(ctx, "INSERT INTO applied(sensor, id, at_ns) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
			sensor, clean(id), time.Now().UnixNano())
		if err != nil {
			return false, err
		}
		if tag.RowsAffected() == 0 {
			return false, nil
		}
	}
	if err := s.writeRun(ctx, tx, sensor, c); err != nil {
		return false, fmt.Errorf("run: %w", err)
	}
	b := &pgx.Batch{}
	s.queuePairs(b, sensor, c)
	// The fates the hub's own ledger recorded for this name, and those the
	// sensor's state wrote with this checkpoint.
	if err := queueFindings(b, sensor, slices.Concat(fates, c.Findings), c.Clock); err != nil {
		return false, err
	}
	queueHours(b, sensor, c)
	queueHosts(b, sensor, c)
	if err := queueMeta(b, sensor, c); err != nil {
		return false, err
	}
	s.queueHostStates(b, sensor, c)
	queueDNSAnswers(b, sensor, c)
	if err := queueDoHHosts(ctx, tx, b, sensor, c); err != nil {
		return false, fmt.Errorf("DoH hosts: %w", err)
	}
	s.queueRetention(b, sensor, c.Clock)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return false, err
	}
	return true, tx.Commit(ctx)
}

// writeRun continues the sensor's run the checkpoint belongs to, else
// starts one. A checkpoint that says when its process started belongs to
// that process's run; one that does not continues the sensor's newest run
// if it follows it (same version, packets within RunGap of capture time).
func (s *Store) writeRun(ctx context.Context, tx pgx.Tx, sensor string, c *state.Checkpoint) error {
	if c.Clock == 0 {
		return nil // no packet yet: nothing ran
	}
	now := time.Now().UnixNano()
	first := firstClock(c)
	var runID, end int64
	var version string
	var err error
	if c.Started != 0 {
		err = tx.QueryRow(ctx, "SELECT id, version, clock_end FROM runs WHERE sensor = $1 AND started = $2 ORDER BY id DESC LIMIT 1",
			sensor, c.Started).Scan(&runID, &version, &end)
	} else {
		err = tx.QueryRow(ctx, "SELECT id, version, clock_end FROM runs WHERE sensor = $1 ORDER BY id DESC LIMIT 1", sensor).Scan(&runID, &version, &end)
		if err == nil && (version != clean(c.Version) || first > end+int64(s.opt.RunGap)) {
			err = pgx.ErrNoRows // a new run
		}
	}
	switch {
	case err == nil:
		_, err = tx.Exec(ctx, "UPDATE runs SET wall_end = $1, clock_end = GREATEST(clock_end, $2) WHERE id = $3", now, c.Clock, runID)
		return err
	case !errors.Is(err, pgx.ErrNoRows):
		return err
	}
	_, err = tx.Exec(ctx, "INSERT INTO runs(sensor, version, started, wall_start, wall_end, clock_start, clock_end) VALUES ($1,$2,$3,$4,$4,$5,$6)",
		sensor, clean(c.Version), c.Started, now, first, c.Clock)
	return err
}

// firstClock is the earliest capture time a checkpoint covers.
func firstClock(c *state.Checkpoint) int64 {
	first := c.Clock
	for _, h := range c.Hours {
		if t := h.Start * int64(time.Second); t < first && h.Packets > 0 {
			first = t
		}
	}
	return first
}

// queuePairs queues the pair states; one that does not encode (it fails
// the detector's own checks: a corrupt checkpoint) is skipped and counted,
// so the rest of the checkpoint is not refused on every retry.
func (s *Store) queuePairs(b *pgx.Batch, sensor string, c *state.Checkpoint) {
	for _, p := range c.Pairs {
		if p == nil {
			continue
		}
		st, err := p.MarshalBinary()
		if err != nil {
			s.count(func(st *Stats) { st.BadRows++ })
			continue
		}
		key := clean(state.PairKeyString(p.Key))
		src, _, _ := strings.Cut(key, " ") // the key starts with the pair's source (address or host id)
		b.Queue(`INSERT INTO pairs(sensor, key, src, last_ns, state) VALUES ($1,$2,$3,$4,$5)
			ON CONFLICT (sensor, key) DO UPDATE SET src = excluded.src, last_ns = excluded.last_ns, state = excluded.state`,
			sensor, key, src, p.Last(), st)
	}
}

func queueFindings(b *pgx.Batch, sensor string, fates []state.Finding, clock int64) error {
	for _, f := range fates {
		a := f.Alert
		if a == nil {
			continue
		}
		js, err := json.Marshal(a)
		if err != nil {
			return fmt.Errorf("finding %s: %w", a.ID, err)
		}
		bt := make([]int64, len(a.BeatTimes))
		for i, t := range a.BeatTimes {
			bt[i] = t.UnixNano()
		}
		bts, _ := json.Marshal(bt)
		dest := a.DstFQDN
		if dest == "" && len(a.DstIPs) > 0 {
			dest = a.DstIPs[len(a.DstIPs)-1]
		}
		rec := a.TS.UnixNano()
		if a.TS.IsZero() || rec <= 0 {
			rec = clock
		}
		b.Queue(`INSERT INTO findings(sensor, id, src, dest, port, proto, kind, fate, rule, label, hostname,
			period_s, beats, first_ns, last_ns, recorded_ns, alert, beat_times) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)
			ON CONFLICT (sensor, id) DO UPDATE SET fate = excluded.fate, rule = excluded.rule, label = excluded.label,
			hostname = excluded.hostname, period_s = excluded.period_s, beats = excluded.beats,
			first_ns = LEAST(findings.first_ns, excluded.first_ns), last_ns = GREATEST(findings.last_ns, excluded.last_ns),
			recorded_ns = excluded.recorded_ns, alert = excluded.alert, beat_times = excluded.beat_times`,
			sensor, clean(a.ID), clean(a.SrcIP), clean(dest), int32(a.DstPort), clean(a.Proto), clean(a.Kind), clean(string(f.Fate)),
			clean(f.Rule), clean(f.Label), clean(a.Hostname), a.PeriodS, int32(a.Beats), a.FirstSeen.UnixNano(), a.LastSeen.UnixNano(),
			rec, clean(string(js)), string(bts))
	}
	return nil
}

func queueHours(b *pgx.Batch, sensor string, c *state.Checkpoint) {
	for _, h := range c.Hours {
		b.Queue(`INSERT INTO coverage(sensor, hour, packets, bytes, drops, sessions, one_sided, named_dns, named_mac, named_wire, unnamed, dns_queries, evictions)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13) ON CONFLICT (sensor, hour) DO UPDATE SET
			packets = coverage.packets + excluded.packets, bytes = coverage.bytes + excluded.bytes, drops = coverage.drops + excluded.drops,
			sessions = coverage.sessions + excluded.sessions, one_sided = coverage.one_sided + excluded.one_sided,
			named_dns = coverage.named_dns + excluded.named_dns, named_mac = coverage.named_mac + excluded.named_mac,
			named_wire = coverage.named_wire + excluded.named_wire, unnamed = coverage.unnamed + excluded.unnamed,
			dns_queries = coverage.dns_queries + excluded.dns_queries, evictions = coverage.evictions + excluded.evictions`,
			sensor, h.Start, i64(h.Packets), i64(h.Bytes), i64(h.Drops), i64(h.Sessions), i64(h.OneSided),
			i64(h.NamedDNS), i64(h.NamedMAC), i64(h.NamedWire), i64(h.Unnamed), i64(h.DNSQueries), i64(h.Evictions))
	}
	for _, h := range c.HostHours {
		if h.IP == "" {
			continue
		}
		b.Queue(`INSERT INTO host_hours(sensor, ip, hour, sessions, named) VALUES ($1,$2,$3,$4,$5)
			ON CONFLICT (sensor, ip, hour) DO UPDATE SET sessions = host_hours.sessions + excluded.sessions, named = host_hours.named + excluded.named`,
			sensor, clean(h.IP), h.Start, i64(h.Sessions), i64(h.Named))
	}
}

// i64 stores a counter in a BIGINT: a counter beyond 2^63 (a corrupt one)
// is clamped rather than wrapped negative.
func i64(n uint64) int64 { return int64(min(n, 1<<63-1)) }

func queueHosts(b *pgx.Batch, sensor string, c *state.Checkpoint) {
	for _, h := range c.Hosts {
		if h.IP == "" || h.Router {
			continue
		}
		ev, _ := json.Marshal(h.Evidence)
		// A verdict with evidence outranks an unknown one from a run that
		// had not seen the host long enough to tell (as sensor/state).
		b.Queue(`INSERT INTO hosts(sensor, ip, mac, hostname, os, confidence, evidence, first_ns, last_ns) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)
			ON CONFLICT (sensor, ip) DO UPDATE SET
			mac = CASE WHEN excluded.mac <> '' THEN excluded.mac ELSE hosts.mac END,
			hostname = CASE WHEN excluded.hostname <> '' THEN excluded.hostname ELSE hosts.hostname END,
			os = CASE WHEN excluded.os <> 'unknown' OR hosts.os = '' THEN excluded.os ELSE hosts.os END,
			confidence = CASE WHEN excluded.os <> 'unknown' OR hosts.os = '' THEN excluded.confidence ELSE hosts.confidence END,
			evidence = CASE WHEN excluded.os <> 'unknown' OR hosts.os = '' THEN excluded.evidence ELSE hosts.evidence END,
			first_ns = LEAST(hosts.first_ns, excluded.first_ns), last_ns = GREATEST(hosts.last_ns, excluded.last_ns)`,
			sensor, clean(h.IP), clean(h.MAC), clean(h.Hostname), clean(string(h.OS)), h.Confidence, clean(string(ev)),
			h.FirstSeen.UnixNano(), h.LastSeen.UnixNano())
	}
}

func queueMeta(b *pgx.Batch, sensor string, c *state.Checkpoint) error {
	put := func(key, value string) {
		b.Queue("INSERT INTO meta(sensor, key, value) VALUES ($1,$2,$3) ON CONFLICT (sensor, key) DO UPDATE SET value = excluded.value",
			sensor, key, clean(value))
	}
	b.Queue(`INSERT INTO meta(sensor, key, value) VALUES ($1, 'clock', $2) ON CONFLICT (sensor, key)
		DO UPDATE SET value = GREATEST(meta.value::bigint, excluded.value::bigint)::text`, sensor, strconv.FormatInt(c.Clock, 10))
	if c.Rules != nil {
		js, err := json.Marshal(c.Rules)
		if err != nil {
			return err
		}
		put("rules", string(js))
	}
	if c.Internal != nil {
		list := make([]string, len(c.Internal))
		for i, p := range c.Internal {
			list[i] = p.String()
		}
		js, _ := json.Marshal(list)
		put("internal", string(js))
	}
	for _, l := range c.Learned {
		if !l.Prefix.IsValid() {
			continue
		}
		b.Queue(`INSERT INTO learned_networks(sensor, prefix, first_ns, seen_ns) VALUES ($1,$2,$3,$4)
			ON CONFLICT (sensor, prefix) DO UPDATE SET first_ns = LEAST(learned_networks.first_ns, excluded.first_ns),
			seen_ns = GREATEST(learned_networks.seen_ns, excluded.seen_ns)`,
			sensor, l.Prefix.Masked().String(), l.First, max(c.Clock, l.First))
	}
	return nil
}

// queueHostStates queues the host states and bindings; as queuePairs, one
// that does not encode is skipped and counted.
func (s *Store) queueHostStates(b *pgx.Batch, sensor string, c *state.Checkpoint) {
	for _, h := range c.HostStates {
		if h == nil {
			continue
		}
		st, err := h.MarshalBinary()
		if err != nil {
			s.count(func(st *Stats) { st.BadRows++ })
			continue
		}
		b.Queue(`INSERT INTO host_states(sensor, key, last_ns, state) VALUES ($1,$2,$3,$4)
			ON CONFLICT (sensor, key) DO UPDATE SET last_ns = excluded.last_ns, state = excluded.state`,
			sensor, clean(h.Key()), h.Last, st)
	}
	for _, bd := range c.Bindings {
		if !bd.Addr.IsValid() {
			continue
		}
		b.Queue(`INSERT INTO host_bindings(sensor, ip, mac, until_ns, dhcp) VALUES ($1,$2,$3,$4,$5)
			ON CONFLICT (sensor, ip) DO UPDATE SET mac = excluded.mac, until_ns = excluded.until_ns, dhcp = excluded.dhcp`,
			sensor, bd.Addr.String(), net.HardwareAddr(bd.MAC[:]).String(), bd.Until, bd.DHCP)
	}
}

func queueDNSAnswers(b *pgx.Batch, sensor string, c *state.Checkpoint) {
	for _, a := range c.DNSAnswers {
		if !a.Client.IsValid() || !a.Addr.IsValid() {
			continue
		}
		b.Queue(`INSERT INTO dns_answers(sensor, client, addr, name, expires_ns, at_ns) VALUES ($1,$2,$3,$4,$5,$6)
			ON CONFLICT (sensor, client, addr) DO UPDATE SET name = excluded.name, expires_ns = excluded.expires_ns, at_ns = excluded.at_ns
			WHERE excluded.at_ns >= dns_answers.at_ns`,
			sensor, a.Client.String(), a.Addr.String(), clean(a.Name), a.Expires, a.At)
	}
}

// maxProviders bounds the providers kept per DoH host, as sensor/state.
const maxProviders = 16

func queueDoHHosts(ctx context.Context, tx pgx.Tx, b *pgx.Batch, sensor string, c *state.Checkpoint) error {
	if len(c.DoHHosts) == 0 {
		return nil
	}
	ips := make([]string, 0, len(c.DoHHosts))
	for _, h := range c.DoHHosts {
		if h.IP.IsValid() {
			ips = append(ips, h.IP.String())
		}
	}
	// The providers are merged here rather than in SQL: a host that moved
	// from one resolver to another keeps both.
	old := map[string][]string{}
	rows, err := tx.Query(ctx, "SELECT ip, providers FROM doh_hosts WHERE sensor = $1 AND ip = ANY($2)", sensor, ips)
	if err != nil {
		return err
	}
	for rows.Next() {
		var ip, pj string
		if err := rows.Scan(&ip, &pj); err != nil {
			rows.Close()
			return err
		}
		var p []string
		json.Unmarshal([]byte(pj), &p) // a bad value is replaced by the new providers
		old[ip] = p
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, h := range c.DoHHosts {
		if !h.IP.IsValid() {
			continue
		}
		ip := h.IP.String()
		p := slices.Concat(old[ip], h.Providers)
		for i := range p {
			p[i] = clean(p[i])
		}
		p = slices.DeleteFunc(p, func(s string) bool { return s == "" })
		slices.Sort(p)
		p = slices.Compact(p)
		p = p[:min(len(p), maxProviders)]
		old[ip] = p // a host listed twice in one checkpoint merges with itself
		js, _ := json.Marshal(p)
		b.Queue(`INSERT INTO doh_hosts(sensor, ip, providers, sessions, first_ns, last_ns) VALUES ($1,$2,$3,$4,$5,$6)
			ON CONFLICT (sensor, ip) DO UPDATE SET providers = excluded.providers, sessions = doh_hosts.sessions + excluded.sessions,
			first_ns = LEAST(doh_hosts.first_ns, excluded.first_ns), last_ns = GREATEST(doh_hosts.last_ns, excluded.last_ns)`,
			sensor, ip, string(js), i64(h.Sessions), h.First, max(h.First, h.Last))
	}
	return nil
}

// queueRetention deletes the sensor's evidence older than Retain before its
// clock, and what a restart no longer needs (expired bindings and answers).
func (s *Store) queueRetention(b *pgx.Batch, sensor string, clock int64) {
	if clock <= 0 {
		return
	}
	cut := clock - int64(s.opt.Retain)
	hourCut := cut / int64(time.Second)
	for _, q := range []struct {
		sql string
		arg int64
	}{
		{"DELETE FROM pairs WHERE sensor = $1 AND last_ns < $2", cut},
		{"DELETE FROM findings WHERE sensor = $1 AND last_ns < $2", cut},
		{"DELETE FROM coverage WHERE sensor = $1 AND hour < $2", hourCut},
		{"DELETE FROM host_hours WHERE sensor = $1 AND hour < $2", hourCut},
		{"DELETE FROM hosts WHERE sensor = $1 AND last_ns < $2", cut},
		{"DELETE FROM runs WHERE sensor = $1 AND clock_end < $2", cut},
		{"DELETE FROM learned_networks WHERE sensor = $1 AND seen_ns < $2", cut},
		{"DELETE FROM host_states WHERE sensor = $1 AND last_ns < $2", cut},
		{"DELETE FROM host_bindings WHERE sensor = $1 AND until_ns < $2", clock},
		{"DELETE FROM dns_answers WHERE sensor = $1 AND expires_ns < $2", clock},
		{"DELETE FROM doh_hosts WHERE sensor = $1 AND last_ns < $2", cut},
	} {
		b.Queue(q.sql, sensor, q.arg)
	}
}

// bounds are the bounded tables and the column whose smallest values go
// first beyond the bound.
var bounds = []struct{ table, oldest string }{
	{"pairs", "last_ns"},
	{"findings", "last_ns"},
	{"host_hours", "hour"},
	{"hosts", "last_ns"},
	{"host_states", "last_ns"},
	{"host_bindings", "until_ns"},
	{"dns_answers", "at_ns"},
	{"doh_hosts", "last_ns"},
	{"applied", "at_ns"},
}

// maybeBound enforces the row bounds at most once per BoundEvery: the
// planner's row estimate first (free), an exact count only when it may be
// over. Several hub processes may do it at once; a row deleted twice is
// deleted once.
func (s *Store) maybeBound(ctx context.Context) {
	s.mu.Lock()
	if time.Since(s.lastBound) < s.opt.BoundEvery {
		s.mu.Unlock()
		return
	}
	s.lastBound = time.Now()
	s.mu.Unlock()
	if err := s.Bound(ctx); err != nil {
		s.count(func(st *Stats) { st.Errors++ })
	}
}

// Bound deletes the oldest rows of each table beyond its row bound, and
// checkpoint ids older than DedupWindow. Checkpoints call it once per
// BoundEvery; it is exported for a maintenance run.
func (s *Store) Bound(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, "DELETE FROM applied WHERE at_ns < $1", time.Now().Add(-s.opt.DedupWindow).UnixNano()); err != nil {
		return fmt.Errorf("orgstore: %s: bounding applied: %w", s.url, err)
	}
	for _, b := range bounds {
		max := s.opt.MaxRows[b.table]
		var est float64
		if err := s.pool.QueryRow(ctx, "SELECT reltuples FROM pg_class WHERE oid = $1::regclass", b.table).Scan(&est); err != nil {
			return fmt.Errorf("orgstore: %s: bounding %s: %w", s.url, b.table, err)
		}
		if est >= 0 && est < float64(max)*0.9 {
			continue // estimated well under (-1: never analysed, so count)
		}
		var n int64
		if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM "+b.table).Scan(&n); err != nil {
			return fmt.Errorf("orgstore: %s: bounding %s: %w", s.url, b.table, err)
		}
		if n <= max {
			continue
		}
		tag, err := s.pool.Exec(ctx, fmt.Sprintf("DELETE FROM %[1]s WHERE ctid IN (SELECT ctid FROM %[1]s ORDER BY %[2]s LIMIT $1)", b.table, b.oldest), n-max)
		if err != nil {
			return fmt.Errorf("orgstore: %s: bounding %s: %w", s.url, b.table, err)
		}
		s.count(func(st *Stats) { st.Pruned += uint64(tag.RowsAffected()) })
	}
	return nil
}
