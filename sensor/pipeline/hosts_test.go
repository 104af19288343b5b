package pipeline

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/launchtap/launchtap/internal/pkttest"
	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/beacon"
	"github.com/launchtap/launchtap/sensor/decode"
	"github.com/launchtap/launchtap/sensor/host"
)

// identityRun feeds one worker, reading its own packets, and returns the
// alerts it raised.
type identityRun struct {
	t      *testing.T
	p      *Pipeline
	w      *worker
	alerts []*alert.Alert
}

func newIdentityRun(t *testing.T) *identityRun {
	cfg := DefaultConfig()
	cfg.Workers = 1
	cfg.OS = alert.OSPolicyAny
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &identityRun{t: t, p: p, w: p.workers[0]}
}

func (r *identityRun) feed(p decode.Packet) {
	r.w.read(&p, decode.OK)
	for {
		select {
		case a := <-r.p.alerts:
			r.alerts = append(r.alerts, a)
		default:
			return
		}
	}
}

var (
	gatewayMAC = [6]byte{0x00, 0x00, 0x5e, 0x00, 0x01, 0x01}
	gateway    = netip.MustParseAddr("10.20.0.1")
	c2         = netip.MustParseAddr("203.0.113.10")
)

// lease is the server's DHCP ACK of a to mac.
func (r *identityRun) lease(ts int64, a netip.Addr, mac [6]byte) {
	b := pkttest.DHCP4{Reply: true, Type: layers.DHCPMsgTypeAck, CHAddr: mac, YIAddr: a, Lease: 3 * 3600, ServerID: gateway}.Bytes()
	r.feed(decode.Packet{TS: ts, Src: gateway, Dst: netip.MustParseAddr("255.255.255.255"), SrcMAC: gatewayMAC, HasMAC: true,
		TTL: 64, Proto: decode.ProtoUDP, SrcPort: 67, DstPort: 68, Payload: b})
}

// connect is one TCP connection from a (in frames from mac) to dst: SYN,
// the server's answer, and the client's first data.
func (r *identityRun) connect(ts int64, stack pkttest.Stack, a netip.Addr, mac [6]byte, dst netip.Addr, sport uint16) {
	syn := stack.SYN(ts, a, dst, mac, true, 0, sport, 443)
	r.feed(syn)
	synack := decode.Packet{TS: ts + 20e6, Src: dst, Dst: a, SrcMAC: gatewayMAC, DstMAC: mac, HasMAC: true, TTL: 57,
		Proto: decode.ProtoTCP, SrcPort: 443, DstPort: sport, TCPFlags: decode.TCPSyn | decode.TCPAck, Window: 65535}
	r.feed(synack)
	data := decode.Packet{TS: ts + 40e6, Src: a, Dst: dst, SrcMAC: mac, HasMAC: true, TTL: stack.TTL,
		Proto: decode.ProtoTCP, SrcPort: sport, DstPort: 443, TCPFlags: decode.TCPAck | decode.TCPPsh, Payload: []byte("beacon")}
	r.feed(data)
}

// A LaunchAgent beating every 5 minutes from a Mac whose DHCP lease moves
// it to a new address every half hour is one pair and one alert, whose
// host is the Mac's MAC and whose src_ips are the addresses it beat from. A
// Windows laptop given one of the Mac's old addresses later is a host of
// its own: its connections to the same server join nothing of the Mac's.
func TestBeatsFollowTheHostThroughDHCP(t *testing.T) {
	r := newIdentityRun(t)
	mac := [6]byte{0x3c, 0x22, 0xfb, 0x1a, 0x2b, 0x3c}
	win := [6]byte{0x00, 0x15, 0x5d, 0x01, 0x02, 0x03}
	start := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC).UnixNano()
	const period = int64(300 * time.Second)
	var used []netip.Addr
	for i := range 24 {
		ts := start + int64(i)*period
		if i%6 == 0 {
			a := netip.AddrFrom4([4]byte{10, 20, 1, byte(15 + i/6)})
			used = append(used, a)
			r.lease(ts-10e9, a, mac)
		}
		r.connect(ts, pkttest.Darwin, used[len(used)-1], mac, c2, uint16(50000+i))
	}
	// The Windows laptop takes the Mac's first address and reaches the
	// same server at odd moments.
	end := start + 24*period
	r.lease(end, used[0], win)
	for i, d := range []time.Duration{7 * time.Second, 91 * time.Second, 4 * time.Minute, 23 * time.Minute, 24 * time.Minute} {
		r.connect(end+int64(d), pkttest.Windows, used[0], win, c2, uint16(60000+i))
	}
	var toC2 []*alert.Alert
	for _, a := range r.alerts {
		if slices.Contains(a.DstIPs, c2.String()) {
			toC2 = append(toC2, a)
		}
	}
	if len(toC2) != 1 {
		for _, a := range toC2 {
			t.Logf("alert host %s src %s beats %d", a.HostID, a.SrcIP, a.Beats)
		}
		t.Fatalf("%d alerts to the server, want exactly one, the Mac's", len(toC2))
	}
	a := toC2[0]
	if a.HostID != host.MACString(mac) || a.SrcMAC != host.MACString(mac) {
		t.Errorf("host_id %q src_mac %q, want the Mac's MAC", a.HostID, a.SrcMAC)
	}
	// One history across the four leases: the Mac's pair holds every beat.
	beats := map[string]int{}
	r.w.det.Export(0, func(st *beacon.PairState) {
		if st.Key.DestIP == c2 {
			beats[st.Key.Host.String()] += int(st.Beats)
		}
	})
	if beats[host.MACString(mac)] != 24 || beats[host.MACString(win)] == 0 || len(beats) != 2 {
		t.Errorf("beats by host %v: want the Mac's 24 in one pair, the Windows laptop's in its own", beats)
	}
	for _, s := range a.SrcIPs {
		if !slices.Contains(used, netip.MustParseAddr(s)) {
			t.Errorf("src_ips %v holds an address the Mac never had", a.SrcIPs)
		}
	}
	if got := r.p.workers[0].own.binder.Stats().Moved; got != 1 {
		t.Errorf("moved %d, want 1 (the Windows laptop's lease)", got)
	}
	if k := r.w.own.binder.Resolve(used[0]); k != host.MACKey(win) {
		t.Errorf("the re-used address resolves to %s, want the Windows laptop", k)
	}
}

// Behind a router every frame carries the router's MAC: hosts stay keyed
// by their addresses (and the summary says identity is by address).
func TestRoutedHostsKeepTheirAddresses(t *testing.T) {
	r := newIdentityRun(t)
	router := [6]byte{0x00, 0x00, 0x5e, 0x00, 0x01, 0x02}
	start := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC).UnixNano()
	for i := range 8 {
		for h := range 6 {
			a := netip.AddrFrom4([4]byte{10, 20, 3, byte(10 + h)})
			syn := pkttest.Darwin.SYN(start+int64(i)*int64(300*time.Second)+int64(h)*1e9, a, c2, router, true, 1, uint16(50000+i), 443)
			r.feed(syn)
		}
	}
	st := r.w.own.binder.Stats()
	if st.ByMAC != 0 || st.Bindings != 0 {
		t.Errorf("stats %+v: routed frames must bind nothing", st)
	}
}
