package state

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func readDoH(t *testing.T, s *Store) *Evidence {
	t.Helper()
	ev, err := s.Evidence(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// The hosts on encrypted DNS survive a restart: sessions add up across
// checkpoints and runs, providers are merged, first and last seen widen.
func TestDoHHostsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	ctx := context.Background()
	a, b := netip.MustParseAddr("10.20.1.40"), netip.MustParseAddr("2001:db8::40")
	minute := int64(time.Minute)
	c1 := &Checkpoint{Clock: t0, DoHHosts: []DoHHost{
		{IP: a, Providers: []string{"Cloudflare"}, Sessions: 40, First: t0 - 60*minute, Last: t0 - minute},
		{IP: b, Providers: []string{"Quad9"}, Sessions: 3, First: t0 - 5*minute, Last: t0 - 5*minute},
		{Providers: []string{"Google"}, Sessions: 1, First: t0, Last: t0}, // no address: not written
	}}
	if _, err := s.Checkpoint(ctx, c1); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, dir)
	defer s.Close()
	c2 := &Checkpoint{Clock: t0 + 60*minute, DoHHosts: []DoHHost{
		{IP: a, Providers: []string{"Google", "Cloudflare", ""}, Sessions: 2, First: t0 + 10*minute, Last: t0 + 50*minute},
	}}
	if _, err := s.Checkpoint(ctx, c2); err != nil {
		t.Fatal(err)
	}
	want := []DoHHost{
		{IP: a, Providers: []string{"Cloudflare", "Google"}, Sessions: 42, First: t0 - 60*minute, Last: t0 + 50*minute},
		{IP: b, Providers: []string{"Quad9"}, Sessions: 3, First: t0 - 5*minute, Last: t0 - 5*minute},
	}
	ev := readDoH(t, s)
	if !slices.EqualFunc(ev.DoHHosts, want, func(x, y DoHHost) bool {
		return x.IP == y.IP && slices.Equal(x.Providers, y.Providers) && x.Sessions == y.Sessions && x.First == y.First && x.Last == y.Last
	}) || ev.Unreadable != 0 {
		t.Fatalf("DoH hosts %+v (%d unreadable), want %+v", ev.DoHHosts, ev.Unreadable, want)
	}
	// The window: a report from after b's last session leaves it out.
	ev, err := s.Evidence(ctx, t0)
	if err != nil || len(ev.DoHHosts) != 1 || ev.DoHHosts[0].IP != a {
		t.Fatalf("since t0: %+v, %v; want only %s", ev.DoHHosts, err, a)
	}
}

// A row this version cannot read is left out and counted, not fatal.
func TestDoHHostsUnreadableRow(t *testing.T) {
	s := mustOpen(t, t.TempDir())
	defer s.Close()
	if _, err := s.db.Exec(`INSERT INTO doh_hosts(ip, providers, sessions, first_ns, last_ns) VALUES
		('not an address', '["Cloudflare"]', 1, 1, 1), ('10.0.0.9', 'not json', 1, 1, 1), ('10.0.0.8', '["Google"]', 4, 1, 2)`); err != nil {
		t.Fatal(err)
	}
	ev := readDoH(t, s)
	if len(ev.DoHHosts) != 1 || ev.DoHHosts[0].IP.String() != "10.0.0.8" || ev.Unreadable != 2 {
		t.Fatalf("DoH hosts %+v, %d unreadable; want 10.0.0.8 and 2 unreadable", ev.DoHHosts, ev.Unreadable)
	}
}

// --retain prunes a host not seen on encrypted DNS within it; the row bound
// keeps the most recently seen.
func TestDoHHostsPruned(t *testing.T) {
	s, err := Open(t.TempDir(), Options{Retain: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	old := t0 - int64(48*time.Hour)
	if _, err := s.Checkpoint(ctx, &Checkpoint{Clock: old, DoHHosts: []DoHHost{{IP: netip.MustParseAddr("10.0.0.1"), Providers: []string{"Google"}, Sessions: 1, First: old, Last: old}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Checkpoint(ctx, &Checkpoint{Clock: t0, DoHHosts: []DoHHost{{IP: netip.MustParseAddr("10.0.0.2"), Providers: []string{"Quad9"}, Sessions: 1, First: t0, Last: t0}}}); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.db.QueryRow("SELECT count(*) FROM doh_hosts").Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d DoH host rows after pruning (%v), want 1", n, err)
	}
	if ev := readDoH(t, s); len(ev.DoHHosts) != 1 || ev.DoHHosts[0].IP.String() != "10.0.0.2" {
		t.Fatalf("after pruning: %+v", ev.DoHHosts)
	}

	// The bound: rows beyond it go, least recently seen first.
	i := slices.IndexFunc(bounded[:], func(b struct {
		table, prune string
		max          func(s *Store) int64
	}) bool {
		return b.table == "doh_hosts"
	})
	if i < 0 {
		t.Fatal("doh_hosts is not a bounded table")
	}
	if _, err := s.db.Exec(bounded[i].prune, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.db.QueryRow("SELECT count(*) FROM doh_hosts").Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d DoH host rows after pruning to 0 (%v)", n, err)
	}
}

func TestMergeProviders(t *testing.T) {
	for _, tc := range []struct{ a, b, want []string }{
		{nil, nil, nil},
		{nil, []string{"Quad9"}, []string{"Quad9"}},
		{[]string{"Quad9"}, []string{"Cloudflare", "Quad9", ""}, []string{"Cloudflare", "Quad9"}},
	} {
		if got := mergeProviders(tc.a, tc.b); !slices.Equal(got, tc.want) {
			t.Errorf("mergeProviders(%q, %q) = %q, want %q", tc.a, tc.b, got, tc.want)
		}
	}
	var many []string
	for i := range 40 {
		many = append(many, fmt.Sprintf("p%02d", i))
	}
	if got := mergeProviders(nil, many); len(got) != maxProviders {
		t.Errorf("%d providers kept, want the bound %d", len(got), maxProviders)
	}
}

// A schema-5 file (before doh_hosts) is migrated on open, keeps its rows,
// and records hosts on encrypted DNS from the first checkpoint after.
func TestMigratesSchema5(t *testing.T) {
	dir := t.TempDir()
	db, err := sql.Open("sqlite", filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range migrations[:5] {
		if _, err := db.Exec(m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(fmt.Sprintf(`INSERT INTO coverage(hour, sessions, named_wire) VALUES (3600, 7, 3);
		INSERT INTO dns_answers(client, addr, name, expires_ns, at_ns) VALUES ('10.0.0.1', '192.0.2.1', 'a.example', %d, %d);
		PRAGMA user_version = 5; PRAGMA application_id = %d`, t0+int64(time.Hour), t0, appID)); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s := mustOpen(t, dir)
	defer s.Close()
	ctx := context.Background()
	var ver, sessions int64
	if err := s.db.QueryRow("PRAGMA user_version").Scan(&ver); err != nil || ver != int64(len(migrations)) {
		t.Fatalf("schema %d (%v), want %d", ver, err, len(migrations))
	}
	if err := s.db.QueryRow("SELECT sessions FROM coverage WHERE hour = 3600").Scan(&sessions); err != nil || sessions != 7 {
		t.Fatalf("coverage after migration: sessions %d, %v", sessions, err)
	}
	if ev := readDoH(t, s); len(ev.DoHHosts) != 0 {
		t.Fatalf("DoH hosts right after migration: %+v", ev.DoHHosts)
	}
	c := &Checkpoint{Clock: t0, DoHHosts: []DoHHost{{IP: netip.MustParseAddr("10.0.0.1"), Providers: []string{"NextDNS"}, Sessions: 5, First: t0, Last: t0}}}
	if _, err := s.Checkpoint(ctx, c); err != nil {
		t.Fatalf("checkpoint after migration: %v", err)
	}
	if as := readAnswers(t, s); len(as) != 1 {
		t.Fatalf("after migration: %d DNS answers, want the one of schema 5", len(as))
	}
	if ev := readDoH(t, s); len(ev.DoHHosts) != 1 || ev.DoHHosts[0].Sessions != 5 || ev.DoHHosts[0].Providers[0] != "NextDNS" {
		t.Fatalf("DoH hosts after migration: %+v", ev.DoHHosts)
	}
}

// BenchmarkCheckpointDoHHosts writes hosts on encrypted DNS into a store
// that already holds them: 4 096 is one worker's whole table (each a read of
// the stored providers and an upsert).
func BenchmarkCheckpointDoHHosts(b *testing.B) {
	for _, n := range []int{100, 4096} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s := mustOpen(b, b.TempDir())
			defer s.Close()
			ctx := context.Background()
			hs := make([]DoHHost, n)
			for i := range hs {
				hs[i] = DoHHost{IP: netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), Providers: []string{"Cloudflare"}, Sessions: 3, First: t0, Last: t0}
			}
			if _, err := s.Checkpoint(ctx, &Checkpoint{Clock: t0, DoHHosts: hs}); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := s.Checkpoint(ctx, &Checkpoint{Clock: t0 + int64(i), DoHHosts: hs}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
