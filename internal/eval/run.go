package eval

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/launchtap/launchtap/internal/synth"
	"github.com/launchtap/launchtap/sensor/netset"
)

// Options says what to evaluate and how.
type Options struct {
	Seeds     []uint64
	Scenarios []string      // evaluation scenarios of internal/synth
	Bin       string        // the launchtap binary to replay with
	Keep      bool          // keep the captures in the work directory
	Parallel  int           // scenario runs at once
	Timeout   time.Duration // limit for one replay
}

// ScenarioRun is everything measured for one scenario and seed.
type ScenarioRun struct {
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

// Run generates every scenario and seed of o into dir, replays each capture
// through o.Bin with --os macos and --os any, and scores its pairs with RITA.
// Runs that fail are reported together; the others are still returned.
func Run(o Options, dir string, log *slog.Logger) ([]*ScenarioRun, error) {
	type job struct {
		name string
		seed uint64
	}
	var jobs []job
	for _, s := range o.Scenarios {
		for _, seed := range o.Seeds {
			jobs = append(jobs, job{s, seed})
		}
	}
	out := make([]*ScenarioRun, len(jobs))
	errs := make([]error, len(jobs))
	sem := make(chan struct{}, max(1, o.Parallel))
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

func runOne(o Options, dir, name string, seed uint64) (*ScenarioRun, error) {
	base := filepath.Join(dir, fmt.Sprintf("%s-seed%d", name, seed))
	capture := base + ".pcap"
	labels, _, err := synth.WriteFile(capture, base+".labels.json", name, seed, synth.Options{})
	if err != nil {
		return nil, fmt.Errorf("generating %s seed %d: %w", name, seed, err)
	}
	r := &ScenarioRun{scenario: name, seed: seed, labels: labels}
	for mode, osFlag := range []string{"macos", "any"} {
		alerts := fmt.Sprintf("%s.alerts-%s.jsonl", base, osFlag)
		ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
		cmd := exec.CommandContext(ctx, o.Bin, "replay", "--os", osFlag, "--alerts", alerts,
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
	if !o.Keep {
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
