package capture

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// StdinName is the file name errors and warnings use for "-".
const StdinName = "stdin"

var errClosed = errors.New("capture: source is closed")

// Options changes where Open reads standard input and logs. The zero value
// is what Open uses.
type Options struct {
	Stdin  io.Reader    // read for "-"; nil means os.Stdin
	Logger *slog.Logger // warns about skipped directory entries; nil means slog.Default()
}

// Open opens capture inputs as one Source (a *Reader) delivering frames in
// timestamp order; see Options.Open.
func Open(paths ...string) (Source, error) {
	r, err := Options{}.Open(paths...)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Open opens every input and reads its header, so that a file that is not a
// capture fails here, with an error wrapping ErrNotCapture that names it.
// Each path is a pcap or pcapng file, optionally gzip-compressed, a directory
// whose capture files are all read (hidden files are ignored, other
// non-captures skipped with a warning), or "-" for standard input (at most
// once).
func (o Options) Open(paths ...string) (*Reader, error) {
	if len(paths) == 0 {
		return nil, errors.New("capture: no input given")
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	var (
		names []string
		srcs  []Source
		stdin bool
	)
	fail := func(err error) (*Reader, error) {
		for _, s := range srcs {
			s.Close()
		}
		return nil, err
	}
	add := func(name string, src Source) {
		names = append(names, name)
		srcs = append(srcs, src)
	}
	for _, p := range paths {
		if p == "-" {
			if stdin {
				return fail(errors.New("capture: standard input given twice"))
			}
			stdin = true
			in := o.Stdin
			if in == nil {
				in = os.Stdin
			}
			src, err := openStream(StdinName, in, func() error { return nil })
			if err != nil {
				return fail(err)
			}
			add(StdinName, src)
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			return fail(fmt.Errorf("capture: %w", err))
		}
		if !fi.IsDir() {
			src, err := openFile(p)
			if err != nil {
				return fail(err)
			}
			add(p, src)
			continue
		}
		n, err := openDir(p, log, add)
		if err != nil {
			return fail(err)
		}
		if n == 0 {
			return fail(fmt.Errorf("capture: %s: directory holds no capture file: %w", p, ErrNotCapture))
		}
	}
	return newReader(names, srcs), nil
}

// openDir opens the capture files of one directory in name order and
// returns how many it added.
func openDir(dir string, log *slog.Logger, add func(string, Source)) (int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("capture: reading directory: %w", err)
	}
	n := 0
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		fi, err := os.Stat(p)
		if err != nil {
			return n, fmt.Errorf("capture: %w", err)
		}
		if !fi.Mode().IsRegular() {
			log.Warn("capture: skipping directory entry that is not a regular file", "path", p)
			continue
		}
		src, err := openFile(p)
		if errors.Is(err, ErrNotCapture) {
			log.Warn("capture: skipping file that is not a capture", "path", p, "err", err)
			continue
		}
		if err != nil {
			return n, err
		}
		add(p, src)
		n++
	}
	return n, nil
}

func openFile(path string) (Source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	src, err := openStream(path, f, f.Close)
	if err != nil {
		f.Close()
		return nil, err
	}
	return src, nil
}

// openStream sniffs gzip, then the capture format, and reads the header.
// closeFn releases rd; the returned Source calls it from Close.
func openStream(name string, rd io.Reader, closeFn func() error) (Source, error) {
	br := bufio.NewReaderSize(rd, bufSize)
	closeAll := closeFn
	gzipped := false
	if m, _ := br.Peek(2); len(m) == 2 && m[0] == 0x1f && m[1] == 0x8b {
		gzipped = true
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("capture: %s: reading gzip header: %v: %w", name, err, ErrNotCapture)
		}
		br = bufio.NewReaderSize(gz, bufSize)
		closeAll = func() error {
			gz.Close()
			return closeFn()
		}
	}
	m, err := br.Peek(4)
	if len(m) < 4 {
		switch {
		case err == nil, err == io.EOF, errors.Is(err, io.ErrUnexpectedEOF):
			return nil, fmt.Errorf("capture: %s: %w (only %d bytes)", name, ErrNotCapture, len(m))
		case gzipped:
			// Corrupt compressed data before any capture header.
			return nil, fmt.Errorf("capture: %s: %w (gzip: %v)", name, ErrNotCapture, err)
		}
		return nil, fmt.Errorf("capture: %s: %w", name, err)
	}
	s := &stream{name: name, br: br}
	switch binary.BigEndian.Uint32(m) {
	case magicMicro, magicNano, magicModified,
		binary.LittleEndian.Uint32([]byte{0xa1, 0xb2, 0xc3, 0xd4}),
		binary.LittleEndian.Uint32([]byte{0xa1, 0xb2, 0x3c, 0x4d}),
		binary.LittleEndian.Uint32([]byte{0xa1, 0xb2, 0xcd, 0x34}):
		return newPcapReader(s, closeAll)
	case magicPcapng:
		r, err := newNgReader(s, closeAll)
		if err != nil {
			return nil, fmt.Errorf("capture: %s: %w (%v)", name, ErrNotCapture, err)
		}
		return r, nil
	}
	return nil, fmt.Errorf("capture: %s: %w (starts % x)", name, ErrNotCapture, m)
}
