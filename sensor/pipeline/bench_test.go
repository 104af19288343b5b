package pipeline

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/launchtap/launchtap/internal/synth"
	"github.com/launchtap/launchtap/sensor/capture"
)

var benchCapture = sync.OnceValues(func() ([]byte, error) {
	var buf bytes.Buffer
	w, err := synth.NewWriter(&buf, false)
	if err != nil {
		return nil, err
	}
	if _, _, err := synth.GenerateWith("bench", 1, w, synth.Options{Packets: 200_000}); err != nil {
		return nil, err
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
})

// BenchmarkReplay measures the whole data path — read, decode, shard, track,
// detect — over a generated capture held in memory. One op is one packet.
// inline-nodetect is the same without the detector, to show what scoring costs.
func BenchmarkReplay(b *testing.B) {
	data, err := benchCapture()
	if err != nil {
		b.Fatal(err)
	}
	for _, run := range []struct {
		name     string
		workers  int
		noDetect bool
		hub      bool // beats handed to a hub sink that discards them (--hub-url's cost)
	}{{"inline", 1, false, false}, {"inline-nodetect", 1, true, false}, {"inline-hub", 1, false, true}, {"2workers", 2, false, false}} {
		b.Run(run.name, func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.Workers, cfg.NoDetection = run.workers, run.noDetect
			if run.hub {
				cfg.Hub = discardHub{}
			}
			benchReplay(b, cfg, data)
		})
	}
}

// benchReplay replays the capture data with cfg until b.N packets have
// been read, and reports packets per second. One op is one packet.
func benchReplay(b *testing.B, cfg Config, data []byte) {
	b.ReportAllocs()
	var packets uint64
	b.ResetTimer()
	for done := 0; done < b.N; {
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
