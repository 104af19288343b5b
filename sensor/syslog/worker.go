package syslog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"time"
)

// idleCloseAge is how long a connection must have been up for a clean close
// with nothing in flight to count as the receiver's idle timeout.
const idleCloseAge = time.Second

// ackPoll is how often a worker asks the kernel what the receiver acknowledged.
const ackPoll = 50 * time.Millisecond

// flight is a message written to the current connection but not committed.
type flight struct {
	end     uint64    // socket offset after the message
	ackedAt time.Time // zero until the receiver acknowledged it
}

// worker is one destination's delivery state machine. Each turn it moves
// queued messages into the backlog, connects when something is unsent and
// the backoff has passed, sends the unsent records in order, commits what
// the receiver confirmed and waits for the next event. It owns the backlog
// and the connection; only its goroutine touches its fields.
type worker struct {
	d    *dest
	stop <-chan struct{} // Close was called; nil once seen

	c        *conn    // nil while disconnected
	inflight []flight // written on c and not committed, oldest first

	backoff time.Duration // before jitter; doubles per failure, reset when a live connection confirms
	retryAt time.Time     // no dial before
	resend  int           // records still to be sent again after a rewind
	outage  outage

	pace   time.Duration // gap between UDP datagrams; 0 elsewhere
	paceAt time.Time     // next UDP datagram not before

	closing  bool      // flushing for Close
	deadline time.Time // Close's bound

	lastSync time.Time
}

func newWorker(d *dest, stop <-chan struct{}) *worker {
	w := &worker{d: d, stop: stop, backoff: d.cfg.BackoffMin, lastSync: time.Now()}
	if d.d.scheme == schemeUDP {
		w.pace = time.Second / time.Duration(d.cfg.UDPRate)
	}
	return w
}

// run turns the state machine until Close's flush is done or out of time.
func (w *worker) run() {
	tick := time.NewTicker(ackPoll)
	defer tick.Stop()
	for {
		w.fill()
		// One clock reading per turn: acknowledgements seen in this turn
		// are stamped with it.
		now := time.Now()
		w.connect(now)
		w.send()
		w.confirm(now)
		w.sync(now)
		w.d.depth.Store(uint64(w.d.bl.depth()))
		if w.closing && (w.d.bl.depth() == 0 && len(w.d.q) == 0 || !now.Before(w.deadline)) {
			w.shutdown()
			return
		}
		w.wait(tick.C)
	}
}

// fill moves queued messages into the backlog while it has room.
func (w *worker) fill() {
	for !w.d.bl.full() {
		select {
		case b := <-w.d.q:
			w.d.store(b)
		default:
			return
		}
	}
}

// connect dials when nothing is connected, something is unsent and the
// backoff has passed. While flushing for Close the dial stays within its
// bound.
func (w *worker) connect(now time.Time) {
	d := w.d
	if w.c != nil || d.bl.unsent() == 0 || now.Before(w.retryAt) {
		return
	}
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if w.closing {
		ctx, cancel = context.WithDeadline(ctx, w.deadline)
	}
	c, err := d.dial.dial(ctx)
	cancel()
	if err != nil {
		w.lost(err)
		return
	}
	c.opened = time.Now()
	w.c = c
	d.connects.Add(1)
	d.up.Store(true)
}

// send writes what is unsent, in order, until the backlog has nothing more,
// the UDP pace says wait or the connection fails.
func (w *worker) send() {
	d := w.d
	for w.c != nil {
		if w.pace > 0 && time.Now().Before(w.paceAt) {
			return
		}
		// Before a record is taken: writing into a connection whose peer
		// has closed draws a reset that erases the proof of what it read.
		if w.c.peerGone() {
			w.gone()
			return
		}
		rec, err := d.bl.next()
		if err != nil {
			d.log.Error("syslog: reading backlog", "err", err)
			return
		}
		if rec == nil {
			return
		}
		end, err := w.c.write(rec, w.writeTimeout())
		if errors.Is(err, errGone) {
			w.gone()
			return
		}
		if err != nil {
			w.lost(err)
			return
		}
		d.sent.Add(1)
		if w.pace > 0 {
			w.paceAt = time.Now().Add(w.pace)
		}
		if w.resend > 0 {
			w.resend--
			d.retried.Add(1)
		}
		w.inflight = append(w.inflight, flight{end: end})
	}
}

func (w *worker) writeTimeout() time.Duration {
	wt := w.d.cfg.WriteTimeout
	if w.closing {
		wt = max(min(wt, time.Until(w.deadline)), time.Millisecond)
	}
	return wt
}

// confirm commits the oldest in-flight messages the receiver acknowledged
// at least the resend window ago.
func (w *worker) confirm(now time.Time) {
	if w.c == nil || len(w.inflight) == 0 {
		return
	}
	acked, ok := w.c.acked()
	if !ok {
		return
	}
	win := w.window()
	n := 0
	for i := range w.inflight {
		f := &w.inflight[i]
		if f.end > acked {
			break
		}
		if f.ackedAt.IsZero() {
			f.ackedAt = now
		}
		// Every acknowledged message gets its stamp; only an unbroken
		// prefix of old enough ones commits.
		if n == i && now.Sub(f.ackedAt) >= win {
			n++
		}
	}
	if n > 0 {
		w.commit(n)
		w.backoff = w.d.cfg.BackoffMin
	}
}

// window is how long an acknowledged message waits before it commits.
func (w *worker) window() time.Duration {
	if !w.c.window {
		return 0
	}
	if !w.closing {
		return w.d.cfg.ResendWindow
	}
	// At shutdown a TCP ack is enough; UDP still waits briefly for an ICMP
	// error from a receiver that is down.
	if w.c.stream {
		return 0
	}
	return min(w.d.cfg.ResendWindow, 100*time.Millisecond)
}

// commit releases the n oldest in-flight messages as delivered.
func (w *worker) commit(n int) {
	d := w.d
	if err := d.bl.commit(n); err != nil {
		d.log.Error("syslog: spool commit", "err", err)
	}
	w.inflight = append(w.inflight[:0], w.inflight[n:]...)
	d.delivered.Add(uint64(n))
	w.outage.end(d.log, d.bl.depth())
}

// gone handles a connection whose peer has left, however that was seen
// (the reader's EOF or reset, or a write finding the peer closed). A clean
// close confirms what was acknowledged; anything else (reset, refused
// datagram) leaves it to be sent again.
func (w *worker) gone() {
	if acked, ok := w.c.ackedAtClose(); ok {
		n := 0
		for n < len(w.inflight) && w.inflight[n].end <= acked {
			n++
		}
		if n > 0 {
			w.commit(n)
		}
	}
	cerr, _ := w.c.err.Load().(error)
	w.lost(fmt.Errorf("receiver gone: %w", cerr))
}

// lost closes the connection (if any) after err, makes everything in flight
// unsent again and schedules the next dial.
func (w *worker) lost(err error) {
	d := w.d
	var age time.Duration
	if w.c != nil {
		age = time.Since(w.c.opened)
		w.c.close()
		w.c = nil
	}
	d.up.Store(false)
	// Resent are the records that were written; a record taken but not
	// written (the write found the peer gone) goes out as a first send.
	n := len(w.inflight)
	d.bl.rewind()
	w.resend += n
	w.inflight = w.inflight[:0]
	if n == 0 && errors.Is(err, io.EOF) && age >= idleCloseAge {
		// The receiver closed, cleanly, a connection with nothing in
		// flight that had been up a while (an idle timeout): not an
		// outage; reconnect at once, or when there is something to send.
		// A receiver that closes every connection at once still gets the
		// backoff below.
		d.log.Debug("syslog: receiver closed idle connection")
		w.retryAt = time.Time{}
		return
	}
	d.connErrors.Add(1)
	w.outage.fail(d.log, err, n)
	wait := w.backoff/2 + rand.N(w.backoff/2+1)
	w.retryAt = time.Now().Add(wait)
	w.backoff = min(w.backoff*2, d.cfg.BackoffMax)
}

// sync makes the spool durable once a second.
func (w *worker) sync(now time.Time) {
	if now.Sub(w.lastSync) < time.Second {
		return
	}
	if err := w.d.bl.sync(); err != nil {
		w.d.log.Error("syslog: spool sync", "err", err)
	}
	w.lastSync = now
}

// wait blocks until something can move: a message queued, the connection
// lost, the retry or pace time reached, the ack poll, or Close.
func (w *worker) wait(tick <-chan time.Time) {
	d := w.d
	var dead <-chan struct{}
	if w.c != nil {
		dead = w.c.dead
	}
	var retry <-chan time.Time
	var timer *time.Timer
	switch {
	case w.c == nil && d.bl.unsent() > 0:
		timer = time.NewTimer(max(time.Until(w.retryAt), 0))
	case w.c != nil && w.pace > 0 && d.bl.unsent() > 0:
		timer = time.NewTimer(max(time.Until(w.paceAt), 0))
	}
	if timer != nil {
		retry = timer.C
		defer timer.Stop()
	}
	var q <-chan []byte
	if !d.bl.full() {
		q = d.q
	}
	select {
	case b := <-q:
		d.store(b)
	case <-d.wake:
	case <-dead:
		w.gone()
	case <-retry:
	case <-tick:
	case <-w.stop:
		w.closing = true
		w.deadline = time.Unix(0, d.deadline.Load())
		w.stop = nil
	}
}

// store appends one queued message to the backlog, counting a drop when it
// does not fit.
func (d *dest) store(b []byte) {
	err := d.bl.append(b)
	switch {
	case err == nil:
		if d.bl.durable() {
			d.spooled.Add(1)
		}
	case errors.Is(err, errFull):
		if n := d.dropped.Add(1); n&(n-1) == 0 {
			d.log.Warn("syslog: spool full, message dropped", "dropped", n)
		}
	default:
		d.dropped.Add(1)
		d.log.Error("syslog: message dropped", "err", err)
	}
}

// shutdown ends the worker: what is left is dropped (memory) or stays
// spooled for the next start.
func (w *worker) shutdown() {
	d := w.d
	if w.c != nil {
		w.c.close()
	}
	d.up.Store(false)
	w.outage.shutdown(d.log)
	var left uint64
	if d.bl.durable() {
		// Queued but never appended: put them on disk too.
		for {
			select {
			case b := <-d.q:
				d.store(b)
				continue
			default:
			}
			break
		}
		left = uint64(d.bl.depth())
	} else {
		left = uint64(d.bl.depth() + len(d.q))
		d.dropped.Add(left)
	}
	if err := d.bl.close(); err != nil {
		d.log.Error("syslog: closing spool", "err", err)
	}
	d.undelivered.Store(left)
	d.depth.Store(uint64(d.bl.depth()))
}

// outage coalesces a destination's connection failures into two log lines:
// one when the receiver becomes unreachable, one with the count when a
// message is confirmed again (or at shutdown). A connected UDP socket dials
// fine and only learns from ICMP that nobody listens, so "reachable" is a
// confirmed delivery, never a successful dial: a receiver that accepts and
// then drops every connection is one outage, not a line per attempt.
type outage struct {
	since    time.Time // zero while the receiver is reachable
	failures uint64    // failed dials and lost connections since
}

func (o *outage) fail(log *slog.Logger, err error, resending int) {
	o.failures++
	if !o.since.IsZero() {
		log.Debug("syslog: receiver still unreachable", "err", err, "failures", o.failures)
		return
	}
	o.since = time.Now()
	log.Warn("syslog: receiver unreachable, buffering", "err", err, "resending", resending)
}

func (o *outage) end(log *slog.Logger, backlog int) {
	if o.since.IsZero() {
		return
	}
	log.Info("syslog: receiver reachable again", "failures", o.failures,
		"down_for", time.Since(o.since).Round(time.Millisecond), "backlog", backlog)
	*o = outage{}
}

func (o *outage) shutdown(log *slog.Logger) {
	if o.since.IsZero() {
		return
	}
	log.Warn("syslog: receiver unreachable until shutdown", "failures", o.failures,
		"down_for", time.Since(o.since).Round(time.Millisecond))
}
