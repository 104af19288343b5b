package synth

import (
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// officeShape counts what the office scenario is for: many hosts, DNS before
// connections, many short sessions and small frames.
type officeShape struct {
	frames, bytes, dns, syns int
	hosts                    map[netip.Addr]bool
}

func (o *officeShape) WritePacket(ci gopacket.CaptureInfo, data []byte) error {
	o.frames++
	o.bytes += ci.Length
	p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.NoCopy)
	if ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok {
		if a, ok := netip.AddrFromSlice(ip.SrcIP.To4()); ok && netip.MustParsePrefix("10.30.0.0/16").Contains(a) {
			o.hosts[a] = true
		}
	}
	if u, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP); ok && (u.DstPort == 53 || u.SrcPort == 53) {
		o.dns++
	}
	if t, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP); ok && t.SYN && !t.ACK {
		o.syns++
	}
	return nil
}

func TestOfficeShape(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 300,000 packets")
	}
	o := &officeShape{hosts: map[netip.Addr]bool{}}
	if _, _, err := GenerateWith("office", 1, o, Options{Packets: 300_000}); err != nil {
		t.Fatal(err)
	}
	mean := o.bytes / o.frames
	t.Logf("%d frames, mean %d B, %d hosts, %d DNS, %d SYNs", o.frames, mean, len(o.hosts), o.dns, o.syns)
	if len(o.hosts) < 100 {
		t.Errorf("%d internal hosts sent packets, want >= 100", len(o.hosts))
	}
	if mean < 350 || mean > 700 {
		t.Errorf("mean frame %d B, want about 500", mean)
	}
	// DNS- and session-heavy: a lookup or a new session every few dozen frames.
	if o.dns*40 < o.frames || o.syns*60 < o.frames {
		t.Errorf("%d DNS packets and %d SYNs in %d frames: not DNS- and session-heavy", o.dns, o.syns, o.frames)
	}
}
