package merge

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/launchtap/launchtap/internal/hubtest"
	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/host"
)

// BenchmarkEngine measures the beats one hub process merges and scores per
// second: 2000 hosts, 20 destinations each, beats in capture-time order as
// many sensors publish them. Periodic: every pair beats every 5 minutes
// (each alerts once, at its 5th beat). Irregular: beats 0-10 minutes apart,
// so every beat from the 5th on is scored and few alert, the common case.
func BenchmarkEngine(b *testing.B) {
	b.Run("periodic", func(b *testing.B) { benchEngine(b, 0) })
	b.Run("irregular", func(b *testing.B) { benchEngine(b, int64(5*time.Minute)) })
}

func benchEngine(b *testing.B, jitter int64) {
	const hosts, dests = 2000, 20
	e, err := New(Config{Name: "hub"}, func(*alert.Alert) {})
	if err != nil {
		b.Fatal(err)
	}
	beats := make([]Beat, hosts*dests)
	names := make([]string, dests)
	for d := range names {
		names[d] = fmt.Sprintf("svc%02d.example", d)
	}
	for h := 0; h < hosts; h++ {
		m := [6]byte{0x3c, 0x22, 0xfb, 0, byte(h >> 8), byte(h)}
		for d := 0; d < dests; d++ {
			beats[h*dests+d] = Beat{Sensor: fmt.Sprint("office-", h%4), HostID: host.MACString(m), MAC: m,
				SrcIP: netip.AddrFrom4([4]byte{10, 20, byte(h >> 8), byte(h)}), Dest: names[d], DestIP: netip.AddrFrom4([4]byte{198, 51, 100, byte(d)}),
				Port: 443, Proto: 6, BytesOut: 900, BytesIn: 1500}
		}
	}
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC).UnixNano()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := hubtest.CPUTime()
	for i := 0; i < b.N; i++ {
		k := i % len(beats)
		round := int64(i / len(beats))
		bt := &beats[k]
		bt.TS = t0 + round*int64(10*time.Minute) + int64(k)*int64(time.Millisecond)
		if jitter > 0 {
			x := uint64(i) * 0x9e3779b97f4a7c15
			bt.TS += int64(x>>33)%(2*jitter) - jitter
		}
		if err := e.Beat(k%64, bt); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "obs/s")
	b.ReportMetric(float64(b.N)/(hubtest.CPUTime()-cpu).Seconds(), "obs/cpu-s")
}
