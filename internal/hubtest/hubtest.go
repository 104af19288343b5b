// Package hubtest is what the hub's tests need beyond the servers
// (internal/natstest runs those): a stand-in for a sensor's publisher,
// the roaming Mac's observations, a client connection, and CPU time for
// benchmarks on a shared machine.
package hubtest

import (
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

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
