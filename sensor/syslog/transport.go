package syslog

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Transports.
const (
	schemeUDP  = "udp"
	schemeTCP  = "tcp"
	schemeTLS  = "tls"
	schemeUnix = "unix"
)

// conn is one connection to a receiver. Stream connections frame messages
// and can tell how many of the bytes written the peer has acknowledged.
type conn struct {
	nc     net.Conn     // what messages are written to (tls.Conn or the socket)
	raw    *countedConn // the socket under nc
	stream bool
	octet  bool // RFC 6587 octet counting (tcp, tls); else LF-terminated (unix stream)
	// window: a message counts as delivered only ResendWindow after the
	// peer's acknowledgement (tcp, tls) or after it was sent without an ICMP
	// error coming back (udp).
	window bool
	dead   chan struct{} // closed (by kill) when the peer is seen gone; nil for unixgram
	opened time.Time
	once   sync.Once
	err    atomic.Value // error that killed the connection
	buf    []byte
}

// countedConn counts the bytes written to the socket, including TLS records
// and handshake, so they compare with the kernel's send-queue figures.
type countedConn struct {
	net.Conn
	written atomic.Uint64
}

func (c *countedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written.Add(uint64(n))
	return n, err
}

// dialer opens connections to one destination.
type dialer struct {
	scheme  string
	addr    string
	tls     *tls.Config
	timeout time.Duration
}

func newTLSConfig(host, caFile, certFile, keyFile string) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("syslog: reading CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("syslog: CA file %s: no PEM certificates", caFile)
		}
		cfg.RootCAs = pool
	}
	if certFile != "" || keyFile != "" {
		if certFile == "" || keyFile == "" {
			return nil, errors.New("syslog: client certificate needs both --syslog-cert-file and --syslog-key-file")
		}
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("syslog: loading client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func (d *dialer) dial(ctx context.Context) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	var nd net.Dialer
	switch d.scheme {
	case schemeUDP:
		nc, err := nd.DialContext(ctx, "udp", d.addr)
		if err != nil {
			return nil, err
		}
		// A connected UDP socket reports the receiver's ICMP port-unreachable
		// as ECONNREFUSED to a reader: watch for it.
		c := &conn{nc: nc, raw: &countedConn{Conn: nc}, window: true}
		c.watch()
		return c, nil
	case schemeUnix:
		// /dev/log is a datagram socket on Linux; syslog-ng may offer a stream one.
		nc, err := nd.DialContext(ctx, "unixgram", d.addr)
		if err == nil {
			return &conn{nc: nc, raw: &countedConn{Conn: nc}}, nil
		}
		if !errors.Is(err, syscall.EPROTOTYPE) {
			return nil, err
		}
		nc, err = nd.DialContext(ctx, "unix", d.addr)
		if err != nil {
			return nil, err
		}
		c := &conn{nc: nc, raw: &countedConn{Conn: nc}, stream: true}
		c.watch()
		return c, nil
	case schemeTCP:
		nc, err := nd.DialContext(ctx, "tcp", d.addr)
		if err != nil {
			return nil, err
		}
		c := &conn{nc: nc, raw: &countedConn{Conn: nc}, stream: true, octet: true, window: true}
		c.watch()
		return c, nil
	case schemeTLS:
		nc, err := nd.DialContext(ctx, "tcp", d.addr)
		if err != nil {
			return nil, err
		}
		raw := &countedConn{Conn: nc}
		tc := tls.Client(raw, d.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		c := &conn{nc: tc, raw: raw, stream: true, octet: true, window: true}
		c.watch()
		return c, nil
	}
	return nil, fmt.Errorf("unknown transport %q", d.scheme)
}

// watch starts the reader that notices a dead peer. Receivers never send on
// a syslog connection: any read result, EOF included, means the peer has gone
// (or, for UDP, that it refused a datagram) and unconfirmed data may be lost.
func (c *conn) watch() {
	c.dead = make(chan struct{})
	go func() {
		var b [512]byte
		for {
			n, err := c.nc.Read(b[:])
			if err == nil && n > 0 {
				continue
			}
			if err == nil {
				err = io.EOF
			}
			c.kill(err)
			return
		}
	}()
}

func (c *conn) kill(err error) {
	c.once.Do(func() {
		c.err.Store(err)
		close(c.dead)
	})
}

// errGone is returned by write when the connection's peer is known gone;
// conn.err says how.
var errGone = errors.New("receiver gone")

// write sends one message with the transport's framing and returns the
// socket byte offset at which the message ends.
func (c *conn) write(msg []byte, timeout time.Duration) (uint64, error) {
	if c.peerGone() {
		return 0, errGone
	}
	frame := msg
	switch {
	case c.octet:
		c.buf = strconv.AppendInt(c.buf[:0], int64(len(msg)), 10)
		c.buf = append(c.buf, ' ')
		c.buf = append(c.buf, msg...)
		frame = c.buf
	case c.stream:
		c.buf = append(append(c.buf[:0], msg...), '\n')
		frame = c.buf
	}
	if timeout > 0 {
		c.nc.SetWriteDeadline(time.Now().Add(timeout))
	}
	if _, err := c.nc.Write(frame); err != nil {
		return 0, err
	}
	return c.raw.written.Load(), nil
}

// acked returns how many socket bytes the peer has acknowledged, and false
// when that cannot be trusted any more (the connection is not established).
// Datagram sockets count everything written.
func (c *conn) acked() (uint64, bool) {
	w := c.raw.written.Load()
	if c.dead != nil {
		select {
		case <-c.dead:
			return 0, false
		default:
		}
	}
	if !c.stream {
		// UDP: an ICMP error may be pending on the socket before the reader
		// goroutine has run; ask the socket itself.
		if err := socketError(c.raw.Conn); err != nil {
			c.kill(err)
			return 0, false
		}
		return w, true
	}
	outq, ok := sendQueue(c.raw.Conn, false)
	if !ok || outq > w {
		return 0, false
	}
	return w - outq, true
}

// ackedAtClose is acked for a TCP/TLS connection the peer closed cleanly
// (FIN, read as EOF). A receiver only closes cleanly with nothing unread
// in its socket buffer (else its kernel sends a reset), so what its TCP
// acknowledged was read by the receiving process. The acknowledged count
// comes from tcpi_bytes_acked, which a later reset does not erase; the send
// queue is the fallback where that is unavailable.
func (c *conn) ackedAtClose() (uint64, bool) {
	err, _ := c.err.Load().(error)
	if !c.stream || !c.octet || !errors.Is(err, io.EOF) {
		return 0, false
	}
	w := c.raw.written.Load()
	if acked, ok := bytesAcked(c.raw.Conn); ok && acked <= w {
		return acked, true
	}
	outq, ok := sendQueue(c.raw.Conn, true)
	if !ok || outq > w {
		return 0, false
	}
	return w - outq, true
}

// peerGone reports whether the peer is known to have left: the reader saw
// it, or (TCP) the connection is in CLOSE_WAIT though the reader has not run
// yet. Checked before a record is taken, so that nothing is written into a
// closed connection (see peerClosed).
func (c *conn) peerGone() bool {
	if c.dead == nil {
		return false
	}
	if c.stream && peerClosed(c.raw.Conn) {
		c.kill(io.EOF)
	}
	select {
	case <-c.dead:
		return true
	default:
		return false
	}
}

func (c *conn) close() error {
	return c.nc.Close()
}
