package main

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/launchtap/launchtap/sensor/pipeline"
	"github.com/launchtap/launchtap/sensor/state"
)

func TestDoHHostsMapping(t *testing.T) {
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	t1, t2, t3 := learnT0, learnT0.Add(time.Minute), learnT0.Add(time.Hour)
	got := dohHosts([]pipeline.DoHHost{
		{Addr: a, Provider: "Quad9", Sessions: 2, First: t2, Last: t2},
		{Addr: b, Provider: "Google", Sessions: 1, First: t1, Last: t1},
		{Addr: a, Provider: "Cloudflare", Sessions: 5, First: t1, Last: t3},
		{Addr: a, Provider: "Quad9", Sessions: 1, First: t3, Last: t3},
	})
	want := []state.DoHHost{
		{IP: a, Providers: []string{"Cloudflare", "Quad9"}, Sessions: 8, First: t1.UnixNano(), Last: t3.UnixNano()},
		{IP: b, Providers: []string{"Google"}, Sessions: 1, First: t1.UnixNano(), Last: t1.UnixNano()},
	}
	if !slices.EqualFunc(got, want, func(x, y state.DoHHost) bool {
		return x.IP == y.IP && slices.Equal(x.Providers, y.Providers) && x.Sessions == y.Sessions && x.First == y.First && x.Last == y.Last
	}) {
		t.Errorf("dohHosts:\n got %+v\nwant %+v", got, want)
	}
	if got := dohHosts(nil); len(got) != 0 {
		t.Errorf("dohHosts(nil) = %+v", got)
	}
}

// A host that resolves over DoH (sessions to 1.1.1.1:443, no port-53
// lookups), replayed in two runs sharing --state-dir, is one DNS blind spot
// in the report, its sessions those of both runs.
func TestDoHHostInReportAcrossRestart(t *testing.T) {
	host, resolver := netip.MustParseAddr("10.9.0.40"), netip.MustParseAddr("1.1.1.1")
	for _, workers := range [][2]string{{"1", "1"}, {"1", "3"}} {
		t.Run(workers[0]+"→"+workers[1], func(t *testing.T) {
			w := &learnWire{t: t}
			for i := range 10 {
				w.session(time.Duration(i)*10*time.Minute, host, resolver)
			}
			_, a, b := w.write(45 * time.Minute)
			sd := t.TempDir()
			args := []string{"replay", "--sensor-name", "t", "--os", "any", "--stats-interval", "0", "--state-dir", sd, "--workers"}
			for i, f := range []string{a, b} {
				if code, _, stderr := replay(t, nil, append(slices.Clone(args), workers[i], f)...); code != 0 {
					t.Fatalf("run %d: exit %d\n%s", i+1, code, stderr)
				}
			}
			code, out, stderr := replay(t, nil, "report", "--state-dir", sd, "--since", "all", "--json", "-")
			if code != 0 {
				t.Fatalf("report: exit %d\n%s", code, stderr)
			}
			var r struct {
				Coverage struct {
					DoH []struct {
						IP        string    `json:"ip"`
						Providers []string  `json:"providers"`
						Sessions  uint64    `json:"sessions"`
						First     time.Time `json:"first_seen"`
						Last      time.Time `json:"last_seen"`
					} `json:"encrypted_dns_hosts"`
				} `json:"coverage"`
			}
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatal(err)
			}
			d := r.Coverage.DoH
			if len(d) != 1 || d[0].IP != host.String() || !slices.Equal(d[0].Providers, []string{"Cloudflare"}) || d[0].Sessions != 10 ||
				!d[0].First.Equal(learnT0) || !d[0].Last.Equal(learnT0.Add(90*time.Minute)) {
				t.Fatalf("encrypted DNS hosts %+v: want %s on Cloudflare, 10 sessions over both runs\n%s", d, host, out)
			}
			if !strings.Contains(out, `"encrypted_dns_hosts"`) {
				t.Fatal("no encrypted_dns_hosts field")
			}
		})
	}
}
