// Package orgstore is the organisation's evidence in PostgreSQL: the hub
// writes every sensor's checkpoints into it, and `launchtap report --db`
// reads the organisation's report from it. The tables are the state
// directory's (sensor/state) with a sensor column in every key, so one
// database holds any number of sensors without their addresses colliding
// (two offices may both number their Macs 10.0.0.0/8).
//
// A checkpoint is written in one transaction, serialised per sensor, and
// may carry an id (the hub's message id): an id applied before is skipped,
// so a redelivered checkpoint never counts its hours twice. Every table is
// bounded, by retention in capture time per sensor and by a row bound for
// the organisation, oldest rows first, counted.
package orgstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/launchtap/launchtap/sensor/state"
)

// Options bound the store.
type Options struct {
	// Retain is how long evidence is kept, measured back from each
	// sensor's newest checkpointed capture time (default state.DefaultRetain).
	Retain time.Duration
	// MaxRows overrides the row bound of a table by its name (defaults:
	// DefaultMaxRows); beyond it the oldest rows go first.
	MaxRows map[string]int64
	// MaxPending bounds the alert fates a Ledger buffers between
	// checkpoints (default 1<<16); the oldest are dropped and counted.
	MaxPending int
	// RunGap is, for a sensor whose checkpoints do not say when its
	// process started, the capture time without packets after which its
	// next checkpoint starts a new run (default 1 h).
	RunGap time.Duration
	// DedupWindow is how long (wall time) checkpoint ids are remembered
	// (default 7 days): far longer than any redelivery.
	DedupWindow time.Duration
	// BoundEvery is how often (wall time) the row bounds are checked
	// (default 1 min).
	BoundEvery time.Duration
	// ReadOnly opens for reading the evidence (the report): the schema is
	// checked, not created or migrated, and Checkpoint is refused.
	ReadOnly bool
}

// DefaultMaxRows are the organisation's row bounds per table: sixteen times
// one sensor's (sensor/state), so a few dozen offices fit before the
// oldest rows go.
var DefaultMaxRows = map[string]int64{
	"pairs":         1 << 25,
	"findings":      1 << 24,
	"host_hours":    1 << 26,
	"hosts":         1 << 22,
	"host_states":   1 << 22,
	"host_bindings": 1 << 22,
	"dns_answers":   1 << 24,
	"doh_hosts":     1 << 20,
	"applied":       1 << 22,
}

func (o *Options) defaults() {
	if o.Retain <= 0 {
		o.Retain = state.DefaultRetain
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 1 << 16
	}
	if o.RunGap <= 0 {
		o.RunGap = time.Hour
	}
	if o.DedupWindow <= 0 {
		o.DedupWindow = 7 * 24 * time.Hour
	}
	if o.BoundEvery <= 0 {
		o.BoundEvery = time.Minute
	}
	m := make(map[string]int64, len(DefaultMaxRows))
	for t, n := range DefaultMaxRows {
		m[t] = n
		if v, ok := o.MaxRows[t]; ok && v > 0 {
			m[t] = v
		}
	}
	o.MaxRows = m
}

// Stats are the store's counters since Open.
type Stats struct {
	Checkpoints uint64 // applied
	Duplicates  uint64 // skipped: their id was applied before
	Rejected    uint64 // refused: not a checkpoint, no sensor named, or an id too long
	BadRows     uint64 // pair or host states skipped: they fail their own checks
	Errors      uint64 // failed to write (the caller retries)
	Findings    uint64 // alert fates written
	Dropped     uint64 // alert fates dropped: a Ledger held MaxPending
	Pruned      uint64 // rows deleted beyond a row bound
}

// Store is the organisation's evidence database. Its methods are safe for
// concurrent use, and several hub processes may share one database.
type Store struct {
	pool *pgxpool.Pool
	url  string // redacted, for messages and the report
	opt  Options

	mu        sync.Mutex
	stats     Stats
	ledgers   map[string]*Ledger
	lastBound time.Time
}

// ErrNewer is wrapped by Open for a database written by a newer launchtap.
var ErrNewer = errors.New("orgstore: written by a newer launchtap")

// ErrUnusable is wrapped by Open for a database holding tables of this
// schema's names that are not launchtap's.
var ErrUnusable = errors.New("orgstore: not a usable launchtap database")

// ErrReadOnly is returned by the writing methods of a store opened ReadOnly.
var ErrReadOnly = errors.New("orgstore: opened read-only")

// ErrNoSensor is wrapped by Checkpoint for a checkpoint that names no
// sensor: whose evidence it is cannot be told.
var ErrNoSensor = errors.New("orgstore: checkpoint names no sensor")

// Open connects to the PostgreSQL database at url (postgres://user:pass@host/db)
// and creates or migrates the schema.
func Open(ctx context.Context, url string) (*Store, error) {
	return OpenWith(ctx, url, Options{})
}

// OpenWith is Open with bounds.
func OpenWith(ctx context.Context, dbURL string, opt Options) (*Store, error) {
	opt.defaults()
	red := redact(dbURL)
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, fmt.Errorf("orgstore: %s: %w", red, err)
	}
	if cfg.MaxConns > 8 {
		cfg.MaxConns = 8 // checkpoints are serialised per sensor; a few sensors at once is plenty
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("orgstore: %s: %w", red, err)
	}
	s := &Store{pool: pool, url: red, opt: opt, ledgers: map[string]*Ledger{}}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("orgstore: %s: %w", red, err)
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// redact is the URL with its password hidden.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return "(database URL)" // a keyword/value DSN may hold a password anywhere
	}
	return u.Redacted()
}

// URL is the database's URL without its password.
func (s *Store) URL() string { return s.url }

// Close closes the connections.
func (s *Store) Close() {
	s.pool.Close()
}

// Stats returns the counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// schemaLock is the advisory lock key ("LTAP") that serialises migrations
// of hub processes opening one database at once.
const schemaLock = 0x4c544150

// migrations[i] takes the schema from version i to i+1. Append, never edit.
// The tables are sensor/state's with sensor in every key.
var migrations = []string{
	`CREATE TABLE launchtap_schema (version INTEGER NOT NULL);
	INSERT INTO launchtap_schema VALUES (0);
	CREATE TABLE pairs (
		sensor  TEXT NOT NULL,
		key     TEXT NOT NULL,   -- source, destination, port, protocol, kind
		src     TEXT NOT NULL,
		last_ns BIGINT NOT NULL, -- latest beat, capture time
		state   BYTEA NOT NULL,  -- beacon.PairState.MarshalBinary
		PRIMARY KEY (sensor, key)
	);
	CREATE INDEX pairs_last ON pairs(last_ns);
	CREATE INDEX pairs_sensor_last ON pairs(sensor, last_ns);
	CREATE TABLE findings (
		sensor      TEXT NOT NULL,
		id          TEXT NOT NULL, -- the alert id: stable per pair and period
		src         TEXT NOT NULL,
		dest        TEXT NOT NULL,
		port        INTEGER NOT NULL,
		proto       TEXT NOT NULL,
		kind        TEXT NOT NULL,
		fate        TEXT NOT NULL,    -- alerted, approved_destination, approved_label
		rule        TEXT NOT NULL,
		label       TEXT NOT NULL,
		hostname    TEXT NOT NULL,
		period_s    DOUBLE PRECISION NOT NULL,
		beats       INTEGER NOT NULL,
		first_ns    BIGINT NOT NULL,
		last_ns     BIGINT NOT NULL,
		recorded_ns BIGINT NOT NULL,
		alert       TEXT NOT NULL,    -- the alert as JSON
		beat_times  TEXT NOT NULL,    -- JSON array of Unix ns
		PRIMARY KEY (sensor, id)
	);
	CREATE INDEX findings_last ON findings(last_ns);
	CREATE INDEX findings_sensor_last ON findings(sensor, last_ns);
	CREATE TABLE coverage (
		sensor      TEXT NOT NULL,
		hour        BIGINT NOT NULL, -- Unix seconds of the hour's start, capture time
		packets     BIGINT NOT NULL DEFAULT 0,
		bytes       BIGINT NOT NULL DEFAULT 0,
		drops       BIGINT NOT NULL DEFAULT 0,
		sessions    BIGINT NOT NULL DEFAULT 0,
		one_sided   BIGINT NOT NULL DEFAULT 0,
		named_dns   BIGINT NOT NULL DEFAULT 0,
		named_mac   BIGINT NOT NULL DEFAULT 0,
		named_wire  BIGINT NOT NULL DEFAULT 0,
		unnamed     BIGINT NOT NULL DEFAULT 0,
		dns_queries BIGINT NOT NULL DEFAULT 0,
		evictions   BIGINT NOT NULL DEFAULT 0,
		PRIMARY KEY (sensor, hour)
	);
	CREATE TABLE host_hours (
		sensor   TEXT NOT NULL,
		ip       TEXT NOT NULL,
		hour     BIGINT NOT NULL,
		sessions BIGINT NOT NULL DEFAULT 0,
		named    BIGINT NOT NULL DEFAULT 0,
		PRIMARY KEY (sensor, ip, hour)
	);
	CREATE INDEX host_hours_hour ON host_hours(hour);
	CREATE INDEX host_hours_sensor_hour ON host_hours(sensor, hour);
	CREATE TABLE hosts (
		sensor     TEXT NOT NULL,
		ip         TEXT NOT NULL,
		mac        TEXT NOT NULL,
		hostname   TEXT NOT NULL,
		os         TEXT NOT NULL,
		confidence DOUBLE PRECISION NOT NULL,
		evidence   TEXT NOT NULL, -- JSON array
		first_ns   BIGINT NOT NULL,
		last_ns    BIGINT NOT NULL,
		PRIMARY KEY (sensor, ip)
	);
	CREATE INDEX hosts_last ON hosts(last_ns);
	CREATE INDEX hosts_sensor_last ON hosts(sensor, last_ns);
	CREATE TABLE runs (
		id          BIGSERIAL PRIMARY KEY,
		sensor      TEXT NOT NULL,
		version     TEXT NOT NULL,
		started     BIGINT NOT NULL, -- wall time the sensor process started (state.Checkpoint.Started; 0: not said)
		wall_start  BIGINT NOT NULL, -- when the store first heard of the run
		wall_end    BIGINT NOT NULL,
		clock_start BIGINT NOT NULL, -- capture time of the first packet
		clock_end   BIGINT NOT NULL  -- of the newest checkpointed
	);
	CREATE INDEX runs_sensor ON runs(sensor, id);
	CREATE TABLE meta (
		sensor TEXT NOT NULL,
		key    TEXT NOT NULL,
		value  TEXT NOT NULL,
		PRIMARY KEY (sensor, key)
	);
	CREATE TABLE learned_networks (
		sensor   TEXT NOT NULL,
		prefix   TEXT NOT NULL,
		first_ns BIGINT NOT NULL,
		seen_ns  BIGINT NOT NULL,
		PRIMARY KEY (sensor, prefix)
	);
	CREATE TABLE host_states (
		sensor  TEXT NOT NULL,
		key     TEXT NOT NULL,
		last_ns BIGINT NOT NULL,
		state   BYTEA NOT NULL, -- hostid.HostState.MarshalBinary
		PRIMARY KEY (sensor, key)
	);
	CREATE INDEX host_states_last ON host_states(last_ns);
	CREATE INDEX host_states_sensor_last ON host_states(sensor, last_ns);
	CREATE TABLE host_bindings (
		sensor   TEXT NOT NULL,
		ip       TEXT NOT NULL,
		mac      TEXT NOT NULL,
		until_ns BIGINT NOT NULL,
		dhcp     BOOLEAN NOT NULL,
		PRIMARY KEY (sensor, ip)
	);
	CREATE INDEX host_bindings_until ON host_bindings(until_ns);
	CREATE INDEX host_bindings_sensor_until ON host_bindings(sensor, until_ns);
	CREATE TABLE dns_answers (
		sensor     TEXT NOT NULL,
		client     TEXT NOT NULL,
		addr       TEXT NOT NULL,
		name       TEXT NOT NULL,
		expires_ns BIGINT NOT NULL,
		at_ns      BIGINT NOT NULL,
		PRIMARY KEY (sensor, client, addr)
	);
	CREATE INDEX dns_answers_at ON dns_answers(at_ns);
	CREATE INDEX dns_answers_sensor_expires ON dns_answers(sensor, expires_ns);
	CREATE TABLE doh_hosts (
		sensor    TEXT NOT NULL,
		ip        TEXT NOT NULL,
		providers TEXT NOT NULL, -- JSON array, sorted
		sessions  BIGINT NOT NULL,
		first_ns  BIGINT NOT NULL,
		last_ns   BIGINT NOT NULL,
		PRIMARY KEY (sensor, ip)
	);
	CREATE INDEX doh_hosts_last ON doh_hosts(last_ns);
	CREATE INDEX doh_hosts_sensor_last ON doh_hosts(sensor, last_ns);
	-- The checkpoint ids applied: a redelivered checkpoint is skipped.
	CREATE TABLE applied (
		sensor TEXT NOT NULL,
		id     TEXT NOT NULL,
		at_ns  BIGINT NOT NULL, -- wall time it was applied
		PRIMARY KEY (sensor, id)
	);
	CREATE INDEX applied_at ON applied(at_ns);`,
}

// ourTables are the names the schema creates: a database holding any of
// them without launchtap_schema is another program's.
var ourTables = []string{"pairs", "findings", "coverage", "host_hours", "hosts", "runs", "meta", "learned_networks",
	"host_states", "host_bindings", "dns_answers", "doh_hosts", "applied"}

func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("orgstore: %s: %w", s.url, err)
	}
	defer tx.Rollback(ctx)
	if !s.opt.ReadOnly { // a reader changes nothing (and may be on a standby, which takes no locks)
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(schemaLock)); err != nil {
			return fmt.Errorf("orgstore: %s: %w", s.url, err)
		}
	}
	var have bool
	if err := tx.QueryRow(ctx, "SELECT to_regclass('launchtap_schema') IS NOT NULL").Scan(&have); err != nil {
		return fmt.Errorf("orgstore: %s: %w", s.url, err)
	}
	ver := 0
	if have {
		if err := tx.QueryRow(ctx, "SELECT version FROM launchtap_schema").Scan(&ver); err != nil {
			return fmt.Errorf("%w: %s: launchtap_schema: %v", ErrUnusable, s.url, err)
		}
	} else {
		var clash []string
		rows, err := tx.Query(ctx, "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ANY($1) ORDER BY 1", ourTables)
		if err != nil {
			return fmt.Errorf("orgstore: %s: %w", s.url, err)
		}
		clash, err = pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("orgstore: %s: %w", s.url, err)
		}
		if s.opt.ReadOnly && !have {
			return fmt.Errorf("%w: %s holds no launchtap evidence yet (no hub has written into it)", ErrUnusable, s.url)
		}
		if len(clash) > 0 {
			return fmt.Errorf("%w: %s already holds tables named %s but no launchtap_schema: give launchtap a database of its own",
				ErrUnusable, s.url, strings.Join(clash, ", "))
		}
	}
	if ver > len(migrations) {
		return fmt.Errorf("%w: %s has schema version %d, this launchtap reads up to %d: run the newer launchtap",
			ErrNewer, s.url, ver, len(migrations))
	}
	if s.opt.ReadOnly {
		if ver < len(migrations) {
			return fmt.Errorf("orgstore: %s has schema version %d, this launchtap reads %d: let the hub (launchtap hub) open it once to migrate it",
				s.url, ver, len(migrations))
		}
		return nil
	}
	for ; ver < len(migrations); ver++ {
		if _, err := tx.Exec(ctx, migrations[ver]); err != nil {
			return fmt.Errorf("orgstore: %s: migrating to schema %d: %w", s.url, ver+1, err)
		}
		if _, err := tx.Exec(ctx, "UPDATE launchtap_schema SET version = $1", ver+1); err != nil {
			return fmt.Errorf("orgstore: %s: migrating to schema %d: %w", s.url, ver+1, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("orgstore: %s: migrating: %w", s.url, err)
	}
	return nil
}

// Size is the bytes the database takes on disk.
func (s *Store) Size(ctx context.Context) int64 {
	var n int64
	s.pool.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&n)
	return n
}

// Sensors are the names of the sensors that checkpointed, sorted.
func (s *Store) Sensors(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, "SELECT sensor FROM meta WHERE key = 'clock' ORDER BY sensor")
	if err != nil {
		return nil, fmt.Errorf("orgstore: %s: %w", s.url, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("orgstore: %s: %w", s.url, err)
	}
	return names, nil
}

// Clock is the newest capture time any sensor checkpointed (0: none).
func (s *Store) Clock(ctx context.Context) (int64, error) { return s.ClockOf(ctx, nil) }

// ClockOf is the newest capture time any of the named sensors (nil: all)
// checkpointed.
func (s *Store) ClockOf(ctx context.Context, sensors []string) (int64, error) {
	var n *int64
	if err := s.pool.QueryRow(ctx, "SELECT max(value::bigint) FROM meta WHERE key = 'clock' AND ($1::text[] IS NULL OR sensor = ANY($1))", sensors).Scan(&n); err != nil {
		return 0, fmt.Errorf("orgstore: %s: %w", s.url, err)
	}
	if n == nil {
		return 0, nil
	}
	return *n, nil
}
