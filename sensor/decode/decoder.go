package decode

import (
	"encoding/binary"

	"github.com/launchtap/launchtap/sensor/capture"
)

// Bounds on attacker-controlled repetition: each loop over stacked headers
// stops here, so a crafted frame costs at most a few hundred byte reads.
const (
	maxVLANTags    = 8 // 802.1Q/802.1ad tags in one Ethernet header
	maxMPLSLabels  = 8
	maxIPv6Ext     = 8 // IPv6 extension headers before the transport
	maxTunnelDepth = 3 // GRE/ERSPAN/VXLAN layers removed from one frame
)

// Decoder decodes frames into Packets. The zero value is ready to use.
//
// A Decoder is not safe for concurrent use: give each worker goroutine its
// own. It keeps per-kind counters of its results (plain increments, no
// atomics), which the owner reads with Counts.
type Decoder struct {
	counts         [NumErrKinds]uint64
	firstFragments uint64
	decaps         [NumTunnels]uint64

	// Per-call state.
	cut   int // bytes the snap length removed from the end of the frame
	depth int // encapsulations removed so far
}

// Decode fills p from f and reports how far decoding got. p is reset first;
// TS and WireLen are taken from the frame. Byte slices in p alias f.Data.
// See the package documentation for which fields each result leaves valid.
//
// A VLAN or MPLS stack deeper than the decoder's bounds is reported as
// ErrTunnel, like tunnels nested too deeply.
func (d *Decoder) Decode(f *capture.Frame, p *Packet) ErrKind {
	*p = Packet{TS: f.TS, WireLen: f.WireLen}
	d.depth = 0
	d.cut = 0
	if int(f.WireLen) > len(f.Data) {
		d.cut = int(f.WireLen) - len(f.Data)
	}
	k := d.link(f.LinkType, f.Data, p)
	d.counts[k]++
	if p.Fragment && k == OK {
		d.firstFragments++
	}
	return k
}

// Counts returns how many frames ended with each ErrKind since the Decoder
// was created. Read it from the goroutine that owns the Decoder.
func (d *Decoder) Counts() [NumErrKinds]uint64 { return d.counts }

// FirstFragments returns how many first fragments of fragmented datagrams
// were decoded (counted under OK as well). Later fragments are counted under
// ErrFragment.
func (d *Decoder) FirstFragments() uint64 { return d.firstFragments }

// Decapsulated returns how many encapsulation layers of each kind were
// removed, indexed by Tunnel; a frame with VXLAN inside ERSPAN counts once
// for each.
func (d *Decoder) Decapsulated() [NumTunnels]uint64 { return d.decaps }

// LinkTypeSupported reports whether Decode understands frames of link type lt.
// Sources use it to reject an interface or capture file up front rather than
// count every frame as ErrUnknownLink.
func LinkTypeSupported(lt capture.LinkType) bool {
	switch lt {
	case capture.LinkEthernet, capture.LinkRaw, capture.LinkIPv4, capture.LinkIPv6,
		capture.LinkNull, capture.LinkLoop, capture.LinkLinuxSLL, capture.LinkLinuxSLL2:
		return true
	}
	return false
}

// NumTunnels is the number of Tunnel values, for arrays indexed by Tunnel.
// Keep it one past the last Tunnel constant in packet.go.
const NumTunnels = int(TunnelVXLAN) + 1

var tunnelNames = [NumTunnels]string{
	TunnelNone:    "none",
	TunnelGRE:     "gre",
	TunnelERSPAN2: "erspan2",
	TunnelERSPAN3: "erspan3",
	TunnelVXLAN:   "vxlan",
}

// String returns the snake_case name used in summaries and metric labels.
func (t Tunnel) String() string {
	if int(t) < NumTunnels {
		return tunnelNames[t]
	}
	return "unknown"
}

func (d *Decoder) link(lt capture.LinkType, b []byte, p *Packet) ErrKind {
	switch lt {
	case capture.LinkEthernet:
		return d.ethernet(b, p)
	case capture.LinkRaw:
		return d.ipAny(b, p)
	case capture.LinkIPv4:
		return d.ipv4(b, p)
	case capture.LinkIPv6:
		return d.ipv6(b, p)
	case capture.LinkNull, capture.LinkLoop:
		return d.null(b, p)
	case capture.LinkLinuxSLL:
		return d.sll(b, p)
	case capture.LinkLinuxSLL2:
		return d.sll2(b, p)
	}
	return ErrUnknownLink
}

// short says why a header of need bytes does not fit: beyond the length the
// enclosing header declares is a malformed packet (bad), beyond only the
// captured bytes is a snap-length cut (ErrTruncated).
func short(need, declared int, bad ErrKind) ErrKind {
	if need > declared {
		return bad
	}
	return ErrTruncated
}

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
func be32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }
