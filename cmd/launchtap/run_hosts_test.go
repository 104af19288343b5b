package main

import (
	"encoding/binary"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/launchtap/launchtap/internal/livetest"
	"github.com/launchtap/launchtap/sensor/host"
	"github.com/launchtap/launchtap/sensor/shard"
)

// hostAlert is what the host-identity test reads of an alert.
type hostAlert struct {
	HostID  string   `json:"host_id"`
	SrcIP   string   `json:"src_ip"`
	SrcIPs  []string `json:"src_ips"`
	DstFQDN string   `json:"dst_fqdn"`
	Beats   int      `json:"beats"`
}

func hostAlerts(t *testing.T, jsonl string) []hostAlert {
	t.Helper()
	return jsonLines[hostAlert](t, jsonl)
}

// readdressAddrs picks the Mac's two addresses: the first on the worker its
// MAC hashes to, the second on the other one of two, so that steering by
// address would split the Mac's beats across the workers.
func readdressAddrs(mac [6]byte) (first, second netip.Addr) {
	macWorker := shard.Worker(shard.HashKey(host.MACKey(mac)), 2)
	for i := 20; i < 250; i++ {
		a := netip.AddrFrom4([4]byte{10, 9, 0, byte(i)})
		switch w := shard.Worker(shard.Hash(a), 2); {
		case w == macWorker && !first.IsValid():
			first = a
		case w != macWorker && !second.IsValid():
			second = a
		}
	}
	return first, second
}

// writeReaddressCapture writes 32 s of a Mac beaconing to c2.example.net
// every 2 s, that the DHCP server re-addresses after three beats: an ACK with the new
// address for its MAC, then the same beacon from there.
func writeReaddressCapture(path string, first, second netip.Addr) error {
	return writeFrames(path, 3, 4, func(g *frameGen) error {
		move := 5 * time.Second // three beats from the first address: too few to alert alone
		ack := func(at time.Duration, yiaddr netip.Addr) {
			msg := make([]byte, 240, 260)
			msg[0], msg[1], msg[2] = 2, 1, 6
			copy(msg[16:], yiaddr.AsSlice())
			copy(msg[28:], macSensorHost)
			binary.BigEndian.PutUint32(msg[236:], 0x63825363)
			msg = append(msg, 53, 1, 5, 51, 4, 0, 0, 0x0e, 0x10, 255)
			g.add(at, resolverIP, net.IP(yiaddr.AsSlice()), &layers.UDP{SrcPort: 67, DstPort: 68}, msg)
		}
		ack(0, first)
		ack(move, second)
		for i := range 16 {
			at := time.Second/2 + time.Duration(i)*2*time.Second + time.Duration(g.rnd.IntN(40))*time.Millisecond
			from := first
			if at > move {
				from = second
			}
			c := net.IP(from.AsSlice())
			g.lookup(at, c, "c2.example.net", net.IPv4(203, 0, 113, 50))
			g.session(at+20*time.Millisecond, c, net.IPv4(203, 0, 113, 50), uint16(50000+i), 443, make([]byte, 300), 900)
		}
		return nil
	})
}

// TestRunReaddressedMacOneAlert: a Mac re-addressed by DHCP while it
// beacons, captured live with two workers whose fanout would split its two
// addresses, alerts once with one host_id — its MAC — naming both
// addresses, exactly as replay of the same frames does. The DHCP ACK
// reaches the MAC's worker (the fanout steers DHCP by the client's MAC), the
// binding it teaches reaches the kernel's hosts map, and the new address's
// traffic follows the MAC.
func TestRunReaddressedMacOneAlert(t *testing.T) {
	livetest.Require(t, "tcpreplay")
	dir := t.TempDir()
	pcap := filepath.Join(dir, "readdress.pcap")
	mac := [6]byte(macSensorHost)
	first, second := readdressAddrs(mac)
	if !first.IsValid() || !second.IsValid() {
		t.Fatal("no addresses on both workers")
	}
	if err := writeReaddressCapture(pcap, first, second); err != nil {
		t.Fatal(err)
	}
	check := func(who string, alerts []hostAlert) {
		t.Helper()
		if len(alerts) != 1 {
			t.Fatalf("%s: %d alerts, want one: %+v", who, len(alerts), alerts)
		}
		a := alerts[0]
		if a.HostID != host.MACString(mac) || a.DstFQDN != "c2.example.net" || a.SrcIP != second.String() ||
			!slices.Contains(a.SrcIPs, first.String()) || !slices.Contains(a.SrcIPs, second.String()) {
			t.Errorf("%s: alert %+v; want host_id %s, both addresses %s and %s, the latest as src_ip",
				who, a, host.MACString(mac), first, second)
		}
	}
	code, want, stderr := replay(t, nil, append(append([]string{"replay", "--workers", "2"}, fastBeacon...), pcap)...)
	if code != 0 {
		t.Fatalf("replay: exit %d\n%s", code, stderr)
	}
	replayed := hostAlerts(t, want)
	check("replay", replayed)

	v := livetest.NewVeth(t)
	summary := filepath.Join(dir, "run.json")
	args := append([]string{"run", "-i", v.Host, "--workers", "2", "--summary", summary,
		"--state-dir", t.TempDir()}, fastBeacon...)
	out, runErr := runLive(t, v, pcap, args)
	live := hostAlerts(t, out)
	check("run", live)
	if len(live) == 1 && len(replayed) == 1 && live[0].HostID != replayed[0].HostID {
		t.Errorf("run host_id %s, replay %s", live[0].HostID, replayed[0].HostID)
	}
	if t.Failed() {
		t.Logf("run stderr:\n%s", runErr)
	}
}

// dockMAC is the dock's Ethernet MAC of the Mac at macSensorHost: one on
// the other of two workers, so that the two MACs' DHCP requests (steered by
// MAC) reach different workers.
func dockMAC() [6]byte {
	mac := [6]byte(macSensorHost)
	macWorker := shard.Worker(shard.HashKey(host.MACKey(mac)), 2)
	for i := 2; i < 256; i++ {
		d := [6]byte{0x3c, 0x22, 0xfb, 0x99, 0, byte(i)}
		if shard.Worker(shard.HashKey(host.MACKey(d)), 2) != macWorker {
			return d
		}
	}
	return [6]byte{}
}

// writeDockCapture writes 32 s of a Mac beaconing every 2 s from its
// Wi-Fi (three beats), then docked: the dock's MAC requests a lease under
// the same DHCP hostname, and the beacon goes on from the dock's address.
func writeDockCapture(path string, wifiAddr, dockAddr netip.Addr, dock [6]byte) error {
	return writeFrames(path, 5, 6, func(g *frameGen) error {
		// fromDock moves the frames added since n from the Wi-Fi MAC to the dock's.
		fromDock := func(n int) {
			for _, fr := range g.frames[n:] {
				if net.HardwareAddr(fr.data[6:12]).String() == macSensorHost.String() {
					copy(fr.data[6:12], dock[:])
				}
				if net.HardwareAddr(fr.data[0:6]).String() == macSensorHost.String() {
					copy(fr.data[0:6], dock[:])
				}
			}
		}
		dhcp := func(at time.Duration, op, typ byte, chaddr [6]byte, yiaddr netip.Addr) {
			msg := make([]byte, 240, 280)
			msg[0], msg[1], msg[2] = op, 1, 6
			copy(msg[16:], yiaddr.AsSlice())
			copy(msg[28:], chaddr[:])
			binary.BigEndian.PutUint32(msg[236:], 0x63825363)
			msg = append(msg, 53, 1, typ)
			if op == 1 {
				msg = append(append(msg, 12, 9), "annas-mbp"...)
			}
			msg = append(msg, 255)
			if op == 1 {
				g.add(at, net.IPv4zero, net.IPv4bcast, &layers.UDP{SrcPort: 68, DstPort: 67}, msg)
				// A client broadcasts its request from its own MAC (the sensor
				// learns nothing from one whose chaddr is not the sender).
				fr := g.frames[len(g.frames)-1].data
				copy(fr[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
				copy(fr[6:12], chaddr[:])
				return
			}
			g.add(at, resolverIP, net.IP(yiaddr.AsSlice()), &layers.UDP{SrcPort: 67, DstPort: 68}, msg)
		}
		wifi := [6]byte(macSensorHost)
		dock0 := 5 * time.Second
		dhcp(0, 1, 3, wifi, netip.IPv4Unspecified())
		dhcp(2*time.Millisecond, 2, 5, wifi, wifiAddr)
		n := len(g.frames)
		dhcp(dock0, 1, 3, dock, netip.IPv4Unspecified())
		fromDock(n)
		dhcp(dock0+2*time.Millisecond, 2, 5, dock, dockAddr)
		for i := range 16 {
			at := time.Second/2 + time.Duration(i)*2*time.Second + time.Duration(g.rnd.IntN(40))*time.Millisecond
			from := wifiAddr
			if at > dock0 {
				from = dockAddr
			}
			n := len(g.frames)
			c := net.IP(from.AsSlice())
			g.lookup(at, c, "c2.example.net", net.IPv4(203, 0, 113, 50))
			g.session(at+20*time.Millisecond, c, net.IPv4(203, 0, 113, 50), uint16(50000+i), 443, make([]byte, 300), 900)
			if from == dockAddr {
				fromDock(n)
			}
		}
		return nil
	})
}

// TestRunDockedMacOneAlert: a Mac that docks while it beacons — its Wi-Fi
// MAC and the dock's announce one DHCP hostname, their requests reach the
// two workers — alerts once with the Wi-Fi MAC's host_id and both MACs,
// exactly as replay does: the workers' binders hear both announcements in
// one order and join the MACs alike.
func TestRunDockedMacOneAlert(t *testing.T) {
	livetest.Require(t, "tcpreplay")
	dir := t.TempDir()
	pcap := filepath.Join(dir, "dock.pcap")
	wifi, dock := [6]byte(macSensorHost), dockMAC()
	first, second := readdressAddrs(wifi)
	if err := writeDockCapture(pcap, first, second, dock); err != nil {
		t.Fatal(err)
	}
	type macAlert struct {
		HostID  string   `json:"host_id"`
		SrcMACs []string `json:"src_macs"`
		DstFQDN string   `json:"dst_fqdn"`
	}
	parse := func(who, jsonl string) []macAlert {
		out := jsonLines[macAlert](t, jsonl)
		if len(out) != 1 || out[0].HostID != host.MACString(wifi) || out[0].DstFQDN != "c2.example.net" ||
			!slices.Contains(out[0].SrcMACs, host.MACString(wifi)) || !slices.Contains(out[0].SrcMACs, host.MACString(dock)) {
			t.Errorf("%s: alerts %+v; want one, host_id %s, src_macs both %s and %s", who, out, host.MACString(wifi), host.MACString(wifi), host.MACString(dock))
		}
		return out
	}
	code, want, stderr := replay(t, nil, append(append([]string{"replay", "--workers", "2"}, fastBeacon...), pcap)...)
	if code != 0 {
		t.Fatalf("replay: exit %d\n%s", code, stderr)
	}
	parse("replay", want)

	v := livetest.NewVeth(t)
	args := append([]string{"run", "-i", v.Host, "--workers", "2", "--state-dir", t.TempDir()}, fastBeacon...)
	out, runErr := runLive(t, v, pcap, args)
	parse("run", out)
	if t.Failed() {
		t.Logf("run stderr:\n%s", runErr)
	}
}
