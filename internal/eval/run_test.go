package eval

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadAlertsSkipsBlankLinesAndNamesTheBadOne(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.jsonl")
	line := `{"ts":"2026-01-02T03:04:05Z","src_ip":"10.0.0.1","dst_fqdn":"a.example","dst_port":443,"proto":"tcp","period_s":60,"beats":6}`
	if err := os.WriteFile(good, []byte(line+"\n\n"+line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := readAlerts(good)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].DstFQDN != "a.example" || got[1].PeriodS != 60 || got[1].Beats != 6 {
		t.Fatalf("readAlerts = %+v", got)
	}
	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, []byte(line+"\n{not json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readAlerts(bad); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("readAlerts of a bad line: %v, want an error naming line 2", err)
	}
	if _, err := readAlerts(filepath.Join(dir, "missing.jsonl")); err == nil {
		t.Fatal("readAlerts of a missing file: no error")
	}
}
