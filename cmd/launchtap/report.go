package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/launchtap/launchtap/enrich/file"
	"github.com/launchtap/launchtap/sensor/baseline"
	"github.com/launchtap/launchtap/sensor/beacon"
	"github.com/launchtap/launchtap/sensor/hub/orgstore"
	"github.com/launchtap/launchtap/sensor/report"
	"github.com/launchtap/launchtap/sensor/state"
	"github.com/spf13/cobra"
)

// reportFlags are the report command's flags.
type reportFlags struct {
	dir, since, htmlPath, jsonPath, invPath, basePath string
	minBeats                                          int
	// db is the organisation's PostgreSQL database (the hub's), read
	// instead of a state directory.
	db      string
	sensors []string // --sensor: only these sensors of the organisation's database
	dirSet  bool     // --state-dir given: with --db, a usage error
}

func (a *app) reportCmd() *cobra.Command {
	var f reportFlags
	cmd := &cobra.Command{
		Use:   "report [flags]",
		Short: "write the evidence report from a state directory or the organisation's database (HTML, JSON)",
		Long: "The evidence report: coverage and blind spots, periodic communicators and what approved them,\n" +
			"alerts with their beats, baseline hygiene. The window ends at the newest capture time the\n" +
			"sensor checkpointed. Without --html or --json the JSON goes to standard output.\n" +
			"With --db, the organisation's report from the hub's PostgreSQL database: every sensor's\n" +
			"evidence with a sensor column, and each sensor's coverage. The password may come from\n" +
			"PGPASSWORD or ~/.pgpass rather than the URL.",
		Example: "  launchtap report --state-dir /var/lib/launchtap --since 7d --html report.html\n" +
			"  launchtap report --state-dir /var/lib/launchtap --since all --json - | jq .coverage\n" +
			"  launchtap report --db postgres://launchtap@db.example.com/launchtap --since 30d --html org.html",
		Args: cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			f.dirSet = cmd.Flags().Changed("state-dir")
			a.code = runReport(cmd.Context(), &f, a.stdout, a.stderr)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.dir, "state-dir", state.DefaultDir, "the sensor's state `dir`")
	fs.StringVar(&f.since, "since", "7d", "report this far back from the newest capture time (`duration`: 90m, 36h, 7d; \"all\": everything kept)")
	fs.StringVar(&f.htmlPath, "html", "", "write the self-contained HTML page to `file`")
	fs.StringVar(&f.jsonPath, "json", "", "write the report as JSON to `file` (- for standard output)")
	fs.StringVar(&f.invPath, "inventory", "", "MDM inventory JSON `file` to compare the Macs seen with")
	fs.StringVar(&f.basePath, "baseline", "", "organisation baseline YAML `file` to judge (merged with the built-in default); default: the rules the sensor last checkpointed")
	fs.StringVar(&f.db, "db", "", "read the organisation's evidence from the hub's PostgreSQL database at `url` (postgres://user@host/db) instead of a state directory")
	fs.StringSliceVar(&f.sensors, "sensor", nil, "with --db, report only the sensor `name`d (repeat or separate with commas)")
	fs.IntVar(&f.minBeats, "beacon-min-beats", beacon.DefaultConfig().MinBeats, "beats the sensor needs to alert: bounds the longest period a host's observation could show")
	return cmd
}

// runReport writes the evidence report from a state directory or the
// organisation's database.
func runReport(ctx context.Context, f *reportFlags, stdout, stderr io.Writer) int {
	since, htmlPath, jsonPath, invPath, basePath, minBeats := &f.since, &f.htmlPath, &f.jsonPath, &f.invPath, &f.basePath, &f.minBeats
	fail := func(code int, err error) int {
		fmt.Fprintln(stderr, "launchtap report:", oneLine(err))
		return code
	}
	window, err := parseSince(*since)
	if err != nil {
		return fail(exitUsage, err)
	}
	opt := report.Options{MinBeats: *minBeats, Builtin: map[string]bool{}}
	b := baseline.Default()
	bd, bl := b.RuleNames()
	for _, r := range append(bd, bl...) {
		opt.Builtin[r] = true
	}
	if *basePath != "" {
		if b, err = baseline.Load(*basePath); err != nil {
			return fail(exitUsage, err)
		}
	}
	opt.DestRules, opt.LabelRules = b.RuleNames()
	givenBaseline := *basePath != ""
	if *invPath != "" {
		data, err := os.ReadFile(*invPath)
		if err != nil {
			return fail(exitUsage, fmt.Errorf("inventory: %w", err))
		}
		inv, err := file.Parse(data)
		if err != nil {
			return fail(exitUsage, fmt.Errorf("inventory %s: %w", *invPath, err))
		}
		opt.Inventory = inv.Hosts
	}
	if f.db != "" && f.dirSet {
		return fail(exitUsage, errors.New("give --db (the organisation's database) or --state-dir (one sensor's), not both"))
	}
	if f.db == "" && len(f.sensors) > 0 {
		return fail(exitUsage, errors.New("--sensor picks sensors of the organisation's database: give --db too"))
	}
	src, err := openEvidence(ctx, f)
	if err != nil {
		return fail(exitFailure, err)
	}
	defer src.Close()
	var from int64
	if window > 0 {
		clock, err := src.Clock(ctx)
		if err != nil {
			return fail(exitFailure, err)
		}
		if clock > 0 {
			from = clock - int64(window)
			opt.Since = time.Unix(0, from).UTC()
		}
	}
	ev, err := src.Evidence(ctx, from)
	if err != nil {
		return fail(exitFailure, err)
	}
	if !givenBaseline && ev.Rules != nil {
		// The rules the sensor last ran with, recorded at its checkpoints.
		opt.DestRules, opt.LabelRules = ev.Rules.Destinations, ev.Rules.Labels
	}
	r := report.Build(ev, opt)
	write := func(path string, w func(io.Writer) error) error {
		if path == "-" {
			return w(stdout)
		}
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("report: %w", err)
		}
		if err := w(f); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	if *htmlPath == "" && *jsonPath == "" {
		*jsonPath = "-"
	}
	if *htmlPath != "" {
		if err := write(*htmlPath, r.WriteHTML); err != nil {
			return fail(exitFailure, err)
		}
	}
	if *jsonPath != "" {
		if err := write(*jsonPath, r.WriteJSON); err != nil {
			return fail(exitFailure, err)
		}
	}
	fmt.Fprintf(stderr, "launchtap report: %s – %s: %d periodic communicators (%d alerted), %d of %d hours observed, %d gaps\n",
		r.From.Format(time.RFC3339), r.To.Format(time.RFC3339), len(r.Periodic), len(r.Alerts), r.Coverage.ObservedHours, r.Coverage.WindowHours, len(r.Coverage.Gaps))
	return exitOK
}

// evidenceSource is where a report's evidence comes from: one sensor's
// state directory or the organisation's database.
type evidenceSource interface {
	Clock(ctx context.Context) (int64, error)
	Evidence(ctx context.Context, since int64) (*state.Evidence, error)
	Close()
}

func openEvidence(ctx context.Context, f *reportFlags) (evidenceSource, error) {
	if f.db != "" {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second) // connecting, not reading
		defer cancel()
		st, err := orgstore.OpenWith(cctx, f.db, orgstore.Options{ReadOnly: true})
		if err != nil {
			return nil, err
		}
		if len(f.sensors) == 0 {
			return st, nil
		}
		known, err := st.Sensors(ctx)
		if err != nil {
			st.Close()
			return nil, err
		}
		for _, n := range f.sensors {
			if !slices.Contains(known, n) {
				st.Close()
				return nil, fmt.Errorf("no sensor %q in %s (its sensors: %s)", n, st.URL(), strings.Join(known, ", "))
			}
		}
		return orgSource{st, f.sensors}, nil
	}
	st, err := state.Open(f.dir, state.Options{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	return stateSource{st}, nil
}

// orgSource is some sensors of the organisation's database.
type orgSource struct {
	*orgstore.Store
	sensors []string
}

func (s orgSource) Clock(ctx context.Context) (int64, error) { return s.ClockOf(ctx, s.sensors) }
func (s orgSource) Evidence(ctx context.Context, since int64) (*state.Evidence, error) {
	return s.EvidenceOf(ctx, since, s.sensors)
}

// stateSource is a state directory as an evidenceSource.
type stateSource struct{ *state.Store }

func (s stateSource) Clock(ctx context.Context) (int64, error) { return s.Store.Clock(ctx), nil }
func (s stateSource) Close()                                   { s.Store.Close() }

// maxSinceDays keeps a day count within a time.Duration (292 years).
const maxSinceDays = 100 * 365

// parseSince reads a Go duration or a number of days ("7d"); "all" is 0.
func parseSince(s string) (time.Duration, error) {
	if s == "all" || s == "" {
		return 0, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(d, 64)
		if err != nil || !(n > 0 && n <= maxSinceDays) { // NaN and Inf fail too
			return 0, fmt.Errorf("since: %q is not a number of days (up to %d)", s, maxSinceDays)
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("since: %q is not a positive duration (90m, 36h, 7d) or all", s)
	}
	return d, nil
}
