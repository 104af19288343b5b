package syslog

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"
)

// logRecorder is a slog handler that keeps every record.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec.Clone())
	return nil
}

// find returns the records with message msg and the value of attribute key
// in each (0 where absent).
func (r *logRecorder) find(msg, key string) []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []uint64
	for _, rec := range r.recs {
		if rec.Message != msg {
			continue
		}
		var v uint64
		rec.Attrs(func(a slog.Attr) bool {
			if a.Key == key {
				v = a.Value.Uint64()
			}
			return true
		})
		out = append(out, v)
	}
	return out
}

// TestOutageLogCoalesced: a receiver that is down logs one line when the
// outage starts and one, with the number of failures, when a message is
// confirmed again or the sensor stops; failures in between are not logged
// above debug. A connected UDP socket dials fine and then learns from ICMP
// that nobody listens: before, every attempt logged "reachable again"
// followed by "unreachable".
func TestOutageLogCoalesced(t *testing.T) {
	const (
		unreachable = "syslog: receiver unreachable, buffering"
		reachable   = "syslog: receiver reachable again"
		atShutdown  = "syslog: receiver unreachable until shutdown"
	)
	for _, scheme := range []string{"udp", "tcp"} {
		t.Run(scheme, func(t *testing.T) {
			addr := "127.0.0.1:" + strconv.Itoa(freePort(t)) // nobody listens yet
			logs := &logRecorder{}
			e, err := New(Config{
				URLs: []string{scheme + "://" + addr}, Hostname: "test-sensor",
				BackoffMin: 10 * time.Millisecond, BackoffMax: 40 * time.Millisecond,
				ResendWindow: 50 * time.Millisecond,
			}, slog.New(logs))
			if err != nil {
				t.Fatal(err)
			}
			defer closeEmitter(t, e, time.Second)
			counters := func() DestCounters { return e.Counters().Destinations[0] }
			for i := 1; i <= 5; i++ {
				e.Alert(numberedAlert(i))
			}
			waitFor(t, 10*time.Second, "five failures", func() bool { return counters().ConnErrors >= 5 })
			if got := logs.find(unreachable, ""); len(got) != 1 {
				t.Errorf("%d %q lines during the outage, want 1", len(got), unreachable)
			}
			if got := logs.find(reachable, ""); len(got) != 0 {
				t.Errorf("%d %q lines while nothing was delivered", len(got), reachable)
			}

			stopReceiver := listen(t, scheme, addr)
			waitFor(t, 10*time.Second, "delivery after the outage", func() bool { return counters().Delivered == 5 })
			c := counters()
			if got := logs.find(reachable, "failures"); len(got) != 1 || got[0] != c.ConnErrors {
				t.Errorf("%q lines with failures %v, want one with %d", reachable, got, c.ConnErrors)
			}

			// A second outage, still on at shutdown.
			stopReceiver()
			for i := 6; i <= 10; i++ {
				e.Alert(numberedAlert(i))
			}
			waitFor(t, 10*time.Second, "three more failures", func() bool { return counters().ConnErrors >= c.ConnErrors+3 })
			if err := closeEmitter(t, e, 200*time.Millisecond); err == nil {
				t.Error("Close reported nothing undelivered")
			}
			if got := logs.find(unreachable, ""); len(got) != 2 {
				t.Errorf("%d %q lines for two outages, want 2", len(got), unreachable)
			}
			end := counters().ConnErrors
			if got := logs.find(atShutdown, "failures"); len(got) != 1 || got[0] != end-c.ConnErrors {
				t.Errorf("%q lines with failures %v, want one with %d", atShutdown, got, end-c.ConnErrors)
			}
		})
	}
}

// listen starts a receiver on addr that reads and discards; the returned
// function stops it and drops its connections.
func listen(t *testing.T, scheme, addr string) func() {
	t.Helper()
	if scheme == "udp" {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			t.Skipf("port %s taken meanwhile: %v", addr, err)
		}
		return func() { pc.Close() }
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", addr, err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go io.Copy(io.Discard, c)
		}
	}()
	return func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}
}
