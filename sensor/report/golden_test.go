package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// The JSON report of a small generated office is a contract with scripts:
// it changes only on purpose (go test -update).
func TestJSONGolden(t *testing.T) {
	dir := t.TempDir()
	office(t, dir, 4, 2)
	r := build(t, dir, 4)
	r.Generated, r.StateFile, r.StateSize = time.Time{}, "launchtap.db", 0
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "office.golden.json")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("report differs from %s (go test -update if intended):\n%s", golden, buf.String())
	}
}
