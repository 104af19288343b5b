package syslog

import (
	"strconv"
	"strings"
	"time"

	"github.com/launchtap/launchtap/sensor/alert"
)

// LEEF 2.0 with the tab delimiter declared explicitly as x09.
const (
	leefDelim      = '\t'
	leefTimeFormat = "yyyy-MM-dd'T'HH:mm:ss.SSSXXX" // Java SimpleDateFormat, as QRadar reads it
)

// leefHeaderEscape makes a LEEF header field: '|' and '\' get a backslash,
// control characters become spaces.
func leefHeaderEscape(s string) string { return cefHeaderEscape(s) }

// leefValue makes an attribute value: LEEF has no escape for the delimiter,
// so tabs and all other control characters become spaces.
func leefValue(s string) string { return oneLine(s) }

// leefKey makes an attribute name: no '=', delimiter, space or '|'.
func leefKey(s string) string {
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r == '=' || r == '|' || r == 0x7f {
			return '_'
		}
		return r
	}, strings.ToValidUTF8(s, "_"))
}

func leefHeader(version, eventID string) string {
	return "LEEF:2.0|launchtap|launchtap|" + leefHeaderEscape(version) + "|" + leefHeaderEscape(eventID) + "|x09|"
}

// leefExt renders attributes separated by the delimiter, skipping empty values.
func leefExt(pairs []kv) string { return joinPairs(pairs, leefDelim, leefValue) }

func leefTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// leefAlert is the LEEF body of an alert: predefined attributes where LEEF
// has one (src, dst, dstPort, proto, srcMAC, sev, cat, devTime,
// identHostName, usrName), the alert's JSON names otherwise.
func leefAlert(a *alert.Alert, version string, sev int) string {
	f := factsOf(a)
	pairs := []kv{
		{"devTime", leefTime(a.TS)},
		{"devTimeFormat", leefTimeFormat},
		{"cat", "beacon"},
		{"sev", strconv.Itoa(sev)},
		{"src", a.SrcIP},
		{"srcMAC", a.SrcMAC},
		{"dst", f.dst},
		{"dstPort", strconv.Itoa(int(a.DstPort))},
		{"proto", strings.ToUpper(a.Proto)},
		{"identHostName", a.Hostname},
		{"usrName", f.user},
		{"alert_id", a.ID},
		{"host_id", a.HostID},
		{"src_ips", strings.Join(a.SrcIPs, ",")},
		{"src_macs", strings.Join(a.SrcMACs, ",")},
		{"sensor", a.Sensor},
		{"severity", string(a.Severity)},
		{"dst_fqdn", a.DstFQDN},
		{"dst_ips", strings.Join(a.DstIPs, ",")},
		{"period_s", ftoa(a.PeriodS)},
		{"jitter", ftoa(a.Jitter)},
		{"beats", strconv.Itoa(a.Beats)},
		{"missed_beats", strconv.Itoa(a.Missed)},
		{"first_seen", leefTime(a.FirstSeen)},
		{"last_seen", leefTime(a.LastSeen)},
		{"score", ftoa(a.Score)},
		{"host_os", a.HostOS},
		{"host_os_confidence", ftoa(a.HostOSConfidence)},
		{"enrichment_status", f.status},
		{"launchd_label", f.job.Label},
		{"launchd_path", f.job.Path},
		{"reasons", strings.Join(a.Reasons, "; ")},
	}
	fleet, hosts := fleetParams(a)
	for _, p := range append(fleet, hosts...) {
		pairs = append(pairs, kv{p.name, p.value})
	}
	pairs = append(pairs, kv{"msg", Summary(a)})
	return leefHeader(version, "beacon") + leefExt(pairs)
}
