package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/launchtap/launchtap/bpf"
	"github.com/launchtap/launchtap/sensor/capture/live"
	"github.com/launchtap/launchtap/sensor/pipeline"
)

// shutdownGrace bounds how long SIGTERM waits for the last alerts to leave.
const shutdownGrace = 10 * time.Second

func runLive(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: launchtap run -i IFACE [-i IFACE2 ...] [flags]\n\nCaptures on tap/span interfaces until SIGINT or SIGTERM; SIGHUP reloads the baseline and the file inventory. Flags:")
		fs.PrintDefaults()
	}
	o := newSensorFlags(fs)
	lc := live.NewConfig()
	lc.RegisterFlags(fs)
	if err := parseFlags(fs, args, o); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintln(stderr, "launchtap run:", oneLine(err))
		return exitUsage
	}
	if len(lc.Interfaces) == 0 || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "launchtap run: give the capture interfaces with -i IFACE (and no other arguments)")
		return exitUsage
	}
	if err := o.prepare(stderr); err != nil {
		fmt.Fprintln(stderr, "launchtap run:", oneLine(err))
		return exitUsage
	}
	// The kernel's filter must time sessions and bursts as the flow stage does.
	lc.Workers = o.pipe.Workers
	lc.UDPIdle = o.pipe.Flow.UDPIdle
	lc.BurstGap = o.pipe.Flow.BurstGap
	lc.MinBurstLen = uint32(o.pipe.Flow.MinBurstLen)
	lc.Internal = o.pipe.Internal.Prefixes()
	capt, err := live.Open(lc, o.log)
	if err != nil {
		fmt.Fprintln(stderr, "launchtap run:", oneLine(err))
		return exitFailure
	}
	defer capt.Close()
	o.pipe.Workers = capt.Workers() // fewer than asked when eBPF steering is unavailable
	if fc := capt.Flows(); fc != nil {
		o.pipe.Filtered = newFilterCounts(fc, o.log)
	}
	s, err := o.build(stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "launchtap run:", oneLine(err))
		return exitUsage
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	kernel := func(add func(sample)) { addCaptureStats(capt, add, s.log) }
	if err := s.startObservability(runCtx, o, kernel); err != nil {
		s.finish(ctx)
		fmt.Fprintln(stderr, "launchtap run:", oneLine(err))
		return exitUsage
	}
	go reloadOnHUP(runCtx, o, s)
	if fc := capt.Flows(); fc != nil {
		go sweepFilterFlows(runCtx, fc, 2*max(o.pipe.Flow.TCPIdle, o.pipe.Flow.UDPIdle), s.log)
	}
	go func() {
		<-runCtx.Done()
		capt.Stop() // every source's Next returns io.EOF; workers flush their sessions
	}()

	health := func(msg string, sev int) {
		if s.syslog != nil {
			s.syslog.Health(msg, sev)
		}
	}
	health(fmt.Sprintf("capture started on %s with %d workers", strings.Join(lc.Interfaces, ","), capt.Workers()), 6)
	// Before the alert stage starts: finish waits for that stage, which ends
	// only when the pipeline has run.
	stopProfile, err := startCPUProfile(o.cpuProfile)
	if err != nil {
		s.finish(ctx)
		fmt.Fprintln(stderr, "launchtap run:", oneLine(err))
		return exitUsage
	}
	s.startAlerts(ctx)
	runErr := s.pipe.Run(runCtx, capt.Sources())
	if err := stopProfile(); err != nil {
		s.log.Error("writing the CPU profile", "err", err)
	}
	stop()
	if runErr != nil {
		health("capture failed: "+oneLine(runErr), 3)
	} else {
		health("capture stopped", 6)
	}
	finishCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	finishErr := s.finish(finishCtx)

	code := exitOK
	if runErr != nil {
		fmt.Fprintln(stderr, "launchtap run:", oneLine(runErr))
		code = exitFailure
	}
	if finishErr != nil {
		fmt.Fprintln(stderr, "launchtap run:", oneLine(finishErr))
		code = exitFailure
	}
	sum := newSummary(s, lc.Interfaces, nil)
	if cs, err := capt.Stats(); err == nil {
		sum.Packets, sum.Kernel = cs.Delivered, kernelSummary(cs)
	}
	sum.print(stderr)
	if o.summaryPath != "" {
		if err := sum.writeJSON(o.summaryPath); err != nil {
			fmt.Fprintln(stderr, "launchtap run:", oneLine(err))
			code = exitFailure
		}
	}
	return code
}

// reloadOnHUP re-reads the baseline file and the file inventory on SIGHUP.
// A bad file keeps the old one and says why.
func reloadOnHUP(ctx context.Context, o *sensorFlags, s *sensor) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		if o.baselinePath != "" {
			if err := s.baseline.Reload(o.baselinePath); err != nil {
				s.log.Error("baseline reload failed; keeping the previous one", "err", err)
			} else {
				s.log.Info("baseline reloaded", "file", o.baselinePath, "held_alerts", s.stage.Held())
				s.stage.Rescan() // retroactive: judge again what the old baseline suppressed
			}
		}
		if err := s.enrich.Reload(); err != nil {
			s.log.Error("inventory reload failed; keeping the previous one", "err", err)
		}
	}
}

func kernelSummary(cs live.Stats) map[string]uint64 {
	// seen = delivered + filter_counted + drops + undelivered (+ unaccounted)
	m := map[string]uint64{
		"packets":     cs.Packets,
		"drops":       cs.Drops,
		"freezes":     cs.Freezes,
		"delivered":   cs.Delivered,
		"seen":        cs.Seen,
		"undelivered": cs.Undelivered,
		"unaccounted": cs.Unaccounted,
	}
	if cs.FilterOn {
		m["filter_passed"] = cs.Filter.Passed()
		m["filter_map_full"] = cs.Filter.PassMapFull
		m["filter_counted"] = cs.Filter.Counted
	}
	return m
}

func addCaptureStats(capt *live.Capture, add func(sample), log *slog.Logger) {
	cs, err := capt.Stats()
	if err != nil {
		log.Warn("reading capture statistics", "err", err)
		return
	}
	for _, m := range []struct {
		name, help string
		v          uint64
	}{
		{"kernel_packets", "Packets the AF_PACKET sockets accepted (after the pre-filter), drops included.", cs.Packets},
		{"kernel_drops", "Packets the kernel dropped because a ring was full (tp_drops).", cs.Drops},
		{"kernel_freezes", "Times a ring filled and its queue froze (tp_freeze_q_cnt).", cs.Freezes},
		{"bpf_map_full", "Packets the pre-filter passed because its flow table was full.", cs.Filter.PassMapFull},
		{"bpf_passed", "Packets the pre-filter passed to user space.", cs.Filter.Passed()},
		{"bpf_counted", "Packets the pre-filter counted in the kernel instead of passing them.", cs.Filter.Counted},
		{"capture_seen", "Packets the capture saw: passed to the sockets plus counted by the pre-filter (seen = delivered + bpf_counted + kernel_drops + undelivered).", cs.Seen},
		{"capture_delivered", "Packets delivered to the workers.", cs.Delivered},
	} {
		add(sample{name: m.name, help: m.help, counter: true, value: float64(m.v)})
	}
	add(sample{name: "capture_undelivered", help: "Packets in the rings not yet delivered; after a stop, those left behind.", value: float64(cs.Undelivered)})
	if fc := capt.Flows(); fc != nil {
		ts := fc.Stats()
		add(sample{name: "bpf_flow_syscalls", help: "bpf(2) calls made to take ended sessions' kernel counts (batched: walks of 4096 entries, batch deletes).", counter: true, value: float64(ts.Syscalls)})
		add(sample{name: "bpf_flow_taken", help: "Ended sessions' flow directions asked of the kernel's flow table.", counter: true, value: float64(ts.Keys)})
	}
}

// filterCounts gives the flow stage the eBPF pre-filter's per-flow counts.
// When a new session begins on a 5-tuple, the filter splits its counts: the
// ended session gets those before the split, and the rest are held here for
// the session that began.
type filterCounts struct {
	fc  *bpf.FlowCounters
	log *slog.Logger

	mu      sync.Mutex
	carried map[bpf.FlowKey]bpf.Counts // bounded by maxCarried
	errs    uint64
	lost    uint64 // carried counts dropped because the map was full

	batchMu   sync.Mutex // TakeBatch's buffers, reused
	keys      []bpf.FlowKey
	prev, cur []bpf.Counts
}

const maxCarried = 1 << 16

func newFilterCounts(fc *bpf.FlowCounters, log *slog.Logger) *filterCounts {
	return &filterCounts{fc: fc, log: log, carried: map[bpf.FlowKey]bpf.Counts{}}
}

func (f *filterCounts) Take(src, dst netip.Addr, sport, dport uint16, proto uint8, restarted bool) (uint64, uint64) {
	k := bpf.NewFlowKey(src, dst, sport, dport, proto)
	prev, cur, err := f.fc.Take(k)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		f.failed(err)
		return 0, 0
	}
	return f.settle(k, prev, cur, restarted)
}

// TakeBatch takes the counts of many ended sessions' directions with a few
// kernel calls (bpf.FlowCounters.TakeMany) instead of one each.
func (f *filterCounts) TakeBatch(reqs []pipeline.FlowTake) {
	f.batchMu.Lock()
	defer f.batchMu.Unlock()
	f.keys = f.keys[:0]
	for _, r := range reqs {
		f.keys = append(f.keys, bpf.NewFlowKey(r.Src, r.Dst, r.SrcPort, r.DstPort, r.Proto))
	}
	if n := len(reqs); cap(f.prev) < n {
		f.prev, f.cur = make([]bpf.Counts, n), make([]bpf.Counts, n)
	}
	err := f.fc.TakeMany(f.keys, f.prev[:len(reqs)], f.cur[:len(reqs)])
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		f.failed(err) // the counts found before the error are still good
	}
	for i := range reqs {
		reqs[i].Pkts, reqs[i].Bytes = f.settle(f.keys[i], f.prev[i], f.cur[i], reqs[i].Restarted)
	}
}

// failed logs at powers of two, not per session. f.mu is held.
func (f *filterCounts) failed(err error) {
	if f.errs++; f.errs&(f.errs-1) == 0 {
		f.log.Warn("reading the pre-filter's flow counters", "err", err, "errors", f.errs)
	}
}

// settle gives an ended session its counts: prev, what a restart carried
// over to it, and cur unless a new session on the 5-tuple owns cur. f.mu is held.
func (f *filterCounts) settle(k bpf.FlowKey, prev, cur bpf.Counts, restarted bool) (uint64, uint64) {
	got := prev
	if c, ok := f.carried[k]; ok {
		got = got.Add(c)
		delete(f.carried, k)
	}
	switch {
	case !restarted:
		got = got.Add(cur)
	case len(f.carried) < maxCarried:
		f.carried[k] = cur
	default:
		if f.lost++; f.lost&(f.lost-1) == 0 {
			f.log.Warn("pre-filter counts of restarted sessions dropped: too many carried at once", "dropped", f.lost)
		}
	}
	return got.Packets, got.Payload
}

// sweepFilterFlows reaps flow entries no session will take (flows user space
// never tracked), so the kernel table does not fill with them.
func sweepFilterFlows(ctx context.Context, fc *bpf.FlowCounters, idle time.Duration, log *slog.Logger) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := fc.Sweep(idle, nil); err != nil {
			log.Warn("sweeping the pre-filter's flow table", "err", err)
		} else if n > 0 {
			log.Debug("swept idle pre-filter flows", "entries", n)
		}
	}
}
