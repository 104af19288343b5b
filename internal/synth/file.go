package synth

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// snapLen is the snap length written into file headers: frames are never cut.
const snapLen = 262144

// FileWriter is a PacketWriter onto a capture file whose format follows the
// file name: .pcap (nanosecond pcap) or .pcapng, optionally followed by .gz.
// Headers carry no host- or time-dependent fields, so output is reproducible.
type FileWriter struct {
	f    *os.File
	buf  *bufio.Writer
	gz   *gzip.Writer
	ng   *pcapgo.NgWriter
	pc   *pcapgo.Writer
	snap int
}

// CreateFile creates path and writes the capture header for its format.
func CreateFile(path string) (*FileWriter, error) { return createFile(path, 0) }

func createFile(path string, snap int) (*FileWriter, error) {
	ng, err := formatOf(path)
	if err != nil {
		return nil, err
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("synth: creating capture: %w", err)
	}
	fw := &FileWriter{f: f, buf: bufio.NewWriterSize(f, 1<<20), snap: snap}
	var out io.Writer = fw.buf
	if strings.HasSuffix(path, ".gz") {
		fw.gz = gzip.NewWriter(fw.buf)
		out = fw.gz
	}
	if err := fw.start(out, ng); err != nil {
		f.Close()
		return nil, fmt.Errorf("synth: writing capture header to %s: %w", path, err)
	}
	return fw, nil
}

// NewWriter returns a PacketWriter that writes pcapng (ng true) or nanosecond
// pcap to w. Call Flush on the result when done.
func NewWriter(w io.Writer, ng bool) (*FileWriter, error) {
	fw := &FileWriter{}
	if err := fw.start(w, ng); err != nil {
		return nil, fmt.Errorf("synth: writing capture header: %w", err)
	}
	return fw, nil
}

func (fw *FileWriter) start(out io.Writer, ng bool) error {
	snap := uint32(snapLen)
	if fw.snap > 0 {
		snap = uint32(fw.snap)
	}
	if ng {
		intf := pcapgo.NgInterface{
			Name:                "span0",
			LinkType:            layers.LinkTypeEthernet,
			SnapLength:          snap,
			TimestampResolution: 9,
		}
		w, err := pcapgo.NewNgWriterInterface(out, intf, pcapgo.NgWriterOptions{
			SectionInfo: pcapgo.NgSectionInfo{Application: "launchtap-synth"},
		})
		if err != nil {
			return err
		}
		fw.ng = w
		return nil
	}
	fw.pc = pcapgo.NewWriterNanos(out)
	return fw.pc.WriteFileHeader(snap, layers.LinkTypeEthernet)
}

func formatOf(path string) (ng bool, err error) {
	p := strings.TrimSuffix(path, ".gz")
	switch {
	case strings.HasSuffix(p, ".pcapng"):
		return true, nil
	case strings.HasSuffix(p, ".pcap"):
		return false, nil
	}
	return false, fmt.Errorf("synth: %s: capture file name must end in .pcap or .pcapng (optionally .gz)", path)
}

// WritePacket implements PacketWriter.
func (fw *FileWriter) WritePacket(ci gopacket.CaptureInfo, data []byte) error {
	if fw.ng != nil {
		return fw.ng.WritePacket(ci, data)
	}
	return fw.pc.WritePacket(ci, data)
}

// Flush writes buffered pcapng data through (pcap writes are unbuffered).
func (fw *FileWriter) Flush() error {
	if fw.ng != nil {
		return fw.ng.Flush()
	}
	return nil
}

// Close flushes every layer and closes the file.
func (fw *FileWriter) Close() error {
	errs := []error{fw.Flush()}
	if fw.gz != nil {
		errs = append(errs, fw.gz.Close())
	}
	if fw.buf != nil {
		errs = append(errs, fw.buf.Flush())
	}
	if fw.f != nil {
		errs = append(errs, fw.f.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("synth: closing capture: %w", err)
	}
	return nil
}

// WriteFile generates scenario name into the capture file path and, when
// labelsPath is not empty, writes its labels there as JSON.
func WriteFile(path, labelsPath, name string, seed uint64, opt Options) ([]Label, Stats, error) {
	fw, err := createFile(path, opt.SnapLen)
	if err != nil {
		return nil, Stats{}, err
	}
	labels, st, err := GenerateWith(name, seed, fw, opt)
	if cerr := fw.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, st, err
	}
	if labelsPath != "" {
		f, err := os.Create(labelsPath)
		if err != nil {
			return nil, st, fmt.Errorf("synth: creating labels: %w", err)
		}
		werr := WriteLabels(f, labels)
		if cerr := f.Close(); werr == nil && cerr != nil {
			werr = fmt.Errorf("synth: closing labels: %w", cerr)
		}
		if werr != nil {
			return nil, st, werr
		}
	}
	return labels, st, nil
}
