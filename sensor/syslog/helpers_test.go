package syslog

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/leodido/go-syslog/v4/rfc5424"
)

// testPKI is a CA with a server certificate for 127.0.0.1/localhost and a
// client certificate, written as PEM files.
type testPKI struct {
	dir                                                  string
	caFile, serverCert, serverKey, clientCert, clientKey string
	pool                                                 *x509.CertPool
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	dir := t.TempDir()
	p := &testPKI{dir: dir}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "launchtap test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	p.caFile = writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER)
	p.pool = x509.NewCertPool()
	p.pool.AddCert(caCert)
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage) (string, string) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalPKCS8PrivateKey(key)
		return writePEM(t, dir, name+".pem", "CERTIFICATE", der), writePEM(t, dir, name+"-key.pem", "PRIVATE KEY", kder)
	}
	p.serverCert, p.serverKey = leaf("server", 2, x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey = leaf("client", 3, x509.ExtKeyUsageClientAuth)
	return p
}

func writePEM(t testing.TB, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// freePort returns a loopback port that was free a moment ago, for both
// TCP and UDP.
func freePort(t testing.TB) int {
	t.Helper()
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// readOctetCounted reads one RFC 6587 octet-counted frame.
func readOctetCounted(r *bufio.Reader) ([]byte, error) {
	lenStr, err := r.ReadString(' ')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(lenStr[:len(lenStr)-1])
	if err != nil || n <= 0 || n > maxStreamMsg {
		return nil, fmt.Errorf("bad frame length %q", lenStr)
	}
	b := make([]byte, n)
	_, err = io.ReadFull(r, b)
	return b, err
}

// goReceiver is a Go syslog receiver (TCP or TLS) that records every
// message it gets and can drop connections on demand.
type goReceiver struct {
	t     testing.TB
	ln    net.Listener
	mu    sync.Mutex
	msgs  [][]byte
	conns []net.Conn
	// killAfter: after this many messages on a connection, reset it without
	// reading further (data the kernel acknowledged is lost). 0 = never.
	killAfter int
	kills     int
}

func newGoReceiver(t testing.TB, tlsCfg *tls.Config) *goReceiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	r := &goReceiver{t: t, ln: ln}
	go r.accept()
	t.Cleanup(func() { r.close() })
	return r
}

func (r *goReceiver) addr() string { return r.ln.Addr().String() }

func (r *goReceiver) accept() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		r.conns = append(r.conns, c)
		r.mu.Unlock()
		go r.serve(c)
	}
}

func (r *goReceiver) serve(c net.Conn) {
	br := bufio.NewReader(c)
	n := 0
	for {
		b, err := readOctetCounted(br)
		if err != nil {
			c.Close()
			return
		}
		r.mu.Lock()
		r.msgs = append(r.msgs, b)
		n++
		kill := r.killAfter > 0 && n == r.killAfter && r.kills == 0
		if kill {
			r.kills++
		}
		r.mu.Unlock()
		if kill {
			// Let more data arrive and be acknowledged by the kernel, then
			// reset the connection with it unread.
			time.Sleep(100 * time.Millisecond)
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			c.Close()
			return
		}
	}
}

func (r *goReceiver) close() {
	r.ln.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		c.Close()
	}
}

func (r *goReceiver) messages() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.msgs...)
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// seqs parses messages and returns their meta sequenceIds and alert ids.
func seqs(t testing.TB, msgs [][]byte) ([]int, []string) {
	t.Helper()
	var out []int
	var ids []string
	p := rfc5424.NewParser(rfc5424.WithCompliantMsg())
	for _, b := range msgs {
		m, err := p.Parse(b)
		if err != nil {
			t.Fatalf("receiver got unparsable %q: %v", b, err)
		}
		sm := m.(*rfc5424.SyslogMessage)
		n, _ := strconv.Atoi((*sm.StructuredData)["meta"]["sequenceId"])
		out = append(out, n)
		ids = append(ids, (*sm.StructuredData)[DefaultSDID]["id"])
	}
	return out, ids
}

// checkAllInOrder asserts that 1..n all arrived and that the first arrival
// of each is in order; it returns the number of duplicates.
func checkAllInOrder(t testing.TB, got []int, n int) int {
	t.Helper()
	seen := map[int]bool{}
	var firsts []int
	dups := 0
	for _, s := range got {
		if seen[s] {
			dups++
			continue
		}
		seen[s] = true
		firsts = append(firsts, s)
	}
	for i := 1; i <= n; i++ {
		if !seen[i] {
			t.Errorf("sequenceId %d missing (got %d messages, %d distinct)", i, len(got), len(firsts))
		}
	}
	for i := 1; i < len(firsts); i++ {
		if firsts[i] < firsts[i-1] {
			t.Errorf("order: %d arrived after %d", firsts[i], firsts[i-1])
			break
		}
	}
	return dups
}
