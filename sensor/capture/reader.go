package capture

import (
	"errors"
	"io"
)

// Reader is the Source Open returns: one or more inputs merged in timestamp
// order (ties go to the input named first, so one input keeps its order).
//
// An input that ends mid-record ends only itself: its *TruncatedError is kept
// in Warnings and the other inputs go on. When all are done, Next returns
// io.EOF, or the first *TruncatedError if any input was truncated; Warnings
// then lists every truncation. Any other error (a corrupt or oversized
// record, an I/O error) stops the Reader and is returned as is.
//
// Frame.Iface is unique across inputs: with one input it is the file's own
// interface index (pcapng IDB order, counted across sections); with several,
// interfaces are numbered densely in order of their first frame.
type Reader struct {
	names []string
	srcs  []Source
	maps  []*mapping // per input: its memory mapping, nil when read(2) reads it
	cur   []Frame    // the pending frame of each input; Data aliases that input's buffer
	heap  []int      // inputs with a pending frame, a min-heap on (TS, input)
	ifmap [][]int32  // per input: its interface index → merged index, -1 unassigned
	nIf   int32
	last  int // input whose frame went out last and must advance next; -1 none
	warns []error
	err   error // sticky end
}

func newReader(names []string, srcs []Source) *Reader {
	r := &Reader{names: names, srcs: srcs, last: -1}
	if len(srcs) > 1 {
		r.cur = make([]Frame, len(srcs))
		r.ifmap = make([][]int32, len(srcs))
		r.heap = make([]int, 0, len(srcs))
		for i := range srcs {
			if r.pull(i) {
				r.heap = append(r.heap, i)
			}
		}
		for i := len(r.heap)/2 - 1; i >= 0; i-- {
			r.down(i)
		}
	}
	return r
}

// Files names the inputs in the order frames tie-break on: directories
// expanded, "-" as StdinName.
func (r *Reader) Files() []string { return append([]string(nil), r.names...) }

// Warnings returns the truncation of every input that ended mid-record so
// far, each a *TruncatedError naming the file and offset.
func (r *Reader) Warnings() []error { return append([]error(nil), r.warns...) }

// Next delivers the earliest pending frame. f.Data stays valid until the
// next call to Next.
func (r *Reader) Next(f *Frame) error {
	if r.err != nil {
		return r.err
	}
	if len(r.srcs) == 1 {
		err := r.srcs[0].Next(f)
		if err != nil {
			r.finish(err)
			return r.end()
		}
		return nil
	}
	if r.last >= 0 {
		if r.pull(r.last) {
			r.down(0)
		} else {
			n := len(r.heap) - 1
			r.heap[0] = r.heap[n]
			r.heap = r.heap[:n]
			if n > 0 {
				r.down(0)
			}
		}
		r.last = -1
		if r.err != nil {
			return r.err
		}
	}
	if len(r.heap) == 0 {
		return r.end()
	}
	i := r.heap[0]
	*f = r.cur[i]
	f.Iface = r.mapIface(i, f.Iface)
	r.last = i
	return nil
}

// pull advances input i and reports whether it has a pending frame.
func (r *Reader) pull(i int) bool {
	err := r.srcs[i].Next(&r.cur[i])
	if err == nil {
		return true
	}
	r.finish(err)
	return false
}

// finish records how an input ended.
func (r *Reader) finish(err error) {
	var te *TruncatedError
	switch {
	case err == io.EOF:
	case errors.As(err, &te):
		r.warns = append(r.warns, te)
	default:
		if r.err == nil {
			r.err = err
		}
	}
}

// end fixes the Reader's final result once every input is done.
func (r *Reader) end() error {
	if r.err == nil {
		r.err = io.EOF
		if len(r.warns) > 0 {
			r.err = r.warns[0]
		}
	}
	return r.err
}

func (r *Reader) mapIface(in, local int) int {
	m := r.ifmap[in]
	if local < 0 || local >= MaxInterfaces {
		return local
	}
	if local >= len(m) {
		for len(m) <= local {
			m = append(m, -1)
		}
		r.ifmap[in] = m
	}
	if m[local] < 0 {
		m[local] = r.nIf
		r.nIf++
	}
	return int(m[local])
}

func (r *Reader) less(a, b int) bool {
	ta, tb := r.cur[a].TS, r.cur[b].TS
	return ta < tb || ta == tb && a < b
}

func (r *Reader) down(i int) {
	h := r.heap
	for {
		c := 2*i + 1
		if c >= len(h) {
			return
		}
		if c+1 < len(h) && r.less(h[c+1], h[c]) {
			c++
		}
		if !r.less(h[c], h[i]) {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}

// Close closes every input.
func (r *Reader) Close() error {
	var errs []error
	for _, s := range r.srcs {
		if err := s.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	r.err = errClosed
	return errors.Join(errs...)
}
