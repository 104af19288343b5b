package pipeline

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"testing"

	"github.com/launchtap/launchtap/sensor/capture"
	"github.com/launchtap/launchtap/sensor/decode"
)

// frameSource replays fixed frames.
type frameSource struct{ frames []capture.Frame }

func (s *frameSource) Next(f *capture.Frame) error {
	if len(s.frames) == 0 {
		return io.EOF
	}
	*f, s.frames = s.frames[0], s.frames[1:]
	return nil
}

func (s *frameSource) Close() error { return nil }

// ip4 builds an IPv4 header (no options) around payload; flags is the
// flags/fragment-offset word.
func ip4(proto byte, src, dst [4]byte, flags uint16, payload []byte) []byte {
	b := make([]byte, 20, 20+len(payload))
	b[0], b[8], b[9] = 0x45, 64, proto
	binary.BigEndian.PutUint16(b[2:], uint16(20+len(payload)))
	binary.BigEndian.PutUint16(b[6:], flags)
	copy(b[12:], src[:])
	copy(b[16:], dst[:])
	return append(b, payload...)
}

func eth4(l3 []byte) []byte {
	b := []byte{0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00}
	return append(b, l3...)
}

func tcpSYN(sport, dport uint16) []byte {
	b := make([]byte, 20)
	binary.BigEndian.PutUint16(b, sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	b[12], b[13] = 5<<4, decode.TCPSyn
	return b
}

// TestStatsDecoderCounters checks that the decoder's tunnel and
// first-fragment counters reach Stats in both replay modes and in Run.
func TestStatsDecoderCounters(t *testing.T) {
	host, web := [4]byte{192, 168, 1, 10}, [4]byte{93, 184, 216, 34}
	inner := ip4(decode.ProtoTCP, host, web, 0, tcpSYN(50000, 443))
	greFrame := eth4(ip4(decode.ProtoGRE, [4]byte{10, 99, 0, 1}, [4]byte{10, 99, 0, 2}, 0, append([]byte{0, 0, 0x08, 0x00}, inner...)))
	firstFrag := eth4(ip4(decode.ProtoUDP, host, web, 0x2000, []byte{0xc3, 0x50, 0, 53, 0, 40, 0, 0, 1, 2, 3, 4}))
	for _, run := range []struct {
		workers int
		live    bool
	}{{1, false}, {2, false}, {1, true}} {
		t.Run(fmt.Sprintf("workers=%d,live=%v", run.workers, run.live), func(t *testing.T) {
			var frames []capture.Frame
			for i := range 3 {
				frames = append(frames, capture.Frame{TS: int64(i) * 1e9, LinkType: capture.LinkEthernet, Data: greFrame, WireLen: uint32(len(greFrame))})
			}
			frames = append(frames, capture.Frame{TS: 4e9, LinkType: capture.LinkEthernet, Data: firstFrag, WireLen: uint32(len(firstFrag))})
			cfg := DefaultConfig()
			cfg.Workers = run.workers
			p, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				for range p.Alerts() {
				}
			}()
			src := &frameSource{frames: frames}
			if run.live {
				err = p.Run(context.Background(), []capture.Source{src})
			} else {
				err = p.Replay(context.Background(), src)
			}
			if err != nil {
				t.Fatal(err)
			}
			st := p.Stats()
			if got := st.Decapsulated[decode.TunnelGRE]; got != 3 {
				t.Errorf("Decapsulated[gre] = %d, want 3", got)
			}
			if st.FirstFrags != 1 {
				t.Errorf("FirstFrags = %d, want 1", st.FirstFrags)
			}
			if st.Decode[decode.OK] != 4 {
				t.Errorf("Decode[ok] = %d, want 4", st.Decode[decode.OK])
			}
		})
	}
}
