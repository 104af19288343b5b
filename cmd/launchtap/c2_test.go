package main

import (
	"testing"

	"github.com/launchtap/launchtap/internal/testenv"
)

// c2Alert is the part of an alert TestC2Captures checks.
type c2Alert struct {
	DstFQDN        string   `json:"dst_fqdn"`
	DstPort        uint16   `json:"dst_port"`
	Kind           string   `json:"kind"`
	PeriodS        float64  `json:"period_s"`
	Beats          int      `json:"beats"`
	DNSDomain      string   `json:"dns_domain"`
	DNSRecordTypes []string `json:"dns_record_types"`
	DNSResolver    string   `json:"dns_resolver"`
}

// c2Want is one periodic channel a capture must alert on: the first alert
// of that kind and port (and name, if given) has its period in [lo, hi] and
// came by beat maxBeats.
type c2Want struct {
	kind     string
	port     uint16
	fqdn     string
	lo, hi   float64
	maxBeats int
}

// TestC2Captures replays real C2 and keep-alive captures (see
// testdata/captures/c2/README.md) with --os any and
// the --internal each needs, as a user would, and checks every periodic C2
// channel alerts with the right period by the beat stated, and that the
// captures with nothing periodic stay silent. ndpi-teamviewer (a benign but
// unapproved remote-access keep-alive) may alert; only its period is checked.
func TestC2Captures(t *testing.T) {
	for _, c := range []struct {
		file     string
		internal string
		want     []c2Want
		silent   bool
		mayAlert bool
	}{
		{file: "quasarrat.pcap", want: []c2Want{
			{kind: "session", port: 1337, fqdn: "tintopretzelmeister.ddns.net", lo: 3.3, hi: 3.7, maxBeats: 10},
			{kind: "dns", port: 53, fqdn: "tintopretzelmeister.ddns.net", lo: 57, hi: 63, maxBeats: 5},
		}},
		{file: "slips-cc1.pcap", internal: "147.32.0.0/16", want: []c2Want{{kind: "session", port: 443, lo: 2.1, hi: 2.3, maxBeats: 10}}},
		{file: "dns-txt-cmds.pcap", want: []c2Want{{kind: "dns", port: 53, fqdn: "c.1-1.24006.ns.ostrykebs.pl", lo: 1.0, hi: 1.4, maxBeats: 20}}},
		{file: "asyncrat-cd01.pcap", want: []c2Want{{kind: "burst", port: 4041, lo: 13, hi: 14, maxBeats: 8}}},
		{file: "ratinfected.pcapng", internal: "172.16.0.114/32", want: []c2Want{{kind: "burst", port: 4433, lo: 9.8, hi: 10.2, maxBeats: 8}}},
		{file: "caldera-manx-tcp.pcap", internal: "172.18.0.3/32", want: []c2Want{{kind: "burst", port: 7010, lo: 19.5, hi: 20.5, maxBeats: 8}}},
		{file: "caldera-sandcat.pcap", internal: "172.18.0.3/32", want: []c2Want{{kind: "burst", port: 8888, lo: 45, hi: 55, maxBeats: 10}}},
		{file: "malcolm-NTP.pcap", silent: true},
		{file: "agenttesla-0e32.pcap", silent: true},
		{file: "ndpi-teamviewer.pcap", mayAlert: true, want: []c2Want{{kind: "burst", port: 5938, lo: 36, hi: 44}}},
	} {
		t.Run(c.file, func(t *testing.T) {
			path := c2Capture(t, c.file)
			args := []string{"replay", "--os", "any", "--workers", "1", "--log-level", "warn"}
			if c.internal != "" {
				args = append(args, "--internal", c.internal)
			}
			code, out, stderr := replay(t, nil, append(args, path)...)
			if code != 0 {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			alerts := jsonLines[c2Alert](t, out)
			if c.silent {
				if len(alerts) > 0 {
					t.Fatalf("nothing periodic, yet %d alert(s):\n%s", len(alerts), out)
				}
				return
			}
			for _, w := range c.want {
				var got *c2Alert
				for i := range alerts {
					a := &alerts[i]
					if a.Kind == w.kind && a.DstPort == w.port && (w.fqdn == "" || a.DstFQDN == w.fqdn) {
						got = a
						break
					}
				}
				switch {
				case got == nil && c.mayAlert:
					continue
				case got == nil:
					t.Errorf("no %s alert to port %d %s; alerts:\n%s", w.kind, w.port, w.fqdn, out)
					continue
				}
				if got.PeriodS < w.lo || got.PeriodS > w.hi {
					t.Errorf("%s alert to port %d: period %.3f s, want %.1f-%.1f", w.kind, w.port, got.PeriodS, w.lo, w.hi)
				}
				if w.maxBeats > 0 && got.Beats > w.maxBeats {
					t.Errorf("%s alert to port %d came at beat %d, want by beat %d", w.kind, w.port, got.Beats, w.maxBeats)
				}
				if w.kind == "dns" && (got.DNSDomain == "" || len(got.DNSRecordTypes) == 0 || got.DNSResolver == "") {
					t.Errorf("DNS-channel alert does not name its domain, record types and resolver: %+v", got)
				}
			}
		})
	}
}

// c2Capture is a committed real C2 capture (testdata/captures/c2).
func c2Capture(t *testing.T, name string) string {
	t.Helper()
	return testenv.Capture(t, "c2", name)
}
