// Package pkttest builds decode.Packet values for host-identification tests:
// from capture files read with gopacket (an independent decoder, so tests do
// not depend on launchtap's own) and from packets serialized with gopacket.
package pkttest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/launchtap/launchtap/sensor/decode"
)

// ReadFile decodes every IP packet of a pcap or pcapng file.
func ReadFile(path string) ([]decode.Packet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("pkttest: %s: %w", path, err)
	}
	type reader interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	}
	var (
		r    reader
		link layers.LinkType
	)
	if string(magic) == "\x0a\x0d\x0d\x0a" {
		ng, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return nil, fmt.Errorf("pkttest: %s: %w", path, err)
		}
		r, link = ng, ng.LinkType()
	} else {
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("pkttest: %s: %w", path, err)
		}
		r, link = pr, pr.LinkType()
	}
	var out []decode.Packet
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("pkttest: %s: %w", path, err)
		}
		gp := gopacket.NewPacket(data, link, gopacket.Default)
		var p decode.Packet
		if FromGopacket(gp, &p) {
			p.TS = ci.Timestamp.UnixNano()
			p.WireLen = uint32(ci.Length)
			out = append(out, p)
		}
	}
}

// FromGopacket fills p from a gopacket-decoded packet and reports whether it
// carried IP. Tunnels are not unwrapped: the outermost IP header is used.
func FromGopacket(gp gopacket.Packet, p *decode.Packet) bool {
	*p = decode.Packet{}
	if eth, ok := gp.Layer(layers.LayerTypeEthernet).(*layers.Ethernet); ok {
		copy(p.SrcMAC[:], eth.SrcMAC)
		copy(p.DstMAC[:], eth.DstMAC)
		p.HasMAC = true
	}
	var tp gopacket.Layer
	switch {
	case gp.Layer(layers.LayerTypeIPv4) != nil:
		ip := gp.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		p.Src, _ = netip.AddrFromSlice(ip.SrcIP.To4())
		p.Dst, _ = netip.AddrFromSlice(ip.DstIP.To4())
		p.TTL, p.TOS, p.IPID = ip.TTL, ip.TOS, ip.Id
		p.DF = ip.Flags&layers.IPv4DontFragment != 0
		p.IPOptLen = uint8(int(ip.IHL)*4 - 20)
		p.IPLen = uint32(ip.Length)
		p.Proto = uint8(ip.Protocol)
		tp = gp.Layer(ip.NextLayerType())
	case gp.Layer(layers.LayerTypeIPv6) != nil:
		ip := gp.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
		p.Src, _ = netip.AddrFromSlice(ip.SrcIP)
		p.Dst, _ = netip.AddrFromSlice(ip.DstIP)
		p.IPv6 = true
		p.TTL, p.TOS = ip.HopLimit, ip.TrafficClass
		p.IPLen = uint32(ip.Length) + 40
		p.Proto = uint8(ip.NextHeader)
		if t := gp.TransportLayer(); t != nil {
			tp = t
		}
	default:
		return false
	}
	switch t := tp.(type) {
	case *layers.TCP:
		p.Proto = decode.ProtoTCP
		p.SrcPort, p.DstPort = uint16(t.SrcPort), uint16(t.DstPort)
		p.Seq, p.Ack, p.Window = t.Seq, t.Ack, t.Window
		for _, f := range []struct {
			on  bool
			bit uint8
		}{{t.FIN, decode.TCPFin}, {t.SYN, decode.TCPSyn}, {t.RST, decode.TCPRst}, {t.PSH, decode.TCPPsh},
			{t.ACK, decode.TCPAck}, {t.URG, decode.TCPUrg}, {t.ECE, decode.TCPEce}, {t.CWR, decode.TCPCwr}} {
			if f.on {
				p.TCPFlags |= f.bit
			}
		}
		if hl := int(t.DataOffset) * 4; hl > 20 && hl <= len(t.Contents) {
			p.TCPOptions = t.Contents[20:hl]
		}
		p.Payload = t.Payload
		p.PayloadLen = uint32(len(t.Payload))
	case *layers.UDP:
		p.Proto = decode.ProtoUDP
		p.SrcPort, p.DstPort = uint16(t.SrcPort), uint16(t.DstPort)
		p.Payload = t.Payload
		p.PayloadLen = uint32(len(t.Payload))
	}
	return true
}

// Serialize builds a frame from layers (checksums and lengths fixed up) and
// decodes it back into a Packet, the way a capture would deliver it.
func Serialize(ts int64, ls ...gopacket.SerializableLayer) (decode.Packet, error) {
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	for _, l := range ls {
		switch n := l.(type) {
		case *layers.TCP:
			for _, o := range ls {
				if nl, ok := o.(gopacket.NetworkLayer); ok {
					_ = n.SetNetworkLayerForChecksum(nl)
				}
			}
		case *layers.UDP:
			for _, o := range ls {
				if nl, ok := o.(gopacket.NetworkLayer); ok {
					_ = n.SetNetworkLayerForChecksum(nl)
				}
			}
		}
	}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		return decode.Packet{}, fmt.Errorf("pkttest: serializing: %w", err)
	}
	data := append([]byte(nil), buf.Bytes()...)
	first := layers.LayerTypeEthernet
	if _, ok := ls[0].(*layers.Ethernet); !ok {
		first = layers.LayerTypeIPv4
		if _, ok := ls[0].(*layers.IPv6); ok {
			first = layers.LayerTypeIPv6
		}
	}
	var p decode.Packet
	if !FromGopacket(gopacket.NewPacket(data, first, gopacket.Default), &p) {
		return p, errors.New("pkttest: serialized frame has no IP layer")
	}
	p.TS = ts
	p.WireLen = uint32(len(data))
	return p, nil
}

// MAC parses a colon-separated MAC address or panics (test input only).
func MAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}
