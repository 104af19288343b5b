// Command launchtap-eval measures launchtap's periodicity detection on the
// labelled evaluation scenarios of sensor/synth. For each scenario and seed
// it writes the capture, replays it through the real `launchtap replay`
// binary (once with the default --os macos, once with --os any), matches the
// alerts against the ground-truth labels, and scores the same pairs with a
// reimplementation of RITA v5's beacon score computed from the capture's
// connection records. It prints, per labelled pair, what was expected, what
// alerted, at which beat and with what period error, RITA's score beside it,
// and then recall, precision and false alerts.
//
//	launchtap-eval [-seeds 1,2,3] [-scenarios a,b] [-launchtap BIN] [-markdown FILE] [-check]
//
// With -check the exit status is 1 when a target is missed: recall >= 0.98
// on beacons with at least 8 beats and jitter <= 50 %, no false alerts,
// period error <= 2 % and first alert by the 8th beat for clean beacons
// (jitter <= 2 %).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/launchtap/launchtap/internal/synth"
	"github.com/launchtap/launchtap/sensor/netset"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	seeds     []uint64
	scenarios []string
	bin       string
	keep      string
	markdown  string
	jsonOut   string
	check     bool
	compact   bool
	parallel  int
	timeout   time.Duration
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("launchtap-eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	seeds := fs.String("seeds", "1,2,3", "comma-separated generator seeds")
	scen := fs.String("scenarios", "", "comma-separated scenario names (default: every evaluation scenario)")
	var o options
	fs.StringVar(&o.bin, "launchtap", "", "launchtap binary to evaluate (default: go build ./cmd/launchtap into a temporary directory)")
	fs.StringVar(&o.keep, "keep", "", "keep captures, labels and alerts under this directory")
	fs.StringVar(&o.markdown, "markdown", "", "also write the table as Markdown to this file")
	fs.StringVar(&o.jsonOut, "json", "", "also write every per-pair result as JSON to this file")
	fs.BoolVar(&o.check, "check", false, "exit 1 when a target is missed")
	fs.BoolVar(&o.compact, "compact", false, "one table row per scenario and style instead of per labelled pair")
	fs.IntVar(&o.parallel, "parallel", max(1, runtime.NumCPU()/2), "scenario runs in parallel")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "limit for one replay")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	for _, s := range strings.Split(*seeds, ",") {
		v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
		if err != nil {
			fmt.Fprintf(stderr, "launchtap-eval: -seeds %q: %v\n", s, err)
			return 2
		}
		o.seeds = append(o.seeds, v)
	}
	if *scen != "" {
		for _, s := range strings.Split(*scen, ",") {
			if _, ok := synth.Lookup(strings.TrimSpace(s)); !ok {
				fmt.Fprintf(stderr, "launchtap-eval: unknown scenario %q\n", s)
				return 2
			}
			o.scenarios = append(o.scenarios, strings.TrimSpace(s))
		}
	} else {
		for _, s := range synth.EvalScenarios() {
			o.scenarios = append(o.scenarios, s.Name)
		}
	}
	if len(o.scenarios) == 0 {
		fmt.Fprintln(stderr, "launchtap-eval: no evaluation scenarios registered in sensor/synth")
		return 2
	}
	work, err := os.MkdirTemp("", "launchtap-eval-")
	if err != nil {
		fmt.Fprintf(stderr, "launchtap-eval: %v\n", err)
		return 2
	}
	defer os.RemoveAll(work)
	if o.bin == "" {
		o.bin = filepath.Join(work, "launchtap")
		log.Info("building launchtap", "out", o.bin)
		cmd := exec.Command("go", "build", "-o", o.bin, "./cmd/launchtap")
		cmd.Stdout, cmd.Stderr = stderr, stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(stderr, "launchtap-eval: building launchtap (run from the repository root): %v\n", err)
			return 2
		}
	}
	outDir := work
	if o.keep != "" {
		outDir = o.keep
	}
	runs, err := runAll(o, outDir, log)
	if err != nil {
		fmt.Fprintf(stderr, "launchtap-eval: %v\n", err)
		return 2
	}
	rep := summarise(runs)
	rep.compact = o.compact
	rep.write(stdout, false)
	if o.markdown != "" {
		if err := writeFileWith(o.markdown, func(w io.Writer) { rep.write(w, true) }); err != nil {
			fmt.Fprintf(stderr, "launchtap-eval: %v\n", err)
			return 2
		}
	}
	if o.jsonOut != "" {
		if err := writeFileWith(o.jsonOut, func(w io.Writer) {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			enc.Encode(rep.rows)
		}); err != nil {
			fmt.Fprintf(stderr, "launchtap-eval: %v\n", err)
			return 2
		}
	}
	if o.check && len(rep.missed) > 0 {
		for _, m := range rep.missed {
			fmt.Fprintf(stderr, "launchtap-eval: target missed: %s\n", m)
		}
		return 1
	}
	return 0
}

func writeFileWith(path string, fn func(io.Writer)) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	bw := bufio.NewWriter(f)
	fn(bw)
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

// scenarioRun is everything measured for one scenario and seed.
type scenarioRun struct {
	scenario string
	seed     uint64
	labels   []synth.Label
	alerts   [2][]alertRec // by mode: default, --os any
	rita     []ritaPair
	dsMin    int64
}

const (
	modeDefault = 0
	modeOSAny   = 1
)

func runAll(o options, dir string, log *slog.Logger) ([]*scenarioRun, error) {
	type job struct {
		name string
		seed uint64
	}
	var jobs []job
	for _, s := range o.scenarios {
		for _, seed := range o.seeds {
			jobs = append(jobs, job{s, seed})
		}
	}
	out := make([]*scenarioRun, len(jobs))
	errs := make([]error, len(jobs))
	sem := make(chan struct{}, max(1, o.parallel))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			start := time.Now()
			out[i], errs[i] = runOne(o, dir, j.name, j.seed)
			log.Info("evaluated", "scenario", j.name, "seed", j.seed, "took", time.Since(start).Round(time.Millisecond), "err", errs[i])
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

func runOne(o options, dir, name string, seed uint64) (*scenarioRun, error) {
	base := filepath.Join(dir, fmt.Sprintf("%s-seed%d", name, seed))
	capture := base + ".pcap"
	labels, _, err := synth.WriteFile(capture, base+".labels.json", name, seed, synth.Options{})
	if err != nil {
		return nil, fmt.Errorf("generating %s seed %d: %w", name, seed, err)
	}
	r := &scenarioRun{scenario: name, seed: seed, labels: labels}
	for mode, osFlag := range []string{"macos", "any"} {
		alerts := fmt.Sprintf("%s.alerts-%s.jsonl", base, osFlag)
		ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
		cmd := exec.CommandContext(ctx, o.bin, "replay", "--os", osFlag, "--alerts", alerts,
			"--summary", fmt.Sprintf("%s.summary-%s.json", base, osFlag), "--log-level", "warn", capture)
		msg, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			return nil, fmt.Errorf("launchtap replay --os %s %s: %w\n%s", osFlag, capture, err, tail(msg))
		}
		if r.alerts[mode], err = readAlerts(alerts); err != nil {
			return nil, err
		}
	}
	internal, err := netset.Parse(netset.DefaultInternal)
	if err != nil {
		return nil, err
	}
	conns, dsMin, dsMax, err := connections(capture, internal)
	if err != nil {
		return nil, err
	}
	r.rita, r.dsMin = ritaPairs(conns, dsMin, dsMax), dsMin
	if o.keep == "" {
		os.Remove(capture)
	}
	return r, nil
}

func tail(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return s
}

// alertRec is the part of an alert line the evaluation reads.
type alertRec struct {
	TS      time.Time `json:"ts"`
	SrcIP   string    `json:"src_ip"`
	DstFQDN string    `json:"dst_fqdn"`
	DstIPs  []string  `json:"dst_ips"`
	DstPort uint16    `json:"dst_port"`
	Proto   string    `json:"proto"`
	Kind    string    `json:"kind"`
	PeriodS float64   `json:"period_s"`
	Jitter  float64   `json:"jitter"`
	Beats   int       `json:"beats"`
	Score   float64   `json:"score"`
	HostOS  string    `json:"host_os"`
}

func readAlerts(path string) ([]alertRec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading alerts: %w", err)
	}
	defer f.Close()
	var out []alertRec
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for n := 1; sc.Scan(); n++ {
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		var a alertRec
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			return nil, fmt.Errorf("alerts %s line %d: %w", path, n, err)
		}
		out = append(out, a)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading alerts %s: %w", path, err)
	}
	return out, nil
}
