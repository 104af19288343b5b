package beacon

import (
	"flag"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func sec(s float64) int64 { return int64(s * float64(time.Second)) }

func TestKindsAreSeparatePairs(t *testing.T) {
	d := NewDetector(DefaultConfig())
	dns := testKey
	dns.Kind, dns.Port, dns.Proto, dns.Dest = KindDNS, 53, 17, "evil.example"
	burst := testKey
	burst.Kind = KindBurst
	var got []Kind
	for i := 0; i < 8; i++ {
		for j, k := range []PairKey{testKey, dns, burst} {
			if f := d.Beat(k, netip.Addr{}, sec(1000+float64(i)*60+float64(j)*10)); f != nil {
				got = append(got, f.Key.Kind)
			}
		}
	}
	if len(got) != 3 || d.Stats().Pairs != 3 {
		t.Fatalf("findings by kind %v, pairs %d; want one per kind", got, d.Stats().Pairs)
	}
}

func TestCDNRotationIsOnePairWithRecentAddresses(t *testing.T) {
	d := NewDetector(DefaultConfig())
	var f *Finding
	for i := 0; i < 12; i++ {
		dst := netip.AddrFrom4([4]byte{203, 0, 113, byte(10 + i%6)})
		if x := d.Beat(testKey, dst, sec(1000+float64(i)*300)); x != nil {
			f = x
		}
	}
	if f == nil {
		t.Fatal("rotating beacon not found")
	}
	newest := netip.AddrFrom4([4]byte{203, 0, 113, byte(10 + (f.Beats-1)%6)})
	if len(f.DstIPs) != maxDst || f.DstIPs[len(f.DstIPs)-1] != newest {
		t.Errorf("DstIPs %v, want the %d most recent, newest last", f.DstIPs, maxDst)
	}
	if !hasReason(f, "different addresses under one name") {
		t.Errorf("reasons %q do not mention the rotation", f.Reasons)
	}
}

func TestRealertOnlyWhenThePeriodChanges(t *testing.T) {
	var ts []float64
	for i := 0; i < 20; i++ {
		ts = append(ts, 1000+float64(i)*60)
	}
	for i := 1; i <= 40; i++ {
		ts = append(ts, ts[19]+float64(i)*300)
	}
	fs := run(DefaultConfig(), ts)
	if len(fs) != 2 {
		t.Fatalf("%d findings, want 2 (60 s, then 300 s)", len(fs))
	}
	if relErr(fs[0].f.PeriodS, 60) > 0.01 || relErr(fs[1].f.PeriodS, 300) > 0.01 {
		t.Errorf("periods %.1f, %.1f; want 60, 300", fs[0].f.PeriodS, fs[1].f.PeriodS)
	}
}

func TestEvictionBoundsPairs(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxPairs = 100
	d := NewDetector(cfg)
	for i := 0; i < 1000; i++ {
		k := testKey
		k.Port = uint16(i)
		d.Beat(k, netip.Addr{}, sec(float64(i)))
	}
	if st := d.Stats(); st.Pairs != 100 || st.Evictions != 900 {
		t.Fatalf("pairs %d evictions %d, want 100 and 900", st.Pairs, st.Evictions)
	}
	if got := cfg.PerWorker(4).MaxPairs; got != 25 {
		t.Errorf("PerWorker(4).MaxPairs = %d, want 25", got)
	}
}

func TestSizesAttachToTheirBeat(t *testing.T) {
	d := NewDetector(DefaultConfig())
	var f *Finding
	for i := 0; i < 8; i++ {
		start := sec(1000 + float64(i)*120)
		if x := d.Beat(testKey, netip.Addr{}, start); x != nil {
			f = x
		}
		d.Sizes(testKey, start, 600+uint64(i), 4096)
		d.Sizes(testKey, start+sec(1), 99999, 99999) // second session of the beat: ignored
	}
	d.Sizes(testKey, sec(5), 1, 1) // before any beat
	other := testKey
	other.Port = 1
	d.Sizes(other, sec(1000), 1, 1) // unknown pair
	if f == nil {
		t.Fatal("no finding")
	}
	if f.BytesOutMedian < 600 || f.BytesOutMedian > 606 || f.BytesInMedian < 4090 || f.BytesInMedian > 4100 {
		t.Errorf("medians out %.0f in %.0f, want ~602 and 4096", f.BytesOutMedian, f.BytesInMedian)
	}
	if st := d.Stats(); st.Sizes != 8 || st.SizesLost != 10 {
		t.Errorf("sizes matched %d lost %d, want 8 and 10", st.Sizes, st.SizesLost)
	}
	if got := decodeSize(encodeSize(1 << 40)); got < 4e9 {
		t.Errorf("huge size decodes to %.0f, want saturation above 4 GB", got)
	}
	for _, b := range []uint64{0, 1, 600, 4096, 1 << 20, 1 << 32} {
		if got := decodeSize(encodeSize(b)); got < float64(b)*0.999-1 || got > float64(b)*1.001+1 {
			t.Errorf("size %d round-trips to %.0f", b, got)
		}
	}
}

func TestLongSilenceAndOutOfOrder(t *testing.T) {
	d := NewDetector(DefaultConfig())
	for i := 0; i < 3; i++ {
		d.Beat(testKey, netip.Addr{}, sec(1000+float64(i)*60))
	}
	d.Beat(testKey, netip.Addr{}, sec(500)) // older than the pair's beats
	if d.Stats().OutOfOrder != 1 {
		t.Errorf("out-of-order beat not counted: %+v", d.Stats())
	}
	// 60 days later the history restarts and a new clean beacon alerts.
	base := 1000 + 60*86400.0
	var f *Finding
	minBeats := DefaultConfig().MinBeats
	for i := 0; i < minBeats; i++ {
		if x := d.Beat(testKey, netip.Addr{}, sec(base+float64(i)*600)); x != nil {
			f = x
		}
	}
	if f == nil || relErr(f.PeriodS, 600) > 0.001 || len(f.BeatTimes) != minBeats || f.BeatTimes[0] != sec(base) {
		t.Fatalf("after a 60-day silence: %+v", f)
	}
}

func TestReasonsExplainSleepAndMissedBeats(t *testing.T) {
	var ts []float64
	t0 := 1000.0
	for i := 0; i < 12; i++ {
		if i == 3 || i == 7 { // missed beats
			continue
		}
		ts = append(ts, t0+float64(i)*600)
	}
	ts = append(ts, ts[len(ts)-1]+5*3600) // asleep 5 h, then one start on wake
	for i := 1; i <= 6; i++ {
		ts = append(ts, ts[len(ts)-1]+600)
	}
	d := NewDetector(DefaultConfig())
	var last *Finding
	for _, s := range ts {
		if f := d.Beat(testKey, netip.Addr{}, sec(s)); f != nil {
			last = f
		}
	}
	if last == nil {
		t.Fatal("no finding")
	}
	p, _ := d.peek(testKey)
	e := d.estimate(p)
	if e.missed != 2 || e.gaps != 1 || relErr(e.period, 600) > 0.001 {
		t.Errorf("estimate %+v, want 2 missed, 1 gap, period 600", e)
	}
	f := d.finding(testKey, p, &e)
	for _, want := range []string{"every 10 min", "skipped", "longer silence", "5 h"} {
		if !hasReason(f, want) {
			t.Errorf("reasons %q lack %q", f.Reasons, want)
		}
	}
}

func hasReason(f *Finding, s string) bool {
	for _, r := range f.Reasons {
		if strings.Contains(r, s) {
			return true
		}
	}
	return false
}

func TestConfigFlagsAndValidation(t *testing.T) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	if err := fs.Parse([]string{"--beacon-min-beats", "8", "--max-pairs", "5000", "--beacon-group-window", "2s", "--beacon-evidence", "9"}); err != nil {
		t.Fatal(err)
	}
	if cfg.MinBeats != 8 || cfg.MaxPairs != 5000 || cfg.GroupWindow != 2*time.Second || cfg.Evidence != 9 {
		t.Fatalf("flags not applied: %+v", cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mod  func(*Config)
		flag string
	}{
		{func(c *Config) { c.MinBeats = 2 }, "beacon-min-beats"},
		{func(c *Config) { c.MaxPairs = 0 }, "max-pairs"},
		{func(c *Config) { c.MaxJitter = 0.9 }, "beacon-max-jitter"},
		{func(c *Config) { c.MinPeriod = 10 * time.Millisecond }, "beacon-min-period"},
		{func(c *Config) { c.TimingEvidence = 20 }, "beacon-timing-evidence"},
		{func(c *Config) { c.MaxPeriod = 60 * 24 * time.Hour }, "beacon-max-period"},
	} {
		c := DefaultConfig()
		tc.mod(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.flag) {
			t.Errorf("Validate() = %v, want an error naming %s", err, tc.flag)
		}
	}
	// An invalid config falls back to the defaults rather than misbehaving.
	if got := NewDetector(Config{}).Config(); got != DefaultConfig() {
		t.Errorf("NewDetector(invalid) config %+v", got)
	}
}

func TestFindingIsStableAcrossSeeds(t *testing.T) {
	// Same input, same output: scoring has no hidden state between pairs.
	ts := symmetric(300, 0.3)(rand.New(rand.NewPCG(4, 4)), 30)
	a, b := run(DefaultConfig(), ts), run(DefaultConfig(), ts)
	if len(a) == 0 || len(a) != len(b) || a[0].f.PeriodS != b[0].f.PeriodS || a[0].f.Score != b[0].f.Score {
		t.Fatalf("runs differ: %v vs %v", a, b)
	}
}

func TestClockWithOneLateStartKeepsItsPeriod(t *testing.T) {
	// An hourly job whose laptop woke 457 s after a firing was due: the
	// late start must not drag the period towards the midrange.
	ts := []float64{1000}
	for _, d := range []float64{3600, 3600, 3600, 3600, 4057, 3600, 3600} {
		ts = append(ts, ts[len(ts)-1]+d)
	}
	fs := run(DefaultConfig(), ts)
	if len(fs) == 0 || relErr(fs[0].f.PeriodS, 3600) > 0.001 {
		t.Fatalf("findings %v, want the first at period 3600 s", fs)
	}
}
