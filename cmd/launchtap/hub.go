package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/baseline"
	"github.com/launchtap/launchtap/sensor/hub/link"
	"github.com/launchtap/launchtap/sensor/hub/merge"
	"github.com/launchtap/launchtap/sensor/hub/orgstore"
	"github.com/launchtap/launchtap/sensor/hub/proc"
	"github.com/launchtap/launchtap/sensor/netset"
	"github.com/launchtap/launchtap/sensor/pipeline"
)

// hubProcFlags are the hub's own flags; the alert stage's (baseline,
// enrichment, syslog, alerts, fleet grouping, detection thresholds) are a
// sensorFlags, registered and built as replay and run do.
type hubProcFlags struct {
	url            string
	creds, ca      string
	listen, store  string // --nats-listen, --nats-store: an embedded server
	id             string
	replicas       int
	leaseTTL       time.Duration
	mergeHostnames bool
	db             string // --db: the organisation's store
	maxHosts       int
	maxDests       int
}

func (a *app) hubCmd() *cobra.Command {
	var (
		o *sensorFlags
		h *hubProcFlags
	)
	cmd := &cobra.Command{
		Use:   "hub --nats URL [flags]",
		Short: "merge many sensors' observations: one host across sensors, fleet prevalence, one alert stage",
		Long: "Runs one hub process: it reads the observations sensors publish (launchtap run|replay --hub-url)\n" +
			"from NATS JetStream, merges each host's identities across sensors (MAC, inventory serial,\n" +
			"hostname), runs the sensor's periodicity detector on the merged beats, counts fleet prevalence\n" +
			"per destination and day, and delivers alerts through the sensor's alert stage (baseline, MDM\n" +
			"enrichment, JSON Lines, syslog). Several processes share the work by host identity: each claims\n" +
			"a share of 64 partitions through leases, and a process that stops hands its share to the others\n" +
			"within 25 s. SIGHUP reloads the baseline and the file inventory. See docs/many-sensors.md.",
		Example: "  launchtap hub --nats nats://127.0.0.1:4222 --baseline /etc/launchtap/baseline.yaml\n" +
			"  launchtap hub --nats tls://nats1:4222,tls://nats2:4222 --nats-creds hub.creds --nats-ca ca.pem --hub-replicas 3",
		Args: cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			a.code = a.runHub(cmd, o, h)
		},
	}
	o, h = newHubFlags(a, cmd.Flags())
	return cmd
}

// newHubFlags registers the hub's flags: its own, and of the sensor's those
// the alert stage and the detector use (no capture, flow or DNS flags: the
// sensors decided those).
func newHubFlags(a *app, fs *pflag.FlagSet) (*sensorFlags, *hubProcFlags) {
	// No --hub-url: a hub process does not publish to itself.
	o := &sensorFlags{pipe: pipeline.DefaultConfig(), notes: func() []string { return a.notes }, hub: &hubFlags{}}
	o.internal = newCIDRList("internal", netset.DefaultInternal, a.note)
	h := &hubProcFlags{}
	addLogFlags(fs, &o.config, &o.logLevel, &o.logFormat)
	fs.StringVar(&h.url, "nats", "", "NATS `URL`s of the JetStream cluster (comma-separated: nats://host:4222, tls://...)")
	fs.StringVar(&h.listen, "nats-listen", "", "run a JetStream server inside the hub on `host:port` (one box, or a demo; sensors reach it with --hub-url) instead of --nats")
	fs.StringVar(&h.store, "nats-store", "", "`dir` the embedded server (--nats-listen) keeps its stream and buckets in")
	fs.StringVar(&h.creds, "nats-creds", "", "NATS credentials `file` (user JWT and nkey seed)")
	fs.StringVar(&h.ca, "nats-ca", "", "PEM `file` of the CA that signed the NATS servers' certificates (implies TLS)")
	fs.StringVar(&h.id, "hub-id", "", "this process's `id`, unique among the hub's processes (its partition leases carry it; default HOSTNAME-PID)")
	fs.IntVar(&h.replicas, "hub-replicas", 1, "replicas of the stream and buckets when the hub creates them (3 on a 3-node cluster)")
	fs.DurationVar(&h.leaseTTL, "lease-ttl", proc.DefaultLeaseTTL, "how long a partition lease lives unrenewed: a stopped process's partitions move after it")
	fs.StringVar(&h.db, "db", "", "the organisation's PostgreSQL `URL` (postgres://user@host/db): every sensor's checkpoints and the hub's alert fates, for launchtap report --db (docs/many-sensors.md)")
	fs.BoolVar(&h.mergeHostnames, "merge-hostnames", true, "merge hosts that report the same hostname (never default names such as MacBook-Pro); MACs and serials always merge")
	fs.IntVar(&h.maxHosts, "max-hub-hosts", merge.DefaultMaxHosts, "merged hosts one hub process tracks; beyond it the least recently active is forgotten")
	fs.IntVar(&h.maxDests, "max-prevalence-dests", merge.DefaultMaxDests, "destinations whose fleet prevalence one hub process counts per day")
	setGroup(fs, groupHub, "db", "nats", "nats-listen", "nats-store", "nats-creds", "nats-ca", "hub-id", "hub-replicas", "lease-ttl", "merge-hostnames")
	setGroup(fs, groupState, "max-hub-hosts", "max-prevalence-dests")
	fs.Var(&o.pipe.OS, "os", "which hosts alert: macos (unknown-OS hosts at low severity) or any")
	fs.Float64Var(&o.pipe.UnknownMinScore, "unknown-min-score", pipeline.DefaultUnknownMinScore, "with --os macos, the score (0..1) a beacon from a host of unknown OS needs to alert, at low severity")
	fs.StringVar(&o.baselinePath, "baseline", "", "organisation baseline YAML `file` (rules, approved_destinations, approved_labels; see docs/baseline.md), merged with the built-in default")
	fs.IntVar(&o.fleet.MinHosts, "group-min-hosts", pipeline.DefaultFleetMinHosts, "hosts beating to one destination at one period that become one fleet group alert (0: off; docs/fleet-grouping.md)")
	fs.BoolVar(&o.groupUpdates, "group-updates", true, "deliver an update record when a host joins a fleet group; false: count it only")
	setGroup(fs, groupDetection, "os", "unknown-min-score", "baseline", "group-min-hosts", "group-updates")
	fs.StringVar(&o.sensorName, "sensor-name", "", "name put in alerts' sensor field and syslog HOSTNAME (default hub-HOSTNAME)")
	fs.StringVar(&o.alertsPath, "alerts", "-", "write alerts as JSON Lines to `file` (- for standard output)")
	fs.StringVar(&o.summaryPath, "summary", "", "also write the final summary as one JSON object to `file`")
	fs.StringVar(&o.metricsAddr, "metrics-addr", "", "serve Prometheus metrics on `host:port` at /metrics (empty: off)")
	fs.DurationVar(&o.statsEvery, "stats-interval", time.Minute, "how often to log a stats line (0: never)")
	setGroup(fs, groupOutput, "sensor-name", "alerts", "summary", "metrics-addr", "stats-interval")
	addGoFlags(fs, groupDetection, o.pipe.Beacon.RegisterFlags)
	addGoFlags(fs, groupEnrichment, o.enrich.RegisterFlags)
	addGoFlags(fs, groupOutput, o.syslog.RegisterFlags)
	return o, h
}

// sanitizeID makes a host name a lease id token (no dots or spaces).
func sanitizeID(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '.' || r == ' ' || r == '*' || r == '>' {
			return '-'
		}
		return r
	}, s)
	if s == "" {
		return "hub"
	}
	return s
}

func (h *hubProcFlags) check() error {
	if h.id == "" {
		host, _ := os.Hostname()
		h.id = fmt.Sprintf("%s-%d", sanitizeID(host), os.Getpid())
	}
	switch {
	case h.url == "" && h.listen == "":
		return errors.New("nats: the JetStream URL is required (e.g. --nats nats://127.0.0.1:4222), or --nats-listen to run one inside the hub")
	case h.url != "" && h.listen != "":
		return errors.New("nats-listen: runs the hub's own server; not with --nats")
	case h.store != "" && h.listen == "":
		return errors.New("nats-store: needs --nats-listen")
	case h.replicas < 1 || h.replicas > 5:
		return fmt.Errorf("hub-replicas: %d is not within 1..5", h.replicas)
	case h.leaseTTL < 2*time.Second || h.leaseTTL > 5*time.Minute:
		return fmt.Errorf("lease-ttl: %v is not within 2s..5m", h.leaseTTL)
	case h.maxHosts < 1:
		return fmt.Errorf("max-hub-hosts: %d: want at least 1", h.maxHosts)
	case h.maxDests < 1:
		return fmt.Errorf("max-prevalence-dests: %d: want at least 1", h.maxDests)
	}
	if sanitizeID(h.id) != h.id {
		return fmt.Errorf("hub-id: %q: no dots, spaces or wildcards", h.id)
	}
	return nil
}

// runHub is the hub command once its flags are parsed.
func (a *app) runHub(cmd *cobra.Command, o *sensorFlags, h *hubProcFlags) int {
	ctx, stdout, stderr := cmd.Context(), a.stdout, a.stderr
	if err := h.check(); err != nil {
		return a.usage(cmd, err)
	}
	if o.sensorName == "" {
		host, _ := os.Hostname()
		o.sensorName = "hub-" + host
	}
	if err := o.prepare(stderr); err != nil {
		return a.usage(cmd, err)
	}
	s, err := o.buildStage(stdout, stderr)
	if err != nil {
		return a.fail(cmd, err, exitUsage)
	}
	if h.listen != "" {
		srv, url, err := embeddedNATS(h.listen, h.store)
		if err != nil {
			s.finish(ctx)
			return a.usage(cmd, err)
		}
		defer srv.Shutdown()
		h.url = url
		s.log.Info("hub: JetStream server running inside the hub", "url", url, "store", h.store)
	}
	conn, err := link.Dial(link.Options{URL: h.url, Creds: h.creds, CA: h.ca, Name: "launchtap hub " + h.id, Log: s.log})
	if err != nil {
		s.finish(ctx)
		return a.fail(cmd, err, exitUsage)
	}
	defer conn.Close()
	nc := conn.NC
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var org *orgstore.Store
	var checkpoint func(ctx context.Context, sensor string, js []byte) error
	if h.db != "" {
		octx, cancel := context.WithTimeout(ctx, 30*time.Second)
		org, err = orgstore.Open(octx, h.db)
		cancel()
		if err != nil {
			s.finish(ctx)
			return a.fail(cmd, err, exitFailure)
		}
		defer org.Close()
		checkpoint = func(ctx context.Context, sensor string, js []byte) error {
			_, err := org.CheckpointJSON(ctx, sensor, js)
			if errors.Is(err, orgstore.ErrBadCheckpoint) || errors.Is(err, orgstore.ErrNoSensor) {
				return fmt.Errorf("%w: %w", proc.ErrSkip, err)
			}
			return err
		}
	}
	out := make(chan *alert.Alert, 1024)
	start := time.Now()
	p, err := proc.Start(runCtx, nc, proc.Config{Checkpoint: checkpoint,
		ID: h.id, Replicas: h.replicas, LeaseTTL: h.leaseTTL, Log: s.log,
		Engine: merge.Config{Beacon: o.pipe.Beacon, Name: o.sensorName, OS: o.pipe.OS, UnknownMinScore: o.pipe.UnknownMinScore,
			MaxHosts: h.maxHosts, MaxDests: h.maxDests, MergeHostnames: h.mergeHostnames},
	}, out)
	if err != nil {
		s.finish(ctx)
		if ctx.Err() != nil {
			s.log.Warn("hub interrupted while starting")
			return exitOK
		}
		return a.fail(cmd, err, exitFailure)
	}
	s.stage.Ledger = p.Ledger()
	var orgLedger *orgstore.Ledger
	if org != nil {
		// The hub's fates go to the organisation's report too, under the
		// hub's name; either ledger knowing an id delivered is enough.
		orgLedger = org.Ledger(o.sensorName)
		s.stage.Ledger = bothLedgers{p.Ledger(), orgLedger}
		go flushEvery(runCtx, orgLedger, 10*time.Second, s.log)
	}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		s.stage.Run(ctx, out)
	}()
	snap := func() snapshot { return s.hubSnapshot(p.Stats()) }
	if o.metricsAddr != "" {
		addr, err := serveMetrics(runCtx, o.metricsAddr, snap, s.log)
		if err != nil {
			stop()
			p.Wait()
			s.finish(ctx)
			return a.fail(cmd, err, exitUsage)
		}
		s.log.Info("serving Prometheus metrics", "addr", addr, "path", "/metrics")
	}
	if o.statsEvery > 0 {
		go logStats(runCtx, o.statsEvery, snap, s.log, s.syslog)
	}
	go reloadOnHUP(runCtx, o, s)
	if o.baselinePath != "" {
		// The sensors load the organisation baseline from the hub: the file
		// now, and again whenever SIGHUP reloads it.
		publishBaseline(runCtx, conn, o.baselinePath, s.log)
		go publishBaselineOnHUP(runCtx, conn, o.baselinePath, s.log)
	}
	s.log.Info("hub running", "id", h.id, "nats", nc.ConnectedUrlRedacted(), "sensor_name", o.sensorName)
	<-ctx.Done()
	stop()
	p.Wait() // releases the leases, closes out
	code := exitOK
	if err := s.finish(context.Background()); err != nil {
		a.fail(cmd, err, exitFailure)
		code = exitFailure
	}
	if orgLedger != nil {
		fctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := orgLedger.Flush(fctx); err != nil {
			a.fail(cmd, fmt.Errorf("db: the hub's last alert fates: %w", err), exitFailure)
			code = exitFailure
		}
		cancel()
	}
	sum := newHubSummary(s, p.Stats(), time.Since(start))
	if !a.summarize(cmd, sum, stderr, o.summaryPath) {
		code = exitFailure
	}
	return code
}

// hubSummary is the hub's end-of-run report (stderr, and --summary as JSON).
type hubSummary struct {
	Frames     uint64            `json:"frames"`
	Records    map[string]uint64 `json:"records"`
	Malformed  uint64            `json:"malformed"`
	Refused    uint64            `json:"refused"`
	Hosts      int               `json:"hosts"`
	Merges     uint64            `json:"host_merges"`
	LateBeats  uint64            `json:"late_beats"`
	Findings   uint64            `json:"findings"`
	Alerts     uint64            `json:"alerts"`
	Suppressed map[string]uint64 `json:"suppressed"`
	Evictions  map[string]uint64 `json:"evictions"`
	Partitions map[string]uint64 `json:"partitions"`
	// Checkpoints counts the sensors' checkpoints handed to --db: stored,
	// failed.
	Checkpoints map[string]uint64 `json:"checkpoints,omitempty"`
	ElapsedS    float64           `json:"elapsed_s"`
	ObsPerSec   float64           `json:"observations_per_s"`
}

func newHubSummary(s *sensor, st proc.Stats, el time.Duration) *hubSummary {
	c := &s.stage.Counters
	e := st.Engine
	sum := &hubSummary{
		Frames: st.Frames, Records: st.Records, Malformed: st.Malformed, Refused: st.Refused, Hosts: st.Hosts,
		Merges: e.Merges, LateBeats: e.LateBeats, Findings: e.Findings, Alerts: c.Emitted.Load(),
		Suppressed: map[string]uint64{"host_os": e.SuppressedOS, "baseline_dest": c.SuppressedDest.Load(),
			"approved_label": c.SuppressedLabel.Load(), "already_alerted": c.Duplicates.Load()},
		Evictions: map[string]uint64{"hosts": e.HostEvictions, "pairs": st.PairEvicts, "host_keys": e.KeysDropped,
			"host_pairs": e.PairsUntracked, "prevalence_dests": e.DestsDropped, "prevalence_days": e.DaysExpired},
		Partitions: map[string]uint64{"gained": st.Gained, "lost": st.Lost, "owned": uint64(st.Owned)},
		ElapsedS:   round3(el.Seconds()),
	}
	if st.Checkpoints+st.CkptErrors > 0 {
		sum.Checkpoints = map[string]uint64{"stored": st.Checkpoints, "failed": st.CkptErrors}
	}
	if el > 0 {
		sum.ObsPerSec = round3(float64(e.Beats+e.Hosts) / el.Seconds())
	}
	return sum
}

func (h *hubSummary) print(w io.Writer) {
	fmt.Fprintf(w, "hub: %d frames, %d beats, %d host records (%d malformed, %d refused); %d hosts (%d merged); %d late beats\n",
		h.Frames, h.Records["beat"], h.Records["host"], h.Malformed, h.Refused, h.Hosts, h.Merges, h.LateBeats)
	fmt.Fprintf(w, "  alerts: %d (findings %d; suppressed: %s)\n", h.Alerts, h.Findings, kv(h.Suppressed))
	fmt.Fprintf(w, "  evictions: %s; partitions: %s\n", kv(h.Evictions), kv(h.Partitions))
	fmt.Fprintf(w, "  elapsed %.1fs, %s observations/s\n", h.ElapsedS, strconv.FormatFloat(h.ObsPerSec, 'f', -1, 64))
}

// publishBaseline puts the baseline file in the hub's baseline bucket for
// the sensors, when it parses (a file that does not is not handed on: the
// sensors keep the last good one).
func publishBaseline(ctx context.Context, conn *link.Conn, path string, log *slog.Logger) {
	data, err := os.ReadFile(path)
	if err == nil {
		_, err = baseline.Parse(data)
	}
	if err != nil {
		log.Error("hub: baseline not published to the sensors", "file", path, "err", err)
		return
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rev, err := link.PublishBaseline(pctx, conn.JS, data)
	if err != nil {
		log.Error("hub: baseline not published to the sensors", "file", path, "err", err)
		return
	}
	log.Info("hub: baseline published to the sensors", "file", path, "revision", rev)
}

// publishBaselineOnHUP publishes the baseline again on every SIGHUP.
func publishBaselineOnHUP(ctx context.Context, conn *link.Conn, path string, log *slog.Logger) {
	onHUP(ctx, func() { publishBaseline(ctx, conn, path, log) })
}

// bothLedgers is the hub's ledger with --db: the hub processes' bucket and
// the organisation's store.
type bothLedgers struct{ a, b pipeline.Ledger }

func (l bothLedgers) Alerted(id string) bool { return l.a.Alerted(id) || l.b.Alerted(id) }

func (l bothLedgers) Record(a *alert.Alert, fate, rule, label string) {
	l.a.Record(a, fate, rule, label)
	l.b.Record(a, fate, rule, label)
}

// flushEvery writes the hub's alert fates to the organisation's store.
func flushEvery(ctx context.Context, l *orgstore.Ledger, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := l.Flush(ctx); err != nil && ctx.Err() == nil {
				log.Warn("hub: alert fates not written to the organisation's store; kept for the next try", "err", err)
			}
		}
	}
}
