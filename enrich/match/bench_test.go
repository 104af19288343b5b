package match

import (
	"fmt"
	"testing"
	"time"

	"github.com/launchtap/launchtap/enrich/inventory"
)

// A Mac with /System included has about 500 launchd jobs.
func BenchmarkRank500Jobs(b *testing.B) {
	jobs := []inventory.Job{demoUpdater, jamfDaemon, jamfCheckin, mau, keystone, lookalike, silverSparrow, applePeriodic}
	for i := len(jobs); i < 500; i++ {
		j := appleSUD
		j.Label = fmt.Sprintf("com.apple.job%d", i)
		j.Path = fmt.Sprintf("/System/Library/LaunchDaemons/com.apple.job%d.plist", i)
		if i%7 == 0 {
			j.StartCalendarInterval = []inventory.Calendar{cal(i%60, inventory.Any)}
		}
		jobs = append(jobs, j)
	}
	obs := Observation{FQDN: "cdn.example.net", DstIPs: []string{"203.0.113.10", "203.0.113.11"}, PeriodS: 300, Jitter: 0.003,
		BeatTimes: beats(t0, 300*time.Second, 30, nil), FirstSeen: t0, Beats: 30}
	b.ReportAllocs()
	for b.Loop() {
		if r := Rank(obs, jobs); r.Jobs[0].Label != demoUpdater.Label {
			b.Fatal(r.Jobs[0].Label)
		}
	}
}
