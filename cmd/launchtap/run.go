package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/launchtap/launchtap/bpf"
	"github.com/launchtap/launchtap/sensor/capture/live"
	"github.com/launchtap/launchtap/sensor/pipeline"
	"github.com/launchtap/launchtap/sensor/state"
)

// shutdownGrace bounds how long SIGTERM waits for the last alerts to leave.
const shutdownGrace = 10 * time.Second

func (a *app) runCmd() *cobra.Command {
	var (
		o  *sensorFlags
		sf *stateFlags
		lc = live.NewConfig()
	)
	cmd := &cobra.Command{
		Use:   "run -i IFACE [-i IFACE ...] [flags]",
		Short: "capture live from tap or span ports (AF_PACKET and eBPF) until stopped",
		Long: "Captures on tap or span interfaces until SIGINT or SIGTERM and writes alerts as JSON Lines;\n" +
			"SIGHUP reloads the baseline and the file inventory. Needs CAP_NET_RAW (and CAP_BPF,\n" +
			"CAP_PERFMON, CAP_NET_ADMIN for the eBPF pre-filter): the packaged systemd unit grants them.",
		Example: "  launchtap run -i enp3s0f1 --syslog tls://siem.example.com:6514 --metrics-addr 127.0.0.1:9731\n" +
			"  launchtap run --config /etc/launchtap/launchtap.yaml      # what launchtap.service runs",
		Args: cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			a.code = a.runLive(cmd, o, sf, &lc)
		},
	}
	o = newSensorFlags(a, cmd.Flags())
	sf = registerStateFlags(cmd.Flags(), state.DefaultDir)
	addGoFlags(cmd.Flags(), groupLive, lc.RegisterFlags)
	return cmd
}

// runLive is the run command once its flags are parsed.
func (a *app) runLive(cmd *cobra.Command, o *sensorFlags, sf *stateFlags, lc *live.Config) int {
	ctx, stdout, stderr := cmd.Context(), a.stdout, a.stderr
	if len(lc.Interfaces) == 0 {
		return a.usage(cmd, errors.New("no capture interface: give one with -i IFACE"))
	}
	if err := o.prepare(stderr); err != nil {
		return a.usage(cmd, err)
	}
	if err := sf.check(); err != nil {
		return a.usage(cmd, err)
	}
	// The kernel's filter must time sessions and bursts as the flow stage does.
	lc.Workers = o.pipe.Workers
	lc.UDPIdle = o.pipe.Flow.UDPIdle
	lc.BurstGap = o.pipe.Flow.BurstGap
	lc.MinBurstLen = uint32(o.pipe.Flow.MinBurstLen)
	lc.Internal = o.pipe.Internal.Prefixes()
	capt, err := live.Open(*lc, o.log)
	if err != nil {
		return a.fail(cmd, capabilityHint(err), exitFailure)
	}
	defer capt.Close()
	o.pipe.Workers = capt.Workers() // fewer than asked when eBPF steering is unavailable
	if fc := capt.Flows(); fc != nil {
		o.pipe.Filtered = newFilterCounts(fc, o.log)
	}
	o.hub.stateDir = sf.dir
	if h := capt.Hosts(); h != nil {
		o.pipe.Hosts = h // the workers' binders tell the fanout each host's addresses
	}
	s, err := o.build(stdout, stderr)
	if err != nil {
		return a.fail(cmd, err, exitUsage)
	}
	ck, err := openState(sf, o, s)
	if err != nil {
		s.finish(ctx)
		fmt.Fprintln(stderr, "launchtap run:", oneLine(err))
		return exitFailure
	}
	if ck != nil {
		ck.drops = func() uint64 {
			cs, err := capt.Stats()
			if err != nil {
				return 0
			}
			return cs.Drops
		}
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	kernel := captureReadings(capt, s.log)
	if err := s.startObservability(runCtx, o, kernel); err != nil {
		s.finish(ctx)
		return a.fail(cmd, err, exitUsage)
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
		return a.fail(cmd, err, exitUsage)
	}
	s.startAlerts(ctx)
	if ck != nil {
		ck.start(runCtx)
	}
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
	if err := ck.finish(); err != nil {
		finishErr = errors.Join(finishErr, err)
	}

	code := exitOK
	if runErr != nil {
		a.fail(cmd, runErr, exitFailure)
		code = exitFailure
	}
	if finishErr != nil {
		a.fail(cmd, finishErr, exitFailure)
		code = exitFailure
	}
	sum := newSummary(s, lc.Interfaces, nil)
	if cs, err := capt.Stats(); err == nil {
		sum.Packets, sum.Kernel = cs.Delivered, kernelSummary(cs)
	}
	if !a.summarize(cmd, sum, stderr, o.summaryPath) {
		code = exitFailure
	}
	return code
}

// reloadOnHUP re-reads the baseline file and the file inventory on SIGHUP.
// A bad file keeps the old one and says why.
func reloadOnHUP(ctx context.Context, o *sensorFlags, s *sensor) {
	onHUP(ctx, func() {
		if o.baselinePath != "" {
			if err := s.baseline.Reload(o.baselinePath); err != nil {
				s.log.Error("baseline reload failed; keeping the previous one", "err", err)
			} else {
				s.log.Info("baseline reloaded", "file", o.baselinePath, "held_alerts", s.stage.Held())
				logBaselineWarnings(s.log, s.baseline.Get())
				s.stage.Rescan() // retroactive: judge again what the old baseline suppressed
			}
		}
		if err := s.enrich.Reload(); err != nil {
			s.log.Error("inventory reload failed; keeping the previous one", "err", err)
		}
	})
}

// onHUP calls fn on every SIGHUP until ctx is done.
func onHUP(ctx context.Context, fn func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			fn()
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
		m["filter_no_entry"] = cs.Filter.PassNoEntry
		m["filter_counted"] = cs.Filter.Counted
	}
	return m
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
	asked     []int32 // keys[j] is of reqs[asked[j]]
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
// kernel calls (bpf.FlowCounters.TakeMany) instead of one each. Directions
// the filter cannot have counted (FlowTake.Uncounted: under a port scan,
// nearly all) are not asked of the kernel; they get only what a restart
// carried over to them.
func (f *filterCounts) TakeBatch(reqs []pipeline.FlowTake) {
	f.batchMu.Lock()
	defer f.batchMu.Unlock()
	f.keys, f.asked = f.keys[:0], f.asked[:0]
	for i := range reqs {
		r := &reqs[i]
		r.Pkts, r.Bytes = 0, 0
		if !r.Uncounted {
			f.keys = append(f.keys, bpf.NewFlowKey(r.Src, r.Dst, r.SrcPort, r.DstPort, r.Proto))
			f.asked = append(f.asked, int32(i))
		}
	}
	n := len(f.keys)
	if cap(f.prev) < n {
		f.prev, f.cur = make([]bpf.Counts, n), make([]bpf.Counts, n)
	}
	var err error
	if n > 0 {
		err = f.fc.TakeMany(f.keys, f.prev[:n], f.cur[:n])
	}
	f.fc.Skip(len(reqs) - n)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		f.failed(err) // the counts found before the error are still good
	}
	for j, i := range f.asked {
		r := &reqs[i]
		r.Pkts, r.Bytes = f.settle(f.keys[j], f.prev[j], f.cur[j], r.Restarted)
	}
	if len(f.carried) == 0 || n == len(reqs) {
		return
	}
	for i := range reqs {
		if r := &reqs[i]; r.Uncounted {
			k := bpf.NewFlowKey(r.Src, r.Dst, r.SrcPort, r.DstPort, r.Proto)
			r.Pkts, r.Bytes = f.settle(k, bpf.Counts{}, bpf.Counts{}, r.Restarted)
		}
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
	case cur == bpf.Counts{}:
		// Nothing of the session that began is counted yet.
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

// capabilityHint adds to an error of opening the capture which capabilities
// the process lacks and where the packaged service grants them, when the
// kernel refused for want of privilege.
func capabilityHint(err error) error {
	if !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.EACCES) {
		return err
	}
	missing := "CAP_NET_RAW"
	if eff, ok := effectiveCaps(); ok {
		var names []string
		for _, c := range captureCaps {
			if eff&(1<<c.bit) == 0 {
				names = append(names, c.name)
			}
		}
		if len(names) > 0 {
			missing = strings.Join(names, ", ")
		}
	}
	return fmt.Errorf("%w: missing capability %s (AF_PACKET needs CAP_NET_RAW; promiscuous mode CAP_NET_ADMIN; "+
		"the eBPF pre-filter CAP_BPF and CAP_PERFMON, or add --no-bpf); run as root or through the launchtap.service "+
		"unit, whose AmbientCapabilities grant them (/lib/systemd/system/launchtap.service)", err, missing)
}

// captureCaps are the capabilities live capture uses (linux/capability.h).
var captureCaps = []struct {
	name string
	bit  uint
}{{"CAP_NET_RAW", 13}, {"CAP_NET_ADMIN", 12}, {"CAP_BPF", 39}, {"CAP_PERFMON", 38}}

// effectiveCaps reads the process's effective capability set.
func effectiveCaps() (uint64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return n, err == nil
		}
	}
	return 0, false
}
