package report

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/launchtap/launchtap/sensor/hostid"
	"github.com/launchtap/launchtap/sensor/state"
)

// A host on encrypted DNS is listed in the coverage section as a DNS blind
// spot, in the JSON (encrypted_dns_hosts) and on the page; a report with
// none says so rather than leaving the field out.
func TestEncryptedDNSInReport(t *testing.T) {
	dir := t.TempDir()
	s, err := state.Open(dir, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	host := netip.MustParseAddr("2001:db8:20::7")
	first, last := t0.Add(time.Hour), t0.Add(5*time.Hour)
	cp := &state.Checkpoint{Clock: last.UnixNano(), Hours: []state.Hour{{Start: t0.Unix(), Packets: 10, Sessions: 4}},
		Hosts:    []hostid.Host{{IP: host.String(), OS: "macos", Hostname: "mac-doh", FirstSeen: first, LastSeen: last}},
		DoHHosts: []state.DoHHost{{IP: host, Providers: []string{"Quad9"}, Sessions: 17, First: first.UnixNano(), Last: last.UnixNano()}}}
	if _, err := s.Checkpoint(ctx, cp); err != nil {
		t.Fatal(err)
	}
	s.Close()

	for _, tc := range []struct {
		name  string
		since time.Time
		want  int
	}{{"window with it", time.Time{}, 1}, {"window after it", last.Add(time.Hour), 0}} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := state.Open(dir, state.Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			since := int64(0)
			if !tc.since.IsZero() {
				since = tc.since.UnixNano()
			}
			ev, err := s.Evidence(ctx, since)
			if err != nil {
				t.Fatal(err)
			}
			r := Build(ev, Options{Since: tc.since})
			var js, page bytes.Buffer
			if err := r.WriteJSON(&js); err != nil {
				t.Fatal(err)
			}
			if err := r.WriteHTML(&page); err != nil {
				t.Fatal(err)
			}
			var back struct {
				Coverage struct {
					Encrypted []EncryptedDNSHost `json:"encrypted_dns_hosts"`
				} `json:"coverage"`
			}
			if err := json.Unmarshal(js.Bytes(), &back); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(js.String(), `"encrypted_dns_hosts": [`) {
				t.Errorf("JSON: encrypted_dns_hosts is not a list:\n%s", js.String())
			}
			html := page.String()
			if !strings.Contains(html, "DNS blind spots: hosts using encrypted DNS") {
				t.Error("page lacks the encrypted-DNS section")
			}
			if tc.want == 0 {
				if len(back.Coverage.Encrypted) != 0 || strings.Contains(html, host.String()) {
					t.Errorf("host outside the window listed: %+v", back.Coverage.Encrypted)
				}
				if !strings.Contains(html, "No host seen using an encrypted-DNS resolver") {
					t.Error("page does not say no host used encrypted DNS")
				}
				return
			}
			e := back.Coverage.Encrypted
			if len(e) != 1 || e[0].IP != host.String() || e[0].Hostname != "mac-doh" || e[0].Sessions != 17 ||
				len(e[0].Providers) != 1 || e[0].Providers[0] != "Quad9" || !e[0].First.Equal(first) || !e[0].Last.Equal(last) {
				t.Errorf("JSON encrypted_dns_hosts %+v", e)
			}
			for _, want := range []string{"<td>" + host.String() + "</td><td>mac-doh</td><td>Quad9</td><td class=\"n\">17</td>", "2026-03-02 01:00 UTC", "2026-03-02 05:00 UTC"} {
				if !strings.Contains(html, want) {
					t.Errorf("page lacks %q", want)
				}
			}
		})
	}
}
