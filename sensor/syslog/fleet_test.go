package syslog

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/launchtap/launchtap/sensor/alert"
)

// groupAlert is trickyAlert as a fleet group's update record: 15 hosts,
// 7 listed, one with a hostname holding the list's separators.
func groupAlert() *alert.Alert {
	a := trickyAlert()
	a.GroupID, a.HostCount, a.Update = "9f3c0a1b2c3d4e5f", 15, true
	for i := range 7 {
		a.Hosts = append(a.Hosts, alert.FleetHost{
			HostID: fmt.Sprintf("3c:22:fb:00:05:%02x", i), SrcIP: fmt.Sprintf("10.20.5.%d", 10+i),
			SrcMAC: fmt.Sprintf("3c:22:fb:00:05:%02x", i), Hostname: fmt.Sprintf("mac-%02d", i),
			PeriodS: 3600 + float64(i)/10, Beats: 6 + i, FirstSeen: a.FirstSeen, LastSeen: a.LastSeen, Severity: alert.SeverityHigh,
		})
	}
	a.Hosts[1].Hostname = "odd/name, with\tseparators"
	a.Hosts[0].AlertID = "host-00"
	return a
}

const wantFleetHosts = "10.20.5.10/3c:22:fb:00:05:00/mac-00/3600/6, 10.20.5.11/3c:22:fb:00:05:01/odd_name_ with separators/3600.1/7, " +
	"10.20.5.12/3c:22:fb:00:05:02/mac-02/3600.2/8, 10.20.5.13/3c:22:fb:00:05:03/mac-03/3600.3/9, " +
	"10.20.5.14/3c:22:fb:00:05:04/mac-04/3600.4/10, +10 more"

func TestFleetRFC5424(t *testing.T) {
	a := groupAlert()
	enc := testEncoder(FormatRFC5424)
	b, truncated, err := enc.alert(a, 3, testNow)
	if err != nil || truncated {
		t.Fatalf("truncated=%v err=%v", truncated, err)
	}
	m := parse5424(t, b)
	sd := (*m.StructuredData)[DefaultSDID]
	if !reflect.DeepEqual(sd, wantParams(a)) {
		t.Errorf("SD mismatch\n got %v\nwant %v", sd, wantParams(a))
	}
	for k, v := range map[string]string{"group_id": a.GroupID, "host_count": "15", "update": "true", "hosts": wantFleetHosts, "id": a.ID} {
		if sd[k] != v {
			t.Errorf("%s = %q, want %q", k, sd[k], v)
		}
	}
	msg := strings.TrimPrefix(*m.Message, bom)
	if want := "periodic egress [high] fleet group 9f3c0a1b2c3d4e5f update: 15 hosts (10.20.5.10, 10.20.5.11, 10.20.5.12, 10.20.5.13, 10.20.5.14, +10 more) -> "; !strings.HasPrefix(msg, want) {
		t.Errorf("summary %q\nwant prefix %q", msg, want)
	}
	// A member's own alert carries the group id alone; an alert in no
	// group carries none of the fleet params.
	member := trickyAlert()
	member.GroupID = a.GroupID
	p := wantParams(member)
	if p["group_id"] != a.GroupID || p["host_count"] != "" || p["hosts"] != "" || !strings.Contains(Summary(member), "; member of fleet group "+a.GroupID) {
		t.Errorf("member params %v, summary %q", p, Summary(member))
	}
	for _, k := range []string{"group_id", "host_count", "update", "hosts"} {
		if _, ok := wantParams(trickyAlert())[k]; ok {
			t.Errorf("an alert in no group has %s", k)
		}
	}
	// Small datagrams keep the group's id and count; the host list is the
	// least important param, dropped first.
	if ps := alertParams(a); ps[len(ps)-1].name != "hosts" {
		t.Errorf("last param %s, want hosts", ps[len(ps)-1].name)
	}
	enc.maxLen = 1000
	b, _, err = enc.alert(a, 3, testNow)
	if err != nil {
		t.Fatal(err)
	}
	sd = (*parse5424(t, b).StructuredData)[DefaultSDID]
	if sd["group_id"] != a.GroupID || sd["host_count"] != "15" || sd["hosts"] != "" {
		t.Errorf("1000-byte datagram: %v; want the group's id and count, the host list dropped", sd)
	}
}

func TestFleetJSON(t *testing.T) {
	a := groupAlert()
	a.Reasons = a.Reasons[:2] // no invalid UTF-8: compare exactly
	enc := testEncoder(FormatJSON)
	b, _, err := enc.alert(a, 1, testNow)
	if err != nil {
		t.Fatal(err)
	}
	msg := *parse5424(t, b).Message
	var got alert.Alert
	if err := json.Unmarshal([]byte(msg), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, a) {
		t.Errorf("JSON round trip\n got %+v\nwant %+v", got, *a)
	}
	for _, field := range []string{`"group_id":"9f3c0a1b2c3d4e5f"`, `"host_count":15`, `"update":true`, `"hosts":[{"host_id":"3c:22:fb:00:05:00"`, `"alert_id":"host-00"`} {
		if !strings.Contains(msg, field) {
			t.Errorf("JSON lacks %s: %s", field, msg)
		}
	}
	plain, _, _ := enc.alert(trickyAlert(), 1, testNow)
	for _, field := range []string{"group_id", "host_count", "hosts", "update"} {
		if strings.Contains(string(plain), `"`+field+`"`) {
			t.Errorf("an alert in no group has %s", field)
		}
	}
}

func TestFleetCEF(t *testing.T) {
	a := groupAlert()
	enc := testEncoder(FormatCEF)
	b, _, err := enc.alert(a, 1, testNow)
	if err != nil {
		t.Fatal(err)
	}
	_, ext := splitCEFHeader(t, *parse5424(t, b).Message)
	got := cefUnescapeExt(t, ext)
	for k, v := range map[string]string{
		"flexString1Label": "groupId", "flexString1": a.GroupID, "flexNumber1Label": "hostCount", "flexNumber1": "15",
		"flexString2Label": "fleetHosts", "flexString2": wantFleetHosts, "flexNumber2Label": "update", "flexNumber2": "1",
		"externalId": a.ID, "src": a.SrcIP,
	} {
		if got[k] != v {
			t.Errorf("CEF %s = %q, want %q", k, got[k], v)
		}
	}
	if !strings.HasPrefix(got["msg"], "periodic egress [high] fleet group ") {
		t.Errorf("CEF msg %q", got["msg"])
	}
	b, _, _ = enc.alert(trickyAlert(), 1, testNow)
	if strings.Contains(string(b), "flexString1") {
		t.Error("an alert in no group has CEF fleet fields")
	}
}

func TestFleetLEEF(t *testing.T) {
	a := groupAlert()
	enc := testEncoder(FormatLEEF)
	b, _, err := enc.alert(a, 1, testNow)
	if err != nil {
		t.Fatal(err)
	}
	msg := *parse5424(t, b).Message
	got := map[string]string{}
	for _, f := range strings.Split(msg[strings.Index(msg, "|x09|")+5:], "\t") {
		k, v, _ := strings.Cut(f, "=")
		got[k] = v
	}
	for k, v := range map[string]string{"group_id": a.GroupID, "host_count": "15", "update": "true", "hosts": wantFleetHosts, "alert_id": a.ID} {
		if got[k] != v {
			t.Errorf("LEEF %s = %q, want %q", k, got[k], v)
		}
	}
	b, _, _ = enc.alert(trickyAlert(), 1, testNow)
	if strings.Contains(string(b), "group_id") {
		t.Error("an alert in no group has LEEF fleet fields")
	}
}
