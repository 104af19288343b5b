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
	// Prefault has a goroutine per memory-mapped file map its pages in
	// ahead of the reader, so that the reading goroutine takes no page
	// faults: worth a core's share when the reader feeds several workers.
	Prefault bool

	readBuf int  // tests: read buffer per input instead of readBufSize's
	noMap   bool // tests: read files with read(2), never through a mapping
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
	// List every input first: the read buffers share a budget.
	type input struct {
		path string
		dir  string // the directory it was found in; "" when named
	}
	var (
		ins   []input
		dirs  []string
		stdin bool
	)
	for _, p := range paths {
		if p == "-" {
			if stdin {
				return nil, errors.New("capture: standard input given twice")
			}
			stdin = true
			ins = append(ins, input{path: p})
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("capture: %w", err)
		}
		if !fi.IsDir() {
			ins = append(ins, input{path: p})
			continue
		}
		files, err := listDir(p, log)
		if err != nil {
			return nil, err
		}
		dirs = append(dirs, p)
		for _, f := range files {
			ins = append(ins, input{path: f, dir: p})
		}
	}
	size := readBufSize(len(ins))
	if o.readBuf > 0 {
		size = o.readBuf
	}

	var (
		names  []string
		srcs   []Source
		maps   []*mapping
		perDir = map[string]int{}
	)
	fail := func(err error) (*Reader, error) {
		for _, s := range srcs {
			s.Close()
		}
		return nil, err
	}
	for _, in := range ins {
		var (
			src  Source
			mm   *mapping
			name = in.path
			err  error
		)
		if in.path == "-" {
			name = StdinName
			rd := o.Stdin
			if rd == nil {
				rd = os.Stdin
			}
			src, err = openStream(StdinName, rd, func() error { return nil }, size)
		} else {
			src, mm, err = openFile(in.path, size, !o.noMap, o.Prefault)
		}
		if in.dir != "" && errors.Is(err, ErrNotCapture) {
			log.Warn("capture: skipping file that is not a capture", "path", in.path, "err", err)
			continue
		}
		if err != nil {
			return fail(err)
		}
		names = append(names, name)
		srcs = append(srcs, src)
		maps = append(maps, mm)
		perDir[in.dir]++
	}
	for _, d := range dirs {
		if perDir[d] == 0 {
			return fail(fmt.Errorf("capture: %s: directory holds no capture file: %w", d, ErrNotCapture))
		}
	}
	r := newReader(names, srcs)
	r.maps = maps
	return r, nil
}

// readBufSize shares readBudget among n inputs, within [minReadBuf,
// maxReadBuf]: one large capture is read in large system calls (1 MiB reads
// cost about a sixth less CPU than 128 KiB ones, measured on page-cached
// files), while a directory of many rotated captures, all open at once for
// the merge, stays within the budget.
func readBufSize(n int) int {
	if n < 1 {
		n = 1
	}
	return min(maxReadBuf, max(minReadBuf, readBudget/n))
}

// listDir returns the regular, non-hidden files of dir in name order.
func listDir(dir string, log *slog.Logger) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("capture: reading directory: %w", err)
	}
	var files []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("capture: %w", err)
		}
		if !fi.Mode().IsRegular() {
			log.Warn("capture: skipping directory entry that is not a regular file", "path", p)
			continue
		}
		files = append(files, p)
	}
	return files, nil
}

// openFile opens a capture file: mapped into memory when it is a plain
// (not gzip-compressed) regular file and mapping is allowed, else read
// through a buffer. The mapping is returned for Reader.FaultError.
func openFile(path string, size int, mapOK, prefault bool) (Source, *mapping, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("capture: %w", err)
	}
	if mapOK {
		if mm := mapFile(f, size); mm != nil {
			if m := mm.data; m[0] != 0x1f || m[1] != 0x8b {
				st := &stream{name: path, mm: mm}
				st.setMem(mm.data)
				src, err := openFormat(st, mm.close, false)
				if err != nil {
					mm.close()
					return nil, nil, err
				}
				if prefault {
					mm.startPrefault()
				}
				return src, mm, nil
			}
			unmap(mm.data) //nolint:errcheck // gzip: read through the decompressor instead
		}
	}
	src, err := openStream(path, f, f.Close, size)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return src, nil, nil
}

// openStream sniffs gzip, then the capture format, and reads the header.
// closeFn releases rd; the returned Source calls it from Close.
func openStream(name string, rd io.Reader, closeFn func() error, size int) (Source, error) {
	br := bufio.NewReaderSize(rd, size)
	closeAll := closeFn
	gzipped := false
	if m, _ := br.Peek(2); len(m) == 2 && m[0] == 0x1f && m[1] == 0x8b {
		gzipped = true
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("capture: %s: reading gzip header: %v: %w", name, err, ErrNotCapture)
		}
		br = bufio.NewReaderSize(gz, size)
		closeAll = func() error {
			gz.Close()
			return closeFn()
		}
	}
	return openFormat(&stream{name: name, br: br}, closeAll, gzipped)
}

// openFormat reads the capture header at the start of s. closeAll releases
// what s reads from.
func openFormat(s *stream, closeAll func() error, gzipped bool) (Source, error) {
	name := s.name
	m, err := s.peek(4)
	if len(m) < 4 {
		switch {
		case err == nil, err == io.EOF, errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, errShort):
			return nil, fmt.Errorf("capture: %s: %w (only %d bytes)", name, ErrNotCapture, len(m))
		case gzipped:
			// Corrupt compressed data before any capture header.
			return nil, fmt.Errorf("capture: %s: %w (gzip: %v)", name, ErrNotCapture, err)
		}
		return nil, fmt.Errorf("capture: %s: %w", name, err)
	}
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
