package publish

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/launchtap/launchtap/internal/natstest"
	"github.com/launchtap/launchtap/internal/testenv"
	"github.com/launchtap/launchtap/sensor/beacon"
	"github.com/launchtap/launchtap/sensor/hub/link"
	"github.com/launchtap/launchtap/sensor/hub/obs"
	"github.com/launchtap/launchtap/sensor/hub/outbox"
)

// beats are n distinct beats of 50 hosts (every partition they hash to).
func beats(sensor string, from, n int) []obs.Beat {
	out := make([]obs.Beat, 0, n)
	for i := from; i < from+n; i++ {
		h := i % 50
		out = append(out, obs.Beat{Sensor: sensor, HostID: fmt.Sprintf("02:00:00:00:00:%02x", h),
			MAC: [6]byte{2, 0, 0, 0, 0, byte(h)}, SrcIP: netip.AddrFrom4([4]byte{10, 0, 0, byte(h)}),
			Dest: "c2.example.net", Port: 443, Proto: 6, Kind: beacon.KindSession,
			TS: int64(1_700_000_000e9) + int64(i)*int64(time.Second), BytesOut: 300, BytesIn: uint64(i)})
	}
	return out
}

type fixture struct {
	t    *testing.T
	dir  string // the outbox's
	conn *link.Conn
	pub  *Publisher
}

func start(t *testing.T, url, dir string) *fixture {
	t.Helper()
	conn, err := link.Dial(link.Options{URL: url, Name: "test", PublishTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	ob, err := outbox.Open(dir, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := New(Config{Sensor: "tap-a", Outbox: ob, FlushEvery: 50 * time.Millisecond, SendBatch: 16})
	p.Start(conn.JS, conn.NC)
	return &fixture{t: t, dir: dir, conn: conn, pub: p}
}

// startBehindProxy starts a server, a proxy to its first member and a
// fixture that publishes through the proxy to the stream it makes.
func startBehindProxy(t *testing.T) (*natstest.Cluster, *natstest.Proxy, *fixture) {
	t.Helper()
	c := natstest.Server(t)
	proxy := natstest.NewProxy(t, fmt.Sprintf("127.0.0.1:%d", c.Members[0].Port))
	f := start(t, proxy.URL(), t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := link.EnsureStream(ctx, f.conn.JS); err != nil {
		t.Fatal(err)
	}
	return c, proxy, f
}

func (f *fixture) send(bs []obs.Beat) {
	f.t.Helper()
	for len(bs) > 0 {
		n := min(len(bs), 100)
		for !f.pub.Beats(bs[:n]) {
			time.Sleep(time.Millisecond) // the test's own pace, not the pipeline's
		}
		bs = bs[n:]
	}
}

func (f *fixture) close(wait time.Duration) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := f.pub.Close(ctx); err != nil {
		f.t.Fatal(err)
	}
}

// stored reads the whole stream: beats by (host, time) with how often each
// is stored, and the frames.
func stored(t *testing.T, url string) (map[string]int, uint64) {
	t.Helper()
	conn, err := link.Dial(link.Options{URL: url, Name: "reader"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var s jetstream.Stream
	var info *jetstream.StreamInfo
	for try := 0; ; try++ {
		if s, err = conn.JS.Stream(ctx, obs.Stream); err == nil {
			if info, err = s.Info(ctx); err == nil {
				break
			}
		}
		if try == 100 {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	n := info.State.Msgs
	got := map[string]int{}
	var r obs.Reader
	var b obs.Beat
	for seq := info.State.FirstSeq; seq < info.State.FirstSeq+n; seq++ {
		// A cluster that just lost a member may be electing the stream's
		// leader: ask again until it answers.
		var m *jetstream.RawStreamMsg
		for try := 0; ; try++ {
			if m, err = s.GetMsg(ctx, seq); err == nil {
				break
			}
			if try == 100 {
				t.Fatalf("message %d: %v", seq, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err := r.Reset(m.Data); err != nil {
			t.Fatal(err)
		}
		for r.Next() {
			if r.Kind() != obs.KindBeat {
				continue
			}
			if err := r.Decode(&b); err != nil {
				t.Fatal(err)
			}
			if want := obs.Subject(obs.KindBeat, b.HostID); m.Subject != want {
				t.Fatalf("beat of %s on %s, want %s", b.HostID, m.Subject, want)
			}
			got[fmt.Sprintf("%s@%d", b.HostID, b.TS)]++
		}
		if r.Err() != nil {
			t.Fatal(r.Err())
		}
	}
	return got, n
}

// exactlyOnce checks the stream holds each of want once, and nothing else.
func exactlyOnce(t *testing.T, got map[string]int, want []obs.Beat) {
	t.Helper()
	missing, twice := 0, 0
	for _, b := range want {
		switch got[fmt.Sprintf("%s@%d", b.HostID, b.TS)] {
		case 0:
			missing++
		case 1:
		default:
			twice++
		}
	}
	if missing > 0 || twice > 0 || len(got) != len(want) {
		t.Fatalf("stream holds %d distinct beats of %d sent: %d missing, %d stored more than once", len(got), len(want), missing, twice)
	}
}

// TestCluster publishes to a three-server JetStream cluster, one member
// Debian's nats-server where installed, and reads every beat back once.
func TestCluster(t *testing.T) {
	// Under CI=true, where .ci/run installs Debian's nats-server, the
	// cross-version member is required.
	c := natstest.NewCluster(t, 3, natstest.DebianBinary() != "" || testenv.CI())
	for _, m := range c.Members {
		t.Logf("%s: nats-server %s%s", m.Name, m.Version(t), map[bool]string{true: " (Debian's binary)"}[m.Binary != ""])
	}
	f := start(t, c.URLs(), t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := link.EnsureStream(ctx, f.conn.JS)
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := s.Info(ctx); info.Config.Replicas != 3 || info.Config.Duplicates < 2*time.Minute {
		t.Fatalf("stream %+v: want 3 replicas and a duplicates window of at least 2 min", info.Config)
	}
	want := beats("tap-a", 0, 5000)
	f.send(want)
	f.close(30 * time.Second)
	st := f.pub.Stats()
	if st.Records != 5000 || st.Outbox.Pending != 0 || st.Sent != st.Frames || st.QueueDrops+st.Refused != 0 {
		t.Fatalf("stats %+v", st)
	}
	got, _ := stored(t, c.URLs())
	exactlyOnce(t, got, want)
}

// TestLinkCut cuts the link mid-replay and restores it: the outbox keeps
// what could not be sent and sends it when the link returns; nothing is
// lost and nothing stored twice.
func TestLinkCut(t *testing.T) {
	c, proxy, f := startBehindProxy(t)
	want := beats("tap-a", 0, 9000)
	f.send(want[:3000])
	time.Sleep(200 * time.Millisecond)
	proxy.Cut()
	f.send(want[3000:6000])
	time.Sleep(1500 * time.Millisecond) // sends fail and back off
	if st := f.pub.Stats(); st.Outbox.Pending == 0 || st.PublishErrors == 0 {
		t.Fatalf("with the link cut: %d frames pending, %d send errors; want both > 0", st.Outbox.Pending, st.PublishErrors)
	}
	proxy.Restore()
	f.send(want[6000:])
	f.close(30 * time.Second)
	st := f.pub.Stats()
	if st.Outbox.Pending != 0 || st.Records != 9000 {
		t.Fatalf("stats %+v", st)
	}
	t.Logf("frames %d, sent %d, duplicates %d, send errors %d", st.Frames, st.Sent, st.Duplicates, st.PublishErrors)
	got, _ := stored(t, c.URLs())
	exactlyOnce(t, got, want)
}

// TestRestartResends stops a sensor while the hub is unreachable, restarts
// it on the same outbox once the hub is back: the backlog is delivered.
// Then the same frames are sent a second time (an outbox whose head was
// lost): the stream's de-duplication stores none of them again.
func TestRestartResends(t *testing.T) {
	c := natstest.Server(t)
	proxy := natstest.NewProxy(t, fmt.Sprintf("127.0.0.1:%d", c.Members[0].Port))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	{
		conn, err := link.Dial(link.Options{URL: c.URLs()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := link.EnsureStream(ctx, conn.JS); err != nil {
			t.Fatal(err)
		}
		conn.Close()
	}
	proxy.Cut()
	dir := t.TempDir()
	f := start(t, proxy.URL(), dir)
	want := beats("tap-a", 0, 2000)
	f.send(want)
	f.close(500 * time.Millisecond) // gives up: the hub is unreachable
	if st := f.pub.Stats(); st.Outbox.Pending == 0 || st.Sent != 0 {
		t.Fatalf("stopped with the hub down: %d pending, %d sent", st.Outbox.Pending, st.Sent)
	}
	f.conn.Close()

	proxy.Restore()
	f = start(t, proxy.URL(), dir)
	f.close(30 * time.Second)
	frames := f.pub.Stats().Sent
	if frames == 0 || f.pub.Stats().Outbox.Pending != 0 {
		t.Fatalf("after the restart: %+v", f.pub.Stats())
	}
	got, msgs := stored(t, c.URLs())
	exactlyOnce(t, got, want)

	// Send every frame again, as an outbox that lost its head would.
	ob, err := outbox.Open(t.TempDir(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := link.Dial(link.Options{URL: c.URLs()})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	s, _ := conn.JS.Stream(ctx, obs.Stream)
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for range msgs {
		m, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		_ = ob.Append(outbox.Entry{Subject: m.Subject(), MsgID: obs.MsgID("tap-a", m.Data()), Frame: m.Data()})
	}
	p := New(Config{Sensor: "tap-a", Outbox: ob})
	p.Start(conn.JS, conn.NC)
	cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer ccancel()
	if err := p.Close(cctx); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Sent != msgs || st.Duplicates != msgs {
		t.Fatalf("re-sent %d frames, %d acknowledged as duplicates; want %d and %d", st.Sent, st.Duplicates, msgs, msgs)
	}
	if _, again := stored(t, c.URLs()); again != msgs {
		t.Fatalf("stream holds %d messages after re-sending, want %d", again, msgs)
	}
}

// TestBaselineWatch publishes two baselines; a watching sensor sees both in
// order, then the deletion.
func TestBaselineWatch(t *testing.T) {
	c := natstest.Server(t)
	conn, err := link.Dial(link.Options{URL: c.URLs()})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := link.PublishBaseline(ctx, conn.JS, []byte("rules: []\n")); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 8)
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- link.WatchBaseline(wctx, conn.JS, func(y []byte, _ uint64) { got <- string(y) })
	}()
	next := func() string {
		select {
		case s := <-got:
			return s
		case <-time.After(10 * time.Second):
			t.Fatal("no baseline update within 10 s")
		}
		return ""
	}
	if s := next(); s != "rules: []\n" {
		t.Fatalf("first baseline %q", s)
	}
	if _, err := link.PublishBaseline(ctx, conn.JS, []byte("approved_destinations: [x.example]\n")); err != nil {
		t.Fatal(err)
	}
	if s := next(); s != "approved_destinations: [x.example]\n" {
		t.Fatalf("second baseline %q", s)
	}
	kv, _ := link.BaselineBucket(ctx, conn.JS)
	if err := kv.Delete(ctx, obs.BaselineKey); err != nil {
		t.Fatal(err)
	}
	if s := next(); s != "" {
		t.Fatalf("after deletion %q, want empty", s)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestServerDown stops the cluster member the sensor is connected to while
// it publishes: the client moves to another member, the stream (three
// replicas) keeps its quorum, and every beat is stored once.
func TestServerDown(t *testing.T) {
	c := natstest.NewCluster(t, 3, false)
	f := start(t, c.Members[0].URL()+","+c.Members[1].URL(), t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := link.EnsureStream(ctx, f.conn.JS); err != nil {
		t.Fatal(err)
	}
	want := beats("tap-a", 0, 6000)
	f.send(want[:2000])
	time.Sleep(200 * time.Millisecond)
	down := 0
	if f.conn.NC.ConnectedUrl() == c.Members[1].URL() {
		down = 1
	}
	c.Stop(down)
	f.send(want[2000:])
	f.close(45 * time.Second)
	st := f.pub.Stats()
	if st.Outbox.Pending != 0 || st.Records != 6000 {
		t.Fatalf("stats %+v", st)
	}
	t.Logf("member %d stopped: frames %d, sent %d, duplicates %d, send errors %d", down, st.Frames, st.Sent, st.Duplicates, st.PublishErrors)
	up := c.Members[1-down].URL() + "," + c.Members[2].URL()
	got, _ := stored(t, up)
	exactlyOnce(t, got, want)
}

// TestTLSAndCreds publishes over TLS (the server's CA given, as --hub-ca)
// as a user of an operator-signed account (its credentials file, as
// --hub-creds); without the credentials or the CA the server refuses.
func TestTLSAndCreds(t *testing.T) {
	s := natstest.SecureServer(t)
	conn, err := link.Dial(link.Options{URL: s.URL, CA: s.CA, Creds: s.Creds, Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ob, err := outbox.Open(t.TempDir(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := New(Config{Sensor: "tap-a", Outbox: ob, FlushEvery: 50 * time.Millisecond})
	p.Start(conn.JS, conn.NC)
	want := beats("tap-a", 0, 500)
	for !p.Beats(want) {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.SentRecords != 500 {
		t.Fatalf("over TLS with credentials: %d records acknowledged, want 500 (%+v)", st.SentRecords, st)
	}

	for _, tc := range []struct {
		name string
		o    link.Options
	}{
		{"no credentials", link.Options{URL: s.URL, CA: s.CA}},
		{"no CA", link.Options{URL: s.URL, Creds: s.Creds}},
	} {
		c, err := link.Dial(tc.o)
		if err != nil {
			t.Fatal(err) // Dial retries in the background
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err = c.JS.AccountInfo(ctx)
		cancel()
		c.Close()
		if err == nil {
			t.Errorf("%s: the server answered", tc.name)
		}
	}
}

// Records offered after Close are refused and counted, never a panic.
func TestAfterClose(t *testing.T) {
	ob, err := outbox.Open(t.TempDir(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := New(Config{Sensor: "tap-a", Outbox: ob})
	c := natstest.Server(t)
	conn, err := link.Dial(link.Options{URL: c.URLs()})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	p.Start(conn.JS, conn.NC)
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p.Beats(beats("tap-a", 0, 3)) || p.Add(&obs.Coverage{Sensor: "tap-a"}) {
		t.Fatal("accepted after Close")
	}
	if st := p.Stats(); st.QueueDrops != 4 {
		t.Fatalf("%d refused records counted, want 4", st.QueueDrops)
	}
}

// TestLostAcks loses the stream's acknowledgements while the frames still
// arrive (the link fails on the way back): the sensor cannot know they were
// stored, sends them again once the link is back, and the stream stores
// each once, acknowledging the repeats as duplicates.
func TestLostAcks(t *testing.T) {
	c, proxy, f := startBehindProxy(t)
	want := beats("tap-a", 0, 6000)
	f.send(want[:2000])
	time.Sleep(300 * time.Millisecond)
	proxy.Mute()
	f.send(want[2000:4000])
	time.Sleep(3 * time.Second) // the acknowledgements time out (2 s)
	if st := f.pub.Stats(); st.PublishErrors == 0 || st.Outbox.Pending == 0 {
		t.Fatalf("acknowledgements lost: %d send errors, %d pending; want both > 0", st.PublishErrors, st.Outbox.Pending)
	}
	proxy.Cut() // the client notices and reconnects
	proxy.Restore()
	f.send(want[4000:])
	f.close(30 * time.Second)
	st := f.pub.Stats()
	t.Logf("frames %d, sent %d, duplicates %d, send errors %d", st.Frames, st.Sent, st.Duplicates, st.PublishErrors)
	if st.Duplicates == 0 || st.Outbox.Pending != 0 {
		t.Fatalf("stats %+v: want frames acknowledged as duplicates, none pending", st)
	}
	got, _ := stored(t, c.URLs())
	exactlyOnce(t, got, want)
}

// TestRejectedFrame: a stream an operator made with a smaller message limit
// refuses a large frame for good; it is dropped and counted rather than
// holding up the frames behind it.
func TestRejectedFrame(t *testing.T) {
	c := natstest.Server(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := start(t, c.URLs(), t.TempDir())
	cfg := link.StreamConfig(1, 1<<30)
	cfg.MaxMsgSize = 64 << 10
	if _, err := f.conn.JS.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	big := &obs.Checkpoint{Sensor: "tap-a", JSON: []byte(`"` + strings.Repeat("x", 200<<10) + `"`)}
	if !f.pub.Add(big) {
		t.Fatal("queue full")
	}
	want := beats("tap-a", 0, 300)
	f.send(want)
	f.close(20 * time.Second)
	st := f.pub.Stats()
	if st.Rejected != 1 || st.Outbox.Pending != 0 {
		t.Fatalf("stats %+v: want 1 frame rejected, none pending", st)
	}
	got, _ := stored(t, c.URLs())
	exactlyOnce(t, got, want)
}

func TestCloseUnstarted(t *testing.T) {
	ob, err := outbox.Open(t.TempDir(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := New(Config{Sensor: "tap-a", Outbox: ob})
	done := make(chan error, 1)
	go func() { done <- p.Close(context.Background()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close of a publisher never started hangs")
	}
}
