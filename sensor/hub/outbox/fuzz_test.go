package outbox

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpen opens an outbox whose segment and head hold arbitrary bytes (a
// damaged disk): it must open, count what it cannot read, and read the rest
// without panicking.
func FuzzOpen(f *testing.F) {
	dir := f.TempDir()
	o, err := Open(dir, 0, nil)
	if err != nil {
		f.Fatal(err)
	}
	for i := range 3 {
		_ = o.Append(entry(i))
	}
	_, _ = o.Next(1, 1)
	_ = o.Commit()
	o.Close()
	seg, _ := os.ReadFile(filepath.Join(dir, "0000000000000001.seg"))
	head, _ := os.ReadFile(filepath.Join(dir, "head"))
	f.Add(seg, head)
	f.Add(seg[:len(seg)-1], []byte{})
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 0, 0}, head)
	f.Fuzz(func(t *testing.T, seg, head []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "0000000000000001.seg"), seg, 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "head"), head, 0o640); err != nil {
			t.Fatal(err)
		}
		o, err := Open(dir, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		pending := o.Stats().Pending
		var n uint64
		for {
			es, err := o.Next(16, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if len(es) == 0 {
				break
			}
			n += uint64(len(es))
			_ = o.Commit()
		}
		if n != pending {
			t.Fatalf("read %d entries, %d pending on open", n, pending)
		}
		if err := o.Append(entry(1)); err != nil {
			t.Fatal(err)
		}
	})
}
