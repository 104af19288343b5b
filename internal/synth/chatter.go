package synth

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/miekg/dns"
)

// DHCP parameter request lists (option 55) of the real clients.
var (
	// Apple IPConfiguration (apple-oss-distributions/bootp).
	prlMacOS = []byte{1, 121, 3, 6, 15, 108, 114, 119, 252, 95, 44, 46}
	prlIOS   = []byte{1, 121, 3, 6, 15, 108, 114, 119, 252}
	// Windows 10/11 DHCP client.
	prlWindows = []byte{1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252}
	// ISC dhclient as Debian configures it.
	prlLinux = []byte{1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42}
)

var (
	dhcpServerIP  = gatewayIP
	dhcpServerMAC = gatewayMAC
	netmask       = net.IPv4(255, 255, 0, 0).To4()
)

// darwinMajor maps a macOS/iOS version to its Darwin major (macOS 14 → 23, iOS 17 → 23).
func (h *host) darwinMajor() int {
	v, _ := strconv.Atoi(strings.SplitN(h.osVersion, ".", 2)[0])
	switch h.os {
	case osMacOS:
		if v >= 11 {
			return v + 9
		}
	case osIOS:
		return v + 6
	}
	return 0
}

func (h *host) darwinVersion() string {
	minor := "0"
	if parts := strings.Split(h.osVersion, "."); len(parts) > 1 {
		minor = parts[1]
	}
	return fmt.Sprintf("%d.%s.0", h.darwinMajor(), minor)
}

// dhcp emits the host's DHCPv4 exchange at t: DISCOVER/OFFER/REQUEST/ACK when
// full, else an INIT-REBOOT REQUEST/ACK (as on wake).
func (w *world) dhcp(h *host, t int64, full bool) { w.dhcpWith(h, t, dhcpOpts{full: full}) }

// dhcpOpts varies a DHCPv4 exchange beyond the plain join.
type dhcpOpts struct {
	full bool
	// nak, when valid, is the address the host held before: it first asks
	// for it again (INIT-REBOOT REQUEST) and the server NAKs, because the
	// lease is gone; then the exchange proceeds (RFC 2131 3.2, 4.3.2).
	nak netip.Addr
	// lease is the lease time the server grants (0: one day).
	lease uint32
}

// dhcpWith is dhcp with options; h.ip is the address the server assigns.
func (w *world) dhcpWith(h *host, t int64, opt dhcpOpts) {
	full := opt.full
	r := h.rng
	xid := r.Uint32()
	var prl []byte
	switch h.os {
	case osMacOS:
		prl = prlMacOS
	case osIOS:
		prl = prlIOS
	case osWindows:
		prl = prlWindows
	default:
		prl = prlLinux
	}
	if h.prl != nil {
		prl = h.prl
	}
	clientID := append([]byte{1}, h.mac...)
	reqIP := h.ip
	reqOpts := func(msg layers.DHCPMsgType, withReqIP bool) layers.DHCPOptions {
		o := layers.DHCPOptions{layers.NewDHCPOption(layers.DHCPOptMessageType, []byte{byte(msg)})}
		lease := []byte{0, 0x76, 0xa7, 0x00} // 7776000 s, what Apple asks for
		switch h.os {
		case osMacOS, osIOS:
			o = append(o,
				layers.NewDHCPOption(layers.DHCPOptParamsRequest, prl),
				layers.NewDHCPOption(layers.DHCPOptMaxMessageSize, []byte{0x05, 0xdc}),
				layers.NewDHCPOption(layers.DHCPOptClientID, clientID))
			if withReqIP {
				o = append(o, layers.NewDHCPOption(layers.DHCPOptRequestIP, reqIP.AsSlice()))
			}
			o = append(o,
				layers.NewDHCPOption(layers.DHCPOptLeaseTime, lease),
				layers.NewDHCPOption(layers.DHCPOptHostname, []byte(h.name)))
		case osWindows:
			o = append(o, layers.NewDHCPOption(layers.DHCPOptClientID, clientID))
			if withReqIP {
				o = append(o, layers.NewDHCPOption(layers.DHCPOptRequestIP, reqIP.AsSlice()))
			}
			fqdn := append([]byte{0, 0, 0}, []byte(h.name+".corp.example")...)
			o = append(o,
				layers.NewDHCPOption(layers.DHCPOptHostname, []byte(strings.ToUpper(h.name))),
				layers.NewDHCPOption(layers.DHCPOpt(81), fqdn),
				layers.NewDHCPOption(layers.DHCPOptClassID, []byte("MSFT 5.0")),
				layers.NewDHCPOption(layers.DHCPOptParamsRequest, prl))
		default:
			if withReqIP {
				o = append(o, layers.NewDHCPOption(layers.DHCPOptRequestIP, reqIP.AsSlice()))
			}
			o = append(o,
				layers.NewDHCPOption(layers.DHCPOptHostname, []byte(h.name)),
				layers.NewDHCPOption(layers.DHCPOptParamsRequest, prl))
		}
		return o
	}
	lease := []byte{0, 1, 0x51, 0x80}
	if opt.lease > 0 {
		lease = binary.BigEndian.AppendUint32(nil, opt.lease)
	}
	srvOpts := func(msg layers.DHCPMsgType) layers.DHCPOptions {
		return layers.DHCPOptions{
			layers.NewDHCPOption(layers.DHCPOptMessageType, []byte{byte(msg)}),
			layers.NewDHCPOption(layers.DHCPOptServerID, dhcpServerIP.AsSlice()),
			layers.NewDHCPOption(layers.DHCPOptLeaseTime, lease),
			layers.NewDHCPOption(layers.DHCPOptSubnetMask, netmask),
			layers.NewDHCPOption(layers.DHCPOptRouter, gatewayIP.AsSlice()),
			layers.NewDHCPOption(layers.DHCPOptDNS, resolverIP.AsSlice()),
			layers.NewDHCPOption(layers.DHCPOptDomainName, []byte("corp.example")),
		}
	}
	cliHdr := ipHdr{srcMAC: h.mac, dstMAC: bcastMAC, src: zeroIP, dst: bcastIP, ttl: 255, id: uint16(r.Uint32()), vlan: h.vlan}
	if h.os == osWindows {
		cliHdr.ttl = 128
	} else if h.os == osLinux {
		cliHdr.ttl = 64
		cliHdr.id = 0
	}
	srvHdr := ipHdr{srcMAC: dhcpServerMAC, dstMAC: h.mac, src: dhcpServerIP, dst: h.ip, ttl: 64, id: uint16(r.Uint32()), vlan: h.vlan}
	client := func(msg layers.DHCPMsgType, secs uint16, withReqIP bool) []byte {
		d := &layers.DHCPv4{Operation: layers.DHCPOpRequest, HardwareType: layers.LinkTypeEthernet,
			HardwareLen: 6, Xid: xid, Secs: secs, ClientIP: net.IPv4zero.To4(), YourClientIP: net.IPv4zero.To4(),
			NextServerIP: net.IPv4zero.To4(), RelayAgentIP: net.IPv4zero.To4(), ClientHWAddr: h.mac,
			Options: reqOpts(msg, withReqIP)}
		if msg == layers.DHCPMsgTypeRequest && full {
			d.Options = append(d.Options, layers.NewDHCPOption(layers.DHCPOptServerID, dhcpServerIP.AsSlice()))
		}
		return w.serializeDHCP(d)
	}
	server := func(msg layers.DHCPMsgType) []byte {
		d := &layers.DHCPv4{Operation: layers.DHCPOpReply, HardwareType: layers.LinkTypeEthernet,
			HardwareLen: 6, Xid: xid, ClientIP: net.IPv4zero.To4(), YourClientIP: h.ip.AsSlice(),
			NextServerIP: net.IPv4zero.To4(), RelayAgentIP: net.IPv4zero.To4(), ClientHWAddr: h.mac,
			Options: srvOpts(msg)}
		return w.serializeDHCP(d)
	}
	var d []dgram
	add := func(at int64, hd ipHdr, sp, dp uint16, b []byte) {
		d = append(d, dgram{at: at, hdr: hd, sport: sp, dport: dp, payload: b})
	}
	if opt.nak.IsValid() {
		// The server answers an INIT-REBOOT request for a lease it no longer
		// holds with a broadcast NAK; the client then starts over with a
		// DISCOVER under a new transaction id.
		reqIP, full = opt.nak, false
		add(t, cliHdr, 68, 67, client(layers.DHCPMsgTypeRequest, 0, true))
		t += 2*ms + r.Int64N(5*ms)
		nak := &layers.DHCPv4{Operation: layers.DHCPOpReply, HardwareType: layers.LinkTypeEthernet,
			HardwareLen: 6, Xid: xid, ClientIP: net.IPv4zero.To4(), YourClientIP: net.IPv4zero.To4(),
			NextServerIP: net.IPv4zero.To4(), RelayAgentIP: net.IPv4zero.To4(), ClientHWAddr: h.mac,
			Options: layers.DHCPOptions{
				layers.NewDHCPOption(layers.DHCPOptMessageType, []byte{byte(layers.DHCPMsgTypeNak)}),
				layers.NewDHCPOption(layers.DHCPOptServerID, dhcpServerIP.AsSlice()),
				layers.NewDHCPOption(layers.DHCPOptMessage, []byte("requested address not available")),
			}}
		nakHdr := srvHdr
		nakHdr.dst, nakHdr.dstMAC = bcastIP, bcastMAC
		add(t, nakHdr, 67, 68, w.serializeDHCP(nak))
		srvHdr.id++
		cliHdr.id++
		t += 1000*ms + r.Int64N(1500*ms) // Apple's client waits before DISCOVER
		xid = r.Uint32()
		reqIP = h.ip
		full = true
	}
	if full {
		add(t, cliHdr, 68, 67, client(layers.DHCPMsgTypeDiscover, 0, false))
		t += 2*ms + r.Int64N(5*ms)
		add(t, srvHdr, 67, 68, server(layers.DHCPMsgTypeOffer))
		t += 3*ms + r.Int64N(10*ms)
		cliHdr.id++
		add(t, cliHdr, 68, 67, client(layers.DHCPMsgTypeRequest, 0, true))
	} else {
		add(t, cliHdr, 68, 67, client(layers.DHCPMsgTypeRequest, 0, true))
	}
	t += 2*ms + r.Int64N(5*ms)
	srvHdr.id++
	add(t, srvHdr, 67, 68, server(layers.DHCPMsgTypeAck))
	w.sendDgrams(d, nil)
}

// dhcpRelease emits the DHCPRELEASE a host unicasts to the server for the
// address it held (ciaddr), as when it leaves the network for good.
func (w *world) dhcpRelease(h *host, t int64, held netip.Addr) {
	r := h.rng
	d := &layers.DHCPv4{Operation: layers.DHCPOpRequest, HardwareType: layers.LinkTypeEthernet,
		HardwareLen: 6, Xid: r.Uint32(), ClientIP: held.AsSlice(), YourClientIP: net.IPv4zero.To4(),
		NextServerIP: net.IPv4zero.To4(), RelayAgentIP: net.IPv4zero.To4(), ClientHWAddr: h.mac,
		Options: layers.DHCPOptions{
			layers.NewDHCPOption(layers.DHCPOptMessageType, []byte{byte(layers.DHCPMsgTypeRelease)}),
			layers.NewDHCPOption(layers.DHCPOptServerID, dhcpServerIP.AsSlice()),
			layers.NewDHCPOption(layers.DHCPOptClientID, append([]byte{1}, h.mac...)),
		}}
	hd := ipHdr{srcMAC: h.mac, dstMAC: dhcpServerMAC, src: held, dst: dhcpServerIP, ttl: 64, id: uint16(r.Uint32()), vlan: h.vlan}
	if h.os == osWindows {
		hd.ttl = 128
	}
	w.sendDgrams([]dgram{{at: t, hdr: hd, sport: 68, dport: 67, payload: w.serializeDHCP(d)}}, nil)
}

func (w *world) serializeDHCP(d *layers.DHCPv4) []byte {
	buf := gopacket.NewSerializeBuffer()
	if err := d.SerializeTo(buf, gopacket.SerializeOptions{FixLengths: true}); err != nil {
		w.err = fmt.Errorf("dhcp: %w", err)
		return nil
	}
	b := buf.Bytes()
	if len(b) < 300 { // BOOTP minimum; real clients pad
		b = append(b, make([]byte, 300-len(b))...)
	}
	return append([]byte(nil), b...)
}

// mdnsAnnounce emits an unsolicited Bonjour announcement from an Apple host:
// its .local A record, _companion-link._tcp and _device-info._tcp TXT with
// model= (and osxvers= on a Mac). Announcements repeat after 1 s and 2 s.
func (w *world) mdnsAnnounce(h *host, t int64) {
	if h.avahi != "" {
		w.avahiAnnounce(h, t)
		return
	}
	if !h.os.apple() {
		return
	}
	local := h.name + ".local."
	inst := h.name
	if h.local != "" {
		local, inst = h.local+".local.", h.local
	}
	const flush = dns.ClassINET | 0x8000
	m := new(dns.Msg)
	m.Response = true
	m.Authoritative = true
	txt := []string{"model=" + h.model}
	if h.os == osMacOS {
		txt = append(txt, "osxvers="+strconv.Itoa(h.darwinMajor()))
	}
	m.Answer = []dns.RR{
		&dns.A{Hdr: dns.RR_Header{Name: local, Rrtype: dns.TypeA, Class: flush, Ttl: 120}, A: h.ip.AsSlice()},
		&dns.PTR{Hdr: dns.RR_Header{Name: "_companion-link._tcp.local.", Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: 4500},
			Ptr: inst + "._companion-link._tcp.local."},
		&dns.SRV{Hdr: dns.RR_Header{Name: inst + "._companion-link._tcp.local.", Rrtype: dns.TypeSRV, Class: flush, Ttl: 120},
			Port: uint16(49152 + h.rng.IntN(16000)), Target: local},
		&dns.TXT{Hdr: dns.RR_Header{Name: inst + "._companion-link._tcp.local.", Rrtype: dns.TypeTXT, Class: flush, Ttl: 4500},
			Txt: []string{"rpBA=" + strings.ToUpper(h.mac.String()), "rpVr=" + "510.20.1"}},
		&dns.TXT{Hdr: dns.RR_Header{Name: inst + "._device-info._tcp.local.", Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 4500},
			Txt: txt},
	}
	b, err := m.Pack()
	if err != nil {
		w.err = fmt.Errorf("mdns: %w", err)
		return
	}
	hd := ipHdr{srcMAC: h.mac, dstMAC: mdnsMAC, src: h.ip, dst: mdnsIP, ttl: 255, vlan: h.vlan}
	var d []dgram
	for i := int64(0); i < 3; i++ {
		hd.id = uint16(h.rng.Uint32())
		d = append(d, dgram{at: t + i*sec, hdr: hd, sport: 5353, dport: 5353, payload: b})
	}
	w.sendDgrams(d, nil)
}

// avahiAnnounce is a Linux Samba server's Avahi announcement: _smb._tcp and
// a _device-info._tcp TXT with Samba's model (MacSamba by default), which
// must not make the host a Mac.
func (w *world) avahiAnnounce(h *host, t int64) {
	local := h.name + ".local."
	const flush = dns.ClassINET | 0x8000
	m := new(dns.Msg)
	m.Response = true
	m.Authoritative = true
	m.Answer = []dns.RR{
		&dns.A{Hdr: dns.RR_Header{Name: local, Rrtype: dns.TypeA, Class: flush, Ttl: 120}, A: h.ip.AsSlice()},
		&dns.PTR{Hdr: dns.RR_Header{Name: "_smb._tcp.local.", Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: 4500},
			Ptr: h.name + "._smb._tcp.local."},
		&dns.SRV{Hdr: dns.RR_Header{Name: h.name + "._smb._tcp.local.", Rrtype: dns.TypeSRV, Class: flush, Ttl: 120},
			Port: 445, Target: local},
		&dns.TXT{Hdr: dns.RR_Header{Name: h.name + "._device-info._tcp.local.", Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 4500},
			Txt: []string{"model=" + h.avahi}},
	}
	b, err := m.Pack()
	if err != nil {
		w.err = fmt.Errorf("mdns: %w", err)
		return
	}
	hd := ipHdr{srcMAC: h.mac, dstMAC: mdnsMAC, src: h.ip, dst: mdnsIP, ttl: 255, df: true, vlan: h.vlan}
	w.sendDgrams([]dgram{{at: t, hdr: hd, sport: 5353, dport: 5353, payload: b}}, nil)
}

// mdnsQuery emits a Bonjour browse query (QU bit clear) for service types.
func (w *world) mdnsQuery(h *host, t int64, types ...string) {
	m := new(dns.Msg)
	for _, ty := range types {
		m.Question = append(m.Question, dns.Question{Name: ty, Qtype: dns.TypePTR, Qclass: dns.ClassINET})
	}
	b, err := m.Pack()
	if err != nil {
		w.err = fmt.Errorf("mdns: %w", err)
		return
	}
	hd := ipHdr{srcMAC: h.mac, dstMAC: mdnsMAC, src: h.ip, dst: mdnsIP, ttl: 255, id: uint16(h.rng.Uint32()), vlan: h.vlan}
	w.sendDgrams([]dgram{{at: t, hdr: hd, sport: 5353, dport: 5353, payload: b}}, nil)
}

// userAgent is the host's cleartext HTTP User-Agent for app traffic.
func (h *host) userAgent(app string) string {
	switch h.os {
	case osMacOS, osIOS:
		return app + " CFNetwork/1496.0.7 Darwin/" + h.darwinVersion()
	case osWindows:
		return "Microsoft-CryptoAPI/10.0"
	default:
		return "Debian APT-HTTP/1.3 (2.6.1)"
	}
}

func httpRequest(host, path, ua string) []byte {
	return []byte("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nAccept: */*\r\nUser-Agent: " + ua +
		"\r\nAccept-Language: en-US,en;q=0.9\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n\r\n")
}

func httpResponse(ctype string, body int) []byte {
	return []byte("HTTP/1.1 200 OK\r\nContent-Type: " + ctype + "\r\nContent-Length: " + strconv.Itoa(body) +
		"\r\nCache-Control: max-age=300\r\nConnection: keep-alive\r\n\r\n")
}

// httpGet emits a cleartext HTTP/1.1 GET over a fresh connection.
func (w *world) httpGet(h *host, name, path, ua string, t int64, body int, onFirst func(*world)) (netip.Addr, bool) {
	req := httpRequest(name, path, ua)
	resp := httpResponse("application/octet-stream", body)
	return w.tcpSession(h, name, 80, t, func(c *tcpConn) {
		c.exchange(len(req), len(resp)+body, req, resp, 5*ms+h.rng.Int64N(40*ms))
		c.close(true, 50*ms+h.rng.Int64N(2*sec))
	}, onFirst)
}

// tcpSession resolves name (DNS first when not cached) and runs one TCP
// session to it whose script is filled by fill after the handshake.
func (w *world) tcpSession(h *host, name string, port uint16, t int64, fill func(c *tcpConn), onFirst func(*world)) (netip.Addr, bool) {
	return w.tcpSessionQ(h, name, port, t, h.os != osWindows || h.rng.IntN(2) == 0, fill, onFirst)
}

// tcpSessionQ is tcpSession with the choice of also querying AAAA.
func (w *world) tcpSessionQ(h *host, name string, port uint16, t int64, aaaa bool, fill func(c *tcpConn), onFirst func(*world)) (netip.Addr, bool) {
	addr, s, ready, ok := w.resolve(h, name, t, aaaa)
	if !ok {
		return addr, false
	}
	c := newConn(w, h, s.peer(addr), port)
	c.onFirst = onFirst
	c.sni = name
	c.open(0)
	fill(c)
	w.at(ready+200*us+h.rng.Int64N(2*ms), c)
	return addr, true
}

// tls appends a TLS-looking session of out/in bytes: ClientHello, server
// flight, then application data, closed by the client (FIN) or with RST.
func (c *tcpConn) tls(out, in int, rst bool) *tcpConn {
	r := c.rng
	hello := 517 + r.IntN(2)*64
	flight := min(in, 2800+r.IntN(1800))
	c.exchange(hello, flight, tlsHead(0x16, 0x01), tlsHead(0x16, 0x02), 2*ms+r.Int64N(8*ms))
	c.acts[len(c.acts)-2].hello = true
	if rest := out - hello - 80; rest > 0 {
		c.send(true, 80, tlsHead(0x14, 0x01), 300*us)
		c.send(true, rest, tlsHead(0x17, 0), 200*us)
	}
	if rest := in - flight; rest > 0 {
		c.send(false, rest, tlsHead(0x17, 0), c.p.rtt+3*ms+r.Int64N(30*ms))
	}
	if rst {
		c.reset(true, 5*ms+r.Int64N(200*ms))
	} else {
		c.close(true, 5*ms+r.Int64N(200*ms))
	}
	return c
}

// tlsHead is the start of a TLS record of the given content type.
func tlsHead(ctype, hs byte) []byte {
	if hs == 0 {
		return []byte{ctype, 3, 3}
	}
	return []byte{ctype, 3, 1, 0x02, 0x00, hs}
}
