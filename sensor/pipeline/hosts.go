package pipeline

import (
	"net/netip"

	"github.com/launchtap/launchtap/sensor/decode"
)

// OS families as alerts name them.
const (
	OSMacOS   = "macos"
	OSUnknown = "unknown"
)

// HostVerdict is what host identification says about a source host.
type HostVerdict struct {
	OS         string // macos, ios, windows, linux, other, unknown
	Confidence float64
	Hostname   string
	Evidence   []string
	MAC        string // the host's own MAC when known ("" when only a router's is seen)
}

// HostTable is passive host identification as a worker uses it. Each worker
// has its own, fed with the packets of the hosts sharded to it.
type HostTable interface {
	Observe(p *decode.Packet)
	ObserveDNSQuery(client netip.Addr, mac [6]byte, hasMAC bool, name string, ts int64)
	Lookup(ip netip.Addr, mac [6]byte, hasMAC bool) HostVerdict
}

// unknownHosts is the table used when host identification is not configured.
type unknownHosts struct{}

// UnknownHosts returns a table that knows no host's OS.
func UnknownHosts() HostTable { return unknownHosts{} }

func (unknownHosts) Observe(*decode.Packet)                                   {}
func (unknownHosts) ObserveDNSQuery(netip.Addr, [6]byte, bool, string, int64) {}
func (unknownHosts) Lookup(netip.Addr, [6]byte, bool) HostVerdict {
	return HostVerdict{OS: OSUnknown}
}
