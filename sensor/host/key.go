// Package host gives each internal host one identity that outlives its
// addresses. A Mac is not an IP address: DHCP moves it, IPv6 privacy
// addresses rotate under it, a docked laptop sends from two MACs. Beats,
// pairs and alerts belong to a Key, which a Binder resolves from the address
// a packet belongs to, in capture order, before the packet is sharded.
package host

import (
	"errors"
	"net"
	"net/netip"
)

// Key is a host's identity: its canonical MAC where the span sees end
// hosts' MACs (Addr is then zero), else its address (MAC zero) — the
// fallback when only a router's MAC is visible or there is no Ethernet.
type Key struct {
	MAC  [6]byte
	Addr netip.Addr
}

// MACKey is the key of the host with canonical MAC m.
func MACKey(m [6]byte) Key { return Key{MAC: m} }

// AddrKey is the key of a host known only by its address.
func AddrKey(a netip.Addr) Key { return Key{Addr: a} }

// IsMAC reports whether the host is keyed by a MAC.
func (k Key) IsMAC() bool { return k.MAC != [6]byte{} }

// IsValid reports whether k names a host.
func (k Key) IsValid() bool { return k.IsMAC() || k.Addr.IsValid() }

// String is the host_id of alerts and state: the MAC in lower-case colon
// form, or the address.
func (k Key) String() string {
	if k.IsMAC() {
		return MACString(k.MAC)
	}
	if !k.Addr.IsValid() {
		return ""
	}
	return k.Addr.String()
}

// MACString formats m as aa:bb:cc:dd:ee:ff.
func MACString(m [6]byte) string {
	const hex = "0123456789abcdef"
	var b [17]byte
	for i, x := range m {
		if i > 0 {
			b[3*i-1] = ':'
		}
		b[3*i], b[3*i+1] = hex[x>>4], hex[x&0xf]
	}
	return string(b[:])
}

// ParseKey reads a Key back from its String form.
func ParseKey(s string) (Key, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return AddrKey(a), nil
	}
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return Key{}, errors.New("host: " + quote(s) + " is neither a MAC nor an address")
	}
	m := [6]byte(hw)
	if m == [6]byte{} {
		return Key{}, errors.New("host: the zero MAC names no host")
	}
	return MACKey(m), nil
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return "\"" + s + "\""
}

// UsableMAC reports whether m can name a host: not zero, not a group
// (multicast or broadcast) address.
func UsableMAC(m [6]byte) bool { return m != [6]byte{} && m[0]&1 == 0 }
