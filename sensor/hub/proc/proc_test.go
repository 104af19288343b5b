package proc

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/launchtap/launchtap/internal/hubtest"
	"github.com/launchtap/launchtap/internal/natstest"
	"github.com/launchtap/launchtap/internal/synth"
	"github.com/launchtap/launchtap/internal/testenv"
	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/baseline"
	"github.com/launchtap/launchtap/sensor/host"
	"github.com/launchtap/launchtap/sensor/hub/merge"
	"github.com/launchtap/launchtap/sensor/hub/obs"
	"github.com/launchtap/launchtap/sensor/pipeline"
)

// collector is every hub process's alert sink.
type collector struct {
	mu  sync.Mutex
	got []*alert.Alert
}

func (c *collector) Alert(a *alert.Alert) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, a)
	return nil
}

func (c *collector) alerts() []*alert.Alert {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.got)
}

// hub is one hub process with its alert stage, as launchtap hub runs it.
type hub struct {
	p      *Process
	nc     *nats.Conn
	cancel context.CancelFunc
	done   chan struct{}
	stage  *pipeline.AlertStage
}

func testConfig(id string) Config {
	return Config{ID: id, LeaseTTL: 3 * time.Second, Renew: 500 * time.Millisecond, PrevalenceEvery: 100 * time.Millisecond,
		Engine: merge.Config{Name: "hub-" + id}, Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
}

func startHub(t *testing.T, url string, cfg Config, sink *collector, b *baseline.Baseline) *hub {
	t.Helper()
	nc := hubtest.Connect(t, url)
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan *alert.Alert, 64)
	p, err := Start(ctx, nc, cfg, out)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if b == nil {
		b = baseline.Default()
	}
	h := &hub{p: p, nc: nc, cancel: cancel, done: make(chan struct{}),
		stage: &pipeline.AlertStage{Baseline: baseline.NewLive(b), Sinks: []pipeline.Sink{sink}, Ledger: p.Ledger()}}
	go func() { defer close(h.done); h.stage.Run(context.Background(), out) }()
	t.Cleanup(h.stop)
	return h
}

// stop stops the process cleanly: its leases are released.
func (h *hub) stop() {
	select {
	case <-h.done:
		return
	default:
	}
	h.cancel()
	h.p.Wait()
	<-h.done
}

// kill stops the process as a crash does: its connection goes first, so
// nothing is released and its leases must expire.
func (h *hub) kill() {
	h.nc.Close()
	h.stop()
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// allOwned reports every partition held by exactly one of hubs, and none
// holding more than its fair share.
func allOwned(hubs ...*hub) func() bool {
	return func() bool {
		seen := map[int]int{}
		for _, h := range hubs {
			for _, p := range h.p.Owned() {
				seen[p]++
			}
		}
		if len(seen) != obs.Partitions {
			return false
		}
		for _, n := range seen {
			if n != 1 {
				return false
			}
		}
		fair := (obs.Partitions + len(hubs) - 1) / len(hubs)
		for _, h := range hubs {
			if len(h.p.Owned()) > fair {
				return false
			}
		}
		return true
	}
}

// TestRoamingMacOnCluster: two sensors publish their halves of the roaming
// Mac's day to a 3-node JetStream cluster (Debian's nats-server as one
// member where it is installed, always under CI), one after the other and each
// frame twice (a retry); two hub processes share the partitions. Exactly
// one hub alert, naming both sensors; with one sensor's half alone, none.
func TestRoamingMacOnCluster(t *testing.T) {
	c := natstest.NewCluster(t, 3, natstest.DebianBinary() != "" || testenv.CI())
	sink := &collector{}
	cfg1, cfg2 := testConfig("h1"), testConfig("h2")
	cfg1.Replicas, cfg2.Replicas = 3, 3
	h1 := startHub(t, c.Members[0].URL(), cfg1, sink, nil)
	h2 := startHub(t, c.Members[1].URL(), cfg2, sink, nil)
	waitFor(t, 20*time.Second, "the two processes share the 64 partitions evenly", allOwned(h1, h2))
	if n1, n2 := len(h1.p.Owned()), len(h2.p.Owned()); n1 != 32 || n2 != 32 {
		t.Errorf("partitions %d and %d, want 32 each", n1, n2)
	}
	beats := func() uint64 { return h1.p.Stats().Engine.Beats + h2.p.Stats().Engine.Beats }

	hostA, beatsA := hubtest.Roaming(t, 0)
	pa := hubtest.NewPublisher(t, c.Members[2].URL(), "office-a")
	pa.Publish(hostA.HostID, hostA)
	for _, b := range beatsA {
		pa.Publish(b.HostID, b)
		pa.Publish(b.HostID, b) // retried: stored once
	}
	waitFor(t, 20*time.Second, "office A's beats consumed", func() bool { return beats() >= uint64(len(beatsA)) })
	time.Sleep(300 * time.Millisecond)
	if got := sink.alerts(); len(got) != 0 {
		t.Fatalf("office A alone: %d alerts, want 0", len(got))
	}

	hostB, beatsB := hubtest.Roaming(t, 1)
	pb := hubtest.NewPublisher(t, c.Members[0].URL(), "office-b")
	pb.Publish(hostB.HostID, hostB)
	for _, b := range beatsB {
		pb.Publish(b.HostID, b)
		pb.Publish(b.HostID, b)
	}
	waitFor(t, 20*time.Second, "one hub alert", func() bool { return len(sink.alerts()) >= 1 })
	waitFor(t, 20*time.Second, "office B's beats consumed", func() bool { return beats() >= uint64(len(beatsA)+len(beatsB)) })
	time.Sleep(300 * time.Millisecond)
	got := sink.alerts()
	if len(got) != 1 {
		t.Fatalf("%d alerts, want exactly 1", len(got))
	}
	a := got[0]
	if !slices.Equal(a.Sensors, []string{"office-a", "office-b"}) || a.SrcMAC != synth.RoamingMAC || a.DstFQDN != synth.RoamingFQDN ||
		a.Beats < 5 || a.Hostname != synth.RoamingHostname {
		t.Errorf("alert: sensors %v src_mac %s dst %s beats %d hostname %s", a.Sensors, a.SrcMAC, a.DstFQDN, a.Beats, a.Hostname)
	}
}

// TestKilledProcessTakeover: three processes share the partitions; one is
// killed (its connection cut, nothing released). Its partitions move to
// the other two within the lease TTL, they rebuild its hosts from the
// stream, and every host alerts exactly once: those alerted before the
// kill are not alerted again, those completed after it are alerted.
func TestKilledProcessTakeover(t *testing.T) {
	s := natstest.Server(t)
	sink := &collector{}
	hubs := []*hub{startHub(t, s.URLs(), testConfig("h1"), sink, nil), startHub(t, s.URLs(), testConfig("h2"), sink, nil), startHub(t, s.URLs(), testConfig("h3"), sink, nil)}
	waitFor(t, 20*time.Second, "three processes share the 64 partitions evenly", allOwned(hubs...))
	pub := hubtest.NewPublisher(t, s.URLs(), "office-a")
	const hosts = 24
	t0 := time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC).UnixNano()
	const period = int64(15 * time.Minute)
	mac := func(i int) [6]byte { return [6]byte{0x3c, 0x22, 0xfb, 0x10, 0, byte(i)} }
	hostID := func(i int) string { m := mac(i); return host.MACString(m) }
	send := func(i, from, to int) {
		for n := from; n < to; n++ {
			pub.Publish(hostID(i), &obs.Beat{Sensor: "office-a", HostID: hostID(i), MAC: mac(i), SrcIP: netip.AddrFrom4([4]byte{10, 20, 9, byte(i)}),
				Dest: fmt.Sprintf("c2-%02d.example", i), Port: 443, Proto: 6, TS: t0 + int64(n)*period + int64(i)*int64(time.Second)})
		}
	}
	for i := 0; i < hosts; i++ {
		m := mac(i)
		pub.Publish(hostID(i), &obs.Host{Sensor: "office-a", HostID: hostID(i), MACs: [][6]byte{m}, OS: "macos", Confidence: 0.9, TS: t0})
		if i%2 == 0 {
			send(i, 0, 6) // alerts before the kill
		} else {
			send(i, 0, 3)
		}
	}
	waitFor(t, 20*time.Second, "the even hosts alert", func() bool { return len(sink.alerts()) == hosts/2 })

	victim := hubs[0]
	owned := victim.p.Owned()
	killed := time.Now()
	victim.kill()
	waitFor(t, time.Minute, "the survivors hold every partition", allOwned(hubs[1:]...))
	took := time.Since(killed)
	t.Logf("partitions %v of the killed process taken over in %v", owned, took)
	if took > 2*cfg().LeaseTTL+time.Second {
		t.Errorf("takeover took %v, want within the lease TTL and a renewal", took)
	}
	for i := 1; i < hosts; i += 2 {
		send(i, 3, 6)
	}
	waitFor(t, 30*time.Second, "every host alerts", func() bool { return len(sink.alerts()) >= hosts })
	time.Sleep(time.Second) // what the survivors rebuilt has had time to be (wrongly) delivered
	per := map[string]int{}
	for _, a := range sink.alerts() {
		per[a.SrcMAC]++
	}
	for i := 0; i < hosts; i++ {
		if n := per[hostID(i)]; n != 1 {
			t.Errorf("host %s: %d alerts, want 1", hostID(i), n)
		}
	}
	var dups uint64
	for _, h := range hubs[1:] {
		dups += h.stage.Counters.Duplicates.Load()
	}
	if dups == 0 {
		t.Log("no rebuilt alert met the ledger: the killed process owned no even host") // possible, not a failure
	}
}

func cfg() Config { return testConfig("x") }

// TestDefaultTakeoverWithinAMinute: the default lease timing moves a dead
// process's partitions within a minute.
func TestDefaultTakeoverWithinAMinute(t *testing.T) {
	if worst := DefaultLeaseTTL + DefaultLeaseTTL/4 + 5*time.Second; worst >= time.Minute {
		t.Fatalf("default takeover takes up to %v", worst)
	}
}

// TestPrevalenceAcrossProcesses: 100 hosts spread over two processes' partitions,
// 60 reach an approved vendor, 1 an implant: the implant's alert, from
// whichever process holds its host, counts the whole fleet.
func TestPrevalenceAcrossProcesses(t *testing.T) {
	s := natstest.Server(t)
	sink := &collector{}
	org, err := baseline.Parse([]byte("approved_destinations:\n  - telemetry.approved-vendor.example\n"))
	if err != nil {
		t.Fatal(err)
	}
	h1, h2 := startHub(t, s.URLs(), testConfig("h1"), sink, org), startHub(t, s.URLs(), testConfig("h2"), sink, org)
	waitFor(t, 20*time.Second, "two processes share all 64 partitions", allOwned(h1, h2))
	pub := hubtest.NewPublisher(t, s.URLs(), "office-a")
	const hosts, vendor, implant = 100, 60, 77
	t0 := time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC).UnixNano()
	mac := func(i int) [6]byte { return [6]byte{0x3c, 0x22, 0xfb, 0x64, 0, byte(i)} }
	id := func(i int) string { return host.MACString(mac(i)) }
	beat := func(i int, dest string, ts int64) *obs.Beat {
		return &obs.Beat{Sensor: "office-a", HostID: id(i), MAC: mac(i), SrcIP: netip.AddrFrom4([4]byte{10, 20, 8, byte(i)}), Dest: dest, Port: 443, Proto: 6, TS: ts}
	}
	for i := 0; i < hosts; i++ {
		pub.Publish(id(i), &obs.Host{Sensor: "office-a", HostID: id(i), MACs: [][6]byte{mac(i)}, OS: "macos", Confidence: 0.9, TS: t0},
			beat(i, "www.news.example", t0+int64(i)*int64(time.Second)))
	}
	const period = int64(20 * time.Minute)
	for n := 0; n < 3; n++ {
		for i := 0; i < vendor; i++ {
			pub.Publish(id(i), beat(i, "telemetry.approved-vendor.example", t0+int64(time.Hour)+int64(n)*period+int64(i)*int64(time.Second)))
		}
	}
	// Every process has counted and published its partitions before the
	// implant's fifth beat.
	waitFor(t, 20*time.Second, "the fleet's prevalence published", func() bool {
		return h1.p.Stats().Engine.Beats+h2.p.Stats().Engine.Beats >= hosts+3*vendor &&
			h1.p.Stats().RemoteDests > 0 && h2.p.Stats().RemoteDests > 0
	})
	time.Sleep(500 * time.Millisecond)
	for n := 3; n < 10; n++ {
		for i := 0; i < vendor; i++ {
			pub.Publish(id(i), beat(i, "telemetry.approved-vendor.example", t0+int64(time.Hour)+int64(n)*period+int64(i)*int64(time.Second)))
		}
	}
	for n := 0; n < 10; n++ {
		pub.Publish(id(implant), beat(implant, "cdn-sync.implant.example", t0+int64(time.Hour)+int64(n)*period+int64(implant)*int64(time.Second)))
	}
	waitFor(t, 20*time.Second, "the implant's alert", func() bool { return len(sink.alerts()) >= 1 })
	waitFor(t, 20*time.Second, "the vendor's findings suppressed", func() bool {
		return h1.stage.Counters.SuppressedDest.Load()+h2.stage.Counters.SuppressedDest.Load() == vendor
	})
	got := sink.alerts()
	if len(got) != 1 || got[0].DstFQDN != "cdn-sync.implant.example" {
		t.Fatalf("%d alerts, want the implant's alone", len(got))
	}
	if p := got[0].Prevalence; p == nil || p.Hosts != 1 || p.FleetHosts != hosts {
		t.Errorf("implant prevalence %+v, want 1 of %d hosts", got[0].Prevalence, hosts)
	}
}

// TestLinkCutResumes: the hub's link to JetStream is cut while sensors keep
// publishing, then restored: the hub reads on from where it was, so every
// beat is taken exactly once (none lost, none read twice) and the host
// alerts once.
func TestLinkCutResumes(t *testing.T) {
	s := natstest.Server(t)
	proxy := natstest.NewProxy(t, strings.TrimPrefix(s.Members[0].URL(), "nats://"))
	sink := &collector{}
	// Leases that outlive the cut: a process cut off for more than half its
	// lease TTL gives its partitions up and, claiming them again, reads them
	// from the start (its detection unchanged: the beats join the ones it
	// has), which is not what this test is about.
	cfg := testConfig("h1")
	cfg.LeaseTTL, cfg.Renew = 30*time.Second, 2*time.Second
	h := startHub(t, proxy.URL(), cfg, sink, nil)
	waitFor(t, 20*time.Second, "the process holds every partition", allOwned(h))
	pub := hubtest.NewPublisher(t, s.URLs(), "office-a")
	mac := [6]byte{0x3c, 0x22, 0xfb, 0x20, 0, 1}
	id := host.MACString(mac)
	t0 := time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC).UnixNano()
	send := func(from, to int) {
		for n := from; n < to; n++ {
			pub.Publish(id, &obs.Beat{Sensor: "office-a", HostID: id, MAC: mac, Dest: "c2.example", Port: 443, Proto: 6,
				TS: t0 + int64(n)*int64(10*time.Minute)})
		}
	}
	pub.Publish(id, &obs.Host{Sensor: "office-a", HostID: id, MACs: [][6]byte{mac}, OS: "macos", Confidence: 0.9, TS: t0})
	send(0, 3)
	waitFor(t, 20*time.Second, "3 beats read", func() bool { return h.p.Stats().Engine.Beats == 3 })
	proxy.Cut()
	send(3, 8)
	time.Sleep(time.Second)
	proxy.Restore()
	waitFor(t, 60*time.Second, "8 beats read", func() bool { return h.p.Stats().Engine.Beats >= 8 })
	time.Sleep(time.Second)
	if n := h.p.Stats().Engine.Beats; n != 8 {
		t.Errorf("%d beats read, want 8: the partition was read again", n)
	}
	if got := sink.alerts(); len(got) != 1 {
		t.Errorf("%d alerts, want 1", len(got))
	}
}
