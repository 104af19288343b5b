package pkttest

import (
	"encoding/binary"
	"net"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// DHCP4 describes a DHCPv4 message to build.
type DHCP4 struct {
	Reply    bool
	Type     layers.DHCPMsgType
	XID      uint32
	CHAddr   [6]byte
	YIAddr   netip.Addr
	GIAddr   netip.Addr
	PRL      []byte
	Hostname string
	Vendor   string
	Lease    uint32
	ServerID netip.Addr
	ClientID []byte // option 61; nil: type 1 (Ethernet) and CHAddr, as Apple and Windows send
}

// Bytes serializes the message (the UDP payload) with gopacket.
func (d DHCP4) Bytes() []byte {
	m := &layers.DHCPv4{Operation: layers.DHCPOpRequest, HardwareType: layers.LinkTypeEthernet,
		HardwareLen: 6, Xid: d.XID, ClientHWAddr: net.HardwareAddr(d.CHAddr[:]),
		ClientIP: net.IPv4zero, YourClientIP: net.IPv4zero, NextServerIP: net.IPv4zero, RelayAgentIP: net.IPv4zero}
	if d.Reply {
		m.Operation = layers.DHCPOpReply
	}
	if d.YIAddr.IsValid() {
		m.YourClientIP = net.IP(d.YIAddr.AsSlice())
	}
	if d.GIAddr.IsValid() {
		m.RelayAgentIP = net.IP(d.GIAddr.AsSlice())
	}
	m.Options = append(m.Options, layers.NewDHCPOption(layers.DHCPOptMessageType, []byte{byte(d.Type)}))
	if d.ServerID.IsValid() {
		m.Options = append(m.Options, layers.NewDHCPOption(layers.DHCPOptServerID, d.ServerID.AsSlice()))
	}
	if d.Lease > 0 {
		m.Options = append(m.Options, layers.NewDHCPOption(layers.DHCPOptLeaseTime, binary.BigEndian.AppendUint32(nil, d.Lease)))
	}
	if len(d.PRL) > 0 {
		m.Options = append(m.Options, layers.NewDHCPOption(layers.DHCPOptParamsRequest, d.PRL))
	}
	if d.Hostname != "" {
		m.Options = append(m.Options, layers.NewDHCPOption(layers.DHCPOptHostname, []byte(d.Hostname)))
	}
	if d.Vendor != "" {
		m.Options = append(m.Options, layers.NewDHCPOption(layers.DHCPOptClassID, []byte(d.Vendor)))
	}
	cid := d.ClientID
	if cid == nil {
		cid = append([]byte{1}, d.CHAddr[:]...)
	}
	m.Options = append(m.Options, layers.NewDHCPOption(layers.DHCPOptClientID, cid))
	m.Options = append(m.Options, layers.NewDHCPOption(layers.DHCPOptEnd, nil))
	buf := gopacket.NewSerializeBuffer()
	if err := m.SerializeTo(buf, gopacket.SerializeOptions{FixLengths: true}); err != nil {
		panic(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}
