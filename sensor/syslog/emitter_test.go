package syslog

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/launchtap/launchtap/sensor/alert"
)

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func numberedAlert(i int) *alert.Alert {
	a := trickyAlert()
	a.ID = fmt.Sprintf("alert-%04d", i)
	return a
}

func newTestEmitter(t testing.TB, cfg Config) *Emitter {
	t.Helper()
	if cfg.BackoffMin == 0 {
		cfg.BackoffMin = 20 * time.Millisecond
		cfg.BackoffMax = 200 * time.Millisecond
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "test-sensor"
	}
	e, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func closeEmitter(t testing.TB, e *Emitter, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return e.Close(ctx)
}

func TestEmitterTCPDelivery(t *testing.T) {
	r := newGoReceiver(t, nil)
	e := newTestEmitter(t, Config{URLs: []string{"tcp://" + r.addr()}})
	for i := 1; i <= 50; i++ {
		e.Alert(numberedAlert(i))
	}
	e.Stats(map[string]uint64{"packets": 10})
	e.Health("ok", 6)
	if err := closeEmitter(t, e, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "52 messages", func() bool { return len(r.messages()) >= 52 })
	got, ids := seqs(t, r.messages())
	if dups := checkAllInOrder(t, got, 52); dups != 0 || len(got) != 52 {
		t.Errorf("%d messages, %d duplicates", len(got), dups)
	}
	if ids[0] != "alert-0001" || ids[49] != "alert-0050" {
		t.Errorf("ids %s..%s", ids[0], ids[49])
	}
	c := e.Counters().Destinations[0]
	if c.Queued != 52 || c.Sent != 52 || c.Delivered != 52 || c.Dropped != 0 || c.Depth != 0 || c.Retried != 0 {
		t.Errorf("counters %+v", c)
	}
}

// TestEmitterDeadReceiver: the receiver resets the connection with data its
// kernel acknowledged but it never read. The resend window brings those
// messages back after the reconnect.
func TestEmitterDeadReceiver(t *testing.T) {
	r := newGoReceiver(t, nil)
	r.killAfter = 10
	e := newTestEmitter(t, Config{URLs: []string{"tcp://" + r.addr()}, ResendWindow: 2 * time.Second})
	const n = 200
	for i := 1; i <= n; i++ {
		e.Alert(numberedAlert(i))
		time.Sleep(2 * time.Millisecond)
	}
	if err := closeEmitter(t, e, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	// Delivered means acknowledged by the receiver's kernel; let it read.
	waitFor(t, 5*time.Second, "all alerts at the receiver", func() bool {
		got, _ := seqs(t, r.messages())
		distinct := map[int]bool{}
		for _, s := range got {
			distinct[s] = true
		}
		return len(distinct) >= n
	})
	got, _ := seqs(t, r.messages())
	dups := checkAllInOrder(t, got, n)
	c := e.Counters().Destinations[0]
	t.Logf("received %d for %d alerts, %d duplicates; counters %+v", len(got), n, dups, c)
	if c.Retried == 0 || c.ConnErrors == 0 || c.Connects < 2 || c.Delivered != n || c.Dropped != 0 {
		t.Errorf("counters %+v", c)
	}
}

func TestEmitterQueueFullDrops(t *testing.T) {
	port := freePort(t) // nobody listens
	e := newTestEmitter(t, Config{URLs: []string{fmt.Sprintf("tcp://127.0.0.1:%d", port)}, QueueLen: 10})
	full := 0
	for i := 1; i <= 30; i++ {
		if err := e.Alert(numberedAlert(i)); errors.Is(err, ErrQueueFull) {
			full++
		}
	}
	// Backlog (10) and queue (10) hold at most 20; how many of the 30 got in
	// depends on how fast the worker moved them; the rest is dropped.
	waitFor(t, 5*time.Second, "backlog to settle", func() bool {
		c := e.Counters().Destinations[0]
		return c.Depth == c.Queued && c.ConnErrors > 0
	})
	c := e.Counters().Destinations[0]
	if c.Queued+c.Dropped != 30 || c.Queued < 10 || c.Queued > 20 || uint64(full) != c.Dropped {
		t.Errorf("counters %+v", c)
	}
	err := closeEmitter(t, e, 200*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%d messages not delivered", c.Queued)) {
		t.Errorf("Close = %v", err)
	}
	if c := e.Counters().Destinations[0]; c.Dropped != 30 {
		t.Errorf("after close dropped %d, want 30", c.Dropped)
	}
	if err := e.Alert(numberedAlert(31)); !errors.Is(err, ErrClosed) {
		t.Errorf("Alert after Close = %v", err)
	}
	if c := e.Counters().Destinations[0]; c.Dropped != 31 {
		t.Errorf("alert after close not counted as dropped: %+v", c)
	}
}

// TestEmitterSpoolRestart: messages spooled while the receiver is down and
// the sensor stops are delivered, in order, by the next sensor process.
func TestEmitterSpoolRestart(t *testing.T) {
	spoolDir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // down for now
	url := "tcp://" + addr
	e := newTestEmitter(t, Config{URLs: []string{url}, Spool: spoolDir})
	for i := 1; i <= 20; i++ {
		e.Alert(numberedAlert(i))
	}
	if err := closeEmitter(t, e, 300*time.Millisecond); err != nil {
		t.Fatalf("close with spool: %v", err)
	}
	c := e.Counters().Destinations[0]
	if c.Spooled != 20 || c.Dropped != 0 || c.Delivered != 0 {
		t.Fatalf("first run counters %+v", c)
	}

	// Receiver back on the same address; a new process starts.
	l2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", addr, err)
	}
	r := &goReceiver{t: t, ln: l2}
	go r.accept()
	defer r.close()
	e2 := newTestEmitter(t, Config{URLs: []string{url}, Spool: spoolDir})
	if d := e2.Counters().Destinations[0].Depth; d != 20 {
		t.Errorf("restart sees depth %d, want 20", d)
	}
	for i := 21; i <= 30; i++ {
		e2.Alert(numberedAlert(i))
	}
	if err := closeEmitter(t, e2, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "30 messages at the receiver", func() bool { return len(r.messages()) >= 30 })
	_, ids := seqs(t, r.messages())
	if len(ids) != 30 {
		t.Fatalf("received %d, want 30: %v", len(ids), ids)
	}
	for i, id := range ids {
		if want := fmt.Sprintf("alert-%04d", i+1); id != want {
			t.Fatalf("message %d is %s, want %s", i, id, want)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(spoolDir, "*", "seg-*.spl")); len(files) > 1 {
		t.Errorf("delivered segments left behind: %v", files)
	}
}

func TestEmitterUDPTruncates(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	e := newTestEmitter(t, Config{URLs: []string{"udp://" + pc.LocalAddr().String()}, MaxUDP: 600})
	e.Alert(numberedAlert(1))
	buf := make([]byte, 65536)
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if n > 600 {
		t.Fatalf("datagram of %d bytes", n)
	}
	m := parse5424(t, buf[:n])
	if (*m.StructuredData)[DefaultSDID]["truncated"] != "1" || (*m.StructuredData)[DefaultSDID]["id"] != "alert-0001" {
		t.Errorf("truncated datagram: %q", buf[:n])
	}
	closeEmitter(t, e, time.Second)
	if c := e.Counters().Destinations[0]; c.Truncated != 1 || c.Delivered != 1 {
		t.Errorf("counters %+v", c)
	}
}

// TestEmitterUDPOutage: a connected UDP socket learns from ICMP that the
// receiver is down; messages sent meanwhile are kept and sent again.
func TestEmitterUDPOutage(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	var got [][]byte
	distinct := map[string]bool{}
	read := func(pc net.PacketConn, until int) {
		buf := make([]byte, 65536)
		for len(distinct) < until {
			pc.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				t.Fatalf("after %d datagrams: %v", len(got), err)
			}
			got = append(got, append([]byte(nil), buf[:n]...))
			distinct[string((*parse5424(t, buf[:n]).StructuredData)["meta"]["sequenceId"])] = true
		}
	}
	e := newTestEmitter(t, Config{URLs: []string{"udp://" + addr}, ResendWindow: 500 * time.Millisecond})
	for i := 1; i <= 10; i++ {
		e.Alert(numberedAlert(i))
	}
	read(pc, 10)
	time.Sleep(600 * time.Millisecond) // the first ten are delivered
	if c := e.Counters().Destinations[0]; c.Delivered != 10 {
		t.Fatalf("before the outage: %+v", c)
	}
	pc.Close()
	for i := 11; i <= 30; i++ {
		e.Alert(numberedAlert(i))
		time.Sleep(10 * time.Millisecond)
	}
	pc, err = net.ListenPacket("udp", addr)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", addr, err)
	}
	defer pc.Close()
	read(pc, 30)
	if err := closeEmitter(t, e, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	seq, _ := seqs(t, got)
	dups := checkAllInOrder(t, seq, 30)
	c := e.Counters().Destinations[0]
	t.Logf("UDP outage: %d datagrams for 30 alerts, %d duplicates; %+v", len(got), dups, c)
	if c.ConnErrors == 0 || c.Retried == 0 {
		t.Errorf("outage not noticed: %+v", c)
	}
}

func TestEmitterUnixSockets(t *testing.T) {
	dir := t.TempDir()
	// Datagram socket, like /dev/log.
	dgram := filepath.Join(dir, "dgram.sock")
	pc, err := net.ListenPacket("unixgram", dgram)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	// Stream socket: the fallback, LF-terminated.
	stream := filepath.Join(dir, "stream.sock")
	ln, err := net.Listen("unix", stream)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lines := make(chan string, 10)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		sc := bufio.NewScanner(c)
		sc.Buffer(nil, maxStreamMsg)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	e := newTestEmitter(t, Config{URLs: []string{"unix://" + dgram, "unix://" + stream + "?format=cef"}})
	e.Alert(numberedAlert(1))
	e.Alert(numberedAlert(2))
	buf := make([]byte, 65536)
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i := 1; i <= 2; i++ {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		if id := (*parse5424(t, buf[:n]).StructuredData)[DefaultSDID]["id"]; id != fmt.Sprintf("alert-%04d", i) {
			t.Errorf("unixgram message %d: id %q", i, id)
		}
	}
	for i := 1; i <= 2; i++ {
		select {
		case l := <-lines:
			m := parse5424(t, []byte(l))
			if !strings.Contains(*m.Message, fmt.Sprintf("externalId=alert-%04d", i)) {
				t.Errorf("unix stream message %d: %q", i, l)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("nothing on the stream socket")
		}
	}
	if err := closeEmitter(t, e, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestEmitterTLSClientCert(t *testing.T) {
	pki := newTestPKI(t)
	cert, err := tls.LoadX509KeyPair(pki.serverCert, pki.serverKey)
	if err != nil {
		t.Fatal(err)
	}
	r := newGoReceiver(t, &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pki.pool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12})
	e := newTestEmitter(t, Config{URLs: []string{"tls://" + r.addr()}, CAFile: pki.caFile,
		CertFile: pki.clientCert, KeyFile: pki.clientKey})
	for i := 1; i <= 5; i++ {
		e.Alert(numberedAlert(i))
	}
	if err := closeEmitter(t, e, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "5 messages at the receiver", func() bool { return len(r.messages()) >= 5 })
	got, _ := seqs(t, r.messages())
	if checkAllInOrder(t, got, 5); len(got) != 5 {
		t.Errorf("got %d messages", len(got))
	}
	// Without the CA the server is not trusted: nothing is delivered.
	e = newTestEmitter(t, Config{URLs: []string{"tls://" + r.addr()}})
	e.Alert(numberedAlert(6))
	waitFor(t, 5*time.Second, "a TLS failure", func() bool { return e.Counters().Destinations[0].ConnErrors > 0 })
	if err := closeEmitter(t, e, 100*time.Millisecond); err == nil {
		t.Error("untrusted server: Close reported nothing undelivered")
	}
	if len(r.messages()) != 5 {
		t.Errorf("untrusted connection delivered messages")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{URLs: []string{"ftp://x"}},
		{URLs: []string{"tcp://x"}, Format: "xml"},
		{URLs: []string{"tcp://x"}, Facility: "local9"},
		{URLs: []string{"tcp://x"}, SDID: "launchtap"},
		{URLs: []string{"tcp://x"}, SpoolSync: "sometimes"},
		{URLs: []string{"tcp://x"}, MaxUDP: 100},
		{URLs: []string{"tls://x"}, CAFile: "/nonexistent/ca.pem"},
		{URLs: []string{"tls://x"}, CertFile: "/only/cert.pem"},
	} {
		if _, err := New(cfg, nil); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

// TestEmitterIdleClose: a receiver that closes idle connections (an idle
// timeout) is not an outage, and the next alert reconnects.
func TestEmitterIdleClose(t *testing.T) {
	r := newGoReceiver(t, nil)
	e := newTestEmitter(t, Config{URLs: []string{"tcp://" + r.addr()}})
	e.Alert(numberedAlert(1))
	waitFor(t, 5*time.Second, "first delivery", func() bool { return e.Counters().Destinations[0].Delivered == 1 })
	r.mu.Lock()
	for _, c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	waitFor(t, 5*time.Second, "the close to be noticed", func() bool { return !e.Counters().Destinations[0].Up })
	e.Alert(numberedAlert(2))
	if err := closeEmitter(t, e, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	c := e.Counters().Destinations[0]
	if c.ConnErrors != 0 || c.Connects != 2 || c.Delivered != 2 || c.Retried != 0 {
		t.Errorf("counters %+v", c)
	}
	waitFor(t, 5*time.Second, "2 messages at the receiver", func() bool { return len(r.messages()) == 2 })
}

func TestEmitterTCPMaxMsg(t *testing.T) {
	r := newGoReceiver(t, nil)
	e := newTestEmitter(t, Config{URLs: []string{"tcp://" + r.addr()}, MaxMsg: 700})
	a := numberedAlert(1)
	a.Reasons = append(a.Reasons, strings.Repeat("long reason ", 200))
	e.Alert(a)
	if err := closeEmitter(t, e, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the message", func() bool { return len(r.messages()) == 1 })
	b := r.messages()[0]
	sd := (*parse5424(t, b).StructuredData)[DefaultSDID]
	if len(b) > 700 || sd["truncated"] != "1" || sd["id"] != "alert-0001" {
		t.Errorf("%d bytes: %q", len(b), b)
	}
	if c := e.Counters().Destinations[0]; c.Truncated != 1 {
		t.Errorf("counters %+v", c)
	}
}
