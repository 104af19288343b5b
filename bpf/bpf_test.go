package bpf

import (
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/launchtap/launchtap/sensor/shard"
)

// requireBPF skips the test when this process cannot load a socket filter,
// except in CI (CI=true), which runs as root and must run every test.
func requireBPF(t testing.TB) {
	t.Helper()
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.SocketFilter,
		Instructions: asm.Instructions{asm.LoadImm(asm.R0, 0, asm.DWord), asm.Return()},
		License:      "MIT",
	})
	if err == nil {
		prog.Close()
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("BPF is required in CI: %v", err)
	}
	t.Skipf("loading BPF programs is not permitted here: %v", err)
}

func load(t testing.TB, opts Options) *Objects {
	t.Helper()
	requireBPF(t)
	o, err := Load(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 2}
)

// pkt describes a crafted packet.
type pkt struct {
	src, dst     string
	sport, dport uint16
	udp          bool
	flags        string // TCP flags: any of "SAFRP"
	payload      int
	vlan         bool
}

func (p pkt) layers(t testing.TB) []gopacket.SerializableLayer {
	t.Helper()
	src, dst := netip.MustParseAddr(p.src), netip.MustParseAddr(p.dst)
	eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB}
	var ls []gopacket.SerializableLayer
	ls = append(ls, eth)
	var ipl gopacket.NetworkLayer
	et := layers.EthernetTypeIPv4
	if src.Is6() {
		et = layers.EthernetTypeIPv6
	}
	if p.vlan {
		eth.EthernetType = layers.EthernetTypeDot1Q
		ls = append(ls, &layers.Dot1Q{VLANIdentifier: 42, Type: et})
	} else {
		eth.EthernetType = et
	}
	proto := layers.IPProtocolTCP
	if p.udp {
		proto = layers.IPProtocolUDP
	}
	if src.Is4() {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		ipl = ip
		ls = append(ls, ip)
	} else {
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		ipl = ip
		ls = append(ls, ip)
	}
	if p.udp {
		u := &layers.UDP{SrcPort: layers.UDPPort(p.sport), DstPort: layers.UDPPort(p.dport)}
		u.SetNetworkLayerForChecksum(ipl)
		ls = append(ls, u)
	} else {
		tc := &layers.TCP{SrcPort: layers.TCPPort(p.sport), DstPort: layers.TCPPort(p.dport), Window: 1024, Seq: 1}
		for _, f := range p.flags {
			switch f {
			case 'S':
				tc.SYN = true
			case 'A':
				tc.ACK = true
			case 'F':
				tc.FIN = true
			case 'R':
				tc.RST = true
			case 'P':
				tc.PSH = true
			}
		}
		tc.SetNetworkLayerForChecksum(ipl)
		ls = append(ls, tc)
	}
	return append(ls, gopacket.Payload(make([]byte, p.payload)))
}

func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (p pkt) bytes(t testing.TB) []byte { return serialize(t, p.layers(t)...) }

// ipLen is the IP datagram length of a crafted packet, what the filter counts.
func (p pkt) ipLen() uint64 {
	n := uint64(p.payload)
	if p.udp {
		n += 8
	} else {
		n += 20
	}
	if netip.MustParseAddr(p.src).Is4() {
		return n + 20
	}
	return n + 40
}

// counts is what the filter records for n copies of p.
func (p pkt) counts(n uint64) Counts {
	return Counts{Packets: n, Bytes: n * p.ipLen(), Payload: n * uint64(p.payload)}
}

func (p pkt) key() FlowKey {
	proto := uint8(6)
	if p.udp {
		proto = 17
	}
	return NewFlowKey(netip.MustParseAddr(p.src), netip.MustParseAddr(p.dst), p.sport, p.dport, proto)
}

// testRunAtNet is TEST_RUN_AT_NET in launchtap.c: BPF_PROG_TEST_RUN starts
// skb->data at the network header, where a packet socket starts it at the MAC
// header, and the filter learns which from cb[0].
const testRunAtNet = 0x4c544e54

// skbCtx is struct __sk_buff up to cb (the fields BPF_PROG_TEST_RUN takes).
type skbCtx struct {
	_  [12]uint32 // len .. tc_index
	CB [5]uint32
}

// runOpts are the options to run prog on an Ethernet frame.
func runOpts(prog *ebpf.Program, data []byte) *ebpf.RunOptions {
	o := &ebpf.RunOptions{Data: data}
	if prog.Type() == ebpf.SocketFilter {
		o.Context = skbCtx{CB: [5]uint32{testRunAtNet}}
	}
	return o
}

func run(t testing.TB, prog *ebpf.Program, data []byte) uint32 {
	t.Helper()
	ret, err := prog.Run(runOpts(prog, data))
	if err != nil {
		t.Fatal(err)
	}
	return ret
}

// verdicts runs the filter over packets (with optional pauses, a pkt with
// payload -1 means sleep) and returns pass (true) / count (false) per packet.
func verdicts(t testing.TB, o *Objects, seq []step) []bool {
	t.Helper()
	var got []bool
	for _, s := range seq {
		if s.sleep > 0 {
			time.Sleep(s.sleep)
			continue
		}
		got = append(got, run(t, o.Filter(), s.p.bytes(t)) != 0)
	}
	return got
}

type step struct {
	p     pkt
	sleep time.Duration
}

func TestFilterVerdicts(t *testing.T) {
	ack := pkt{src: "192.168.1.10", dst: "93.184.216.34", sport: 50000, dport: 443, flags: "A", payload: 100}
	bare := pkt{src: ack.src, dst: ack.dst, sport: ack.sport, dport: ack.dport, flags: "A"}
	ack6 := pkt{src: "fd00::10", dst: "2001:db8::1", sport: 50000, dport: 443, flags: "A", payload: 100}
	syn := pkt{src: ack.src, dst: ack.dst, sport: ack.sport, dport: ack.dport, flags: "S"}
	synAck := pkt{src: ack.dst, dst: ack.src, sport: ack.dport, dport: ack.sport, flags: "SA"}
	serverData := pkt{src: ack.dst, dst: ack.src, sport: ack.dport, dport: ack.sport, flags: "A", payload: 1400}
	quic := pkt{src: "10.0.0.5", dst: "142.250.1.1", sport: 50001, dport: 443, udp: true, payload: 1200}
	quicBack := pkt{src: quic.dst, dst: quic.src, sport: quic.dport, dport: quic.sport, udp: true, payload: 1200}
	udp := pkt{src: "10.0.0.5", dst: "198.51.100.9", sport: 50002, dport: 5000, udp: true, payload: 200}
	const P, C = true, false
	tests := []struct {
		name string
		opts Options
		seq  []step
		want []bool
		// counters to expect after the sequence for seq[0]'s flow: cur, prev
		cur, prev Counts
	}{
		{
			name: "SYN, SYN-ACK, FIN and RST pass",
			seq: []step{
				{p: pkt{src: "192.168.1.10", dst: "93.184.216.34", sport: 50000, dport: 443, flags: "S"}},
				{p: pkt{src: "93.184.216.34", dst: "192.168.1.10", sport: 443, dport: 50000, flags: "SA"}},
				{p: pkt{src: "192.168.1.10", dst: "93.184.216.34", sport: 50000, dport: 443, flags: "FA"}},
				{p: pkt{src: "192.168.1.10", dst: "93.184.216.34", sport: 50000, dport: 443, flags: "R"}},
			},
			want: []bool{P, P, P, P},
		},
		{
			name: "mid-session ACKs: first passes, the rest are counted",
			seq:  []step{{p: ack}, {p: ack}, {p: ack}},
			want: []bool{P, C, C},
			cur:  ack.counts(2),
		},
		{
			name: "IPv6 mid-session",
			seq:  []step{{p: ack6}, {p: ack6}},
			want: []bool{P, C},
			cur:  ack6.counts(1),
		},
		{
			name: "DNS, DHCP, mDNS, NTP, DHCPv6 and TCP DNS always pass",
			seq: []step{
				{p: pkt{src: "192.168.1.10", dst: "8.8.8.8", sport: 40000, dport: 53, udp: true, payload: 30}},
				{p: pkt{src: "192.168.1.10", dst: "8.8.8.8", sport: 40000, dport: 53, udp: true, payload: 30}},
				{p: pkt{src: "8.8.8.8", dst: "192.168.1.10", sport: 53, dport: 40000, udp: true, payload: 90}},
				{p: pkt{src: "0.0.0.0", dst: "255.255.255.255", sport: 68, dport: 67, udp: true, payload: 300}},
				{p: pkt{src: "192.168.1.10", dst: "224.0.0.251", sport: 5353, dport: 5353, udp: true, payload: 40}},
				{p: pkt{src: "192.168.1.10", dst: "17.253.1.1", sport: 123, dport: 123, udp: true, payload: 48}},
				{p: pkt{src: "fe80::1", dst: "ff02::1:2", sport: 546, dport: 547, udp: true, payload: 48}},
				{p: pkt{src: "192.168.1.10", dst: "8.8.8.8", sport: 40001, dport: 53, flags: "A", payload: 60}},
				{p: pkt{src: "192.168.1.10", dst: "8.8.8.8", sport: 40001, dport: 53, flags: "A", payload: 60}},
			},
			want: []bool{P, P, P, P, P, P, P, P, P},
		},
		{
			name: "in-band VLAN tag passes",
			seq:  []step{{p: pkt{src: "192.168.1.10", dst: "93.184.216.34", sport: 50000, dport: 443, flags: "A", vlan: true}}, {p: pkt{src: "192.168.1.10", dst: "93.184.216.34", sport: 50000, dport: 443, flags: "A", vlan: true}}},
			want: []bool{P, P},
		},
		{
			name: "long session is sampled every SampleInterval",
			opts: Options{SampleInterval: 400 * time.Millisecond},
			seq:  []step{{p: ack}, {p: ack}, {p: ack}, {sleep: 500 * time.Millisecond}, {p: ack}, {p: ack}},
			want: []bool{P, C, C, P, C},
			cur:  ack.counts(3),
		},
		{
			name: "UDP: the first two datagrams pass, a datagram after the idle gap starts a session",
			opts: Options{UDPIdle: time.Second, SampleInterval: time.Hour},
			seq:  []step{{p: udp}, {p: udp}, {p: udp}, {p: udp}, {sleep: 1100 * time.Millisecond}, {p: udp}, {p: udp}, {p: udp}},
			want: []bool{P, P, C, C, P, P, C},
			prev: udp.counts(2),
			cur:  udp.counts(1),
		},
		{
			name: "QUIC: the first two datagrams of each direction of a session pass",
			opts: Options{UDPIdle: time.Second, SampleInterval: time.Hour},
			seq: []step{
				{p: quic}, {p: quic}, {p: quicBack}, {p: quicBack}, {p: quicBack}, {p: quic},
				{sleep: 1100 * time.Millisecond}, {p: quic}, {p: quic}, {p: quic},
			},
			want: []bool{P, P, P, P, C, C, P, P, C},
			prev: quic.counts(1),
			cur:  quic.counts(1),
		},
		{
			// The handshake's last ACK makes the client's entry, as its SYN
			// would have (the server answered): it is counted, and the SYN's
			// mark makes the direction a client's: two payloads pass.
			name: "TLS: the ClientHello (two segments) and the server's first data pass",
			seq: []step{
				{p: syn}, {p: synAck}, {p: bare}, {p: ack}, {p: ack}, {p: bare}, {p: ack},
				{p: serverData}, {p: serverData}, {p: pkt{src: ack.dst, dst: ack.src, sport: ack.dport, dport: ack.sport, flags: "A"}},
			},
			want: []bool{P, P, C, P, P, C, C, P, C, C},
			cur:  bare.counts(2).Add(ack.counts(1)),
		},
		{
			// Without the SYN-ACK (a tap that sees one direction), user space
			// may not know the session was answered: the ACK passes.
			name: "a handshake the filter saw no answer to passes its last ACK",
			seq:  []step{{p: syn}, {p: bare}, {p: ack}, {p: ack}, {p: ack}},
			want: []bool{P, P, P, P, C},
			cur:  ack.counts(1),
		},
		{
			name: "HTTP CONNECT to a proxy passes",
			seq: []step{
				{p: pkt{src: "10.0.0.5", dst: "10.0.0.1", sport: 50123, dport: 3128, flags: "S"}},
				{p: pkt{src: "10.0.0.1", dst: "10.0.0.5", sport: 3128, dport: 50123, flags: "SA"}},
				{p: pkt{src: "10.0.0.5", dst: "10.0.0.1", sport: 50123, dport: 3128, flags: "A"}},
				{p: pkt{src: "10.0.0.5", dst: "10.0.0.1", sport: 50123, dport: 3128, flags: "PA", payload: 60}},
				{p: pkt{src: "10.0.0.1", dst: "10.0.0.5", sport: 3128, dport: 50123, flags: "PA", payload: 39}},
			},
			want: []bool{P, P, C, P, P},
			cur:  pkt{src: "10.0.0.5", dst: "10.0.0.1", sport: 50123, dport: 3128, flags: "A"}.counts(1),
		},
		{
			name: "a session seen from its middle passes one payload per direction",
			seq:  []step{{p: bare}, {p: ack}, {p: ack}},
			want: []bool{P, P, C},
			cur:  ack.counts(1),
		},
		{
			name: "a SYN on a counted 5-tuple splits the counts and starts a session with its first payloads",
			seq: []step{
				{p: ack}, {p: ack},
				{p: syn},
				{p: ack}, {p: ack}, {p: ack}, {p: ack},
			},
			want: []bool{P, C, P, P, P, C, C},
			prev: ack.counts(1),
			cur:  ack.counts(2),
		},
		{
			name: "data after the burst gap passes, pure ACKs in the gap are counted",
			opts: Options{BurstGap: 500 * time.Millisecond, SampleInterval: time.Hour},
			seq:  []step{{p: ack}, {p: ack}, {p: bare}, {sleep: 600 * time.Millisecond}, {p: bare}, {p: ack}, {p: ack}},
			want: []bool{P, C, C, C, P, C},
			cur:  ack.counts(2).Add(bare.counts(2)),
		},
		{
			name: "a data sample user space would take for a burst is held back",
			opts: Options{BurstGap: 2 * time.Second, SampleInterval: 300 * time.Millisecond},
			seq: append(append([]step{{p: ack}}, slices.Repeat([]step{{sleep: 450 * time.Millisecond}, {p: bare}, {p: ack}}, 5)...),
				step{sleep: 450 * time.Millisecond}, step{p: ack}, step{sleep: 2200 * time.Millisecond}, step{p: ack}),
			want: []bool{P, P, C, P, C, P, C, P, C, P, C, C, P},
			cur:  ack.counts(6),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := load(t, tc.opts)
			got := verdicts(t, o, tc.seq)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d verdicts, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("packet %d: passed=%v, want %v", i, got[i], tc.want[i])
				}
			}
			k := tc.seq[0].p.key()
			prev, cur, err := o.Flows.Take(k)
			if err != nil {
				t.Fatal(err)
			}
			if prev != tc.prev || cur != tc.cur {
				t.Errorf("Take(%s) = prev %+v cur %+v, want prev %+v cur %+v", k, prev, cur, tc.prev, tc.cur)
			}
			if p2, c2, _ := o.Flows.Take(k); p2 != (Counts{}) || c2 != (Counts{}) {
				t.Errorf("second Take = %+v %+v, want zero", p2, c2)
			}
			st, err := o.Stats()
			if err != nil {
				t.Fatal(err)
			}
			var passed, counted uint64
			for _, v := range got {
				if v {
					passed++
				} else {
					counted++
				}
			}
			if st.Passed() != passed || st.Counted != counted {
				t.Errorf("stats passed %d counted %d, want %d %d (%+v)", st.Passed(), st.Counted, passed, counted, st)
			}
		})
	}
}

func TestFilterPassesWhatItDoesNotUnderstand(t *testing.T) {
	o := load(t, Options{})
	arp := serialize(t,
		&layers.Ethernet{SrcMAC: macA, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPRequest, SourceHwAddress: macA, SourceProtAddress: []byte{10, 0, 0, 1},
			DstHwAddress: make([]byte, 6), DstProtAddress: []byte{10, 0, 0, 2}})
	frag := serialize(t,
		&layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{10, 0, 0, 1}, DstIP: net.IP{1, 1, 1, 1}, FragOffset: 100},
		gopacket.Payload(make([]byte, 64)))
	icmp := serialize(t,
		&layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: net.IP{10, 0, 0, 1}, DstIP: net.IP{1, 1, 1, 1}},
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0)})
	inner := pkt{src: "192.168.1.10", dst: "93.184.216.34", sport: 50000, dport: 443, flags: "A", payload: 10}
	gre := serialize(t, append([]gopacket.SerializableLayer{
		&layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolGRE, SrcIP: net.IP{172, 16, 0, 1}, DstIP: net.IP{172, 16, 0, 2}},
		&layers.GRE{Protocol: layers.EthernetTypeTransparentEthernetBridging},
	}, inner.layers(t)...)...)
	for name, data := range map[string][]byte{"arp": arp, "fragment": frag, "icmp": icmp, "gre": gre, "truncated ipv4": arp[:20]} {
		for i := 0; i < 3; i++ {
			if run(t, o.Filter(), data) == 0 {
				t.Errorf("%s (copy %d) was not passed", name, i)
			}
		}
	}
}

func TestFilterMapFullPasses(t *testing.T) {
	o := load(t, Options{FlowEntries: 2})
	for port := uint16(1000); port < 1010; port++ {
		p := pkt{src: "192.168.1.10", dst: "93.184.216.34", sport: port, dport: 443, flags: "A"}
		run(t, o.Filter(), p.bytes(t))
		run(t, o.Filter(), p.bytes(t))
	}
	st, err := o.Stats()
	if err != nil {
		t.Fatal(err)
	}
	// 2 flows fit: each passes its first packet and counts the second; the
	// other 8 flows pass both packets as map-full events.
	if st.PassMapFull != 16 || st.Counted != 2 || st.PassFirst != 2 {
		t.Errorf("stats = %+v, want 16 map-full passes, 2 counted, 2 first", st)
	}
}

func TestSweep(t *testing.T) {
	o := load(t, Options{})
	p := pkt{src: "192.168.1.10", dst: "93.184.216.34", sport: 50000, dport: 443, flags: "A", payload: 10}
	for i := 0; i < 3; i++ {
		run(t, o.Filter(), p.bytes(t))
	}
	n, err := o.Flows.Sweep(time.Hour, nil)
	if err != nil || n != 0 {
		t.Fatalf("Sweep(1h) = %d, %v; want nothing removed", n, err)
	}
	time.Sleep(20 * time.Millisecond)
	var got Counts
	n, err = o.Flows.Sweep(10*time.Millisecond, func(k FlowKey, c Counts) {
		if k != p.key() {
			t.Errorf("swept %s, want %s", k, p.key())
		}
		got = c
	})
	if err != nil || n != 1 || got != p.counts(2) {
		t.Fatalf("Sweep = %d, %v, counts %+v; want 1 entry with 2 packets", n, err, got)
	}
}

func TestFanoutSteersByInternalHost(t *testing.T) {
	o := load(t, Options{})
	internal := func(a netip.Addr) bool {
		for _, p := range DefaultInternal {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	tests := []struct {
		name string
		p    pkt
		want string // the address whose hash must come back
		back string // ... for the reverse direction, when not want
	}{
		{"egress v4", pkt{src: "192.168.1.10", dst: "93.184.216.34", sport: 50000, dport: 443, flags: "S"}, "192.168.1.10", ""},
		{"egress udp", pkt{src: "10.1.2.3", dst: "8.8.8.8", sport: 40000, dport: 53, udp: true}, "10.1.2.3", ""},
		{"cgnat", pkt{src: "100.64.3.4", dst: "1.1.1.1", sport: 40000, dport: 443, flags: "A"}, "100.64.3.4", ""},
		{"egress v6", pkt{src: "fd12::5", dst: "2001:db8::1", sport: 50000, dport: 443, flags: "A"}, "fd12::5", ""},
		{"internal to internal: client side", pkt{src: "10.0.0.9", dst: "10.0.0.5", sport: 445, dport: 51515, flags: "A"}, "10.0.0.5", ""},
		{"internal equal ports: smaller address", pkt{src: "192.168.1.20", dst: "192.168.1.7", sport: 5353, dport: 5353, udp: true}, "192.168.1.7", ""},
		{"neither internal: the source", pkt{src: "8.8.8.8", dst: "1.1.1.1", sport: 1, dport: 2, udp: true}, "8.8.8.8", "1.1.1.1"},
		{"vlan", pkt{src: "192.168.1.10", dst: "93.184.216.34", sport: 50000, dport: 443, flags: "A", vlan: true}, "192.168.1.10", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rev := tc.p
			rev.src, rev.dst, rev.sport, rev.dport = tc.p.dst, tc.p.src, tc.p.dport, tc.p.sport
			fwd, back := run(t, o.Fanout(), tc.p.bytes(t)), run(t, o.Fanout(), rev.bytes(t))
			if want := shard.Hash(netip.MustParseAddr(tc.want)); fwd != want {
				t.Errorf("hash %#x, want shard.Hash(%s) = %#x", fwd, tc.want, want)
			}
			wantBack := tc.want
			if tc.back != "" {
				wantBack = tc.back
			}
			if want := shard.Hash(netip.MustParseAddr(wantBack)); back != want {
				t.Errorf("reverse direction: hash %#x, want shard.Hash(%s) = %#x", back, wantBack, want)
			}
			src, dst := netip.MustParseAddr(tc.p.src), netip.MustParseAddr(tc.p.dst)
			sp := shard.Packet{Src: src, Dst: dst, SrcInternal: internal(src), DstInternal: internal(dst),
				Proto: 6, SrcPort: tc.p.sport, DstPort: tc.p.dport}
			if tc.p.udp {
				sp.Proto = 17
			}
			if g := shard.Of(&sp); g != fwd {
				t.Errorf("shard.Of = %#x, kernel %#x", g, fwd)
			}
		})
	}
}

func TestFanoutDecapsulates(t *testing.T) {
	o := load(t, Options{})
	inner := pkt{src: "93.184.216.34", dst: "192.168.1.10", sport: 443, dport: 50000, flags: "A", payload: 10}
	want := shard.Hash(netip.MustParseAddr("192.168.1.10"))
	outer := func(proto layers.IPProtocol) []gopacket.SerializableLayer {
		return []gopacket.SerializableLayer{
			&layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4},
			&layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: net.IP{10, 9, 9, 1}, DstIP: net.IP{10, 9, 9, 2}},
		}
	}
	vxlanOuter := outer(layers.IPProtocolUDP)
	vxlanUDP := &layers.UDP{SrcPort: 55555, DstPort: 4789}
	vxlanUDP.SetNetworkLayerForChecksum(vxlanOuter[1].(gopacket.NetworkLayer))
	erspan2 := make([]byte, 8)
	erspan2[0] = 0x10 // version 1 (type II)
	erspan3 := make([]byte, 12)
	erspan3[0] = 0x20 // version 2 (type III)
	ipOnly := inner.layers(t)[1:]
	cases := map[string][]gopacket.SerializableLayer{
		"vxlan":       append(append(vxlanOuter, vxlanUDP, &layers.VXLAN{ValidIDFlag: true, VNI: 7}), inner.layers(t)...),
		"gre ip":      append(append(outer(layers.IPProtocolGRE), &layers.GRE{Protocol: layers.EthernetTypeIPv4}), ipOnly...),
		"gre key seq": append(append(outer(layers.IPProtocolGRE), &layers.GRE{KeyPresent: true, Key: 5, SeqPresent: true, Seq: 9, Protocol: layers.EthernetTypeTransparentEthernetBridging}), inner.layers(t)...),
		"erspan ii":   append(append(outer(layers.IPProtocolGRE), &layers.GRE{SeqPresent: true, Seq: 1, Protocol: layers.EthernetType(0x88BE)}, gopacket.Payload(erspan2)), inner.layers(t)...),
		"erspan iii":  append(append(outer(layers.IPProtocolGRE), &layers.GRE{SeqPresent: true, Seq: 1, Protocol: layers.EthernetType(0x22EB)}, gopacket.Payload(erspan3)), inner.layers(t)...),
	}
	for name, ls := range cases {
		if got := run(t, o.Fanout(), serialize(t, ls...)); got != want {
			t.Errorf("%s: hash %#x, want the inner internal host's %#x", name, got, want)
		}
	}
}

func TestFlowKeyLayout(t *testing.T) {
	var k FlowKey
	var g launchtapFlowKey
	if a, b := binarySize(k), binarySize(g); a != b || a != 40 {
		t.Fatalf("FlowKey is %d bytes, C struct %d, want 40", a, b)
	}
}

func TestLoadErrorsAreWrapped(t *testing.T) {
	requireBPF(t)
	_, err := Load(Options{FlowEntries: 1 << 31})
	if err == nil {
		t.Skip("the kernel accepted a 2^31-entry flow table")
	}
	if !strings.HasPrefix(err.Error(), "bpf: ") {
		t.Errorf("error %q is not wrapped with the component name", err)
	}
}

// BenchmarkPrograms measures the in-kernel cost per packet of the filter and
// the fanout (BPF_PROG_TEST_RUN, repeated in the kernel): what every captured
// packet costs in softirq context before user space sees anything.
func BenchmarkPrograms(b *testing.B) {
	o := load(b, Options{SampleInterval: time.Hour})
	mid := pkt{src: "192.168.1.10", dst: "93.184.216.34", sport: 50000, dport: 443, flags: "A", payload: 1400}
	for _, bc := range []struct {
		name string
		prog *ebpf.Program
		data []byte
	}{
		{"filter/counted", o.Filter(), mid.bytes(b)},
		{"filter/dns", o.Filter(), pkt{src: "192.168.1.10", dst: "8.8.8.8", sport: 40000, dport: 53, udp: true, payload: 40}.bytes(b)},
		// A scan's SYN: no flow entry, a mark written to the LRU (here the
		// same key again, as BPF_PROG_TEST_RUN repeats one packet).
		{"filter/scan-syn", o.Filter(), pkt{src: "10.9.9.9", dst: "44.0.0.1", sport: 40000, dport: 22, flags: "S"}.bytes(b)},
		{"fanout/v4", o.Fanout(), mid.bytes(b)},
		{"fanout/v6", o.Fanout(), pkt{src: "fd00::10", dst: "2001:db8::1", sport: 50000, dport: 443, flags: "A", payload: 1400}.bytes(b)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			run(b, bc.prog, bc.data) // create the flow entry
			_, per, err := bc.prog.Benchmark(bc.data, b.N, b.ResetTimer)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(per.Nanoseconds()), "ns/pkt")
			if per > 0 {
				b.ReportMetric(1e9/float64(per.Nanoseconds()), "pkts/s")
			}
		})
	}
}

func TestXDPVerdicts(t *testing.T) {
	o := load(t, Options{SampleInterval: time.Hour})
	x, err := o.XDP()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skipf("XDP pre-filter unavailable (needs Linux 5.18): %v", err)
	}
	if x2, _ := o.XDP(); x2 != x {
		t.Error("XDP loaded twice")
	}
	const pass, drop = 2, 1 // XDP_PASS, XDP_DROP
	ack := pkt{src: "192.168.1.10", dst: "93.184.216.34", sport: 50000, dport: 443, flags: "A", payload: 100}
	tagged := ack
	tagged.vlan, tagged.sport = true, 50001
	for i, tc := range []struct {
		p    pkt
		want uint32
	}{
		{pkt{src: "192.168.1.10", dst: "93.184.216.34", sport: 50000, dport: 443, flags: "S"}, pass},
		// The client's first two payloads (a ClientHello) pass, the rest is dropped.
		{ack, pass},
		{ack, pass},
		{ack, drop},
		{ack, drop},
		{pkt{src: "192.168.1.10", dst: "8.8.8.8", sport: 40000, dport: 53, udp: true, payload: 30}, pass},
		// One tag is skipped, as the kernel strips it before AF_PACKET sees the frame.
		{tagged, pass},
		{tagged, drop},
	} {
		if got := run(t, x, tc.p.bytes(t)); got != tc.want {
			t.Errorf("packet %d: XDP verdict %d, want %d", i, got, tc.want)
		}
	}
	// XDP and the socket filter share the flow table.
	_, cur, err := o.Flows.Take(ack.key())
	if err != nil || cur != ack.counts(2) {
		t.Errorf("Take = %+v, %v; want %+v", cur, err, ack.counts(2))
	}
	st, _ := o.Stats()
	if st.Counted != 3 {
		t.Errorf("counted %d, want 3", st.Counted)
	}
}

// TakeMany returns what Take returns, key by key, whether it walks the table
// (many keys) or takes them one by one (few), and leaves none of them behind.
func TestTakeMany(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flows int // counted flows in the table
		ask   int // of which TakeMany asks for the first ask, plus two absent keys and a duplicate
		walk  bool
	}{
		{"few keys: one by one", 40, 2, false},
		{"many keys: a walk", 40, 30, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := load(t, Options{FlowEntries: 128}) // walks from 8 keys
			var want []Counts
			var keys []FlowKey
			for i := 0; i < tc.flows; i++ {
				p := pkt{src: "192.168.1.10", dst: "93.184.216.34", sport: uint16(1000 + i), dport: 443, flags: "A", payload: i}
				for j := 0; j <= i%4+1; j++ {
					run(t, o.Filter(), p.bytes(t))
				}
				keys = append(keys, p.key())
				want = append(want, p.counts(uint64(i%4+1)))
			}
			ask := append([]FlowKey(nil), keys[:tc.ask]...)
			absent := pkt{src: "192.168.1.11", dst: "93.184.216.34", sport: 9, dport: 443}
			ask = append(ask, absent.key(), keys[0], absent.key().Reverse())
			prev, cur := make([]Counts, len(ask)), make([]Counts, len(ask))
			before := o.Flows.Stats()
			if err := o.Flows.TakeMany(ask, prev, cur); err != nil {
				t.Fatal(err)
			}
			st := o.Flows.Stats()
			for i := range ask {
				w := Counts{}
				if i < tc.ask {
					w = want[i]
				}
				if prev[i] != (Counts{}) || cur[i] != w {
					t.Errorf("key %d (%s): prev %+v cur %+v, want cur %+v", i, ask[i], prev[i], cur[i], w)
				}
			}
			if walked := st.Walks > before.Walks; walked != tc.walk {
				t.Errorf("walked %v, want %v", walked, tc.walk)
			}
			if got := st.Found - before.Found; got != uint64(tc.ask) {
				t.Errorf("found %d, want %d", got, tc.ask)
			}
			if tc.walk && st.Syscalls-before.Syscalls >= uint64(len(ask)) {
				t.Errorf("a walk for %d keys made %d syscalls", len(ask), st.Syscalls-before.Syscalls)
			}
			for i, k := range keys {
				p, c, err := o.Flows.Peek(k)
				if err != nil {
					t.Fatal(err)
				}
				if gone := p == (Counts{}) && c == (Counts{}); gone != (i < tc.ask) {
					t.Errorf("flow %d: taken %v, asked %v", i, gone, i < tc.ask)
				}
			}
		})
	}
}

// Take of a flow the filter never saw allocates nothing (no error value).
func TestTakeNotFoundAllocatesNothing(t *testing.T) {
	o := load(t, Options{})
	k := pkt{src: "192.168.1.10", dst: "93.184.216.34", sport: 1, dport: 443}.key()
	allocs := testing.AllocsPerRun(100, func() {
		if _, _, err := o.Flows.Take(k); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per Take of an absent key, want 0", allocs)
	}
}
