package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/launchtap/launchtap/enrich"
	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/baseline"
	"github.com/launchtap/launchtap/sensor/hostid"
	"github.com/launchtap/launchtap/sensor/netset"
	"github.com/launchtap/launchtap/sensor/pipeline"
	"github.com/launchtap/launchtap/sensor/syslog"
)

// sensorFlags are the detection, enrichment and output flags that replay and
// run share.
type sensorFlags struct {
	pipe   pipeline.Config
	enrich enrich.Config
	syslog syslog.Config
	fleet  pipeline.FleetConfig

	config       string
	internal     *cidrList
	sensorName   string
	alertsPath   string
	summaryPath  string
	baselinePath string
	logLevel     string
	logFormat    string
	log          *slog.Logger // set by prepare
	metricsAddr  string
	statsEvery   time.Duration
	cpuProfile   string
	notes        func() []string // warnings from parsing, logged by prepare
	proxies      stringList      // --proxy, repeatable
	groupUpdates bool            // --group-updates
	hub          *hubFlags       // --hub-*
}

func newSensorFlags(a *app, fs *pflag.FlagSet) *sensorFlags {
	o := &sensorFlags{pipe: pipeline.DefaultConfig(), notes: func() []string { return a.notes }}
	host, _ := os.Hostname()
	o.internal = newCIDRList("internal", netset.DefaultInternal, a.note)
	addLogFlags(fs, &o.config, &o.logLevel, &o.logFormat)
	fs.Var(o.internal, "internal", "internal networks, `CIDRs` (repeatable, comma-separated); egress is internal → external")
	fs.IntVar(&o.pipe.Workers, "workers", 0, "workers sharing state by internal host, each with its own capture socket when live (0: one per core)")
	setGroup(fs, groupCapture, "internal", "workers")
	fs.Var(&o.pipe.OS, "os", "which hosts alert: macos (unknown-OS hosts at low severity) or any")
	fs.Float64Var(&o.pipe.UnknownMinScore, "unknown-min-score", pipeline.DefaultUnknownMinScore, "with --os macos, the score (0..1) a beacon from a host of unknown OS needs to alert, at low severity")
	fs.StringVar(&o.baselinePath, "baseline", "", "organisation baseline YAML `file` (rules, approved_destinations, approved_labels; see docs/baseline.md), merged with the built-in default; check it with launchtap baseline check")
	setGroup(fs, groupDetection, "os", "unknown-min-score", "baseline")
	fs.StringVar(&o.sensorName, "sensor-name", host, "sensor name put in alerts and syslog HOSTNAME")
	fs.StringVar(&o.alertsPath, "alerts", "-", "write alerts as JSON Lines to `file` (- for standard output)")
	fs.StringVar(&o.summaryPath, "summary", "", "also write the final summary as one JSON object to `file`")
	fs.StringVar(&o.cpuProfile, "cpu-profile", "", "write a Go CPU profile of the data path to `file` (read it with go tool pprof)")
	fs.StringVar(&o.metricsAddr, "metrics-addr", "", "serve Prometheus metrics on `host:port` at /metrics (empty: off)")
	fs.DurationVar(&o.statsEvery, "stats-interval", time.Minute, "how often to log a stats line (0: never)")
	fs.IntVar(&o.fleet.MinHosts, "group-min-hosts", pipeline.DefaultFleetMinHosts, "hosts beating to one destination at one period that become one fleet group alert (0: off; docs/fleet-grouping.md)")
	fs.BoolVar(&o.groupUpdates, "group-updates", true, "deliver an update record (the group alert's id, update: true) when a host joins a fleet group; false: count it only")
	setGroup(fs, groupDetection, "group-min-hosts", "group-updates")
	fs.Var(&o.proxies, "proxy", "explicit web proxies, `addr:port`s (repeatable, comma-separated): a CONNECT or absolute-URI request to one is egress to the host it names (internal proxies are also recognised from CONNECT traffic)")
	fs.BoolVar(&o.pipe.LearnInternal, "learn-internal", true, "add to the internal networks the global IPv6 prefixes router advertisements announce and the /64s internal hosts' MACs send from; off, warn once per such /64")
	setGroup(fs, groupCapture, "proxy", "learn-internal")
	setGroup(fs, groupOutput, "sensor-name", "alerts", "summary", "cpu-profile", "metrics-addr", "stats-interval")
	addGoFlags(fs, groupDetection, o.pipe.Flow.RegisterFlags)
	addGoFlags(fs, groupDetection, o.pipe.DNS.RegisterFlags)
	addGoFlags(fs, groupDetection, o.pipe.Beacon.RegisterFlags)
	addGoFlags(fs, groupIdentity, o.pipe.HostID.RegisterFlags)
	addGoFlags(fs, groupEnrichment, o.enrich.RegisterFlags)
	addGoFlags(fs, groupOutput, o.syslog.RegisterFlags)
	cidrFlags(fs, a.note, "macos")
	o.hub = registerHubFlags(fs)
	return o
}

// addLogFlags adds --config, --log-level and --log-format, which every
// command that logs has.
func addLogFlags(fs *pflag.FlagSet, config, level, format *string) {
	fs.StringVar(config, "config", "", "YAML `file` setting any of these flags (keys are flag names); command-line flags win")
	fs.StringVar(level, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(format, "log-format", "text", "log format on standard error: text (logfmt) or json (one object a line)")
	setGroup(fs, groupGeneral, "config")
	setGroup(fs, groupOutput, "log-level", "log-format")
}

// newLogger is the process's logger: level and format as the flags say.
func newLogger(level, format string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log-level: %q is not debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l, ReplaceAttr: roundFloats}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log-format: %q is not text or json", format)
}

// roundFloats logs rates and ratios to three significant digits
// (packets_per_s=16.7, not 16.733333333333334): more is noise.
func roundFloats(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindFloat64 {
		a.Value = slog.Float64Value(round3(a.Value.Float64()))
	}
	return a
}

// round3 rounds f to three significant digits.
func round3(f float64) float64 {
	if f == 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return f
	}
	v, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'g', 3, 64), 64)
	return v
}

// warnPlainHTTP accepts an http:// MDM URL (a lab, or a TLS-terminating
// proxy on the same host) but says what it costs: the API token and the
// inventory cross the network in clear text.
func warnPlainHTTP(log *slog.Logger, c enrich.Config) {
	for _, u := range []struct{ flag, url string }{{"fleet-url", c.FleetURL}, {"jamf-url", c.JamfURL}, {"kandji-url", c.KandjiURL}} {
		if strings.HasPrefix(strings.ToLower(u.url), "http://") {
			log.Warn("MDM URL is plain http: the API credentials and the inventory cross the network unencrypted; use https://",
				"flag", "--"+u.flag, "url", u.url)
		}
	}
}

// sensor is the assembled data path and alert stage of one run.
type sensor struct {
	log      *slog.Logger
	pipe     *pipeline.Pipeline
	stage    *pipeline.AlertStage
	baseline *baseline.Live
	enrich   *enrich.Service
	syslog   *syslog.Emitter // nil without --syslog
	state    *checkpointer   // nil without --state-dir
	hub      *hubSide        // nil without --hub-url
	closers  []func(context.Context) error
	done     sync.WaitGroup

	// finalStats sends the last SENSOR-STATS before syslog closes, so a
	// SIEM sees the totals of a run that ended; nil when there is none.
	finalStats func()
}

// prepare validates the flags that do not need the sensor built.
func (o *sensorFlags) prepare(stderr io.Writer) error {
	var err error
	if o.log, err = newLogger(o.logLevel, o.logFormat, stderr); err != nil {
		return err
	}
	for _, n := range o.notes() {
		o.log.Warn(n)
	}
	if o.pipe.Workers < 0 {
		return fmt.Errorf("workers: %d is negative (0 means one per core)", o.pipe.Workers)
	}
	o.pipe.Internal = netset.New(o.internal.prefixes)
	if o.pipe.OS != "macos" && o.pipe.OS != "any" {
		return fmt.Errorf("os: %q is not macos or any", o.pipe.OS)
	}
	if !(o.pipe.UnknownMinScore >= 0 && o.pipe.UnknownMinScore <= 1) {
		return fmt.Errorf("unknown-min-score: %v is not within 0..1", o.pipe.UnknownMinScore)
	}
	if o.pipe.Proxies, err = parseProxies(o.proxies.vals); err != nil {
		return err
	}
	if err := o.pipe.Flow.Validate(); err != nil {
		return err
	}
	if err := o.pipe.DNS.Validate(); err != nil {
		return err
	}
	if err := o.pipe.Beacon.Validate(); err != nil {
		return err
	}
	if err := o.enrich.CheckFlags(); err != nil {
		return err
	}
	warnPlainHTTP(o.log, o.enrich)
	if err := o.syslog.CheckFlags(); err != nil {
		return err
	}
	if err := o.hub.check(); err != nil {
		return err
	}
	o.fleet.NoUpdates = !o.groupUpdates
	if err := o.fleet.Validate(); err != nil {
		return err
	}
	o.pipe.Sensor = o.sensorName
	o.pipe.Log = o.log
	return nil
}

// build assembles the sensor (prepare first); stdout receives alerts when
// --alerts is "-".
func (o *sensorFlags) build(stdout, stderr io.Writer) (*sensor, error) {
	s, err := o.buildStage(stdout, stderr)
	if err != nil {
		return nil, err
	}
	// The inventory's platform, when it knows the host, outranks passive evidence.
	o.pipe.HostID.Platform = platformFunc(s.enrich.Platform)
	o.pipe.HostMACs = s.enrich.DeviceMACs() // a device's MACs are one host
	if s.pipe, err = pipeline.New(o.pipe); err != nil {
		return nil, err
	}
	return s, nil
}

// buildStage assembles the alert stage and its outputs, all of a sensor but
// the data path: what the hub runs on its merged findings.
func (o *sensorFlags) buildStage(stdout, stderr io.Writer) (*sensor, error) {
	if o.log == nil {
		if err := o.prepare(stderr); err != nil {
			return nil, err
		}
	}
	log := o.log
	s := &sensor{log: log}
	var err error

	b := baseline.Default()
	if o.baselinePath != "" {
		if b, err = baseline.Load(o.baselinePath); err != nil {
			return nil, err
		}
		logBaselineWarnings(log, b)
	}
	s.baseline = baseline.NewLive(b)

	var out io.Writer = stdout
	if o.alertsPath != "-" && o.alertsPath != "" {
		f, err := os.Create(o.alertsPath)
		if err != nil {
			return nil, fmt.Errorf("alerts: %w", err)
		}
		out = f
		s.closers = append(s.closers, func(context.Context) error { return f.Close() })
	}
	if s.enrich, err = enrich.New(o.enrich, log); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, func(context.Context) error { return s.enrich.Close() })
	sinks := []pipeline.Sink{alert.NewJSONWriter(out)}
	if len(o.syslog.URLs) > 0 {
		o.syslog.Hostname, o.syslog.Version = o.sensorName, version
		if s.syslog, err = syslog.New(o.syslog, log); err != nil {
			return nil, err
		}
		sinks = append(sinks, s.syslog)
		// Closed first (closers run last to first): flushes what the alert stage delivered.
		s.closers = append(s.closers, s.syslog.Close)
	}
	if s.hub, err = openHub(o.hub, o.sensorName, log); err != nil {
		return nil, err
	}
	if s.hub != nil {
		sinks = append(sinks, s.hub)
		o.pipe.Hub = s.hub.pub
		s.closers = append(s.closers, func(context.Context) error {
			if s.hub.checkpointed {
				return nil // closed by the checkpointer, after the last checkpoint
			}
			return s.hub.close()
		})
	}
	s.stage = &pipeline.AlertStage{
		Baseline:    s.baseline,
		Enricher:    s.enrich,
		Concurrency: o.enrich.Concurrency,
		Fleet:       o.fleet,
		Sinks:       sinks,
		Log:         log,
	}
	if s.hub != nil {
		s.hub.watchBaseline(s.baseline, s.stage)
	}
	return s, nil
}

// startObservability starts the metrics server and the stats log line;
// extra adds the capture side's counters to every snapshot.
func (s *sensor) startObservability(ctx context.Context, o *sensorFlags, extra func(*readings)) error {
	snap := func() snapshot { return s.snapshot(extra) }
	if o.metricsAddr != "" {
		addr, err := serveMetrics(ctx, o.metricsAddr, snap, s.log)
		if err != nil {
			return err
		}
		s.log.Info("serving Prometheus metrics", "addr", addr, "path", "/metrics")
	}
	if o.statsEvery > 0 {
		go logStats(ctx, o.statsEvery, snap, s.log, s.syslog)
		if s.syslog != nil {
			s.finalStats = func() { s.syslog.Stats(snap().stats) }
		}
	}
	return nil
}

// startAlerts runs the alert stage until the pipeline closes its channel.
func (s *sensor) startAlerts(ctx context.Context) {
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		s.stage.Run(ctx, s.pipe.Alerts())
	}()
}

// finish waits for the last alerts and closes the outputs.
func (s *sensor) finish(ctx context.Context) error {
	s.done.Wait()
	if s.finalStats != nil {
		s.finalStats()
	}
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

// platformFunc adapts enrich.Service.Platform to hostid.PlatformLookup.
type platformFunc func(ip netip.Addr, mac [6]byte) (hostid.Platform, bool)

func (f platformFunc) PlatformLookup(ip netip.Addr, mac [6]byte) (hostid.Platform, bool) {
	return f(ip, mac)
}

// startCPUProfile profiles the process into path until the returned stop is
// called; an empty path profiles nothing.
func startCPUProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu-profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu-profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("cpu-profile: %w", err)
		}
		return nil
	}, nil
}

// parseProxies reads --proxy: addr:port ([v6]:port) entries.
func parseProxies(list []string) ([]netip.AddrPort, error) {
	var out []netip.AddrPort
	for _, f := range list {
		ap, err := netip.ParseAddrPort(f)
		if err != nil || ap.Port() == 0 {
			return nil, fmt.Errorf("proxy: %q is not addr:port", f)
		}
		out = append(out, ap)
	}
	return out, nil
}
