package pipeline

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/launchtap/launchtap/internal/floodcap"
	"github.com/launchtap/launchtap/internal/synth"
	"github.com/launchtap/launchtap/sensor/capture"
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
	b.ReportAllocs()
	var packets uint64
	b.ResetTimer()
	for done := 0; done < b.N; {
		cfg := DefaultConfig()
		cfg.Workers = 1
		p, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		src, err := capture.Options{Stdin: bytes.NewReader(data)}.Open("-")
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			for range p.Alerts() {
			}
		}()
		if err := p.Replay(context.Background(), src); err != nil {
			b.Fatal(err)
		}
		n := p.Stats().Frames
		packets += n
		done += int(n)
	}
	b.ReportMetric(float64(packets)/b.Elapsed().Seconds(), "pkts/s")
}
