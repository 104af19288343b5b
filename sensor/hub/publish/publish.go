// Package publish is the sensor's side of the hub: it takes what the
// pipeline and the alert stage hand it (beats, findings, host evidence,
// names, coverage, local alerts, checkpoints), packs it into obs frames by
// subject, keeps the frames in the on-disk outbox and sends the outbox to
// JetStream in order, each frame with its Nats-Msg-Id, removing frames only
// once the stream acknowledged them. The hub being down costs nothing but
// outbox space; when the link returns the backlog is sent, and what was
// sent twice (an acknowledgement lost in the cut) is stored once.
//
// Nothing here is on the per-packet path: the workers hand over batches of
// beats through a bounded channel and count what did not fit.
package publish

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/launchtap/launchtap/sensor/hub/link"
	"github.com/launchtap/launchtap/sensor/hub/obs"
	"github.com/launchtap/launchtap/sensor/hub/outbox"
)

// Config configures a Publisher.
type Config struct {
	Sensor string
	Outbox *outbox.Outbox
	// Queue bounds the batches (of beats) and records waiting to be packed
	// (0: 1024 each).
	Queue int
	// FlushEvery is how long a partly filled frame waits for more records
	// (0: one second).
	FlushEvery time.Duration
	// SendBatch is how many frames are in flight at once (0: 256).
	SendBatch int
	Log       *slog.Logger
}

// Stats are the publisher's counters.
type Stats struct {
	Records       uint64 // records packed into frames
	QueueDrops    uint64 // records refused because the queue was full
	Refused       uint64 // records that could not be encoded (too large, invalid), logged
	OutboxErrors  uint64 // frames the outbox could not store
	Frames        uint64 // frames put in the outbox
	Sent          uint64 // frames the stream acknowledged
	SentRecords   uint64 // their records
	Duplicates    uint64 // acknowledged frames the stream already had (sent again after a lost acknowledgement)
	PublishErrors uint64 // sends that failed (the hub unreachable, a timeout); retried
	Rejected      uint64 // frames the stream refused for good (larger than its message limit), logged and dropped
	Connected     bool   // the link is up
	Outbox        outbox.Stats
}

// Publisher packs and sends observations.
type Publisher struct {
	cfg   Config
	log   *slog.Logger
	beats chan []obs.Beat
	recs  chan obs.Record
	kick  chan struct{}

	records, queueDrops, refused, outboxErrors, frames atomic.Uint64
	sent, sentRecords, duplicates, publishErrors       atomic.Uint64
	rejected                                           atomic.Uint64
	connected                                          atomic.Bool

	packed  chan struct{} // closed when the packer has put everything in the outbox
	stopped chan struct{} // closed when the sender has returned
	closeMu sync.RWMutex  // Close against senders on the queues
	closed  bool
	stop    context.CancelFunc
}

// New makes a publisher; Start runs it.
func New(cfg Config) *Publisher {
	if cfg.Queue <= 0 {
		cfg.Queue = 1024
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = time.Second
	}
	if cfg.SendBatch <= 0 {
		cfg.SendBatch = 256
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Publisher{cfg: cfg, log: cfg.Log,
		beats: make(chan []obs.Beat, cfg.Queue), recs: make(chan obs.Record, cfg.Queue),
		kick: make(chan struct{}, 1), packed: make(chan struct{}), stopped: make(chan struct{})}
}

// Beats queues a batch of beats without blocking; false (counted) when the
// queue is full. It implements pipeline.HubSink.
func (p *Publisher) Beats(b []obs.Beat) bool {
	p.closeMu.RLock()
	defer p.closeMu.RUnlock()
	if p.closed {
		p.queueDrops.Add(uint64(len(b)))
		return false
	}
	select {
	case p.beats <- b:
		return true
	default:
		p.queueDrops.Add(uint64(len(b)))
		return false
	}
}

// Finding queues a finding; see Beats.
func (p *Publisher) Finding(f obs.Finding) bool { return p.Add(&f) }

// Host queues a host's evidence; see Beats.
func (p *Publisher) Host(h obs.Host) bool { return p.Add(&h) }

// Add queues any record without blocking; false (counted) when the queue is
// full or the publisher is closing.
func (p *Publisher) Add(r obs.Record) bool {
	p.closeMu.RLock()
	defer p.closeMu.RUnlock()
	if p.closed {
		p.queueDrops.Add(1)
		return false
	}
	select {
	case p.recs <- r:
		return true
	default:
		p.queueDrops.Add(1)
		return false
	}
}

// Start packs and sends until Close. js is where frames go.
func (p *Publisher) Start(js jetstream.JetStream, nc *nats.Conn) {
	ctx, cancel := context.WithCancel(context.Background())
	p.stop = cancel
	go p.pack()
	go p.send(ctx, js, nc)
}

// Close stops taking records, puts those queued in the outbox, and gives
// the sender until ctx is done to empty the outbox (what it has not sent
// stays there for the next start). It returns the outbox's error on close.
func (p *Publisher) Close(ctx context.Context) error {
	p.closeMu.Lock()
	if !p.closed {
		p.closed = true
		close(p.beats)
		close(p.recs)
	}
	p.closeMu.Unlock()
	if p.stop == nil { // never started: nothing was packed
		return p.cfg.Outbox.Close()
	}
	<-p.packed
	p.poke()
	// Wait for the outbox to drain, or ctx.
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for p.cfg.Outbox.Stats().Pending > 0 {
		select {
		case <-ctx.Done():
			p.log.Warn("hub: stopping with observations unsent; they stay in the outbox for the next start",
				"frames", p.cfg.Outbox.Stats().Pending)
			goto stop
		case <-t.C:
		}
	}
stop:
	p.stop()
	<-p.stopped
	return p.cfg.Outbox.Close()
}

func (p *Publisher) poke() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Stats are the counters now.
func (p *Publisher) Stats() Stats {
	return Stats{Records: p.records.Load(), QueueDrops: p.queueDrops.Load(), Refused: p.refused.Load(),
		OutboxErrors: p.outboxErrors.Load(), Frames: p.frames.Load(), Sent: p.sent.Load(),
		SentRecords: p.sentRecords.Load(), Duplicates: p.duplicates.Load(), PublishErrors: p.publishErrors.Load(),
		Rejected:  p.rejected.Load(),
		Connected: p.connected.Load(), Outbox: p.cfg.Outbox.Stats()}
}

// pack turns queued records into frames, one open frame per subject, and
// puts a frame in the outbox when it is full or FlushEvery old.
func (p *Publisher) pack() {
	defer close(p.packed)
	open := map[string]*obs.Writer{}
	put := func(subject string, w *obs.Writer) {
		frame := w.Bytes()
		if frame == nil {
			return
		}
		err := p.cfg.Outbox.Append(outbox.Entry{Subject: subject, MsgID: obs.MsgID(p.cfg.Sensor, frame), Frame: frame})
		if err != nil {
			p.outboxErrors.Add(1)
			p.log.Error("hub: outbox refused a frame; its observations are lost", "subject", subject, "records", w.Count(), "err", err)
		} else {
			p.frames.Add(1)
		}
		w.Reset()
		p.poke()
	}
	add := func(r obs.Record) {
		subject := obs.SubjectOf(r)
		w := open[subject]
		if w == nil {
			if len(open) >= 4*obs.Partitions {
				p.flushAll(open, put)
			}
			w = new(obs.Writer)
			open[subject] = w
		}
		err := w.Add(r)
		if errors.Is(err, obs.ErrFull) {
			put(subject, w)
			err = w.Add(r)
		}
		if err != nil {
			p.refused.Add(1)
			p.log.Warn("hub: observation refused", "kind", r.Type(), "err", err)
			return
		}
		p.records.Add(1)
	}
	t := time.NewTicker(p.cfg.FlushEvery)
	defer t.Stop()
	beats, recs := p.beats, p.recs
	for beats != nil || recs != nil {
		select {
		case b, ok := <-beats:
			if !ok {
				beats = nil
				continue
			}
			for i := range b {
				add(&b[i])
			}
		case r, ok := <-recs:
			if !ok {
				recs = nil
				continue
			}
			add(r)
		case <-t.C:
			p.flushAll(open, put)
		}
	}
	p.flushAll(open, put)
}

func (p *Publisher) flushAll(open map[string]*obs.Writer, put func(string, *obs.Writer)) {
	for s, w := range open {
		put(s, w)
		if w.Count() == 0 {
			delete(open, s)
		}
	}
}

// send empties the outbox into the stream in order: a batch of frames is
// published at once, and committed when every one is acknowledged; a
// failure re-sends the whole batch after a pause (the stream's
// de-duplication drops the frames it already has).
func (p *Publisher) send(ctx context.Context, js jetstream.JetStream, nc *nats.Conn) {
	defer close(p.stopped)
	ob := p.cfg.Outbox
	backoff := time.Duration(0)
	ready := false // the stream is known to exist
	idle := time.NewTicker(250 * time.Millisecond)
	defer idle.Stop()
	for {
		p.connected.Store(nc.IsConnected())
		if backoff > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
		}
		es, err := ob.Next(p.cfg.SendBatch, 8<<20)
		if err != nil {
			if errors.Is(err, outbox.ErrClosed) {
				return
			}
			p.log.Error("hub: reading the outbox", "err", err)
			backoff = time.Second
			continue
		}
		if len(es) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-p.kick:
			case <-idle.C:
			}
			continue
		}
		if !ready {
			// The first sensor to reach a new cluster creates the stream.
			ectx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := link.EnsureStream(ectx, js)
			cancel()
			ready = err == nil
		}
		if err := p.publish(ctx, js, es); err != nil {
			ob.Rewind()
			p.publishErrors.Add(1)
			if backoff == 0 {
				p.log.Warn("hub: sending failed; retrying, observations wait in the outbox", "err", err, "pending", ob.Stats().Pending)
			}
			backoff = min(max(2*backoff, 250*time.Millisecond), 10*time.Second)
			continue
		}
		if backoff > 0 {
			p.log.Info("hub: sending again", "pending", ob.Stats().Pending)
		}
		backoff = 0
		if err := ob.Commit(); err != nil {
			p.log.Error("hub: outbox commit", "err", err)
		}
	}
}

// permanent reports an error the stream will give the same frame again:
// one larger than its message limit (a stream an operator created with a
// smaller one).
func permanent(err error) bool {
	var api *jetstream.APIError
	return errors.As(err, &api) && api.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum
}

// publish sends es and waits for every acknowledgement.
func (p *Publisher) publish(ctx context.Context, js jetstream.JetStream, es []outbox.Entry) error {
	futures := make([]jetstream.PubAckFuture, 0, len(es))
	var err error
	for _, e := range es {
		m := nats.NewMsg(e.Subject)
		m.Data = e.Frame
		m.Header.Set(jetstream.MsgIDHeader, e.MsgID)
		f, perr := js.PublishMsgAsync(m, jetstream.WithExpectStream(obs.Stream))
		if perr != nil {
			err = perr
			break
		}
		futures = append(futures, f)
	}
	var sent, records, dups, rejected uint64
	var rejectErr error
	for i, f := range futures {
		select {
		case ack := <-f.Ok():
			sent++
			if len(es[i].Frame) >= 5 {
				records += uint64(binary.BigEndian.Uint16(es[i].Frame[3:5]))
			}
			if ack.Duplicate {
				dups++
			}
		case ferr := <-f.Err():
			if permanent(ferr) {
				// Sending it again would fail again and hold up every frame
				// behind it.
				rejected++
				rejectErr = ferr
				continue
			}
			if err == nil {
				err = ferr
			}
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
		}
	}
	// Counted only when the whole batch is in: a failed batch is sent
	// again, and its frames that did arrive then come back as duplicates.
	if err == nil {
		p.sent.Add(sent)
		p.sentRecords.Add(records)
		p.duplicates.Add(dups)
		if rejected > 0 {
			p.rejected.Add(rejected)
			p.log.Error("hub: the stream refused frames; they are dropped", "frames", rejected, "err", rejectErr)
		}
	}
	return err
}
