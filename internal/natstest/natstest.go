// Package natstest runs real NATS servers for tests: one in-process
// JetStream server, or a JetStream cluster of in-process servers with,
// where Debian's nats-server binary is installed, one member run from it
// (a cross-version check); and a TCP proxy whose link a test can cut and
// restore.
package natstest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/launchtap/launchtap/internal/testenv"
)

// Member is one server of a cluster.
type Member struct {
	Name    string
	Port    int // client port
	CPort   int // cluster port
	Dir     string
	Binary  string // Debian's nats-server when set, else in-process
	srv     *server.Server
	cmd     *exec.Cmd
	routes  []string
	cluster bool
}

// URL is the member's client URL.
func (m *Member) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", m.Port) }

// Cluster is a set of running servers.
type Cluster struct {
	tb      testing.TB
	Members []*Member
}

// URLs is every member's client URL, comma-separated.
func (c *Cluster) URLs() string {
	var u []string
	for _, m := range c.Members {
		u = append(u, m.URL())
	}
	return strings.Join(u, ",")
}

func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Server starts one in-process JetStream server, stopped at the test's end.
func Server(tb testing.TB) *Cluster {
	tb.Helper()
	m := &Member{Name: "lt-solo", Port: freePort(tb), Dir: tb.TempDir()}
	c := &Cluster{tb: tb, Members: []*Member{m}}
	tb.Cleanup(c.Shutdown)
	if err := m.start(); err != nil {
		tb.Fatal(err)
	}
	c.waitJetStream()
	return c
}

// DebianBinary is Debian's nats-server, "" when not installed.
func DebianBinary() string {
	for _, p := range []string{"/usr/bin/nats-server", "/usr/sbin/nats-server"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// NewCluster starts an n-member JetStream cluster; with debian set, the
// last member runs Debian's nats-server binary, and the test skips (fails
// under CI=true) when it is not installed.
func NewCluster(tb testing.TB, n int, debian bool) *Cluster {
	tb.Helper()
	bin := ""
	if debian {
		if bin = DebianBinary(); bin == "" {
			testenv.Skip(tb, "Debian's nats-server is not installed (apt-get install nats-server)")
		}
	}
	c := &Cluster{tb: tb}
	tb.Cleanup(c.Shutdown)
	for i := range n {
		c.Members = append(c.Members, &Member{Name: fmt.Sprintf("lt-n%d", i), Port: freePort(tb), CPort: freePort(tb),
			Dir: tb.TempDir(), cluster: true})
	}
	if bin != "" {
		c.Members[n-1].Binary = bin
	}
	for _, m := range c.Members {
		for _, o := range c.Members {
			if o != m {
				m.routes = append(m.routes, fmt.Sprintf("nats-route://127.0.0.1:%d", o.CPort))
			}
		}
	}
	for _, m := range c.Members {
		if err := m.start(); err != nil {
			tb.Fatal(err)
		}
	}
	c.waitJetStream()
	return c
}

func (m *Member) start() error {
	if m.Binary != "" {
		return m.startBinary()
	}
	opts := &server.Options{ServerName: m.Name, Host: "127.0.0.1", Port: m.Port, JetStream: true, StoreDir: m.Dir,
		NoLog: true, NoSigs: true, MaxPayload: 1 << 20}
	if m.cluster {
		opts.Cluster = server.ClusterOpts{Name: "launchtap", Host: "127.0.0.1", Port: m.CPort}
		for _, r := range m.routes {
			u, _ := url.Parse(r)
			opts.Routes = append(opts.Routes, u)
		}
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("natstest: %s: %w", m.Name, err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return fmt.Errorf("natstest: %s not ready", m.Name)
	}
	m.srv = s
	return nil
}

func (m *Member) startBinary() error {
	conf := fmt.Sprintf("server_name: %s\nlisten: 127.0.0.1:%d\njetstream { store_dir: %q }\n", m.Name, m.Port, m.Dir)
	if m.cluster {
		conf += fmt.Sprintf("cluster { name: launchtap\n listen: 127.0.0.1:%d\n routes: [%s]\n}\n", m.CPort, strings.Join(m.routes, ", "))
	}
	path := filepath.Join(m.Dir, "nats.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return err
	}
	m.cmd = exec.Command(m.Binary, "-c", path)
	m.cmd.Stdout, m.cmd.Stderr = io.Discard, io.Discard
	if err := m.cmd.Start(); err != nil {
		return fmt.Errorf("natstest: %s: %w", m.Binary, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", m.Port)); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("natstest: %s (%s) not listening", m.Name, m.Binary)
}

// Version is the member's server version.
func (m *Member) Version(tb testing.TB) string {
	nc, err := nats.Connect(m.URL())
	if err != nil {
		tb.Fatal(err)
	}
	defer nc.Close()
	return nc.ConnectedServerVersion()
}

// Stop stops member i (a hub server going down).
func (c *Cluster) Stop(i int) {
	m := c.Members[i]
	if m.srv != nil {
		m.srv.Shutdown()
		m.srv.WaitForShutdown()
		m.srv = nil
	}
	if m.cmd != nil {
		_ = m.cmd.Process.Kill()
		_ = m.cmd.Wait()
		m.cmd = nil
	}
}

// Start restarts a stopped member on its ports and store.
func (c *Cluster) Start(i int) {
	if err := c.Members[i].start(); err != nil {
		c.tb.Fatal(err)
	}
}

// Shutdown stops every member.
func (c *Cluster) Shutdown() {
	for i := range c.Members {
		c.Stop(i)
	}
}

// waitJetStream waits until JetStream answers (a cluster has elected its
// meta leader).
func (c *Cluster) waitJetStream() {
	c.tb.Helper()
	nc, err := nats.Connect(c.URLs())
	if err != nil {
		c.tb.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := js.AccountInfo(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.tb.Fatalf("natstest: JetStream not ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Proxy forwards TCP connections to a target until cut.
type Proxy struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]struct{}
	// mute discards what the server sends (its acknowledgements) while
	// what the client sends still arrives: messages stored, their
	// acknowledgements lost.
	mute atomic.Bool
}

// NewProxy listens on a free local port and forwards to target (host:port).
func NewProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &Proxy{l: l, target: target, conns: map[net.Conn]struct{}{}}
	tb.Cleanup(func() { l.Close(); p.Cut() })
	go p.serve()
	return p
}

// URL is the proxy's nats:// URL.
func (p *Proxy) URL() string { return "nats://" + p.l.Addr().String() }

func (p *Proxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[u] = struct{}{}, struct{}{}
		p.mu.Unlock()
		go p.pipe(c, u, true)
		go p.pipe(u, c, false)
	}
}

func (p *Proxy) pipe(dst, src net.Conn, fromServer bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !(fromServer && p.mute.Load()) {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	dst.Close()
	src.Close()
}

// Mute discards the server's replies from now on (see Proxy.mute); Cut
// and Restore end it.
func (p *Proxy) Mute() { p.mute.Store(true) }

// Cut closes every connection and refuses new ones until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	p.mute.Store(false)
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// Restore accepts connections again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}
