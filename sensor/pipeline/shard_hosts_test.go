package pipeline

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/launchtap/launchtap/internal/synth"
	"github.com/launchtap/launchtap/sensor/capture"
	"github.com/launchtap/launchtap/sensor/decode"
	"github.com/launchtap/launchtap/sensor/netset"
)

// Frames of hosts whose identity outlives their addresses, for the
// differential test: DHCP exchanges by the client's MAC, an address handed
// to another MAC, a Mac moved to a new address, two MACs joined by a DHCP
// hostname, MACs joined by the inventory, and a router's MAC sending from
// many addresses. In capture order: what each frame teaches, the frames
// after it depend on.

var (
	hMac1   = [6]byte{0x3c, 0x22, 0xfb, 0, 0, 1} // a Mac's Wi-Fi
	hMacWin = [6]byte{0x00, 0x15, 0x5d, 0, 0, 2} // a Windows laptop
	hMac3   = [6]byte{0x3c, 0x22, 0xfb, 0, 0, 3} // a MacBook's Ethernet
	hMac4   = [6]byte{0x3c, 0x22, 0xfb, 0, 0, 4} // ... and its dock
	hMac5   = [6]byte{0x3c, 0x22, 0xfb, 0, 0, 5} // an inventory device's Wi-Fi
	hMac6   = [6]byte{0x3c, 0x22, 0xfb, 0, 0, 6} // ... and its Ethernet
	hRouter = [6]byte{0x00, 0x00, 0x5e, 0, 1, 1}
	hServer = [6]byte{0x00, 0x00, 0x5e, 0, 0, 0x67} // the DHCP server
	hBcast  = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
)

// hostsInventory joins hMac5 and hMac6 as one device.
var hostsInventory = [][6]byte{hMac5, hMac6}

func ethFrom(src, dst [6]byte, ip []byte) []byte {
	b := make([]byte, 14, 14+len(ip))
	copy(b, dst[:])
	copy(b[6:], src[:])
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	return append(b, ip...)
}

func ttl4(ttl uint8, ip []byte) []byte {
	ip[8] = ttl
	return ip
}

// dhcpMsg is a DHCPv4 message from an Ethernet client (htype 1, hlen 6).
func dhcpMsg(op, typ byte, yiaddr, ciaddr string, chaddr [6]byte, opts ...byte) []byte {
	b := make([]byte, 240)
	b[0], b[1], b[2] = op, 1, 6
	copy(b[12:], netip.MustParseAddr(ciaddr).AsSlice())
	copy(b[16:], netip.MustParseAddr(yiaddr).AsSlice())
	copy(b[28:], chaddr[:])
	binary.BigEndian.PutUint32(b[236:], 0x63825363)
	b = append(b, 53, 1, typ)
	return append(append(b, opts...), 255)
}

func optHostname(n string) []byte { return append([]byte{12, byte(len(n))}, n...) }

func hostFrames() []capture.Frame {
	var out []capture.Frame
	ts := int64(1_700_000_000) * 1e9
	add := func(data []byte) {
		ts += 1e9
		out = append(out, capture.Frame{Data: data, WireLen: uint32(len(data)), LinkType: capture.LinkEthernet, TS: ts})
	}
	client := func(mac [6]byte, msg []byte) { // a client's broadcast before it has an address
		add(ethFrom(mac, hBcast, sip4("0.0.0.0", "255.255.255.255", udp, 0, udpDgram(68, 67, msg))))
	}
	server := func(yiaddr string, msg []byte) {
		add(ethFrom(hServer, hBcast, sip4("192.168.1.1", yiaddr, udp, 0, udpDgram(67, 68, msg))))
	}
	lease := func(mac [6]byte, a, name string) {
		var opts []byte
		if name != "" {
			opts = optHostname(name)
		}
		client(mac, dhcpMsg(1, 1, "0.0.0.0", "0.0.0.0", mac, opts...)) // DISCOVER: names no address
		server(a, dhcpMsg(2, 2, a, "0.0.0.0", mac))                    // OFFER
		client(mac, dhcpMsg(1, 3, "0.0.0.0", "0.0.0.0", mac, append(opts, opt50(a)...)...))
		server(a, dhcpMsg(2, 5, a, "0.0.0.0", mac)) // ACK
	}
	talk := func(mac [6]byte, ttl uint8, a string) { // a session's first packets both ways
		add(ethFrom(mac, hRouter, ttl4(ttl, sip4(a, "93.184.216.34", tcp, 0x4000, tcpSeg(50123, 443, 0)))))
		add(ethFrom(hRouter, mac, ttl4(57, sip4("93.184.216.34", a, tcp, 0x4000, tcpSeg(443, 50123, 0)))))
		add(ethFrom(mac, hRouter, ttl4(ttl, sip4(a, "93.184.216.34", tcp, 0x4000, tcpSeg(50123, 443, 100)))))
	}

	// A Mac leases 192.168.1.50 and talks.
	lease(hMac1, "192.168.1.50", "")
	talk(hMac1, 64, "192.168.1.50")
	// Its address goes to a Windows laptop; the Mac gets .51.
	server("192.168.1.50", dhcpMsg(2, 5, "192.168.1.50", "0.0.0.0", hMacWin))
	talk(hMacWin, 128, "192.168.1.50")
	lease(hMac1, "192.168.1.51", "")
	talk(hMac1, 64, "192.168.1.51")
	// An address first seen in traffic, with no lease seen.
	talk(hMac1, 64, "192.168.1.52")
	// A MacBook on Ethernet, then on its dock: one host by its DHCP hostname.
	lease(hMac3, "192.168.1.60", "bobs-macbook")
	talk(hMac3, 64, "192.168.1.60")
	lease(hMac4, "192.168.1.61", "bobs-macbook")
	talk(hMac4, 64, "192.168.1.61")
	add(ethFrom(hMac4, hServer, sip4("192.168.1.61", "192.168.1.1", udp, 0, udpDgram(68, 67,
		dhcpMsg(1, 3, "0.0.0.0", "192.168.1.61", hMac4, optHostname("bobs-macbook")...))))) // renewal
	// The inventory's device: its Ethernet MAC is its Wi-Fi's host.
	lease(hMac6, "192.168.1.70", "")
	talk(hMac6, 64, "192.168.1.70")
	// A router's MAC sending from many internal addresses at the initial
	// TTL (a NAT or a routed segment): a router, so each address is its
	// own host again.
	for i := 1; i <= 7; i++ {
		talk(hRouter, 64, "10.9.0."+string(rune('0'+i)))
	}
	talk(hRouter, 64, "10.9.0.2")
	// A release: the address is its own again.
	add(ethFrom(hMac1, hServer, sip4("192.168.1.51", "192.168.1.1", udp, 0, udpDgram(68, 67,
		dhcpMsg(1, 7, "0.0.0.0", "192.168.1.51", hMac1)))))
	talk(hMac1, 64, "192.168.1.51")
	return out
}

func TestShardMatchesFanoutHosts(t *testing.T) {
	o := fanout(t, defaultInternal)
	d := newDiffer(t, o, defaultInternal, hostsInventory)
	for i, f := range hostFrames() {
		d.frame("host frame "+string(rune('0'+i/10))+string(rune('0'+i%10)), &f)
	}
	d.done("hosts")
	if d.taught < 6 {
		t.Errorf("only %d frames moved their owner to another host: the cases do not test the hosts map", d.taught)
	}
	if st := d.own.binder.Stats(); st.Moved == 0 || st.Joins < 2 || st.Routers != 1 || st.Released != 1 {
		t.Errorf("binder stats %+v: want an address moved, a learned and an inventory join, a router, a release", st)
	}
}

// The kernel must be told: the same frames with the hosts map left empty
// differ wherever a host's MAC, not its address, owns a packet.
func TestShardFanoutUntoldDiffers(t *testing.T) {
	o := fanout(t, defaultInternal)
	d := newDiffer(t, o, defaultInternal, hostsInventory)
	d.push = nil
	for _, f := range hostFrames() {
		d.frame("untold", &f)
	}
	if d.mismatches == 0 {
		t.Error("the hosts frames agree with a kernel never told a binding: they test nothing")
	}
	t.Logf("kernel never told: %d of %d frames differ", d.mismatches, d.compared)
}

// The fanout before host identity (testdata/fanout-by-address.o, the
// object committed at c3d711c: it hashed the owner address and had no hosts
// map) fails the test: on the hosts frames and on a generated office with
// DHCP churn.
func TestShardFanoutByAddressFails(t *testing.T) {
	fanout(t, defaultInternal) // skips where eBPF cannot load
	spec, err := ebpf.LoadCollectionSpec("testdata/fanout-by-address.o")
	if err != nil {
		t.Fatal(err)
	}
	var old struct {
		Prog      *ebpf.Program `ebpf:"launchtap_fanout"`
		Internal4 *ebpf.Map     `ebpf:"internal4"`
		Internal6 *ebpf.Map     `ebpf:"internal6"`
	}
	if err := spec.LoadAndAssign(&old, nil); err != nil {
		t.Fatalf("loading the old fanout: %v", err)
	}
	defer old.Prog.Close()
	defer old.Internal4.Close()
	defer old.Internal6.Close()
	for _, p := range defaultInternal {
		var err error
		if p.Addr().Is4() {
			k := struct {
				Len  uint32
				Addr [4]byte
			}{uint32(p.Bits()), p.Addr().As4()}
			err = old.Internal4.Put(&k, uint8(1))
		} else {
			k := struct {
				Len  uint32
				Addr [16]byte
			}{uint32(p.Bits()), p.Addr().As16()}
			err = old.Internal6.Put(&k, uint8(1))
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	// It is the old rule: the owner address's hash, frame by frame.
	var dec decode.Decoder
	var pkt decode.Packet
	internal := netset.New(defaultInternal)
	for i, f := range hostFrames() {
		if k := dec.Decode(&f, &pkt); k != decode.OK && !hasIP(k) {
			continue
		}
		got, err := old.Prog.Run(&ebpf.RunOptions{Data: f.Data, Context: skbCtx{}})
		if err != nil {
			t.Fatal(err)
		}
		if want := shardHash(&pkt, internal); got != want {
			t.Fatalf("frame %d: the old fanout returns %#x, not the owner address's hash %#x: not the old program", i, got, want)
		}
	}

	d := newBinderDiffer(t, old.Prog, defaultInternal, hostsInventory)
	for _, f := range hostFrames() {
		d.frame("old", &f)
	}
	if d.mismatches == 0 {
		t.Error("the fanout by address passes the hosts frames")
	}
	t.Logf("hosts frames: the fanout by address differs on %d of %d", d.mismatches, d.compared)

	var c collect
	if _, _, err := synth.GenerateWith("hosts-mix", 1, &c, synth.Options{Packets: 40000}); err != nil {
		t.Fatal(err)
	}
	d = newBinderDiffer(t, old.Prog, defaultInternal)
	for i := range c.frames {
		d.frame("old hosts-mix", &c.frames[i])
	}
	if d.mismatches == 0 {
		t.Error("the fanout by address passes the hosts-mix scenario")
	}
	t.Logf("hosts-mix: the fanout by address differs on %d of %d", d.mismatches, d.compared)
}
