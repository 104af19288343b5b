package main

import (
	"encoding/hex"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/miekg/dns"
)

// learnWire builds the captures of the restart tests below: IPv4 or IPv6,
// the host's frames from its own MAC, the rest from the gateway's.
type learnWire struct {
	t      *testing.T
	frames []timedFrame
	port   uint16
}

var (
	learnT0     = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	learnHost   = net.HardwareAddr{0x3c, 0x22, 0xfb, 0, 0, 0x42}
	learnRouter = net.HardwareAddr{0x00, 0x1c, 0x73, 0, 0, 0xfe}
)

func (w *learnWire) add(at time.Duration, fromHost bool, src, dst netip.Addr, l4 gopacket.SerializableLayer, payload []byte) {
	w.t.Helper()
	eth := &layers.Ethernet{SrcMAC: learnHost, DstMAC: learnRouter, EthernetType: layers.EthernetTypeIPv4}
	if !fromHost {
		eth.SrcMAC, eth.DstMAC = learnRouter, learnHost
	}
	proto := layers.IPProtocolICMPv6
	switch l4.(type) {
	case *layers.TCP:
		proto = layers.IPProtocolTCP
	case *layers.UDP:
		proto = layers.IPProtocolUDP
	}
	var ip gopacket.NetworkLayer
	if src.Is4() {
		ip = &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: src.AsSlice(), DstIP: dst.AsSlice(), Flags: layers.IPv4DontFragment}
	} else {
		eth.EthernetType = layers.EthernetTypeIPv6
		ip = &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
	}
	switch l := l4.(type) {
	case *layers.TCP:
		l.SetNetworkLayerForChecksum(ip)
	case *layers.UDP:
		l.SetNetworkLayerForChecksum(ip)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip.(gopacket.SerializableLayer), l4, gopacket.Payload(payload)); err != nil {
		w.t.Fatal(err)
	}
	w.frames = append(w.frames, timedFrame{at, append([]byte(nil), buf.Bytes()...)})
}

// session is a TCP session whose SYN is macOS's (the p0f database names it).
func (w *learnWire) session(at time.Duration, c, s netip.Addr) {
	w.port++
	ms := time.Millisecond
	cp, sp := layers.TCPPort(50000+w.port), layers.TCPPort(443)
	opts := []layers.TCPOption{
		{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}},
		{OptionType: layers.TCPOptionKindNop},
		{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{6}},
		{OptionType: layers.TCPOptionKindNop}, {OptionType: layers.TCPOptionKindNop},
		{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: []byte{0, 0, 0x12, 0x34, 0, 0, 0, 0}},
		{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2},
		{OptionType: layers.TCPOptionKindEndList},
	}
	w.add(at, true, c, s, &layers.TCP{SrcPort: cp, DstPort: sp, SYN: true, ECE: true, CWR: true, Window: 65535, Seq: 1000, Options: opts}, nil)
	w.add(at+5*ms, false, s, c, &layers.TCP{SrcPort: sp, DstPort: cp, SYN: true, ACK: true, Window: 65535, Seq: 5000, Ack: 1001}, nil)
	w.add(at+6*ms, true, c, s, &layers.TCP{SrcPort: cp, DstPort: sp, ACK: true, Window: 2048, Seq: 1001, Ack: 5001}, nil)
	w.add(at+7*ms, true, c, s, &layers.TCP{SrcPort: cp, DstPort: sp, ACK: true, PSH: true, Window: 2048, Seq: 1001, Ack: 5001}, make([]byte, 300))
	w.add(at+12*ms, false, s, c, &layers.TCP{SrcPort: sp, DstPort: cp, ACK: true, Window: 500, Seq: 5001, Ack: 1301}, make([]byte, 900))
	w.add(at+20*ms, true, c, s, &layers.TCP{SrcPort: cp, DstPort: sp, ACK: true, FIN: true, Window: 2048, Seq: 1301, Ack: 5901}, nil)
	w.add(at+23*ms, false, s, c, &layers.TCP{SrcPort: sp, DstPort: cp, ACK: true, FIN: true, Window: 500, Seq: 5901, Ack: 1302}, nil)
	w.add(at+24*ms, true, c, s, &layers.TCP{SrcPort: cp, DstPort: sp, ACK: true, Window: 2048, Seq: 1302, Ack: 5902}, nil)
}

// exchange is a UDP request and reply: no SYN, so no OS evidence.
func (w *learnWire) exchange(at time.Duration, c, s netip.Addr) {
	w.port++
	cp := layers.UDPPort(50000 + w.port)
	w.add(at, true, c, s, &layers.UDP{SrcPort: cp, DstPort: 4500}, make([]byte, 200))
	w.add(at+8*time.Millisecond, false, s, c, &layers.UDP{SrcPort: 4500, DstPort: cp}, make([]byte, 120))
}

// lookup is a DNS query and its answer with the given TTL.
func (w *learnWire) lookup(at time.Duration, c, resolver netip.Addr, name string, a netip.Addr, ttl uint32) {
	w.port++
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), dns.TypeA)
	qb, _ := q.Pack()
	r := new(dns.Msg)
	r.SetReply(q)
	r.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: dns.Fqdn(name), Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl}, A: a.AsSlice()}}
	rb, _ := r.Pack()
	cp := layers.UDPPort(40000 + w.port)
	w.add(at, true, c, resolver, &layers.UDP{SrcPort: cp, DstPort: 53}, qb)
	w.add(at+2*time.Millisecond, false, resolver, c, &layers.UDP{SrcPort: 53, DstPort: cp}, rb)
}

// routerAdvert announces 2001:db8:aa:1::/64 (autonomous, on-link).
func (w *learnWire) routerAdvert(at time.Duration) {
	ra, _ := hex.DecodeString("86000000400007080000000000000000" +
		"0304" + "40c0" + "00278d00" + "00093a80" + "00000000" + "20010db800aa00010000000000000000")
	w.add(at, false, netip.MustParseAddr("fe80::1"), netip.MustParseAddr("ff02::1"), gopacket.Payload(ra), nil)
}

// write writes the frames before split (capture time) to a.pcap, the rest
// to b.pcap, and all of them to whole.pcap.
func (w *learnWire) write(split time.Duration) (whole, a, b string) {
	w.t.Helper()
	slices.SortStableFunc(w.frames, func(x, y timedFrame) int { return int(x.at - y.at) })
	dir := w.t.TempDir()
	whole, a, b = filepath.Join(dir, "whole.pcap"), filepath.Join(dir, "a.pcap"), filepath.Join(dir, "b.pcap")
	var ws [3]*pcapgo.Writer
	for i, p := range []string{whole, a, b} {
		f, err := os.Create(p)
		if err != nil {
			w.t.Fatal(err)
		}
		w.t.Cleanup(func() { f.Close() })
		ws[i] = pcapgo.NewWriter(f)
		if err := ws[i].WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
			w.t.Fatal(err)
		}
	}
	for _, fr := range w.frames {
		ci := gopacket.CaptureInfo{Timestamp: learnT0.Add(fr.at), CaptureLength: len(fr.data), Length: len(fr.data)}
		half := ws[1]
		if fr.at >= split {
			half = ws[2]
		}
		for _, x := range []*pcapgo.Writer{ws[0], half} {
			if err := x.WritePacket(ci, fr.data); err != nil {
				w.t.Fatal(err)
			}
		}
	}
	return whole, a, b
}

// learnedAlert is what must not change across a restart.
type learnedAlert struct {
	ID, Src, Dst, OS string
	Beats            int
}

func learnedAlerts(t *testing.T, jsonl string) []learnedAlert {
	t.Helper()
	var out []learnedAlert
	for _, a := range readAlerts(t, jsonl) {
		dst := a.DstFQDN
		if dst == "" && len(a.DstIPs) > 0 {
			dst = a.DstIPs[len(a.DstIPs)-1]
		}
		out = append(out, learnedAlert{a.ID, a.SrcIP, dst, a.HostOS, a.Beats})
	}
	slices.SortFunc(out, func(a, b learnedAlert) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// TestRestartKeepsLearned splits captures whose second half depends on what
// only the first half taught the sensor — an internal IPv6 prefix from a
// router advertisement, a Mac identified by its SYNs, a name from a DNS
// answer — and replays the halves in two runs sharing --state-dir: the
// alerts (ids, destinations, host_os) must be those of one run over the
// whole capture, which must alert as the scenario says. Each scenario
// fails when its restore is left out.
func TestRestartKeepsLearned(t *testing.T) {
	const beat = 5 * time.Minute
	for _, sc := range []struct {
		name  string
		build func(w *learnWire)
		split time.Duration
		want  learnedAlert // of the whole run (ID not compared here; OS only when set)
	}{{
		// The host's prefix is announced once, before the restart; after it
		// the host beacons from that prefix.
		name: "router advertisement",
		build: func(w *learnWire) {
			w.routerAdvert(-time.Minute)
			host, dst := netip.MustParseAddr("2001:db8:aa:1::15"), netip.MustParseAddr("2001:db8:ffff::10")
			for i := range 14 {
				w.session(time.Duration(i)*beat, host, dst)
			}
		},
		split: 12 * time.Minute,
		// host_os not checked: hostid judges only the configured networks
		// internal until it reads the pipeline's netset.Set.
		want: learnedAlert{Src: "2001:db8:aa:1::15", Dst: "2001:db8:ffff::10", Beats: 5},
	}, {
		// The Mac's SYNs (Darwin) and its lookup of macOS's time server
		// (a Mac, not an iPhone) are all before the restart; its beacon is
		// UDP, which says nothing of the OS.
		name: "host identified by SYN",
		build: func(w *learnWire) {
			host, dst := netip.MustParseAddr("10.9.0.15"), netip.MustParseAddr("198.51.100.9")
			w.lookup(30*time.Second, host, netip.MustParseAddr("10.9.0.53"), "time-macos.apple.com", netip.MustParseAddr("17.253.4.125"), 300)
			for i, m := range []time.Duration{1, 4, 9} {
				w.session(m*time.Minute+time.Duration(i)*time.Second, host, netip.MustParseAddr("192.0.2.80"))
			}
			for i := range 14 {
				w.exchange(time.Duration(i)*beat, host, dst)
			}
		},
		split: 12 * time.Minute,
		want:  learnedAlert{Src: "10.9.0.15", Dst: "198.51.100.9", OS: "macos", Beats: 5},
	}, {
		// The name is resolved once, before the restart, with an hour's
		// TTL; the sessions after it are to the address it answered.
		name: "DNS answer",
		build: func(w *learnWire) {
			host, dst := netip.MustParseAddr("10.9.0.15"), netip.MustParseAddr("203.0.113.50")
			w.lookup(-time.Second, host, netip.MustParseAddr("10.9.0.53"), "updates.example.net", dst, 3600)
			for i := range 12 {
				w.session(time.Duration(i)*beat, host, dst)
			}
		},
		split: 12 * time.Minute,
		want:  learnedAlert{Src: "10.9.0.15", Dst: "updates.example.net", Beats: 5},
	}} {
		// The second run may have another worker count: what is restored
		// goes to the worker that owns it now.
		for _, workers := range [][2]string{{"1", "1"}, {"3", "3"}, {"1", "3"}} {
			t.Run(sc.name+"/workers="+workers[0]+"→"+workers[1], func(t *testing.T) {
				w := &learnWire{t: t}
				sc.build(w)
				whole, a, b := w.write(sc.split)
				args := []string{"replay", "--sensor-name", "t", "--os", "any", "--stats-interval", "0", "--workers"}
				code, out, stderr := replay(t, nil, append(slices.Clone(args), workers[1], "--state-dir", t.TempDir(), whole)...)
				if code != 0 {
					t.Fatalf("whole: exit %d\n%s", code, stderr)
				}
				want := learnedAlerts(t, out)
				if len(want) != 1 || want[0].Src != sc.want.Src || want[0].Dst != sc.want.Dst || sc.want.OS != "" && want[0].OS != sc.want.OS || want[0].Beats != sc.want.Beats {
					t.Fatalf("one run alerted %+v, want one alert like %+v\n%s", want, sc.want, out)
				}
				sd := t.TempDir()
				code, out1, err1 := replay(t, nil, append(slices.Clone(args), workers[0], "--state-dir", sd, a)...)
				if code != 0 {
					t.Fatalf("first half: exit %d\n%s", code, err1)
				}
				code, out2, err2 := replay(t, nil, append(slices.Clone(args), workers[1], "--state-dir", sd, b)...)
				if code != 0 {
					t.Fatalf("second half: exit %d\n%s", code, err2)
				}
				if got := learnedAlerts(t, out1+out2); !slices.Equal(got, want) {
					t.Errorf("two runs alerted\n %+v\none run\n %+v", got, want)
				}
			})
		}
	}
}
