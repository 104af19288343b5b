package publish

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/launchtap/launchtap/sensor/dnstrack"
	"github.com/launchtap/launchtap/sensor/hostid"
	"github.com/launchtap/launchtap/sensor/hub/obs"
	"github.com/launchtap/launchtap/sensor/state"
)

// A checkpoint too large for one record is split into parts each under
// obs.MaxJSON that together hold every answer once and the hours once.
func TestSplitCheckpoint(t *testing.T) {
	cp := &state.Checkpoint{Clock: 5e18, Sensor: "tap-a", Hours: []state.Hour{{Start: 3600, Packets: 9}}}
	for i := range 20000 {
		cp.DNSAnswers = append(cp.DNSAnswers, dnstrack.Answer{Client: netip.MustParseAddr("10.0.0.1"),
			Addr: netip.AddrFrom4([4]byte{192, 0, byte(i >> 8), byte(i)}), Name: fmt.Sprintf("host-%06d.a-long-name.example.com", i), At: 1, Expires: 2})
	}
	parts, err := splitCheckpoint(cp)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) < 2 {
		t.Fatalf("%d parts", len(parts))
	}
	names := map[string]int{}
	hours := 0
	for _, p := range parts {
		if len(p) > obs.MaxJSON {
			t.Fatalf("part of %d bytes", len(p))
		}
		var c state.Checkpoint
		if err := json.Unmarshal(p, &c); err != nil {
			t.Fatal(err)
		}
		if c.Sensor != "tap-a" || c.Clock != cp.Clock {
			t.Fatalf("part of sensor %q clock %d", c.Sensor, c.Clock)
		}
		hours += len(c.Hours)
		for _, a := range c.DNSAnswers {
			names[a.Name]++
		}
	}
	if hours != 1 || len(names) != 20000 {
		t.Fatalf("parts hold %d hours and %d names, want 1 and 20000", hours, len(names))
	}
	for n, c := range names {
		if c != 1 {
			t.Fatalf("%s in %d parts", n, c)
		}
	}
}

func TestEvidenceRecords(t *testing.T) {
	h := &hostid.Host{IP: "10.0.0.7", IPs: []string{"10.0.0.7", "fe80::1"}, MAC: "3C:22:FB:1A:2B:3C", OS: hostid.MacOS,
		Confidence: 0.9, Hostname: "alices-mbp", LastSeen: time.Unix(1.7e9, 0)}
	r := hostRecord("tap-a", h)
	if r.HostID != "3c:22:fb:1a:2b:3c" || len(r.Addrs) != 2 || len(r.MACs) != 1 || r.OS != "macos" || r.Hostname != "alices-mbp" {
		t.Fatalf("host record %+v", r)
	}
	if hostRecord("tap-a", &hostid.Host{IP: "not an address"}) != nil {
		t.Fatal("a host without an address became a record")
	}
	client := netip.MustParseAddr("10.0.0.7")
	recs := nameRecords("tap-a", []dnstrack.Answer{
		{Client: client, Addr: netip.MustParseAddr("192.0.2.1"), Name: "a.example", At: 1e9, Expires: 301e9},
		{Client: client, Addr: netip.MustParseAddr("192.0.2.2"), Name: "a.example", At: 2e9, Expires: 301e9},
		{Client: netip.MustParseAddr("10.0.0.8"), Addr: netip.MustParseAddr("192.0.2.1"), Name: "a.example", At: 1e9},
	}, map[netip.Addr][6]byte{client: {0x3c, 0x22, 0xfb, 0x1a, 0x2b, 0x3c}})
	if len(recs) != 2 {
		t.Fatalf("%d name records, want one per client and name", len(recs))
	}
	n := recs[0].(*obs.Name)
	if n.HostID != "3c:22:fb:1a:2b:3c" || len(n.Addrs) != 2 || n.TTL != 300 || n.TS != 2e9 {
		t.Fatalf("name record %+v", n)
	}
	if m := recs[1].(*obs.Name); m.HostID != "10.0.0.8" {
		t.Fatalf("second client keyed %q", m.HostID)
	}
}
