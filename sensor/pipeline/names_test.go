package pipeline

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/launchtap/launchtap/internal/tlstest"
	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/capture"
	"github.com/launchtap/launchtap/sensor/decode"
	"github.com/launchtap/launchtap/sensor/flow"
	"github.com/launchtap/launchtap/sensor/names"
)

// wire builds a capture of Ethernet frames, in time order, for the naming
// situations: TLS and QUIC sessions named only by their SNI, encrypted DNS,
// explicit proxies, router advertisements.
type wire struct {
	t      *testing.T
	frames []capture.Frame
	port   uint16
	syn    []layers.TCPOption // options of tcp's client SYN; none: a bare SYN
}

// darwinSYN are the options of a macOS SYN over IPv6 (MSS 1440, window
// scale 6, timestamps, SACK permitted), what p0f matches as macOS.
var darwinSYN = []layers.TCPOption{
	{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xa0}},
	{OptionType: layers.TCPOptionKindNop},
	{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{6}},
	{OptionType: layers.TCPOptionKindNop}, {OptionType: layers.TCPOptionKindNop},
	{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: []byte{0, 0, 0, 1, 0, 0, 0, 0}},
	{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2},
	{OptionType: layers.TCPOptionKindEndList},
}

var (
	macHost   = net.HardwareAddr{0x3c, 0x22, 0xfb, 0, 0, 1}
	macRouter = net.HardwareAddr{0x00, 0x11, 0x22, 0, 0, 0xfe}
)

func (w *wire) add(ts time.Time, src, dst netip.Addr, l4 gopacket.SerializableLayer, payload []byte) {
	w.t.Helper()
	eth := &layers.Ethernet{SrcMAC: macHost, DstMAC: macRouter, EthernetType: layers.EthernetTypeIPv4}
	if fromHost := internal.Contains(src) || strings.HasPrefix(src.String(), "2001:db8:aa:"); !fromHost {
		eth.SrcMAC, eth.DstMAC = macRouter, macHost
	}
	var ip gopacket.NetworkLayer
	var proto layers.IPProtocol
	switch l4.(type) {
	case *layers.TCP:
		proto = layers.IPProtocolTCP
	case *layers.UDP:
		proto = layers.IPProtocolUDP
	default:
		proto = layers.IPProtocolICMPv6
	}
	if src.Is4() {
		ip = &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
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
	ls := []gopacket.SerializableLayer{eth, ip.(gopacket.SerializableLayer), l4}
	if payload != nil {
		ls = append(ls, gopacket.Payload(payload))
	}
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		w.t.Fatal(err)
	}
	data := append([]byte(nil), buf.Bytes()...)
	w.frames = append(w.frames, capture.Frame{Data: data, TS: ts.UnixNano(), WireLen: uint32(len(data)), LinkType: capture.LinkEthernet})
}

// tcp is one TCP session: handshake, the client's first flight (cut into
// 1448-byte segments), a reply, and a close.
func (w *wire) tcp(ts time.Time, c, s netip.Addr, dport uint16, first []byte) {
	w.port++
	sp := 40000 + w.port%20000
	ms := time.Millisecond
	w.add(ts, c, s, &layers.TCP{SrcPort: layers.TCPPort(sp), DstPort: layers.TCPPort(dport), SYN: true, Window: 65535, Seq: 999, Options: w.syn}, nil)
	w.add(ts.Add(20*ms), s, c, &layers.TCP{SrcPort: layers.TCPPort(dport), DstPort: layers.TCPPort(sp), SYN: true, ACK: true}, nil)
	w.add(ts.Add(21*ms), c, s, &layers.TCP{SrcPort: layers.TCPPort(sp), DstPort: layers.TCPPort(dport), ACK: true}, nil)
	at := ts.Add(22 * ms)
	seq := uint32(1000)
	for len(first) > 0 {
		n := min(len(first), 1448)
		w.add(at, c, s, &layers.TCP{SrcPort: layers.TCPPort(sp), DstPort: layers.TCPPort(dport), Seq: seq, ACK: true, PSH: true}, first[:n])
		first = first[n:]
		seq += uint32(n)
		at = at.Add(ms)
	}
	w.add(ts.Add(60*ms), s, c, &layers.TCP{SrcPort: layers.TCPPort(dport), DstPort: layers.TCPPort(sp), ACK: true, PSH: true}, make([]byte, 3000))
	w.add(ts.Add(90*ms), c, s, &layers.TCP{SrcPort: layers.TCPPort(sp), DstPort: layers.TCPPort(dport), ACK: true, FIN: true}, nil)
	w.add(ts.Add(110*ms), s, c, &layers.TCP{SrcPort: layers.TCPPort(dport), DstPort: layers.TCPPort(sp), ACK: true, FIN: true}, nil)
}

func (w *wire) udp(ts time.Time, c, s netip.Addr, dport uint16, payload []byte) {
	w.port++
	sp := 40000 + w.port%20000
	w.add(ts, c, s, &layers.UDP{SrcPort: layers.UDPPort(sp), DstPort: layers.UDPPort(dport)}, payload)
}

// source delivers the frames sorted by time.
func (w *wire) source() capture.Source {
	sort.SliceStable(w.frames, func(i, j int) bool { return w.frames[i].TS < w.frames[j].TS })
	return &wireSource{frames: w.frames}
}

type wireSource struct {
	frames []capture.Frame
	i      int
}

func (s *wireSource) Next(f *capture.Frame) error {
	if s.i >= len(s.frames) {
		return io.EOF
	}
	*f = s.frames[s.i]
	s.i++
	return nil
}

func (s *wireSource) Close() error { return nil }

// clientHello is the first flight of Go's TLS client naming sni (tlstest).
func clientHello(t *testing.T, sni string) []byte {
	t.Helper()
	return tlstest.MustClientHello(t, sni)
}

// replayNames runs a capture through a pipeline with workers workers and
// returns its alerts.
func replayNames(t *testing.T, w *wire, workers int, edit func(*Config)) ([]*alert.Alert, *Pipeline) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Workers = workers
	cfg.OS = "any"
	cfg.Log = slog.New(slog.DiscardHandler)
	if edit != nil {
		edit(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var (
		got []*alert.Alert
		wg  sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for a := range p.Alerts() {
			got = append(got, a)
		}
	}()
	if err := p.Replay(context.Background(), w.source()); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	return got, p
}

func at(minutes float64) time.Time {
	return time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC).Add(time.Duration(minutes * float64(time.Minute)))
}

// A host that resolves over DoH (no port-53 lookups on the wire) beacons
// every 180 s to a CDN name rotating over 5 addresses: one alert, named by
// the SNI; its periodic DoH connections are no beacon, and the host is
// listed as a DNS blind spot.
func TestDoHAndSNIBeacon(t *testing.T) {
	host := addr("10.20.1.40")
	hello := clientHello(t, "telemetry.Vendor-CDN.example")
	doh := clientHello(t, "cloudflare-dns.com")
	w := &wire{t: t}
	for i := range 40 {
		cdn := netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + i%5)})
		w.tcp(at(float64(i)*3), host, cdn, 443, hello)
		w.tcp(at(float64(i)*3-0.5), host, addr("1.1.1.1"), 443, doh)
	}
	for _, workers := range []int{1, 3} {
		got, p := replayNames(t, w, workers, nil)
		if len(got) != 1 {
			t.Fatalf("%d workers: %d alerts, want 1: %v", workers, len(got), summarize(got))
		}
		a := got[0]
		if a.DstFQDN != "telemetry.vendor-cdn.example" || a.DstNameSource != "sni" || a.DstPort != 443 || a.SrcIP != host.String() ||
			len(a.DstIPs) < 4 || a.Beats < 5 || a.ViaProxy != "" {
			t.Fatalf("%d workers: alert %s", workers, summarize(got))
		}
		hosts := p.DoHHosts()
		if len(hosts) != 1 || hosts[0].Addr != host || hosts[0].Provider != "Cloudflare" || hosts[0].Sessions != 40 {
			t.Fatalf("%d workers: DoH hosts %+v", workers, hosts)
		}
		if st := p.Stats().Names; st.SNI != 40 || st.DoHSessions != 40 {
			t.Fatalf("%d workers: names %+v", workers, st)
		}
		// Coverage: the beacon's sessions were named by their SNI, the DoH
		// sessions (no DNS answer, no beat) stay unnamed.
		snap, err := p.Snapshot(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		var hc HourCounts
		for i := range snap.Hours {
			hc.add(&snap.Hours[i])
		}
		if hc.Sessions != 80 || hc.NamedWire != 40 || hc.Unnamed != 40 || hc.NamedDNS != 0 {
			t.Errorf("%d workers: coverage %+v, want 80 sessions: 40 named from the wire, 40 unnamed", workers, hc)
		}
		// The checkpoint gets the DoH host once, its sessions as a delta: a
		// second snapshot with no new DoH session hands over nothing.
		if d := snap.DoHHosts; len(d) != 1 || d[0].Addr != host || d[0].Provider != "Cloudflare" || d[0].Sessions != 40 ||
			!d[0].First.Equal(at(-0.5)) || !d[0].Last.Equal(at(39*3-0.5)) {
			t.Errorf("%d workers: snapshot DoH hosts %+v", workers, d)
		}
		again, err := p.Snapshot(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(again.DoHHosts) != 0 {
			t.Errorf("%d workers: second snapshot DoH hosts %+v, want none (no new sessions)", workers, again.DoHHosts)
		}
	}
}

// A Mac beaconing every 300 s through an explicit proxy (CONNECT to an
// internal proxy on :3128), the proxy's own upstream connection on the
// span as well: one alert, for the client, named by the CONNECT, via the
// proxy — whether the proxy is configured or recognised from the traffic.
func TestProxiedBeacon(t *testing.T) {
	client, proxy, upstream := addr("10.20.1.30"), addr("10.20.0.8"), addr("203.0.113.50")
	req := []byte("CONNECT updates.vendor.example:443 HTTP/1.1\r\nHost: updates.vendor.example:443\r\nUser-Agent: agent/1.0\r\n\r\n")
	hello := clientHello(t, "updates.vendor.example")
	w := &wire{t: t}
	for i := range 24 {
		w.tcp(at(float64(i)*5), client, proxy, 3128, req)
		w.tcp(at(float64(i)*5).Add(30*time.Millisecond), proxy, upstream, 443, hello)
	}
	for _, tc := range []struct {
		name    string
		proxies []netip.AddrPort
	}{
		{"configured", []netip.AddrPort{netip.MustParseAddrPort("10.20.0.8:3128")}},
		{"recognised", nil},
	} {
		for _, workers := range []int{1, 3} {
			got, p := replayNames(t, w, workers, func(c *Config) { c.Proxies = tc.proxies })
			if len(got) != 1 {
				t.Fatalf("%s, %d workers: %d alerts, want 1: %v", tc.name, workers, len(got), summarize(got))
			}
			a := got[0]
			if a.SrcIP != client.String() || a.DstFQDN != "updates.vendor.example" || a.DstPort != 443 ||
				a.ViaProxy != "10.20.0.8:3128" || a.DstNameSource != "connect" || len(a.DstIPs) != 0 || a.Beats < 5 {
				t.Fatalf("%s, %d workers: %s", tc.name, workers, summarize(got))
			}
			px := p.Proxies()
			if len(px) != 1 || px[0].Addr.String() != "10.20.0.8:3128" || px[0].Learned != (tc.proxies == nil) {
				t.Fatalf("%s: proxies %+v", tc.name, px)
			}
		}
	}
}

// rfc9001Initial is the client Initial of RFC 9001 Appendix A.2 (SNI
// example.com), from the names package's seed corpus.
func rfc9001Initial(t *testing.T) []byte {
	raw, err := os.ReadFile("../names/testdata/fuzz/FuzzQUIC/rfc9001-a2-client-initial")
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	s = s[strings.Index(s, `"`)+1 : strings.LastIndex(s, `"`)]
	s = strings.ReplaceAll(s, `\x`, "")
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A beacon over QUIC to rotating addresses is one pair named by the
// Initial's SNI.
func TestQUICBeacon(t *testing.T) {
	host := addr("10.20.1.41")
	initial := rfc9001Initial(t)
	w := &wire{t: t}
	for i := range 30 {
		w.udp(at(float64(i)*4), host, netip.AddrFrom4([4]byte{198, 51, 100, byte(60 + i%3)}), 443, initial)
	}
	for _, workers := range []int{1, 3} {
		got, _ := replayNames(t, w, workers, nil)
		if len(got) != 1 || got[0].DstFQDN != "example.com" || got[0].DstNameSource != "quic" || got[0].Proto != "udp" {
			t.Fatalf("%d workers: %s", workers, summarize(got))
		}
	}
}

// An office's global IPv6 prefix is not in --internal but is in the router
// advertisements on the span: learned, the IPv6 beacon alerts; with
// learning off, it is not seen.
// routerAdvert announces 2001:db8:aa:1::/64 (on-link, autonomous).
func routerAdvert() []byte {
	ra, _ := hex.DecodeString("86000000400007080000000000000000" +
		"0304" + "40c0" + "00278d00" + "00093a80" + "00000000" + "20010db800aa00010000000000000000")
	return ra
}

func TestLearnedPrefixBeacon(t *testing.T) {
	host, dst := addr("2001:db8:aa:1::15"), addr("2001:db8:ffff::10")
	ra := routerAdvert()
	hello := clientHello(t, "v6.vendor.example")
	w := &wire{t: t}
	w.add(at(-1), addr("fe80::1"), addr("ff02::1"), gopacket.Payload(ra), nil)
	for i := range 24 {
		w.tcp(at(float64(i)*5), host, dst, 443, hello)
	}
	for _, workers := range []int{1, 3} {
		got, p := replayNames(t, w, workers, nil)
		if len(got) != 1 || got[0].SrcIP != host.String() || got[0].DstFQDN != "v6.vendor.example" {
			t.Fatalf("%d workers: %s", workers, summarize(got))
		}
		if l := p.LearnedInternal(); len(l) != 1 || l[0].String() != "2001:db8:aa:1::/64" {
			t.Fatalf("learned %v", l)
		}
		got, _ = replayNames(t, w, workers, func(c *Config) { c.LearnInternal = false })
		if len(got) != 0 {
			t.Fatalf("learning off, %d workers: %s", workers, summarize(got))
		}
	}
}

// A Mac on a learned prefix is a host like one on a configured prefix: its
// SYNs identify it, so under the default --os macos its beacon alerts as
// macOS, not as a host of unknown OS.
func TestLearnedPrefixHostOS(t *testing.T) {
	host, dst := addr("2001:db8:aa:1::15"), addr("2001:db8:ffff::10")
	hello := clientHello(t, "v6.vendor.example")
	w := &wire{t: t, syn: darwinSYN}
	w.add(at(-1), addr("fe80::1"), addr("ff02::1"), gopacket.Payload(routerAdvert()), nil)
	for i := range 24 {
		w.tcp(at(float64(i)*5), host, dst, 443, hello)
	}
	for _, workers := range []int{1, 3} {
		got, p := replayNames(t, w, workers, func(c *Config) { c.OS = DefaultConfig().OS })
		if len(got) != 1 || got[0].SrcIP != host.String() {
			t.Fatalf("%d workers: %s", workers, summarize(got))
		}
		if a := got[0]; a.HostOS != "macos" || a.HostOSConfidence < 0.5 {
			t.Errorf("%d workers: host OS %q (confidence %.2f), want macos", workers, a.HostOS, a.HostOSConfidence)
		}
		if l := p.LearnedInternal(); len(l) != 1 {
			t.Fatalf("%d workers: learned %v", workers, l)
		}
	}
}

func summarize(as []*alert.Alert) string {
	var b strings.Builder
	for _, a := range as {
		b.WriteString("\n  " + a.SrcIP + " → " + a.DstFQDN + " " + strings.Join(a.DstIPs, ",") + " src=" + a.DstNameSource + " via=" + a.ViaProxy +
			" kind=" + a.Kind + " beats=" + strconv.Itoa(a.Beats))
	}
	return b.String()
}

// Sessions that carried no name (no payload before they closed) beat keyed
// by the address; once a session to that address names it, the pair
// becomes the named pair with every beat: one alert, from the first beat.
func TestAddressPairBecomesNamed(t *testing.T) {
	host, dst := addr("10.20.1.42"), addr("198.51.100.77")
	hello := clientHello(t, "late.vendor.example")
	w := &wire{t: t}
	for i := range 20 {
		first := hello
		if i < 4 {
			first = nil // a connect-and-close check, no name on the wire
		}
		w.tcp(at(float64(i)*5), host, dst, 443, first)
	}
	for _, workers := range []int{1, 3} {
		got, p := replayNames(t, w, workers, nil)
		if len(got) != 1 {
			t.Fatalf("%d workers: %d alerts, want 1: %s", workers, len(got), summarize(got))
		}
		if a := got[0]; a.DstFQDN != "late.vendor.example" || a.DstNameSource != "sni" || !a.FirstSeen.Equal(at(0)) {
			t.Fatalf("%d workers: %s (first seen %v)", workers, summarize(got), a.FirstSeen)
		}
		if st := p.Stats(); st.Beacon.Rekeyed != 1 || st.Names.Unnamed != 4 {
			t.Fatalf("%d workers: rekeyed %d, unnamed %d", workers, st.Beacon.Rekeyed, st.Names.Unnamed)
		}
	}
}

// The sharded reader keeps the first bytes of what can carry a name, and
// nothing of other payload.
func TestKeptPayloadNames(t *testing.T) {
	big := func(head ...byte) []byte { b := make([]byte, 9000); copy(b, head); return b }
	for _, tc := range []struct {
		name    string
		proto   uint8
		dport   uint16
		payload []byte
		want    int
	}{
		{"client hello", decode.ProtoTCP, 443, big(22, 3, 1, 2, 0, 1), 4096},
		{"tls application data", decode.ProtoTCP, 443, big(23, 3, 3, 2, 0, 1), 0},
		{"connect to a proxy", decode.ProtoTCP, 3128, append([]byte("CONNECT a.example:443 HTTP/1.1\r\n"), big()...), 4096},
		{"quic v1 initial", decode.ProtoUDP, 443, big(0xc3, 0, 0, 0, 1), 2048},
		{"quic v2 initial", decode.ProtoUDP, 443, big(0xd3, 0x6b, 0x33, 0x43, 0xcf), 2048},
		{"quic short header", decode.ProtoUDP, 443, big(0x43, 0, 0, 0, 1), 0},
		{"udp 443 long-header lookalike", decode.ProtoUDP, 443, big(0xc3, 9, 9, 9, 9), 0},
		{"router advertisement", decode.ProtoICMPv6, 0, []byte{134, 0, 0, 0, 64, 0, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0}, 16},
	} {
		p := decode.Packet{Proto: tc.proto, SrcPort: 50000, DstPort: tc.dport, Payload: tc.payload}
		if got := keptPayload(&p); got != tc.want {
			t.Errorf("%s: kept %d, want %d", tc.name, got, tc.want)
		}
	}
}

// lateHello is a ClientHello whose server_name extension comes after 1500
// bytes of others, as a client that orders its extensions at random may
// send it: the name is in the second segment.
func lateHello(sni string) []byte {
	u16 := func(b []byte, v int) []byte { return append(b, byte(v>>8), byte(v)) }
	ext := func(b []byte, typ int, body []byte) []byte { return append(u16(u16(b, typ), len(body)), body...) }
	sn := u16(nil, len(sni)+3)
	sn = append(sn, 0)
	sn = append(u16(sn, len(sni)), sni...)
	exts := ext(ext(nil, 21, make([]byte, 1500)), 0, sn)
	body := append([]byte{3, 3}, make([]byte, 32)...)
	body = append(body, 0, 0, 2, 0x13, 0x01, 1, 0)
	body = append(u16(body, len(exts)), exts...)
	hs := append([]byte{1, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
	return append(u16([]byte{22, 3, 1}, len(hs)), hs...)
}

// A beacon whose ClientHello names its server only in the second segment
// is named by joining the two.
func TestSplitHelloBeacon(t *testing.T) {
	host := addr("10.20.1.43")
	hello := lateHello("split.vendor.example")
	w := &wire{t: t}
	for i := range 20 {
		w.tcp(at(float64(i)*5), host, netip.AddrFrom4([4]byte{198, 51, 100, byte(90 + i%4)}), 443, hello)
	}
	for _, workers := range []int{1, 3} {
		got, p := replayNames(t, w, workers, nil)
		if len(got) != 1 || got[0].DstFQDN != "split.vendor.example" || got[0].DstNameSource != "sni" {
			t.Fatalf("%d workers: %s", workers, summarize(got))
		}
		if st := p.Stats().Names; st.HelloHeld != 20 || st.HelloJoined != 20 || st.HelloIncomplete != 0 {
			t.Fatalf("%d workers: held %d, joined %d, incomplete %d", workers, st.HelloHeld, st.HelloJoined, st.HelloIncomplete)
		}
	}
}

func TestHelloHold(t *testing.T) {
	hello := lateHello("hold.example")
	s := &flow.Session{Key: flow.Key{ClientPort: 40001, ServerPort: 443, Proto: decode.ProtoTCP}, Pending: true}
	seg := func(seq uint32, b []byte) *decode.Packet {
		return &decode.Packet{Proto: decode.ProtoTCP, Seq: seq, Payload: b, PayloadLen: uint32(len(b))}
	}
	var h helloHold
	steps := []struct {
		p    *decode.Packet
		name string
		err  error
	}{
		{seg(100, hello[:1448]), "", errHeld},
		{seg(100, hello[:1448]), "", errHeld}, // retransmitted: held again
		{seg(100+1448, hello[1448:]), "hold.example", nil},
		{seg(5000, hello[:1448]), "", errHeld},          // the next session on the same ports
		{seg(9999, hello[1448:]), "", names.ErrNotMine}, // not in sequence: read on its own
		{seg(1, hello), "hold.example", nil},            // whole in one segment
	}
	for i, st := range steps {
		name, err := h.hello(s, st.p)
		if string(name) != st.name || !errors.Is(err, st.err) {
			t.Fatalf("step %d: %q, %v; want %q, %v", i, name, err, st.name, st.err)
		}
	}
	if h.held != 3 || h.joined != 1 || h.evicted != 0 {
		t.Fatalf("held %d joined %d evicted %d", h.held, h.joined, h.evicted)
	}
}
