package decode

import (
	"reflect"
	"testing"

	"github.com/launchtap/launchtap/sensor/capture"
)

// FuzzDecode feeds arbitrary bytes under arbitrary link types. Seeds are the
// crafted frames of the table tests and every frame of the shared captures.
func FuzzDecode(f *testing.F) {
	for _, tc := range append(cases(), tunnelCases()...) {
		f.Add(tc.build(f), uint16(tc.link))
	}
	if dir := sharedCaptures(f); dir != "" {
		for _, c := range loadCaptures(f, dir) {
			f.Add(c.data, uint16(c.link))
		}
	}
	var d Decoder
	f.Fuzz(func(t *testing.T, data []byte, link uint16) {
		fr := capture.Frame{Data: data, TS: 42, WireLen: uint32(len(data)) + uint32(link&0x0f), LinkType: capture.LinkType(link)}
		before := d.Counts()
		var p Packet
		k := d.Decode(&fr, &p)
		if k >= NumErrKinds {
			t.Fatalf("kind %d out of range", k)
		}
		after := d.Counts()
		if after[k] != before[k]+1 {
			t.Fatalf("kind %v counted %d -> %d", k, before[k], after[k])
		}
		checkAliases(t, data, &p)
		if p.TS != 42 || p.WireLen != fr.WireLen {
			t.Fatalf("TS/WireLen not taken from the frame")
		}
		if p.Tunnel.String() == "unknown" {
			t.Fatalf("tunnel %d", p.Tunnel)
		}
		switch k {
		case OK:
			if p.Proto != ProtoTCP && p.Proto != ProtoUDP {
				t.Fatalf("ok with protocol %d", p.Proto)
			}
			if p.PayloadLen < uint32(len(p.Payload)) {
				t.Fatalf("PayloadLen %d < captured payload %d", p.PayloadLen, len(p.Payload))
			}
			fallthrough
		case ErrFragment, ErrOtherTransport:
			if !p.Src.IsValid() || !p.Dst.IsValid() || p.Src.Is4() == p.IPv6 {
				t.Fatalf("%v with addresses %v > %v (IPv6 %v)", k, p.Src, p.Dst, p.IPv6)
			}
		}
		// Decoding is a pure function of the frame: a second run, into a
		// dirty Packet, must give the same answer.
		q := p
		q.SrcPort, q.VLAN, q.Payload = 9, 9, data
		if k2 := d.Decode(&fr, &q); k2 != k || !reflect.DeepEqual(p, q) {
			t.Fatalf("second decode differs: %v %+v vs %v %+v", k, p, k2, q)
		}
	})
}
