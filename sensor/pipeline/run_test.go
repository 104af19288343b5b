package pipeline

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/launchtap/launchtap/sensor/capture"
)

// idleSource delivers one frame, then reports an idle link, then waits for
// the test before it ends.
type idleSource struct {
	frame   []byte
	ts      int64
	calls   int
	proceed chan struct{}
}

func (s *idleSource) Next(f *capture.Frame) error {
	s.calls++
	switch s.calls {
	case 1:
		*f = capture.Frame{Data: s.frame, TS: s.ts, WireLen: uint32(len(s.frame)), LinkType: capture.LinkEthernet}
		return nil
	case 2:
		return capture.ErrIdle
	}
	<-s.proceed
	return io.EOF
}

func (s *idleSource) Close() error { return nil }

// On a quiet live link the worker still ends idle sessions: ErrIdle makes it
// sweep by the wall clock instead of waiting for the next packet.
func TestRunSweepsOnIdle(t *testing.T) {
	buf := gopacket.NewSerializeBuffer()
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IPv4(10, 0, 0, 5), DstIP: net.IPv4(203, 0, 113, 9)}
	udp := &layers.UDP{SrcPort: 40000, DstPort: 443}
	udp.SetNetworkLayerForChecksum(ip)
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		&layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4},
		ip, udp, gopacket.Payload(make([]byte, 100)))
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Workers = 1
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	src := &idleSource{frame: buf.Bytes(), ts: time.Now().Add(-10 * time.Minute).UnixNano(), proceed: make(chan struct{})}
	done := make(chan error)
	go func() { done <- p.Run(context.Background(), []capture.Source{src}) }()
	go func() {
		for range p.Alerts() {
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for p.Stats().Flow.SessionsEnded == 0 {
		if time.Now().After(deadline) {
			close(src.proceed)
			t.Fatal("the idle UDP session was not ended while the link was quiet")
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(src.proceed)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
