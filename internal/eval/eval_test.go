package eval

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/launchtap/launchtap/internal/synth"
)

func TestSummariseCountsRecallFalseAlertsAndTargets(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0).UTC()
	beats := func(n int, p time.Duration) []time.Time {
		var b []time.Time
		for i := 0; i < n; i++ {
			b = append(b, t0.Add(time.Duration(i)*p))
		}
		return b
	}
	labels := []synth.Label{
		{Style: "launchd-start-interval", SrcIP: "10.0.0.1", DstFQDN: "a.example", DstPort: 443, Proto: "tcp",
			PeriodS: 300, Beats: 20, ShouldAlert: true, ShouldAlertOSAny: true, BeatTimes: beats(20, 300*time.Second)},
		{Style: "windows-beacon", SrcIP: "10.0.0.2", DstFQDN: "w.example", DstPort: 443, Proto: "tcp",
			PeriodS: 120, Beats: 30, ShouldAlertOSAny: true, BeatTimes: beats(30, 120*time.Second)},
		{Style: "browsing-noise", SrcIP: "10.0.0.3", DstFQDN: "*"},
	}
	hit := alertRec{TS: t0.Add(5 * 300 * time.Second), SrcIP: "10.0.0.1", DstFQDN: "a.example", DstPort: 443, Proto: "tcp", PeriodS: 303}
	win := alertRec{TS: t0.Add(7 * 120 * time.Second), SrcIP: "10.0.0.2", DstFQDN: "w.example", DstPort: 443, Proto: "tcp", PeriodS: 120}
	noise := alertRec{TS: t0, SrcIP: "10.0.0.3", DstFQDN: "news.example", DstPort: 443, Proto: "tcp"}
	r := &ScenarioRun{scenario: "s", labels: labels,
		alerts: [2][]alertRec{{hit, noise}, {hit, win}}}
	rep := Summarise([]*ScenarioRun{r})
	out := strings.Join(rep.lines, "\n")
	for _, want := range []string{
		"jitter <= 50 %: 1.000 (3/3)", // a.example twice (both modes) + w.example with --os any
		"false alerts (benign, noise, unlabelled): default 1, --os any 0",
		"median 0.50 %, max 1.00 %", // 303 vs 300, and 120 vs 120
		"latest at beat 8",          // the Windows beacon at its 8th
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if len(rep.missed) != 1 || !strings.Contains(rep.missed[0], "false alerts") {
		t.Errorf("missed targets %q, want only the false alert", rep.missed)
	}
	var b bytes.Buffer
	rep.Compact = true
	rep.Write(&b, true)
	if !strings.Contains(b.String(), "| s | 10.0.0.1 → a.example:443/tcp | launchd-start-interval | alert / alert | 1/1 / 1/1 | 20 | 6 | 1.00 / 1.00 % |") {
		t.Errorf("markdown row missing:\n%s", b.String())
	}
}
