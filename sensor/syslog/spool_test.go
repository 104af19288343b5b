package syslog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

func openTestSpool(t testing.TB, dir string, max int64, corrupt *int) *spool {
	t.Helper()
	s, err := openSpool(dir, max, SyncAlways, slog.New(slog.DiscardHandler), func() { *corrupt++ })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func rec(i int) []byte { return []byte(fmt.Sprintf("<165>1 - h launchtap - BEACON - message %06d", i)) }

func drain(t testing.TB, s *spool) [][]byte {
	t.Helper()
	var out [][]byte
	for {
		r, err := s.next()
		if err != nil {
			t.Fatal(err)
		}
		if r == nil {
			return out
		}
		out = append(out, r)
	}
}

func segFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "seg-*.spl"))
	sort.Strings(m)
	return m
}

func TestSpoolReplayAfterRestart(t *testing.T) {
	dir := t.TempDir()
	var corrupt int
	s := openTestSpool(t, dir, 1<<20, &corrupt)
	for i := 0; i < 100; i++ {
		if err := s.append(rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 30; i++ {
		if r, _ := s.next(); !bytes.Equal(r, rec(i)) {
			t.Fatalf("next %d = %q", i, r)
		}
	}
	if err := s.commit(30); err != nil {
		t.Fatal(err)
	}
	// Ten more handed out but never confirmed: they must come back.
	for i := 0; i < 10; i++ {
		s.next()
	}
	if s.depth() != 70 || s.unsent() != 60 {
		t.Fatalf("depth %d unsent %d", s.depth(), s.unsent())
	}
	if err := s.close(); err != nil {
		t.Fatal(err)
	}
	s = openTestSpool(t, dir, 1<<20, &corrupt)
	if s.depth() != 70 {
		t.Fatalf("after restart depth %d, want 70", s.depth())
	}
	got := drain(t, s)
	if len(got) != 70 {
		t.Fatalf("replayed %d, want 70", len(got))
	}
	for i, r := range got {
		if !bytes.Equal(r, rec(30+i)) {
			t.Fatalf("replay %d = %q, want %q", i, r, rec(30+i))
		}
	}
	// New appends go after the replayed ones.
	s.append(rec(100))
	if r, _ := s.next(); !bytes.Equal(r, rec(100)) {
		t.Fatalf("after replay: %q", r)
	}
	s.commit(71)
	if s.depth() != 0 || corrupt != 0 {
		t.Fatalf("depth %d corrupt %d", s.depth(), corrupt)
	}
	s.close()
}

func TestSpoolRewind(t *testing.T) {
	var corrupt int
	s := openTestSpool(t, t.TempDir(), 1<<20, &corrupt)
	for i := 0; i < 5; i++ {
		s.append(rec(i))
	}
	s.next()
	s.next()
	s.commit(1)
	s.next()
	if n := s.rewind(); n != 2 {
		t.Fatalf("rewind = %d, want 2", n)
	}
	got := drain(t, s)
	if len(got) != 4 || !bytes.Equal(got[0], rec(1)) {
		t.Fatalf("after rewind: %d records, first %q", len(got), got[0])
	}
}

func TestSpoolBoundAndSegments(t *testing.T) {
	dir := t.TempDir()
	var corrupt int
	big := bytes.Repeat([]byte("x"), 10000)
	s := openTestSpool(t, dir, 256<<10, &corrupt) // 64 KiB segments
	n := 0
	for ; n < 100; n++ {
		err := s.append(append([]byte(fmt.Sprint(n, " ")), big...))
		if errors.Is(err, errFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if n < 20 || n > 26 {
		t.Fatalf("bound allowed %d records of 10 kB in 256 KiB", n)
	}
	if len(segFiles(t, dir)) < 4 {
		t.Fatalf("want several segments, have %v", segFiles(t, dir))
	}
	got := drain(t, s)
	if len(got) != n {
		t.Fatalf("drained %d, want %d", len(got), n)
	}
	s.commit(n)
	if files := segFiles(t, dir); len(files) != 1 {
		t.Fatalf("delivered segments not deleted: %v", files)
	}
	if err := s.append(rec(1)); err != nil {
		t.Fatalf("append after drain: %v", err)
	}
	s.close()
}

func TestSpoolCorruption(t *testing.T) {
	for _, tc := range []struct {
		name    string
		damage  func(t *testing.T, dir string)
		replay  int // records replayed after the damage
		corrupt int
	}{
		{"torn tail", func(t *testing.T, dir string) {
			f := segFiles(t, dir)[0]
			st, _ := os.Stat(f)
			os.Truncate(f, st.Size()-5)
		}, 9, 1},
		{"flipped byte in record 5", func(t *testing.T, dir string) {
			f := segFiles(t, dir)[0]
			b, _ := os.ReadFile(f)
			off := len(segMagic) + 5*(recHdrLen+len(rec(0))) + recHdrLen + 3
			b[off] ^= 0xff
			os.WriteFile(f, b, 0o600)
		}, 5, 1},
		{"absurd length", func(t *testing.T, dir string) {
			f := segFiles(t, dir)[0]
			b, _ := os.ReadFile(f)
			binary.BigEndian.PutUint32(b[len(segMagic):], 0xffffffff)
			os.WriteFile(f, b, 0o600)
		}, 0, 1},
		{"bad segment header", func(t *testing.T, dir string) {
			os.WriteFile(segFiles(t, dir)[0], []byte("garbage that is not a segment"), 0o600)
		}, 0, 1},
		{"garbage cursor", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, cursorName), []byte("nope"), 0o600)
		}, 10, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var corrupt int
			s := openTestSpool(t, dir, 1<<20, &corrupt)
			for i := 0; i < 10; i++ {
				s.append(rec(i))
			}
			s.writeCursor(true)
			s.close()
			tc.damage(t, dir)
			s = openTestSpool(t, dir, 1<<20, &corrupt)
			got := drain(t, s)
			if len(got) != tc.replay || corrupt != tc.corrupt {
				t.Fatalf("replayed %d (want %d), corrupt %d (want %d)", len(got), tc.replay, corrupt, tc.corrupt)
			}
			for i, r := range got {
				if !bytes.Equal(r, rec(i)) {
					t.Fatalf("record %d = %q", i, r)
				}
			}
			// The spool keeps working after damage.
			if err := s.append(rec(99)); err != nil {
				t.Fatal(err)
			}
			if r, _ := s.next(); !bytes.Equal(r, rec(99)) {
				t.Fatalf("after damage: %q", r)
			}
			s.commit(len(got) + 1)
			s.close()
		})
	}
}

// FuzzSpoolOpen feeds arbitrary segment and cursor files to openSpool: it
// must never panic or loop, and only hand out records whose CRC matches.
func FuzzSpoolOpen(f *testing.F) {
	var good bytes.Buffer
	good.WriteString(segMagic)
	for i := 0; i < 3; i++ {
		r := rec(i)
		good.Write(binary.BigEndian.AppendUint32(nil, uint32(len(r))))
		good.Write(binary.BigEndian.AppendUint32(nil, crc32.Checksum(r, crcTable)))
		good.Write(r)
	}
	cur := []byte(cursorMagic)
	cur = binary.BigEndian.AppendUint64(cur, 1)
	cur = binary.BigEndian.AppendUint64(cur, uint64(len(segMagic)))
	cur = binary.BigEndian.AppendUint32(cur, crc32.Checksum(cur, crcTable))
	f.Add(good.Bytes(), cur)
	f.Add(good.Bytes()[:good.Len()-4], []byte{})
	f.Add([]byte(segMagic+"\x00\x00\x00\x00\x00\x00\x00\x00"), cur[:10])
	f.Add([]byte("LTSPOOL"), []byte(cursorMagic+"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, seg, cursor []byte) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "seg-00000000000000000001.spl"), seg, 0o600)
		if len(cursor) > 0 {
			os.WriteFile(filepath.Join(dir, cursorName), cursor, 0o600)
		}
		var corrupt int
		s := openTestSpool(t, dir, 1<<20, &corrupt)
		got := drain(t, s)
		if len(got) > len(seg)/recHdrLen {
			t.Fatalf("%d records from %d bytes", len(got), len(seg))
		}
		s.commit(len(got))
		if err := s.append([]byte("after")); err != nil {
			t.Fatal(err)
		}
		if r, _ := s.next(); string(r) != "after" {
			t.Fatalf("append after fuzzed open: %q", r)
		}
		s.close()
	})
}

func TestSpoolLocked(t *testing.T) {
	dir := t.TempDir()
	var corrupt int
	s := openTestSpool(t, dir, 1<<20, &corrupt)
	if _, err := openSpool(dir, 1<<20, SyncAlways, slog.New(slog.DiscardHandler), nil); err == nil {
		t.Fatal("second open of a spool in use succeeded")
	}
	s.close()
	s = openTestSpool(t, dir, 1<<20, &corrupt)
	s.close()
}

// TestSpoolSmallBoundKeepsWorking: a spool smaller than a segment keeps
// accepting messages as long as they are delivered.
func TestSpoolSmallBoundKeepsWorking(t *testing.T) {
	dir := t.TempDir()
	var corrupt int
	s := openTestSpool(t, dir, 4<<10, &corrupt)
	for i := 0; i < 500; i++ { // about 7 times the bound

		if err := s.append(rec(i)); err != nil {
			t.Fatalf("append %d: %v (total %d)", i, err, s.total)
		}
		if r, _ := s.next(); !bytes.Equal(r, rec(i)) {
			t.Fatalf("next %d = %q", i, r)
		}
		s.commit(1)
	}
	if n := len(segFiles(t, dir)); n > 2 {
		t.Errorf("%d segment files left", n)
	}
	s.close()
	s = openTestSpool(t, dir, 4<<10, &corrupt)
	if s.depth() != 0 || len(drain(t, s)) != 0 {
		t.Errorf("delivered records replayed after restart")
	}
	s.close()
}

// TestSpoolSyncPolicies: with interval and never, the cursor reaches the
// disk at sync (the worker calls it each second and at close).
func TestSpoolSyncPolicies(t *testing.T) {
	for _, mode := range []string{SyncAlways, SyncInterval, SyncNever} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			s, err := openSpool(dir, 1<<20, mode, slog.New(slog.DiscardHandler), nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 5; i++ {
				s.append(rec(i))
			}
			drain(t, s)
			s.commit(3)
			if err := s.sync(); err != nil {
				t.Fatal(err)
			}
			// Simulate a crash after the sync: no close.
			s.unlock()
			for _, seg := range s.segs {
				seg.f.Close()
			}
			var corrupt int
			s2 := openTestSpool(t, dir, 1<<20, &corrupt)
			got := drain(t, s2)
			if len(got) != 2 || !bytes.Equal(got[0], rec(3)) || corrupt != 0 {
				t.Fatalf("after crash: %d records, corrupt %d", len(got), corrupt)
			}
			s2.close()
		})
	}
}
