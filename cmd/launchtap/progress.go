package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/launchtap/launchtap/sensor/capture"
)

// progressEvery is how often the progress line is redrawn (a variable for tests).
var progressEvery = 500 * time.Millisecond

// isTerminal reports whether w is a terminal; a variable so tests can say yes.
var isTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), ioctlReadTermios)
	return err == nil
}

// progressSource counts the frames a replay reads and the capture time it
// reached. The counts are the reader goroutine's own and are published every
// 256 frames, so the per-packet cost is an increment and a test.
type progressSource struct {
	capture.Source
	count  uint64
	frames atomic.Uint64
	ts     atomic.Int64
}

func (p *progressSource) Next(f *capture.Frame) error {
	err := p.Source.Next(f)
	if err != nil {
		p.frames.Store(p.count) // the end: the exact count
		return err
	}
	p.count++
	if p.count&255 == 1 {
		p.frames.Store(p.count)
		p.ts.Store(f.TS)
	}
	return nil
}

// Guard passes the capture reader's fault guard on (capture.Reader.Guard):
// the wrapper must not hide it, or a file truncated while a replay shows
// progress would end the process.
func (p *progressSource) Guard(read func() error) error {
	if g, ok := p.Source.(interface{ Guard(func() error) error }); ok {
		return g.Guard(read)
	}
	return read()
}

// progress draws one line on a terminal: capture time reached, how much of
// the input files was read, packets and packets/s.
type progress struct {
	src   *progressSource
	w     io.Writer
	files []inputFile
	total int64
	stop  chan struct{}
	done  sync.WaitGroup
}

// inputFile is a capture file the replay reads, found among the process's
// open descriptors so its read offset can be followed (/proc/self/fdinfo):
// the capture reader need not report it, and gzip files count in compressed
// bytes as their size does.
type inputFile struct {
	fd       int
	dev, ino uint64
	size     int64
}

// startProgress wraps src and draws progress on w when w is a terminal;
// otherwise it returns src and a no-op stop. names are the input files.
func startProgress(src capture.Source, names []string, w io.Writer) (capture.Source, func()) {
	if !isTerminal(w) {
		return src, func() {}
	}
	p := &progress{src: &progressSource{Source: src}, w: w, stop: make(chan struct{})}
	p.findFiles(names)
	p.done.Add(1)
	go p.run()
	return p.src, func() {
		close(p.stop)
		p.done.Wait()
	}
}

func (p *progress) findFiles(names []string) {
	want := map[[2]uint64]int64{}
	for _, n := range names {
		var st syscall.Stat_t
		if n == capture.StdinName || syscall.Stat(n, &st) != nil || st.Mode&syscall.S_IFMT != syscall.S_IFREG {
			continue
		}
		want[[2]uint64{uint64(st.Dev), st.Ino}] = st.Size
		p.total += st.Size
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var st syscall.Stat_t
		if syscall.Fstat(fd, &st) != nil {
			continue
		}
		k := [2]uint64{uint64(st.Dev), st.Ino}
		if size, ok := want[k]; ok {
			p.files = append(p.files, inputFile{fd: fd, dev: uint64(st.Dev), ino: st.Ino, size: size})
			delete(want, k)
		}
	}
	// A file not open now was read whole and closed, or is not followed.
	for _, size := range want {
		p.total -= size
	}
}

// read is how many bytes of the input files were read: each open file's
// offset, and the whole of one that was closed.
func (p *progress) read() int64 {
	var n int64
	for _, f := range p.files {
		var st syscall.Stat_t
		if syscall.Fstat(f.fd, &st) != nil || uint64(st.Dev) != f.dev || st.Ino != f.ino {
			n += f.size // closed: read to its end
			continue
		}
		n += min(fdPos(f.fd), f.size)
	}
	return n
}

// fdPos is the file offset of fd, from /proc/self/fdinfo.
func fdPos(fd int) int64 {
	b, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(fd))
	if err != nil {
		return 0
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "pos:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

func (p *progress) run() {
	defer p.done.Done()
	t := time.NewTicker(progressEvery)
	defer t.Stop()
	start := time.Now()
	var lastFrames uint64
	last := start
	for {
		select {
		case <-p.stop:
			fmt.Fprint(p.w, "\r\x1b[K") // leave the terminal as it was for the summary
			return
		case now := <-t.C:
			frames := p.src.frames.Load()
			rate := float64(frames-lastFrames) / now.Sub(last).Seconds()
			lastFrames, last = frames, now
			fmt.Fprint(p.w, "\r\x1b[K"+p.line(frames, rate))
		}
	}
}

// line is the progress line: "replay: 2026-12-06 02:14:07 UTC  42% of 1.2 GiB  3.1 M packets  850 k/s".
func (p *progress) line(frames uint64, rate float64) string {
	var b strings.Builder
	b.WriteString("replay:")
	if ts := p.src.ts.Load(); ts != 0 {
		b.WriteString(" " + time.Unix(0, ts).UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	if p.total > 0 {
		fmt.Fprintf(&b, "  %d%% of %s", 100*p.read()/p.total, humanBytes(uint64(p.total)))
	}
	fmt.Fprintf(&b, "  %s packets  %s/s", humanCount(float64(frames)), humanCount(rate))
	return b.String()
}

// humanCount is n with a k/M/G suffix and three significant digits.
func humanCount(n float64) string {
	switch {
	case n >= 1e9:
		return strconv.FormatFloat(round3(n/1e9), 'f', -1, 64) + " G"
	case n >= 1e6:
		return strconv.FormatFloat(round3(n/1e6), 'f', -1, 64) + " M"
	case n >= 1e3:
		return strconv.FormatFloat(round3(n/1e3), 'f', -1, 64) + " k"
	}
	return strconv.FormatFloat(round3(n), 'f', -1, 64)
}
