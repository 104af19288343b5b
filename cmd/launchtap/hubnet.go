package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/baseline"
	"github.com/launchtap/launchtap/sensor/hub/link"
	"github.com/launchtap/launchtap/sensor/hub/obs"
	"github.com/launchtap/launchtap/sensor/hub/outbox"
	"github.com/launchtap/launchtap/sensor/hub/publish"
	"github.com/launchtap/launchtap/sensor/pipeline"
)

// hubFlags are the sensor's --hub-* flags: where observations go.
type hubFlags struct {
	url, creds, ca string
	outbox         string
	outboxMax      int64
	drain          time.Duration
	stateDir       string // the command's --state-dir: the outbox's default home
}

func registerHubFlags(fs *pflag.FlagSet) *hubFlags {
	f := &hubFlags{}
	fs.StringVar(&f.url, "hub-url", "", "publish observations to the hub's NATS JetStream at `URL`s (nats://host:port or tls://host:port, comma-separated; empty: no hub; docs/many-sensors.md)")
	fs.StringVar(&f.creds, "hub-creds", "", "NATS credentials `file` (JWT and NKey seed) for --hub-url")
	fs.StringVar(&f.ca, "hub-ca", "", "PEM `file` of the CA that signed the hub servers' TLS certificates (default: the system's roots)")
	fs.StringVar(&f.outbox, "hub-outbox", "", "`dir` keeping observations until the hub acknowledges them, across outages and restarts (default: outbox/ in --state-dir, else in the user's cache directory)")
	fs.Int64Var(&f.outboxMax, "hub-outbox-max-bytes", outbox.DefaultMaxBytes, "bound of the hub outbox on disk; when full its oldest observations are dropped, counted")
	fs.DurationVar(&f.drain, "hub-drain-timeout", 30*time.Second, "at exit, how long to wait for the hub to acknowledge what is left (the rest stays in the outbox for the next start)")
	setGroup(fs, groupOutput, "hub-url", "hub-creds", "hub-ca", "hub-outbox", "hub-outbox-max-bytes", "hub-drain-timeout")
	return f
}

// check validates the flags without connecting.
func (f *hubFlags) check() error {
	if f.url == "" {
		for _, v := range []struct{ name, val string }{{"hub-creds", f.creds}, {"hub-ca", f.ca}, {"hub-outbox", f.outbox}} {
			if v.val != "" {
				return fmt.Errorf("%s: needs --hub-url", v.name)
			}
		}
		return nil
	}
	if f.outboxMax < 1<<20 {
		return fmt.Errorf("hub-outbox-max-bytes: %d is below the minimum of 1 MiB", f.outboxMax)
	}
	if f.drain < 0 {
		return fmt.Errorf("hub-drain-timeout: %v is negative", f.drain)
	}
	o := link.Options{URL: f.url, Creds: f.creds, CA: f.ca}
	return o.Check()
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// outboxDir is where the outbox lives: --hub-outbox, else the state
// directory's outbox/, else the user's cache directory (one per sensor
// name, so two replays of different sensors on one machine do not mix).
func (f *hubFlags) outboxDir(sensor string) (string, error) {
	switch {
	case f.outbox != "":
		return f.outbox, nil
	case f.stateDir != "":
		return filepath.Join(f.stateDir, "outbox"), nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("hub-outbox: no default (%w); give --hub-outbox or --state-dir", err)
	}
	return filepath.Join(cache, "launchtap", "outbox-"+unsafeName.ReplaceAllString(sensor, "_")), nil
}

// hubSide is the sensor's link to the hub.
type hubSide struct {
	log      *slog.Logger
	conn     *link.Conn
	pub      *publish.Publisher
	drain    time.Duration
	stop     context.CancelFunc
	reloads  atomic.Uint64 // baselines from the hub loaded
	rejected atomic.Uint64 // baselines from the hub refused (invalid)
	closed   bool
	// checkpointed: the checkpointer closes the link after its last
	// checkpoint, so that the checkpoint reaches the hub.
	checkpointed bool
}

// openHub connects (in the background when the hub is down) and starts the
// publisher; nil without --hub-url.
func openHub(f *hubFlags, sensor string, log *slog.Logger) (*hubSide, error) {
	if f.url == "" {
		return nil, nil
	}
	dir, err := f.outboxDir(sensor)
	if err != nil {
		return nil, err
	}
	ob, err := outbox.Open(dir, f.outboxMax, log)
	if err != nil {
		return nil, fmt.Errorf("hub-outbox: %w", err)
	}
	if st := ob.Stats(); st.Pending > 0 {
		log.Info("hub: observations from an earlier run wait in the outbox", "dir", dir, "frames", st.Pending)
	}
	conn, err := link.Dial(link.Options{URL: f.url, Creds: f.creds, CA: f.ca, Name: "launchtap sensor " + sensor, Log: log})
	if err != nil {
		ob.Close()
		return nil, err
	}
	h := &hubSide{log: log, conn: conn, drain: f.drain,
		pub: publish.New(publish.Config{Sensor: sensor, Outbox: ob, Log: log})}
	h.pub.Start(conn.JS, conn.NC)
	return h, nil
}

// watchBaseline loads every organisation baseline the hub publishes, as a
// SIGHUP reload does; an invalid one keeps the baseline in force.
func (h *hubSide) watchBaseline(live *baseline.Live, stage *pipeline.AlertStage) {
	ctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	go func() {
		err := link.WatchBaseline(ctx, h.conn.JS, func(yaml []byte, rev uint64) {
			b := baseline.Default()
			if yaml != nil {
				var err error
				if b, err = baseline.Parse(yaml); err != nil {
					h.rejected.Add(1)
					h.log.Error("hub: the organisation baseline is invalid; keeping the one in force", "revision", rev, "err", err)
					return
				}
			}
			live.Set(b)
			h.reloads.Add(1)
			h.log.Info("hub: organisation baseline loaded", "revision", rev, "rules", len(b.Rules()), "held_alerts", stage.Held())
			logBaselineWarnings(h.log, b)
			stage.Rescan()
		})
		if err != nil {
			h.log.Error("hub: not watching the organisation baseline", "err", err)
		}
	}()
}

// Alert forwards a delivered alert: the hub's view of what each sensor
// reported. It never fails the alert stage: a full queue is counted.
func (h *hubSide) Alert(a *alert.Alert) error {
	if err := h.pub.Alert(a); err != nil {
		h.log.Debug("hub: alert not queued", "id", a.ID, "err", err)
	}
	return nil
}

// close gives the hub the drain timeout to acknowledge what is left and
// closes the link; the rest stays in the outbox.
func (h *hubSide) close() error {
	if h == nil || h.closed {
		return nil
	}
	h.closed = true
	if h.stop != nil {
		h.stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.drain)
	defer cancel()
	err := h.pub.Close(ctx)
	st := h.pub.Stats()
	h.log.Info("hub: stopped", "sent_frames", st.Sent, "sent_records", st.SentRecords, "unsent_frames", st.Outbox.Pending,
		"dropped_records", st.QueueDrops+st.Refused, "outbox_dropped_frames", st.Outbox.Dropped)
	h.conn.Close()
	if err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	return nil
}

// hubReading is the hub link's counters for the metrics.
type hubReading struct {
	pub               publish.Stats
	reloads, rejected uint64
}

func (h *hubSide) reading() *hubReading {
	return &hubReading{pub: h.pub.Stats(), reloads: h.reloads.Load(), rejected: h.rejected.Load()}
}

// baselinePublishCmd is `launchtap baseline publish FILE --hub-url URL`:
// it validates an organisation baseline and puts it in the hub's bucket,
// from which every sensor with --hub-url loads it.
func (a *app) baselinePublishCmd() *cobra.Command {
	var f hubFlags
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "publish FILE",
		Short: "validate a baseline file and publish it to the hub, where every sensor with --hub-url loads it",
		Long: "Validates FILE as baseline check does (an invalid file is not published: exit 1) and puts it in the\n" +
			"hub's launchtap_baseline key-value bucket (created when missing). Every sensor running with --hub-url\n" +
			"loads it within seconds, as on SIGHUP. Prints the revision. See docs/many-sensors.md.",
		Args: cobra.ExactArgs(1),
		Run: func(cmd *cobra.Command, args []string) {
			a.code = a.runBaselinePublish(cmd, &f, timeout, args[0])
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.url, "hub-url", "", "the hub's NATS `URL`s (nats://host:port or tls://host:port, comma-separated)")
	fs.StringVar(&f.creds, "hub-creds", "", "NATS credentials `file` (JWT and NKey seed)")
	fs.StringVar(&f.ca, "hub-ca", "", "PEM `file` of the CA that signed the hub servers' TLS certificates")
	fs.DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait for the hub")
	return cmd
}

func (a *app) runBaselinePublish(cmd *cobra.Command, f *hubFlags, timeout time.Duration, file string) int {
	if f.url == "" {
		return a.usage(cmd, errors.New("hub-url: needed"))
	}
	o := link.Options{URL: f.url, Creds: f.creds, CA: f.ca, Name: "launchtap baseline publish"}
	if err := o.Check(); err != nil {
		return a.usage(cmd, err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return a.fail(cmd, err, exitFailure)
	}
	b, err := baseline.Parse(data)
	if err != nil {
		return a.fail(cmd, fmt.Errorf("%s: %w (not published)", file, err), exitFailure)
	}
	for _, w := range b.Warnings() {
		if !w.Rule.Builtin {
			fmt.Fprintln(a.stderr, "warning:", w)
		}
	}
	o.Log = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	conn, err := link.Dial(o)
	if err != nil {
		return a.fail(cmd, err, exitFailure)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
	defer cancel()
	rev, err := link.PublishBaseline(ctx, conn.JS, data)
	if err != nil {
		return a.fail(cmd, err, exitFailure)
	}
	fmt.Fprintf(a.stdout, "published %s as revision %d of %s/%s (%d rules with the built-in)\n",
		file, rev, obs.BaselineBucket, obs.BaselineKey, len(b.Rules()))
	return exitOK
}
