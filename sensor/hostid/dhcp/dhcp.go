// Package dhcp parses the DHCPv4 and DHCPv6 fields that identify a client's
// operating system (parameter request list, vendor class, hostname, client
// identifier, FQDN) and bind its address to its hardware address, and holds
// the option-55 fingerprints launchtap knows.
//
// Parsers fill caller-owned structs whose byte slices alias the packet, so
// parsing allocates nothing; malformed input returns an error, never panics.
package dhcp

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// UDP ports.
const (
	ServerPort   = 67
	ClientPort   = 68
	Client6Port  = 546
	Server6Port  = 547
	magicCookie  = 0x63825363
	bootpMinLen  = 236
	maxRelayHops = 8
)

// DHCPv4 message types (option 53).
const (
	Discover = 1
	Offer    = 2
	Request  = 3
	Decline  = 4
	Ack      = 5
	Nak      = 6
	Release  = 7
	Inform   = 8
)

// Errors are sentinels so callers can count them by kind.
var (
	ErrShort     = errors.New("dhcp: message shorter than its fixed header")
	ErrNoCookie  = errors.New("dhcp: missing magic cookie")
	ErrBadOption = errors.New("dhcp: option runs past the end of the message")
	ErrBadOp     = errors.New("dhcp: unknown op or message type")
)

// V4 is what launchtap reads from a DHCPv4 message.
type V4 struct {
	Op      uint8 // 1 request, 2 reply
	Type    uint8 // option 53, 0 if absent (BOOTP)
	XID     uint32
	CIAddr  netip.Addr
	YIAddr  netip.Addr
	GIAddr  netip.Addr
	CHAddr  [6]byte
	HasCHAd bool // htype Ethernet, hlen 6

	PRL         []byte // option 55
	Hostname    []byte // option 12
	VendorClass []byte // option 60
	ClientID    []byte // option 61
	RequestedIP netip.Addr
	ServerID    netip.Addr
	LeaseSecs   uint32 // option 51
	HasLease    bool
	MaxSize     uint16 // option 57
}

// ParseV4 parses a DHCPv4 (BOOTP) payload into m.
func ParseV4(b []byte, m *V4) error {
	*m = V4{}
	if len(b) < bootpMinLen+4 {
		return ErrShort
	}
	m.Op = b[0]
	if m.Op != 1 && m.Op != 2 {
		return ErrBadOp
	}
	m.XID = binary.BigEndian.Uint32(b[4:8])
	m.CIAddr = netip.AddrFrom4([4]byte(b[12:16]))
	m.YIAddr = netip.AddrFrom4([4]byte(b[16:20]))
	m.GIAddr = netip.AddrFrom4([4]byte(b[24:28]))
	if b[1] == 1 && b[2] == 6 {
		copy(m.CHAddr[:], b[28:34])
		m.HasCHAd = true
	}
	if binary.BigEndian.Uint32(b[236:240]) != magicCookie {
		return ErrNoCookie
	}
	opts := b[240:]
	for i := 0; i < len(opts); {
		code := opts[i]
		if code == 0 {
			i++
			continue
		}
		if code == 255 {
			break
		}
		if i+1 >= len(opts) || i+2+int(opts[i+1]) > len(opts) {
			return ErrBadOption
		}
		v := opts[i+2 : i+2+int(opts[i+1])]
		i += 2 + len(v)
		switch code {
		case 53:
			if len(v) == 1 {
				m.Type = v[0]
			}
		case 55:
			if m.PRL == nil {
				m.PRL = v
			}
		case 12:
			m.Hostname = v
		case 60:
			m.VendorClass = v
		case 61:
			m.ClientID = v
		case 50:
			if len(v) == 4 {
				m.RequestedIP = netip.AddrFrom4([4]byte(v))
			}
		case 54:
			if len(v) == 4 {
				m.ServerID = netip.AddrFrom4([4]byte(v))
			}
		case 51:
			if len(v) == 4 {
				m.LeaseSecs, m.HasLease = binary.BigEndian.Uint32(v), true
			}
		case 57:
			if len(v) == 2 {
				m.MaxSize = binary.BigEndian.Uint16(v)
			}
		}
	}
	if m.Type > 18 {
		return ErrBadOp
	}
	return nil
}

// DHCPv6 message types.
const (
	Solicit6   = 1
	Advertise6 = 2
	Request6   = 3
	Confirm6   = 4
	Renew6     = 5
	Rebind6    = 6
	Reply6     = 7
	Release6   = 8
	Decline6   = 9
	InfoReq6   = 11
	RelayForw6 = 12
	RelayRepl6 = 13
)

// V6 is what launchtap reads from a DHCPv6 message (relay messages are
// unwrapped to the innermost client message).
type V6 struct {
	Type        uint8
	XID         uint32
	ClientDUID  []byte // option 1
	ORO         []byte // option 6: big-endian uint16 option codes
	VendorEnt   uint32 // option 16 enterprise number
	VendorClass []byte // option 16 data (first opaque item, without its length)
	UserClass   []byte // option 15 (raw)
	FQDN        []byte // option 39 name, DNS wire format
	HasVendor   bool
}

// ParseV6 parses a DHCPv6 payload into m.
func ParseV6(b []byte, m *V6) error {
	*m = V6{}
	for hop := 0; ; hop++ {
		if len(b) < 4 {
			return ErrShort
		}
		t := b[0]
		if t != RelayForw6 && t != RelayRepl6 {
			if t == 0 || t > 36 {
				return ErrBadOp
			}
			m.Type = t
			m.XID = uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
			return m.options(b[4:])
		}
		// Relay: msg-type, hop-count, link-address(16), peer-address(16), options.
		if hop >= maxRelayHops {
			return ErrBadOp
		}
		if len(b) < 34 {
			return ErrShort
		}
		inner, err := relayMessage(b[34:])
		if err != nil {
			return err
		}
		b = inner
	}
}

func relayMessage(opts []byte) ([]byte, error) {
	for i := 0; i+4 <= len(opts); {
		code := binary.BigEndian.Uint16(opts[i:])
		l := int(binary.BigEndian.Uint16(opts[i+2:]))
		if i+4+l > len(opts) {
			return nil, ErrBadOption
		}
		if code == 9 {
			return opts[i+4 : i+4+l], nil
		}
		i += 4 + l
	}
	return nil, ErrShort
}

func (m *V6) options(opts []byte) error {
	for i := 0; i < len(opts); {
		if i+4 > len(opts) {
			return ErrBadOption
		}
		code := binary.BigEndian.Uint16(opts[i:])
		l := int(binary.BigEndian.Uint16(opts[i+2:]))
		if i+4+l > len(opts) {
			return ErrBadOption
		}
		v := opts[i+4 : i+4+l]
		i += 4 + l
		switch code {
		case 1:
			m.ClientDUID = v
		case 6:
			if len(v)%2 == 0 {
				m.ORO = v
			}
		case 15:
			m.UserClass = v
		case 16:
			if len(v) >= 4 {
				m.VendorEnt, m.HasVendor = binary.BigEndian.Uint32(v), true
				if len(v) >= 6 {
					n := int(binary.BigEndian.Uint16(v[4:]))
					if 6+n <= len(v) {
						m.VendorClass = v[6 : 6+n]
					}
				}
			}
		case 39:
			if len(v) >= 1 {
				m.FQDN = v[1:] // flags byte, then the name
			}
		}
	}
	return nil
}

// DUIDMAC returns the link-layer address in a DUID-LLT or DUID-LL of
// hardware type Ethernet.
func DUIDMAC(duid []byte) (mac [6]byte, ok bool) {
	if len(duid) < 4 {
		return mac, false
	}
	typ, hw := binary.BigEndian.Uint16(duid), binary.BigEndian.Uint16(duid[2:])
	if hw != 1 {
		return mac, false
	}
	switch {
	case typ == 1 && len(duid) == 14:
		copy(mac[:], duid[8:])
		return mac, true
	case typ == 3 && len(duid) == 10:
		copy(mac[:], duid[4:])
		return mac, true
	}
	return mac, false
}

// FQDNString decodes a DNS wire-format name (as in option 39) to dotted text.
// It allocates; call it only when the name is new.
func FQDNString(w []byte) string {
	var out []byte
	for i := 0; i < len(w); {
		l := int(w[i])
		if l == 0 || l > 63 || i+1+l > len(w) {
			break
		}
		if len(out) > 0 {
			out = append(out, '.')
		}
		out = append(out, w[i+1:i+1+l]...)
		i += 1 + l
	}
	if len(out) == 0 && len(w) > 0 && w[0] > 63 {
		return string(w) // some clients send the name as plain text
	}
	return string(out)
}
