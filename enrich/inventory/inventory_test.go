package inventory

import (
	"testing"
)

func TestSuggest(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"startInterval", "start_interval"}, {"StartInterval", "start_interval"}, {"labl", "label"},
		{"RunAtLoad", "run_at_load"}, {"zzzzzz", ""},
	} {
		if got := Suggest(c.in, JobKeys); got != c.want {
			t.Errorf("Suggest(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	if m, err := NormalizeMAC("3C-22-FB-1A-2B-3C"); err != nil || m != "3c:22:fb:1a:2b:3c" {
		t.Errorf("NormalizeMAC: %q %v", m, err)
	}
	if _, err := NormalizeMAC("00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01"); err == nil {
		t.Error("20-byte address accepted")
	}
	if MACString([6]byte{}) != "" || MACString([6]byte{0x3c, 0x22, 0xfb, 1, 2, 3}) != "3c:22:fb:01:02:03" {
		t.Error("MACString")
	}
}

func TestNeedsCalendar(t *testing.T) {
	h := &Host{Jobs: []Job{{Label: "a", StartInterval: 300}, {Label: "b"}}}
	for _, c := range []struct {
		period float64
		want   bool
	}{{300, false}, {900, false}, {3600, true}, {0, false}} {
		if got := h.NeedsCalendar(c.period); got != c.want {
			t.Errorf("NeedsCalendar(%v) = %v", c.period, got)
		}
	}
	h.CalendarComplete = true
	if h.NeedsCalendar(3600) {
		t.Error("complete host needs calendar")
	}
}

func TestUserFromJobs(t *testing.T) {
	j := func(p string) Job { return Job{Label: "x", Path: p} }
	if u := UserFromJobs([]Job{j("/Library/LaunchAgents/a.plist"), j("/Users/alice/Library/LaunchAgents/b.plist")}); u != "alice" {
		t.Errorf("got %q", u)
	}
	if u := UserFromJobs([]Job{j("/Users/alice/Library/LaunchAgents/b.plist"), j("/Users/bob/Library/LaunchAgents/b.plist")}); u != "" {
		t.Errorf("two homes gave %q", u)
	}
}

func TestCalendarString(t *testing.T) {
	c := Calendar{Minute: 15, Hour: 3, Day: Any, Weekday: Any, Month: Any}
	if c.String() != "{Hour=3 Minute=15}" {
		t.Errorf("got %s", c)
	}
}
