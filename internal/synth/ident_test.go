package synth

import (
	"bytes"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/miekg/dns"

	"github.com/launchtap/launchtap/sensor/netset"
)

// identWire is what the identity tests read from a generated capture.
type identWire struct {
	dhcp    []dhcpSeen
	dhcp6   map[string][][]byte // client MAC -> DHCPv6 client ids (SOLICIT, REQUEST)
	ra      []netip.Prefix      // prefixes of router advertisements
	raFrom  map[string]bool     // source MACs of router advertisements
	dad     map[netip.Addr]time.Time
	nsTo    map[netip.Addr]bool // targets of address resolution by the router
	mdnsA   map[string][]string // NAME.local -> MACs announcing it
	syns    []synSeen
	queries map[netip.Addr][]dnsSeen // A/AAAA queries by source address
}

type dhcpSeen struct {
	at             time.Time
	mac            string
	msg            layers.DHCPMsgType
	yiaddr, ciaddr netip.Addr
	hostname       string
	clientID       []byte
	fromClient     bool
	srcIP, dstIP   netip.Addr
	chaddrOK       bool
}

type synSeen struct {
	at       time.Time
	src, dst netip.Addr
	mac      string
}

type dnsSeen struct {
	at   time.Time
	name string
}

func readIdentWire(t *testing.T, name string) (*identWire, []Label, []HostLabel) {
	t.Helper()
	m, labels, _ := gen(t, name, 1, Options{}, true)
	hosts, err := HostLabels(name, 1)
	if err != nil {
		t.Fatal(err)
	}
	iw := &identWire{dhcp6: map[string][][]byte{}, raFrom: map[string]bool{}, dad: map[netip.Addr]time.Time{},
		nsTo: map[netip.Addr]bool{}, mdnsA: map[string][]string{}, queries: map[netip.Addr][]dnsSeen{}}
	for _, f := range m.frames {
		p := gopacket.NewPacket(f.data, layers.LayerTypeEthernet, gopacket.Default)
		eth, _ := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		if eth == nil {
			continue
		}
		var src, dst netip.Addr
		if nl := p.NetworkLayer(); nl != nil {
			src, _ = netip.AddrFromSlice(nl.NetworkFlow().Src().Raw())
			dst, _ = netip.AddrFromSlice(nl.NetworkFlow().Dst().Raw())
		}
		if d, ok := p.Layer(layers.LayerTypeDHCPv4).(*layers.DHCPv4); ok {
			s := dhcpSeen{at: f.ts, mac: d.ClientHWAddr.String(), fromClient: d.Operation == layers.DHCPOpRequest, srcIP: src, dstIP: dst,
				chaddrOK: d.Operation != layers.DHCPOpRequest || bytes.Equal(d.ClientHWAddr, eth.SrcMAC)}
			s.yiaddr, _ = netip.AddrFromSlice(d.YourClientIP.To4())
			s.ciaddr, _ = netip.AddrFromSlice(d.ClientIP.To4())
			for _, o := range d.Options {
				switch o.Type {
				case layers.DHCPOptMessageType:
					s.msg = layers.DHCPMsgType(o.Data[0])
				case layers.DHCPOptHostname:
					s.hostname = string(o.Data)
				case layers.DHCPOptClientID:
					s.clientID = o.Data
				}
			}
			iw.dhcp = append(iw.dhcp, s)
		}
		if d, ok := p.Layer(layers.LayerTypeDHCPv6).(*layers.DHCPv6); ok &&
			(d.MsgType == layers.DHCPv6MsgTypeSolicit || d.MsgType == layers.DHCPv6MsgTypeRequest) {
			for _, o := range d.Options {
				if o.Code == layers.DHCPv6OptClientID {
					iw.dhcp6[eth.SrcMAC.String()] = append(iw.dhcp6[eth.SrcMAC.String()], o.Data)
				}
			}
		}
		if ra, ok := p.Layer(layers.LayerTypeICMPv6RouterAdvertisement).(*layers.ICMPv6RouterAdvertisement); ok {
			iw.raFrom[eth.SrcMAC.String()] = true
			for _, o := range ra.Options {
				if o.Type == layers.ICMPv6OptPrefixInfo && len(o.Data) == 30 {
					a, _ := netip.AddrFromSlice(o.Data[14:30])
					iw.ra = append(iw.ra, netip.PrefixFrom(a, int(o.Data[0])))
				}
			}
		}
		if ns, ok := p.Layer(layers.LayerTypeICMPv6NeighborSolicitation).(*layers.ICMPv6NeighborSolicitation); ok {
			tgt, _ := netip.AddrFromSlice(ns.TargetAddress)
			switch {
			case src.IsUnspecified():
				if _, seen := iw.dad[tgt]; !seen {
					iw.dad[tgt] = f.ts
				}
			case bytes.Equal(eth.SrcMAC, gatewayMAC):
				iw.nsTo[tgt] = true
			}
		}
		if tc, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP); ok && tc.SYN && !tc.ACK {
			iw.syns = append(iw.syns, synSeen{at: f.ts, src: src, dst: dst, mac: eth.SrcMAC.String()})
		}
		if u, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP); ok && (u.DstPort == 53 || u.SrcPort == 5353) {
			var msg dns.Msg
			if msg.Unpack(u.Payload) != nil {
				continue
			}
			if u.DstPort == 53 && len(msg.Question) == 1 {
				iw.queries[src] = append(iw.queries[src], dnsSeen{f.ts, strings.TrimSuffix(msg.Question[0].Name, ".")})
			}
			if u.SrcPort == 5353 && msg.Response {
				for _, rr := range msg.Answer {
					if a, ok := rr.(*dns.A); ok && !slices.Contains(iw.mdnsA[a.Hdr.Name], eth.SrcMAC.String()) {
						iw.mdnsA[a.Hdr.Name] = append(iw.mdnsA[a.Hdr.Name], eth.SrcMAC.String())
					}
				}
			}
		}
	}
	return iw, labels, hosts
}

func labelFor(t *testing.T, labels []Label, fqdn string) Label {
	t.Helper()
	for _, l := range labels {
		if l.DstFQDN == fqdn && l.ShouldAlert {
			return l
		}
	}
	t.Fatalf("no planted label for %s", fqdn)
	return Label{}
}

// checkDNSFirst: every agent session from an address follows a lookup of
// the name from the same host (its IPv4 address for the IPv6 Mac) no more
// than the answer's TTL before: DNS before connections, as macOS does.
func checkDNSFirst(t *testing.T, iw *identWire, l Label, lookupFrom func(src netip.Addr) netip.Addr, ttl time.Duration) {
	t.Helper()
	dsts := map[netip.Addr]bool{}
	for _, d := range l.DstIPs {
		dsts[netip.MustParseAddr(d)] = true
	}
	n := 0
	for _, s := range iw.syns {
		if !dsts[s.dst] {
			continue
		}
		n++
		ok := false
		for _, q := range iw.queries[lookupFrom(s.src)] {
			if q.name == l.DstFQDN && !q.at.After(s.at) && s.at.Sub(q.at) <= ttl {
				ok = true
			}
		}
		if !ok {
			t.Errorf("%s: SYN from %s at %v with no lookup of the name in the %v before", l.DstFQDN, s.src, s.at, ttl)
			return
		}
	}
	if n < l.Beats {
		t.Errorf("%s: %d SYNs for %d beats", l.DstFQDN, n, l.Beats)
	}
}

func TestIdentDHCPChurn(t *testing.T) {
	iw, labels, hosts := readIdentWire(t, "dhcp-churn")
	l := labelFor(t, labels, ChurnAgentFQDN)
	if l.Beats < 250 || len(l.SrcIPs) < 15 || !slices.Equal(l.SrcMACs, []string{ChurnMacMAC}) || l.Device != ChurnMacHost {
		t.Fatalf("agent label: %d beats from %d addresses, macs %v, host %q", l.Beats, len(l.SrcIPs), l.SrcMACs, l.Device)
	}
	acked := map[string]time.Time{} // the Mac's addresses, when first bound
	var naks, releases int
	released := map[netip.Addr]time.Time{}
	clientID := append([]byte{1}, mustMAC(ChurnMacMAC)...)
	var winAck dhcpSeen
	for _, d := range iw.dhcp {
		if !d.chaddrOK {
			t.Fatalf("DHCP from a client whose chaddr is not its source MAC: %+v", d)
		}
		switch {
		case d.mac == ChurnMacMAC && d.fromClient:
			if !bytes.Equal(d.clientID, clientID) {
				t.Errorf("Mac's DHCP %v without option 61 %x: %x", d.msg, clientID, d.clientID)
			}
			if d.msg == layers.DHCPMsgTypeRelease {
				releases++
				released[d.ciaddr] = d.at
				if d.srcIP != d.ciaddr || d.dstIP != dhcpServerIP {
					t.Errorf("RELEASE %s -> %s for %s: want unicast from the held address to the server", d.srcIP, d.dstIP, d.ciaddr)
				}
			} else if d.hostname != ChurnMacHost {
				t.Errorf("Mac's DHCP %v with option 12 %q", d.msg, d.hostname)
			}
		case d.mac == ChurnMacMAC && d.msg == layers.DHCPMsgTypeNak:
			naks++
		case d.mac == ChurnMacMAC && d.msg == layers.DHCPMsgTypeAck:
			if _, ok := acked[d.yiaddr.String()]; !ok {
				acked[d.yiaddr.String()] = d.at
			}
		case d.mac == ChurnWindowsMAC && d.msg == layers.DHCPMsgTypeAck:
			winAck = d
		}
	}
	if naks == 0 || releases == 0 {
		t.Errorf("%d NAKs and %d RELEASEs; the churn needs both", naks, releases)
	}
	for _, a := range l.SrcIPs {
		if _, ok := acked[a]; !ok {
			t.Errorf("beats from %s, which no DHCP ACK bound to the Mac", a)
		}
	}
	if len(acked) < len(l.SrcIPs) {
		t.Errorf("%d addresses acked, %d beaten from", len(acked), len(l.SrcIPs))
	}
	// The Windows laptop gets an address the Mac released, after it did,
	// and after the Mac's last beat from it.
	rel, ok := released[winAck.yiaddr]
	if !ok || !winAck.at.After(rel) {
		t.Fatalf("Windows laptop acked %s at %v; the Mac released it at %v (%v)", winAck.yiaddr, winAck.at, rel, ok)
	}
	for _, s := range iw.syns {
		if s.src == winAck.yiaddr && s.mac == ChurnMacMAC && s.at.After(winAck.at) {
			t.Errorf("the Mac still sends from %s after the Windows laptop got it", s.src)
		}
	}
	var winOS string
	for _, h := range hosts {
		if h.MAC == ChurnWindowsMAC {
			winOS = h.OS
		}
	}
	if winOS != "windows" {
		t.Errorf("Windows laptop's host label os %q", winOS)
	}
	checkDNSFirst(t, iw, l, func(a netip.Addr) netip.Addr { return a }, 300*time.Second)
}

func TestIdentTempV6(t *testing.T) {
	iw, labels, _ := readIdentWire(t, "ipv6-temp")
	l := labelFor(t, labels, V6AgentFQDN)
	pfx := netip.MustParsePrefix(V6OfficePrefix)
	if n := len(l.SrcIPs); n != 6 || l.Beats < 280 {
		t.Fatalf("agent label: %d beats from %d addresses; want 24 h / 4 h = 6 temporary addresses", l.Beats, n)
	}
	def := netset.MustParse(netset.DefaultInternal)
	for _, a := range l.SrcIPs {
		addr := netip.MustParseAddr(a)
		if !pfx.Contains(addr) || def.Contains(addr) {
			t.Errorf("beats from %s: want an address of %s, which no default --internal network holds", a, pfx)
		}
		if _, ok := iw.dad[addr]; !ok {
			t.Errorf("%s used without duplicate address detection", a)
		}
		if !iw.nsTo[addr] {
			t.Errorf("the router never resolved %s", a)
		}
	}
	if !slices.Contains(iw.ra, pfx) || len(iw.raFrom) != 1 || !iw.raFrom[gatewayMAC.String()] {
		t.Errorf("router advertisements of %v from %v; want %s from the gateway", slices.Compact(iw.ra), iw.raFrom, pfx)
	}
	var adverts int
	for _, p := range iw.ra {
		if p == pfx {
			adverts++
		}
	}
	if adverts < 24*3600/600 {
		t.Errorf("%d advertisements of the prefix in 24 h; a router sends one every 200-600 s", adverts)
	}
	// The lookups come over IPv4 (A and AAAA), the sessions over IPv6.
	checkDNSFirst(t, iw, l, func(netip.Addr) netip.Addr { return netip.MustParseAddr(V6MacIP) }, 300*time.Second)
}

func TestIdentDocked(t *testing.T) {
	iw, labels, hosts := readIdentWire(t, "docked")
	l := labelFor(t, labels, DockedAgentFQDN)
	if !slices.Equal(slices.Sorted(slices.Values(l.SrcMACs)), []string{DockedEthMAC, DockedWiFiMAC}) ||
		!slices.Equal(slices.Sorted(slices.Values(l.SrcIPs)), []string{DockedEthIP, DockedWiFiIP}) {
		t.Fatalf("agent label from %v %v", l.SrcIPs, l.SrcMACs)
	}
	for _, mac := range []string{DockedEthMAC, DockedWiFiMAC} {
		hw, _ := net.ParseMAC(mac)
		var n int
		for _, d := range iw.dhcp {
			if d.mac == mac && d.fromClient {
				n++
				if d.hostname != DockedHost || !bytes.Equal(d.clientID, append([]byte{1}, hw...)) {
					t.Errorf("%s: DHCP %v with option 12 %q, 61 %x", mac, d.msg, d.hostname, d.clientID)
				}
			}
		}
		if n == 0 {
			t.Errorf("%s: no DHCP", mac)
		}
		if !slices.Contains(iw.mdnsA[DockedHost+".local."], mac) {
			t.Errorf("%s does not announce %s.local (announced by %v)", mac, DockedHost, iw.mdnsA[DockedHost+".local."])
		}
	}
	eth, wifi := iw.dhcp6[DockedEthMAC], iw.dhcp6[DockedWiFiMAC]
	if len(eth) == 0 || len(wifi) == 0 {
		t.Fatalf("DHCPv6 client ids: ethernet %d, wi-fi %d", len(eth), len(wifi))
	}
	for _, id := range append(eth, wifi...) {
		if !bytes.Equal(id, wifi[0]) {
			t.Errorf("DHCPv6 client id %x differs from %x: one DUID on every interface", id, wifi[0])
		}
	}
	// Ethernet in the mornings only; Wi-Fi in the afternoons.
	dsts := map[netip.Addr]bool{}
	for _, d := range l.DstIPs {
		dsts[netip.MustParseAddr(d)] = true
	}
	var onEth, onWiFiAfternoon int
	for _, s := range iw.syns {
		if !dsts[s.dst] {
			continue
		}
		h := time.Duration(s.at.UnixNano()-epoch) % (24 * time.Hour)
		switch s.mac {
		case DockedEthMAC:
			onEth++
			if h > 5*time.Hour {
				t.Errorf("beat over the dock at %v (%v into the day)", s.at, h)
			}
		case DockedWiFiMAC:
			if h > 5*time.Hour {
				onWiFiAfternoon++
			}
		}
	}
	if onEth < 40 || onWiFiAfternoon < 40 {
		t.Errorf("%d beats over the dock, %d over Wi-Fi in the afternoons", onEth, onWiFiAfternoon)
	}
	var names int
	for _, h := range hosts {
		if h.Hostname == DockedHost {
			names++
		}
	}
	if names != 2 {
		t.Errorf("%d host labels named %s, want its two interfaces", names, DockedHost)
	}
}

func TestIdentMixedGenericNames(t *testing.T) {
	iw, labels, _ := readIdentWire(t, "mixed-identity")
	for _, fqdn := range []string{ChurnAgentFQDN, V6AgentFQDN, DockedAgentFQDN, GenericAgentAFQDN, GenericAgentBFQDN} {
		labelFor(t, labels, fqdn)
	}
	byName := map[string][]string{} // DHCP option 12 -> client MACs
	ids := map[string]map[string]bool{}
	for _, d := range iw.dhcp {
		if d.fromClient && d.hostname != "" {
			if !slices.Contains(byName[d.hostname], d.mac) {
				byName[d.hostname] = append(byName[d.hostname], d.mac)
			}
			if ids[d.hostname] == nil {
				ids[d.hostname] = map[string]bool{}
			}
			ids[d.hostname][string(d.clientID)] = true
		}
	}
	for _, name := range []string{GenericMacHost, "iPhone"} {
		if len(byName[name]) != 2 || len(ids[name]) != 2 {
			t.Errorf("option 12 %q from %v with %d client ids; want two devices", name, byName[name], len(ids[name]))
		}
	}
	if !slices.Equal(iw.mdnsA[GenericMacHost+".local."], []string{GenericMacAMAC}) || !slices.Equal(iw.mdnsA[GenericMacHost+"-2.local."], []string{GenericMacBMAC}) {
		t.Errorf("Bonjour: %s.local from %v, %s-2.local from %v", GenericMacHost, iw.mdnsA[GenericMacHost+".local."], GenericMacHost, iw.mdnsA[GenericMacHost+"-2.local."])
	}
}
