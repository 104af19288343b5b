// Package floodcap writes flood captures for throughput and robustness
// tests: one internal host scanning distinct external destinations with
// SYNs, and a Mac's beacon (a whole TCP session every period) interleaved.
// BenchmarkReplayFlood and `make bench` (through cmd launchtap-flood) use
// it. It is a test tool, not part of the sensor.
package floodcap

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/gopacket/gopacket"
)

// PacketWriter takes frames in timestamp order (pcapgo's writers, synth's).
type PacketWriter interface {
	WritePacket(ci gopacket.CaptureInfo, data []byte) error
}

// Options shape a flood.
type Options struct {
	Packets int           // scan SYNs (the beacon's packets come on top)
	Rate    int           // scan SYNs per second of capture time (default 100,000)
	Period  time.Duration // the beacon's period (default 60 s)
	Start   time.Time     // first packet (default 2026-03-02 08:00 UTC)
}

// Addresses used: the scanner, the Mac and its C2 server.
var (
	Scanner = [4]byte{10, 9, 9, 9}
	Mac     = [4]byte{10, 1, 2, 3}
	C2      = [4]byte{198, 51, 100, 7}
)

// Write writes the flood to w: each scan SYN goes to a new destination in
// 44.0.0.0/8 (16.7 M distinct before they repeat) from a rotating source port.
func Write(w PacketWriter, o Options) error {
	if o.Packets <= 0 {
		return fmt.Errorf("floodcap: %d packets: want at least one", o.Packets)
	}
	if o.Rate <= 0 {
		o.Rate = 100_000
	}
	if o.Period <= 0 {
		o.Period = 60 * time.Second
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	}
	frame := make([]byte, 64)
	write := func(ts time.Time, b []byte) error {
		return w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(b), Length: len(b)}, b)
	}
	perBeat := int(int64(o.Period) * int64(o.Rate) / int64(time.Second))
	if perBeat < 1 {
		perBeat = 1
	}
	// The beacon's packets wait here until the scan reaches their time, so
	// that the capture stays in timestamp order.
	type held struct {
		ts   time.Time
		data []byte
	}
	var beacon []held
	flush := func(until time.Time) error {
		for len(beacon) > 0 && !beacon[0].ts.After(until) {
			if err := write(beacon[0].ts, beacon[0].data); err != nil {
				return err
			}
			beacon = beacon[1:]
		}
		return nil
	}
	for i := 0; i < o.Packets; i++ {
		ts := o.Start.Add(time.Duration(int64(i) * int64(time.Second) / int64(o.Rate)))
		if i%perBeat == 0 {
			port := uint16(49152 + (i/perBeat)%16384)
			for j, f := range []struct {
				out   bool
				flags uint8
			}{{true, 0x02}, {false, 0x12}, {true, 0x10}, {true, 0x11}, {false, 0x11}} {
				var b []byte
				if f.out {
					b = TCPFrame(make([]byte, 54), Mac, C2, port, 443, f.flags)
				} else {
					b = TCPFrame(make([]byte, 54), C2, Mac, 443, port, f.flags)
				}
				beacon = append(beacon, held{ts.Add(time.Duration(j) * 10 * time.Millisecond), b})
			}
		}
		if err := flush(ts); err != nil {
			return err
		}
		dst := [4]byte{44, byte(i >> 16), byte(i >> 8), byte(i)}
		if err := write(ts, TCPFrame(frame, Scanner, dst, uint16(1024+i%60000), 80, 0x02)); err != nil {
			return err
		}
	}
	if err := flush(time.Unix(1<<40, 0)); err != nil {
		return err
	}
	return nil
}

// TCPFrame writes an Ethernet/IPv4/TCP frame without payload into b (at
// least 54 bytes) and returns it.
func TCPFrame(b []byte, src, dst [4]byte, sport, dport uint16, flags uint8) []byte {
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
