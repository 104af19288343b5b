// Package state is the sensor's durable memory: an embedded SQLite database
// (modernc.org/sqlite, pure Go) in the state directory that holds what must
// survive a restart — every pair's beat history and alert memory, the fate
// of every alert (delivered, or approved and by which rule or launchd job),
// hourly coverage counters, the hosts seen and when the sensor ran — and
// what the evidence report reads.
//
// The data path never touches it: workers copy their state out between
// batches when a checkpoint asks, and Checkpoint writes that copy in one
// transaction, so a crash (even kill -9 mid-write) leaves the previous
// checkpoint whole. The schema is versioned and migrated on open; a file it
// cannot use — corrupt, not launchtap's, or from a newer version — is an
// error naming the file and what to do, never silently replaced.
package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/sys/unix"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// FileName is the database's name inside the state directory.
const FileName = "launchtap.db"

// DefaultDir is where `launchtap run` keeps its state unless told otherwise.
const DefaultDir = "/var/lib/launchtap"

// DefaultRetain is how long evidence is kept (--retain).
const DefaultRetain = 90 * 24 * time.Hour

// appID marks the file as launchtap's ("LTAP"), so another program's SQLite
// database is refused rather than written into.
const appID = 0x4c544150

// Options bound the store.
type Options struct {
	// Retain is how long evidence is kept, measured back from the newest
	// capture time checkpointed (default DefaultRetain).
	Retain time.Duration
	// MaxPairs bounds the pair states kept (default 1<<21); the least
	// recently beaten are pruned beyond it.
	MaxPairs int
	// MaxPending bounds the alert fates buffered between checkpoints
	// (default 1<<16); the oldest are dropped and counted beyond it.
	MaxPending int
	// ReadOnly opens without the directory lock and without writing, for
	// reading the evidence while a sensor runs.
	ReadOnly bool
}

func (o *Options) defaults() {
	if o.Retain <= 0 {
		o.Retain = DefaultRetain
	}
	if o.MaxPairs <= 0 {
		o.MaxPairs = 1 << 21
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 1 << 16
	}
}

// Store is an open state database. Its methods are safe for concurrent use.
type Store struct {
	db     *sql.DB
	path   string
	opt    Options
	unlock func()

	mu       sync.Mutex
	pending  []Finding                        // alert fates since the last checkpoint
	alerted  *simplelru.LRU[string, struct{}] // ids delivered, this run or a previous one
	run      int64                            // this run's row in runs; 0 until the first checkpoint
	last     Info
	dropped  uint64 // fates dropped because MaxPending were buffered
	dupes    uint64 // alerts not delivered again: their id was delivered before
	ckptMu   sync.Mutex
	rows     [numBounded]int64 // upper bound of the rows of each bounded table (guarded by ckptMu)
	testHook func()            // called inside the transaction just before commit (tests)
}

// ErrNewer is wrapped by Open for a database written by a newer launchtap.
var ErrNewer = errors.New("state: written by a newer launchtap")

// ErrUnusable is wrapped by Open for a file that is not a usable database.
var ErrUnusable = errors.New("state: not a usable launchtap database")

// Open opens (creating if needed) the state database in dir, migrating an
// older schema. Only one process may hold a directory open for writing.
func Open(dir string, opt Options) (*Store, error) {
	opt.defaults()
	path := filepath.Join(dir, FileName)
	s := &Store{path: path, opt: opt, unlock: func() {}}
	if !opt.ReadOnly {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("state: %w", err)
		}
		unlock, err := lockDir(dir)
		if err != nil {
			return nil, err
		}
		s.unlock = unlock
	} else if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("state: %w (no sensor has checkpointed into %s yet?)", err, dir)
	}
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"
	if opt.ReadOnly {
		dsn += "&mode=ro"
	} else {
		dsn += "&_pragma=synchronous(NORMAL)"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		s.unlock()
		return nil, fmt.Errorf("state: %s: %w", path, err)
	}
	db.SetMaxOpenConns(1) // one writer; the report opens its own handle
	s.db = db
	if err := s.check(); err != nil {
		s.Close()
		return nil, err
	}
	if !opt.ReadOnly {
		// WAL, set only once the file checked out (it rewrites the header):
		// readers (the report) never block a checkpoint, and a commit is
		// atomic whatever kills the process.
		if _, err := db.Exec("PRAGMA journal_mode = WAL"); err != nil {
			s.Close()
			return nil, s.unusable(err)
		}
		if err := s.migrate(); err != nil {
			s.Close()
			return nil, err
		}
	}
	if err := s.countRows(); err != nil {
		s.Close()
		return nil, err
	}
	s.alerted, _ = simplelru.NewLRU[string, struct{}](1<<16, nil)
	if err := s.loadAlerted(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// unusable words the one-line error for a file Open cannot use.
func (s *Store) unusable(why error) error {
	return fmt.Errorf("%w: %s: %v; move it aside (mv %s %s.bad) to start with empty state, or restore it from a backup",
		ErrUnusable, s.path, why, s.path, s.path)
}

// check refuses a corrupt file, another program's database, or a newer schema.
func (s *Store) check() error {
	var app, ver int64
	if err := s.db.QueryRow("PRAGMA application_id").Scan(&app); err != nil {
		return s.unusable(err)
	}
	if err := s.db.QueryRow("PRAGMA user_version").Scan(&ver); err != nil {
		return s.unusable(err)
	}
	if app != appID && !(app == 0 && ver == 0 && s.empty()) {
		return s.unusable(fmt.Errorf("application id %#x is not launchtap's", app))
	}
	if ver > int64(len(migrations)) {
		return fmt.Errorf("%w: %s has schema version %d, this launchtap reads up to %d: run the newer launchtap, or move the file aside to start with empty state",
			ErrNewer, s.path, ver, len(migrations))
	}
	var res string
	if err := s.db.QueryRow("PRAGMA quick_check").Scan(&res); err != nil {
		return s.unusable(err)
	}
	if res != "ok" {
		return s.unusable(errors.New(strings.ReplaceAll(res, "\n", "; ")))
	}
	return nil
}

// empty reports a database with no tables: a new file.
func (s *Store) empty() bool {
	var n int
	err := s.db.QueryRow("SELECT count(*) FROM sqlite_master").Scan(&n)
	return err == nil && n == 0
}

// migrations[i] takes the schema from version i to i+1. Append, never edit.
var migrations = []string{
	`CREATE TABLE pairs (
		key     TEXT PRIMARY KEY,   -- source, destination, port, protocol, kind
		src     TEXT NOT NULL,
		last_ns INTEGER NOT NULL,   -- latest beat, capture time
		state   BLOB NOT NULL       -- beacon.PairState.MarshalBinary
	);
	CREATE INDEX pairs_last ON pairs(last_ns);
	CREATE TABLE findings (
		id          TEXT PRIMARY KEY, -- the alert id: stable per pair and period
		src         TEXT NOT NULL,
		dest        TEXT NOT NULL,
		port        INTEGER NOT NULL,
		proto       TEXT NOT NULL,
		kind        TEXT NOT NULL,
		fate        TEXT NOT NULL,    -- alerted, approved_destination, approved_label
		rule        TEXT NOT NULL,    -- the baseline rule that approved it
		label       TEXT NOT NULL,    -- the launchd job the MDM named (best match)
		hostname    TEXT NOT NULL,
		period_s    REAL NOT NULL,
		beats       INTEGER NOT NULL,
		first_ns    INTEGER NOT NULL,
		last_ns     INTEGER NOT NULL,
		recorded_ns INTEGER NOT NULL, -- capture time it was judged
		alert       TEXT NOT NULL,    -- the alert as JSON
		beat_times  TEXT NOT NULL     -- JSON array of Unix ns
	);
	CREATE INDEX findings_last ON findings(last_ns);
	CREATE TABLE coverage (
		hour        INTEGER PRIMARY KEY, -- Unix seconds of the hour's start, capture time
		packets     INTEGER NOT NULL DEFAULT 0,
		bytes       INTEGER NOT NULL DEFAULT 0,
		drops       INTEGER NOT NULL DEFAULT 0,
		sessions    INTEGER NOT NULL DEFAULT 0, -- external session starts
		one_sided   INTEGER NOT NULL DEFAULT 0, -- sessions that ended with one direction never seen
		named_dns   INTEGER NOT NULL DEFAULT 0, -- named from the client's own DNS answers
		named_mac   INTEGER NOT NULL DEFAULT 0, -- named from its MAC's answers (dual stack)
		unnamed     INTEGER NOT NULL DEFAULT 0,
		dns_queries INTEGER NOT NULL DEFAULT 0,
		evictions   INTEGER NOT NULL DEFAULT 0  -- table evictions, all tables
	);
	CREATE TABLE host_hours (
		ip       TEXT NOT NULL,
		hour     INTEGER NOT NULL,
		sessions INTEGER NOT NULL DEFAULT 0,
		named    INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (ip, hour)
	) WITHOUT ROWID;
	CREATE INDEX host_hours_hour ON host_hours(hour);
	CREATE TABLE hosts (
		ip         TEXT PRIMARY KEY,
		mac        TEXT NOT NULL,
		hostname   TEXT NOT NULL,
		os         TEXT NOT NULL,
		confidence REAL NOT NULL,
		evidence   TEXT NOT NULL, -- JSON array
		first_ns   INTEGER NOT NULL,
		last_ns    INTEGER NOT NULL
	);
	CREATE TABLE runs (
		id          INTEGER PRIMARY KEY AUTOINCREMENT,
		sensor      TEXT NOT NULL,
		version     TEXT NOT NULL,
		wall_start  INTEGER NOT NULL,
		wall_end    INTEGER NOT NULL,
		clock_start INTEGER NOT NULL, -- capture time of the first packet
		clock_end   INTEGER NOT NULL  -- of the newest checkpointed
	);
	CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
	// 1 → 2: sessions named from the wire (TLS SNI, QUIC, HTTP Host, CONNECT)
	// when the span saw no DNS answer for them.
	`ALTER TABLE coverage ADD COLUMN named_wire INTEGER NOT NULL DEFAULT 0;`,
	// 2 → 3: the IPv6 prefixes learned from router advertisements, restored
	// at start so their hosts are internal from the first packet.
	`CREATE TABLE learned_networks (
		prefix   TEXT PRIMARY KEY,
		first_ns INTEGER NOT NULL, -- capture time it was first learned
		seen_ns  INTEGER NOT NULL  -- newest checkpoint that still held it
	);`,
	// 3 → 4: the host table's evidence and address bindings, restored at
	// start so an alert just after a restart carries the verdict reached
	// before it.
	`CREATE TABLE host_states (
		key     TEXT PRIMARY KEY,  -- "mac …" or "ip …" (hostid.HostState.Key)
		last_ns INTEGER NOT NULL,
		state   BLOB NOT NULL      -- hostid.HostState.MarshalBinary, the workers' copies merged
	);
	CREATE INDEX host_states_last ON host_states(last_ns);
	CREATE TABLE host_bindings (
		ip       TEXT PRIMARY KEY,
		mac      TEXT NOT NULL,
		until_ns INTEGER NOT NULL,
		dhcp     INTEGER NOT NULL
	);
	CREATE INDEX host_bindings_until ON host_bindings(until_ns);`,
	// 4 → 5: the DNS answers still live, so a name resolved before a
	// restart still names the sessions after it until the answer expires.
	`CREATE TABLE dns_answers (
		client     TEXT NOT NULL,
		addr       TEXT NOT NULL,
		name       TEXT NOT NULL,
		expires_ns INTEGER NOT NULL, -- capture time: TTL (at least --dns-min-ttl) plus --dns-grace
		at_ns      INTEGER NOT NULL, -- capture time the answer was read
		PRIMARY KEY (client, addr)
	) WITHOUT ROWID;
	CREATE INDEX dns_answers_expires ON dns_answers(expires_ns);`,
	// 5 → 6: the hosts seen using encrypted-DNS resolvers (DoH, DoT): their
	// lookups are a blind spot of the span, which the report lists.
	`CREATE TABLE doh_hosts (
		ip        TEXT PRIMARY KEY,
		providers TEXT NOT NULL,    -- JSON array of the resolvers' providers, sorted
		sessions  INTEGER NOT NULL, -- sessions to those resolvers, summed over checkpoints
		first_ns  INTEGER NOT NULL, -- capture time
		last_ns   INTEGER NOT NULL
	);
	CREATE INDEX doh_hosts_last ON doh_hosts(last_ns);`,
	// 6 → 7: the host binder's learned joins, the address bindings its
	// keys rest on and the MACs it found to be routers', so that a docked
	// Mac keeps its host_id across a restart (sensor/host Saved). Each
	// checkpoint replaces them: they are the binder's whole state, bounded
	// by its own tables.
	`CREATE TABLE host_joins (
		member  TEXT PRIMARY KEY, -- MAC, aa:bb:cc:dd:ee:ff
		host    TEXT NOT NULL,    -- the canonical MAC of the host it joined
		last_ns INTEGER NOT NULL  -- capture time the join was made or last confirmed
	);
	CREATE TABLE host_addr_bindings (
		ip      TEXT PRIMARY KEY,
		mac     TEXT NOT NULL,
		last_ns INTEGER NOT NULL, -- capture time the holder was last seen with it
		lease   INTEGER NOT NULL  -- 1: last set by a DHCP lease
	);
	CREATE TABLE host_routers (
		mac TEXT PRIMARY KEY      -- a MAC found forwarding other hosts' traffic
	);`,
}

func (s *Store) migrate() error {
	var ver int
	if err := s.db.QueryRow("PRAGMA user_version").Scan(&ver); err != nil {
		return s.unusable(err)
	}
	for ; ver < len(migrations); ver++ {
		tx, err := s.db.Begin()
		if err != nil {
			return fmt.Errorf("state: %s: migrating: %w", s.path, err)
		}
		if _, err := tx.Exec(migrations[ver]); err != nil {
			tx.Rollback()
			return fmt.Errorf("state: %s: migrating to schema %d: %w", s.path, ver+1, err)
		}
		// PRAGMAs take no parameters; both values are integers we own.
		if _, err := tx.Exec(fmt.Sprintf("PRAGMA user_version = %d; PRAGMA application_id = %d", ver+1, appID)); err != nil {
			tx.Rollback()
			return fmt.Errorf("state: %s: migrating to schema %d: %w", s.path, ver+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("state: %s: migrating to schema %d: %w", s.path, ver+1, err)
		}
	}
	return nil
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Close closes the database and releases the directory.
func (s *Store) Close() error {
	var err error
	if s.db != nil {
		err = s.db.Close()
	}
	s.unlock()
	return err
}

// lockDir takes an exclusive lock on dir so that two sensors never write one
// state; the lock goes with the process, so a crash leaves nothing behind.
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, "launchtap.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state: lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("state: %s is in use by another launchtap process; give each sensor its own --state-dir", dir)
		}
		return nil, fmt.Errorf("state: lock: %w", err)
	}
	return func() { f.Close() }, nil
}

// Size is the bytes the database takes on disk (with its write-ahead log).
func (s *Store) Size() int64 {
	var n int64
	for _, p := range []string{s.path, s.path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

func (s *Store) meta(ctx context.Context, key string) (string, bool) {
	var v string
	err := s.db.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", key).Scan(&v)
	return v, err == nil
}
