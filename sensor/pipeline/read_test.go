package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/launchtap/launchtap/sensor/capture"
)

// memSource delivers frames from memory, then ends with end (io.EOF when nil).
type memSource struct {
	frames []capture.Frame
	i      int
	end    error
}

func (s *memSource) Next(f *capture.Frame) error {
	if s.i == len(s.frames) {
		if s.end != nil {
			return s.end
		}
		return io.EOF
	}
	*f = s.frames[s.i]
	s.i++
	return nil
}

func (s *memSource) Close() error { return nil }

func readAll(t *testing.T, path string) []capture.Frame {
	t.Helper()
	src, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var out []capture.Frame
	var f capture.Frame
	for {
		if err := src.Next(&f); err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			t.Fatal(err)
		}
		g := f
		g.Data = slices.Clone(f.Data)
		out = append(out, g)
	}
}

// runPipeline runs frames through a one-worker pipeline by replay or by the
// live entry point and returns the alerts (as JSON) and the stats.
func runPipeline(t *testing.T, frames []capture.Frame, live bool) ([]string, Stats) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Workers = 1
	cfg.OS = "any"
	alerts, st := runConfig(t, cfg, frames, live)
	st.Elapsed = 0
	return alerts, st
}

// runConfig runs frames through a pipeline of cfg by replay or by the live
// entry point and returns the alerts (as JSON, in the order written) and
// the stats.
func runConfig(t *testing.T, cfg Config, frames []capture.Frame, live bool) ([]string, Stats) {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var alerts []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for a := range p.Alerts() {
			b, _ := json.Marshal(a)
			alerts = append(alerts, string(b))
		}
	}()
	src := &memSource{frames: frames}
	if live {
		err = p.Run(context.Background(), []capture.Source{src})
	} else {
		err = p.Replay(context.Background(), src)
	}
	<-done
	if err != nil {
		t.Fatal(err)
	}
	return alerts, p.Stats()
}

// Replay and live capture run one read loop: the same frames give the same
// alerts and the same counters either way.
func TestRunAndReplayReadAlike(t *testing.T) {
	frames := readAll(t, "../../testdata/demo.pcapng")
	ra, rs := runPipeline(t, frames, false)
	la, ls := runPipeline(t, frames, true)
	if len(ra) == 0 {
		t.Fatal("the demo capture made no alert")
	}
	if !slices.Equal(ra, la) {
		t.Errorf("alerts differ:\nreplay %v\nrun    %v", ra, la)
	}
	if rs.Frames != uint64(len(frames)) || rs.Frames != ls.Frames || rs.Bytes != ls.Bytes || rs.Decode != ls.Decode ||
		rs.Decapsulated != ls.Decapsulated || rs.FirstFrags != ls.FirstFrags || rs.Packets != ls.Packets || rs.Flow != ls.Flow {
		t.Errorf("counters differ:\nreplay %+v\nrun    %+v", rs, ls)
	}
}

// A source failing mid-way: replay reports the error after handling every
// frame before it, and so does a live worker.
func TestReadLoopSourceError(t *testing.T) {
	frames := readAll(t, "../../testdata/demo.pcapng")[:100]
	cut := &capture.TruncatedError{File: "x.pcap", Offset: 4096, Err: io.ErrUnexpectedEOF}
	for _, live := range []bool{false, true} {
		cfg := DefaultConfig()
		cfg.Workers = 1
		p, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for range p.Alerts() {
			}
		}()
		src := &memSource{frames: frames, end: cut}
		if live {
			err = p.Run(context.Background(), []capture.Source{src})
		} else {
			err = p.Replay(context.Background(), src)
		}
		var te *capture.TruncatedError
		if !errors.As(err, &te) {
			t.Errorf("live=%v: error %v, want the *capture.TruncatedError", live, err)
		}
		if st := p.Stats(); st.Frames != 100 {
			t.Errorf("live=%v: %d frames counted, want 100", live, st.Frames)
		}
	}
}

// A live worker stops without error when ctx is done; replay reports it.
func TestReadLoopCancel(t *testing.T) {
	frames := readAll(t, "../../testdata/demo.pcapng")[:2048]
	for _, live := range []bool{false, true} {
		cfg := DefaultConfig()
		cfg.Workers = 1
		p, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for range p.Alerts() {
			}
		}()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		src := &memSource{frames: frames}
		if live {
			err = p.Run(ctx, []capture.Source{src})
		} else {
			err = p.Replay(ctx, src)
		}
		if live && err != nil {
			t.Errorf("live: %v, want nil when ctx is done", err)
		}
		if !live && !errors.Is(err, context.Canceled) {
			t.Errorf("replay: %v, want context.Canceled", err)
		}
		if st := p.Stats(); st.Frames != 1024 {
			t.Errorf("live=%v: stopped after %d frames, want 1024 (ctx is checked every 1024)", live, st.Frames)
		}
	}
}

// shrinkingSource truncates its mapped capture file to cut bytes after the
// first frame, as another process could while launchtap replays it.
type shrinkingSource struct {
	*capture.Reader
	path string
	cut  int64
	done bool
}

func (s *shrinkingSource) Next(f *capture.Frame) error {
	err := s.Reader.Next(f)
	if err == nil && !s.done {
		s.done = true
		if terr := os.Truncate(s.path, s.cut); terr != nil {
			return terr
		}
	}
	return err
}

// A capture file that shrinks while it is replayed through its mapping ends
// the replay with an error naming it, whichever path reads it; nothing
// crashes.
func TestReplayFileShrinks(t *testing.T) {
	data, err := os.ReadFile("../../testdata/demo.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	for _, workers := range []int{1, 2} {
		path := filepath.Join(t.TempDir(), "demo.pcapng")
		st, err := replayShrinking(t, path, data, 8192, workers)
		if err == nil || !strings.Contains(err.Error(), "shrank") || !strings.Contains(err.Error(), path) {
			t.Errorf("%d workers: replay ended with %v, want the file named as shrunk", workers, err)
		}
		if n := st.Frames; n == 0 || n > 100 {
			t.Errorf("%d workers: %d frames read before the cut", workers, n)
		}
	}
}

// replayShrinking writes data to path and replays it with the given
// workers, the file cut to cut bytes after the first frame was read. It
// returns how the replay ended and the pipeline's counters.
func replayShrinking(t *testing.T, path string, data []byte, cut int64, workers int) (Stats, error) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := capture.Options{}.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cfg := DefaultConfig()
	cfg.Workers = workers
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for range p.Alerts() {
		}
	}()
	err = p.Replay(context.Background(), &shrinkingSource{Reader: r, path: path, cut: cut})
	return p.Stats(), err
}
