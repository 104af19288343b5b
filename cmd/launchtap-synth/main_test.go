package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "d.pcapng")
	lab := filepath.Join(dir, "d.json")
	hosts := filepath.Join(dir, "h.json")
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"list", []string{"-list"}, 0, "demo", ""},
		{"no output", []string{"-scenario", "demo"}, 2, "", "usage"},
		{"unknown scenario", []string{"-scenario", "nope", "-o", out}, 2, "", `unknown scenario "nope"`},
		{"bad extension", []string{"-o", filepath.Join(dir, "x.cap")}, 1, "", ".pcap or .pcapng"},
		{"writes", []string{"-scenario", "demo", "-seed", "3", "-packets", "200", "-o", out, "-labels", lab, "-hosts", hosts}, 0, "", "wrote capture"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var so, se bytes.Buffer
			if code := run(tt.args, &so, &se); code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.code, se.String())
			}
			if !strings.Contains(so.String(), tt.stdout) || !strings.Contains(se.String(), tt.stderr) {
				t.Fatalf("stdout %q stderr %q; want %q / %q", so.String(), se.String(), tt.stdout, tt.stderr)
			}
		})
	}
	if st, err := os.Stat(out); err != nil || st.Size() == 0 {
		t.Fatalf("capture not written: %v", err)
	}
	if b, err := os.ReadFile(lab); err != nil || !bytes.HasPrefix(b, []byte("[")) {
		t.Fatalf("labels not written: %v", err)
	}
	if b, err := os.ReadFile(hosts); err != nil || !bytes.Contains(b, []byte(`"hostname": "alices-mbp"`)) {
		t.Fatalf("host labels not written: %v", err)
	}
}
