package orgstore

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/launchtap/launchtap/internal/pgtest"
	"github.com/launchtap/launchtap/sensor/dnstrack"
	"github.com/launchtap/launchtap/sensor/hostid"
	"github.com/launchtap/launchtap/sensor/state"
)

// BenchmarkCheckpoint writes one office's hourly checkpoint: 200 hosts
// with their hour and verdict, 1000 live DNS answers. (Pair states cost as
// much as any other row: one upsert each.)
func BenchmarkCheckpoint(b *testing.B) {
	s, err := Open(context.Background(), pgtest.DB(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const hosts, answers = 200, 1000
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		hour := t0.Add(time.Duration(i) * time.Hour)
		c := &state.Checkpoint{Sensor: fmt.Sprint("office-", i%4), Started: 1, Clock: hour.Add(59 * time.Minute).UnixNano(),
			Hours: []state.Hour{{Start: hour.Unix(), Packets: 1e6, Sessions: 4000}}}
		for h := range hosts {
			ip := fmt.Sprintf("10.0.%d.%d", h/250, h%250)
			c.HostHours = append(c.HostHours, state.HostHour{IP: ip, Start: hour.Unix(), Sessions: 20, Named: 19})
			c.Hosts = append(c.Hosts, hostid.Host{IP: ip, OS: "macos", Confidence: 0.9, FirstSeen: hour, LastSeen: hour})
		}
		for a := range answers {
			c.DNSAnswers = append(c.DNSAnswers, dnstrack.Answer{Client: netip.AddrFrom4([4]byte{10, 0, byte(a / 250), byte(a % 250)}),
				Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(a)}), Name: fmt.Sprintf("d%d.example.net", a),
				At: hour.UnixNano(), Expires: hour.Add(2 * time.Hour).UnixNano()})
		}
		if err := s.Checkpoint(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checkpoints/s")
	b.ReportMetric(float64(b.N*(2*hosts+answers+1))/b.Elapsed().Seconds(), "rows/s")
}
