package state

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/launchtap/launchtap/sensor/host"
)

var (
	wifiMAC = [6]byte{0xf0, 0x18, 0x98, 0x6a, 0x21, 0x07}
	dockMAC = [6]byte{0x00, 0xe0, 0x4c, 0x68, 0x0a, 0x3e}
	gwMAC   = [6]byte{0x00, 0x1c, 0x73, 0x00, 0x00, 0xfe}
)

func savedIdentity(clock int64) *host.Saved {
	return &host.Saved{Clock: clock,
		Joins: []host.Join{{Member: dockMAC, Host: wifiMAC, Last: clock - int64(time.Minute)}},
		Bindings: []host.Binding{
			{Addr: netip.MustParseAddr("10.20.9.77"), MAC: wifiMAC, Last: clock - int64(2*time.Minute), Lease: true},
			{Addr: netip.MustParseAddr("10.20.8.31"), MAC: dockMAC, Last: clock - int64(time.Minute)},
		},
		Routers: [][6]byte{gwMAC}}
}

func readIdentity(t *testing.T, s *Store) (host.Saved, int) {
	t.Helper()
	id, bad, err := s.Identity(context.Background(), 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	return id, bad
}

// TestIdentityCheckpoint: the binder's state is read back as written; a
// checkpoint without it leaves it, one with it replaces it whole (a join
// that ended is gone).
func TestIdentityCheckpoint(t *testing.T) {
	s := mustOpen(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	want := savedIdentity(t0)
	if _, err := s.Checkpoint(ctx, &Checkpoint{Clock: t0, Identity: want}); err != nil {
		t.Fatal(err)
	}
	got, bad := readIdentity(t, s)
	// Read newest first.
	want.Bindings[0], want.Bindings[1] = want.Bindings[1], want.Bindings[0]
	if bad != 0 || !reflect.DeepEqual(got, *want) {
		t.Fatalf("read back %+v (%d bad), want %+v", got, bad, *want)
	}
	if _, err := s.Checkpoint(ctx, &Checkpoint{Clock: t0 + 1}); err != nil {
		t.Fatal(err)
	}
	if got, _ := readIdentity(t, s); len(got.Joins) != 1 || len(got.Bindings) != 2 || len(got.Routers) != 1 {
		t.Fatalf("a checkpoint without identity changed it: %+v", got)
	}
	next := &host.Saved{Clock: t0 + 2, Bindings: want.Bindings[:1]}
	if _, err := s.Checkpoint(ctx, &Checkpoint{Clock: t0 + 2, Identity: next}); err != nil {
		t.Fatal(err)
	}
	if got, _ := readIdentity(t, s); len(got.Joins) != 0 || len(got.Bindings) != 1 || len(got.Routers) != 0 || got.Clock != t0+2 {
		t.Fatalf("after a checkpoint without the join: %+v", got)
	}
}

// TestIdentityBadRows: rows this version cannot read are counted and
// skipped; the rest is read.
func TestIdentityBadRows(t *testing.T) {
	s := mustOpen(t, t.TempDir())
	defer s.Close()
	if _, err := s.Checkpoint(context.Background(), &Checkpoint{Clock: t0, Identity: savedIdentity(t0)}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"INSERT INTO host_joins(member, host, last_ns) VALUES ('not a mac', 'f0:18:98:6a:21:07', 1)",
		"INSERT INTO host_joins(member, host, last_ns) VALUES ('00:e0:4c:68:0a:3f', 'ff:ff:ff:ff:ff:ff', 1)",
		"INSERT INTO host_joins(member, host, last_ns) VALUES ('00:00:00:00:00:00', 'f0:18:98:6a:21:07', 1)",
		"INSERT INTO host_addr_bindings(ip, mac, last_ns, lease) VALUES ('10.20.300.1', 'f0:18:98:6a:21:07', 1, 0)",
		"INSERT INTO host_addr_bindings(ip, mac, last_ns, lease) VALUES ('10.20.3.1', '01:00:5e:00:00:01', 1, 0)",
		"INSERT INTO host_routers(mac) VALUES ('00:1c:73')",
		// Values of the wrong type (SQLite stores them as given).
		"INSERT INTO host_joins(member, host, last_ns) VALUES ('00:e0:4c:68:0a:40', 'f0:18:98:6a:21:07', 'soon')",
		"INSERT INTO host_addr_bindings(ip, mac, last_ns, lease) VALUES ('10.20.3.2', 'f0:18:98:6a:21:07', 1, 2)",
		"INSERT INTO host_addr_bindings(ip, mac, last_ns, lease) VALUES ('10.20.3.3', 'f0:18:98:6a:21:07', 1.5, 0)",
		"INSERT INTO host_routers(mac) VALUES (X'001c73000001')",
	} {
		if _, err := s.db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	got, bad := readIdentity(t, s)
	if bad != 10 || len(got.Joins) != 1 || len(got.Bindings) != 2 || len(got.Routers) != 1 {
		t.Fatalf("read %+v with %d bad, want the checkpoint's rows and 10 bad", got, bad)
	}
}

// A schema-6 file (before the binder's state) is migrated on open, keeps
// its rows, holds no binder state, and takes it from the next checkpoint.
func TestMigratesSchema6(t *testing.T) {
	dir := t.TempDir()
	db, err := sql.Open("sqlite", filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range migrations[:6] {
		if _, err := db.Exec(m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(fmt.Sprintf(`INSERT INTO host_bindings(ip, mac, until_ns, dhcp) VALUES ('10.20.8.31', '00:e0:4c:68:0a:3e', %d, 1);
		INSERT INTO doh_hosts(ip, providers, sessions, first_ns, last_ns) VALUES ('10.20.8.31', '["NextDNS"]', 4, %d, %d);
		INSERT INTO meta(key, value) VALUES ('clock', '%d');
		PRAGMA user_version = 6; PRAGMA application_id = %d`, t0+int64(time.Hour), t0, t0, t0, appID)); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s := mustOpen(t, dir)
	defer s.Close()
	var ver int64
	if err := s.db.QueryRow("PRAGMA user_version").Scan(&ver); err != nil || ver != int64(len(migrations)) {
		t.Fatalf("schema %d (%v), want %d", ver, err, len(migrations))
	}
	if _, bs := readHosts(t, s); len(bs) != 1 {
		t.Fatalf("host bindings after migration: %d, want schema 6's one", len(bs))
	}
	if ev := readDoH(t, s); len(ev.DoHHosts) != 1 || ev.DoHHosts[0].Sessions != 4 {
		t.Fatalf("DoH hosts after migration: %+v", ev.DoHHosts)
	}
	if got, bad := readIdentity(t, s); bad != 0 || len(got.Joins)+len(got.Bindings)+len(got.Routers) != 0 || got.Clock != t0 {
		t.Fatalf("binder state right after migration: %+v (%d bad)", got, bad)
	}
	if _, err := s.Checkpoint(context.Background(), &Checkpoint{Clock: t0 + 1, Identity: savedIdentity(t0 + 1)}); err != nil {
		t.Fatalf("checkpoint after migration: %v", err)
	}
	if got, _ := readIdentity(t, s); len(got.Joins) != 1 || len(got.Bindings) != 2 || len(got.Routers) != 1 {
		t.Fatalf("binder state after migration and a checkpoint: %+v", got)
	}
}

// BenchmarkCheckpointIdentity measures replacing the binder's state: an
// office of 1 000 hosts (250 joined docks, 2 000 bindings: IPv4 and an
// IPv6 address each) and the binder's bounds (16 384 joins, 65 536
// bindings).
func BenchmarkCheckpointIdentity(b *testing.B) {
	for _, n := range [][2]int{{250, 2000}, {1 << 14, 1 << 16}} {
		b.Run(fmt.Sprintf("joins%d+bindings%d", n[0], n[1]), func(b *testing.B) {
			s := mustOpen(b, b.TempDir())
			defer s.Close()
			id := &host.Saved{Clock: t0}
			for i := range n[0] {
				id.Joins = append(id.Joins, host.Join{Member: [6]byte{2, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)},
					Host: [6]byte{4, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)}, Last: t0})
			}
			for i := range n[1] {
				id.Bindings = append(id.Bindings, host.Binding{Addr: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}),
					MAC: [6]byte{2, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)}, Last: t0})
			}
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := s.Checkpoint(ctx, &Checkpoint{Clock: t0 + int64(i), Identity: id}); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			start := time.Now()
			got, bad, err := s.Identity(ctx, 1<<16)
			if err != nil || bad != 0 || len(got.Joins) != n[0] || len(got.Bindings) != n[1] {
				b.Fatalf("read back %d joins, %d bindings, %d bad, %v", len(got.Joins), len(got.Bindings), bad, err)
			}
			b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "ms-to-read")
		})
	}
}
