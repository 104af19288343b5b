// Package pipeline wires the sensor's stages: frames from a capture source
// are decoded, sharded by internal host to workers that share nothing
// (flow timing, DNS names, host identification, periodicity), and the
// workers' alerts go through one alert stage (baseline, enrichment, sinks).
//
// Replay reads one Source and shards in a reader goroutine; live capture
// gives each worker its own Source (the kernel's fanout already sharded).
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/beacon"
	"github.com/launchtap/launchtap/sensor/capture"
	"github.com/launchtap/launchtap/sensor/decode"
	"github.com/launchtap/launchtap/sensor/dnstrack"
	"github.com/launchtap/launchtap/sensor/flow"
	"github.com/launchtap/launchtap/sensor/hostid"
	"github.com/launchtap/launchtap/sensor/netset"
)

// Config is everything the data path needs.
type Config struct {
	Workers  int         // 0: one per core; 1: decode and track inline in the reader
	Internal *netset.Set // internal networks; egress is internal → external
	OS       string      // "macos" (default): only macOS hosts alert (unknown at low severity); "any": every host
	Sensor   string      // name put in alerts

	// UnknownMinScore is the score a finding from a host of unknown OS
	// needs to alert (at low severity) under OS "macos": only strong
	// beacons, since most such hosts are not Macs.
	UnknownMinScore float64

	Flow   flow.Config
	DNS    dnstrack.Config
	Beacon beacon.Config

	HostID hostid.Config // Internal is filled from the pipeline's own

	// Filtered returns what a kernel pre-filter counted instead of passing
	// (live capture with the eBPF filter); nil when every packet is seen.
	Filtered FilterCounters

	// NoDetection skips the periodicity detector: beats are not scored. It
	// exists to measure what detection costs the data path (BenchmarkReplay).
	NoDetection bool

	BatchSize int // packets handed to a worker at once in sharded replay
	QueueLen  int // batches queued per worker before the reader waits

	Log *slog.Logger
}

// DefaultUnknownMinScore is the default Config.UnknownMinScore: the score
// from which a macOS host's alert is high severity.
const DefaultUnknownMinScore = 0.8

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		Internal:        netset.MustParse(netset.DefaultInternal),
		OS:              "macos",
		Flow:            flow.DefaultConfig(),
		UnknownMinScore: DefaultUnknownMinScore,
		DNS:             dnstrack.DefaultConfig(),
		Beacon:          beacon.DefaultConfig(),
		BatchSize:       256,
		QueueLen:        8,
	}
}

// FilterCounters are a kernel pre-filter's per-flow counts of the packets it
// did not pass. Take returns and forgets one direction's payload bytes and
// packets; restarted says the session ended because a new one began on the
// same 5-tuple, so only the counts before that start belong to it.
type FilterCounters interface {
	Take(src, dst netip.Addr, sport, dport uint16, proto uint8, restarted bool) (pkts, bytes uint64)
}

// BatchFilterCounters are FilterCounters that take many flow directions at
// once. When Config.Filtered has TakeBatch, a worker holds the sessions that
// ended and takes their counts together, every second of capture time or
// every maxPendingEnds (65536) sessions: a SYN flood ends sessions at the packet
// rate, and one kernel call per direction would cost more than the packets.
type BatchFilterCounters interface {
	FilterCounters
	// TakeBatch fills Pkts and Bytes of every request.
	TakeBatch(reqs []FlowTake)
}

// FlowTake asks for one flow direction's counts (see FilterCounters.Take).
type FlowTake struct {
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Proto            uint8
	Restarted        bool
	Pkts, Bytes      uint64 // the answer
}

// Pipeline runs the data path and hands alerts to Alerts().
type Pipeline struct {
	cfg      Config
	workers  []*worker
	alerts   chan *alert.Alert
	macNames *dnstrack.MACNames // shared by the workers' DNS trackers

	reader struct { // counters of the replay reader goroutine, published per batch
		mu         sync.Mutex
		frames     uint64
		bytes      uint64
		decode     [decode.NumErrKinds]uint64
		decaps     [decode.NumTunnels]uint64
		firstFrags uint64
	}
	start atomic.Int64 // Unix ns when Replay or Run began; read by Stats from other goroutines
}

// New validates cfg and builds the workers.
func New(cfg Config) (*Pipeline, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Internal == nil {
		cfg.Internal = netset.MustParse(netset.DefaultInternal)
	}
	switch cfg.OS {
	case "", "macos":
		cfg.OS = "macos"
	case "any":
	default:
		return nil, fmt.Errorf("os: %q is not macos or any", cfg.OS)
	}
	if cfg.UnknownMinScore < 0 || cfg.UnknownMinScore > 1 {
		return nil, fmt.Errorf("unknown-min-score: %v is not within 0..1", cfg.UnknownMinScore)
	}
	if err := cfg.Beacon.Validate(); err != nil {
		return nil, err
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 256
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = 8
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	cfg.HostID.Internal = cfg.Internal.Prefixes()
	p := &Pipeline{cfg: cfg, alerts: make(chan *alert.Alert, 1024)}
	p.macNames = dnstrack.NewMACNames(cfg.DNS.MaxAnswers)
	for i := 0; i < cfg.Workers; i++ {
		w, err := newWorker(i, &p.cfg, p.alerts, p.macNames)
		if err != nil {
			return nil, err
		}
		p.workers = append(p.workers, w)
	}
	return p, nil
}

// Alerts delivers the workers' alerts; it is closed when Replay or Run returns.
// The caller must keep reading it: workers wait for room rather than drop an alert.
func (p *Pipeline) Alerts() <-chan *alert.Alert { return p.alerts }

// Replay reads src to its end (or until ctx is done) and returns the first
// error that stopped it. A *capture.TruncatedError is returned after every
// frame before the cut was processed.
func (p *Pipeline) Replay(ctx context.Context, src capture.Source) error {
	p.start.Store(time.Now().UnixNano())
	defer close(p.alerts)
	if len(p.workers) == 1 {
		return p.replayInline(ctx, src)
	}
	return p.replaySharded(ctx, src)
}

// replayInline decodes and tracks in one goroutine: no copies, no channels.
func (p *Pipeline) replayInline(ctx context.Context, src capture.Source) error {
	w := p.workers[0]
	err := p.readFrames(ctx, src, w.handle, w.publish)
	w.flush()
	w.publish()
	return err
}

// readFrames reads src to its end (or until ctx is done), decodes every
// frame and hands each packet whose IP fields are valid to each. Every 1024
// frames it publishes the reader's counters and calls tick.
func (p *Pipeline) readFrames(ctx context.Context, src capture.Source, each func(*decode.Packet, decode.ErrKind), tick func()) error {
	var (
		dec           decode.Decoder
		f             capture.Frame
		pkt           decode.Packet
		frames, bytes uint64
		err           error
	)
	for {
		if err = src.Next(&f); err != nil {
			break
		}
		frames++
		bytes += uint64(f.WireLen)
		if kind := dec.Decode(&f, &pkt); kind == decode.OK || hasIP(kind) {
			each(&pkt, kind)
		}
		if frames&1023 == 0 {
			p.publishReader(frames, bytes, &dec)
			if tick != nil {
				tick()
			}
			if err = ctx.Err(); err != nil {
				break
			}
		}
	}
	p.publishReader(frames, bytes, &dec)
	return endErr(err)
}

// hasIP reports decoder results whose IP fields are valid though there is no
// TCP/UDP header: host identification still learns from them.
func hasIP(k decode.ErrKind) bool {
	return k == decode.ErrFragment || k == decode.ErrOtherTransport
}

func endErr(err error) error {
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// batch is a slice of decoded packets for one worker, with an arena holding
// the payload bytes that later stages read (the frame buffer is reused).
type batch struct {
	pkts   []decode.Packet
	kinds  []decode.ErrKind
	copies []bool // a copy of a packet another worker also handles and counts
	arena  []byte
}

const arenaSize = 256 << 10

// replaySharded decodes in this goroutine and hands each packet to the
// worker that owns its internal host.
func (p *Pipeline) replaySharded(ctx context.Context, src capture.Source) error {
	nw := len(p.workers)
	work := make([]chan *batch, nw)
	free := make([]chan *batch, nw)
	cur := make([]*batch, nw)
	var wg sync.WaitGroup
	for i, w := range p.workers {
		work[i] = make(chan *batch, p.cfg.QueueLen)
		free[i] = make(chan *batch, p.cfg.QueueLen+2)
		for j := 0; j < p.cfg.QueueLen+2; j++ {
			free[i] <- &batch{
				pkts:   make([]decode.Packet, 0, p.cfg.BatchSize),
				kinds:  make([]decode.ErrKind, 0, p.cfg.BatchSize),
				copies: make([]bool, 0, p.cfg.BatchSize),
				arena:  make([]byte, 0, arenaSize),
			}
		}
		wg.Add(1)
		go func(w *worker, in <-chan *batch, back chan<- *batch) {
			defer wg.Done()
			for b := range in {
				for j := range b.pkts {
					if b.copies[j] {
						w.handleCopy(&b.pkts[j])
					} else {
						w.handle(&b.pkts[j], b.kinds[j])
					}
				}
				w.publish()
				b.pkts, b.kinds, b.copies, b.arena = b.pkts[:0], b.kinds[:0], b.copies[:0], b.arena[:0]
				back <- b
			}
			w.flush()
			w.publish()
		}(w, work[i], free[i])
	}
	send := func(i int) {
		if cur[i] != nil && len(cur[i].pkts) > 0 {
			work[i] <- cur[i]
			cur[i] = nil
		}
	}
	enqueue := func(i int, pkt *decode.Packet, kind decode.ErrKind, copied bool) {
		b := cur[i]
		if b == nil {
			b = <-free[i]
			cur[i] = b
		}
		keep := keptPayload(pkt)
		if len(b.arena)+keep+len(pkt.TCPOptions) > cap(b.arena) {
			send(i)
			b = <-free[i]
			cur[i] = b
		}
		b.pkts = append(b.pkts, *pkt)
		q := &b.pkts[len(b.pkts)-1]
		q.Payload = b.keep(pkt.Payload[:keep])
		q.TCPOptions = b.keep(pkt.TCPOptions)
		b.kinds = append(b.kinds, kind)
		b.copies = append(b.copies, copied)
		if len(b.pkts) == cap(b.pkts) {
			send(i)
		}
	}
	err := p.readFrames(ctx, src, func(pkt *decode.Packet, kind decode.ErrKind) {
		if unplaced(pkt) {
			// A host still without an address: every worker learns its MAC.
			// Worker 0 counts it; the others only learn from it.
			for i := range nw {
				enqueue(i, pkt, kind, i > 0)
			}
			return
		}
		enqueue(shard(pkt, p.cfg.Internal, nw), pkt, kind, false)
	}, nil)
	for i := range work {
		send(i)
		close(work[i])
	}
	wg.Wait()
	return err
}

func (b *batch) keep(data []byte) []byte {
	if len(data) == 0 {
		return nil
	}
	n := len(b.arena)
	b.arena = append(b.arena, data...)
	return b.arena[n:len(b.arena):len(b.arena)]
}

// keptPayload is how many payload bytes a sharded worker needs: all of a
// message that carries names or host identity (DNS, DHCP, mDNS: the inline
// path sees all of it too, so the two must not differ), the start of an HTTP
// request for its headers, nothing of bulk data.
func keptPayload(p *decode.Packet) int {
	n := len(p.Payload)
	if n == 0 {
		return 0
	}
	switch {
	case isPort(p, 53), isPort(p, 67), isPort(p, 68), isPort(p, 546), isPort(p, 547), isPort(p, 5353):
		return min(n, maxNamePayload)
	case isPort(p, 80), isPort(p, 8080):
		return min(n, 4096) // request line and headers: the User-Agent
	}
	return 0
}

// maxNamePayload is the largest DNS message (a TCP length prefix's reach).
const maxNamePayload = 2 + 65535

func isPort(p *decode.Packet, port uint16) bool { return p.SrcPort == port || p.DstPort == port }

// Run processes live sources, one per worker (len(srcs) must equal the
// worker count), until every source ends or ctx is done.
func (p *Pipeline) Run(ctx context.Context, srcs []capture.Source) error {
	if len(srcs) != len(p.workers) {
		return fmt.Errorf("pipeline: %d sources for %d workers", len(srcs), len(p.workers))
	}
	p.start.Store(time.Now().UnixNano())
	defer close(p.alerts)
	errs := make([]error, len(srcs))
	var wg sync.WaitGroup
	for i, w := range p.workers {
		wg.Add(1)
		go func(i int, w *worker, src capture.Source) {
			defer wg.Done()
			var (
				dec decode.Decoder
				f   capture.Frame
				pkt decode.Packet
			)
			for n := 0; ; n++ {
				if err := src.Next(&f); err != nil {
					if errors.Is(err, capture.ErrIdle) {
						// A quiet link: end the sessions that went idle, by the wall
						// clock the kernel's timestamps follow.
						w.flows.Sweep(time.Now().UnixNano())
						w.takeEnded()
						w.publish()
						if ctx.Err() != nil {
							break
						}
						continue
					}
					errs[i] = endErr(err)
					break
				}
				w.c.frames++
				w.c.frameBytes += uint64(f.WireLen)
				kind := dec.Decode(&f, &pkt)
				w.c.decode[kind]++
				if kind == decode.OK || hasIP(kind) {
					w.handle(&pkt, kind)
				}
				if n&1023 == 0 {
					w.c.decaps, w.c.firstFrags = dec.Decapsulated(), dec.FirstFragments()
					w.publish()
					if ctx.Err() != nil {
						break
					}
				}
			}
			w.c.decaps, w.c.firstFrags = dec.Decapsulated(), dec.FirstFragments()
			w.flush()
			w.publish()
		}(i, w, srcs[i])
	}
	wg.Wait()
	return errors.Join(errs...)
}
