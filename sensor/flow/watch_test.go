package flow

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/launchtap/launchtap/sensor/decode"
	"github.com/launchtap/launchtap/sensor/netset"
)

// watcher asks to see the first two payload packets of every session and
// stops watching at the first inbound one, as the naming layer does for TCP.
type watcher struct{ recorder }

func (w *watcher) SessionStart(s *Session) {
	w.recorder.SessionStart(s)
	s.Watch = 2
}

func (w *watcher) Payload(s *Session, p *decode.Packet, out bool) {
	w.events = append(w.events, fmt.Sprintf("payload out=%v len=%d watch=%d", out, p.PayloadLen, s.Watch))
	if !out {
		s.Watch = 0
	}
}

type proxies []netip.AddrPort

func (ps proxies) IsProxy(a netip.Addr, port uint16) bool {
	return slices.Contains(ps, netip.AddrPortFrom(a, port))
}

func TestWatchAndProxies(t *testing.T) {
	for _, tc := range []struct {
		name string
		pkts []decode.Packet
		want []string
	}{
		{"client speaks first", []decode.Packet{
			pkt(0, tcp, ">", cdn, 443, syn, 0), pkt(0.1, tcp, "<", cdn, 443, synack, 0), pkt(0.2, tcp, ">", cdn, 443, ack, 0),
			pkt(0.3, tcp, ">", cdn, 443, ack, 517), pkt(0.4, tcp, ">", cdn, 443, ack, 100), pkt(0.5, tcp, ">", cdn, 443, ack, 100),
			pkt(0.6, tcp, "<", cdn, 443, ack, 900),
		}, []string{"start 203.0.113.10:443@0", "payload out=true len=517 watch=1", "payload out=true len=100 watch=0"}},
		{"server speaks first", []decode.Packet{
			pkt(0, tcp, ">", cdn, 25, syn, 0), pkt(0.1, tcp, "<", cdn, 25, synack, 0),
			pkt(0.3, tcp, "<", cdn, 25, ack, 40), pkt(0.4, tcp, ">", cdn, 25, ack, 20), pkt(0.5, tcp, "<", cdn, 25, ack, 40),
		}, []string{"start 203.0.113.10:25@0", "payload out=false len=40 watch=2"}},
		{"udp: the first datagram", []decode.Packet{
			pkt(0, udp, ">", cdn, 443, 0, 1200), pkt(0.1, udp, ">", cdn, 443, 0, 1200), pkt(0.2, udp, ">", cdn, 443, 0, 1200),
		}, []string{"start 203.0.113.10:443@0", "payload out=true len=1200 watch=1", "payload out=true len=1200 watch=0"}},
		{"internal proxy tracked, other internal traffic not", []decode.Packet{
			pkt(0, tcp, ">", other, 3128, syn, 0), pkt(0.1, tcp, ">", other, 3128, ack, 80),
			pkt(1, tcp, ">", other, 445, syn, 0), pkt(1.1, tcp, ">", other, 445, ack, 80),
		}, []string{"start 10.20.3.10:3128@0", "payload out=true len=80 watch=1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &watcher{}
			tr, err := NewTracker(DefaultConfig(), netset.MustParse(netset.DefaultInternal), w)
			if err != nil {
				t.Fatal(err)
			}
			tr.TrackProxies(proxies{netip.MustParseAddrPort(other + ":3128")})
			for i := range tc.pkts {
				tr.Packet(&tc.pkts[i])
			}
			if !slices.Equal(w.events, tc.want) {
				t.Fatalf("events\n%q\nwant\n%q", w.events, tc.want)
			}
		})
	}
}
