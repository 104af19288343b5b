package pipeline

import (
	"bytes"
	"sync"
	"testing"

	"github.com/launchtap/launchtap/internal/floodcap"
	"github.com/launchtap/launchtap/internal/synth"
)

var floodBench = sync.OnceValues(func() ([]byte, error) {
	var buf bytes.Buffer
	w, err := synth.NewWriter(&buf, false)
	if err != nil {
		return nil, err
	}
	if err := floodcap.Write(w, floodcap.Options{Packets: 1_000_000}); err != nil {
		return nil, err
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
})

// BenchmarkReplayFlood measures the whole data path on one worker under a
// port scan of 1 M distinct destinations (far beyond --max-sessions, about
// the default --max-pairs): every packet a new session and a new pair. One
// op is one packet.
func BenchmarkReplayFlood(b *testing.B) {
	data, err := floodBench()
	if err != nil {
		b.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Workers = 1
	benchReplay(b, cfg, data)
}
