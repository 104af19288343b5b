package beacon

import (
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/launchtap/launchtap/sensor/host"
)

func benchKeys(n int) []PairKey {
	keys := make([]PairKey, n)
	for i := range keys {
		keys[i] = PairKey{Host: host.AddrKey(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})),
			Dest: "cdn.example.net", Port: 443, Proto: 6}
	}
	return keys
}

// warmBeats beats every pair of keys rounds times, the n-th beat step(n)
// after the pair's last, and returns the pairs' last times.
func warmBeats(d *Detector, keys []PairKey, dst netip.Addr, rounds int, step func(int) int64) []int64 {
	ts := make([]int64, len(keys))
	for r := 0; r < rounds; r++ {
		for k := range keys {
			ts[k] += step(r*len(keys) + k)
			d.Beat(keys[k], dst, ts[k])
		}
	}
	return ts
}

// timeBeats is the timed loop: the pairs of keys beat in turn after ts,
// the i-th beat step(i) after the pair's last; it reports cpu-ns/op and
// beats/s.
func timeBeats(b *testing.B, d *Detector, keys []PairKey, dst netip.Addr, ts []int64, step func(int) int64) {
	b.Helper()
	b.ReportAllocs()
	i := 0
	c0 := cpuNs()
	for b.Loop() {
		k := i % len(keys)
		ts[k] += step(i)
		d.Beat(keys[k], dst, ts[k])
		i++
	}
	b.ReportMetric(float64(cpuNs()-c0)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "beats/s")
}

// BenchmarkBeatNewPairs: every beat is a pair's first (lookup, insert,
// eviction at the bound) — the cost of one-off connections.
func BenchmarkBeatNewPairs(b *testing.B) {
	cfg := DefaultConfig()
	cfg.MaxPairs = 1 << 16
	d := NewDetector(cfg)
	keys := benchKeys(1 << 18)
	dst := netip.MustParseAddr("203.0.113.10")
	b.ReportAllocs()
	i := 0
	c0 := cpuNs()
	for b.Loop() {
		d.Beat(keys[i&(len(keys)-1)], dst, int64(i)*1e6)
		i++
	}
	b.ReportMetric(float64(cpuNs()-c0)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "beats/s")
}

// BenchmarkBeatRescore: every beat rescores a pair with a full history of
// jittered intervals (the worst case: the estimator runs on 32 beats).
func BenchmarkBeatRescore(b *testing.B) {
	d := NewDetector(DefaultConfig())
	keys := benchKeys(1024)
	dst := netip.MustParseAddr("203.0.113.10")
	// Poisson-ish spacing so nothing alerts and every beat is rescored.
	step := func(i int) int64 { return int64(60e9 + (i*7919%120)*1e9) }
	ts := warmBeats(d, keys, dst, HistoryLen, step)
	timeBeats(b, d, keys, dst, ts, step)
}

// BenchmarkBeatRescoreBrowsing: every beat rescores a pair with a full
// history of exponential (Poisson) intervals, as a person's visits to a site
// make them — most of the scoring of an office day, and never a beacon.
func BenchmarkBeatRescoreBrowsing(b *testing.B) {
	d := NewDetector(DefaultConfig())
	keys := benchKeys(1024)
	dst := netip.MustParseAddr("203.0.113.10")
	rng := rand.New(rand.NewPCG(1, 2))
	step := func(int) int64 { return int64((5 + rng.ExpFloat64()*300) * 1e9) }
	ts := warmBeats(d, keys, dst, HistoryLen, step)
	if f := d.Stats().Findings; f != 0 {
		b.Fatalf("%d findings from Poisson beats", f)
	}
	timeBeats(b, d, keys, dst, ts, step)
}

// BenchmarkBeatAlerted: every beat is an alerted pair's, a check-in every
// 5 min ± 5 %, past the half history of beats after its alert: the
// re-alert rule asks at each beat whether the period moved.
func BenchmarkBeatAlerted(b *testing.B) {
	d := NewDetector(DefaultConfig())
	keys := benchKeys(1024)
	dst := netip.MustParseAddr("203.0.113.10")
	rng := rand.New(rand.NewPCG(3, 4))
	step := func(int) int64 { return int64((285 + rng.Float64()*30) * 1e9) }
	ts := warmBeats(d, keys, dst, 2*HistoryLen, step)
	if f := d.Stats().Findings; f != uint64(len(keys)) {
		b.Fatalf("%d findings, want one per pair (%d)", f, len(keys))
	}
	timeBeats(b, d, keys, dst, ts, step)
}

// BenchmarkPairMemory tracks 1 M pairs and reports heap bytes per pair,
// including the LRU's list entry and map slot: "once" pairs saw one beat (most
// real pairs), "history" pairs two beats and sizes, which allocates the
// bounded history. sys-MiB is the memory the Go runtime holds from the OS
// (an upper bound on the detector's share of RSS). Run with -benchtime=1x.
func BenchmarkPairMemory(b *testing.B) {
	b.Run("once", func(b *testing.B) { pairMemory(b, false) })
	b.Run("history", func(b *testing.B) { pairMemory(b, true) })
}

func pairMemory(b *testing.B, hist bool) {
	const n = 1 << 20
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		cfg := DefaultConfig()
		cfg.MaxPairs = n
		d := NewDetector(cfg)
		dst := netip.MustParseAddr("203.0.113.10")
		dest := "cdn.example.net" // names are shared strings in the pipeline too
		for i := 0; i < n; i++ {
			k := PairKey{Host: host.AddrKey(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})), Dest: dest, Port: 443, Proto: 6}
			d.Beat(k, dst, 1e9)
			if hist {
				d.Beat(k, dst, 61e9)
				d.Sizes(k, 61e9, 600, 4096)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/pair")
		b.ReportMetric(float64(after.Sys)/(1<<20), "MiB-sys")
		b.ReportMetric(float64(BytesPerPair), "B/pair-state")
		b.ReportMetric(float64(BytesPerHistory), "B/history")
		runtime.KeepAlive(d)
	}
}

// cpuNs is this process's user+system CPU time: on a shared machine the
// wall-clock ns/op includes waiting for a core, CPU time does not.
func cpuNs() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkEstimate: score's estimate (stopped where it cannot alert) of
// 256 histories of each style of scoring_test.go, 32 beats or fewer, one
// after another — the per-rescoring cost that the Beat benchmarks mix with
// lookups and bookkeeping.
func BenchmarkEstimate(b *testing.B) {
	for _, st := range scoringStyles {
		b.Run(strings.ReplaceAll(st.name, " ", "_"), func(b *testing.B) {
			d := NewDetector(DefaultConfig())
			r := rand.New(rand.NewPCG(21, 22))
			ps := make([]*pair, 256)
			for i := range ps {
				ps[i] = styledHistory(r, st, max(d.cfg.MinBeats, HistoryLen-i%8))
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				d.estimateAbove(ps[i%len(ps)], d.cfg.TimingEvidence)
				i++
			}
		})
	}
}
