package bpf

import (
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/launchtap/launchtap/sensor/host"
	"github.com/launchtap/launchtap/sensor/shard"
)

// dhcpFrame is a DHCPv4 message from the server to the client port with
// the given hardware type, length and address, naming yiaddr.
func dhcpFrame(t testing.TB, htype, hlen byte, chaddr [6]byte, yiaddr string) []byte {
	t.Helper()
	msg := make([]byte, 240, 244)
	msg[0], msg[1], msg[2] = 2, htype, hlen
	copy(msg[16:], netip.MustParseAddr(yiaddr).AsSlice())
	copy(msg[28:], chaddr[:])
	msg[236], msg[237], msg[238], msg[239] = 0x63, 0x82, 0x53, 0x63
	msg = append(msg, 53, 1, 5, 255)
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP,
		SrcIP: net.IP{10, 0, 0, 1}, DstIP: net.IP(netip.MustParseAddr(yiaddr).AsSlice())}
	u := &layers.UDP{SrcPort: 67, DstPort: 68}
	u.SetNetworkLayerForChecksum(ip)
	return serialize(t, &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4},
		ip, u, gopacket.Payload(msg))
}

// The fanout reads the hosts map the way sensor/pipeline's binders
// resolve: a DHCP message by its client's MAC, anything else by its owner
// address, each through the map when it holds an entry.
func TestFanoutHostsMap(t *testing.T) {
	o := load(t, Options{})
	h := o.Hosts()
	mac := [6]byte{0x3c, 0x22, 0xfb, 1, 2, 3}
	canon := [6]byte{0x3c, 0x22, 0xfb, 9, 9, 9}
	addr := netip.MustParseAddr("10.0.0.44")
	macHash, canonHash := shard.HashKey(host.MACKey(mac)), shard.HashKey(host.MACKey(canon))
	egress := pkt{src: addr.String(), dst: "93.184.216.34", sport: 50000, dport: 443, flags: "S"}.bytes(t)
	ingress := pkt{src: "93.184.216.34", dst: addr.String(), sport: 443, dport: 50000, flags: "SA"}.bytes(t)
	ack := dhcpFrame(t, 1, 6, mac, addr.String())
	put := func(k [16]byte, v uint32) {
		t.Helper()
		if n, err := h.Update([][16]byte{k}, []uint32{v}); n != 1 || err != nil {
			t.Fatalf("Update = %d, %v", n, err)
		}
	}
	check := func(step string, frame []byte, want uint32) {
		t.Helper()
		if got := run(t, o.Fanout(), frame); got != want {
			t.Errorf("%s: kernel %#x, want %#x", step, got, want)
		}
	}

	check("unbound address", egress, shard.Hash(addr))
	check("unbound address, reply", ingress, shard.Hash(addr))
	check("dhcp ack: the client's MAC", ack, macHash)

	put(shard.MapKey(addr, [6]byte{}), macHash)
	check("bound address", egress, macHash)
	check("bound address, reply", ingress, macHash)

	put(shard.MapKey(netip.Addr{}, mac), canonHash)
	check("dhcp ack of a MAC joined to another host", ack, canonHash)

	if err := h.Delete([][16]byte{shard.MapKey(addr, [6]byte{}), shard.MapKey(netip.Addr{}, mac)}); err != nil {
		t.Fatal(err)
	}
	check("address released", egress, shard.Hash(addr))
	check("join ended", ack, macHash)
	if err := h.Delete([][16]byte{shard.MapKey(addr, [6]byte{})}); err != nil {
		t.Errorf("deleting an absent key: %v", err)
	}

	// Messages whose chaddr names no Ethernet host keep the address rule,
	// and that address goes through the map like any owner.
	put(shard.MapKey(addr, [6]byte{}), 7)
	for _, c := range []struct {
		name        string
		htype, hlen byte
		chaddr      [6]byte
	}{
		{"token ring chaddr", 6, 6, mac},
		{"eight-byte chaddr", 1, 8, mac},
		{"zero chaddr", 1, 6, [6]byte{}},
		{"group chaddr", 1, 6, [6]byte{0x01, 0, 0x5e, 0, 0, 1}},
	} {
		check(c.name, dhcpFrame(t, c.htype, c.hlen, c.chaddr, addr.String()), 7)
	}

	st := h.Stats()
	if st.Updates != 3 || st.Deletes != 3 || st.Failures != 0 {
		t.Errorf("stats %+v: want 3 updates, 3 deletes, no failure", st)
	}
	if !st.Batched {
		t.Logf("BPF_MAP_UPDATE_BATCH unavailable here: updates went one by one")
	}
}

// A batch larger than one call's chunk is written whole, and the map holds
// what was written.
func TestHostsUpdateBatch(t *testing.T) {
	o := load(t, Options{})
	h := o.Hosts()
	const n = hostsChunk + 100
	keys := make([][16]byte, n)
	vals := make([]uint32, n)
	for i := range keys {
		keys[i] = netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}).As16()
		vals[i] = uint32(i) * 7
	}
	if w, err := h.Update(keys, vals); w != n || err != nil {
		t.Fatalf("Update = %d, %v; want %d", w, err, n)
	}
	for _, i := range []int{0, hostsChunk - 1, hostsChunk, n - 1} {
		if v, ok, err := h.Lookup(keys[i]); !ok || err != nil || v != vals[i] {
			t.Errorf("key %d: %d, %v, %v; want %d", i, v, ok, err, vals[i])
		}
	}
	if st := h.Stats(); st.Batched && st.Syscalls != 2 {
		t.Errorf("%d syscalls for %d entries in batches of %d", st.Syscalls, n, hostsChunk)
	}
	if _, err := h.Update(keys[:1], vals[:2]); err == nil {
		t.Error("Update with mismatched lengths: no error")
	}
	if err := h.Clear(); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := h.Lookup(keys[0]); ok {
		t.Error("Clear left an entry")
	}
}
