package main

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The office's global IPv6 prefix is announced in no router advertisement
// the span sees; a dual-stack Mac, known by its IPv4 address and MAC,
// beacons over IPv6 from a global address. With default flags: one alert
// (macOS, under the default --os macos) and the /64 learned from the MAC in
// the summary; with --learn-internal=false: no alert and exactly one WARN
// line, naming the MAC, the prefix and the flag.
func TestReplayLearnsPrefixFromMAC(t *testing.T) {
	w := &learnWire{t: t}
	v4, v6, dst := netip.MustParseAddr("10.9.0.15"), netip.MustParseAddr("2001:db8:aa:7::15"), netip.MustParseAddr("2001:db8:ffff::10")
	w.session(-time.Minute, v4, netip.MustParseAddr("192.0.2.80"))
	for i := range 14 {
		w.session(time.Duration(i)*5*time.Minute, v6, dst)
	}
	whole, _, _ := w.write(24 * time.Hour)
	for _, workers := range []string{"1", "3"} {
		sum := filepath.Join(t.TempDir(), "summary.json")
		code, out, stderr := replay(t, nil, "replay", "--sensor-name", "t", "--stats-interval", "0", "--workers", workers, "--summary", sum, whole)
		if code != 0 {
			t.Fatalf("workers %s: exit %d: %s", workers, code, stderr)
		}
		got := learnedAlerts(t, out)
		if len(got) != 1 || got[0].Src != v6.String() || got[0].Dst != dst.String() || got[0].OS != "macos" {
			t.Fatalf("workers %s: alerts %+v", workers, got)
		}
		var s struct {
			LearnedInternal []string                          `json:"learned_internal"`
			LearnedPrefixes []struct{ Prefix, Source string } `json:"learned_prefixes"`
			Names           map[string]uint64                 `json:"names"`
		}
		b, err := os.ReadFile(sum)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		if len(s.LearnedPrefixes) != 1 || s.LearnedPrefixes[0].Prefix != "2001:db8:aa:7::/64" || s.LearnedPrefixes[0].Source != "mac" ||
			len(s.LearnedInternal) != 1 || s.Names["prefixes_from_macs"] != 1 || s.Names["prefixes_learned"] != 1 {
			t.Errorf("workers %s: summary %s", workers, b)
		}
		if !strings.Contains(stderr, "learned internal: 2001:db8:aa:7::/64 (mac)") {
			t.Errorf("workers %s: text summary lacks the learned prefix: %s", workers, stderr)
		}

		code, out, stderr = replay(t, nil, "replay", "--sensor-name", "t", "--stats-interval", "0", "--workers", workers, "--learn-internal=false", whole)
		if code != 0 || strings.TrimSpace(out) != "" {
			t.Fatalf("learning off, workers %s: exit %d, alerts:\n%s", workers, code, out)
		}
		var warns []string
		for _, line := range strings.Split(stderr, "\n") {
			if strings.Contains(line, "level=WARN") {
				warns = append(warns, line)
			}
		}
		if len(warns) != 1 || !strings.Contains(warns[0], "mac=3c:22:fb:00:00:42") || !strings.Contains(warns[0], "prefix=2001:db8:aa:7::/64") ||
			!strings.Contains(warns[0], "--learn-internal") {
			t.Errorf("learning off, workers %s: warnings %q", workers, warns)
		}
	}
}
