package pgtest

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// recorder is a testing.TB that records how DB ended the test.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()                        {}
func (r *recorder) Fatalf(format string, a ...any) { r.fatal = fmt.Sprintf(format, a...); panic(r) }
func (r *recorder) Skip(a ...any)                  { r.skip = fmt.Sprint(a...); panic(r) }

func ended(r *recorder, fn func()) {
	defer func() {
		if p := recover(); p != nil && p != r {
			panic(p)
		}
	}()
	fn()
}

func TestNoServer(t *testing.T) {
	t.Setenv(Env, "")
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		r := &recorder{TB: t}
		ended(r, func() { DB(r) })
		if ci == "true" && r.fatal == "" || ci == "" && r.skip == "" {
			t.Errorf("CI=%q without a server: fatal %q, skip %q", ci, r.fatal, r.skip)
		}
	}
}

// Each test gets its own empty database, gone when the test ends.
func TestDB(t *testing.T) {
	if os.Getenv(Env) == "" {
		DB(t) // skips saying why (fails under CI=true)
	}
	var name string
	t.Run("inner", func(t *testing.T) {
		a, b := DB(t), DB(t)
		if a == b {
			t.Fatalf("two calls gave one database %s", a)
		}
		Exec(t, a, "CREATE TABLE x (y int)")
		conn, err := pgx.Connect(context.Background(), b)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var n int
		if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM information_schema.tables WHERE table_name = 'x'").Scan(&n); err != nil || n != 0 {
			t.Errorf("the second database sees the first's table: %d, %v", n, err)
		}
		conn.QueryRow(context.Background(), "SELECT current_database()").Scan(&name)
	})
	if name == "" {
		t.Fatal("no database name")
	}
	conn, err := pgx.Connect(context.Background(), os.Getenv(Env))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil || n != 0 {
		t.Errorf("database %s still there after its test: %d, %v", name, n, err)
	}
}

func TestRedact(t *testing.T) {
	if got := Redact("postgres://u:secret@h:5432/db"); got != "postgres://u:xxxxx@h:5432/db" {
		t.Errorf("Redact: %q", got)
	}
}
