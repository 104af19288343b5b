package synth

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/miekg/dns"
)

var update = flag.Bool("update", false, "rewrite testdata/demo.pcapng and testdata/demo.labels.json at the repository root")

// frame is one generated frame kept for inspection.
type frame struct {
	ts   time.Time
	data []byte
}

type memWriter struct {
	frames []frame
	h      interface {
		Write([]byte) (int, error)
		Sum([]byte) []byte
	}
	keep bool
}

func newMem(keep bool) *memWriter { return &memWriter{h: sha256.New(), keep: keep} }

func (m *memWriter) WritePacket(ci gopacket.CaptureInfo, data []byte) error {
	if ci.CaptureLength != len(data) || ci.Length != len(data) {
		return fmt.Errorf("capture info lengths %d/%d for %d bytes", ci.CaptureLength, ci.Length, len(data))
	}
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(ci.Timestamp.UnixNano()))
	m.h.Write(ts[:])
	m.h.Write(data)
	if m.keep {
		m.frames = append(m.frames, frame{ts: ci.Timestamp, data: append([]byte(nil), data...)})
	}
	return nil
}

func (m *memWriter) sum() string { return fmt.Sprintf("%x", m.h.Sum(nil)) }

// testScenarios are the scenarios small enough to generate in every test
// run, with the packet cap used for the big ones.
func testScenarios() []struct {
	name string
	opt  Options
} {
	var out []struct {
		name string
		opt  Options
	}
	for _, s := range Scenarios() {
		opt := Options{}
		if s.DefaultPackets > 0 {
			opt.Packets = 20000
		}
		out = append(out, struct {
			name string
			opt  Options
		}{s.Name, opt})
	}
	return out
}

func gen(t testing.TB, name string, seed uint64, opt Options, keep bool) (*memWriter, []Label, Stats) {
	t.Helper()
	m := newMem(keep)
	labels, st, err := GenerateWith(name, seed, m, opt)
	if err != nil {
		t.Fatalf("GenerateWith(%s, %d): %v", name, seed, err)
	}
	return m, labels, st
}

func TestDeterminism(t *testing.T) {
	for _, sc := range testScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			a, la, sa := gen(t, sc.name, 7, sc.opt, false)
			b, lb, _ := gen(t, sc.name, 7, sc.opt, false)
			c, _, _ := gen(t, sc.name, 8, sc.opt, false)
			if a.sum() != b.sum() {
				t.Fatalf("same seed, different bytes: %s vs %s", a.sum(), b.sum())
			}
			if a.sum() == c.sum() {
				t.Fatalf("seeds 7 and 8 gave identical captures")
			}
			var ja, jb bytes.Buffer
			if err := WriteLabels(&ja, la); err != nil {
				t.Fatal(err)
			}
			if err := WriteLabels(&jb, lb); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ja.Bytes(), jb.Bytes()) {
				t.Fatalf("same seed, different labels")
			}
			if sa.Packets == 0 {
				t.Fatalf("no packets generated")
			}
		})
	}
}

func TestUnknownScenario(t *testing.T) {
	if _, err := Generate("no-such", 1, newMem(false)); err == nil || !strings.Contains(err.Error(), "no-such") {
		t.Fatalf("want unknown-scenario error naming it, got %v", err)
	}
	if _, _, err := GenerateWith("demo", 1, newMem(false), Options{Packets: -1}); err == nil {
		t.Fatalf("negative packet count accepted")
	}
}

func TestPacketLimit(t *testing.T) {
	_, _, st := gen(t, "demo", 1, Options{Packets: 500}, false)
	if st.Packets != 500 {
		t.Fatalf("Packets=500 wrote %d frames", st.Packets)
	}
}

// checkFrame decodes one frame and verifies lengths and checksums.
func checkFrame(t *testing.T, f frame, idx int) gopacket.Packet {
	t.Helper()
	p := gopacket.NewPacket(f.data, layers.LayerTypeEthernet, gopacket.Default)
	if el := p.ErrorLayer(); el != nil {
		t.Fatalf("frame %d: decode error: %v", idx, el.Error())
	}
	if a, ok := p.Layer(layers.LayerTypeARP).(*layers.ARP); ok {
		if a.HwAddressSize != 6 || a.ProtAddressSize != 4 || len(f.data) < 60 {
			t.Fatalf("frame %d: malformed ARP", idx)
		}
		return p
	}
	var l4 []byte
	var pseudo uint32
	var proto layers.IPProtocol
	l2 := 14
	if p.Layer(layers.LayerTypeDot1Q) != nil {
		l2 = 18
	}
	switch ip := p.NetworkLayer().(type) {
	case *layers.IPv4:
		if n := len(f.data) - l2; int(ip.Length) != n && !(len(f.data) == 60 && int(ip.Length) < n) {
			t.Fatalf("frame %d: IPv4 length %d, frame carries %d", idx, ip.Length, n)
		}
		if sum := inetChecksum(ip.Contents, 0); sum != 0 {
			t.Fatalf("frame %d: bad IPv4 header checksum", idx)
		}
		l4, proto = ip.Payload, ip.Protocol
		pseudo = pseudoSum(ip.SrcIP, ip.DstIP, uint8(proto), len(l4))
	case *layers.IPv6:
		if n := len(f.data) - l2 - 40; int(ip.Length) != n && !(len(f.data) == 60 && int(ip.Length) < n) {
			t.Fatalf("frame %d: IPv6 payload length %d, frame carries %d", idx, ip.Length, n)
		}
		l4, proto = ip.Payload, ip.NextHeader
		if hbh, ok := p.Layer(layers.LayerTypeIPv6HopByHop).(*layers.IPv6HopByHop); ok && proto == layers.IPProtocolIPv6HopByHop {
			// MLD reports carry the Router Alert option (RFC 2711, 3810).
			if ip.HopLimit != 1 || len(hbh.Options) == 0 || hbh.Options[0].OptionType != 5 {
				t.Fatalf("frame %d: hop-by-hop header %+v with hop limit %d; want an MLD report's Router Alert, hop limit 1", idx, hbh.Options, ip.HopLimit)
			}
			l4, proto = hbh.Payload, hbh.NextHeader
		}
		pseudo = pseudoSum(ip.SrcIP, ip.DstIP, uint8(proto), len(l4))
	default:
		t.Fatalf("frame %d: no IP layer", idx)
	}
	switch proto {
	case layers.IPProtocolTCP:
		if p.Layer(layers.LayerTypeTCP) == nil {
			t.Fatalf("frame %d: no TCP layer", idx)
		}
	case layers.IPProtocolICMPv6:
		if p.Layer(layers.LayerTypeICMPv6) == nil {
			t.Fatalf("frame %d: no ICMPv6 layer", idx)
		}
		ic := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
		if ty := ic.TypeCode.Type(); ty >= layers.ICMPv6TypeRouterSolicitation && ty <= layers.ICMPv6TypeRedirect {
			if ip, _ := p.NetworkLayer().(*layers.IPv6); ip.HopLimit != 255 {
				t.Fatalf("frame %d: neighbor discovery with hop limit %d (RFC 4861 wants 255)", idx, ip.HopLimit)
			}
		}
	case layers.IPProtocolUDP:
		u, _ := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if u == nil {
			t.Fatalf("frame %d: no UDP layer", idx)
		}
		if int(u.Length) != len(l4) {
			t.Fatalf("frame %d: UDP length %d, have %d", idx, u.Length, len(l4))
		}
	default:
		t.Fatalf("frame %d: unexpected protocol %v", idx, proto)
	}
	if sum := inetChecksum(l4, pseudo); sum != 0 {
		t.Fatalf("frame %d: bad %v checksum", idx, proto)
	}
	return p
}

func inetChecksum(b []byte, init uint32) uint16 {
	s := init
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// pseudoSum sums the TCP/UDP pseudo-header (RFC 793 / RFC 8200 8.1).
func pseudoSum(src, dst net.IP, proto uint8, n int) uint32 {
	var s uint32
	for _, a := range []net.IP{src, dst} {
		b := []byte(a)
		if v4 := a.To4(); v4 != nil {
			b = v4
		}
		for i := 0; i+1 < len(b); i += 2 {
			s += uint32(b[i])<<8 | uint32(b[i+1])
		}
	}
	return s + uint32(proto) + uint32(n)&0xffff + uint32(n)>>16
}

func TestFramesDecode(t *testing.T) {
	for _, sc := range testScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			m, _, _ := gen(t, sc.name, 3, sc.opt, true)
			var last time.Time
			var dnsN, dhcpN, mdnsN, dnsTCP int
			for i, f := range m.frames {
				if f.ts.Before(last) {
					t.Fatalf("frame %d: time %v before previous %v", i, f.ts, last)
				}
				last = f.ts
				p := checkFrame(t, f, i)
				if tc, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP); ok && (tc.SrcPort == 53 || tc.DstPort == 53) && len(tc.Payload) > 0 {
					for b := tc.Payload; len(b) > 0; {
						if len(b) < 2 || len(b) < 2+int(b[0])<<8|int(b[1]) {
							t.Fatalf("frame %d: DNS over TCP segment cut mid-message", i)
						}
						n := int(b[0])<<8 | int(b[1])
						var msg dns.Msg
						if err := msg.Unpack(b[2 : 2+n]); err != nil {
							t.Fatalf("frame %d: DNS over TCP does not unpack: %v", i, err)
						}
						b = b[2+n:]
						dnsTCP++
					}
				}
				u, _ := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
				if u == nil {
					continue
				}
				switch {
				case u.SrcPort == 53 || u.DstPort == 53 || u.SrcPort == 5353:
					var msg dns.Msg
					if err := msg.Unpack(u.Payload); err != nil {
						t.Fatalf("frame %d: DNS does not unpack: %v", i, err)
					}
					if u.SrcPort == 5353 {
						mdnsN++
					} else {
						dnsN++
					}
				case u.DstPort == 67 || u.DstPort == 68:
					if p.Layer(layers.LayerTypeDHCPv4) == nil {
						t.Fatalf("frame %d: DHCP port without DHCPv4 layer", i)
					}
					dhcpN++
				}
			}
			if dnsN == 0 || dhcpN == 0 {
				t.Fatalf("scenario has %d DNS and %d DHCP frames; every scenario needs both", dnsN, dhcpN)
			}
			if strings.HasPrefix(sc.name, "eval-noise") && dnsTCP == 0 {
				t.Fatalf("no DNS over TCP in %s", sc.name)
			}
			t.Logf("%d frames, %d DNS, %d DHCP, %d mDNS, %d DNS messages over TCP", len(m.frames), dnsN, dhcpN, mdnsN, dnsTCP)
		})
	}
}

// pinfo is the part of a frame the beat counter needs.
type pinfo struct {
	t             int64
	src, dst      netip.Addr
	tcp           bool
	dport, sport  uint16
	seq           uint32
	syn, ack, psh bool
	payload       int
	dnsName       string // A query name, for frames to port 53
}

func summarize(frames []frame) []pinfo {
	out := make([]pinfo, 0, len(frames))
	for _, f := range frames {
		p := gopacket.NewPacket(f.data, layers.LayerTypeEthernet, gopacket.NoCopy)
		nl := p.NetworkLayer()
		if nl == nil {
			continue
		}
		s, _ := netip.AddrFromSlice(nl.NetworkFlow().Src().Raw())
		d, _ := netip.AddrFromSlice(nl.NetworkFlow().Dst().Raw())
		pi := pinfo{t: f.ts.UnixNano(), src: s, dst: d}
		if tc, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP); ok {
			pi.tcp, pi.dport, pi.syn, pi.ack, pi.psh, pi.payload = true, uint16(tc.DstPort), tc.SYN, tc.ACK, tc.PSH, len(tc.Payload)
			pi.sport, pi.seq = uint16(tc.SrcPort), tc.Seq
		} else if u, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP); ok {
			pi.dport, pi.payload = uint16(u.DstPort), len(u.Payload)
			if u.DstPort == 53 {
				var m dns.Msg
				if m.Unpack(u.Payload) == nil && len(m.Question) == 1 && m.Question[0].Qtype == dns.TypeA {
					pi.dnsName = strings.TrimSuffix(m.Question[0].Name, ".")
				}
			}
		}
		out = append(out, pi)
	}
	return out
}

// beatsInCapture counts a label's beats from the capture alone: session
// starts (SYNs, or first datagrams after 3 s of silence) from the source to
// the label's addresses and port, grouped within 3 s; for long sessions,
// client bursts after the opening exchange; for DNS channels, A queries
// for names under the domain.
func beatsInCapture(pkts []pinfo, l Label) int {
	srcs := map[netip.Addr]bool{netip.MustParseAddr(l.SrcIP): true}
	for _, a := range l.SrcIPs {
		srcs[netip.MustParseAddr(a)] = true
	}
	dsts := map[netip.Addr]bool{}
	for _, d := range l.DstIPs {
		dsts[netip.MustParseAddr(d)] = true
	}
	long := strings.HasPrefix(l.Style, "long-session") || l.Style == "apple-push"
	var beats int
	var lastStart int64 = -1 << 62
	var lastPkt int64 = -1 << 62
	var lastSYN int64
	type synKey struct {
		port uint16
		seq  uint32
	}
	syns := map[synKey]bool{} // a retransmitted SYN is the same session
	for i := range pkts {
		p := &pkts[i]
		if !srcs[p.src] {
			continue
		}
		hit := false
		switch {
		case l.Style == "dns-channel":
			hit = strings.HasSuffix(p.dnsName, "."+l.DstFQDN)
		case !dsts[p.dst] || p.dport != l.DstPort:
		case l.Proto == "tcp" && p.tcp:
			if p.syn {
				lastSYN = p.t
			}
			if long {
				hit = p.payload > 0 && p.psh && p.t-lastSYN > 10*sec
			} else if p.syn && !p.ack {
				k := synKey{p.sport, p.seq}
				hit = !syns[k]
				syns[k] = true
			}
		case l.Proto == "udp" && !p.tcp:
			hit = p.t-lastPkt > 3*sec
			lastPkt = p.t
		}
		if hit && p.t-lastStart > 3*sec {
			beats++
			lastStart = p.t
		}
	}
	return beats
}

func TestLabelsMatchCapture(t *testing.T) {
	for _, sc := range testScenarios() {
		if sc.opt.Packets > 0 {
			continue // truncated runs cut labels mid-beat
		}
		t.Run(sc.name, func(t *testing.T) {
			m, labels, _ := gen(t, sc.name, 5, sc.opt, true)
			pkts := summarize(m.frames)
			if len(labels) == 0 {
				t.Fatalf("no labels")
			}
			alerts := 0
			for _, l := range labels {
				if l.Scenario != sc.name || l.SrcIP == "" || l.SrcMAC == "" || l.OS == "" || l.Style == "" || l.Note == "" {
					t.Fatalf("incomplete label %+v", l)
				}
				if l.ShouldAlert {
					alerts++
					if !l.ShouldAlertOSAny {
						t.Errorf("%s %s: should_alert without should_alert_os_any", l.SrcIP, l.DstFQDN)
					}
				}
				if l.DstFQDN == "*" {
					continue
				}
				if l.Beats != len(l.BeatTimes) {
					t.Errorf("%s %s: beats %d but %d beat times", l.SrcIP, l.DstFQDN, l.Beats, len(l.BeatTimes))
				}
				got := beatsInCapture(pkts, l)
				if l.Style == "mixed-human-use" {
					// The user's own sessions to the name are in the capture
					// too: the beacon's beats are a subset of its starts.
					if got <= l.Beats {
						t.Errorf("%s %s: %d session starts for %d beacon beats; the user's sessions are missing", l.SrcIP, l.DstFQDN, got, l.Beats)
					}
					continue
				}
				if got != l.Beats {
					t.Errorf("%s %s %s/%d (%s): label says %d beats, capture shows %d", l.SrcIP, l.DstFQDN, l.Proto, l.DstPort, l.Style, l.Beats, got)
				}
			}
			if sc.name == "demo" && alerts != 1 {
				t.Errorf("demo must plant exactly one alert, labels plant %d", alerts)
			}
		})
	}
}

func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// DemoSeed is the seed of the committed testdata/demo.pcapng.
const demoSeed = 1

// TestDemoReproducible regenerates testdata/demo.pcapng and its labels and
// compares bytes (run with -update to rewrite them).
func TestDemoReproducible(t *testing.T) {
	root := repoRoot(t)
	capPath := filepath.Join(root, "testdata", "demo.pcapng")
	labPath := filepath.Join(root, "testdata", "demo.labels.json")
	var capBuf, labBuf bytes.Buffer
	fw, err := NewWriter(&capBuf, true)
	if err != nil {
		t.Fatal(err)
	}
	labels, st, err := GenerateWith("demo", demoSeed, fw, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := fw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := WriteLabels(&labBuf, labels); err != nil {
		t.Fatal(err)
	}
	const maxDemo = 5 << 20
	if capBuf.Len() > maxDemo {
		t.Fatalf("demo capture is %d bytes, over the %d limit", capBuf.Len(), maxDemo)
	}
	t.Logf("demo: %d packets, %d bytes, span %v", st.Packets, capBuf.Len(), st.Last.Sub(st.First))
	if *update {
		if err := os.MkdirAll(filepath.Dir(capPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(capPath, capBuf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(labPath, labBuf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	for _, c := range []struct {
		path string
		want []byte
	}{{capPath, capBuf.Bytes()}, {labPath, labBuf.Bytes()}} {
		got, err := os.ReadFile(c.path)
		if err != nil {
			t.Fatalf("%v (run go test ./sensor/synth -run TestDemoReproducible -update)", err)
		}
		if !bytes.Equal(got, c.want) {
			t.Fatalf("%s differs from a fresh generation (%d vs %d bytes); regenerate with -update if the change is intended", c.path, len(got), len(c.want))
		}
	}
}

func TestDemoConstants(t *testing.T) {
	m, labels, _ := gen(t, "demo", demoSeed, Options{}, true)
	var planted *Label
	for i := range labels {
		if labels[i].ShouldAlert {
			planted = &labels[i]
		}
	}
	if planted == nil {
		t.Fatal("no planted beacon label")
	}
	if planted.SrcIP != DemoBeaconIP || planted.SrcMAC != DemoBeaconMAC || planted.DstFQDN != DemoBeaconFQDN ||
		planted.DstPort != 443 || planted.Proto != "tcp" || planted.PeriodS != 300 || planted.OS != "macos" {
		t.Fatalf("planted label does not match DEMO.md: %+v", *planted)
	}
	if planted.Beats < 25 {
		t.Fatalf("planted beacon has %d beats, DEMO.md wants >= 25", planted.Beats)
	}
	if got := strings.Join(planted.DstIPs, ","); got != DemoBeaconAddrsCSV {
		t.Fatalf("planted beacon reached %s, want %s", got, DemoBeaconAddrsCSV)
	}
	for i := 1; i < len(planted.BeatTimes); i++ {
		d := planted.BeatTimes[i].Sub(planted.BeatTimes[i-1])
		if d < 298*time.Second || d > 302*time.Second {
			t.Fatalf("beat %d interval %v outside 300 s ± 1 s (+ DNS latency)", i, d)
		}
	}
	// Each beat's DNS answer: CNAME to the provider edge, one rotating A, TTL 60.
	seenA := map[string]bool{}
	for _, f := range m.frames {
		p := gopacket.NewPacket(f.data, layers.LayerTypeEthernet, gopacket.NoCopy)
		u, _ := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if u == nil || u.SrcPort != 53 {
			continue
		}
		var msg dns.Msg
		if msg.Unpack(u.Payload) != nil || len(msg.Question) == 0 || msg.Question[0].Name != DemoBeaconFQDN+"." {
			continue
		}
		if msg.Question[0].Qtype != dns.TypeA {
			t.Fatalf("beacon asked %s, DEMO.md says an A query", dns.TypeToString[msg.Question[0].Qtype])
		}
		if len(msg.Answer) != 2 {
			t.Fatalf("beacon answer has %d records, want CNAME + A", len(msg.Answer))
		}
		cn, ok1 := msg.Answer[0].(*dns.CNAME)
		a, ok2 := msg.Answer[1].(*dns.A)
		if !ok1 || !ok2 || cn.Target != DemoBeaconCNAME+"." || a.Hdr.Ttl != 60 {
			t.Fatalf("beacon answer %v", msg.Answer)
		}
		seenA[a.A.String()] = true
	}
	if len(seenA) != 3 {
		t.Fatalf("beacon answers rotated among %d addresses, want 3", len(seenA))
	}
}

type discard struct{ n int }

func (d *discard) WritePacket(ci gopacket.CaptureInfo, data []byte) error {
	d.n += len(data)
	return nil
}

// BenchmarkGenerate measures generation speed of the bench scenario.
func BenchmarkGenerate(b *testing.B) {
	b.ReportAllocs()
	const pkts = 200000
	for i := 0; i < b.N; i++ {
		if _, _, err := GenerateWith("bench", 1, &discard{}, Options{Packets: pkts}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(pkts)*float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
}
