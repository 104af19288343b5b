package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/launchtap/launchtap/sensor/baseline"
	"github.com/launchtap/launchtap/sensor/beacon"
	"github.com/launchtap/launchtap/sensor/dnstrack"
	"github.com/launchtap/launchtap/sensor/hostid"
	"github.com/launchtap/launchtap/sensor/netset"
	"github.com/launchtap/launchtap/sensor/pipeline"
	"github.com/launchtap/launchtap/sensor/state"
	"github.com/spf13/pflag"
)

// stateFlags are --state-dir, --retain and --checkpoint-interval.
type stateFlags struct {
	dir      string
	retain   time.Duration
	interval time.Duration
}

// registerStateFlags adds the state flags; dir is the default directory
// ("" for replay: state only when asked for).
func registerStateFlags(fs *pflag.FlagSet, dir string) *stateFlags {
	f := &stateFlags{}
	fs.StringVar(&f.dir, "state-dir", dir, "keep pair histories, alert history and coverage evidence in `dir` across restarts (\"\": keep nothing)")
	fs.DurationVar(&f.retain, "retain", state.DefaultRetain, "prune evidence older than this from the state directory")
	fs.DurationVar(&f.interval, "checkpoint-interval", time.Minute, "how often the state directory is brought up to date (and at shutdown); a crash loses at most this much")
	setGroup(fs, groupState, "state-dir", "retain", "checkpoint-interval")
	return f
}

func (f *stateFlags) check() error {
	switch {
	case f.dir == "":
		return nil
	case f.retain < time.Hour:
		return fmt.Errorf("retain: %v is below the minimum of 1h", f.retain)
	case f.interval < time.Second:
		return fmt.Errorf("checkpoint-interval: %v is below the minimum of 1s", f.interval)
	}
	return nil
}

// checkpointer writes the sensor's state to the store on an interval and
// at shutdown; it never touches the data path except to ask the workers,
// between batches, for a copy.
type checkpointer struct {
	store    *state.Store // nil: the hub alone (--hub-url without --state-dir)
	hub      *hubSide     // nil without --hub-url
	pipe     *pipeline.Pipeline
	log      *slog.Logger
	sensor   string
	started  int64 // wall time this process started, Unix ns: names the run for the hub
	interval time.Duration
	slack    int64          // pairs beaten this long before a checkpoint are written again (sizes arrive at session end)
	drops    func() uint64  // kernel drops so far (live); nil in replay
	baseline *baseline.Live // its rules are recorded for the report's hygiene section
	internal []netip.Prefix // the configured internal networks, for the report

	mu        sync.Mutex // one checkpoint at a time: the ticker and the final one
	since     int64      // pairs beaten from here on are written next
	lastDrops uint64
	lost      uint64
	stop      context.CancelFunc
	done      sync.WaitGroup
}

// maxRestoredHosts bounds the host states read at start; each worker's
// table then keeps its own --max-hosts.
const maxRestoredHosts = 1 << 18

// maxRestoredIdentity bounds the host joins and bindings read at start
// (each); each binder then keeps its own bounds.
const maxRestoredIdentity = 1 << 16

// maxRestoredAnswers bounds the DNS answers read at start, the most
// recently read; each worker's tracker then keeps its --max-dns-answers.
const maxRestoredAnswers = 1 << 20

// openState opens the state directory, restores the pairs into the
// pipeline and makes the store the alert stage's ledger. It returns nil
// when --state-dir is empty.
func openState(f *stateFlags, o *sensorFlags, s *sensor) (*checkpointer, error) {
	if f.dir == "" {
		return hubCheckpointer(f, o, s)
	}
	if err := f.check(); err != nil {
		return nil, err
	}
	maxPairs := o.pipe.Beacon.MaxPairs
	st, err := state.Open(f.dir, state.Options{Retain: f.retain, MaxPairs: 2 * maxPairs})
	if errors.Is(err, fs.ErrPermission) {
		return nil, fmt.Errorf("%w (give a writable --state-dir, or --state-dir \"\" to keep no state)", err)
	}
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	// Learned networks first: they decide which end of a restored pair's
	// next packets is the internal host.
	learned, bad, err := st.LearnedNetworks(ctx, netset.MaxLearned)
	if err != nil {
		st.Close()
		return nil, err
	}
	lp := make([]pipeline.LearnedPrefix, len(learned))
	for i, l := range learned {
		lp[i] = pipeline.LearnedPrefix{Prefix: l.Prefix, First: l.First}
	}
	if n := s.pipe.RestoreLearned(lp); n > 0 || bad > 0 {
		s.log.Info("state: internal networks learned before restored", "file", st.Path(), "prefixes", n, "unreadable", bad)
	}
	// Then the host table, so that an alert right after the restart carries
	// the OS verdict reached before it; each worker's table keeps its bound.
	var badHosts, badBinds int
	hosts, hostsRefused, err := s.pipe.RestoreHosts(func(fn func(*hostid.HostState)) error {
		var err error
		badHosts, err = st.HostStates(ctx, maxRestoredHosts, fn)
		return err
	}, func(fn func(hostid.BindingState)) error {
		var err error
		badBinds, err = st.Bindings(ctx, maxRestoredHosts, fn)
		return err
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	if skipped := badHosts + badBinds + hostsRefused; skipped > 0 {
		s.log.Warn("state: host states skipped (unreadable or refused)", "file", st.Path(), "skipped", skipped)
	}
	// The host binder's joins and bindings, so that a docked Mac keeps the
	// canonical MAC (host_id) it had, whichever of its MACs speaks first now.
	id, badIdentity, err := st.Identity(ctx, maxRestoredIdentity)
	if err != nil {
		st.Close()
		return nil, err
	}
	ir := s.pipe.RestoreIdentity(id)
	if skipped := badIdentity + ir.Refused + ir.Aged; skipped > 0 {
		s.log.Warn("state: host joins and bindings skipped (unreadable, refused or aged)", "file", st.Path(),
			"unreadable", badIdentity, "refused", ir.Refused, "aged", ir.Aged)
	}
	// And the DNS answers still live, so the sessions of a name resolved
	// before the restart are named, not scored by address.
	var badAnswers int
	answers, answersRefused, err := s.pipe.RestoreDNS(func(fn func(dnstrack.Answer)) error {
		var err error
		badAnswers, err = st.DNSAnswers(ctx, maxRestoredAnswers, fn)
		return err
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	if skipped := badAnswers + answersRefused; skipped > 0 {
		s.log.Warn("state: DNS answers skipped (unreadable or refused)", "file", st.Path(), "skipped", skipped)
	}
	restored, refused, err := s.pipe.Restore(func(fn func(*beacon.PairState)) error {
		var err error
		bad, err = st.Pairs(ctx, maxPairs, fn)
		return err
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	if bad+refused > 0 {
		s.log.Warn("state: pair states skipped (unreadable or refused)", "file", st.Path(), "skipped", bad+refused)
	}
	if restored+hosts+answers+ir.Joins+ir.Bindings > 0 {
		s.log.Info("state restored", "file", st.Path(), "pairs", restored, "hosts", hosts, "dns_answers", answers,
			"host_joins", ir.Joins, "host_bindings", ir.Bindings, "through", time.Unix(0, st.Clock(ctx)).UTC().Format(time.RFC3339))
	}
	s.stage.Ledger = st
	c := &checkpointer{store: st, hub: s.hub, pipe: s.pipe, log: s.log, sensor: o.sensorName, started: time.Now().UnixNano(), interval: f.interval, baseline: s.baseline,
		internal: o.pipe.Internal.Prefixes(),
		slack:    int64(max(10*time.Minute, 2*o.pipe.Flow.TCPIdle))}
	s.state = c
	if s.hub != nil {
		s.hub.checkpointed = true
	}
	return c, nil
}

// hubCheckpointer checkpoints for the hub alone (--hub-url without
// --state-dir): the coverage, host evidence and names it publishes; nil
// without a hub.
func hubCheckpointer(f *stateFlags, o *sensorFlags, s *sensor) (*checkpointer, error) {
	if s.hub == nil {
		return nil, nil
	}
	if f.interval < time.Second {
		return nil, fmt.Errorf("checkpoint-interval: %v is below the minimum of 1s", f.interval)
	}
	s.hub.checkpointed = true
	return &checkpointer{hub: s.hub, pipe: s.pipe, log: s.log, sensor: o.sensorName, started: time.Now().UnixNano(), interval: f.interval,
		baseline: s.baseline, internal: o.pipe.Internal.Prefixes(),
		slack: int64(max(10*time.Minute, 2*o.pipe.Flow.TCPIdle))}, nil
}

// start checkpoints every interval until finish.
func (c *checkpointer) start(ctx context.Context) {
	ctx, c.stop = context.WithCancel(ctx)
	c.done.Add(1)
	go func() {
		defer c.done.Done()
		t := time.NewTicker(c.interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			// Not ctx: a snapshot abandoned at shutdown would lose the hours
			// the workers had already handed it. Once the pipeline stops,
			// Snapshot reads the stopped workers and returns.
			if err := c.checkpoint(context.Background()); err != nil {
				c.log.Error("checkpoint failed; the next one tries again", "err", err)
			}
		}
	}()
}

// checkpoint copies the workers' state out and writes it.
func (c *checkpointer) checkpoint(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	snap, err := c.pipe.Snapshot(ctx, c.since)
	if err != nil {
		return err
	}
	cp := &state.Checkpoint{Clock: snap.Clock, Sensor: c.sensor, Version: version, Started: c.started, Pairs: snap.Pairs, Hosts: snap.Hosts, Internal: c.internal}
	cp.HostStates, cp.Bindings, cp.DNSAnswers = snap.HostStates, snap.Bindings, snap.DNSAnswers
	cp.Identity = &snap.Identity
	for _, l := range snap.Learned {
		cp.Learned = append(cp.Learned, state.LearnedNetwork{Prefix: l.Prefix, First: l.First})
	}
	if c.baseline != nil {
		d, l := c.baseline.Get().RuleNames()
		cp.Rules = &state.Rules{Destinations: d, Labels: l}
	}
	hours := map[int64]*state.Hour{}
	for _, h := range snap.Hours {
		x := hours[h.Start]
		if x == nil {
			x = &state.Hour{Start: h.Start}
			hours[h.Start] = x
		}
		x.Packets += h.Packets
		x.Sessions += h.Sessions
		x.OneSided += h.OneSided
		x.NamedDNS += h.NamedDNS
		x.NamedMAC += h.NamedMAC
		x.NamedWire += h.NamedWire
		x.Unnamed += h.Unnamed
		x.DNSQueries += h.DNSQueries
		x.Evictions += h.Evictions
	}
	if c.drops != nil && snap.Clock > 0 {
		// Kernel drops are counted per capture, not per worker: they go to
		// the hour the checkpoint closes.
		d := c.drops()
		h := snap.Clock / int64(time.Second) / 3600 * 3600
		if hours[h] == nil {
			hours[h] = &state.Hour{Start: h}
		}
		hours[h].Drops += d - c.lastDrops
		c.lastDrops = d
	}
	for _, h := range hours {
		cp.Hours = append(cp.Hours, *h)
	}
	hh := map[state.HostHour]*state.HostHour{}
	for _, h := range snap.HostHours {
		k := state.HostHour{IP: h.Host.String(), Start: h.Start}
		x := hh[k]
		if x == nil {
			x = &state.HostHour{IP: k.IP, Start: k.Start}
			hh[k] = x
		}
		x.Sessions += h.Sessions
		x.Named += h.Named
	}
	for _, h := range hh {
		cp.HostHours = append(cp.HostHours, *h)
	}
	cp.DoHHosts = dohHosts(snap.DoHHosts)
	c.lost += snap.Lost
	if c.hub != nil {
		if n := c.hub.pub.Checkpoint(cp); n > 0 {
			c.log.Warn("hub: queue full, part of a checkpoint not sent", "records", n)
		}
	}
	if c.store != nil {
		if _, err := c.store.Checkpoint(ctx, cp); err != nil {
			return err
		}
	}
	if snap.Clock > 0 {
		c.since = snap.Clock - c.slack
	}
	return nil
}

// dohHosts maps the workers' hosts on encrypted DNS to the store's, one
// per address (a host's sessions all reach the worker that owns it, but a
// restart with other workers may split one between snapshots).
func dohHosts(in []pipeline.DoHHost) []state.DoHHost {
	var out []state.DoHHost
	at := make(map[netip.Addr]int, len(in))
	for _, h := range in {
		first, last := h.First.UnixNano(), h.Last.UnixNano()
		if i, ok := at[h.Addr]; ok {
			o := &out[i]
			if !slices.Contains(o.Providers, h.Provider) {
				o.Providers = append(o.Providers, h.Provider)
				slices.Sort(o.Providers)
			}
			o.Sessions += h.Sessions
			o.First, o.Last = min(o.First, first), max(o.Last, last)
			continue
		}
		at[h.Addr] = len(out)
		out = append(out, state.DoHHost{IP: h.Addr, Providers: []string{h.Provider}, Sessions: h.Sessions, First: first, Last: last})
	}
	return out
}

// finish stops the ticker, writes the last checkpoint (the pipeline has
// stopped and the alert stage delivered everything) and closes the store.
func (c *checkpointer) finish() error {
	if c == nil {
		return nil
	}
	if c.stop != nil {
		c.stop()
	}
	c.done.Wait()
	err := c.checkpoint(context.Background())
	if c.store != nil {
		if err == nil {
			i := c.store.Last()
			c.log.Info("state checkpointed", "file", c.store.Path(), "pairs", i.Pairs, "findings", i.Findings,
				"duration", i.Duration.Round(time.Millisecond), "size", humanBytes(uint64(i.Size)))
		}
		if cerr := c.store.Close(); err == nil {
			err = cerr
		}
	}
	if herr := c.hub.close(); err == nil {
		err = herr
	}
	return err
}

// metrics adds the state database's size and last checkpoint.
func (c *checkpointer) reading() *stateReading {
	i := c.store.Last()
	return &stateReading{bytes: uint64(c.store.Size()), at: i.At, durationMs: uint64(i.Duration.Milliseconds()), errors: i.Errors}
}
