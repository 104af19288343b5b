// Package ndp reads the IPv6 Neighbor Discovery messages (RFC 4861) the
// sensor learns the network from: the prefixes a Router Advertisement
// announces (the office's global /64s, which are internal even when
// --internal does not list them) and the target address and link-layer
// address of Neighbor Solicitations and Advertisements (which address a
// MAC holds). The input is the ICMPv6 message, as decode leaves it in
// Packet.Payload; parsing allocates nothing.
package ndp

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// ICMPv6 types of RFC 4861.
const (
	TypeRouterAdvert   = 134
	TypeNeighborSolict = 135
	TypeNeighborAdvert = 136
)

// NDP option types.
const (
	optSourceLL   = 1
	optTargetLL   = 2
	optPrefixInfo = 3
)

var (
	// ErrNotNDP: not an ICMPv6 message of the type asked for.
	ErrNotNDP = errors.New("ndp: not a neighbor discovery message of that type")
	// ErrMalformed: a length or field no valid message has (RFC 4861 §6.1.2,
	// §7.1: such messages are discarded).
	ErrMalformed = errors.New("ndp: malformed")
)

// Prefix is one Prefix Information option of a Router Advertisement.
type Prefix struct {
	Prefix     netip.Prefix // masked to its length
	OnLink     bool         // L flag
	Autonomous bool         // A flag: hosts form addresses in it (SLAAC)
	Valid      uint32       // valid lifetime, seconds (0xffffffff: infinite)
	Preferred  uint32       // preferred lifetime, seconds
}

// RouterAdvert appends the Prefix Information options of the Router
// Advertisement b to out and returns it; out's capacity bounds how many are
// kept, so a caller-owned array keeps it allocation-free.
func RouterAdvert(b []byte, out []Prefix) ([]Prefix, error) {
	const header = 16
	if len(b) < 1 || b[0] != TypeRouterAdvert {
		return out, ErrNotNDP
	}
	if len(b) < header || b[1] != 0 {
		return out, ErrMalformed
	}
	err := options(b[header:], func(typ byte, body []byte) error {
		if typ != optPrefixInfo {
			return nil
		}
		if len(body) != 30 {
			return ErrMalformed
		}
		bitsLen := int(body[0])
		if bitsLen > 128 {
			return ErrMalformed
		}
		pfx, err := netip.AddrFrom16([16]byte(body[14:30])).Prefix(bitsLen)
		if err != nil {
			return ErrMalformed
		}
		if len(out) < cap(out) {
			out = append(out, Prefix{
				Prefix:     pfx,
				OnLink:     body[1]&0x80 != 0,
				Autonomous: body[1]&0x40 != 0,
				Valid:      binary.BigEndian.Uint32(body[2:]),
				Preferred:  binary.BigEndian.Uint32(body[6:]),
			})
		}
		return nil
	})
	return out, err
}

// Neighbor is a Neighbor Solicitation or Advertisement.
type Neighbor struct {
	Type   uint8      // TypeNeighborSolict or TypeNeighborAdvert
	Target netip.Addr // the address asked about or announced
	// LinkAddr is the source (NS) or target (NA) link-layer address
	// option, when present: the MAC that holds Target in an NA.
	LinkAddr    [6]byte
	HasLinkAddr bool
	Router      bool // NA R flag
	Solicited   bool // NA S flag
	Override    bool // NA O flag
}

// ParseNeighbor reads a Neighbor Solicitation or Advertisement.
func ParseNeighbor(b []byte) (Neighbor, error) {
	const header = 24
	var n Neighbor
	if len(b) < 1 || (b[0] != TypeNeighborSolict && b[0] != TypeNeighborAdvert) {
		return n, ErrNotNDP
	}
	if len(b) < header || b[1] != 0 {
		return n, ErrMalformed
	}
	n.Type = b[0]
	n.Target = netip.AddrFrom16([16]byte(b[8:24]))
	if n.Target.IsMulticast() {
		return n, ErrMalformed
	}
	if n.Type == TypeNeighborAdvert {
		n.Router = b[4]&0x80 != 0
		n.Solicited = b[4]&0x40 != 0
		n.Override = b[4]&0x20 != 0
	}
	want := byte(optSourceLL)
	if n.Type == TypeNeighborAdvert {
		want = optTargetLL
	}
	err := options(b[header:], func(typ byte, body []byte) error {
		if typ == want && len(body) == 6 && !n.HasLinkAddr {
			n.LinkAddr = [6]byte(body)
			n.HasLinkAddr = true
		}
		return nil
	})
	return n, err
}

// options walks NDP options (type, length in units of 8 octets, body); a
// zero length or one past the end is malformed (RFC 4861 §4.6).
func options(b []byte, fn func(typ byte, body []byte) error) error {
	for len(b) > 0 {
		if len(b) < 2 {
			return ErrMalformed
		}
		n := int(b[1]) * 8
		if n == 0 || n > len(b) {
			return ErrMalformed
		}
		if err := fn(b[0], b[2:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}
