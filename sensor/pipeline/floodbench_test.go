package pipeline

import (
	"bytes"
	"context"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"

	"github.com/launchtap/launchtap/internal/synth"
	"github.com/launchtap/launchtap/sensor/capture"
)

// synFrame writes an Ethernet/IPv4/TCP frame without payload into b.
func synFrame(b []byte, src, dst [4]byte, sport, dport uint16, flags uint8) []byte {
	b = b[:54]
	clear(b)
	copy(b[0:6], []byte{0, 0x1b, 0x21, 1, 2, 3})
	copy(b[6:12], []byte{0x3c, 0x22, 0xfb, 9, 9, 9})
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	ip := b[14:34]
	ip[0], ip[8], ip[9] = 0x45, 64, 6
	binary.BigEndian.PutUint16(ip[2:], 40)
	copy(ip[12:16], src[:])
	copy(ip[16:20], dst[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	tcp := b[34:54]
	binary.BigEndian.PutUint16(tcp[0:], sport)
	binary.BigEndian.PutUint16(tcp[2:], dport)
	tcp[12], tcp[13] = 5<<4, flags
	binary.BigEndian.PutUint16(tcp[14:], 1024)
	return b
}

// floodCapture is a port scan: one internal host sends SYNs to n distinct
// external destinations at 100 k packets/s, with a host's 60 s beacon
// (handshake and close) interleaved.
func floodCapture(n int) ([]byte, error) {
	var buf bytes.Buffer
	w, err := synth.NewWriter(&buf, false)
	if err != nil {
		return nil, err
	}
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	frame := make([]byte, 64)
	scanner, mac, c2 := [4]byte{10, 9, 9, 9}, [4]byte{10, 1, 2, 3}, [4]byte{198, 51, 100, 7}
	const pps = 100_000
	write := func(ts time.Time, b []byte) error {
		return w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(b), Length: len(b)}, b)
	}
	for i := 0; i < n; i++ {
		ts := t0.Add(time.Duration(i) * time.Second / pps)
		if i%(60*pps) == 0 {
			port := uint16(49152 + i/(60*pps))
			for j, f := range []struct {
				out   bool
				flags uint8
			}{{true, 0x02}, {false, 0x12}, {true, 0x10}, {true, 0x11}, {false, 0x11}} {
				var b []byte
				if f.out {
					b = synFrame(frame, mac, c2, port, 443, f.flags)
				} else {
					b = synFrame(frame, c2, mac, 443, port, f.flags)
				}
				if err := write(ts.Add(time.Duration(j)*10*time.Millisecond), b); err != nil {
					return nil, err
				}
			}
		}
		dst := [4]byte{44, byte(i >> 16), byte(i >> 8), byte(i)}
		if err := write(ts, synFrame(frame, scanner, dst, uint16(1024+i%60000), 80, 0x02)); err != nil {
			return nil, err
		}
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

var floodBench = sync.OnceValues(func() ([]byte, error) { return floodCapture(1_000_000) })

// BenchmarkReplayFlood measures the whole data path on one worker under a
// port scan of 1 M distinct destinations (far beyond --max-sessions, about
// the default --max-pairs): every packet a new session and a new pair. One
// op is one packet.
func BenchmarkReplayFlood(b *testing.B) {
	data, err := floodBench()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var packets uint64
	b.ResetTimer()
	for done := 0; done < b.N; {
		cfg := DefaultConfig()
		cfg.Workers = 1
		p, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		src, err := capture.Options{Stdin: bytes.NewReader(data)}.Open("-")
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			for range p.Alerts() {
			}
		}()
		if err := p.Replay(context.Background(), src); err != nil {
			b.Fatal(err)
		}
		n := p.Stats().Frames
		packets += n
		done += int(n)
	}
	b.ReportMetric(float64(packets)/b.Elapsed().Seconds(), "pkts/s")
}
