//go:build !linux

package live

import (
	"errors"
	"log/slog"

	"github.com/launchtap/launchtap/bpf"
	"github.com/launchtap/launchtap/sensor/capture"
)

// Capture is unavailable off Linux.
type Capture struct{}

// Open fails: live capture needs Linux AF_PACKET.
func Open(cfg Config, log *slog.Logger) (*Capture, error) {
	return nil, errors.New("live: capture needs Linux (AF_PACKET)")
}

// Sources is empty off Linux.
func (c *Capture) Sources() []capture.Source { return nil }

// Workers is 0 off Linux.
func (c *Capture) Workers() int { return 0 }

// Flows is nil off Linux.
func (c *Capture) Flows() *bpf.FlowCounters { return nil }

// Hosts is nil off Linux.
func (c *Capture) Hosts() *bpf.Hosts { return nil }

// Stats is empty off Linux.
func (c *Capture) Stats() (Stats, error) { return Stats{}, nil }

// Stop does nothing off Linux.
func (c *Capture) Stop() {}

// Close does nothing off Linux.
func (c *Capture) Close() error { return nil }
