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

	"github.com/launchtap/launchtap/sensor/beacon"
	"github.com/launchtap/launchtap/sensor/dnstrack"
	"github.com/launchtap/launchtap/sensor/hostid"
)

// writeSchema2 leaves a state file as launchtap wrote it at schema 2 (before
// learned networks), with one pair and one coverage hour in it.
func writeSchema2(t *testing.T, dir string) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, m := range migrations[:2] {
		if _, err := db.Exec(m); err != nil {
			t.Fatal(err)
		}
	}
	b, err := pairs(1, t0)[0].MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO pairs(key, src, last_ns, state) VALUES ('k', '10.0.0.0', ?, ?)", t0, b); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(fmt.Sprintf("INSERT INTO coverage(hour, sessions, named_wire) VALUES (3600, 7, 3); PRAGMA user_version = 2; PRAGMA application_id = %d", appID)); err != nil {
		t.Fatal(err)
	}
}

// A schema-2 file is migrated on open, keeps its rows, and takes what the
// later schemas add.
func TestMigratesSchema2(t *testing.T) {
	dir := t.TempDir()
	writeSchema2(t, dir)
	s := mustOpen(t, dir)
	defer s.Close()
	ctx := context.Background()
	var ver, sessions, wire int64
	if err := s.db.QueryRow("PRAGMA user_version").Scan(&ver); err != nil || ver != int64(len(migrations)) {
		t.Fatalf("schema %d (%v), want %d", ver, err, len(migrations))
	}
	if err := s.db.QueryRow("SELECT sessions, named_wire FROM coverage WHERE hour = 3600").Scan(&sessions, &wire); err != nil || sessions != 7 || wire != 3 {
		t.Fatalf("row after migration: sessions %d, named_wire %d, %v", sessions, wire, err)
	}
	n := 0
	if _, err := s.Pairs(ctx, 10, func(*beacon.PairState) { n++ }); err != nil || n != 1 {
		t.Fatalf("pairs after migration: %d, %v", n, err)
	}
	c := &Checkpoint{Clock: t0, Learned: []LearnedNetwork{{Prefix: netip.MustParsePrefix("2001:db8:aa:1::/64"), First: t0 - int64(time.Hour)}},
		HostStates: []*hostid.HostState{macHost(1, t0)}, Bindings: []hostid.BindingState{binding(1, t0+int64(time.Hour))},
		DNSAnswers: []dnstrack.Answer{answer(1, "a.example", t0)}}
	if _, err := s.Checkpoint(ctx, c); err != nil {
		t.Fatalf("checkpoint after migration: %v", err)
	}
	hs, bs := readHosts(t, s)
	if len(hs) != 1 || len(bs) != 1 {
		t.Fatalf("after migration: %d host states, %d bindings", len(hs), len(bs))
	}
	if as := readAnswers(t, s); len(as) != 1 {
		t.Fatalf("after migration: %d DNS answers", len(as))
	}
}

func answer(i byte, name string, at int64) dnstrack.Answer {
	return dnstrack.Answer{Client: netip.AddrFrom4([4]byte{10, 0, 0, i}), Addr: netip.AddrFrom4([4]byte{203, 0, 113, i}), Name: name,
		At: at, Expires: at + int64(70*time.Minute)}
}

func readAnswers(t *testing.T, s *Store) []dnstrack.Answer {
	t.Helper()
	var as []dnstrack.Answer
	if bad, err := s.DNSAnswers(context.Background(), 1<<10, func(a dnstrack.Answer) { as = append(as, a) }); err != nil || bad != 0 {
		t.Fatal(bad, err)
	}
	return as
}

// DNS answers come back oldest first while live at the newest checkpoint;
// a later answer for the same client and address replaces the earlier, an
// older one written late does not; expired answers are pruned.
func TestDNSAnswers(t *testing.T) {
	s := mustOpen(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	a1, a2 := answer(1, "one.example", t0), answer(2, "two.example", t0+10)
	if _, err := s.Checkpoint(ctx, &Checkpoint{Clock: t0 + 10, DNSAnswers: []dnstrack.Answer{a2, a1}}); err != nil {
		t.Fatal(err)
	}
	a1b := answer(1, "renamed.example", t0+20)
	stale := answer(2, "stale.example", t0+5)
	if _, err := s.Checkpoint(ctx, &Checkpoint{Clock: t0 + 20, DNSAnswers: []dnstrack.Answer{a1b, stale}}); err != nil {
		t.Fatal(err)
	}
	if got := readAnswers(t, s); !slices.Equal(got, []dnstrack.Answer{a2, a1b}) {
		t.Fatalf("answers %+v", got)
	}
	if _, err := s.Checkpoint(ctx, &Checkpoint{Clock: a1b.Expires + 1}); err != nil {
		t.Fatal(err)
	}
	var n int
	s.db.QueryRow("SELECT count(*) FROM dns_answers").Scan(&n)
	if got := readAnswers(t, s); len(got) != 0 || n != 0 {
		t.Fatalf("after expiry: %+v, %d rows", got, n)
	}
}

func macHost(i byte, last int64) *hostid.HostState {
	return &hostid.HostState{MAC: [6]byte{0x3c, 0x22, 0xfb, 0, 0, i}, First: last - int64(time.Hour), Last: last,
		Addrs:    []hostid.AddrSeen{{Addr: netip.AddrFrom4([4]byte{10, 0, 0, i}), Last: last}},
		Evidence: []hostid.EvidenceState{{Key: 27, Kind: 0, Claim: 3, Weight: 3, Text: "TCP SYN matches 'Darwin'", Count: 4, First: last - 100, Last: last}},
		Signals:  []uint32{4}}
}

func binding(i byte, until int64) hostid.BindingState {
	return hostid.BindingState{Addr: netip.AddrFrom4([4]byte{10, 0, 0, i}), MAC: [6]byte{0x3c, 0x22, 0xfb, 0, 0, i}, Until: until, DHCP: true}
}

func readHosts(t *testing.T, s *Store) ([]*hostid.HostState, []hostid.BindingState) {
	t.Helper()
	var hs []*hostid.HostState
	var bs []hostid.BindingState
	ctx := context.Background()
	if bad, err := s.HostStates(ctx, 1<<10, func(h *hostid.HostState) { hs = append(hs, h) }); err != nil || bad != 0 {
		t.Fatal(bad, err)
	}
	if bad, err := s.Bindings(ctx, 1<<10, func(b hostid.BindingState) { bs = append(bs, b) }); err != nil || bad != 0 {
		t.Fatal(bad, err)
	}
	return hs, bs
}

// Host states come back as written, least recently observed first; a
// later checkpoint's copy replaces the earlier; a binding that expired by
// the newest checkpoint is not restored; a row that does not decode is
// skipped and counted.
func TestHostStates(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	ctx := context.Background()
	h1, h2 := macHost(1, t0+10), macHost(2, t0)
	if _, err := s.Checkpoint(ctx, &Checkpoint{Clock: t0 + 10, HostStates: []*hostid.HostState{h1, h2},
		Bindings: []hostid.BindingState{binding(1, t0+int64(time.Hour)), binding(2, t0+20)}}); err != nil {
		t.Fatal(err)
	}
	h2b := macHost(2, t0+30)
	h2b.Hostname, h2b.HostPrio = "alices-mbp", 3
	if _, err := s.Checkpoint(ctx, &Checkpoint{Clock: t0 + 30, HostStates: []*hostid.HostState{h2b}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec("INSERT INTO host_states(key, last_ns, state) VALUES ('mac junk', ?, '{')", t0); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = mustOpen(t, dir)
	defer s.Close()
	var hs []*hostid.HostState
	bad, err := s.HostStates(ctx, 10, func(h *hostid.HostState) { hs = append(hs, h) })
	if err != nil || bad != 1 {
		t.Fatalf("bad %d, err %v", bad, err)
	}
	if len(hs) != 2 || hs[0].Key() != h1.Key() || hs[1].Hostname != "alices-mbp" || hs[1].Evidence[0].Count != 4 {
		t.Fatalf("host states %+v", hs)
	}
	var bs []hostid.BindingState
	if _, err := s.Bindings(ctx, 10, func(b hostid.BindingState) { bs = append(bs, b) }); err != nil {
		t.Fatal(err)
	}
	if len(bs) != 1 || bs[0] != binding(1, t0+int64(time.Hour)) {
		t.Fatalf("bindings %+v", bs)
	}
}

// Learned networks keep when they were first learned across checkpoints
// and runs, and the report reads them with the configured networks.
func TestLearnedNetworks(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	ctx := context.Background()
	a, b := netip.MustParsePrefix("2001:db8:aa:1::/64"), netip.MustParsePrefix("2001:db8:bb::/56")
	internal := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	if _, err := s.Checkpoint(ctx, &Checkpoint{Clock: t0, Internal: internal, Learned: []LearnedNetwork{{Prefix: a, First: t0 - 100}}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = mustOpen(t, dir)
	defer s.Close()
	// The next run relearns a at a later time (its restore happened to miss
	// it) and learns b: a keeps its first time.
	if _, err := s.Checkpoint(ctx, &Checkpoint{Clock: t0 + 1000, Learned: []LearnedNetwork{{Prefix: a, First: t0 + 500}, {Prefix: b, First: t0 + 600}}}); err != nil {
		t.Fatal(err)
	}
	got, bad, err := s.LearnedNetworks(ctx, 64)
	if err != nil || bad != 0 {
		t.Fatal(bad, err)
	}
	slices.SortFunc(got, func(x, y LearnedNetwork) int { return x.Prefix.Addr().Compare(y.Prefix.Addr()) })
	want := []LearnedNetwork{{a, t0 - 100, t0 + 1000}, {b, t0 + 600, t0 + 1000}}
	if !slices.Equal(got, want) {
		t.Fatalf("learned %+v, want %+v", got, want)
	}
	ev, err := s.Evidence(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ev.Internal, []string{"10.0.0.0/8"}) || len(ev.Learned) != 2 {
		t.Fatalf("evidence: internal %v, learned %+v", ev.Internal, ev.Learned)
	}
	// Past --retain without being held, a learned network is pruned.
	if _, err := s.Checkpoint(ctx, &Checkpoint{Clock: t0 + int64(DefaultRetain) + 2000}); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.LearnedNetworks(ctx, 64); len(got) != 0 {
		t.Fatalf("after retain: %+v", got)
	}
}
