package syslog

import (
	"strconv"
	"strings"

	"github.com/launchtap/launchtap/sensor/alert"
)

// kv is one CEF or LEEF extension pair, in output order.
type kv struct{ k, v string }

// cefHeaderEscape escapes a CEF header field: '\' and '|' get a backslash;
// line breaks are not allowed in the header and become spaces.
func cefHeaderEscape(s string) string {
	s = oneLine(s)
	if !strings.ContainsAny(s, `\|`) {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' || s[i] == '|' {
			sb.WriteByte('\\')
		}
		sb.WriteByte(s[i])
	}
	return sb.String()
}

// cefExtEscape escapes a CEF extension value: '\' and '=' get a backslash,
// CR and LF become \r and \n; other control characters become spaces.
func cefExtEscape(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var sb strings.Builder
	for _, r := range s {
		switch {
		case r == '\\' || r == '=':
			sb.WriteByte('\\')
			sb.WriteRune(r)
		case r == '\n':
			sb.WriteString(`\n`)
		case r == '\r':
			sb.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			sb.WriteByte(' ')
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

func cefHeader(version, sigID, name string, sev int) string {
	return "CEF:0|launchtap|launchtap|" + cefHeaderEscape(version) + "|" + cefHeaderEscape(sigID) + "|" +
		cefHeaderEscape(name) + "|" + strconv.Itoa(sev) + "|"
}

// cefExt renders extension pairs, skipping empty values (CEF has no null).
func cefExt(pairs []kv) string { return joinPairs(pairs, ' ', cefExtEscape) }

// joinPairs renders k=v pairs separated by sep, each value through esc.
// Empty values are left out: neither CEF nor LEEF has a null, and an empty
// value would read as the start of the next pair to some parsers.
func joinPairs(pairs []kv, sep byte, esc func(string) string) string {
	var sb strings.Builder
	for _, p := range pairs {
		if p.v == "" {
			continue
		}
		if sb.Len() > 0 {
			sb.WriteByte(sep)
		}
		sb.WriteString(p.k)
		sb.WriteByte('=')
		sb.WriteString(esc(p.v))
	}
	return sb.String()
}

// alertFacts are the alert values CEF and LEEF both carry that are not
// plain fields of the alert: the best launchd job, the enrichment status,
// the device's user and the latest destination address.
type alertFacts struct {
	job    alert.Job
	status string
	user   string
	dst    string
}

func factsOf(a *alert.Alert) alertFacts {
	f := alertFacts{status: alert.EnrichNotConfigured}
	if en := a.Enrichment; en != nil {
		f.status = en.Status
		if len(en.Jobs) > 0 {
			f.job = en.Jobs[0]
		}
		if en.Device != nil {
			f.user = en.Device.User
		}
	}
	if n := len(a.DstIPs); n > 0 {
		f.dst = a.DstIPs[n-1]
	}
	return f
}

// cefAlert is the CEF body of an alert; the mapping is documented in
// docs/formats/cef.md.
func cefAlert(a *alert.Alert, version string, sev int) string {
	f := factsOf(a)
	pairs := []kv{
		{"rt", msEpoch(a.TS)},
		{"start", msEpoch(a.FirstSeen)},
		{"end", msEpoch(a.LastSeen)},
		{"externalId", a.ID},
		{"dvchost", a.Sensor},
		{"src", a.SrcIP},
		{"smac", a.SrcMAC},
		{"shost", a.Hostname},
		// CEF has no key for a host identity that outlives addresses: a
		// vendor-prefixed custom key, as the standard allows.
		{"launchtapHostId", a.HostID},
		{"launchtapSrcIps", strings.Join(a.SrcIPs, ",")},
		{"suser", f.user},
		{"dhost", a.DstFQDN},
		{"dst", f.dst},
		{"dpt", strconv.Itoa(int(a.DstPort))},
		{"proto", strings.ToUpper(a.Proto)},
		{"cnt", strconv.Itoa(a.Beats)},
		{"cat", "beacon"},
		{"cs1Label", "launchdLabel"}, {"cs1", f.job.Label},
		{"cs2Label", "launchdPath"}, {"cs2", f.job.Path},
		{"cs3Label", "hostOS"}, {"cs3", a.HostOS},
		{"cs4Label", "reasons"}, {"cs4", strings.Join(a.Reasons, "; ")},
		{"cs5Label", "enrichmentStatus"}, {"cs5", f.status},
		{"cs6Label", "dstIPs"}, {"cs6", strings.Join(a.DstIPs, ",")},
		{"cn1Label", "periodSeconds"}, {"cn1", strconv.FormatInt(int64(a.PeriodS+0.5), 10)},
		{"cn2Label", "beats"}, {"cn2", strconv.Itoa(a.Beats)},
		{"cn3Label", "missedBeats"}, {"cn3", strconv.Itoa(a.Missed)},
		{"cfp1Label", "score"}, {"cfp1", ftoa(a.Score)},
		{"cfp2Label", "jitter"}, {"cfp2", ftoa(a.Jitter)},
		{"cfp3Label", "hostOSConfidence"}, {"cfp3", ftoa(a.HostOSConfidence)},
		{"cfp4Label", "periodSecondsExact"}, {"cfp4", ftoa(a.PeriodS)},
	}
	if a.GroupID != "" {
		// The six cs and three cn fields are taken: the fleet's go in
		// ArcSight's flex fields, labelled like the others.
		pairs = append(pairs, kv{"flexString1Label", "groupId"}, kv{"flexString1", a.GroupID})
		if a.HostCount > 0 {
			pairs = append(pairs, kv{"flexNumber1Label", "hostCount"}, kv{"flexNumber1", strconv.Itoa(a.HostCount)},
				kv{"flexString2Label", "fleetHosts"}, kv{"flexString2", fleetHosts(a)})
		}
		if a.Update {
			pairs = append(pairs, kv{"flexNumber2Label", "update"}, kv{"flexNumber2", "1"})
		}
	}
	pairs = append(pairs, kv{"msg", Summary(a)})
	return cefHeader(version, "beacon", "Periodic egress beacon", sev) + cefExt(pairs)
}
