// Package jstest runs real in-process nats-server instances with
// JetStream for tests: one server, or a cluster of three, each with its
// own file store under the test's temporary directory.
package jstest

import (
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Server is one running server.
type Server struct {
	*server.Server
	Name string
}

// URL is the server's client URL.
func (s *Server) URL() string { return s.ClientURL() }

// Start runs one JetStream server, shut down when tb ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	return start(tb, &server.Options{ServerName: "js1", Port: -1, JetStream: true, StoreDir: tb.TempDir()})
}

func start(tb testing.TB, o *server.Options) *Server {
	tb.Helper()
	o.Host = "127.0.0.1"
	o.NoLog, o.NoSigs = true, true
	s, err := server.NewServer(o)
	if err != nil {
		tb.Fatalf("nats-server %s: %v", o.ServerName, err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		tb.Fatalf("nats-server %s not ready", o.ServerName)
	}
	tb.Cleanup(s.Shutdown)
	return &Server{Server: s, Name: o.ServerName}
}

// Cluster is three JetStream servers in one cluster.
type Cluster struct {
	Servers []*Server
}

// URLs is every server's client URL, comma-separated (a nats.Connect URL).
func (c *Cluster) URLs() string {
	u := make([]string, len(c.Servers))
	for i, s := range c.Servers {
		u[i] = s.URL()
	}
	return strings.Join(u, ",")
}

// StartCluster runs a 3-node JetStream cluster and waits for its meta
// leader, so streams with 3 replicas can be created at once.
func StartCluster(tb testing.TB) *Cluster {
	tb.Helper()
	ports := make([]int, 3)
	for i := range ports {
		ports[i] = freePort(tb)
	}
	routes := make([]string, len(ports))
	for i, p := range ports {
		routes[i] = fmt.Sprintf("nats-route://127.0.0.1:%d", p)
	}
	c := &Cluster{}
	for i, p := range ports {
		o := &server.Options{ServerName: fmt.Sprintf("js%d", i+1), Port: -1, JetStream: true, StoreDir: tb.TempDir()}
		o.Cluster.Name = "launchtap-test"
		o.Cluster.Host = "127.0.0.1"
		o.Cluster.Port = p
		o.Routes = server.RoutesFromStr(strings.Join(routes, ","))
		c.Servers = append(c.Servers, start(tb, o))
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, s := range c.Servers {
			if s.JetStreamIsLeader() {
				return c
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.Fatal("JetStream cluster elected no meta leader in 20 s")
	return nil
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

// Connect connects to url, closed when tb ends.
func Connect(tb testing.TB, url string) *nats.Conn {
	tb.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		tb.Fatalf("connecting to %s: %v", url, err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// CPUTime is the process's user and system CPU time so far: benchmarks on
// a shared machine report work per CPU-second beside work per second.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
