package beacon

import (
	"flag"
	"fmt"
	"time"
)

// HistoryLen is the number of most recent beats kept per pair. It bounds both
// memory (see BytesPerPair) and the scoring cost per beat.
const HistoryLen = 32

// Config holds the detector's thresholds. The defaults are documented on each
// field and in DefaultConfig; none of them is specific to a beacon family.
type Config struct {
	// MinBeats is the number of beats a pair needs before it can alert (default 5).
	MinBeats int
	// MaxPairs bounds the pairs one Detector tracks (default 1<<20). Beyond
	// it the least recently beaten pair seen once is evicted; pairs with a
	// history of beats are protected, up to 7/8 of MaxPairs, and evicted only
	// by each other. See PerWorker.
	MaxPairs int
	// GroupWindow merges beats of one pair that start within this time of the
	// group's first beat into one beat (default 3 s): a check-in that opens two
	// or three sessions at once is one beat. It is an upper bound: a pair whose
	// own beats come faster narrows it to a quarter of its spacing, so a loop
	// that reconnects every second or two is not merged into fewer beats.
	GroupWindow time.Duration
	// MinPeriod and MaxPeriod bound the periods reported (default 1 s, 24 h):
	// launchd throttles a job to one start per 10 s, but a KeepAlive agent runs
	// its own loop, and implants routinely beacon every 1–10 s.
	MinPeriod, MaxPeriod time.Duration
	// Evidence is the significance needed to alert, as -log10 of the chance
	// that random (Poisson) arrivals look this regular (default 7, i.e. one
	// in ten million per scoring). Timing alone may reach it; otherwise
	// size regularity adds to timing evidence of at least TimingEvidence.
	Evidence float64
	// TimingEvidence is the timing significance a pair needs before size
	// regularity may add to it (default 4): constant-size traffic at random
	// times is not a beacon. At 4 a sleep jittered by ±25 % whose check-ins
	// repeat their sizes alerts by its 10th beat; about 0.3 % of 32-beat lives of
	// constant-size traffic at Poisson times alert (TestEvidenceIsCalibrated...).
	TimingEvidence float64
	// MaxJitter is the largest relative spread of intervals around the period
	// that still counts as periodic (default 0.5).
	MaxJitter float64
	// Realert is the relative period change that makes an alerted pair alert
	// again (default 0.2).
	Realert float64
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		MinBeats:       5,
		MaxPairs:       1 << 20,
		GroupWindow:    3 * time.Second,
		MinPeriod:      time.Second,
		MaxPeriod:      24 * time.Hour,
		Evidence:       7,
		TimingEvidence: 4,
		MaxJitter:      0.5,
		Realert:        0.2,
	}
}

// RegisterFlags binds the configuration to command-line flags, using the
// current values as defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.MinBeats, "beacon-min-beats", c.MinBeats, "beats a pair needs before it can alert (min 3)")
	fs.IntVar(&c.MaxPairs, "max-pairs", c.MaxPairs, "pairs tracked by the periodicity detector, in total: divided evenly between workers; beyond it pairs seen once are evicted first, so a scan cannot push out pairs with a history of beats")
	fs.DurationVar(&c.GroupWindow, "beacon-group-window", c.GroupWindow, "session starts of one pair within this window count as one beat")
	fs.DurationVar(&c.MinPeriod, "beacon-min-period", c.MinPeriod, "shortest period reported")
	fs.DurationVar(&c.MaxPeriod, "beacon-max-period", c.MaxPeriod, "longest period reported")
	fs.Float64Var(&c.Evidence, "beacon-evidence", c.Evidence, "significance to alert: -log10 of the chance that random traffic is this regular")
	fs.Float64Var(&c.TimingEvidence, "beacon-timing-evidence", c.TimingEvidence, "timing significance needed before size regularity can add to it")
	fs.Float64Var(&c.MaxJitter, "beacon-max-jitter", c.MaxJitter, "largest relative jitter still counted as periodic (0-0.5)")
	fs.Float64Var(&c.Realert, "beacon-realert-change", c.Realert, "relative period change that re-alerts an alerted pair")
}

// Validate reports the first invalid setting, naming its flag.
func (c Config) Validate() error {
	switch {
	case c.MinBeats < 3 || c.MinBeats > HistoryLen:
		return fmt.Errorf("beacon: beacon-min-beats %d: want 3..%d", c.MinBeats, HistoryLen)
	case c.MaxPairs < 1:
		return fmt.Errorf("beacon: max-pairs %d: want at least 1", c.MaxPairs)
	case c.GroupWindow < 0:
		return fmt.Errorf("beacon: beacon-group-window %v: must not be negative", c.GroupWindow)
	case c.MinPeriod <= 0 || c.MaxPeriod < c.MinPeriod:
		return fmt.Errorf("beacon: beacon-min-period %v / beacon-max-period %v: want 0 < min <= max", c.MinPeriod, c.MaxPeriod)
	case c.MinPeriod < 100*time.Millisecond:
		return fmt.Errorf("beacon: beacon-min-period %v: at least 100ms (capture timestamps and scheduling blur anything faster)", c.MinPeriod)
	case c.MaxPeriod > 40*24*time.Hour:
		return fmt.Errorf("beacon: beacon-max-period %v: at most 40 days", c.MaxPeriod)
	case !(c.Evidence > 0):
		return fmt.Errorf("beacon: beacon-evidence %v: must be positive", c.Evidence)
	case !(c.TimingEvidence > 0 && c.TimingEvidence <= c.Evidence):
		return fmt.Errorf("beacon: beacon-timing-evidence %v: want (0, beacon-evidence]", c.TimingEvidence)
	case !(c.MaxJitter > 0 && c.MaxJitter <= 0.5):
		return fmt.Errorf("beacon: beacon-max-jitter %v: want (0, 0.5]", c.MaxJitter)
	case !(c.Realert > 0):
		return fmt.Errorf("beacon: beacon-realert-change %v: must be positive", c.Realert)
	}
	return nil
}

// PerWorker returns the configuration for one of n workers sharing the pair
// budget: MaxPairs is divided between them.
func (c Config) PerWorker(n int) Config {
	if n > 1 {
		c.MaxPairs = max(1, c.MaxPairs/n)
	}
	return c
}
