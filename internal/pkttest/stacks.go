package pkttest

import (
	"encoding/binary"
	"net/netip"

	"github.com/launchtap/launchtap/sensor/decode"
)

// Stack describes how one OS's TCP stack writes its SYN.
type Stack struct {
	Name   string
	TTL    uint8
	DF     bool
	IPID0  bool // IP ID zero (Darwin) rather than counting
	ECN    bool // ECN-setup SYN (ECE+CWR)
	Win    func(mss uint16, v6 bool) uint16
	Layout []byte // option kinds in order; 0 = eol (padded to 4 bytes)
	Scale  uint8
}

// Stacks as observed on the wire from current releases.
var (
	Darwin = Stack{Name: "darwin", TTL: 64, DF: true, IPID0: true, ECN: true,
		Win: func(uint16, bool) uint16 { return 65535 }, Layout: []byte{2, 1, 3, 1, 1, 8, 4, 0}, Scale: 6}
	DarwinNoECN = Stack{Name: "darwin-noecn", TTL: 64, DF: true, IPID0: true,
		Win: func(uint16, bool) uint16 { return 65535 }, Layout: []byte{2, 1, 3, 1, 1, 8, 4, 0}, Scale: 6}
	Windows = Stack{Name: "windows", TTL: 128, DF: true,
		Win: func(uint16, bool) uint16 { return 64240 }, Layout: []byte{2, 1, 3, 1, 1, 4}, Scale: 8}
	Linux = Stack{Name: "linux", TTL: 64, DF: true,
		Win: func(mss uint16, _ bool) uint16 { return 65535 / mss * mss }, Layout: []byte{2, 4, 8, 1, 3}, Scale: 7}
	FreeBSD = Stack{Name: "freebsd", TTL: 64, DF: true,
		Win: func(uint16, bool) uint16 { return 65535 }, Layout: []byte{2, 1, 3, 4, 8}, Scale: 6}
)

// Options renders the stack's SYN options for an MSS.
func (s Stack) Options(mss uint16, tsval uint32) []byte {
	var o []byte
	for _, k := range s.Layout {
		switch k {
		case 0:
			o = append(o, 0)
			for len(o)%4 != 0 {
				o = append(o, 0)
			}
		case 1:
			o = append(o, 1)
		case 2:
			o = binary.BigEndian.AppendUint16(append(o, 2, 4), mss)
		case 3:
			o = append(o, 3, 3, s.Scale)
		case 4:
			o = append(o, 4, 2)
		case 8:
			o = binary.BigEndian.AppendUint32(append(o, 8, 10), tsval)
			o = binary.BigEndian.AppendUint32(o, 0)
		}
	}
	return o
}

// SYN builds the stack's SYN from src, seen hops routers away.
func (s Stack) SYN(ts int64, src, dst netip.Addr, mac [6]byte, hasMAC bool, hops uint8, sport, dport uint16) decode.Packet {
	v6 := src.Is6() && !src.Is4In6()
	mss := uint16(1460)
	if v6 {
		mss = 1440
	}
	p := decode.Packet{
		TS: ts, Src: src, Dst: dst, SrcMAC: mac, HasMAC: hasMAC, IPv6: v6,
		TTL: s.TTL - hops, Proto: decode.ProtoTCP, SrcPort: sport, DstPort: dport,
		TCPFlags: decode.TCPSyn, Seq: 0x12345678 ^ uint32(ts), Window: s.Win(mss, v6),
		TCPOptions: s.Options(mss, uint32(ts/1e6)|1),
	}
	if !v6 {
		p.DF = s.DF
		if !s.IPID0 {
			p.IPID = uint16(ts>>10) | 1
		}
	}
	if s.ECN {
		p.TCPFlags |= decode.TCPEce | decode.TCPCwr
	}
	p.IPLen = 20 + 20 + uint32(len(p.TCPOptions))
	return p
}
