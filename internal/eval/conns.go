package eval

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/miekg/dns"

	"github.com/launchtap/launchtap/sensor/netset"
)

// conn is one connection record as Zeek's conn.log would hold it, which is
// what RITA reads: start time, endpoints, and the originator's IP bytes.
type conn struct {
	ts        int64 // start, Unix seconds
	src, dst  netip.Addr
	port      uint16
	proto     string
	origBytes float64
	fqdn      string // the name src resolved to dst before the connection, if any
}

type flowKey struct {
	src, dst     netip.Addr
	sport, dport uint16
	proto        uint8
}

// connections rebuilds egress connection records (internal source, external
// destination) from a capture: a TCP connection starts at a SYN without ACK,
// a UDP flow after 60 s of silence on its 5-tuple (Zeek's default). Names
// come from the DNS answers each client received, as Zeek's SSL/HTTP logs
// would give RITA the server name.
func connections(path string, internal *netset.Set) (conns []conn, first, last int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("eval: opening capture: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("eval: reading %s: %w", path, err)
	}
	type reader interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	}
	var r reader
	var link layers.LinkType
	if string(magic) == "\x0a\x0d\x0d\x0a" {
		ng, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("eval: %s: %w", path, err)
		}
		r, link = ng, ng.LinkType()
	} else {
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("eval: %s: %w", path, err)
		}
		r, link = pr, pr.LinkType()
	}
	var (
		eth     layers.Ethernet
		dot1q   layers.Dot1Q
		ip4     layers.IPv4
		ip6     layers.IPv6
		tcp     layers.TCP
		udp     layers.UDP
		payload gopacket.Payload
	)
	first = -1
	dec := layers.LayerTypeEthernet
	if link != layers.LinkTypeEthernet {
		return nil, 0, 0, fmt.Errorf("eval: %s: link type %v, want Ethernet", path, link)
	}
	parser := gopacket.NewDecodingLayerParser(dec, &eth, &dot1q, &ip4, &ip6, &tcp, &udp, &payload)
	parser.IgnoreUnsupported = true
	var decoded []gopacket.LayerType
	open := map[flowKey]int{}       // flow → index in conns
	lastSeen := map[flowKey]int64{} // UDP flows: last packet, ns
	names := map[[2]netip.Addr]string{}
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return nil, 0, 0, fmt.Errorf("eval: reading %s: %w", path, err)
		}
		ns := ci.Timestamp.UnixNano()
		if first < 0 || ns < first {
			first = ns // the dataset's range, even if the file is not in time order
		}
		last = max(last, ns)
		if err := parser.DecodeLayers(data, &decoded); err != nil && len(decoded) == 0 {
			continue
		}
		var src, dst netip.Addr
		var ipLen float64
		var k flowKey
		isTCP, isUDP := false, false
		for _, t := range decoded {
			switch t {
			case layers.LayerTypeIPv4:
				src, _ = netip.AddrFromSlice(ip4.SrcIP.To4())
				dst, _ = netip.AddrFromSlice(ip4.DstIP.To4())
				ipLen = float64(ip4.Length)
			case layers.LayerTypeIPv6:
				src, _ = netip.AddrFromSlice(ip6.SrcIP)
				dst, _ = netip.AddrFromSlice(ip6.DstIP)
				ipLen = float64(ip6.Length) + 40
			case layers.LayerTypeTCP:
				isTCP = true
			case layers.LayerTypeUDP:
				isUDP = true
			}
		}
		if !src.IsValid() || !(isTCP || isUDP) {
			continue
		}
		if isUDP && udp.SrcPort == 53 && internal.Contains(dst) {
			recordDNS(names, dst, udp.Payload)
			continue
		}
		var sport, dport uint16
		var proto uint8
		switch {
		case isTCP:
			sport, dport, proto = uint16(tcp.SrcPort), uint16(tcp.DstPort), 6
		default:
			sport, dport, proto = uint16(udp.SrcPort), uint16(udp.DstPort), 17
		}
		k = flowKey{src, dst, sport, dport, proto}
		if idx, ok := open[k]; ok && !(isTCP && tcp.SYN && !tcp.ACK) {
			if isUDP && ns-lastSeen[k] > 60e9 {
				delete(open, k)
			} else {
				conns[idx].origBytes += ipLen
				lastSeen[k] = ns
				continue
			}
		}
		if _, ok := open[flowKey{dst, src, dport, sport, proto}]; ok {
			continue // a reply: originator bytes only
		}
		if !internal.Contains(src) || internal.Contains(dst) {
			continue
		}
		if isTCP && !(tcp.SYN && !tcp.ACK) {
			continue
		}
		name := names[[2]netip.Addr{src, dst}]
		open[k] = len(conns)
		lastSeen[k] = ns
		pn := "tcp"
		if proto == 17 {
			pn = "udp"
		}
		conns = append(conns, conn{ts: ns / 1e9, src: src, dst: dst, port: dport, proto: pn, origBytes: ipLen, fqdn: name})
	}
	if first < 0 {
		return nil, 0, 0, fmt.Errorf("eval: %s: no packets", path)
	}
	return conns, first / 1e9, last / 1e9, nil
}

// recordDNS remembers, for client, which name each answered address came
// from: the question (the name asked for, first in the CNAME chain).
func recordDNS(names map[[2]netip.Addr]string, client netip.Addr, payload []byte) {
	var m dns.Msg
	if m.Unpack(payload) != nil || !m.Response || len(m.Question) == 0 {
		return
	}
	q := dns.CanonicalName(m.Question[0].Name)
	q = q[:len(q)-1]
	for _, rr := range m.Answer {
		var a netip.Addr
		switch v := rr.(type) {
		case *dns.A:
			a, _ = netip.AddrFromSlice(v.A.To4())
		case *dns.AAAA:
			a, _ = netip.AddrFromSlice(v.AAAA)
		default:
			continue
		}
		names[[2]netip.Addr{client, a}] = q
	}
}
