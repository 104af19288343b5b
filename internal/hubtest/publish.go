package hubtest

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/launchtap/launchtap/internal/synth"
	"github.com/launchtap/launchtap/sensor/beacon"
	"github.com/launchtap/launchtap/sensor/hub/obs"
)

// Publisher stands in for a sensor's publisher: it sends frames of
// records to their partition's subject with the frame's message id, as the
// sensor does.
type Publisher struct {
	tb     testing.TB
	js     jetstream.JetStream
	Sensor string
}

// NewPublisher connects a publisher for sensor to url.
func NewPublisher(tb testing.TB, url, sensor string) *Publisher {
	tb.Helper()
	js, err := jetstream.New(Connect(tb, url))
	if err != nil {
		tb.Fatal(err)
	}
	return &Publisher{tb: tb, js: js, Sensor: sensor}
}

// Publish sends recs, all of one kind and about host hostID, as one frame.
func (p *Publisher) Publish(hostID string, recs ...obs.Record) {
	p.tb.Helper()
	var w obs.Writer
	for _, r := range recs {
		if err := w.Add(r); err != nil {
			p.tb.Fatal(err)
		}
	}
	frame := w.Bytes()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := p.js.Publish(ctx, obs.Subject(recs[0].Type(), hostID), frame, jetstream.WithMsgID(obs.MsgID(p.Sensor, frame))); err != nil {
		p.tb.Fatal(err)
	}
}

type discard struct{}

func (discard) WritePacket(gopacket.CaptureInfo, []byte) error { return nil }

// Roaming is what office's sensor (0: A, 1: B) tells the hub of the roaming
// Mac of synth's roaming scenarios: its host evidence and its beats, from
// the scenario's ground truth. The sensor is named office-a or office-b.
func Roaming(tb testing.TB, office int) (*obs.Host, []*obs.Beat) {
	tb.Helper()
	labels, err := synth.Generate(synth.RoamingOffices[office], 1, discard{})
	if err != nil {
		tb.Fatal(err)
	}
	i := slices.IndexFunc(labels, func(l synth.Label) bool { return l.DstFQDN == synth.RoamingFQDN })
	var mac [6]byte
	if _, err := fmt.Sscanf(synth.RoamingMAC, "%02x:%02x:%02x:%02x:%02x:%02x", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]); err != nil {
		tb.Fatal(err)
	}
	sensor := fmt.Sprintf("office-%c", 'a'+office)
	bt := labels[i].BeatTimes
	h := &obs.Host{Sensor: sensor, HostID: synth.RoamingMAC, Hostname: synth.RoamingHostname, MACs: [][6]byte{mac},
		Addrs: []netip.Addr{netip.MustParseAddr(synth.RoamingIP(office))}, OS: "macos", Confidence: 0.9, TS: bt[0].UnixNano() - int64(time.Hour)}
	var beats []*obs.Beat
	for n, ts := range bt {
		beats = append(beats, &obs.Beat{Sensor: sensor, HostID: synth.RoamingMAC, MAC: mac, SrcIP: netip.MustParseAddr(synth.RoamingIP(office + 2*(n/2))),
			Dest: synth.RoamingFQDN, DestIP: netip.MustParseAddr("198.51.100.77"), Port: 443, Proto: 6, Kind: beacon.KindSession,
			TS: ts.UnixNano(), BytesOut: 1200, BytesIn: 2600})
	}
	return h, beats
}
