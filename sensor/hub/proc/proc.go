// Package proc is one hub process (launchtap hub): it claims a share of the
// observation partitions through leases in a JetStream key-value bucket,
// reads each claimed partition's beats and host evidence from the
// LAUNCHTAP_OBS stream, feeds them to a merge.Engine, and hands the
// engine's alerts to the caller (the alert stage the sensor uses).
//
// A process rebuilds a partition's state by reading the partition from the
// start of the stream's retention each time it claims it: detection state
// is a function of the stream, so the process that takes a dead one's
// partitions over finds the same findings, and the alert ledger (a
// key-value bucket of delivered alert ids) keeps them from being delivered
// twice. Fleet prevalence is counted per partition and shared through a
// third bucket, so every process's alerts count the whole fleet.
package proc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/hub/link"
	"github.com/launchtap/launchtap/sensor/hub/merge"
	"github.com/launchtap/launchtap/sensor/hub/obs"
	"github.com/launchtap/launchtap/sensor/pipeline"
)

// Buckets this package adds to the hub's (obs names the shared ones).
const (
	// PrevalenceBucket holds each partition's prevalence counts per day,
	// under d<day>.p<partition>.
	PrevalenceBucket = "launchtap_prevalence"
	// AlertsBucket is the hub's alert ledger: the ids delivered, under a.<id>.
	AlertsBucket = "launchtap_hub_alerts"
)

// Bucket limits, when this process creates them (docs/many-sensors.md);
// the stream is created as the sensors do (link.EnsureStream).
const (
	StreamMaxAge          = 7 * 24 * time.Hour
	DefaultStreamMaxBytes = 16 << 30
	StreamDuplicates      = 5 * time.Minute
	PrevalenceTTL         = 3 * 24 * time.Hour
	AlertsTTL             = 30 * 24 * time.Hour
	AlertsMaxBytes        = 256 << 20
	maxPrevalenceJSON     = 900 << 10 // under NATS's default 1 MiB payload
)

// Config configures a Process.
type Config struct {
	ID       string // unique among the hub's processes (default: host name and pid)
	Replicas int    // replicas of the buckets this process creates (default 1; 3 on a 3-node cluster)
	LeaseTTL time.Duration
	Renew    time.Duration
	// PrevalenceEvery is how often the partitions' prevalence counts are
	// published (default 5 s).
	PrevalenceEvery time.Duration
	// Queue bounds the frames read ahead of the engine (default 1024).
	Queue int
	// Checkpoint, when set, is given every sensor checkpoint in the stream
	// (the sensor and its state.Checkpoint JSON) — the organisation's store
	// (hubstore). The hub processes share one durable consumer of them, so
	// each is handed to one process; it is acknowledged when Checkpoint
	// returns nil or an error wrapping ErrSkip (bytes that are no
	// checkpoint: counted, never retried), and redelivered after any other
	// error (the store is down).
	Checkpoint func(ctx context.Context, sensor string, json []byte) error
	Engine     merge.Config
	Log        *slog.Logger
}

// ErrSkip marks a checkpoint Config.Checkpoint refuses for good.
var ErrSkip = errors.New("hub: checkpoint refused")

// CheckpointConsumer is the durable consumer hub processes share to hand
// each sensor checkpoint to the store once.
const CheckpointConsumer = "launchtap-hub-checkpoints"

// Stats are a process's counters.
type Stats struct {
	Frames      uint64            // frames read
	Records     map[string]uint64 // records by kind
	Malformed   uint64            // frames or records that did not decode (skipped)
	Refused     uint64            // records the engine refused (no host, destination or time)
	Owned       int               // partitions held now
	Gained      uint64            // partitions claimed
	Lost        uint64            // partitions released or taken over
	Checkpoints uint64            // sensor checkpoints handed to the store
	CkptErrors  uint64            // checkpoints the store failed (redelivered) or refused (skipped)
	Published   uint64            // prevalence tables published
	Truncated   uint64            // prevalence tables cut to fit a message
	RemoteDests int               // destinations in other processes' prevalence tables
	Engine      merge.Counters
	Pairs       uint64 // the detector's pairs
	PairEvicts  uint64
	Hosts       int // merged hosts
}

type item struct {
	part int
	data []byte
	ctl  func()
}

// Process is one running hub process.
type Process struct {
	cfg    Config
	nc     *nats.Conn
	js     jetstream.JetStream
	leases *Leases
	eng    *merge.Engine
	in     chan item
	out    chan<- *alert.Alert
	ledger *Ledger
	log    *slog.Logger

	// Engine goroutine only.
	active map[int]bool
	rd     obs.Reader
	beat   obs.Beat
	host   obs.Host
	mb     merge.Beat
	mh     merge.Host

	consMu sync.Mutex
	cons   map[int]*partReader

	remoteMu sync.Mutex
	remote   map[string]merge.PartitionCounts // by key

	frames, malformed, refused, published, truncated atomic.Uint64
	checkpoints, ckptErrors                          atomic.Uint64
	records                                          [8]atomic.Uint64
	snapMu                                           sync.Mutex
	snap                                             Stats

	wg      sync.WaitGroup
	engDone chan struct{}
}

type partReader struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// Start connects a process to the hub's JetStream over nc, creating the
// stream and buckets when missing, and runs it until ctx ends. Alerts go
// to out, which Wait closes once the process has stopped.
func Start(ctx context.Context, nc *nats.Conn, cfg Config, out chan<- *alert.Alert) (*Process, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.PrevalenceEvery <= 0 {
		cfg.PrevalenceEvery = 5 * time.Second
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 1024
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("hub: jetstream: %w", err)
	}
	p := &Process{cfg: cfg, nc: nc, js: js, in: make(chan item, cfg.Queue), out: out, log: cfg.Log,
		active: map[int]bool{}, cons: map[int]*partReader{}, remote: map[string]merge.PartitionCounts{}, engDone: make(chan struct{})}
	// Setting up may meet a cluster still electing leaders, or another
	// process creating the same stream and buckets at the same moment: each
	// step is tried again until it succeeds or a minute has passed.
	setup, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := retry(setup, cfg.Log, "stream", func(c context.Context) error { _, err := link.EnsureStream(c, js); return err }); err != nil {
		return nil, err
	}
	bucket := func(name string, kc jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
		var kv jetstream.KeyValue
		err := retry(setup, cfg.Log, name, func(c context.Context) error {
			var err error
			kv, err = js.CreateOrUpdateKeyValue(c, kc)
			return err
		})
		return kv, err
	}
	leaseKV, err := bucket("leases bucket", jetstream.KeyValueConfig{Bucket: obs.LeasesBucket, TTL: cfg.LeaseTTL,
		Storage: jetstream.FileStorage, Replicas: cfg.Replicas, Description: "launchtap hub: partition leases (m.<process>, p.<partition>)"})
	if err != nil {
		return nil, err
	}
	prevKV, err := bucket("prevalence bucket", jetstream.KeyValueConfig{Bucket: PrevalenceBucket, TTL: PrevalenceTTL,
		Storage: jetstream.FileStorage, Replicas: cfg.Replicas, Description: "launchtap hub: fleet prevalence per day and partition"})
	if err != nil {
		return nil, err
	}
	alertKV, err := bucket("alerts bucket", jetstream.KeyValueConfig{Bucket: AlertsBucket, TTL: AlertsTTL, MaxBytes: AlertsMaxBytes,
		Storage: jetstream.FileStorage, Replicas: cfg.Replicas, Description: "launchtap hub: delivered alert ids"})
	if err != nil {
		return nil, err
	}
	p.ledger = &Ledger{kv: alertKV, log: cfg.Log}
	ecfg := cfg.Engine
	ecfg.Remote = p.remotePrevalence
	ecfg.Log = cfg.Log
	if p.eng, err = merge.New(ecfg, func(a *alert.Alert) { out <- a }); err != nil {
		return nil, err
	}
	p.leases, err = NewLeases(leaseKV, LeaseConfig{ID: cfg.ID, Partitions: obs.Partitions, TTL: cfg.LeaseTTL, Renew: cfg.Renew, Log: cfg.Log,
		Gain: func(part int) { p.gain(ctx, part) }, Lose: p.lose})
	if err != nil {
		return nil, err
	}
	watch, err := prevKV.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("hub: watching prevalence: %w", err)
	}
	if cfg.Checkpoint != nil {
		var cons jetstream.Consumer
		err := retry(setup, cfg.Log, "checkpoint consumer", func(c context.Context) error {
			var err error
			cons, err = js.CreateOrUpdateConsumer(c, obs.Stream, jetstream.ConsumerConfig{
				Durable: CheckpointConsumer, FilterSubject: obs.Subject(obs.KindCheckpoint, ""), AckPolicy: jetstream.AckExplicitPolicy,
				AckWait: 2 * time.Minute, MaxAckPending: 64, DeliverPolicy: jetstream.DeliverAllPolicy,
				Description: "launchtap hub: sensor checkpoints for the organisation's store"})
			return err
		})
		if err != nil {
			return nil, err
		}
		p.wg.Add(1)
		go func() { defer p.wg.Done(); p.readCheckpoints(ctx, cons) }()
	}
	p.wg.Add(2)
	go func() { defer p.wg.Done(); p.watchPrevalence(watch) }()
	go func() { defer p.wg.Done(); p.leases.Run(ctx, true) }()
	go p.runEngine(ctx, prevKV)
	return p, nil
}

// retry runs fn, with 10 s each time, until it succeeds or ctx ends.
func retry(ctx context.Context, log *slog.Logger, what string, fn func(context.Context) error) error {
	for {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := fn(c)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("hub: %s: %w", what, err)
		}
		log.Warn("hub: setting up; trying again", "what", what, "err", err)
		sleep(ctx, time.Second)
	}
}

// Ledger is the alert stage's pipeline.Ledger for the hub: which alert ids
// were delivered, shared by every hub process.
func (p *Process) Ledger() *Ledger { return p.ledger }

// Owned is the partitions this process holds now.
func (p *Process) Owned() []int { return p.leases.Owned() }

// Wait waits for the process to stop (its context ended) and closes out.
func (p *Process) Wait() {
	p.wg.Wait()
	<-p.engDone
	close(p.out)
}

// gain starts reading partition part from the start of the stream.
func (p *Process) gain(ctx context.Context, part int) {
	select {
	case p.in <- item{ctl: func() { p.active[part] = true }}:
	case <-p.engDone:
		return
	}
	rctx, cancel := context.WithCancel(ctx)
	r := &partReader{cancel: cancel, done: make(chan struct{})}
	p.consMu.Lock()
	p.cons[part] = r
	p.consMu.Unlock()
	go func() {
		defer close(r.done)
		p.readPartition(rctx, part)
	}()
}

// lose stops reading part and, behind what was read of it, forgets its
// prevalence: its new owner counts it.
func (p *Process) lose(part int) {
	p.consMu.Lock()
	r := p.cons[part]
	delete(p.cons, part)
	p.consMu.Unlock()
	if r == nil {
		return
	}
	r.cancel()
	<-r.done
	select {
	case p.in <- item{ctl: func() { delete(p.active, part); p.eng.DropPartition(part) }}:
	case <-p.engDone:
	}
}

func (p *Process) readPartition(ctx context.Context, part int) {
	var next uint64 // the stream sequence to resume from after an error; 0: the start
	for ctx.Err() == nil {
		cc := jetstream.OrderedConsumerConfig{FilterSubjects: []string{obs.PartitionSubject(part)}, DeliverPolicy: jetstream.DeliverAllPolicy}
		if next > 0 {
			cc.DeliverPolicy, cc.OptStartSeq = jetstream.DeliverByStartSequencePolicy, next
		}
		cons, err := p.js.OrderedConsumer(ctx, obs.Stream, cc)
		if errors.Is(err, nats.ErrConnectionClosed) {
			return // the process is stopping
		}
		if err != nil {
			p.log.Warn("hub: cannot read partition; retrying", "partition", part, "err", err)
			sleep(ctx, time.Second)
			continue
		}
		it, err := cons.Messages()
		if err != nil {
			p.log.Warn("hub: cannot read partition; retrying", "partition", part, "err", err)
			sleep(ctx, time.Second)
			continue
		}
		stop := context.AfterFunc(ctx, it.Stop)
		for {
			m, err := it.Next()
			if err != nil {
				break
			}
			select {
			case p.in <- item{part: part, data: m.Data()}:
				if md, err := m.Metadata(); err == nil {
					next = md.Sequence.Stream + 1
				}
			case <-ctx.Done():
			}
		}
		stop()
		it.Stop()
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// runEngine is the one goroutine that owns the engine.
func (p *Process) runEngine(ctx context.Context, prevKV jetstream.KeyValue) {
	defer close(p.engDone)
	tick := time.NewTicker(p.cfg.PrevalenceEvery)
	defer tick.Stop()
	for {
		select {
		case it := <-p.in:
			if it.ctl != nil {
				it.ctl()
				continue
			}
			p.frame(it.part, it.data)
		case <-tick.C:
			p.publishPrevalence(ctx, prevKV)
			p.updateSnapshot()
		case <-ctx.Done():
			p.updateSnapshot()
			return
		}
	}
}

// frame feeds one frame's beats and hosts to the engine.
func (p *Process) frame(part int, data []byte) {
	p.frames.Add(1)
	if err := p.rd.Reset(data); err != nil {
		p.malformed.Add(1)
		p.log.Debug("hub: malformed frame skipped", "partition", part, "err", err)
		return
	}
	for p.rd.Next() {
		k := p.rd.Kind()
		p.records[k&7].Add(1)
		var err error
		switch k {
		case obs.KindBeat:
			if err = p.rd.Decode(&p.beat); err == nil {
				b := &p.beat
				p.mb = merge.Beat{Sensor: b.Sensor, HostID: b.HostID, MAC: b.MAC, SrcIP: b.SrcIP, Dest: b.Dest, DestIP: b.DestIP,
					Port: b.Port, Proto: b.Proto, Kind: b.Kind, TS: b.TS, BytesOut: b.BytesOut, BytesIn: b.BytesIn}
				if p.eng.Beat(part, &p.mb) != nil {
					p.refused.Add(1)
				}
			}
		case obs.KindHost:
			if err = p.rd.Decode(&p.host); err == nil {
				h := &p.host
				p.mh = merge.Host{Sensor: h.Sensor, HostID: h.HostID, Hostname: h.Hostname, Serial: h.Serial, MACs: h.MACs,
					Addrs: h.Addrs, OS: h.OS, Confidence: h.Confidence, TS: h.TS}
				if p.eng.Host(part, &p.mh) != nil {
					p.refused.Add(1)
				}
			}
		default:
			// Names and findings are the sensor's own view; the hub
			// merges beats and decides for itself.
		}
		if err != nil {
			p.malformed.Add(1)
			p.log.Debug("hub: malformed record skipped", "partition", part, "kind", k, "err", err)
		}
	}
	if err := p.rd.Err(); err != nil {
		p.malformed.Add(1)
		p.log.Debug("hub: malformed frame cut short", "partition", part, "err", err)
	}
}

// readCheckpoints hands the sensors' checkpoints to Config.Checkpoint.
func (p *Process) readCheckpoints(ctx context.Context, cons jetstream.Consumer) {
	var rd obs.Reader
	var ck obs.Checkpoint
	for ctx.Err() == nil {
		it, err := cons.Messages()
		if err != nil {
			if errors.Is(err, nats.ErrConnectionClosed) {
				return
			}
			p.log.Warn("hub: cannot read checkpoints; retrying", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		stop := context.AfterFunc(ctx, it.Stop)
		for {
			m, err := it.Next()
			if err != nil {
				break
			}
			if err := p.checkpoint(ctx, &rd, &ck, m.Data()); err != nil {
				p.ckptErrors.Add(1)
				p.log.Warn("hub: checkpoint not stored; it will be delivered again", "err", err)
				_ = m.NakWithDelay(5 * time.Second)
				continue
			}
			_ = m.Ack()
		}
		stop()
		it.Stop()
	}
}

// checkpoint stores a frame's checkpoints; an error asks for the frame again.
func (p *Process) checkpoint(ctx context.Context, rd *obs.Reader, ck *obs.Checkpoint, data []byte) error {
	if err := rd.Reset(data); err != nil {
		p.malformed.Add(1)
		return nil // never readable: acknowledged, counted
	}
	for rd.Next() {
		if rd.Kind() != obs.KindCheckpoint {
			continue
		}
		if err := rd.Decode(ck); err != nil {
			p.malformed.Add(1)
			continue
		}
		err := p.cfg.Checkpoint(ctx, ck.Sensor, ck.JSON)
		switch {
		case err == nil:
			p.checkpoints.Add(1)
		case errors.Is(err, ErrSkip):
			p.ckptErrors.Add(1)
			p.log.Warn("hub: sensor checkpoint refused", "sensor", ck.Sensor, "err", err)
		default:
			return err
		}
	}
	if rd.Err() != nil {
		p.malformed.Add(1)
	}
	return nil
}

func prevKey(day int64, part int) string {
	return "d" + strconv.FormatInt(day, 10) + ".p" + strconv.Itoa(part)
}

// publishPrevalence publishes the tables of this process's partitions that
// changed since the last time.
func (p *Process) publishPrevalence(ctx context.Context, kv jetstream.KeyValue) {
	for _, pc := range p.eng.Changed() {
		if !p.active[pc.Part] {
			continue
		}
		b, cut := marshalCounts(pc)
		if cut {
			p.truncated.Add(1)
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := kv.Put(pctx, prevKey(pc.Day, pc.Part), b)
		cancel()
		if err != nil {
			p.log.Warn("hub: cannot publish prevalence", "partition", pc.Part, "err", err)
			continue
		}
		p.published.Add(1)
	}
}

// marshalCounts encodes pc, keeping its most prevalent destinations when
// all would not fit in one message.
func marshalCounts(pc merge.PartitionCounts) ([]byte, bool) {
	b, _ := json.Marshal(pc)
	if len(b) <= maxPrevalenceJSON {
		return b, false
	}
	type dc struct {
		d string
		n uint64
	}
	all := make([]dc, 0, len(pc.Dests))
	for d, n := range pc.Dests {
		all = append(all, dc{d, n})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n || (all[i].n == all[j].n && all[i].d < all[j].d) })
	for keep := len(all) / 2; keep > 0; keep /= 2 {
		pc.Dests = make(map[string]uint64, keep)
		for _, x := range all[:keep] {
			pc.Dests[x.d] = x.n
		}
		if b, _ = json.Marshal(pc); len(b) <= maxPrevalenceJSON {
			break
		}
	}
	return b, true
}

// watchPrevalence keeps the other processes' tables.
func (p *Process) watchPrevalence(w jetstream.KeyWatcher) {
	defer w.Stop()
	for e := range w.Updates() {
		if e == nil {
			continue // the initial values are in
		}
		p.remoteMu.Lock()
		if e.Operation() != jetstream.KeyValuePut {
			delete(p.remote, e.Key())
		} else {
			if pc, err := parseCounts(e.Key(), e.Value()); err != nil {
				p.malformed.Add(1)
				p.log.Debug("hub: prevalence table skipped", "key", e.Key(), "err", err)
			} else {
				p.remote[e.Key()] = pc
				// The bucket's TTL removes old tables without telling
				// watchers: drop what is older than the days counted.
				for k, o := range p.remote {
					if o.Day < pc.Day-int64(PrevalenceTTL/(24*time.Hour)) {
						delete(p.remote, k)
					}
				}
			}
		}
		p.remoteMu.Unlock()
	}
}

// parseCounts reads a prevalence table another process published under key.
func parseCounts(key string, val []byte) (merge.PartitionCounts, error) {
	var pc merge.PartitionCounts
	if err := json.Unmarshal(val, &pc); err != nil {
		return pc, fmt.Errorf("hub: prevalence table %s: %w", key, err)
	}
	if pc.Part < 0 || pc.Part >= obs.Partitions || prevKey(pc.Day, pc.Part) != key {
		return pc, fmt.Errorf("hub: prevalence table %s names partition %d of day %d", key, pc.Part, pc.Day)
	}
	return pc, nil
}

// remotePrevalence sums the published tables of the partitions this
// process does not hold (engine goroutine: active is its own).
func (p *Process) remotePrevalence(day int64, dest string) (hosts, fleet uint64) {
	p.remoteMu.Lock()
	defer p.remoteMu.Unlock()
	for _, pc := range p.remote {
		if pc.Day != day || p.active[pc.Part] {
			continue
		}
		hosts += pc.Dests[dest]
		fleet += pc.Fleet
	}
	return hosts, fleet
}

// Stats returns the counters (the engine's as of the last snapshot, at
// most PrevalenceEvery old).
func (p *Process) Stats() Stats {
	p.snapMu.Lock()
	s := p.snap
	p.snapMu.Unlock()
	s.Frames, s.Malformed, s.Refused = p.frames.Load(), p.malformed.Load(), p.refused.Load()
	s.Published, s.Truncated = p.published.Load(), p.truncated.Load()
	s.Checkpoints, s.CkptErrors = p.checkpoints.Load(), p.ckptErrors.Load()
	s.Records = map[string]uint64{}
	for k := obs.KindBeat; k <= obs.KindCheckpoint; k++ {
		if n := p.records[k&7].Load(); n > 0 {
			s.Records[k.String()] = n
		}
	}
	s.Owned = len(p.leases.Owned())
	s.Gained, s.Lost = p.leases.Counts()
	p.remoteMu.Lock()
	for _, pc := range p.remote {
		s.RemoteDests += len(pc.Dests)
	}
	p.remoteMu.Unlock()
	return s
}

// updateSnapshot copies the engine's counters for Stats (engine goroutine).
func (p *Process) updateSnapshot() {
	c, d := p.eng.Stats()
	p.snapMu.Lock()
	p.snap.Engine, p.snap.Pairs, p.snap.PairEvicts, p.snap.Hosts = c, d.Pairs, d.Evictions, p.eng.HostCount()
	p.snapMu.Unlock()
}

// Ledger records the alert ids the hub delivered in AlertsBucket, so a
// process that rebuilds a partition another delivered from does not
// deliver its alerts again. It is the alert stage's pipeline.Ledger.
type Ledger struct {
	kv  jetstream.KeyValue
	log *slog.Logger
}

func ledgerKey(id string) string {
	// Alert ids are hex; anything else is made a valid key.
	return "a." + strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, id)
}

// Alerted reports an id delivered before. When the bucket cannot be read
// it says no: an alert delivered twice is better than one lost.
func (l *Ledger) Alerted(id string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	e, err := l.kv.Get(ctx, ledgerKey(id))
	if err != nil {
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			l.log.Warn("hub: alert ledger unreadable: delivering", "id", id, "err", err)
		}
		return false
	}
	return string(e.Value()) == pipeline.FateAlerted
}

// Record notes a delivered alert (other fates are not shared: a
// suppressed alert is judged again by whichever process finds it).
func (l *Ledger) Record(a *alert.Alert, fate, _, _ string) {
	if fate != pipeline.FateAlerted {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := l.kv.Put(ctx, ledgerKey(a.ID), []byte(fate)); err != nil {
		l.log.Warn("hub: cannot record alert in the ledger", "id", a.ID, "err", err)
	}
}
