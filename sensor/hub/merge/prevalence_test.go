package merge

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/baseline"
	"github.com/launchtap/launchtap/sensor/host"
	"github.com/launchtap/launchtap/sensor/pipeline"
)

type sink struct{ got []*alert.Alert }

func (s *sink) Alert(a *alert.Alert) error { s.got = append(s.got, a); return nil }

// TestFleetPrevalence is the prevalence case through the sensor's
// alert stage: 100 Macs, 60 of them run an approved vendor's agent, one an
// implant, all seen in one day. The vendor's 60 findings are suppressed by
// the organisation baseline; the implant's alert says 1 of 100 hosts.
func TestFleetPrevalence(t *testing.T) {
	const (
		hosts   = 100
		vendor  = 60
		implant = 37 // one of the hosts without the vendor agent
	)
	org, err := baseline.Parse([]byte("approved_destinations:\n  - telemetry.approved-vendor.example\n"))
	if err != nil {
		t.Fatal(err)
	}
	stage := &pipeline.AlertStage{Baseline: baseline.NewLive(org), Sinks: []pipeline.Sink{&sink{}}}
	out := stage.Sinks[0].(*sink)
	in := make(chan *alert.Alert, 1024)
	done := make(chan struct{})
	go func() { stage.Run(context.Background(), in); close(done) }()
	var vendorPrev []uint64
	e, err := New(Config{Name: "hub"}, func(a *alert.Alert) {
		if a.DstFQDN == "telemetry.approved-vendor.example" && a.Prevalence != nil {
			vendorPrev = append(vendorPrev, a.Prevalence.Hosts)
		}
		in <- a
	})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC).UnixNano()
	mac := func(i int) [6]byte { return [6]byte{0x3c, 0x22, 0xfb, 0x64, 0, byte(i)} }
	for i := 0; i < hosts; i++ {
		m := mac(i)
		if err := e.Host(i%64, &Host{Sensor: fmt.Sprint("office-", i%3), HostID: host.MACString(m), MACs: [][6]byte{m}, OS: "macos", Confidence: 0.9, TS: t0}); err != nil {
			t.Fatal(err)
		}
	}
	// Every host browses once in the first hour; the beacons run every 20
	// minutes from the second hour on, interleaved as many sensors publish.
	for i := 0; i < hosts; i++ {
		m := mac(i)
		b := Beat{Sensor: fmt.Sprint("office-", i%3), HostID: host.MACString(m), MAC: m, SrcIP: netip.AddrFrom4([4]byte{10, 20, 8, byte(i)}),
			Dest: "www.news.example", Port: 443, Proto: 6, TS: t0 + int64(i)*int64(time.Second)}
		if err := e.Beat(i%64, &b); err != nil {
			t.Fatal(err)
		}
	}
	const period = int64(20 * time.Minute)
	for n := 0; n < 10; n++ {
		for i := 0; i < hosts; i++ {
			dest := ""
			switch {
			case i < vendor:
				dest = "telemetry.approved-vendor.example"
			case i == implant+vendor:
				dest = "cdn-sync.implant.example"
			default:
				continue
			}
			m := mac(i)
			b := Beat{Sensor: fmt.Sprint("office-", i%3), HostID: host.MACString(m), MAC: m, SrcIP: netip.AddrFrom4([4]byte{10, 20, 8, byte(i)}),
				Dest: dest, Port: 443, Proto: 6, TS: t0 + int64(time.Hour) + int64(n)*period + int64(i)*int64(time.Second)}
			if err := e.Beat(i%64, &b); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(in)
	<-done
	if len(out.got) != 1 {
		for _, a := range out.got {
			t.Logf("alert %s %s", a.SrcMAC, a.DstFQDN)
		}
		t.Fatalf("%d alerts, want 1 (the implant)", len(out.got))
	}
	a := out.got[0]
	if a.DstFQDN != "cdn-sync.implant.example" {
		t.Fatalf("alert for %s, want the implant", a.DstFQDN)
	}
	if p := a.Prevalence; p == nil || p.Hosts != 1 || p.FleetHosts != hosts || p.Fraction != 0.01 || p.Day != "2026-03-02" {
		t.Errorf("implant prevalence %+v, want 1 of %d on 2026-03-02", a.Prevalence, hosts)
	}
	if got := stage.Counters.SuppressedDest.Load(); got != vendor {
		t.Errorf("%d vendor alerts suppressed by the baseline, want %d", got, vendor)
	}
	if len(vendorPrev) != vendor || vendorPrev[len(vendorPrev)-1] != vendor {
		t.Errorf("vendor findings' prevalence %v, want %d findings ending at %d hosts", vendorPrev, vendor, vendor)
	}
	counts := map[string]uint64{}
	var fleet uint64
	for _, pc := range e.Changed() {
		for d, n := range pc.Dests {
			counts[d] += n
		}
		fleet += pc.Fleet
	}
	if counts["telemetry.approved-vendor.example"] != vendor || counts["cdn-sync.implant.example"] != 1 || counts["www.news.example"] != hosts || fleet != hosts {
		t.Errorf("published counts %v fleet %d", counts, fleet)
	}
	if len(e.Changed()) != 0 {
		t.Error("Changed twice returned the same counts again")
	}
}

// TestPrevalenceBounds: days older than the kept window are dropped and
// destinations beyond MaxDests are not counted, both counted.
func TestPrevalenceBounds(t *testing.T) {
	e, _ := newEngine(t, Config{MaxDests: 5})
	day := int64(24 * time.Hour)
	m := [6]byte{2, 0, 0, 0, 0, 1}
	for d := 0; d < 4; d++ {
		for i := 0; i < 4; i++ {
			b := Beat{Sensor: "s", MAC: m, Dest: fmt.Sprintf("d%d.example", i), Port: 443, Proto: 6, TS: 10*day + int64(d)*day + int64(i)}
			if err := e.Beat(0, &b); err != nil {
				t.Fatal(err)
			}
		}
	}
	old := Beat{Sensor: "s", MAC: m, Dest: "old.example", Port: 443, Proto: 6, TS: 10 * day}
	if err := e.Beat(0, &old); err != nil {
		t.Fatal(err)
	}
	c, _ := e.Stats()
	if len(e.prev.days) != keepDays || c.DaysExpired != 2 {
		t.Errorf("%d days kept, %d expired; want %d and 2", len(e.prev.days), c.DaysExpired, keepDays)
	}
	if c.DestsDropped == 0 || e.prev.dests > 5 {
		t.Errorf("dests %d (dropped %d), want at most 5", e.prev.dests, c.DestsDropped)
	}
}

// TestPrevalenceOneHostTwoPartitions: a host whose beats arrive on two
// partitions (a sensor keyed it by address before it saw its MAC) counts
// once in the fleet and once per destination.
func TestPrevalenceOneHostTwoPartitions(t *testing.T) {
	e, _ := newEngine(t, Config{})
	m := [6]byte{0x3c, 0x22, 0xfb, 0, 0, 9}
	ts := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC).UnixNano()
	for i, part := range []int{5, 41, 5, 41} {
		b := Beat{Sensor: "office-a", HostID: fmt.Sprint("10.20.7.", 50+i%2), MAC: m, Dest: fmt.Sprint("d", i/2, ".example"), Port: 443, Proto: 6, TS: ts + int64(i)}
		if err := e.Beat(part, &b); err != nil {
			t.Fatal(err)
		}
	}
	if h, f := e.prev.count(ts/int64(24*time.Hour), "d0.example"); h != 1 || f != 1 {
		t.Fatalf("d0: %d hosts of %d, want 1 of 1", h, f)
	}
	if e.HostCount() != 1 {
		t.Fatalf("%d hosts, want 1", e.HostCount())
	}
}
