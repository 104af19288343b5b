package eval

import (
	"math"
	"testing"
	"time"

	"github.com/launchtap/launchtap/internal/synth"
)

func TestRITAPerfectBeaconScoresOne(t *testing.T) {
	var ts []int64
	var b []float64
	for t0 := int64(0); t0 < 86400; t0 += 60 {
		ts = append(ts, 1_700_000_000+t0)
		b = append(b, 900)
	}
	s := rita(ts, b, ts[0], ts[len(ts)-1])
	if !s.ok || s.Score != 1 || s.TS != 1 || s.DS != 1 || s.Hist != 1 || s.Dur != 1 {
		t.Fatalf("perfect beacon: %+v, want every part 1", s)
	}
}

func TestRITAStatScoreByHand(t *testing.T) {
	// Q1 15, Q2 30, Q3 70: Bowley (15+70-60)/55 = 0.4545, score 0.5455;
	// MAD 10: (30-10)/30 = 0.6667; mean 0.606.
	if got := statScore([]float64{10, 20, 30, 40, 100}, 0); got != 0.606 {
		t.Fatalf("statScore = %v, want 0.606", got)
	}
	// IQR below 10: skew counts as 0, so only the MAD part can lower it.
	if got := statScore([]float64{300, 300, 301, 302, 302}, 0); got != 0.998 {
		t.Fatalf("statScore = %v, want 0.998", got)
	}
}

func TestRITAThresholdsAndShortDatasets(t *testing.T) {
	if s := rita([]int64{1, 2, 3}, []float64{1, 1, 1}, 0, 100); s.ok {
		t.Error("3 timestamps scored; RITA needs 4 unique")
	}
	if s := rita([]int64{5, 5, 5, 5, 5}, []float64{1, 1, 1, 1, 1}, 0, 100); s.ok {
		t.Error("one repeated timestamp scored")
	}
	// Two hours of a 5-minute beacon in a 2 h dataset: coverage 1.
	var ts []int64
	var b []float64
	for i := int64(0); i < 24; i++ {
		ts, b = append(ts, 1000+i*300), append(b, 600)
	}
	s := rita(ts, b, 1000, 1000+23*300)
	if s.Dur != 1 || s.TS != 1 || s.Score < 0.9 {
		t.Errorf("regular beacon: %+v", s)
	}
}

func TestRITAHistogramWrapAroundRun(t *testing.T) {
	var ts []int64
	for _, bin := range []int{0, 1, 2, 21, 22, 23} {
		ts = append(ts, int64(bin)*100+50)
	}
	h, bars, run := ritaHistogram(ts, 0, 2400)
	if bars != 6 || run != 6 || h[0] != 1 || h[23] != 1 {
		t.Fatalf("bars %d run %d hist %v, want 6 bars in one wrapped run", bars, run, h)
	}
	if cv := cvScore(h); cv != 0 { // 6 ones and 18 zeros: CV sqrt(3) > 1
		t.Errorf("cvScore = %v, want 0", cv)
	}
}

func TestMatchAlert(t *testing.T) {
	labels := []synth.Label{
		{SrcIP: "10.0.0.1", DstFQDN: "*"},
		{SrcIP: "10.0.0.1", DstFQDN: "cdn.example.net", DstPort: 443, Proto: "tcp", DstIPs: []string{"203.0.113.10"}},
		{SrcIP: "10.0.0.1", DstFQDN: "evil.example", DstPort: 53, Proto: "udp"},
	}
	for _, tc := range []struct {
		a    alertRec
		want int
	}{
		{alertRec{SrcIP: "10.0.0.1", DstFQDN: "cdn.example.net", DstPort: 443, Proto: "tcp"}, 1},
		{alertRec{SrcIP: "10.0.0.1", DstIPs: []string{"203.0.113.10"}, DstPort: 443, Proto: "tcp"}, 1},
		{alertRec{SrcIP: "10.0.0.1", DstFQDN: "cdn.example.net", DstPort: 8443, Proto: "tcp"}, 0},
		{alertRec{SrcIP: "10.0.0.1", DstFQDN: "evil.example", DstPort: 53, Proto: "udp", Kind: "dns"}, 2},
		{alertRec{SrcIP: "10.0.0.1", DstFQDN: "news.example.com", DstPort: 443, Proto: "tcp"}, 0},
		{alertRec{SrcIP: "10.0.0.2", DstFQDN: "cdn.example.net", DstPort: 443, Proto: "tcp"}, -1},
	} {
		if got := matchAlert(&tc.a, labels); got != tc.want {
			t.Errorf("matchAlert(%+v) = %d, want %d", tc.a, got, tc.want)
		}
	}
}

func TestRefPeriodAndBeatAt(t *testing.T) {
	if got := refPeriod(&synth.Label{Style: "c2-one-sided-jitter", PeriodS: 60, Jitter: 0.5}); got != 45 {
		t.Errorf("one-sided ref = %v, want 45", got)
	}
	if got := refPeriod(&synth.Label{Style: "c2-additive-jitter", PeriodS: 60, Jitter: 0.5}); got != 75 {
		t.Errorf("additive ref = %v, want 75", got)
	}
	t0 := time.Unix(1000, 0)
	l := &synth.Label{BeatTimes: []time.Time{t0, t0.Add(time.Minute), t0.Add(2 * time.Minute)}}
	if got := beatAt(l, t0.Add(time.Minute+time.Second)); got != 2 {
		t.Errorf("beatAt = %d, want 2", got)
	}
	if math.IsNaN(refPeriod(&synth.Label{})) {
		t.Error("NaN")
	}
}
