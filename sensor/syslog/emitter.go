package syslog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/launchtap/launchtap/sensor/alert"
)

// Emitter sends alerts and sensor status to every configured destination.
// Its methods are safe for concurrent use.
type Emitter struct {
	cfg  Config
	log  *slog.Logger
	mu   sync.Mutex // orders sequence numbers and queue entries across callers
	dsts []*dest

	closed   atomic.Bool
	stop     chan struct{}
	deadline atomic.Int64 // flush deadline, unix ns, set by Close before stop closes
	wg       sync.WaitGroup
}

// DestCounters are one destination's delivery counters.
type DestCounters struct {
	URL          string
	Up           bool   // a connection (or connected datagram socket) is open
	Queued       uint64 // messages accepted by Alert/Stats/Health
	Sent         uint64 // successful writes to the transport, re-sends included
	Retried      uint64 // re-sends after a connection loss
	Delivered    uint64 // confirmed: acknowledged by the peer's TCP (plus ResendWindow), or sent (datagram; UDP after ResendWindow without ICMP error)
	Dropped      uint64 // lost: queue or spool full, encoding failed, or undelivered at shutdown without a spool
	Spooled      uint64 // appended to the on-disk spool
	Depth        uint64 // waiting: queued + not yet confirmed
	Truncated    uint64 // messages cut to fit MaxUDP
	Connects     uint64
	ConnErrors   uint64 // failed dials and lost connections
	SpoolCorrupt uint64 // corrupt spool files/records/cursors skipped
}

// Counters holds the counters of every destination, in --syslog order.
type Counters struct {
	Destinations []DestCounters
}

type dest struct {
	d        destination
	enc      encoder
	dial     dialer
	cfg      *Config
	log      *slog.Logger
	q        chan []byte
	wake     chan struct{}
	bl       backlog
	seq      uint64 // guarded by Emitter.mu
	deadline *atomic.Int64

	up                                                   atomic.Bool
	queued, sent, retried, delivered, dropped, spooled   atomic.Uint64
	depth, truncated, connects, connErrors, spoolCorrupt atomic.Uint64
	undelivered                                          atomic.Uint64 // left at shutdown
}

// New validates cfg, opens spools and starts one worker per destination.
// With no URLs it returns an Emitter that does nothing.
func New(cfg Config, log *slog.Logger) (*Emitter, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	fac, _ := parseFacility(c.Facility)
	e := &Emitter{cfg: c, log: log, stop: make(chan struct{})}
	for _, raw := range c.URLs {
		d, err := newDest(raw, &e.cfg, fac, &e.deadline, log)
		if err != nil {
			e.closeSpools()
			return nil, err
		}
		e.dsts = append(e.dsts, d)
	}
	for _, d := range e.dsts {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			newWorker(d, e.stop).run()
		}()
	}
	return e, nil
}

// newDest parses one --syslog URL and builds its encoder, dialer and
// backlog (opening the spool when there is one).
func newDest(raw string, c *Config, fac int, deadline *atomic.Int64, log *slog.Logger) (*dest, error) {
	pd, err := parseDest(raw, c.Format)
	if err != nil {
		return nil, err
	}
	d := &dest{
		d:        pd,
		cfg:      c,
		deadline: deadline,
		log:      log.With("syslog", raw),
		q:        make(chan []byte, c.QueueLen),
		wake:     make(chan struct{}, 1),
		enc: encoder{
			format: pd.format, facility: fac, sdID: c.SDID, host: c.Hostname,
			procID: strconv.Itoa(os.Getpid()), version: c.Version, bom: c.BOM == "auto",
			maxLen: c.MaxMsg,
		},
		dial: dialer{scheme: pd.scheme, addr: pd.addr, timeout: c.DialTimeout},
	}
	if pd.scheme == schemeUDP || pd.scheme == schemeUnix {
		d.enc.maxLen = c.MaxUDP
	}
	if pd.scheme == schemeTLS {
		if d.dial.tls, err = newTLSConfig(pd.host, c.CAFile, c.CertFile, c.KeyFile); err != nil {
			return nil, err
		}
	}
	if c.Spool == "" {
		d.bl = newMemBacklog(c.QueueLen)
	} else {
		sp, err := openSpool(filepath.Join(c.Spool, spoolDirName(raw)), c.SpoolMaxBytes, c.SpoolSync, d.log,
			func() { d.spoolCorrupt.Add(1) })
		if err != nil {
			return nil, err
		}
		d.bl = sp
	}
	d.depth.Store(uint64(d.bl.depth()))
	return d, nil
}

func (e *Emitter) closeSpools() {
	for _, d := range e.dsts {
		d.bl.close()
	}
}

// spoolDirName is a readable, collision-free directory name for a URL.
func spoolDirName(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, raw)
	if len(clean) > 64 {
		clean = clean[:64]
	}
	return clean + "-" + hex.EncodeToString(sum[:4])
}

// Sentinel errors of Alert, tested with errors.Is.
var (
	ErrClosed    = errors.New("emitter closed")
	ErrQueueFull = errors.New("queue full")
)

// Alert encodes a for every destination and enqueues it. It never waits for
// a receiver: a full queue drops the message and counts it. The error names
// the destinations that dropped it (ErrQueueFull, ErrClosed or an encoding
// error); a is not retained. Alert satisfies pipeline.Sink.
func (e *Emitter) Alert(a *alert.Alert) error {
	now := time.Now()
	return e.each(func(d *dest) ([]byte, bool, error) { return d.enc.alert(a, d.seq, now) })
}

// Stats sends a SENSOR-STATS message with the given counters (packets,
// drops, pairs, alerts, enrichment failures, ...) so a SIEM can tell the
// sensor is alive and seeing traffic.
func (e *Emitter) Stats(s map[string]uint64) {
	now := time.Now()
	_ = e.each(func(d *dest) ([]byte, bool, error) { return d.enc.stats(e.cfg.Hostname, s, d.seq, now) })
}

// Health sends a SENSOR-HEALTH message with syslog severity sev (0..7).
func (e *Emitter) Health(msg string, sev int) {
	now := time.Now()
	_ = e.each(func(d *dest) ([]byte, bool, error) { return d.enc.health(e.cfg.Hostname, msg, sev, d.seq, now) })
}

func (e *Emitter) each(encode func(*dest) ([]byte, bool, error)) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for _, d := range e.dsts {
		if e.closed.Load() {
			d.dropped.Add(1)
			errs = append(errs, fmt.Errorf("syslog: %s: %w", d.d.raw, ErrClosed))
			continue
		}
		d.seq++
		b, truncated, err := encode(d)
		if err != nil {
			d.dropped.Add(1)
			d.log.Error("syslog: message dropped", "err", err)
			errs = append(errs, fmt.Errorf("syslog: %s: %w", d.d.raw, err))
			continue
		}
		if truncated {
			d.truncated.Add(1)
		}
		select {
		case d.q <- b:
			d.queued.Add(1)
			select {
			case d.wake <- struct{}{}:
			default:
			}
		default:
			if n := d.dropped.Add(1); n&(n-1) == 0 { // log at 1, 2, 4, 8, ... drops
				d.log.Warn("syslog: queue full, message dropped", "dropped", n)
			}
			errs = append(errs, fmt.Errorf("syslog: %s: %w", d.d.raw, ErrQueueFull))
		}
	}
	return errors.Join(errs...)
}

// Counters returns a snapshot of every destination's counters.
func (e *Emitter) Counters() Counters {
	var c Counters
	for _, d := range e.dsts {
		c.Destinations = append(c.Destinations, DestCounters{
			URL: d.d.raw, Up: d.up.Load(),
			Queued: d.queued.Load(), Sent: d.sent.Load(), Retried: d.retried.Load(),
			Delivered: d.delivered.Load(), Dropped: d.dropped.Load(), Spooled: d.spooled.Load(),
			Depth: d.depth.Load() + uint64(len(d.q)), Truncated: d.truncated.Load(),
			Connects: d.connects.Load(), ConnErrors: d.connErrors.Load(), SpoolCorrupt: d.spoolCorrupt.Load(),
		})
	}
	return c
}

// Close stops accepting messages and tries to deliver what is queued until
// ctx's deadline (or FlushTimeout when ctx has none; cancelling ctx does not
// cut the flush short, so a cancelled run context still gets its bound). Without a spool,
// what could not be delivered is dropped and reported in the error; with a
// spool it stays on disk for the next start.
func (e *Emitter) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed.Swap(true) {
		e.mu.Unlock()
		return nil
	}
	e.mu.Unlock()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.cfg.FlushTimeout)
		defer cancel()
	}
	e.deadline.Store(deadlineOf(ctx).UnixNano())
	close(e.stop)
	done := make(chan struct{})
	go func() {
		e.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Until(deadlineOf(ctx)) + time.Second):
		// Workers end at the deadline; this guards against a hung syscall.
		return errors.New("syslog: close: workers did not stop")
	}
	var errs []error
	for _, d := range e.dsts {
		if n := d.undelivered.Load(); n > 0 {
			if e.cfg.Spool != "" {
				e.log.Warn("syslog: undelivered messages stay in the spool", "syslog", d.d.raw, "messages", n)
			} else {
				errs = append(errs, fmt.Errorf("syslog: %s: %d messages not delivered before shutdown", d.d.raw, n))
			}
		}
	}
	return errors.Join(errs...)
}

func deadlineOf(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now()
}
