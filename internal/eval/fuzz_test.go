package eval

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/launchtap/launchtap/internal/synth"
	"github.com/launchtap/launchtap/internal/testenv"
	"github.com/launchtap/launchtap/sensor/netset"
)

// FuzzConnections feeds arbitrary bytes to the capture re-reader that feeds
// the RITA comparison: it must return an error or records, never panic.
func FuzzConnections(f *testing.F) {
	var gen bytes.Buffer
	w, err := synth.NewWriter(&gen, false)
	if err != nil {
		f.Fatal(err)
	}
	if _, _, err := synth.GenerateWith("demo", 1, w, synth.Options{Packets: 300}); err != nil {
		f.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		f.Fatal(err)
	}
	f.Add(gen.Bytes())
	real := filepath.Join(testenv.Captures(), "real")
	for _, name := range []string{"DHCP.pcap", "ipv6.pcapng", "macos_tcp_flags.pcap", "single-packets.pcap", "gre-sample.pcap"} {
		if b, err := os.ReadFile(filepath.Join(real, name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("\xd4\xc3\xb2\xa1\x02\x00\x04\x00"))
	f.Add([]byte("not a capture"))
	internal := netset.MustParse(netset.DefaultInternal)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "in.pcap")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		conns, first, last, err := connections(p, internal)
		if err != nil {
			return
		}
		if last < first {
			t.Fatalf("dataset ends (%d) before it starts (%d)", last, first)
		}
		ritaPairs(conns, first, last)
	})
}
