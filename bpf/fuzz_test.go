package bpf

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/sys/unix"

	"github.com/launchtap/launchtap/internal/testenv"
	"github.com/launchtap/launchtap/sensor/capture"
	"github.com/launchtap/launchtap/sensor/decode"
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

// TestFanoutMatchesDecoderOnCaptures checks the kernel's steering hash against
// ShardHash over the decoder's view of real frames: live and replayed traffic
// must shard alike.
func TestFanoutMatchesDecoderOnCaptures(t *testing.T) {
	o := load(t, Options{})
	frames := realFrames(t)
	if len(frames) == 0 {
		t.Skip("no capture files (../shared/captures, testdata/demo.pcapng)")
	}
	var d decode.Decoder
	for name, fs := range frames {
		checked, mism := 0, 0
		for _, f := range fs {
			p, k := decodeFrame(&d, f)
			if k != decode.OK && k != decode.ErrOtherTransport && k != decode.ErrFragment {
				continue
			}
			var sport, dport uint16
			if k == decode.OK && (p.Proto == decode.ProtoTCP || p.Proto == decode.ProtoUDP) {
				sport, dport = p.SrcPort, p.DstPort
			}
			want := ShardHash(p.Src, p.Dst, sport, dport, isDefaultInternal(p.Src), isDefaultInternal(p.Dst))
			got, err := o.Fanout().Run(runOpts(o.Fanout(), f))
			if err != nil {
				t.Fatal(err)
			}
			checked++
			if got != want {
				mism++
				if mism <= 3 {
					t.Errorf("%s: kernel hash %#x, ShardHash %#x for %s:%d > %s:%d proto %d tunnel %v",
						name, got, want, p.Src, sport, p.Dst, dport, p.Proto, p.Tunnel)
				}
			}
		}
		t.Logf("%s: %d frames compared, %d differ", name, checked, mism)
	}
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
// fail, and on frames the decoder reads without encapsulation it must agree
// with ShardHash.
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
		if k != decode.OK || p.Tunnel != decode.TunnelNone {
			return
		}
		want := ShardHash(p.Src, p.Dst, p.SrcPort, p.DstPort, isDefaultInternal(p.Src), isDefaultInternal(p.Dst))
		if got != want {
			t.Fatalf("kernel hash %#x, ShardHash %#x for %s:%d > %s:%d proto %d vlan %d: % x",
				got, want, p.Src, p.SrcPort, p.Dst, p.DstPort, p.Proto, p.VLAN, data)
		}
	})
}

// harnessRefused reports inputs BPF_PROG_TEST_RUN itself rejects: an IP
// ethertype without room for the header, or more than about a page of data.
func harnessRefused(err error, data []byte) bool {
	return errors.Is(err, unix.EINVAL) && (len(data) < 14+40 || len(data) > 3000)
}
