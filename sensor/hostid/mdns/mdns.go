// Package mdns reads the Bonjour (multicast DNS, UDP 5353) records that say
// what kind of device a host is: the _device-info._tcp TXT record (model=,
// osxvers=), _companion-link._tcp advertisements (Apple devices), and the
// host's own .local name from its address records.
package mdns

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// Port is the mDNS UDP port.
const Port = 5353

// Info is what one mDNS message says about its sender.
type Info struct {
	Model         string // model= from _device-info._tcp (or _airplay/_raop)
	OSXVers       int    // osxvers= (Darwin major version), 0 if absent
	CompanionLink bool   // the sender advertises _companion-link._tcp
	Hostname      string // a .local name bound to the sender's address (or the only one advertised)
	Response      bool
	// SelfAddr: an address record names the sender's own address. OtherAddr:
	// address records name only other addresses, as a Bonjour Sleep Proxy
	// answering for a sleeping Mac does; such a message describes another host.
	SelfAddr, OtherAddr bool
}

// ErrMalformed wraps messages miekg/dns cannot unpack.
var ErrMalformed = errors.New("mdns: malformed message")

// Parse unpacks an mDNS message sent from src and fills info. It allocates
// (miekg/dns), so callers reach it only for UDP 5353.
func Parse(b []byte, src netip.Addr, info *Info) error {
	*info = Info{}
	var m dns.Msg
	if err := m.Unpack(b); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	info.Response = m.Response
	if !m.Response {
		return nil // queries say what a host looks for, not what it is
	}
	var firstLocal string
	for _, sec := range [][]dns.RR{m.Answer, m.Extra, m.Ns} {
		for _, rr := range sec {
			h := rr.Header()
			name := strings.ToLower(h.Name)
			switch r := rr.(type) {
			case *dns.TXT:
				if strings.HasSuffix(name, "._device-info._tcp.local.") ||
					strings.HasSuffix(name, "._airplay._tcp.local.") || strings.HasSuffix(name, "._raop._tcp.local.") {
					info.readTXT(r.Txt)
				}
			case *dns.PTR:
				if name == "_companion-link._tcp.local." || strings.HasSuffix(strings.ToLower(r.Ptr), "._companion-link._tcp.local.") {
					info.CompanionLink = true
				}
			case *dns.SRV:
				if strings.HasSuffix(name, "._companion-link._tcp.local.") {
					info.CompanionLink = true
				}
				if firstLocal == "" && strings.HasSuffix(strings.ToLower(r.Target), ".local.") {
					firstLocal = r.Target
				}
			case *dns.A:
				if strings.HasSuffix(name, ".local.") {
					if a, ok := netip.AddrFromSlice(r.A.To4()); ok && a == src.Unmap() {
						info.Hostname, info.SelfAddr = trimLocal(h.Name), true
					} else {
						info.OtherAddr = true
						if firstLocal == "" {
							firstLocal = h.Name
						}
					}
				}
			case *dns.AAAA:
				if strings.HasSuffix(name, ".local.") {
					if a, ok := netip.AddrFromSlice(r.AAAA); ok && a == src {
						info.Hostname, info.SelfAddr = trimLocal(h.Name), true
					} else {
						info.OtherAddr = true
						if firstLocal == "" {
							firstLocal = h.Name
						}
					}
				}
			}
		}
	}
	if info.Hostname == "" && firstLocal != "" && !info.OtherAddr {
		info.Hostname = trimLocal(firstLocal)
	}
	return nil
}

func trimLocal(n string) string {
	n = strings.TrimSuffix(n, ".")
	n = strings.TrimSuffix(n, ".local")
	if len(n) > 253 {
		n = n[:253]
	}
	return n
}

func (info *Info) readTXT(txt []string) {
	for _, kv := range txt {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		switch strings.ToLower(k) {
		case "model", "am":
			if info.Model == "" && len(v) <= 64 {
				info.Model = v
			}
		case "osxvers":
			if n, err := strconv.Atoi(v); err == nil && n > 0 && n < 100 {
				info.OSXVers = n
			}
		}
	}
}

// Kind classifies a Bonjour model identifier.
type Kind uint8

// Model kinds.
const (
	KindUnknown  Kind = iota
	KindMac           // MacBookPro18,3, Macmini9,1, iMac21,1, Mac14,2, VirtualMac2,1
	KindIOS           // iPhone14,2, iPad13,4, iPod9,1
	KindAppleOth      // AppleTV, HomePod (AudioAccessory), Watch, Vision
	KindSamba         // MacSamba: Samba's vfs_fruit imitating a Mac (Linux/BSD/NAS)
)

// ModelKind classifies a model= value.
func ModelKind(model string) Kind {
	switch {
	case model == "":
		return KindUnknown
	case strings.HasPrefix(model, "MacSamba"):
		return KindSamba
	case strings.HasPrefix(model, "iPhone"), strings.HasPrefix(model, "iPad"), strings.HasPrefix(model, "iPod"):
		return KindIOS
	case strings.HasPrefix(model, "AppleTV"), strings.HasPrefix(model, "AudioAccessory"),
		strings.HasPrefix(model, "Watch"), strings.HasPrefix(model, "RealityDevice"),
		strings.HasPrefix(model, "AirPort"), strings.HasPrefix(model, "TimeCapsule"):
		return KindAppleOth
	case strings.HasPrefix(model, "MacBook"), strings.HasPrefix(model, "Macmini"), strings.HasPrefix(model, "MacPro"),
		strings.HasPrefix(model, "iMac"), strings.HasPrefix(model, "VirtualMac"), strings.HasPrefix(model, "Xserve"),
		strings.HasPrefix(model, "PowerMac"), strings.HasPrefix(model, "PowerBook"), isMacNumbered(model):
		return KindMac
	}
	return KindUnknown
}

// isMacNumbered matches the Apple silicon era "Mac14,2" form.
func isMacNumbered(m string) bool {
	rest, ok := strings.CutPrefix(m, "Mac")
	return ok && rest != "" && rest[0] >= '0' && rest[0] <= '9' && strings.Contains(rest, ",")
}

// MacOSVersion maps osxvers (the Darwin major version) to a macOS release name.
func MacOSVersion(darwin int) string {
	switch {
	case darwin >= 25:
		return strconv.Itoa(darwin + 1) // Darwin 25 = macOS 26 (the year-numbered releases)
	case darwin >= 20:
		return strconv.Itoa(darwin - 9) // Darwin 20 = macOS 11, 23 = 14, 24 = 15
	case darwin >= 5:
		return "10." + strconv.Itoa(darwin-4)
	}
	return ""
}
