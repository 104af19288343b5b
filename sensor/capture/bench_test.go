package capture

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"

	"github.com/gopacket/gopacket/pcapgo"
)

// endless serves head once, then body over and over: a capture that never
// ends, so a benchmark measures steady-state reading without reopening.
type endless struct {
	head, body []byte
	pos        int
	inBody     bool
}

func (e *endless) Read(p []byte) (int, error) {
	src := e.head
	if e.inBody {
		src = e.body
	}
	n := copy(p, src[e.pos:])
	e.pos += n
	if e.pos == len(src) {
		e.pos, e.inBody = 0, true
	}
	return n, nil
}

// benchFrames is a mix of small frames, the kind a sensor mostly sees.
func benchFrames() []rec {
	recs := make([]rec, 1024)
	for i := range recs {
		recs[i] = rec{ts: 1_700_000_000e9 + int64(i)*1e3, data: bytes.Repeat([]byte{byte(i)}, 60+i%40)}
	}
	return recs
}

// benchPcap returns a pcap file's header and a run of records.
func benchPcap() (head, body []byte) {
	b := pcapBytes(binary.LittleEndian, magicNano, 1, benchFrames()...)
	return b[:24], b[24:]
}

// benchPcapng returns a section with two interfaces and a run of EPBs.
func benchPcapng() (head, body []byte) {
	w := &ng{}
	w.shb(binary.LittleEndian).idb(1, 0, 9, 0).idb(101, 0, -1, 0)
	head = w.buf
	w.buf = nil
	for i, r := range benchFrames() {
		var b []byte
		b = w.bo.AppendUint32(b, uint32(i%2))
		b = w.bo.AppendUint32(b, uint32(uint64(r.ts)>>32))
		b = w.bo.AppendUint32(b, uint32(r.ts))
		b = w.bo.AppendUint32(b, uint32(len(r.data)))
		b = w.bo.AppendUint32(b, uint32(len(r.data)))
		w.block(blockEPB, append(b, r.data...))
	}
	return head, w.buf
}

func benchSource(b *testing.B, src Source) {
	b.Helper()
	defer src.Close()
	var f Frame
	var bytes int64
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for range b.N {
		if err := src.Next(&f); err != nil {
			b.Fatal(err)
		}
		bytes += int64(len(f.Data))
	}
	reportRate(b, cpu)
	b.SetBytes(bytes / int64(b.N))
}

// reportRate reports frames per wall-clock second and CPU nanoseconds per
// frame; the second stays meaningful when other work shares the cores.
func reportRate(b *testing.B, cpuStart int64) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
	if c := cpuTime(); c > 0 {
		b.ReportMetric(float64(c-cpuStart)/float64(b.N), "cpu-ns/op")
	}
}

func openBench(b *testing.B, head, body []byte) Source {
	b.Helper()
	src, err := Options{Stdin: &endless{head: head, body: body}}.Open("-")
	if err != nil {
		b.Fatal(err)
	}
	return src
}

// BenchmarkReadPcap reads one frame per op through Open.
func BenchmarkReadPcap(b *testing.B) {
	head, body := benchPcap()
	b.Run("launchtap", func(b *testing.B) { benchSource(b, openBench(b, head, body)) })
	b.Run("pcapgo", func(b *testing.B) {
		r, err := pcapgo.NewReader(&endless{head: head, body: body})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		cpu := cpuTime()
		for range b.N {
			if _, _, err := r.ZeroCopyReadPacketData(); err != nil {
				b.Fatal(err)
			}
		}
		reportRate(b, cpu)
	})
	b.Run("gzip", func(b *testing.B) {
		// Concatenated gzip members: the header's, then the records' forever.
		benchSource(b, openBench(b, gz(b, head), gz(b, body)))
	})
}

// BenchmarkReadPcapng reads one frame per op through Open.
func BenchmarkReadPcapng(b *testing.B) {
	head, body := benchPcapng()
	b.Run("launchtap", func(b *testing.B) { benchSource(b, openBench(b, head, body)) })
	b.Run("pcapgo", func(b *testing.B) {
		r, err := pcapgo.NewNgReader(&endless{head: head, body: body}, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		cpu := cpuTime()
		for range b.N {
			if _, _, err := r.ZeroCopyReadPacketData(); err != nil {
				b.Fatal(err)
			}
		}
		reportRate(b, cpu)
	})
}

// BenchmarkReadMerged merges two pcap inputs frame by frame.
func BenchmarkReadMerged(b *testing.B) {
	head, body := benchPcap()
	head2, body2 := benchPcapng()
	srcs := []Source{}
	for _, in := range []*endless{{head: head, body: body}, {head: head2, body: body2}} {
		s, err := openStream("bench", in, func() error { return nil }, readBufSize(2))
		if err != nil {
			b.Fatal(err)
		}
		srcs = append(srcs, s)
	}
	benchSource(b, newReader([]string{"a", "b"}, srcs))
}

var _ io.Reader = (*endless)(nil)
