package outbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func entry(i int) Entry {
	return Entry{Subject: "launchtap.obs.1.beat", MsgID: fmt.Sprintf("s-%d", i), Frame: []byte(fmt.Sprintf("frame %06d", i))}
}

func mustOpen(t *testing.T, dir string, max int64) *Outbox {
	t.Helper()
	o, err := Open(dir, max, nil)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// drain reads everything pending, committing after each batch, and returns
// the message ids in order.
func drain(t *testing.T, o *Outbox) []string {
	t.Helper()
	var ids []string
	for {
		es, err := o.Next(7, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			return ids
		}
		for _, e := range es {
			ids = append(ids, e.MsgID)
			var i int
			if _, err := fmt.Sscanf(e.MsgID, "s-%d", &i); err != nil || string(e.Frame) != fmt.Sprintf("frame %06d", i) {
				t.Fatalf("entry %s has frame %q", e.MsgID, e.Frame)
			}
		}
		if err := o.Commit(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	o := mustOpen(t, dir, 0)
	for i := range 100 {
		if err := o.Append(entry(i)); err != nil {
			t.Fatal(err)
		}
	}
	// Read 30, acknowledge them; read 10 more without acknowledging (a
	// send in flight when the sensor stopped).
	es, _ := o.Next(30, 1<<20)
	if len(es) != 30 || es[0].MsgID != "s-0" {
		t.Fatalf("first batch: %d entries from %v", len(es), es[0].MsgID)
	}
	if err := o.Commit(); err != nil {
		t.Fatal(err)
	}
	if es, _ = o.Next(10, 1<<20); len(es) != 10 {
		t.Fatalf("second batch: %d", len(es))
	}
	if st := o.Stats(); st.Pending != 70 || st.Sent != 30 || st.Appended != 100 {
		t.Fatalf("stats %+v", st)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}

	o = mustOpen(t, dir, 0)
	defer o.Close()
	if st := o.Stats(); st.Pending != 70 {
		t.Fatalf("after reopening: %d pending, want 70", st.Pending)
	}
	ids := drain(t, o)
	if len(ids) != 70 || ids[0] != "s-30" || ids[69] != "s-99" {
		t.Fatalf("after reopening read %d entries %v…%v, want s-30…s-99", len(ids), ids[0], ids[len(ids)-1])
	}
	if st := o.Stats(); st.Pending != 0 || st.Sent != 70 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRewind(t *testing.T) {
	o := mustOpen(t, t.TempDir(), 0)
	defer o.Close()
	for i := range 5 {
		_ = o.Append(entry(i))
	}
	a, _ := o.Next(3, 1<<20)
	o.Rewind()
	b, _ := o.Next(3, 1<<20)
	if a[0].MsgID != b[0].MsgID || a[2].MsgID != b[2].MsgID {
		t.Fatalf("rewind read %v then %v", a, b)
	}
}

func TestBoundDropsOldest(t *testing.T) {
	dir := t.TempDir()
	const max = 256 << 10
	o := mustOpen(t, dir, max)
	big := make([]byte, 1000)
	const n = 2000
	for i := range n {
		e := entry(i)
		e.Frame = append([]byte(fmt.Sprintf("frame %06d", i)), big...)
		if err := o.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	st := o.Stats()
	if st.Dropped == 0 || st.Pending+st.Dropped != n || st.PendingBytes > max {
		t.Fatalf("stats %+v: want drops, pending+dropped = %d, at most %d bytes", st, n, max)
	}
	var disk int64
	files, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	for _, f := range files {
		fi, _ := os.Stat(f)
		disk += fi.Size()
	}
	if disk > max {
		t.Fatalf("%d bytes of segments on disk, bound %d", disk, max)
	}
	es, _ := o.Next(1, 1)
	if want := fmt.Sprintf("s-%d", st.Dropped); es[0].MsgID != want {
		t.Fatalf("oldest kept is %s, want %s (the newest kept, the oldest dropped)", es[0].MsgID, want)
	}
	o.Close()
}

func TestTornTail(t *testing.T) {
	dir := t.TempDir()
	o := mustOpen(t, dir, 0)
	for i := range 10 {
		_ = o.Append(entry(i))
	}
	o.Close()
	seg := filepath.Join(dir, "0000000000000001.seg")
	fi, _ := os.Stat(seg)
	if err := os.Truncate(seg, fi.Size()-3); err != nil {
		t.Fatal(err)
	}
	o = mustOpen(t, dir, 0)
	if st := o.Stats(); st.Pending != 9 || st.Corrupt != 1 {
		t.Fatalf("stats after a torn write %+v, want 9 pending, 1 corrupt", st)
	}
	// Appends after the cut follow the last good record.
	_ = o.Append(entry(10))
	ids := drain(t, o)
	if len(ids) != 10 || ids[8] != "s-8" || ids[9] != "s-10" {
		t.Fatalf("read %v", ids)
	}
	o.Close()
}

func TestDamagedHead(t *testing.T) {
	dir := t.TempDir()
	o := mustOpen(t, dir, 0)
	for i := range 10 {
		_ = o.Append(entry(i))
	}
	_, _ = o.Next(4, 1<<20)
	_ = o.Commit()
	o.Close()
	if err := os.WriteFile(filepath.Join(dir, "head"), []byte("garbage garbage garbage garb"), 0o640); err != nil {
		t.Fatal(err)
	}
	o = mustOpen(t, dir, 0)
	defer o.Close()
	// Sent again from the oldest: JetStream's de-duplication absorbs it.
	if ids := drain(t, o); len(ids) != 10 {
		t.Fatalf("read %d after a damaged head, want all 10", len(ids))
	}
}

func TestRefused(t *testing.T) {
	o := mustOpen(t, t.TempDir(), 0)
	if err := o.Append(Entry{Subject: string(make([]byte, 300))}); err == nil {
		t.Fatal("a 300-byte subject was accepted")
	}
	if err := o.Append(Entry{Frame: make([]byte, maxRecord)}); err == nil {
		t.Fatal("an oversized frame was accepted")
	}
	o.Close()
	if err := o.Append(entry(1)); err != ErrClosed {
		t.Fatalf("append after close: %v", err)
	}
}

func TestOneProcess(t *testing.T) {
	dir := t.TempDir()
	o := mustOpen(t, dir, 0)
	if _, err := Open(dir, 0, nil); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second open: %v, want in use", err)
	}
	o.Close()
	mustOpen(t, dir, 0).Close()
}
