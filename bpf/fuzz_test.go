package bpf

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/sys/unix"

	"github.com/launchtap/launchtap/internal/testenv"
	"github.com/launchtap/launchtap/sensor/capture"
	"github.com/launchtap/launchtap/sensor/decode"
	"github.com/launchtap/launchtap/sensor/host"
	"github.com/launchtap/launchtap/sensor/shard"
)

// realFrames returns the Ethernet frames of the real captures
// (testdata/captures/real) and the repository's demo capture.
func realFrames(t testing.TB) map[string][][]byte {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(here))
	files, _ := filepath.Glob(filepath.Join(testenv.Captures(), "real", "*.pcap*"))
	files = append(files, filepath.Join(root, "testdata", "demo.pcapng"))
	out := map[string][][]byte{}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		var next func() ([]byte, error)
		var link layers.LinkType
		if strings.HasSuffix(name, ".pcapng") {
			r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
			if err != nil {
				f.Close()
				continue
			}
			link = r.LinkType()
			next = func() ([]byte, error) { d, _, err := r.ReadPacketData(); return d, err }
		} else {
			r, err := pcapgo.NewReader(f)
			if err != nil {
				f.Close()
				continue
			}
			link = r.LinkType()
			next = func() ([]byte, error) { d, _, err := r.ReadPacketData(); return d, err }
		}
		if link != layers.LinkTypeEthernet {
			f.Close()
			continue
		}
		for {
			d, err := next()
			if err != nil {
				break
			}
			if len(d) >= 14 {
				out[filepath.Base(name)] = append(out[filepath.Base(name)], d)
			}
		}
		f.Close()
	}
	return out
}

func decodeFrame(d *decode.Decoder, data []byte) (decode.Packet, decode.ErrKind) {
	var p decode.Packet
	f := capture.Frame{Data: data, WireLen: uint32(len(data)), LinkType: capture.LinkEthernet}
	k := d.Decode(&f, &p)
	return p, k
}

// checkHidden fails when the filter kept from user space a frame the decoder
// does not see as a plain, complete TCP or UDP packet: the filter must never
// hide what it does not understand, nor a tunnel user space would open.
func checkHidden(t *testing.T, o *Objects, d *decode.Decoder, data []byte) {
	t.Helper()
	ret, err := o.Filter().Run(runOpts(o.Filter(), data))
	if harnessRefused(err, data) {
		return
	}
	if err != nil {
		t.Fatalf("filter run on %d bytes: %v", len(data), err)
	}
	if ret != 0 && ret != 0xffffffff {
		t.Fatalf("filter returned %d for a %d-byte frame: want 0 or all of it", ret, len(data))
	}
	if ret != 0 {
		return
	}
	p, k := decodeFrame(d, data)
	if k != decode.OK || p.Tunnel != decode.TunnelNone || p.Fragment || p.VLAN != 0 ||
		(p.Proto != decode.ProtoTCP && p.Proto != decode.ProtoUDP) {
		t.Fatalf("filter counted a frame user space decodes as %v (proto %d, tunnel %v, fragment %v, vlan %d): % x",
			k, p.Proto, p.Tunnel, p.Fragment, p.VLAN, data)
	}
}

func TestFilterHidesOnlyPlainTCPUDPInRealCaptures(t *testing.T) {
	o := load(t, Options{})
	frames := realFrames(t)
	if len(frames) == 0 {
		t.Skip("no capture files (../shared/captures, testdata/demo.pcapng)")
	}
	var d decode.Decoder
	for name, fs := range frames {
		for _, f := range fs {
			checkHidden(t, o, &d, f)
		}
		t.Logf("%s: %d frames", name, len(fs))
	}
}

// shardOf is what replay computes for a decoded packet (pipeline.HostKey):
// the kernel's fanout must return the same. sensor/pipeline's
// TestShardMatchesFanout compares the two over generated frames and every
// shared capture; the fuzz target below over arbitrary bytes.
func shardOf(p *decode.Packet) uint32 {
	// With the hosts map empty, a DHCPv4 message belongs to its client's
	// MAC and anything else to its owner address (sensor/pipeline owners.host).
	if p.Proto == decode.ProtoUDP && (p.DstPort == 67 || p.DstPort == 68) {
		if m, ok := shard.DHCPClientMAC(p.Payload); ok && host.UsableMAC(m) {
			return shard.HashKey(host.MACKey(m))
		}
	}
	sp := shard.Packet{Src: p.Src, Dst: p.Dst, SrcInternal: isDefaultInternal(p.Src), DstInternal: isDefaultInternal(p.Dst),
		Proto: p.Proto, SrcPort: p.SrcPort, DstPort: p.DstPort, Payload: p.Payload}
	return shard.Of(&sp)
}

func isDefaultInternal(a netip.Addr) bool {
	for _, p := range DefaultInternal {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// seedFrames adds real and crafted frames to a fuzz corpus.
func seedFrames(f *testing.F) {
	for _, fs := range realFrames(f) {
		for i, fr := range fs {
			if i < 200 {
				f.Add(fr)
			}
		}
	}
	for _, p := range []pkt{
		{src: "192.168.1.10", dst: "93.184.216.34", sport: 50000, dport: 443, flags: "S"},
		{src: "192.168.1.10", dst: "93.184.216.34", sport: 50000, dport: 443, flags: "A", payload: 100},
		{src: "fd00::10", dst: "2001:db8::1", sport: 50000, dport: 443, flags: "A", payload: 10},
		{src: "10.0.0.5", dst: "142.250.1.1", sport: 50001, dport: 443, udp: true, payload: 50},
		{src: "192.168.1.10", dst: "8.8.8.8", sport: 40000, dport: 53, udp: true, payload: 30, vlan: true},
	} {
		f.Add(p.bytes(f))
	}
	// DHCP, whose address the fanout reads from the message: a request with
	// option 50 and an ack with yiaddr.
	bootp := func(yiaddr byte, opts ...byte) []byte {
		b := make([]byte, 240, 240+len(opts)+1)
		b[16], b[17], b[18], b[19] = 10, 0, 0, yiaddr
		b[236], b[237], b[238], b[239] = 0x63, 0x82, 0x53, 0x63
		return append(append(b, opts...), 255)
	}
	for _, d := range []struct {
		sport, dport uint16
		msg          []byte
	}{
		{68, 67, bootp(0, 53, 1, 3, 0, 0, 50, 4, 10, 0, 0, 44)},
		{67, 68, bootp(44, 53, 1, 5)},
	} {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IPv4zero, DstIP: net.IPv4bcast}
		u := &layers.UDP{SrcPort: layers.UDPPort(d.sport), DstPort: layers.UDPPort(d.dport)}
		u.SetNetworkLayerForChecksum(ip)
		f.Add(serialize(f, &layers.Ethernet{SrcMAC: macA, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeIPv4},
			ip, u, gopacket.Payload(d.msg)))
	}
}

// FuzzFilter runs the pre-filter on arbitrary frames: it must never fail, and
// it may keep from user space only what the decoder sees as a plain TCP or
// UDP packet.
func FuzzFilter(f *testing.F) {
	seedFrames(f)
	o := load(f, Options{})
	var d decode.Decoder
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 14 {
			return // BPF_PROG_TEST_RUN needs an Ethernet header
		}
		checkHidden(t, o, &d, data)
	})
}

// FuzzFanout runs the steering program on arbitrary frames: it must never
// fail, and on every frame replay shards (decoded, or IP-only) it must agree
// with the shard rule with no host bound (shardOf).
func FuzzFanout(f *testing.F) {
	seedFrames(f)
	o := load(f, Options{})
	var d decode.Decoder
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 14 {
			return
		}
		got, err := o.Fanout().Run(runOpts(o.Fanout(), data))
		if harnessRefused(err, data) {
			return
		}
		if err != nil {
			t.Fatalf("fanout run: %v", err)
		}
		p, k := decodeFrame(&d, data)
		if k != decode.OK && k != decode.ErrFragment && k != decode.ErrOtherTransport {
			return // replay does not shard it
		}
		if want := shardOf(&p); got != want {
			t.Fatalf("kernel hash %#x, shard rule %#x for %v %s:%d > %s:%d proto %d vlan %d tunnel %v: % x",
				got, want, k, p.Src, p.SrcPort, p.Dst, p.DstPort, p.Proto, p.VLAN, p.Tunnel, data)
		}
	})
}

// harnessRefused reports inputs BPF_PROG_TEST_RUN itself rejects: an IP
// ethertype without room for the header, or more than about a page of data.
func harnessRefused(err error, data []byte) bool {
	return errors.Is(err, unix.EINVAL) && (len(data) < 14+40 || len(data) > 3000)
}
