package state

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/beacon"
	"github.com/launchtap/launchtap/sensor/dnstrack"
	"github.com/launchtap/launchtap/sensor/host"
	"github.com/launchtap/launchtap/sensor/hostid"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC).UnixNano()

// pairs returns n distinct pair states beaten around clock.
func pairs(n int, clock int64) []*beacon.PairState {
	out := make([]*beacon.PairState, n)
	for i := range out {
		k := beacon.PairKey{Host: host.AddrKey(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})), Dest: fmt.Sprintf("d%d.example.com", i%97), Port: 443, Proto: 6}
		var times []int64
		for j := 0; j < 12; j++ {
			times = append(times, clock-int64(12-j)*int64(time.Minute))
		}
		out[i] = &beacon.PairState{Key: k, First: times[0], Beats: 12, Times: times, Out: make([]uint16, 12), In: make([]uint16, 12)}
	}
	return out
}

func testAlert(id string, last int64) *alert.Alert {
	return &alert.Alert{ID: id, TS: time.Unix(0, last).UTC(), SrcIP: "10.0.0.1", DstFQDN: "c2.example", DstPort: 443, Proto: "tcp", Kind: "session",
		PeriodS: 300, Beats: 6, FirstSeen: time.Unix(0, last-int64(25*time.Minute)).UTC(), LastSeen: time.Unix(0, last).UTC(),
		BeatTimes: []time.Time{time.Unix(0, last).UTC()}}
}

func mustOpen(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCheckpointRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	ctx := context.Background()
	s.Record(testAlert("a1", t0), string(Alerted), "", "com.example.updater")
	s.Record(testAlert("a2", t0), string(ApprovedDestination), "*.jamfcloud.com", "")
	c := &Checkpoint{Clock: t0, Sensor: "t", Pairs: pairs(50, t0),
		Hours:     []Hour{{Start: t0/1e9 - 3600, Packets: 10, Sessions: 2, NamedDNS: 2}},
		HostHours: []HostHour{{IP: "10.0.0.1", Start: t0/1e9 - 3600, Sessions: 2, Named: 2}}}
	if _, err := s.Checkpoint(ctx, c); err != nil {
		t.Fatal(err)
	}
	// Counters add up across checkpoints (a capture split across runs).
	if _, err := s.Checkpoint(ctx, &Checkpoint{Clock: t0 + 1, Hours: []Hour{{Start: t0/1e9 - 3600, Packets: 5}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = mustOpen(t, dir)
	defer s.Close()
	var n int
	if _, err := s.Pairs(ctx, 1<<20, func(p *beacon.PairState) { n++ }); err != nil || n != 50 {
		t.Fatalf("restored %d pairs (err %v), want 50", n, err)
	}
	if !s.Alerted("a1") || s.Alerted("a2") {
		t.Error("a delivered alert's id must be remembered across a restart, an approved one's not")
	}
	ev, err := s.Evidence(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Hours) != 1 || ev.Hours[0].Packets != 15 {
		t.Errorf("hours %+v, want one hour of 15 packets", ev.Hours)
	}
	if len(ev.Findings) != 2 || len(ev.Runs) != 1 {
		t.Errorf("findings %d runs %d, want 2 and 1", len(ev.Findings), len(ev.Runs))
	}
	for _, f := range ev.Findings {
		if f.Fate == ApprovedDestination && f.Rule != "*.jamfcloud.com" {
			t.Errorf("approved finding lost its rule: %+v", f)
		}
	}
}

func TestOpenRefuses(t *testing.T) {
	cases := []struct {
		name    string
		prepare func(t *testing.T, path string)
		want    error
		words   string
	}{
		{"garbage", func(t *testing.T, path string) {
			os.WriteFile(path, []byte(strings.Repeat("not a database ", 500)), 0o600)
		}, ErrUnusable, "move it aside"},
		{"newer", func(t *testing.T, path string) {
			s := mustOpen(t, filepath.Dir(path))
			if _, err := s.db.Exec(fmt.Sprintf("PRAGMA user_version = %d", len(migrations)+1)); err != nil {
				t.Fatal(err)
			}
			s.Close()
		}, ErrNewer, "newer launchtap"},
		{"foreign", func(t *testing.T, path string) {
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec("CREATE TABLE songs(title TEXT)"); err != nil {
				t.Fatal(err)
			}
			db.Close()
		}, ErrUnusable, "not launchtap's"},
		{"truncated", func(t *testing.T, path string) {
			s := mustOpen(t, filepath.Dir(path))
			if _, err := s.Checkpoint(context.Background(), &Checkpoint{Clock: t0, Pairs: pairs(2000, t0)}); err != nil {
				t.Fatal(err)
			}
			s.db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
			s.Close()
			fi, _ := os.Stat(path)
			b, _ := os.ReadFile(path)
			// Overwrite pages in the middle: the b-tree no longer checks out.
			for i := int(fi.Size()) / 3; i < int(fi.Size())/2; i++ {
				b[i] = 0x5a
			}
			os.WriteFile(path, b, 0o600)
		}, ErrUnusable, "restore it from a backup"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			c.prepare(t, path)
			before, _ := os.ReadFile(path)
			_, err := Open(dir, Options{})
			if !errors.Is(err, c.want) {
				t.Fatalf("Open: %v, want %v", err, c.want)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || !strings.Contains(msg, path) || !strings.Contains(msg, c.words) {
				t.Errorf("error %q: want one line naming %s and saying %q", msg, path, c.words)
			}
			if after, _ := os.ReadFile(path); string(after) != string(before) {
				t.Error("the refused file was modified")
			}
		})
	}
}

func TestSecondWriterRefused(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	defer s.Close()
	if _, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Open: %v, want in use", err)
	}
	r, err := Open(dir, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("a reader must open while the sensor runs: %v", err)
	}
	r.Close()
}

func TestRetainPrunes(t *testing.T) {
	s, err := Open(t.TempDir(), Options{Retain: 24 * time.Hour, MaxPairs: 30})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	old := t0 - int64(48*time.Hour)
	s.Record(testAlert("old", old), string(Alerted), "", "")
	if _, err := s.Checkpoint(ctx, &Checkpoint{Clock: old, Pairs: pairs(10, old), Hours: []Hour{{Start: old / 1e9, Packets: 1}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Checkpoint(ctx, &Checkpoint{Clock: t0, Pairs: pairs(40, t0)[10:], Hours: []Hour{{Start: t0 / 1e9, Packets: 1}}}); err != nil {
		t.Fatal(err)
	}
	var n int
	s.Pairs(ctx, 1<<20, func(*beacon.PairState) { n++ })
	ev, _ := s.Evidence(ctx, 0)
	if n != 30 || len(ev.Findings) != 0 || len(ev.Hours) != 1 {
		t.Errorf("after pruning: %d pairs, %d findings, %d hours; want 30, 0, 1", n, len(ev.Findings), len(ev.Hours))
	}
}

// The child half of TestKillDuringCheckpoint: commit checkpoint A, then
// start checkpoint B and stop just before its commit, or (mode "loop")
// checkpoint over and over until killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv("LAUNCHTAP_STATE_CHILD"); dir != "" {
		os.Exit(child(dir, os.Getenv("LAUNCHTAP_STATE_MODE")))
	}
	os.Exit(m.Run())
}

func child(dir, mode string) int {
	s, err := Open(dir, Options{})
	if err != nil {
		fmt.Println("open:", err)
		return 1
	}
	ctx := context.Background()
	if _, err := s.Checkpoint(ctx, &Checkpoint{Clock: t0, Pairs: pairs(100, t0)}); err != nil {
		fmt.Println("A:", err)
		return 1
	}
	if mode == "loop" {
		fmt.Println("looping")
		for i := 1; ; i++ {
			s.Checkpoint(ctx, &Checkpoint{Clock: t0 + int64(i), Pairs: pairs(100+i*50, t0+int64(i))})
		}
	}
	s.testHook = func() {
		fmt.Println("committing")
		select {} // the parent kills us here
	}
	s.Record(testAlert("b", t0), string(Alerted), "", "")
	s.Checkpoint(ctx, &Checkpoint{Clock: t0 + 1, Pairs: pairs(5000, t0+1)})
	return 1
}

func TestKillDuringCheckpoint(t *testing.T) {
	for _, mode := range []string{"commit", "loop"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "LAUNCHTAP_STATE_CHILD="+dir, "LAUNCHTAP_STATE_MODE="+mode)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line, _ := bufio.NewReader(out).ReadString('\n')
			if mode == "loop" {
				time.Sleep(300 * time.Millisecond) // somewhere inside some checkpoint
			}
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			if want := map[string]string{"commit": "committing\n", "loop": "looping\n"}[mode]; line != want {
				t.Fatalf("child said %q, want %q", line, want)
			}
			s, err := Open(dir, Options{})
			if err != nil {
				t.Fatalf("after kill -9 the previous checkpoint must open: %v", err)
			}
			defer s.Close()
			ctx := context.Background()
			var n int
			if _, err := s.Pairs(ctx, 1<<20, func(*beacon.PairState) { n++ }); err != nil {
				t.Fatal(err)
			}
			clock := s.Clock(ctx)
			switch mode {
			case "commit":
				if n != 100 || clock != t0 || s.Alerted("b") {
					t.Errorf("after a kill before commit: %d pairs, clock %d, alert b remembered %v; want checkpoint A whole (100, %d, false)", n, clock, s.Alerted("b"), t0)
				}
			case "loop":
				// Whichever checkpoint committed last is there, whole.
				i := clock - t0
				if want := 100 + int(i)*50; n != want {
					t.Errorf("after a kill mid-loop: clock says checkpoint %d (%d pairs) but %d pairs are there", i, want, n)
				}
				t.Logf("killed after checkpoint %d committed", i)
			}
			if _, err := s.Checkpoint(ctx, &Checkpoint{Clock: t0 + 1<<20, Pairs: pairs(10, t0+1<<20)}); err != nil {
				t.Errorf("checkpoint after recovery: %v", err)
			}
		})
	}
}

// BenchmarkCheckpoint measures one checkpoint of N changed pairs plus an
// hour of coverage, 50 host-hours and 20 alert fates, into a store already
// holding 100 000 pairs.
func BenchmarkCheckpoint(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			s := mustOpen(b, b.TempDir())
			defer s.Close()
			ctx := context.Background()
			if _, err := s.Checkpoint(ctx, &Checkpoint{Clock: t0, Pairs: pairs(100000, t0)}); err != nil {
				b.Fatal(err)
			}
			ps := pairs(n, t0)
			hh := make([]HostHour, 50)
			for i := range hh {
				hh[i] = HostHour{IP: fmt.Sprintf("10.0.0.%d", i), Start: t0 / 1e9, Sessions: 9}
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := 0; j < 20; j++ {
					s.Record(testAlert(fmt.Sprintf("%d-%d", i, j), t0), string(Alerted), "", "")
				}
				if _, err := s.Checkpoint(ctx, &Checkpoint{Clock: t0 + int64(i), Pairs: ps, Hours: []Hour{{Start: t0 / 1e9, Packets: 1}}, HostHours: hh}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(s.Size())/(1<<20), "MB-on-disk")
		})
	}
	// What a restart needs besides the pairs: an office of 1 000 active
	// hosts for a minute — each host's table state and binding, and 10 000
	// DNS answers read — on top of 1 000 changed pairs.
	b.Run("1000+hosts1000+dns10000", func(b *testing.B) {
		s := mustOpen(b, b.TempDir())
		defer s.Close()
		ctx := context.Background()
		if _, err := s.Checkpoint(ctx, &Checkpoint{Clock: t0, Pairs: pairs(100000, t0)}); err != nil {
			b.Fatal(err)
		}
		ps := pairs(1000, t0)
		hs := make([]*hostid.HostState, 1000)
		bs := make([]hostid.BindingState, 1000)
		for i := range hs {
			h := macHost(byte(i), t0)
			h.MAC[4], h.Addrs[0].Addr = byte(i>>8), netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
			for k := 1; k < 6; k++ { // a typical Mac: SYN, DHCP, mDNS, DNS evidence
				e := h.Evidence[0]
				e.Key, e.Text = uint32(27+k), fmt.Sprintf("%s #%d", e.Text, k)
				h.Evidence = append(h.Evidence, e)
			}
			hs[i] = h
			bs[i] = hostid.BindingState{Addr: h.Addrs[0].Addr, MAC: h.MAC, Until: t0 + int64(time.Hour), DHCP: true}
		}
		as := make([]dnstrack.Answer, 10000)
		for i := range as {
			as[i] = dnstrack.Answer{Client: netip.AddrFrom4([4]byte{10, 0, byte(i % 1000 >> 8), byte(i % 1000)}),
				Addr: netip.AddrFrom4([4]byte{203, byte(i >> 16), byte(i >> 8), byte(i)}), Name: fmt.Sprintf("n%d.cdn.example.net", i%3000),
				At: t0, Expires: t0 + int64(time.Hour)}
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			for j := range as {
				as[j].At = t0 + int64(i)
			}
			if _, err := s.Checkpoint(ctx, &Checkpoint{Clock: t0 + int64(i), Pairs: ps, HostStates: hs, Bindings: bs, DNSAnswers: as}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(s.Size())/(1<<20), "MB-on-disk")
	})
}

// A state file of schema 1 (before named_wire) is migrated on open, keeps
// its rows, and takes the new column.
func TestMigratesSchema1(t *testing.T) {
	dir := t.TempDir()
	db, err := sql.Open("sqlite", filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(migrations[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(fmt.Sprintf("INSERT INTO coverage(hour, sessions, unnamed) VALUES (3600, 7, 2); PRAGMA user_version = 1; PRAGMA application_id = %d", appID)); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s := mustOpen(t, dir)
	defer s.Close()
	var ver, sessions, wire int64
	if err := s.db.QueryRow("PRAGMA user_version").Scan(&ver); err != nil || ver != int64(len(migrations)) {
		t.Fatalf("schema %d (%v), want %d", ver, err, len(migrations))
	}
	if err := s.db.QueryRow("SELECT sessions, named_wire FROM coverage WHERE hour = 3600").Scan(&sessions, &wire); err != nil || sessions != 7 || wire != 0 {
		t.Fatalf("row after migration: sessions %d, named_wire %d, %v", sessions, wire, err)
	}
}
