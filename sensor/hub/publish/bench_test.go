package publish

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/launchtap/launchtap/internal/natstest"
	"github.com/launchtap/launchtap/sensor/hub/link"
	"github.com/launchtap/launchtap/sensor/hub/outbox"
)

// BenchmarkPublish sends beats through the outbox to one in-process
// JetStream server until all are acknowledged: what one sensor can hand
// the hub. One op is one beat.
func BenchmarkPublish(b *testing.B) {
	c := natstest.Server(b)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	conn, err := link.Dial(link.Options{URL: c.URLs(), Log: log})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	ob, err := outbox.Open(b.TempDir(), 0, log)
	if err != nil {
		b.Fatal(err)
	}
	p := New(Config{Sensor: "tap-a", Outbox: ob, Log: log, Queue: 1 << 14})
	p.Start(conn.JS, conn.NC)
	all := beats("tap-a", 0, 512)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(all) {
		bs := append(all[:0:0], all[:min(len(all), b.N-i)]...)
		for j := range bs {
			bs[j].TS += int64(i) * int64(time.Second) // distinct beats, distinct frames
		}
		for !p.Beats(bs) {
			time.Sleep(50 * time.Microsecond)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		b.Fatal(err)
	}
	st := p.Stats()
	if st.SentRecords != uint64(b.N) {
		b.Fatalf("%d of %d beats acknowledged", st.SentRecords, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "beats/s")
}
