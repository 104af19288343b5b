package proc

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/launchtap/launchtap/internal/hubtest"
	"github.com/launchtap/launchtap/internal/natstest"
	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/host"
	"github.com/launchtap/launchtap/sensor/hub/link"
	"github.com/launchtap/launchtap/sensor/hub/merge"
	"github.com/launchtap/launchtap/sensor/hub/obs"
)

// BenchmarkHub measures what one hub process reads from JetStream, decodes,
// merges and scores, end to end: b.N beats of 4000 hosts (20 destinations
// each, irregular times), published beforehand in frames of 128 beats per
// partition as sensors batch them, then read by a process that claims all
// 64 partitions. It reports observations per second, and per CPU-second
// of the whole process (the in-process server's work included), which a
// shared machine's load does not distort.
func BenchmarkHub(b *testing.B) {
	s := natstest.Server(b)
	nc := hubtest.Connect(b, s.URLs())
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := link.EnsureStream(ctx, js); err != nil {
		b.Fatal(err)
	}
	const hosts, dests, perFrame = 4000, 20, 128
	ids := make([]string, hosts)
	parts := make([]int, hosts)
	for h := range ids {
		ids[h] = host.MACString([6]byte{0x3c, 0x22, 0xfb, 0, byte(h >> 8), byte(h)})
		parts[h] = obs.Partition(ids[h])
	}
	var w [obs.Partitions]obs.Writer
	var host [obs.Partitions]string
	flush := func(p int) {
		if w[p].Count() == 0 {
			return
		}
		frame := w[p].Bytes()
		if _, err := js.PublishAsync(obs.Subject(obs.KindBeat, host[p]), frame, jetstream.WithMsgID(obs.MsgID("bench", frame))); err != nil {
			b.Fatal(err)
		}
		w[p].Reset()
	}
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC).UnixNano()
	for i := 0; i < b.N; i++ {
		h, d := i%hosts, (i/hosts)%dests
		round := int64(i / (hosts * dests))
		x := uint64(i) * 0x9e3779b97f4a7c15
		var mac [6]byte
		mac[0], mac[1], mac[2], mac[4], mac[5] = 0x3c, 0x22, 0xfb, byte(h>>8), byte(h)
		p := parts[h]
		host[p] = ids[h]
		if err := w[p].Add(&obs.Beat{Sensor: fmt.Sprint("office-", h%4), HostID: ids[h], MAC: mac, SrcIP: netip.AddrFrom4([4]byte{10, 20, byte(h >> 8), byte(h)}),
			Dest: fmt.Sprintf("svc%02d.example", d), Port: 443, Proto: 6, BytesOut: 900, BytesIn: 1500,
			TS: t0 + round*int64(10*time.Minute) + int64(x>>34)%int64(10*time.Minute)}); err != nil {
			b.Fatal(err)
		}
		if w[p].Count() == perFrame {
			flush(p)
		}
	}
	for p := range w {
		flush(p)
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(5 * time.Minute):
		b.Fatal("publishing did not complete")
	}

	b.ResetTimer()
	runCtx, cancel := context.WithCancel(ctx)
	out := make(chan *alert.Alert, 1024)
	go func() {
		for range out {
		}
	}()
	p, err := Start(runCtx, nc, Config{ID: "bench", LeaseTTL: 20 * time.Second, PrevalenceEvery: 20 * time.Millisecond,
		Engine: merge.Config{Name: "hub"}, Log: slog.New(slog.DiscardHandler)}, out)
	if err != nil {
		b.Fatal(err)
	}
	start, cpu := time.Now(), hubtest.CPUTime()
	for p.Stats().Engine.Beats < uint64(b.N) {
		if time.Since(start) > 10*time.Minute {
			b.Fatalf("read %d of %d beats in 10 minutes", p.Stats().Engine.Beats, b.N)
		}
		time.Sleep(5 * time.Millisecond)
	}
	el, used := time.Since(start), hubtest.CPUTime()-cpu
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "obs/s")
	// The process's CPU time, the in-process nats-server's included: what
	// the hub costs on a machine others share.
	b.ReportMetric(float64(b.N)/used.Seconds(), "obs/cpu-s")
	cancel()
	p.Wait()
}
