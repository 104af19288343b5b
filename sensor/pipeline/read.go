package pipeline

import (
	"context"
	"errors"
	"io"

	"github.com/launchtap/launchtap/sensor/capture"
	"github.com/launchtap/launchtap/sensor/decode"
)

// frameReader is the data path's one read loop. Replay runs one over its
// Source (inline with one worker, or feeding the shards); live capture runs
// one per worker over that worker's sockets. It reads and decodes every
// frame, hands on each packet whose IP fields are valid, and keeps the
// counters the stats report.
type frameReader struct {
	dec   decode.Decoder
	frame capture.Frame
	pkt   decode.Packet
	// into, when set, is where the next frame is decoded instead of pkt:
	// the sharded reader decodes each packet into its place in a batch
	// and moves into on to the next place once it has kept one.
	into   *decode.Packet
	frames uint64
	bytes  uint64
}

// readCounts are a reader's counters as Stats reports them.
type readCounts struct {
	frames     uint64 // frames read
	bytes      uint64 // their wire length
	decode     [decode.NumErrKinds]uint64
	decaps     [decode.NumTunnels]uint64
	firstFrags uint64
}

func (r *frameReader) counts() readCounts {
	return readCounts{frames: r.frames, bytes: r.bytes, decode: r.dec.Counts(),
		decaps: r.dec.Decapsulated(), firstFrags: r.dec.FirstFragments()}
}

// readHooks are what the loop calls besides the per-packet handler.
type readHooks struct {
	// tick runs every 1024 frames and once more before run returns: the
	// owner publishes the counters (r.counts()) for the stats readers.
	tick func(r *frameReader)
	// idle runs when a live source reports capture.ErrIdle (a quiet link);
	// nil makes ErrIdle an error like any other.
	idle func()
}

// run reads src to its end (nil), until ctx is done (ctx.Err()) or until
// src fails (its error: a *capture.TruncatedError after every frame before
// the cut was handled). each gets every packet whose IP fields are valid:
// decoded to the transport, or IP-only (fragments, other transports), which
// host identification still reads.
func (r *frameReader) run(ctx context.Context, src capture.Source, each func(*decode.Packet, decode.ErrKind), h readHooks) error {
	defer h.tick(r)
	if g, ok := src.(guardedSource); ok {
		// Frames of a mapped capture file alias the page cache: a file
		// truncated under us faults where its bytes are read, anywhere on
		// this goroutine. That ends the input with an error, not the process.
		return g.Guard(func() error { return r.loop(ctx, src, each, h) })
	}
	return r.loop(ctx, src, each, h)
}

func (r *frameReader) loop(ctx context.Context, src capture.Source, each func(*decode.Packet, decode.ErrKind), h readHooks) error {
	for {
		if err := src.Next(&r.frame); err != nil {
			if h.idle != nil && errors.Is(err, capture.ErrIdle) {
				h.idle()
				if err := ctx.Err(); err != nil {
					return err
				}
				continue
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		r.frames++
		r.bytes += uint64(r.frame.WireLen)
		pkt := r.into
		if pkt == nil {
			pkt = &r.pkt
		}
		if kind := r.dec.Decode(&r.frame, pkt); kind == decode.OK || hasIP(kind) {
			each(pkt, kind)
		}
		if r.frames&1023 == 0 {
			h.tick(r)
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
}

// guardedSource is a Source whose frames can alias a memory-mapped file
// (*capture.Reader, and wrappers that pass Guard on): Guard runs the loop
// so that a fault in the mapping becomes an error.
type guardedSource interface {
	Guard(read func() error) error
}

// hasIP reports decoder results whose IP fields are valid though there is no
// TCP/UDP header: host identification still learns from them.
func hasIP(k decode.ErrKind) bool {
	return k == decode.ErrFragment || k == decode.ErrOtherTransport
}
