// Package pgtest gives each test its own PostgreSQL database on a real
// server: the one LAUNCHTAP_TEST_PG names (.ci/run starts Debian's
// PostgreSQL and exports it). Without the variable a test skips saying so;
// under CI=true it fails instead.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/launchtap/launchtap/internal/testenv"
)

// Env names the variable holding the server's URL, for a role that may
// create databases, e.g. postgres://launchtap:launchtap@127.0.0.1:5432/postgres.
const Env = "LAUNCHTAP_TEST_PG"

// unsafe are the characters a test name may hold that a database name
// should not.
var unsafe = regexp.MustCompile(`[^a-z0-9_]+`)

// DB creates an empty database for tb and returns its URL; the database is
// dropped when tb ends (unless LAUNCHTAP_TEST_PG_KEEP=1, to look at it).
func DB(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(Env)
	if base == "" {
		testenv.Skip(tb, "%s is not set: no PostgreSQL server to test against (.ci/run starts one)", Env)
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		tb.Fatalf("%s=%q: want a postgres:// URL", Env, base)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("pgtest: connecting to %s: %v", Redact(base), err)
	}
	defer conn.Close(context.Background())
	var rnd [4]byte
	rand.Read(rnd[:])
	name := unsafe.ReplaceAllString(strings.ToLower(tb.Name()), "_")
	name = "lt_" + name[:min(len(name), 40)] + "_" + hex.EncodeToString(rnd[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatalf("pgtest: creating database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		if os.Getenv("LAUNCHTAP_TEST_PG_KEEP") == "1" {
			tb.Logf("pgtest: kept database %s", name)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Errorf("pgtest: dropping %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		// FORCE: a store the test left open must not keep its database.
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			tb.Errorf("pgtest: dropping %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// Redact is url with its password replaced, for messages.
func Redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Exec runs statements on the database at url, failing tb on error: for
// a test that damages or inspects a database behind the code's back.
func Exec(tb testing.TB, url, sql string, args ...any) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		tb.Fatalf("pgtest: %s: %v", sql, err)
	}
}
