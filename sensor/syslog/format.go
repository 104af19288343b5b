package syslog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/launchtap/launchtap/sensor/alert"
)

// Body formats.
const (
	FormatRFC5424 = "rfc5424"
	FormatCEF     = "cef"
	FormatLEEF    = "leef"
	FormatJSON    = "json"
)

// MSGIDs.
const (
	MsgIDBeacon = "BEACON"
	MsgIDStats  = "SENSOR-STATS"
	MsgIDHealth = "SENSOR-HEALTH"
)

var facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
	"uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "ntp": 12, "security": 13, "console": 14,
	"solaris-cron": 15, "local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20,
	"local5": 21, "local6": 22, "local7": 23,
}

// parseFacility accepts a facility name (local4) or its code (20).
func parseFacility(s string) (int, error) {
	if f, ok := facilities[strings.ToLower(s)]; ok {
		return f, nil
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n <= 23 {
		return n, nil
	}
	return 0, fmt.Errorf("syslog: unknown facility %q (want kern..local7 or 0..23)", s)
}

// Severity maps an alert to a syslog severity (0..7); see the package comment.
func Severity(a *alert.Alert) int {
	var sev int
	switch strings.ToLower(string(a.Severity)) {
	case "high":
		sev = sevError
	case "medium":
		sev = sevWarning
	case "low":
		sev = sevNotice
	default:
		switch {
		case a.Score >= 0.8:
			sev = sevError
		case a.Score >= 0.5:
			sev = sevWarning
		default:
			sev = sevNotice
		}
	}
	if a.HostOSConfidence < 0.5 && sev < sevInfo {
		sev++
	}
	return sev
}

// cefSeverity maps a syslog severity to CEF/LEEF's 0..10 scale.
func cefSeverity(sev int) int {
	switch {
	case sev <= 1:
		return 10
	case sev == sevCritical:
		return 9
	case sev == sevError:
		return 8
	case sev == sevWarning:
		return 5
	case sev == sevNotice:
		return 3
	case sev == sevInfo:
		return 1
	default:
		return 0
	}
}

// encoder turns alerts and status into wire-ready messages for one destination.
type encoder struct {
	format   string
	facility int
	sdID     string
	host     string // used when the alert names no sensor
	procID   string
	version  string // launchtap version, CEF/LEEF header
	bom      bool
	maxLen   int
}

func (e *encoder) base(msgID, sensor string, sev int, seq uint64, now time.Time) message {
	host := sensor
	if host == "" {
		host = e.host
	}
	return message{
		prio: e.facility*8 + sev, ts: now, host: host, procID: e.procID, msgID: msgID,
		sdID: e.sdID, seq: seq,
		// CEF and LEEF parsers look for "CEF:"/"LEEF:" at the start of MSG, so
		// they never get a BOM; JSON is made ASCII and needs none.
		bom: e.bom && e.format == FormatRFC5424,
	}
}

func (e *encoder) alert(a *alert.Alert, seq uint64, now time.Time) ([]byte, bool, error) {
	sev := Severity(a)
	m := e.base(MsgIDBeacon, a.Sensor, sev, seq, now)
	switch e.format {
	case FormatCEF:
		m.msg = cefAlert(a, e.version, cefSeverity(sev))
	case FormatLEEF:
		m.msg = leefAlert(a, e.version, cefSeverity(sev))
	case FormatJSON:
		body, err := asciiJSON(a)
		if err != nil {
			return nil, false, fmt.Errorf("syslog: encoding alert %s as JSON: %w", a.ID, err)
		}
		m.msg = body
	default:
		m.sd = alertParams(a)
		m.msg = Summary(a)
	}
	return m.render(e.maxLen)
}

func (e *encoder) stats(sensor string, s map[string]uint64, seq uint64, now time.Time) ([]byte, bool, error) {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	names := paramNames(keys)
	m := e.base(MsgIDStats, sensor, sevInfo, seq, now)
	var line strings.Builder
	line.WriteString("sensor stats:")
	for i, k := range keys {
		fmt.Fprintf(&line, " %s=%d", names[i], s[k])
	}
	switch e.format {
	case FormatCEF:
		m.msg = cefHeader(e.version, "sensor-stats", "Sensor statistics", cefSeverity(sevInfo)) +
			cefExt([]kv{{"rt", msEpoch(now)}, {"dvchost", sensor}, {"cat", "sensor-stats"}, {"msg", line.String()}})
	case FormatLEEF:
		ext := []kv{{"devTime", leefTime(now)}, {"devTimeFormat", leefTimeFormat}, {"cat", "sensor-stats"}, {"sensor", sensor}}
		for _, k := range keys {
			ext = append(ext, kv{leefKey(k), strconv.FormatUint(s[k], 10)})
		}
		m.msg = leefHeader(e.version, "sensor-stats") + leefExt(ext)
	case FormatJSON:
		body, err := asciiJSON(struct {
			Type   string            `json:"type"`
			TS     time.Time         `json:"ts"`
			Sensor string            `json:"sensor"`
			Stats  map[string]uint64 `json:"stats"`
		}{"sensor-stats", now.UTC(), sensor, s})
		if err != nil {
			return nil, false, fmt.Errorf("syslog: encoding stats as JSON: %w", err)
		}
		m.msg = body
	default:
		for i, k := range keys {
			m.sd = append(m.sd, param{names[i], strconv.FormatUint(s[k], 10)})
		}
		m.msg = line.String()
	}
	return m.render(e.maxLen)
}

func (e *encoder) health(sensor, text string, sev int, seq uint64, now time.Time) ([]byte, bool, error) {
	sev = min(max(sev, 0), 7)
	m := e.base(MsgIDHealth, sensor, sev, seq, now)
	text = oneLine(text)
	switch e.format {
	case FormatCEF:
		m.msg = cefHeader(e.version, "sensor-health", "Sensor health", cefSeverity(sev)) +
			cefExt([]kv{{"rt", msEpoch(now)}, {"dvchost", sensor}, {"cat", "sensor-health"}, {"msg", text}})
	case FormatLEEF:
		m.msg = leefHeader(e.version, "sensor-health") + leefExt([]kv{{"devTime", leefTime(now)},
			{"devTimeFormat", leefTimeFormat}, {"cat", "sensor-health"}, {"sev", strconv.Itoa(cefSeverity(sev))},
			{"sensor", sensor}, {"msg", text}})
	case FormatJSON:
		body, err := asciiJSON(struct {
			Type     string    `json:"type"`
			TS       time.Time `json:"ts"`
			Sensor   string    `json:"sensor"`
			Severity int       `json:"severity"`
			Message  string    `json:"message"`
		}{"sensor-health", now.UTC(), sensor, sev, text})
		if err != nil {
			return nil, false, fmt.Errorf("syslog: encoding health as JSON: %w", err)
		}
		m.msg = body
	default:
		m.sd = []param{{"status", text}}
		m.msg = text
	}
	return m.render(e.maxLen)
}

// alertParams lists the alert's SD-PARAMs, most important first (the tail
// is dropped first when a datagram must shrink). Names follow the alert's
// JSON schema so SIEM field names match the JSON Lines output.
func alertParams(a *alert.Alert) []param {
	lastIP := ""
	if n := len(a.DstIPs); n > 0 {
		lastIP = a.DstIPs[n-1]
	}
	p := []param{
		{"id", a.ID},
		{"severity", string(a.Severity)},
		{"src_ip", a.SrcIP},
		{"src_mac", a.SrcMAC},
		{"host_id", a.HostID},
		{"dst_fqdn", a.DstFQDN},
		{"dst_ip", lastIP},
		{"dst_port", strconv.Itoa(int(a.DstPort))},
		{"proto", a.Proto},
		{"period_s", ftoa(a.PeriodS)},
		{"jitter", ftoa(a.Jitter)},
		{"beats", strconv.Itoa(a.Beats)},
		{"score", ftoa(a.Score)},
		{"host_os", a.HostOS},
		{"host_os_confidence", ftoa(a.HostOSConfidence)},
		{"hostname", a.Hostname},
	}
	fleet, hosts := fleetParams(a)
	p = append(p, fleet...)
	en := a.Enrichment
	status := alert.EnrichNotConfigured
	if en != nil {
		status = en.Status
	}
	p = append(p, param{"enrichment_status", status})
	var job alert.Job
	if en != nil && len(en.Jobs) > 0 {
		job = en.Jobs[0]
	}
	p = append(p,
		param{"launchd_label", job.Label},
		param{"launchd_path", job.Path},
		param{"reasons", strings.Join(a.Reasons, "; ")},
		param{"dst_ips", strings.Join(a.DstIPs, ",")},
		param{"ts", rfc3339(a.TS)},
		param{"first_seen", rfc3339(a.FirstSeen)},
		param{"last_seen", rfc3339(a.LastSeen)},
		param{"missed_beats", strconv.Itoa(a.Missed)},
		param{"bytes_out_median", ftoa(a.BytesOutMedian)},
		param{"bytes_in_median", ftoa(a.BytesInMedian)},
		param{"sensor", a.Sensor},
		param{"src_ips", strings.Join(a.SrcIPs, ",")},
		param{"src_macs", strings.Join(a.SrcMACs, ",")},
	)
	if en != nil {
		p = append(p, param{"enrichment_provider", en.Provider})
		if en.Device != nil {
			p = append(p, param{"device_serial", en.Device.Serial}, param{"device_user", en.Device.User},
				param{"device_os_version", en.Device.OSVersion})
		}
		if len(en.Jobs) > 0 {
			p = append(p, param{"launchd_program", job.Program}, param{"launchd_match_score", ftoa(job.MatchScore)})
		}
		if en.Error != "" {
			p = append(p, param{"enrichment_error", en.Error})
		}
	}
	if len(a.HostEvidence) > 0 {
		p = append(p, param{"host_evidence", strings.Join(a.HostEvidence, "; ")})
	}
	return append(p, hosts...)
}

// Summary is the one-line human summary used as MSG.
func Summary(a *alert.Alert) string {
	var b strings.Builder
	if fleet := fleetSummary(a); fleet != "" {
		update := ""
		if a.Update {
			update = " update"
		}
		fmt.Fprintf(&b, "periodic egress [%s] fleet group %s%s: %s", orDash(string(a.Severity)), a.GroupID, update, fleet)
	} else {
		fmt.Fprintf(&b, "periodic egress [%s]: %s", orDash(string(a.Severity)), orDash(a.SrcIP))
		if a.Hostname != "" || a.HostOS != "" {
			fmt.Fprintf(&b, " (%s, %s %.2f)", orDash(a.Hostname), orDash(a.HostOS), a.HostOSConfidence)
		}
	}
	b.WriteString(" -> ")
	last := ""
	if n := len(a.DstIPs); n > 0 {
		last = a.DstIPs[n-1]
	}
	switch {
	case a.DstFQDN != "" && last != "":
		fmt.Fprintf(&b, "%s[%s]", a.DstFQDN, last)
	case a.DstFQDN != "":
		b.WriteString(a.DstFQDN)
	default:
		b.WriteString(orDash(last))
	}
	fmt.Fprintf(&b, ":%d/%s every %ss, jitter %.1f%%, %d beats, score %.2f",
		a.DstPort, orDash(a.Proto), ftoa(math.Round(a.PeriodS*10)/10), a.Jitter*100, a.Beats, a.Score)
	if en := a.Enrichment; en != nil && len(en.Jobs) > 0 {
		fmt.Fprintf(&b, "; launchd %s", en.Jobs[0].Label)
	}
	if a.GroupID != "" && a.HostCount == 0 {
		fmt.Fprintf(&b, "; member of fleet group %s", a.GroupID)
	}
	return oneLine(b.String())
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func msEpoch(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.UnixMilli(), 10)
}

// asciiJSON marshals v with every non-ASCII rune as a \u escape, so that MSG
// is plain ASCII: RFC 5424 then needs no BOM, which JSON parsers would choke on.
func asciiJSON(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	raw := bytes.TrimRight(buf.Bytes(), "\n")
	if isASCII(string(raw)) {
		return string(raw), nil
	}
	var sb strings.Builder
	for _, r := range string(raw) {
		switch {
		case r < 0x80:
			sb.WriteRune(r)
		case r > 0xffff:
			r -= 0x10000
			fmt.Fprintf(&sb, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		default:
			fmt.Fprintf(&sb, `\u%04x`, r)
		}
	}
	return sb.String(), nil
}

// paramNames makes each key a PARAM-NAME (sdName: printable, at most 32
// characters). Keys that become the same name, such as long ones cut at 32,
// get a "~N" suffix instead: a duplicate PARAM-NAME would make the whole
// message invalid, and a counter must not vanish because of its name.
func paramNames(keys []string) []string {
	names := make([]string, len(keys))
	seen := make(map[string]bool, len(keys))
	for i, k := range keys {
		n := sdName(k)
		for j := 2; seen[n]; j++ {
			suffix := "~" + strconv.Itoa(j)
			base := sdName(k)
			n = base[:min(len(base), 32-len(suffix))] + suffix
		}
		seen[n] = true
		names[i] = n
	}
	return names
}
