// Package pipeline wires the sensor's stages: frames from a capture source
// are decoded, sharded by internal host to workers that share nothing
// (flow timing, DNS names, host identification, periodicity), and the
// workers' alerts go through one alert stage (baseline, enrichment, sinks).
//
// Replay reads one Source and shards in a reader goroutine; live capture
// gives each worker its own Source (the kernel's fanout already sharded).
package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
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
	"github.com/launchtap/launchtap/sensor/host"
	"github.com/launchtap/launchtap/sensor/hostid"
	"github.com/launchtap/launchtap/sensor/names"
	"github.com/launchtap/launchtap/sensor/ndp"
	"github.com/launchtap/launchtap/sensor/netset"
	"github.com/launchtap/launchtap/sensor/shard"
)

// Config is everything the data path needs.
type Config struct {
	Workers  int            // 0: one per core; 1: decode and track inline in the reader
	Internal *netset.Set    // internal networks; egress is internal → external
	OS       alert.OSPolicy // macos (default): only macOS hosts alert (unknown at low severity); any: every host
	Sensor   string         // name put in alerts

	// UnknownMinScore is the score a finding from a host of unknown OS
	// needs to alert (at low severity) under OS "macos": only strong
	// beacons, since most such hosts are not Macs.
	UnknownMinScore float64

	Flow   flow.Config
	DNS    dnstrack.Config
	Beacon beacon.Config

	HostID hostid.Config // InternalSet is set to the pipeline's own Internal
	// HostMACs are the inventory's devices, each with the MACs it lists:
	// each device's MACs are one host from the start (sensor/host).
	HostMACs [][][6]byte

	// Proxies are the explicit web proxies (--proxy): a client's CONNECT or
	// absolute-URI request to one is egress to the host it names. Proxies
	// on internal addresses are also recognised from CONNECT traffic.
	Proxies []netip.AddrPort
	// LearnInternal adds to Internal the global IPv6 prefixes that router
	// advertisements announce, and the /64s of global addresses that MACs
	// known as internal hosts send from (--learn-internal). Off, such a
	// host's traffic is warned about once per /64.
	LearnInternal bool
	proxies       *proxySet
	learnedAt     *prefixTimes // when each learned prefix was learned (checkpoint.go)
	macs          *macLearner  // internal hosts' MACs, whose global addresses teach prefixes
	identity      *host.Saved  // the binder state RestoreIdentity restored, for binders made later (checkpoint.go)

	// Hosts is the kernel fanout's hosts map (live capture with several
	// workers): the workers' binders keep it in step with what they learn,
	// so that the kernel steers each host's packets, whatever address it
	// holds, to one worker (livehosts.go). Nil: workers still share what
	// they learn.
	Hosts HostsMap

	// Filtered returns what a kernel pre-filter counted instead of passing
	// (live capture with the eBPF filter); nil when every packet is seen.
	Filtered FilterCounters

	// NoDetection skips the periodicity detector: beats are not scored. It
	// exists to measure what detection costs the data path (BenchmarkReplay).
	NoDetection bool

	// Hub receives beats and findings for the hub (--hub-url); nil keeps
	// everything on this box at no cost to the data path.
	Hub HubSink

	// BatchSize is how many packets per worker a batch of sharded replay
	// holds. Larger batches mean fewer hand-offs but let workers drift
	// further apart in capture time, and hold their alerts longer: they
	// are delivered in capture order (alertorder.go).
	BatchSize int
	// QueueLen is how many batches may wait for the workers before the
	// reader waits; 0: 64 batches over the workers, at least 8 (32 for
	// two workers: about 16 k packets, 8 ms of the office capture). A
	// batch is freed by the last worker done with it, so a worker busy
	// with a heavy stretch of its hosts holds the reader and the other
	// workers up once the queue is full; a longer queue absorbs such
	// stretches, and costs about 180 KiB a batch per worker.
	QueueLen int

	Log *slog.Logger
}

// DefaultUnknownMinScore is the default Config.UnknownMinScore: the score
// from which a macOS host's alert is high severity.
const DefaultUnknownMinScore = 0.8

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		Internal:        netset.MustParse(netset.DefaultInternal),
		OS:              alert.OSPolicyMacOS,
		Flow:            flow.DefaultConfig(),
		UnknownMinScore: DefaultUnknownMinScore,
		DNS:             dnstrack.DefaultConfig(),
		Beacon:          beacon.DefaultConfig(),
		BatchSize:       256,
		LearnInternal:   true,
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
	// Uncounted: the filter cannot have counted packets of the session
	// (flow.Session.MayBeCounted), so there is nothing to ask the kernel;
	// only counts a restart carried over are due.
	Uncounted   bool
	Pkts, Bytes uint64 // the answer
}

// Pipeline runs the data path and hands alerts to Alerts().
type Pipeline struct {
	cfg     Config
	workers []*worker
	alerts  chan *alert.Alert

	reader struct { // counters of the replay read loop, published every 1024 frames
		mu    sync.Mutex
		c     readCounts
		ident host.Stats  // its binder's: the sharded reader resolves hosts
		saved *host.Saved // its binder's state, for a checkpoint (checkpoint.go)
	}
	start atomic.Int64              // Unix ns when Replay or Run began; read by Stats from other goroutines
	live  atomic.Pointer[liveHosts] // live capture's host-change sharing, for Stats

	stopped    chan struct{} // closed when Replay or Run has returned and the workers with it
	snapMu     sync.Mutex    // one Snapshot at a time
	snapWanted atomic.Bool   // a Snapshot waits: the sharded reader pokes idle workers
}

// New validates cfg and builds the workers.
func New(cfg Config) (*Pipeline, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Internal == nil {
		cfg.Internal = netset.MustParse(netset.DefaultInternal)
	}
	var err error
	if cfg.OS, err = alert.ParseOSPolicy(string(cfg.OS)); err != nil {
		return nil, fmt.Errorf("os: %w", err)
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
		cfg.QueueLen = max(8, 64/cfg.Workers)
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	cfg.HostID.InternalSet = cfg.Internal
	cfg.proxies = newProxySet(cfg.Proxies)
	cfg.learnedAt = &prefixTimes{at: map[netip.Prefix]int64{}}
	cfg.macs = newMACLearner(cmp.Or(cfg.HostID.RouterIPs, hostid.DefaultRouterIPs), cmp.Or(cfg.HostID.BindTTL, hostid.DefaultBindTTL), cfg.Log)
	p := &Pipeline{cfg: cfg, alerts: make(chan *alert.Alert, 1024), stopped: make(chan struct{})}
	for i := 0; i < cfg.Workers; i++ {
		w, err := newWorker(i, &p.cfg, p.alerts)
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
	defer close(p.stopped)
	if len(p.workers) == 1 {
		return p.replayInline(ctx, src)
	}
	return p.replaySharded(ctx, src)
}

// replayInline decodes and tracks in one goroutine: no copies, no channels.
func (p *Pipeline) replayInline(ctx context.Context, src capture.Source) error {
	w := p.workers[0]
	var r frameReader
	err := r.run(ctx, src, w.read, readHooks{tick: func(r *frameReader) {
		p.publishReader(r.counts(), host.Stats{})
		w.publish()
		w.serveSnapshot()
	}})
	w.flush()
	w.publish()
	return err
}

// batch is a run of packets in capture order that every worker reads, each
// the packets sharded to it (mine) and no other. The reader decodes each
// packet into its place, so a packet is not copied on its way to a worker;
// what it keeps of the payload and TCP options is copied into the arena, as
// the frame buffer is reused.
type batch struct {
	pkts  []decode.Packet // n of them in use
	ts    []int64         // the packets' capture times, noSweep for those the flow table does not see
	hosts []batchHost     // each packet's host, resolved by the reader, and decoder verdict
	mine  [][]int32       // by worker: the indexes of its packets
	arena []byte
	n     int
	seq   uint64       // the batches sent before it (alerts are delivered in this order: alertorder.go)
	left  atomic.Int32 // workers not yet done with it; the last one frees it
}

// arenaSize is a batch's arena per worker: a batch of the office capture
// keeps 10-30 KiB of payload per worker; a fuller one is sent early. It
// holds the largest payload kept (maxNamePayload) and a SYN's options.
const arenaSize = 128 << 10

func newBatch(workers, perWorker int) *batch {
	size := perWorker * workers
	b := &batch{
		pkts:  make([]decode.Packet, size),
		ts:    make([]int64, size),
		hosts: make([]batchHost, size),
		mine:  make([][]int32, workers),
		arena: make([]byte, 0, arenaSize*workers),
	}
	// Twice a worker's share: a skewed span (one busy host) grows a
	// worker's list once, and the batch keeps it; room for every packet
	// in every list would grow with the square of the workers.
	for i := range b.mine {
		b.mine[i] = make([]int32, 0, min(size, 2*perWorker))
	}
	return b
}

func (b *batch) reset() {
	b.n = 0
	b.arena = b.arena[:0]
	for i := range b.mine {
		b.mine[i] = b.mine[i][:0]
	}
}

// replaySharded decodes in this goroutine and hands each packet to the
// worker that owns its internal host. Workers share the batches: each is
// filled once, read by every worker for its own packets and freed by the
// last. A batch holds BatchSize packets per worker and its arena
// arenaSize bytes per worker, so each worker gets about a BatchSize at a time.
func (p *Pipeline) replaySharded(ctx context.Context, src capture.Source) error {
	own, err := newOwners(&p.cfg)
	if err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	nw := len(p.workers)
	size := p.cfg.BatchSize * nw
	nb := p.cfg.QueueLen + 2
	free := make(chan *batch, nb)
	for range nb {
		free <- newBatch(nw, p.cfg.BatchSize)
	}
	work := make([]chan *batch, nw)
	ordered := make(chan orderedAlert, 64)
	ordering := make(chan struct{})
	go func() {
		defer close(ordering)
		orderAlerts(ordered, nw, p.alerts)
	}()
	var wg sync.WaitGroup
	for i, w := range p.workers {
		work[i] = make(chan *batch, nb) // room for every batch: sending never waits
		w.ordered = ordered
		wg.Add(1)
		go func(w *worker, in <-chan *batch) {
			defer wg.Done()
			for b := range in {
				w.batch, w.batchSeq = b, b.seq
				next := 0 // the batch's packets before next are swept at
				for _, j := range b.mine[w.id] {
					w.sweepUpTo(b, next, int(j))
					w.idx = int(j)
					w.handle(&b.pkts[j], b.hosts[j].kind)
					next = int(j) + 1
				}
				w.sweepUpTo(b, next, b.n)
				w.batch = nil // the reader refills it once every worker is done
				w.ordered <- orderedAlert{batch: b.seq, worker: w.id}
				w.publish()
				w.serveSnapshot()
				if b.left.Add(-1) == 0 {
					b.reset()
					free <- b
				}
			}
			w.batchSeq, w.idx = flushBatch, 0
			w.flush()
			w.publish()
		}(w, work[i])
	}
	defer func() {
		close(ordered) // after wg.Wait: the workers have sent everything
		<-ordering
	}()
	var seq uint64
	cur := <-free
	dispatch := func() { // to every worker, the next in sequence
		cur.left.Store(int32(nw))
		cur.seq, seq = seq, seq+1
		for i := range work {
			work[i] <- cur
		}
	}
	send := func() {
		dispatch()
		cur = <-free
	}
	var (
		follow helloFollow // the reader's: continuations of ClientHellos to keep
		ra     [8]ndp.Prefix
		memo   synMemo
		r      frameReader
	)
	r.into = &cur.pkts[0]
	err = r.run(ctx, src, func(pkt *decode.Packet, kind decode.ErrKind) {
		// What changes how later packets are sharded or tracked is learned
		// here, in capture order, before the workers see those packets.
		if p.cfg.LearnInternal && isRouterAdvert(pkt) {
			learnPrefixes(&p.cfg, pkt, ra[:0])
		}
		if wantsSYN(pkt) {
			p.cfg.macs.syn(&p.cfg, pkt, p.cfg.LearnInternal, &memo)
		}
		if pkt.Proto == decode.ProtoTCP && len(pkt.Payload) >= 8 && pkt.Payload[0] == 'C' {
			recognizeProxy(&p.cfg, pkt)
		}
		var h batchHost
		i := shard.Worker(own.shard(pkt, &h), nw)
		keep := follow.keep(pkt, keptPayload(pkt))
		opts := keptOptions(pkt)
		if len(cur.arena)+keep+len(opts) > cap(cur.arena) {
			q := pkt // decoded into cur's next place; the next batch takes it
			send()
			cur.pkts[0] = *q
			pkt = &cur.pkts[0]
		}
		// The packet joins the batch (n, mine) only once its bytes are
		// copied: a copy that faults (a mapped capture truncated under us)
		// leaves the batch whole for the workers, who read it after the
		// reader stopped.
		pkt.Payload = cur.keep(pkt.Payload[:keep])
		pkt.TCPOptions = cur.keep(opts)
		n := cur.n
		h.kind = kind
		cur.hosts[n] = h
		cur.ts[n] = noSweep
		if kind == decode.OK { // what worker.handle gives the flow table
			cur.ts[n] = pkt.TS
		}
		cur.mine[i] = append(cur.mine[i], int32(n))
		cur.n++
		if cur.n == size {
			send()
		}
		r.into = &cur.pkts[cur.n]
	}, readHooks{tick: func(r *frameReader) {
		p.publishReader(r.counts(), own.stats())
		if p.snapWanted.Swap(false) {
			p.saveReaderIdentity(own.binder)
			// A checkpoint waits: every worker gets a batch, empty if need
			// be, so that one with no traffic answers too.
			send()
			r.into = &cur.pkts[0]
		}
	}})
	p.saveReaderIdentity(own.binder) // for the final checkpoint
	if cur.n > 0 {
		dispatch()
	}
	for i := range work {
		close(work[i])
	}
	wg.Wait()
	return err
}

// noSweep is a batch's time for a packet no flow table sees.
const noSweep = math.MinInt64

// sweepUpTo sweeps w's sessions where one worker's flow table would have,
// at the batch's packets from..to-1, none of them w's: the one table sweeps
// about once a second of capture time, at whichever packet comes, and a
// worker given only its hosts' packets would find an idle session later
// (at the capture's end, if its hosts fall silent), so the alert of a
// session ended unseen (a beacon to a server that no longer answers) would
// come later, and in another order, than with one worker.
func (w *worker) sweepUpTo(b *batch, from, to int) {
	for k := from; k < to; k++ {
		if ts := b.ts[k]; w.flows.SweepDue(ts) {
			w.idx, w.sweeping = k, true
			w.flows.Sweep(ts)
			w.sweeping = false
		}
	}
}

func (b *batch) keep(data []byte) []byte {
	if len(data) == 0 {
		return nil
	}
	n := len(b.arena)
	b.arena = append(b.arena, data...)
	return b.arena[n:len(b.arena):len(b.arena)]
}

// keptOptions are the TCP options a sharded worker needs: a SYN's, which
// host identification fingerprints (p0f); no later stage reads another
// segment's.
func keptOptions(p *decode.Packet) []byte {
	if p.TCPFlags&decode.TCPSyn == 0 {
		return nil
	}
	return p.TCPOptions
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
	// The first payload of a session carries its name: a ClientHello, an
	// HTTP request (to any port: proxies listen on 3128, 8080, ...), a QUIC
	// Initial, a router advertisement. A few byte compares say which.
	b := p.Payload
	switch p.Proto {
	case decode.ProtoTCP:
		if n > 5 && b[0] == 22 && b[1] == 3 && b[5] == 1 || names.LooksLikeRequest(b) {
			return min(n, 4096)
		}
	case decode.ProtoUDP:
		if n > 5 && b[0]&0xc0 == 0xc0 && p.DstPort == 443 && names.IsQUICVersion(b[1:5]) {
			return min(n, 2048)
		}
	case decode.ProtoICMPv6:
		if b[0] == ndp.TypeRouterAdvert {
			return min(n, 1500)
		}
	}
	return 0
}

// maxNamePayload is the largest DNS message (a TCP length prefix's reach).
const maxNamePayload = 2 + 65535

func isPort(p *decode.Packet, port uint16) bool { return p.SrcPort == port || p.DstPort == port }

// Run processes live sources, one per worker (len(srcs) must equal the
// worker count), until every source ends or ctx is done. Each worker runs
// the read loop replay runs, over its own source.
func (p *Pipeline) Run(ctx context.Context, srcs []capture.Source) error {
	if len(srcs) != len(p.workers) {
		return fmt.Errorf("pipeline: %d sources for %d workers", len(srcs), len(p.workers))
	}
	p.start.Store(time.Now().UnixNano())
	defer close(p.alerts)
	defer close(p.stopped)
	errs := make([]error, len(srcs))
	lh := p.startLiveHosts()
	var wg sync.WaitGroup
	for i, w := range p.workers {
		wg.Add(1)
		go func(i int, w *worker, src capture.Source) {
			defer wg.Done()
			var r frameReader
			each, drain := w.read, func() {}
			if lh != nil {
				in, b := lh.inboxes[i], w.own.binder
				drain = func() { drainInbox(in, b) }
				each = func(pkt *decode.Packet, kind decode.ErrKind) {
					if len(in) > 0 { // no lock: a length read
						drainInbox(in, b)
					}
					w.read(pkt, kind)
				}
			}
			err := r.run(ctx, src, each, readHooks{
				tick: func(r *frameReader) {
					w.c.read = r.counts()
					w.publish()
					w.serveSnapshot()
				},
				// A quiet link: end the sessions that went idle, by the wall
				// clock the kernel's timestamps follow.
				idle: func() {
					drain()
					w.flows.Sweep(time.Now().UnixNano())
					w.takeEnded()
					w.publish()
					w.serveSnapshot()
				},
			})
			if err != nil && !errors.Is(err, ctx.Err()) {
				errs[i] = err // ctx done is how a live capture stops, not an error
			}
			w.flush()
			w.publish()
		}(i, w, srcs[i])
	}
	wg.Wait()
	if lh != nil {
		lh.stop()
	}
	return errors.Join(errs...)
}
