package capture

import (
	"errors"
	"fmt"
)

// LinkType is a pcap LINKTYPE_* value: how the bytes of a Frame begin.
type LinkType uint16

// The link types launchtap decodes. Values are the tcpdump.org LINKTYPE_ numbers,
// which pcap, pcapng and AF_PACKET (via ARPHRD mapping) all use.
const (
	LinkNull      LinkType = 0   // BSD loopback: 4-byte host-order address family
	LinkEthernet  LinkType = 1   // Ethernet II / 802.3
	LinkRaw       LinkType = 101 // raw IPv4 or IPv6, version nibble decides
	LinkLoop      LinkType = 108 // OpenBSD loopback: 4-byte network-order address family
	LinkLinuxSLL  LinkType = 113 // Linux cooked capture v1
	LinkIPv4      LinkType = 228 // raw IPv4
	LinkIPv6      LinkType = 229 // raw IPv6
	LinkLinuxSLL2 LinkType = 276 // Linux cooked capture v2
)

// Frame is one captured packet as a Source delivers it.
//
// Data aliases the source's buffer: it is valid only until the next call to
// Next on the same Source. Consumers that keep bytes must copy them.
type Frame struct {
	Data     []byte   // captured bytes (CapLen of them)
	TS       int64    // capture time, Unix nanoseconds
	WireLen  uint32   // length on the wire; >= len(Data) when the snap length cut the frame
	LinkType LinkType // how Data begins
	Iface    int      // interface index within the source (pcapng IDB, AF_PACKET socket)
}

// Source delivers frames in capture order.
//
// Next fills f and returns nil, io.EOF at the clean end, or an error. A
// *TruncatedError means the input ended mid-record: every frame before the cut
// was delivered and the source is finished.
type Source interface {
	Next(f *Frame) error
	Close() error
}

// ErrIdle is returned by a live Source's Next when no frame arrived for
// about a second, so that the caller can do time-driven work (ending idle
// sessions) on a quiet link. Next may be called again; file sources never
// return it.
var ErrIdle = errors.New("capture: no frame arrived for a while")

// ErrNotCapture reports input that is neither pcap nor pcapng (after optional gzip).
var ErrNotCapture = errors.New("not a pcap or pcapng capture")

// TruncatedError reports a capture that ends in the middle of a record.
// Offset is the byte offset (in the decompressed stream) where the cut record began.
type TruncatedError struct {
	File   string
	Offset int64
	Err    error
}

func (e *TruncatedError) Error() string {
	return fmt.Sprintf("%s: capture truncated in the record at byte offset %d: %v", e.File, e.Offset, e.Err)
}

func (e *TruncatedError) Unwrap() error { return e.Err }
