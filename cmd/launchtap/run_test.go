package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/miekg/dns"

	"github.com/launchtap/launchtap/internal/livetest"
	"github.com/launchtap/launchtap/internal/tlstest"
)

// Short periods so that the capture replays in real time in about half a
// minute. The capture's host shows no OS (a bare SYN), and these tests are
// about capture, not OS policy: every host alerts.
var fastBeacon = []string{"--beacon-min-period", "1s", "--beacon-group-window", "200ms", "--stats-interval", "0", "--os", "any"}

// TestRunMatchesReplay plays a capture through a veth pair into `launchtap
// run` and checks that it alerts exactly as `launchtap replay` on the same
// file, with the eBPF pre-filter and without, and that the kernel dropped
// nothing at this rate. One beacon is named only by its TLS SNI: the
// pre-filter must pass its ClientHello for run to name it as replay does.
func TestRunMatchesReplay(t *testing.T) {
	livetest.Require(t, "tcpreplay")
	dir := t.TempDir()
	pcap := filepath.Join(dir, "beacon.pcap")
	if err := writeBeaconCapture(pcap); err != nil {
		t.Fatal(err)
	}
	code, want, stderr := replay(t, nil, append(append([]string{"replay"}, fastBeacon...), pcap)...)
	if code != 0 || strings.Count(want, "\n") != 3 || !strings.Contains(want, `"dst_fqdn":"`+sniOnlyName+`"`) {
		t.Fatalf("replay: exit %d, want the 3 planted alerts, one named %s from its SNI, got:\n%s\n%s", code, sniOnlyName, want, stderr)
	}

	for _, mode := range []struct {
		name  string
		flags []string
	}{{"bpf", nil}, {"no-bpf", []string{"--no-bpf"}}} {
		t.Run(mode.name, func(t *testing.T) {
			v := livetest.NewVeth(t)
			summary := filepath.Join(dir, mode.name+".json")
			args := append(append([]string{"run", "-i", v.Host, "--workers", "2", "--summary", summary, "--state-dir", t.TempDir()}, fastBeacon...), mode.flags...)
			out, runErr := runLive(t, v, pcap, args)
			// Beats at the first alert and the period carry tcpreplay's
			// timing error (its sleeps overshoot on a busy machine): the
			// pairs and verdicts must match, periods within 15 %.
			a, b := alertKeys(t, want), alertKeys(t, out)
			for i := range a {
				a[i].Beats = 0
			}
			for i := range b {
				b[i].Beats = 0
			}
			if !sameAlerts(a, b, 0.15) {
				t.Errorf("run alerts differ from replay:\nreplay:\n%+v\nrun:\n%+v\nstderr:\n%s", a, b, runErr)
			}
			var sum struct {
				Packets uint64            `json:"packets"`
				Kernel  map[string]uint64 `json:"kernel"`
			}
			raw, _ := os.ReadFile(summary)
			if err := json.Unmarshal(raw, &sum); err != nil {
				t.Fatalf("summary: %v: %s", err, raw)
			}
			if sum.Kernel["drops"] != 0 || sum.Packets == 0 {
				t.Errorf("kernel counters %v, packets %d: want traffic and no drops", sum.Kernel, sum.Packets)
			}
			t.Logf("%s: %d packets to user space, kernel %v", mode.name, sum.Packets, sum.Kernel)
		})
	}
}

// runLive runs args (a `launchtap run` on v's host end) until it captures,
// replays pcap into v, lets the rings hand over their last blocks, stops
// the run and returns what it wrote; a run that fails fails the test.
func runLive(t *testing.T, v *livetest.Veth, pcap string, args []string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int)
	go func() { done <- dispatch(ctx, args, nil, &out, &errb) }()
	waitFor(t, &errb, "capturing", 10*time.Second)
	if msg, err := v.Replay(ctx, pcap); err != nil {
		t.Fatalf("%v\n%s", err, msg)
	}
	time.Sleep(time.Second) // let the rings hand over their last blocks
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("run: exit %d\n%s", code, errb.String())
	}
	return out.String(), errb.String()
}

func waitFor(t *testing.T, b *syncBuffer, s string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(b.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q from the sensor within %s:\n%s", s, d, b.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// sniOnlyName is the beacon destination that only a ClientHello names.
const sniOnlyName = "sni-only.example.com"

// writeBeaconCapture writes 30 s of traffic: a Mac that resolves
// c2.example.net and connects to it every 2 s (TCP), sends a QUIC-like
// UDP datagram exchange to a second name every 3 s, and connects every 2.5 s
// to an address it did not resolve, naming sniOnlyName in its ClientHello;
// and a noise host that browses at random.
func writeBeaconCapture(path string) error {
	return writeFrames(path, 1, 2, func(g *frameGen) error {
		type event struct {
			at time.Duration
			fn func(at time.Duration)
		}
		var evs []event
		mac, noise := net.IPv4(10, 9, 0, 15).To4(), net.IPv4(10, 9, 0, 77).To4()
		hello, err := tlstest.ClientHello(sniOnlyName)
		if err != nil {
			return err
		}
		for i := 0; i < 14; i++ {
			port := uint16(50000 + i)
			evs = append(evs, event{time.Duration(i)*2*time.Second + time.Duration(g.rnd.IntN(40))*time.Millisecond, func(at time.Duration) {
				g.lookup(at, mac, "c2.example.net", net.IPv4(203, 0, 113, 50))
				g.session(at+20*time.Millisecond, mac, net.IPv4(203, 0, 113, 50), port, 443, make([]byte, 300), 900)
			}})
		}
		for i := 0; i < 11; i++ {
			port := uint16(53000 + i)
			evs = append(evs, event{time.Second/4 + time.Duration(i)*2500*time.Millisecond, func(at time.Duration) {
				g.session(at, mac, net.IPv4(203, 0, 113, 80), port, 443, hello, 2500)
			}})
		}
		for i := 0; i < 9; i++ {
			port := uint16(51000 + i)
			evs = append(evs, event{time.Second/2 + time.Duration(i)*3*time.Second, func(at time.Duration) {
				g.lookup(at, mac, "q.example.org", net.IPv4(198, 51, 100, 9))
				g.udpExchange(at+10*time.Millisecond, mac, net.IPv4(198, 51, 100, 9), port, 443)
			}})
		}
		for i := 0; i < 25; i++ {
			at := time.Duration(g.rnd.IntN(28000)) * time.Millisecond
			host := net.IPv4(192, 0, 2, byte(1+g.rnd.IntN(200)))
			port := uint16(52000 + i)
			evs = append(evs, event{at, func(at time.Duration) { g.session(at, noise, host, port, 443, make([]byte, 500), 20000) }})
		}
		for _, e := range evs {
			e.fn(e.at)
		}
		return nil
	})
}

// writeFrames writes to a pcap file at path the frames that fill adds to
// a frameGen whose randomness is seeded with seed1 and seed2.
func writeFrames(path string, seed1, seed2 uint64, fill func(g *frameGen) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return err
	}
	g := &frameGen{w: w, t0: time.Unix(1_750_000_000, 0), rnd: rand.New(rand.NewPCG(seed1, seed2))}
	if err := fill(g); err != nil {
		return err
	}
	return g.flush()
}

// frameGen collects frames, then writes them sorted by time.
type frameGen struct {
	w      *pcapgo.Writer
	t0     time.Time
	rnd    *rand.Rand
	frames []timedFrame
	err    error
}

type timedFrame struct {
	at   time.Duration
	data []byte
}

var (
	macSensorHost = net.HardwareAddr{0x3c, 0x22, 0xfb, 0, 0, 1}
	macGateway    = net.HardwareAddr{0x00, 0x1c, 0x73, 0, 0, 1}
	resolverIP    = net.IPv4(10, 9, 0, 53).To4()
)

func (g *frameGen) add(at time.Duration, src, dst net.IP, l4 gopacket.SerializableLayer, payload []byte) {
	eth := &layers.Ethernet{SrcMAC: macSensorHost, DstMAC: macGateway, EthernetType: layers.EthernetTypeIPv4}
	if src.Equal(resolverIP) || !src.IsPrivate() {
		eth.SrcMAC, eth.DstMAC = macGateway, macSensorHost
	}
	ip := &layers.IPv4{Version: 4, TTL: 64, SrcIP: src, DstIP: dst, Flags: layers.IPv4DontFragment}
	switch l := l4.(type) {
	case *layers.TCP:
		ip.Protocol = layers.IPProtocolTCP
		l.SetNetworkLayerForChecksum(ip)
	case *layers.UDP:
		ip.Protocol = layers.IPProtocolUDP
		l.SetNetworkLayerForChecksum(ip)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, l4, gopacket.Payload(payload)); err != nil && g.err == nil {
		g.err = err
	}
	g.frames = append(g.frames, timedFrame{at, append([]byte(nil), buf.Bytes()...)})
}

func (g *frameGen) lookup(at time.Duration, client net.IP, name string, addr net.IP) {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), dns.TypeA)
	qb, _ := q.Pack()
	r := new(dns.Msg)
	r.SetReply(q)
	r.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: dns.Fqdn(name), Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30}, A: addr}}
	rb, _ := r.Pack()
	port := layers.UDPPort(40000 + g.rnd.IntN(20000))
	g.add(at, client, resolverIP, &layers.UDP{SrcPort: port, DstPort: 53}, qb)
	g.add(at+2*time.Millisecond, resolverIP, client, &layers.UDP{SrcPort: 53, DstPort: port}, rb)
}

// session writes a TCP session: the client sends out (in segments of at
// most 1400 bytes), the server in bytes.
func (g *frameGen) session(at time.Duration, c, s net.IP, cport, sport uint16, out []byte, in int) {
	ms := time.Millisecond
	cp, sp := layers.TCPPort(cport), layers.TCPPort(sport)
	opts := []layers.TCPOption{
		{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}},
		{OptionType: layers.TCPOptionKindNop},
		{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{6}},
		{OptionType: layers.TCPOptionKindNop}, {OptionType: layers.TCPOptionKindNop},
		{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: make([]byte, 8)},
		{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2},
		{OptionType: layers.TCPOptionKindEndList},
	}
	g.add(at, c, s, &layers.TCP{SrcPort: cp, DstPort: sp, SYN: true, Window: 65535, Seq: 1000, Options: opts}, nil)
	g.add(at+5*ms, s, c, &layers.TCP{SrcPort: sp, DstPort: cp, SYN: true, ACK: true, Window: 65535, Seq: 5000, Ack: 1001}, nil)
	g.add(at+6*ms, c, s, &layers.TCP{SrcPort: cp, DstPort: sp, ACK: true, Window: 2048, Seq: 1001, Ack: 5001}, nil)
	cseq := uint32(1001)
	for n := 0; n < len(out); n += 1400 {
		seg := out[n:min(n+1400, len(out))]
		g.add(at+time.Duration(7+n/1400)*ms, c, s, &layers.TCP{SrcPort: cp, DstPort: sp, ACK: true, PSH: true, Window: 2048, Seq: cseq, Ack: 5001}, seg)
		cseq += uint32(len(seg))
	}
	seq := uint32(5001)
	for n := 0; n < in; n += 1400 {
		size := min(1400, in-n)
		g.add(at+time.Duration(12+n/1400)*ms, s, c, &layers.TCP{SrcPort: sp, DstPort: cp, ACK: true, Window: 500, Seq: seq, Ack: cseq}, make([]byte, size))
		seq += uint32(size)
	}
	end := at + time.Duration(20+in/1400)*ms
	g.add(end, c, s, &layers.TCP{SrcPort: cp, DstPort: sp, ACK: true, FIN: true, Window: 2048, Seq: cseq, Ack: seq}, nil)
	g.add(end+3*ms, s, c, &layers.TCP{SrcPort: sp, DstPort: cp, ACK: true, FIN: true, Window: 500, Seq: seq, Ack: cseq + 1}, nil)
	g.add(end+4*ms, c, s, &layers.TCP{SrcPort: cp, DstPort: sp, ACK: true, Window: 2048, Seq: cseq + 1, Ack: seq + 1}, nil)
}

func (g *frameGen) udpExchange(at time.Duration, c, s net.IP, cport, sport uint16) {
	g.add(at, c, s, &layers.UDP{SrcPort: layers.UDPPort(cport), DstPort: layers.UDPPort(sport)}, make([]byte, 1200))
	g.add(at+8*time.Millisecond, s, c, &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(cport)}, make([]byte, 400))
}

func (g *frameGen) flush() error {
	if g.err != nil {
		return fmt.Errorf("building frames: %w", g.err)
	}
	frames := g.frames
	// Stable sort by time keeps each exchange's own order.
	for i := 1; i < len(frames); i++ {
		for j := i; j > 0 && frames[j].at < frames[j-1].at; j-- {
			frames[j], frames[j-1] = frames[j-1], frames[j]
		}
	}
	for _, fr := range frames {
		ci := gopacket.CaptureInfo{Timestamp: g.t0.Add(fr.at), CaptureLength: len(fr.data), Length: len(fr.data)}
		if err := g.w.WritePacket(ci, fr.data); err != nil {
			return err
		}
	}
	return nil
}
