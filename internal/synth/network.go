package synth

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
)

// The fixed infrastructure every scenario shares (DEMO.md).
var (
	gatewayIP  = netip.MustParseAddr("10.20.0.1")
	resolverIP = netip.MustParseAddr("10.20.0.53")
	gatewayMAC = mustMAC("00:1c:73:20:00:01")
	resolvMAC  = mustMAC("52:54:00:20:00:53")
	bcastMAC   = mustMAC("ff:ff:ff:ff:ff:ff")
	mdnsMAC    = mustMAC("01:00:5e:00:00:fb")
	mdnsIP     = netip.MustParseAddr("224.0.0.251")
	bcastIP    = netip.MustParseAddr("255.255.255.255")
	zeroIP     = netip.MustParseAddr("0.0.0.0")
)

func mustMAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// osKind is a host's operating system personality.
type osKind uint8

const (
	osMacOS osKind = iota
	osIOS
	osWindows
	osLinux
)

func (o osKind) String() string {
	return [...]string{"macos", "ios", "windows", "linux"}[o]
}

func (o osKind) apple() bool { return o == osMacOS || o == osIOS }

// host is a simulated internal client.
type host struct {
	name      string // hostname, without .local
	os        osKind
	osVersion string // "14.5", "11", "12"
	model     string // hardware model for mDNS (Apple) or ""
	ip        netip.Addr
	ip6       netip.Addr // ULA address when the host is dual-stack
	dns6      bool       // sends its DNS queries over IPv6
	mac       net.HardwareAddr
	vlan      uint16 // 802.1Q tag its frames carry on the span (0: untagged)
	rng       *rand.Rand

	ipid    uint16 // Windows: one global counter
	port    uint16 // next ephemeral port
	tsClock uint32 // TCP timestamp clock offset
	ecnProb float64
	ecnRng  *rand.Rand
	winVar  int  // Windows SYN window variant
	quiet   bool // background host: lighter OS chatter
	cache   map[string]cacheEntry
	// asleep reports whether the host is asleep at t (nil: always awake).
	asleep func(t int64) bool
	// until, when set, is when the host leaves the network for good.
	until int64
	// Overrides of the OS defaults, for spoofing and older releases.
	prl   []byte // DHCP option 55
	avahi string // a non-Apple host announcing _device-info model= (Samba's MacSamba)
	local string // its Bonjour name when not its hostname (renamed after a conflict: "MacBook-Pro-2")
	note  string // for HostLabel
}

type cacheEntry struct {
	addr    netip.Addr
	expires int64
}

// service is a destination name with its DNS answer and server stack.
type service struct {
	name      string
	chain     []string // CNAME targets, in order
	addrs     []netip.Addr
	addrs6    []netip.Addr // AAAA records (dual-stack names)
	rr6       int
	perAnswer int    // A records per answer
	ttl       uint32 // TTL of the final A records (CNAMEs get longer TTLs)
	rotate    bool   // round-robin the address list across queries
	rr        int
	stack     srvStack
	hops      uint8
	rtt       int64
	mac       net.HardwareAddr // set for internal servers (same L2 segment)
	suffix    bool             // name is a suffix: any name under it resolves here
}

// srvStack is a server's TCP/IP personality as seen in its SYN-ACKs.
type srvStack uint8

const (
	stackLinux   srvStack = iota // win 65160, mss,sackOK,ts,nop,ws7
	stackCDN                     // win 65535, mss 1400,nop,ws 13-ish,sackOK,ts
	stackWindows                 // TTL 128, win 65535, mss,nop,ws 8,sackOK,ts
)

// network holds the scenario's hosts, names and internal servers.
type network struct {
	w      *world
	zone   map[string]*service
	suffix []*service
	hosts  []*host
	byName map[string]*host
}

func newNetwork(w *world) *network {
	return &network{w: w, zone: map[string]*service{}, byName: map[string]*host{}}
}

// addHost creates a host. mac may be "" to derive one from the OS vendor.
func (n *network) addHost(name string, os osKind, ver, model, ip, mac string) *host {
	if _, dup := n.byName[name]; dup {
		panic("synth: duplicate host " + name)
	}
	h := &host{name: name, os: os, osVersion: ver, model: model, ip: netip.MustParseAddr(ip),
		rng: n.w.rngFor("host/" + name), cache: map[string]cacheEntry{}}
	if mac == "" {
		hs := fnv.New32a()
		hs.Write([]byte(name))
		v := hs.Sum32()
		oui := map[osKind]string{osMacOS: "f0:18:98", osIOS: "a4:83:e7", osWindows: "3c:52:82", osLinux: "52:54:00"}[os]
		mac = fmt.Sprintf("%s:%02x:%02x:%02x", oui, byte(v>>16), byte(v>>8), byte(v))
	}
	h.mac = mustMAC(mac)
	switch os {
	case osMacOS, osIOS:
		h.port = uint16(49152 + h.rng.IntN(16000))
		h.ecnProb = 0.8
		h.ecnRng = n.w.rngFor("ecn/" + name)
	case osWindows:
		h.port = uint16(49152 + h.rng.IntN(8000))
		h.ipid = uint16(h.rng.Uint32())
		h.winVar = h.rng.IntN(10)
	case osLinux:
		h.port = uint16(32768 + h.rng.IntN(28000))
	}
	h.tsClock = h.rng.Uint32()
	n.hosts = append(n.hosts, h)
	n.byName[name] = h
	return h
}

// ephemeral returns the next source port in the OS's ephemeral range.
func (h *host) ephemeral() uint16 {
	switch h.os {
	case osWindows:
		h.port++
		if h.port < 49152 {
			h.port = 49152
		}
	case osLinux:
		h.port = uint16(32768 + h.rng.IntN(60999-32768))
	default:
		h.port += uint16(1 + h.rng.IntN(40))
		if h.port < 49152 {
			h.port = uint16(49152 + h.rng.IntN(1000))
		}
	}
	return h.port
}

func (h *host) awake(t int64) bool {
	return (h.until == 0 || t < h.until) && (h.asleep == nil || !h.asleep(t))
}

// addService registers a name. chain are CNAME targets; addrs the A records.
func (n *network) addService(s *service) *service {
	s.name = strings.ToLower(s.name)
	if s.perAnswer == 0 {
		s.perAnswer = 1
	}
	if s.ttl == 0 {
		s.ttl = 300
	}
	if s.rtt == 0 {
		s.rtt = 20 * ms
	}
	if s.hops == 0 {
		s.hops = 12
	}
	if s.suffix {
		n.suffix = append(n.suffix, s)
	} else {
		n.zone[s.name] = s
	}
	return s
}

// svc is a shorthand for an external service with addresses given as strings.
func (n *network) svc(name string, ttl uint32, stack srvStack, rtt int64, chain []string, addrs ...string) *service {
	s := &service{name: name, chain: chain, ttl: ttl, stack: stack, rtt: rtt}
	for _, a := range addrs {
		s.addrs = append(s.addrs, netip.MustParseAddr(a))
	}
	return n.addService(s)
}

// internalSvc registers a server on the internal network (same L2 segment).
func (n *network) internalSvc(name, ip, mac string) *service {
	return n.addService(&service{name: name, addrs: []netip.Addr{netip.MustParseAddr(ip)},
		ttl: 3600, stack: stackLinux, rtt: 400 * us, hops: 0, mac: mustMAC(mac)})
}

func (n *network) lookup(name string) *service {
	name = strings.ToLower(name)
	if s, ok := n.zone[name]; ok {
		return s
	}
	for _, s := range n.suffix {
		if strings.HasSuffix(name, "."+s.name) {
			return s
		}
	}
	return nil
}

// answer picks the A records for one query of s.
func (s *service) answer() []netip.Addr {
	k := s.perAnswer
	if k > len(s.addrs) {
		k = len(s.addrs)
	}
	out := make([]netip.Addr, k)
	for i := range out {
		out[i] = s.addrs[(s.rr+i)%len(s.addrs)]
	}
	if s.rotate {
		s.rr++
	}
	return out
}

// answer6 picks the AAAA records for one query of s.
func (s *service) answer6() []netip.Addr {
	if len(s.addrs6) == 0 {
		return nil
	}
	k := min(s.perAnswer, len(s.addrs6))
	out := make([]netip.Addr, k)
	for i := range out {
		out[i] = s.addrs6[(s.rr6+i)%len(s.addrs6)]
	}
	if s.rotate {
		s.rr6++
	}
	return out
}

// peer is the far end of a session as the sensor sees it.
type peer struct {
	ip    netip.Addr
	mac   net.HardwareAddr // gateway MAC for external addresses
	ttl   uint8            // as observed at the sensor
	stack srvStack
	rtt   int64
}

func (s *service) peer(a netip.Addr) peer {
	p := peer{ip: a, mac: gatewayMAC, stack: s.stack, rtt: s.rtt}
	base := uint8(64)
	if s.stack == stackWindows {
		base = 128
	}
	if s.mac != nil {
		p.mac = s.mac
		p.ttl = base
	} else {
		p.ttl = base - s.hops
	}
	return p
}

// addrFor is h's address in p's family.
func (h *host) addrFor(p *peer) netip.Addr {
	if p.ip.Is6() {
		return h.ip6
	}
	return h.ip
}

// srcFor is h's current address in dst's family.
func (h *host) srcFor(dst netip.Addr) netip.Addr {
	if dst.Is6() {
		return h.ip6
	}
	return h.ip
}

// hdrTo is the header of a packet from p to h.
func (h *host) hdrFrom(p *peer) ipHdr {
	return ipHdr{srcMAC: p.mac, dstMAC: h.mac, src: p.ip, dst: h.addrFor(p), ttl: p.ttl, vlan: h.vlan}
}

// clientHdr is the IP header h puts on a packet to p.
func (h *host) clientHdr(p *peer, tcp bool, tos uint8) ipHdr {
	hd := ipHdr{srcMAC: h.mac, dstMAC: p.mac, src: h.addrFor(p), dst: p.ip, tos: tos, vlan: h.vlan}
	if p.ip.Is6() {
		hd.ttl = 64
		if h.os == osWindows {
			hd.ttl = 128
		}
		return hd
	}
	switch h.os {
	case osMacOS, osIOS:
		hd.ttl = 64
		if tcp {
			hd.df = true // IP ID 0 with DF, as Darwin does
		} else {
			hd.id = uint16(h.rng.Uint32())
		}
	case osWindows:
		hd.ttl = 128
		hd.df = tcp
		h.ipid++
		hd.id = h.ipid
	case osLinux:
		hd.ttl = 64
		hd.df = true
		if !tcp {
			hd.id = uint16(h.rng.Uint32())
		}
	}
	return hd
}
