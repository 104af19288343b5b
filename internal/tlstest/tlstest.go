// Package tlstest makes real TLS bytes for tests of the parsers that read
// them off the wire: the first flight of Go's own TLS client.
package tlstest

import (
	"crypto/tls"
	"fmt"
	"net"
	"time"
)

// ClientHello returns the TLS record carrying the ClientHello Go's TLS
// client sends for sni. With Go's post-quantum key share (X25519MLKEM768) it
// is longer than one 1400-byte segment, as browsers' hellos now are.
func ClientHello(sni string) ([]byte, error) {
	c, s := net.Pipe()
	defer s.Close()
	go func() {
		cl := tls.Client(c, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
		cl.SetDeadline(time.Now().Add(5 * time.Second))
		cl.Handshake()
		c.Close()
	}()
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	var hello []byte
	buf := make([]byte, 4096)
	for {
		n, err := s.Read(buf)
		hello = append(hello, buf[:n]...)
		if len(hello) >= 5 {
			if end := 5 + (int(hello[3])<<8 | int(hello[4])); len(hello) >= end {
				return hello[:end], nil
			}
		}
		if err != nil {
			return nil, fmt.Errorf("tlstest: reading the client hello: %w", err)
		}
	}
}

// MustClientHello is ClientHello for tests: it fails tb on error.
func MustClientHello(tb interface {
	Helper()
	Fatal(...any)
}, sni string) []byte {
	tb.Helper()
	b, err := ClientHello(sni)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
