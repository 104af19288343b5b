package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/beacon"
	"github.com/launchtap/launchtap/sensor/dnstrack"
	"github.com/launchtap/launchtap/sensor/host"
	"github.com/launchtap/launchtap/sensor/hostid"
)

// Fate says what became of an alert the sensor built.
type Fate string

// Fates recorded.
const (
	Alerted             Fate = "alerted"              // delivered to the sinks
	ApprovedDestination Fate = "approved_destination" // suppressed: the baseline approves the destination
	ApprovedLabel       Fate = "approved_label"       // suppressed: the launchd job the MDM named is approved
)

// Finding is an alert and its fate: the auditor's list of periodic
// communicators, approved or not.
type Finding struct {
	Alert *alert.Alert
	Fate  Fate
	Rule  string // the baseline rule that approved it ("" when delivered)
	Label string // the launchd job the MDM named, best match ("" when none)
	// Sensor is the sensor that judged it: set by the organisation's store
	// (sensor/hub/orgstore), empty in a sensor's own state.
	Sensor string
}

// findingJSON is a Finding as JSON: the alert's beat times are not in the
// alert's own JSON (alert.Alert.BeatTimes), so they travel beside it.
type findingJSON struct {
	Alert     *alert.Alert
	BeatTimes []int64 `json:",omitempty"` // Unix ns
	Fate      Fate
	Rule      string `json:",omitempty"`
	Label     string `json:",omitempty"`
	Sensor    string `json:",omitempty"`
}

// MarshalJSON encodes the finding with its alert's beat times.
func (f Finding) MarshalJSON() ([]byte, error) {
	j := findingJSON{Alert: f.Alert, Fate: f.Fate, Rule: f.Rule, Label: f.Label, Sensor: f.Sensor}
	if f.Alert != nil {
		for _, t := range f.Alert.BeatTimes {
			j.BeatTimes = append(j.BeatTimes, t.UnixNano())
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes what MarshalJSON encodes.
func (f *Finding) UnmarshalJSON(b []byte) error {
	var j findingJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*f = Finding{Alert: j.Alert, Fate: j.Fate, Rule: j.Rule, Label: j.Label, Sensor: j.Sensor}
	if f.Alert != nil {
		f.Alert.BeatTimes = nil
		for _, t := range j.BeatTimes {
			f.Alert.BeatTimes = append(f.Alert.BeatTimes, time.Unix(0, t).UTC())
		}
	}
	return nil
}

// Hour is the coverage counters of one hour of capture time. Checkpoints
// add to the stored hour, so a capture split across runs sums as one.
type Hour struct {
	Start      int64 // Unix seconds, a multiple of 3600
	Packets    uint64
	Bytes      uint64
	Drops      uint64 // packets the kernel dropped (live capture)
	Sessions   uint64 // external session starts
	OneSided   uint64 // sessions that ended with one direction never seen
	NamedDNS   uint64
	NamedMAC   uint64
	NamedWire  uint64 // named from the session's own bytes (SNI, QUIC, HTTP Host, CONNECT)
	Unnamed    uint64
	DNSQueries uint64
	Evictions  uint64
}

// HostHour is one internal host's activity in one hour.
type HostHour struct {
	IP       string
	Start    int64 // Unix seconds of the hour
	Sessions uint64
	Named    uint64
	Sensor   string // the sensor that saw it: the organisation's store only
}

// Checkpoint is what one checkpoint writes; the pending alert fates are
// added by the store.
type Checkpoint struct {
	Clock   int64 // newest capture time the workers had seen, Unix ns
	Sensor  string
	Version string
	// Started is when the sensor process started (wall time, Unix ns): with
	// Sensor it names the run, so the organisation's store
	// (sensor/hub/orgstore) tells a sensor up but blind from one down.
	Started   int64
	Pairs     []*beacon.PairState // pairs beaten since the last checkpoint
	Hours     []Hour
	HostHours []HostHour
	Hosts     []hostid.Host
	// Rules are the baseline rules in force (nil: unchanged), so the report
	// can tell which matched nothing without being given the file.
	Rules *Rules
	// Internal are the configured internal networks (nil: unchanged), and
	// Learned the IPv6 prefixes learned from router advertisements so far:
	// the report's "what counted as internal".
	Internal []netip.Prefix
	Learned  []LearnedNetwork
	// HostStates are the host table's hosts observed since the last
	// checkpoint (each worker's copies of one host merged), and Bindings
	// the unexpired address bindings of those hosts.
	HostStates []*hostid.HostState
	Bindings   []hostid.BindingState
	// DNSAnswers are the live DNS answers read since the last checkpoint
	// (at most a bounded number per worker).
	DNSAnswers []dnstrack.Answer
	// DoHHosts are the hosts that used encrypted-DNS resolvers since the
	// last checkpoint, Sessions counting only the sessions since then.
	DoHHosts []DoHHost
	// Identity is the host binder's state (joins, the bindings they rest
	// on, routers' MACs): nil leaves the stored one as it is. It is the
	// sensor's own, for its restart: the hub joins hosts across sensors by
	// its own rules, so it is not sent there.
	Identity *host.Saved `json:"-"`
	// Findings are set by Store.Checkpoint: the alert fates it wrote, so a
	// checkpoint sent on to the hub (sensor/hub/orgstore) carries them.
	// The store takes its fates from Record, never from here.
	Findings []Finding
}

// DoHHost is a host seen using encrypted-DNS resolvers (DoH, DoT): the span
// cannot see its lookups.
type DoHHost struct {
	IP        netip.Addr
	Providers []string // the resolvers' providers, sorted
	Sessions  uint64   // sessions to them
	First     int64    // capture time, Unix ns
	Last      int64
	Sensor    string // the sensor that saw it: the organisation's store only
}

// LearnedNetwork is an internal IPv6 prefix learned from a router
// advertisement.
type LearnedNetwork struct {
	Prefix netip.Prefix
	First  int64 // capture time it was first learned, Unix ns
	Seen   int64 // newest checkpoint (capture time) whose sensor still held it
}

// maxLearnedRows bounds the learned networks kept: a sensor holds at most 64
// (netset.MaxLearned); a few generations of renumbering fit besides.
const maxLearnedRows = 256

// Rules are a baseline's destination and label rules, as its matchers name them.
type Rules struct {
	Destinations []string `json:"destinations"`
	Labels       []string `json:"labels"`
}

// Info describes the last checkpoint, for the stats line and metrics.
type Info struct {
	At       time.Time     // wall time it committed
	Duration time.Duration // time it took
	Clock    int64         // capture time it covers, Unix ns
	Pairs    int           // pair states written
	Findings int
	Size     int64 // database bytes on disk after it
	Errors   uint64
	Dropped  uint64 // alert fates dropped: more than MaxPending between checkpoints
	Dupes    uint64 // alerts not delivered again: their id was delivered before
}

// Last returns what the last checkpoint did.
func (s *Store) Last() Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.last
	i.Dropped, i.Dupes = s.dropped, s.dupes
	return i
}

// Alerted reports whether an alert with this id was delivered before (in
// this run or an earlier one): the same pair and period, so it is not
// delivered again. A material change of period is a new id.
func (s *Store) Alerted(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.alerted.Contains(id) {
		s.dupes++
		return true
	}
	return false
}

// Record remembers an alert's fate until the next checkpoint writes it.
func (s *Store) Record(a *alert.Alert, fate, rule, label string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if Fate(fate) == Alerted {
		s.alerted.Add(a.ID, struct{}{})
	}
	if len(s.pending) >= s.opt.MaxPending {
		s.pending = s.pending[1:]
		s.dropped++
	}
	s.pending = append(s.pending, Finding{Alert: a, Fate: Fate(fate), Rule: rule, Label: label})
}

func (s *Store) loadAlerted() error {
	rows, err := s.db.Query("SELECT id FROM findings WHERE fate = ? ORDER BY recorded_ns DESC LIMIT 65536", string(Alerted))
	if err != nil {
		return s.unusable(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return s.unusable(err)
		}
		ids = append(ids, id)
	}
	for i := len(ids) - 1; i >= 0; i-- {
		s.alerted.Add(ids[i], struct{}{})
	}
	return rows.Err()
}

// Checkpoint writes c and the alert fates recorded since the last one in
// one transaction, then prunes evidence older than Retain. On error nothing
// of it is written and the fates stay pending for the next try.
func (s *Store) Checkpoint(ctx context.Context, c *Checkpoint) (Info, error) {
	if s.opt.ReadOnly {
		return Info{}, errors.New("state: opened read-only")
	}
	s.ckptMu.Lock()
	defer s.ckptMu.Unlock()
	start := time.Now()
	s.mu.Lock()
	fates := s.pending
	s.pending = nil
	s.mu.Unlock()
	err := s.write(ctx, c, fates)
	info := Info{At: time.Now(), Duration: time.Since(start), Clock: c.Clock, Pairs: len(c.Pairs), Findings: len(fates), Size: s.Size()}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if s.run < 0 {
			s.run = 0 // the run's row was rolled back with the rest
		}
		s.pending = append(fates, s.pending...)
		if over := len(s.pending) - s.opt.MaxPending; over > 0 {
			s.pending = s.pending[over:]
			s.dropped += uint64(over)
		}
		s.last.Errors++
		return s.last, fmt.Errorf("state: %s: checkpoint: %w", s.path, err)
	}
	if s.run < 0 {
		s.run = -s.run
	}
	info.Errors = s.last.Errors
	s.last = info
	c.Findings = fates
	return info, nil
}

func (s *Store) write(ctx context.Context, c *Checkpoint, fates []Finding) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := writePairs(ctx, tx, c.Pairs); err != nil {
		return err
	}
	if err := writeFindings(ctx, tx, fates, c.Clock); err != nil {
		return err
	}
	if err := writeHours(ctx, tx, c.Hours, c.HostHours); err != nil {
		return err
	}
	if err := writeHosts(ctx, tx, c.Hosts); err != nil {
		return err
	}
	if err := s.writeRun(ctx, tx, c); err != nil {
		return err
	}
	if err := writeLearned(ctx, tx, c); err != nil {
		return err
	}
	if err := writeHostStates(ctx, tx, c); err != nil {
		return err
	}
	if err := writeDNSAnswers(ctx, tx, c.DNSAnswers); err != nil {
		return err
	}
	if err := writeDoHHosts(ctx, tx, c.DoHHosts); err != nil {
		return err
	}
	if err := writeIdentity(ctx, tx, c.Identity); err != nil {
		return err
	}
	rows := s.rows
	for i, n := range []int{len(c.Pairs), len(fates), len(c.HostHours), len(c.Hosts), len(c.HostStates), len(c.Bindings), len(c.DNSAnswers), len(c.DoHHosts)} {
		rows[i] += int64(n)
	}
	if err := s.prune(ctx, tx, c.Clock, &rows); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO meta(key, value) VALUES ('clock', ?) ON CONFLICT(key) DO UPDATE SET value = max(CAST(value AS INTEGER), excluded.value)",
		strconv.FormatInt(c.Clock, 10)); err != nil {
		return err
	}
	if c.Rules != nil {
		js, err := json.Marshal(c.Rules)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO meta(key, value) VALUES ('rules', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", string(js)); err != nil {
			return err
		}
	}
	if s.testHook != nil {
		s.testHook()
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.rows = rows // only checkpoints, one at a time, touch it
	return nil
}

func writeLearned(ctx context.Context, tx *sql.Tx, c *Checkpoint) error {
	if c.Internal != nil {
		list := make([]string, len(c.Internal))
		for i, p := range c.Internal {
			list[i] = p.String()
		}
		js, err := json.Marshal(list)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO meta(key, value) VALUES ('internal', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", string(js)); err != nil {
			return err
		}
	}
	if len(c.Learned) == 0 {
		return nil
	}
	st, err := tx.PrepareContext(ctx, `INSERT INTO learned_networks(prefix, first_ns, seen_ns) VALUES (?, ?, ?)
		ON CONFLICT(prefix) DO UPDATE SET first_ns = min(first_ns, excluded.first_ns), seen_ns = max(seen_ns, excluded.seen_ns)`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, l := range c.Learned {
		if !l.Prefix.IsValid() {
			continue
		}
		if _, err := st.ExecContext(ctx, l.Prefix.Masked().String(), l.First, max(c.Clock, l.First)); err != nil {
			return err
		}
	}
	_, err = tx.ExecContext(ctx, "DELETE FROM learned_networks WHERE prefix IN (SELECT prefix FROM learned_networks ORDER BY seen_ns DESC LIMIT -1 OFFSET ?)", maxLearnedRows)
	return err
}

// LearnedNetworks returns at most max learned networks, those most recently
// held first. A row that does not parse is skipped and counted.
func (s *Store) LearnedNetworks(ctx context.Context, max int) (out []LearnedNetwork, bad int, err error) {
	return s.learned(ctx, 0, max)
}

func (s *Store) learned(ctx context.Context, since int64, max int) (out []LearnedNetwork, bad int, err error) {
	rows, err := s.db.QueryContext(ctx, "SELECT prefix, first_ns, seen_ns FROM learned_networks WHERE seen_ns >= ? ORDER BY seen_ns DESC, first_ns LIMIT ?", since, max)
	if err != nil {
		return nil, 0, fmt.Errorf("state: %s: reading learned networks: %w", s.path, err)
	}
	defer rows.Close()
	for rows.Next() {
		var txt string
		var l LearnedNetwork
		if err := rows.Scan(&txt, &l.First, &l.Seen); err != nil {
			return out, bad, fmt.Errorf("state: %s: reading learned networks: %w", s.path, err)
		}
		if l.Prefix, err = netip.ParsePrefix(txt); err != nil {
			bad++
			continue
		}
		out = append(out, l)
	}
	return out, bad, rows.Err()
}

func writeHostStates(ctx context.Context, tx *sql.Tx, c *Checkpoint) error {
	if len(c.HostStates) > 0 {
		st, err := tx.PrepareContext(ctx, `INSERT INTO host_states(key, last_ns, state) VALUES (?, ?, ?)
			ON CONFLICT(key) DO UPDATE SET last_ns = excluded.last_ns, state = excluded.state`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, h := range c.HostStates {
			b, err := h.MarshalBinary()
			if err != nil {
				return fmt.Errorf("host %s: %w", h.Key(), err)
			}
			if _, err := st.ExecContext(ctx, h.Key(), h.Last, b); err != nil {
				return err
			}
		}
	}
	if len(c.Bindings) > 0 {
		st, err := tx.PrepareContext(ctx, `INSERT INTO host_bindings(ip, mac, until_ns, dhcp) VALUES (?, ?, ?, ?)
			ON CONFLICT(ip) DO UPDATE SET mac = excluded.mac, until_ns = excluded.until_ns, dhcp = excluded.dhcp`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, b := range c.Bindings {
			if _, err := st.ExecContext(ctx, b.Addr.String(), net.HardwareAddr(b.MAC[:]).String(), b.Until, b.DHCP); err != nil {
				return err
			}
		}
	}
	return nil
}

// HostStates calls fn with the most recently observed max host states,
// least recently observed first (so an LRU restored in that order keeps its
// order). A state that does not decode is skipped and counted.
func (s *Store) HostStates(ctx context.Context, max int, fn func(*hostid.HostState)) (bad int, err error) {
	rows, err := s.db.QueryContext(ctx, "SELECT state FROM (SELECT state, last_ns FROM host_states ORDER BY last_ns DESC LIMIT ?) ORDER BY last_ns", max)
	if err != nil {
		return 0, fmt.Errorf("state: %s: reading host states: %w", s.path, err)
	}
	defer rows.Close()
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return bad, fmt.Errorf("state: %s: reading host states: %w", s.path, err)
		}
		var h hostid.HostState
		if err := h.UnmarshalBinary(b); err != nil {
			bad++
			continue
		}
		fn(&h)
	}
	return bad, rows.Err()
}

// Bindings calls fn with the address bindings still valid at the newest
// checkpointed capture time, at most max, those lasting longest last. A row
// that does not parse is skipped and counted.
func (s *Store) Bindings(ctx context.Context, max int, fn func(hostid.BindingState)) (bad int, err error) {
	rows, err := s.db.QueryContext(ctx, "SELECT ip, mac, until_ns, dhcp FROM (SELECT * FROM host_bindings WHERE until_ns >= ? ORDER BY until_ns DESC LIMIT ?) ORDER BY until_ns",
		s.Clock(ctx), max)
	if err != nil {
		return 0, fmt.Errorf("state: %s: reading host bindings: %w", s.path, err)
	}
	defer rows.Close()
	for rows.Next() {
		var ip, mac string
		var b hostid.BindingState
		if err := rows.Scan(&ip, &mac, &b.Until, &b.DHCP); err != nil {
			return bad, fmt.Errorf("state: %s: reading host bindings: %w", s.path, err)
		}
		a, err1 := netip.ParseAddr(ip)
		hw, err2 := net.ParseMAC(mac)
		if err1 != nil || err2 != nil || len(hw) != 6 {
			bad++
			continue
		}
		b.Addr, b.MAC = a, [6]byte(hw)
		fn(b)
	}
	return bad, rows.Err()
}

func writeDNSAnswers(ctx context.Context, tx *sql.Tx, answers []dnstrack.Answer) error {
	if len(answers) == 0 {
		return nil
	}
	st, err := tx.PrepareContext(ctx, `INSERT INTO dns_answers(client, addr, name, expires_ns, at_ns) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT(client, addr) DO UPDATE SET name = excluded.name, expires_ns = excluded.expires_ns, at_ns = excluded.at_ns
		WHERE excluded.at_ns >= at_ns`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, a := range answers {
		if _, err := st.ExecContext(ctx, a.Client.String(), a.Addr.String(), a.Name, a.Expires, a.At); err != nil {
			return err
		}
	}
	return nil
}

// DNSAnswers calls fn with the DNS answers still live at the newest
// checkpointed capture time, at most max, the most recently read; they
// come oldest first (so an LRU restored in that order keeps its order). A
// row that does not parse is skipped and counted.
func (s *Store) DNSAnswers(ctx context.Context, max int, fn func(dnstrack.Answer)) (bad int, err error) {
	rows, err := s.db.QueryContext(ctx, `SELECT client, addr, name, expires_ns, at_ns FROM
		(SELECT * FROM dns_answers WHERE expires_ns >= ? ORDER BY at_ns DESC LIMIT ?) ORDER BY at_ns`, s.Clock(ctx), max)
	if err != nil {
		return 0, fmt.Errorf("state: %s: reading DNS answers: %w", s.path, err)
	}
	defer rows.Close()
	for rows.Next() {
		var client, addr string
		var a dnstrack.Answer
		if err := rows.Scan(&client, &addr, &a.Name, &a.Expires, &a.At); err != nil {
			return bad, fmt.Errorf("state: %s: reading DNS answers: %w", s.path, err)
		}
		var err1, err2 error
		a.Client, err1 = netip.ParseAddr(client)
		a.Addr, err2 = netip.ParseAddr(addr)
		if err1 != nil || err2 != nil {
			bad++
			continue
		}
		fn(a)
	}
	return bad, rows.Err()
}

// maxProviders bounds the providers kept per DoH host; the sensor's
// resolver list names fewer.
const maxProviders = 16

func writeDoHHosts(ctx context.Context, tx *sql.Tx, hosts []DoHHost) error {
	if len(hosts) == 0 {
		return nil
	}
	// The providers are merged here rather than in SQL: a host that moved
	// from one resolver to another keeps both.
	get, err := tx.PrepareContext(ctx, "SELECT providers FROM doh_hosts WHERE ip = ?")
	if err != nil {
		return err
	}
	defer get.Close()
	put, err := tx.PrepareContext(ctx, `INSERT INTO doh_hosts(ip, providers, sessions, first_ns, last_ns) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT(ip) DO UPDATE SET providers = excluded.providers, sessions = sessions + excluded.sessions,
		first_ns = min(first_ns, excluded.first_ns), last_ns = max(last_ns, excluded.last_ns)`)
	if err != nil {
		return err
	}
	defer put.Close()
	for _, h := range hosts {
		if !h.IP.IsValid() {
			continue
		}
		ip := h.IP.String()
		var old string
		var providers []string
		switch err := get.QueryRowContext(ctx, ip).Scan(&old); {
		case err == nil:
			json.Unmarshal([]byte(old), &providers) // a bad value is replaced by the new providers
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		providers = mergeProviders(providers, h.Providers)
		js, err := json.Marshal(providers)
		if err != nil {
			return err
		}
		if _, err := put.ExecContext(ctx, ip, string(js), int64(h.Sessions), h.First, max(h.First, h.Last)); err != nil {
			return err
		}
	}
	return nil
}

// mergeProviders is the sorted union of a and b without empty names, at
// most maxProviders.
func mergeProviders(a, b []string) []string {
	out := slices.Concat(a, b)
	out = slices.DeleteFunc(out, func(p string) bool { return p == "" })
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > maxProviders {
		out = out[:maxProviders]
	}
	return out
}

func writePairs(ctx context.Context, tx *sql.Tx, pairs []*beacon.PairState) error {
	if len(pairs) == 0 {
		return nil
	}
	st, err := tx.PrepareContext(ctx, `INSERT INTO pairs(key, src, last_ns, state) VALUES (?, ?, ?, ?)
		ON CONFLICT(key) DO UPDATE SET last_ns = excluded.last_ns, state = excluded.state`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, p := range pairs {
		b, err := p.MarshalBinary()
		if err != nil {
			return fmt.Errorf("pair %s: %w", PairKeyString(p.Key), err)
		}
		if _, err := st.ExecContext(ctx, PairKeyString(p.Key), p.Key.Host.String(), p.Last(), b); err != nil {
			return err
		}
	}
	return nil
}

// PairKeyString names a pair in the database.
func PairKeyString(k beacon.PairKey) string {
	dest := k.Dest
	if dest == "" {
		dest = k.DestIP.String()
	}
	return fmt.Sprintf("%s %s %d/%d %s", k.Host, dest, k.Port, k.Proto, k.Kind)
}

func writeFindings(ctx context.Context, tx *sql.Tx, fates []Finding, clock int64) error {
	if len(fates) == 0 {
		return nil
	}
	st, err := tx.PrepareContext(ctx, `INSERT INTO findings(id, src, dest, port, proto, kind, fate, rule, label, hostname,
		period_s, beats, first_ns, last_ns, recorded_ns, alert, beat_times) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT(id) DO UPDATE SET fate = excluded.fate, rule = excluded.rule, label = excluded.label,
		hostname = excluded.hostname, period_s = excluded.period_s, beats = excluded.beats,
		first_ns = min(first_ns, excluded.first_ns), last_ns = max(last_ns, excluded.last_ns),
		recorded_ns = excluded.recorded_ns, alert = excluded.alert, beat_times = excluded.beat_times`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, f := range fates {
		a := f.Alert
		js, err := json.Marshal(a)
		if err != nil {
			return err
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
		if rec <= 0 {
			rec = clock
		}
		if _, err := st.ExecContext(ctx, a.ID, a.SrcIP, dest, int(a.DstPort), a.Proto, a.Kind, string(f.Fate), f.Rule, f.Label,
			a.Hostname, a.PeriodS, a.Beats, a.FirstSeen.UnixNano(), a.LastSeen.UnixNano(), rec, string(js), string(bts)); err != nil {
			return err
		}
	}
	return nil
}

func writeHours(ctx context.Context, tx *sql.Tx, hours []Hour, hh []HostHour) error {
	if len(hours) > 0 {
		st, err := tx.PrepareContext(ctx, `INSERT INTO coverage(hour, packets, bytes, drops, sessions, one_sided, named_dns, named_mac, named_wire, unnamed, dns_queries, evictions)
			VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(hour) DO UPDATE SET packets = packets + excluded.packets,
			bytes = bytes + excluded.bytes, drops = drops + excluded.drops, sessions = sessions + excluded.sessions,
			one_sided = one_sided + excluded.one_sided, named_dns = named_dns + excluded.named_dns,
			named_mac = named_mac + excluded.named_mac, named_wire = named_wire + excluded.named_wire, unnamed = unnamed + excluded.unnamed,
			dns_queries = dns_queries + excluded.dns_queries, evictions = evictions + excluded.evictions`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, h := range hours {
			if _, err := st.ExecContext(ctx, h.Start, int64(h.Packets), int64(h.Bytes), int64(h.Drops), int64(h.Sessions), int64(h.OneSided),
				int64(h.NamedDNS), int64(h.NamedMAC), int64(h.NamedWire), int64(h.Unnamed), int64(h.DNSQueries), int64(h.Evictions)); err != nil {
				return err
			}
		}
	}
	if len(hh) > 0 {
		st, err := tx.PrepareContext(ctx, `INSERT INTO host_hours(ip, hour, sessions, named) VALUES (?,?,?,?)
			ON CONFLICT(ip, hour) DO UPDATE SET sessions = sessions + excluded.sessions, named = named + excluded.named`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, h := range hh {
			if _, err := st.ExecContext(ctx, h.IP, h.Start, int64(h.Sessions), int64(h.Named)); err != nil {
				return err
			}
		}
	}
	return nil
}

func writeHosts(ctx context.Context, tx *sql.Tx, hosts []hostid.Host) error {
	if len(hosts) == 0 {
		return nil
	}
	// A verdict with evidence outranks an unknown one from a run that had not
	// seen the host long enough to tell.
	st, err := tx.PrepareContext(ctx, `INSERT INTO hosts(ip, mac, hostname, os, confidence, evidence, first_ns, last_ns) VALUES (?,?,?,?,?,?,?,?)
		ON CONFLICT(ip) DO UPDATE SET
		mac = CASE WHEN excluded.mac != '' THEN excluded.mac ELSE mac END,
		hostname = CASE WHEN excluded.hostname != '' THEN excluded.hostname ELSE hostname END,
		os = CASE WHEN excluded.os != 'unknown' OR os = '' THEN excluded.os ELSE os END,
		confidence = CASE WHEN excluded.os != 'unknown' OR os = '' THEN excluded.confidence ELSE confidence END,
		evidence = CASE WHEN excluded.os != 'unknown' OR os = '' THEN excluded.evidence ELSE evidence END,
		first_ns = min(first_ns, excluded.first_ns), last_ns = max(last_ns, excluded.last_ns)`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, h := range hosts {
		if h.IP == "" || h.Router {
			continue
		}
		ev, _ := json.Marshal(h.Evidence)
		if _, err := st.ExecContext(ctx, h.IP, h.MAC, h.Hostname, h.OS, h.Confidence, string(ev), h.FirstSeen.UnixNano(), h.LastSeen.UnixNano()); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) writeRun(ctx context.Context, tx *sql.Tx, c *Checkpoint) error {
	now := time.Now().UnixNano()
	s.mu.Lock()
	run := s.run
	s.mu.Unlock()
	if run == 0 {
		if c.Clock == 0 {
			return nil // no packet yet: nothing ran
		}
		res, err := tx.ExecContext(ctx, "INSERT INTO runs(sensor, version, wall_start, wall_end, clock_start, clock_end) VALUES (?,?,?,?,?,?)",
			c.Sensor, c.Version, now, now, firstClock(c), c.Clock)
		if err != nil {
			return err
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		// Set only if the transaction commits: a failed first checkpoint
		// inserts the run again next time.
		s.mu.Lock()
		s.run = -id
		s.mu.Unlock()
		return nil
	}
	if run < 0 {
		run = -run
	}
	_, err := tx.ExecContext(ctx, "UPDATE runs SET wall_end = ?, clock_end = max(clock_end, ?) WHERE id = ?", now, c.Clock, run)
	return err
}

// firstClock is the earliest capture time a first checkpoint covers.
func firstClock(c *Checkpoint) int64 {
	first := c.Clock
	for _, h := range c.Hours {
		if t := h.Start * int64(time.Second); t < first && h.Packets > 0 {
			first = t
		}
	}
	return first
}

// Bounds of the evidence tables besides Retain: a network far larger than
// one sensor serves still cannot grow the file without limit.
const (
	maxFindings  = 1 << 20
	maxHostHours = 1 << 22 // 20 000 hosts for 90 days is 43 M: the oldest hours go first
	maxHosts     = 1 << 18
	// maxDNSAnswers bounds the DNS answers kept for a restart, the most
	// recently read first.
	maxDNSAnswers = 1 << 20
	// maxDoHHostRows bounds the hosts on encrypted DNS kept, the most
	// recently seen first (a sensor holds at most 4096 per worker).
	maxDoHHostRows = 1 << 16
)

// prune deletes evidence older than Retain before clock and pair states
// beyond MaxPairs (least recently beaten first).
func (s *Store) prune(ctx context.Context, tx *sql.Tx, clock int64, rows *[numBounded]int64) error {
	if clock <= 0 {
		return nil
	}
	cut := clock - int64(s.opt.Retain)
	hourCut := cut / int64(time.Second)
	for _, q := range []struct {
		sql string
		arg int64
	}{
		{"DELETE FROM pairs WHERE last_ns < ?", cut},
		{"DELETE FROM findings WHERE last_ns < ?", cut},
		{"DELETE FROM coverage WHERE hour < ?", hourCut},
		{"DELETE FROM host_hours WHERE hour < ?", hourCut},
		{"DELETE FROM hosts WHERE last_ns < ?", cut},
		{"DELETE FROM runs WHERE clock_end < ?", cut},
		{"DELETE FROM learned_networks WHERE seen_ns < ?", cut},
		{"DELETE FROM host_states WHERE last_ns < ?", cut},
		{"DELETE FROM host_bindings WHERE until_ns < ?", clock}, // expired: no use to a restart
		{"DELETE FROM dns_answers WHERE expires_ns < ?", clock},
		{"DELETE FROM doh_hosts WHERE last_ns < ?", cut},
	} {
		if _, err := tx.ExecContext(ctx, q.sql, q.arg); err != nil {
			return err
		}
	}
	// Beyond the bounds, the oldest go first. Finding them walks the whole
	// table, so it runs only when the rows may exceed the bound: rows is an
	// upper bound kept since the last exact count.
	for i, b := range bounded {
		if rows[i] <= b.max(s) {
			continue
		}
		if _, err := tx.ExecContext(ctx, b.prune, b.max(s)); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM "+b.table).Scan(&rows[i]); err != nil {
			return err
		}
	}
	return nil
}

// bounded are the tables with a row bound, in the order of Store.rows.
const numBounded = 8

var bounded = [numBounded]struct {
	table, prune string
	max          func(s *Store) int64
}{
	{"pairs", "DELETE FROM pairs WHERE key IN (SELECT key FROM pairs ORDER BY last_ns DESC LIMIT -1 OFFSET ?)", func(s *Store) int64 { return int64(s.opt.MaxPairs) }},
	{"findings", "DELETE FROM findings WHERE id IN (SELECT id FROM findings ORDER BY last_ns DESC LIMIT -1 OFFSET ?)", func(*Store) int64 { return maxFindings }},
	{"host_hours", "DELETE FROM host_hours WHERE hour < (SELECT hour FROM host_hours ORDER BY hour DESC LIMIT 1 OFFSET ?)", func(*Store) int64 { return maxHostHours }},
	{"hosts", "DELETE FROM hosts WHERE ip IN (SELECT ip FROM hosts ORDER BY last_ns DESC LIMIT -1 OFFSET ?)", func(*Store) int64 { return maxHosts }},
	{"host_states", "DELETE FROM host_states WHERE key IN (SELECT key FROM host_states ORDER BY last_ns DESC LIMIT -1 OFFSET ?)", func(*Store) int64 { return maxHosts }},
	{"host_bindings", "DELETE FROM host_bindings WHERE ip IN (SELECT ip FROM host_bindings ORDER BY until_ns DESC LIMIT -1 OFFSET ?)", func(*Store) int64 { return maxHosts }},
	{"dns_answers", "DELETE FROM dns_answers WHERE (client, addr) IN (SELECT client, addr FROM dns_answers ORDER BY at_ns DESC LIMIT -1 OFFSET ?)", func(*Store) int64 { return maxDNSAnswers }},
	{"doh_hosts", "DELETE FROM doh_hosts WHERE ip IN (SELECT ip FROM doh_hosts ORDER BY last_ns DESC LIMIT -1 OFFSET ?)", func(*Store) int64 { return maxDoHHostRows }},
}

// countRows counts the bounded tables exactly (at open).
func (s *Store) countRows() error {
	for i, b := range bounded {
		if err := s.db.QueryRow("SELECT count(*) FROM " + b.table).Scan(&s.rows[i]); err != nil {
			return s.unusable(err)
		}
	}
	return nil
}

// Pairs calls fn with the most recently beaten max pair states, least
// recently beaten first (so an LRU restored in that order keeps its
// order). A state that does not decode is skipped and counted.
func (s *Store) Pairs(ctx context.Context, max int, fn func(*beacon.PairState)) (bad int, err error) {
	rows, err := s.db.QueryContext(ctx, "SELECT key, state FROM (SELECT key, state, last_ns FROM pairs ORDER BY last_ns DESC LIMIT ?) ORDER BY last_ns", max)
	if err != nil {
		return 0, fmt.Errorf("state: %s: reading pairs: %w", s.path, err)
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var b []byte
		if err := rows.Scan(&key, &b); err != nil {
			return bad, fmt.Errorf("state: %s: reading pairs: %w", s.path, err)
		}
		var p beacon.PairState
		if err := p.UnmarshalBinary(b); err != nil {
			bad++
			continue
		}
		fn(&p)
	}
	return bad, rows.Err()
}

// Clock is the newest capture time checkpointed (0: none).
func (s *Store) Clock(ctx context.Context) int64 {
	v, ok := s.meta(ctx, "clock")
	if !ok {
		return 0
	}
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}
