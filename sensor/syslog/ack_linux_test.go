package syslog

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// TestWriteAfterPeerClose: the receiver read a message and closed cleanly,
// but the connection's reader has not noticed yet. A write must not go out
// (the reset it draws would erase what the receiver acknowledged), and the
// close must confirm the message it read.
func TestWriteAfterPeerClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	first := []byte("<134>1 - - launchtap - BEACON - first")
	served := make(chan error, 1)
	go func() {
		sc, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer sc.Close()
		want := len(first) + len("38 ")
		_, err = io.ReadFull(sc, make([]byte, want))
		served <- err
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// No watch(): the reader goroutine has "not run yet".
	raw := &countedConn{Conn: nc}
	c := &conn{nc: raw, raw: raw, stream: true, octet: true, window: true, dead: make(chan struct{})}
	end, err := c.write(first, time.Second)
	if err != nil || end != uint64(len(first)+len("38 ")) {
		t.Fatalf("write: end %d, %v", end, err)
	}
	if err := <-served; err != nil {
		t.Fatalf("receiver: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !peerClosed(nc) {
		if time.Now().After(deadline) {
			t.Fatal("connection never reached CLOSE_WAIT")
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := c.write([]byte("second"), time.Second); !errors.Is(err, errGone) {
		t.Fatalf("write after the peer's FIN: %v, want errGone", err)
	}
	acked, ok := c.ackedAtClose()
	if !ok || acked != end {
		t.Errorf("ackedAtClose = %d, %v; want %d, true", acked, ok, end)
	}

	// Had a write gone out anyway (the FIN arriving just after the check),
	// the reset it draws empties the send queue; the count must survive it.
	if _, err := nc.Write([]byte("late")); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); peerClosed(nc); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no reset after writing into the closed connection")
		}
	}
	if acked, ok := c.ackedAtClose(); !ok || acked != end {
		t.Errorf("after the reset: ackedAtClose = %d, %v; want %d, true", acked, ok, end)
	}
}
