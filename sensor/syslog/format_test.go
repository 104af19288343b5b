package syslog

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/leodido/go-syslog/v4/rfc5424"
)

var testNow = time.Date(2026, 11, 26, 2, 50, 0, 123456000, time.UTC)

// trickyAlert exercises every escaping rule: SD specials, CEF/LEEF
// specials, non-ASCII (2-, 3- and 4-byte UTF-8) and an invalid byte.
func trickyAlert() *alert.Alert {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	return &alert.Alert{
		TS: t0.Add(time.Hour), ID: "a1b2c3d4e5f60718", Sensor: "span-sensor-1", Severity: "high",
		SrcIP: "10.1.2.3", SrcMAC: "a4:83:e7:01:02:03", DstFQDN: "upd\u00e4te.例え.example",
		DstIPs: []string{"203.0.113.7", "2001:db8::7"}, DstPort: 443, Proto: "tcp",
		PeriodS: 300.25, Jitter: 0.021, Beats: 12, Missed: 1, FirstSeen: t0, LastSeen: t0.Add(55 * time.Minute),
		Score: 0.93, BytesOutMedian: 512, BytesInMedian: 2048.5,
		HostOS: "macos", HostOSConfidence: 0.92, Hostname: `Alice's "MacBook" Pro \ ]`,
		HostEvidence: []string{"dhcp option 55 macOS", "ttl 64"},
		Reasons:      []string{`period 300s ± 2% over 12 beats`, `name has "quotes" and [brackets] and a\backslash`, "emoji 🚀 and bad byte \xff here", "pipe | equals = tab\there"},
		Enrichment: &alert.Enrichment{
			Status: alert.EnrichMatched, Provider: "fleet",
			Device: &alert.Device{Serial: "C02XYZ", Hostname: "alice-mbp", OSVersion: "14.5", User: "alice"},
			Jobs: []alert.Job{{Label: "com.example.agent=1|x", Path: `/Library/LaunchAgents/com.example.agent "ü".plist`,
				Program: "/opt/ex/agent", MatchScore: 0.8}},
		},
	}
}

func testEncoder(format string) encoder {
	return encoder{format: format, facility: 20, sdID: DefaultSDID, host: "fallback-host", procID: "4242",
		version: "1.2.3", bom: true, maxLen: maxStreamMsg}
}

// parse5424 parses with go-syslog's strict RFC 5424 parser, MSG included
// (WithCompliantMsg: a BOM must be followed by valid UTF-8).
func parse5424(t testing.TB, b []byte) *rfc5424.SyslogMessage {
	t.Helper()
	m, err := rfc5424.NewParser(rfc5424.WithCompliantMsg()).Parse(b)
	if err != nil {
		t.Fatalf("go-syslog rejects %q: %v", b, err)
	}
	return m.(*rfc5424.SyslogMessage)
}

func wantParams(a *alert.Alert) map[string]string {
	out := map[string]string{}
	for _, p := range alertParams(a) {
		out[p.name] = paramValue(p.value)
	}
	return out
}

func TestRFC5424AlertRoundTrip(t *testing.T) {
	a := trickyAlert()
	enc := testEncoder(FormatRFC5424)
	b, truncated, err := enc.alert(a, 7, testNow)
	if err != nil || truncated {
		t.Fatalf("alert: truncated=%v err=%v", truncated, err)
	}
	m := parse5424(t, b)
	if *m.Priority != 20*8+3 || m.Version != 1 || !m.Timestamp.Equal(testNow) || *m.Hostname != "span-sensor-1" ||
		*m.Appname != "launchtap" || *m.ProcID != "4242" || *m.MsgID != "BEACON" {
		t.Errorf("header: pri=%d ver=%d ts=%v host=%s app=%s proc=%s msgid=%s", *m.Priority, m.Version, m.Timestamp,
			*m.Hostname, *m.Appname, *m.ProcID, *m.MsgID)
	}
	if !strings.Contains(string(b), "2026-11-26T02:50:00.123456Z") {
		t.Errorf("timestamp not at microsecond precision: %q", b)
	}
	sd := *m.StructuredData
	if got := sd["meta"]["sequenceId"]; got != "7" {
		t.Errorf("sequenceId = %q", got)
	}
	got := sd[DefaultSDID]
	want := wantParams(a)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SD mismatch\n got %v\nwant %v", got, want)
	}
	// Spot checks on the values users care about, independent of alertParams.
	for k, v := range map[string]string{
		"src_ip": "10.1.2.3", "src_mac": "a4:83:e7:01:02:03", "dst_fqdn": "upd\u00e4te.例え.example",
		"dst_ip": "2001:db8::7", "dst_ips": "203.0.113.7,2001:db8::7", "dst_port": "443", "proto": "tcp",
		"period_s": "300.25", "jitter": "0.021", "beats": "12", "score": "0.93", "host_os": "macos",
		"host_os_confidence": "0.92", "hostname": `Alice's "MacBook" Pro \ ]`, "enrichment_status": "matched",
		"launchd_label": "com.example.agent=1|x", "launchd_path": `/Library/LaunchAgents/com.example.agent "ü".plist`,
		"reasons": "period 300s ± 2% over 12 beats; name has \"quotes\" and [brackets] and a\\backslash; emoji 🚀 and bad byte \uFFFD here; pipe | equals = tab here",
	} {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	msg := *m.Message
	if !strings.HasPrefix(msg, bom) {
		t.Errorf("non-ASCII MSG without BOM: %q", msg)
	}
	if strings.ContainsAny(msg, "\n\r") || !strings.Contains(msg, "com.example.agent") {
		t.Errorf("summary: %q", msg)
	}
}

func TestBOMOnlyForNonASCII(t *testing.T) {
	a := trickyAlert()
	a.DstFQDN, a.Hostname = "update.example.com", "alice"
	enc := testEncoder(FormatRFC5424)
	b, _, err := enc.alert(a, 1, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if m := parse5424(t, b); strings.HasPrefix(*m.Message, bom) {
		t.Errorf("ASCII MSG with BOM")
	}
	enc.bom = false
	a = trickyAlert()
	b, _, _ = enc.alert(a, 1, testNow)
	if strings.Contains(string(b), bom) {
		t.Errorf("BOM with --syslog-bom=never")
	}
}

func TestSeverity(t *testing.T) {
	for _, tc := range []struct {
		sev        string
		score, osc float64
		want       int
	}{
		{"high", 0.9, 0.9, 3}, {"medium", 0.9, 0.9, 4}, {"low", 0.9, 0.9, 5},
		{"high", 0.9, 0.2, 4}, {"low", 0.1, 0, 6},
		{"", 0.85, 0.9, 3}, {"", 0.6, 0.9, 4}, {"", 0.3, 0.9, 5}, {"bogus", 0.3, 0.1, 6},
	} {
		a := &alert.Alert{Severity: alert.Severity(tc.sev), Score: tc.score, HostOSConfidence: tc.osc}
		if got := Severity(a); got != tc.want {
			t.Errorf("Severity(%q, %v, %v) = %d, want %d", tc.sev, tc.score, tc.osc, got, tc.want)
		}
	}
}

func TestTruncation(t *testing.T) {
	a := trickyAlert()
	for _, max := range []int{1200, 1000, 700, 480} {
		enc := testEncoder(FormatRFC5424)
		enc.maxLen = max
		b, truncated, err := enc.alert(a, 1, testNow)
		if err != nil {
			t.Fatalf("max %d: %v", max, err)
		}
		if !truncated || len(b) > max {
			t.Fatalf("max %d: truncated=%v len=%d", max, truncated, len(b))
		}
		m := parse5424(t, b)
		sd := (*m.StructuredData)[DefaultSDID]
		if sd["truncated"] != "1" || !strings.HasSuffix(*m.Message, truncMarker) {
			t.Errorf("max %d: no truncation marker: %q", max, b)
		}
		// Kept params are intact (dropped from the least important end).
		want := wantParams(a)
		for k, v := range sd {
			if k != "truncated" && want[k] != v {
				t.Errorf("max %d: %s = %q, want %q", max, k, v, want[k])
			}
		}
		if sd["id"] != a.ID || sd["src_ip"] != a.SrcIP {
			t.Errorf("max %d: lost the most important params: %v", max, sd)
		}
	}
	for _, f := range []string{FormatCEF, FormatLEEF, FormatJSON} {
		enc := testEncoder(f)
		enc.maxLen = 600
		b, truncated, err := enc.alert(a, 1, testNow)
		if err != nil || !truncated || len(b) > 600 {
			t.Fatalf("%s: truncated=%v len=%d err=%v", f, truncated, len(b), err)
		}
		m := parse5424(t, b)
		if !strings.HasSuffix(*m.Message, " "+truncMarker) {
			t.Errorf("%s: MSG without marker: %q", f, *m.Message)
		}
	}
}

func TestSDIDRules(t *testing.T) {
	for id, ok := range map[string]bool{
		"launchtap@32473": true, "x@1.2.3": true, "meta": false, "a b@1": false, "a=b@1": false,
		"a]@1": false, `a"@1`: false, "@1": false, "a@": false, "a@b": false, "a@1@2": false,
		"averyveryverylongnamethatistoolong@1": false, "é@1": false,
	} {
		if err := validSDID(id); (err == nil) != ok {
			t.Errorf("validSDID(%q) = %v, want ok=%v", id, err, ok)
		}
	}
	for in, want := range map[string]string{"packets": "packets", "a b=c]\"d": "a_b_c__d", "": "_",
		"ü": "__", strings.Repeat("x", 40): strings.Repeat("x", 32)} {
		if got := sdName(in); got != want {
			t.Errorf("sdName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStatsAndHealth(t *testing.T) {
	enc := testEncoder(FormatRFC5424)
	b, _, err := enc.stats("sensor-a", map[string]uint64{"packets": 1000, "drops": 2, "alerts": 3, "enrichment failures": 1}, 5, testNow)
	if err != nil {
		t.Fatal(err)
	}
	m := parse5424(t, b)
	if *m.MsgID != MsgIDStats || *m.Priority != 20*8+6 || *m.Hostname != "sensor-a" {
		t.Errorf("stats header: %q", b)
	}
	want := map[string]string{"packets": "1000", "drops": "2", "alerts": "3", "enrichment_failures": "1"}
	if got := (*m.StructuredData)[DefaultSDID]; !reflect.DeepEqual(got, want) {
		t.Errorf("stats SD %v, want %v", got, want)
	}
	// Keys that are the same name once cut to 32 characters all arrive.
	long := "syslog_messages_tcp://collector.example.net:514_"
	b, _, err = enc.stats("sensor-a", map[string]uint64{long + "sent": 1, long + "queued": 2, long + "dropped": 3}, 6, testNow)
	if err != nil {
		t.Fatalf("stats with long keys: %v", err)
	}
	got := (*parse5424(t, b).StructuredData)[DefaultSDID]
	cut := long[:32]
	want = map[string]string{cut: "3", cut[:30] + "~2": "2", cut[:30] + "~3": "1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stats SD with long keys %v, want %v", got, want)
	}
	b, _, err = enc.health("sensor-a", "capture stopped: \"eth1\" down\n", 2, 6, testNow)
	if err != nil {
		t.Fatal(err)
	}
	m = parse5424(t, b)
	if *m.MsgID != MsgIDHealth || *m.Priority != 20*8+2 || (*m.StructuredData)[DefaultSDID]["status"] != `capture stopped: "eth1" down ` {
		t.Errorf("health: %q", b)
	}
	for _, f := range []string{FormatCEF, FormatLEEF, FormatJSON} {
		enc := testEncoder(f)
		for _, fn := range []func() ([]byte, bool, error){
			func() ([]byte, bool, error) { return enc.stats("s", map[string]uint64{"packets": 1}, 1, testNow) },
			func() ([]byte, bool, error) { return enc.health("s", "ok", 6, 1, testNow) },
		} {
			b, _, err := fn()
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			m := parse5424(t, b)
			if !strings.Contains(*m.Message, "packets") && !strings.Contains(*m.Message, "ok") {
				t.Errorf("%s: %q", f, *m.Message)
			}
		}
	}
}

func TestJSONBody(t *testing.T) {
	a := trickyAlert()
	enc := testEncoder(FormatJSON)
	b, _, err := enc.alert(a, 1, testNow)
	if err != nil {
		t.Fatal(err)
	}
	m := parse5424(t, b)
	if !isASCII(*m.Message) {
		t.Errorf("JSON MSG not ASCII: %q", *m.Message)
	}
	var got alert.Alert
	if err := json.Unmarshal([]byte(*m.Message), &got); err != nil {
		t.Fatalf("MSG is not JSON: %v", err)
	}
	want := *a
	want.Reasons = append([]string(nil), a.Reasons...)
	want.Reasons[2] = "emoji 🚀 and bad byte \uFFFD here" // encoding/json's replacement
	if !reflect.DeepEqual(got, want) {
		t.Errorf("JSON round trip\n got %+v\nwant %+v", got, want)
	}
}

// cefUnescapeExt parses a CEF extension: pairs split at " key=" where '='
// is unescaped; values unescaped.
func cefUnescapeExt(t *testing.T, ext string) map[string]string {
	t.Helper()
	out := map[string]string{}
	keyRe := regexp.MustCompile(`^[A-Za-z0-9_]+$`)
	var key string
	var val strings.Builder
	flush := func() {
		if key != "" {
			out[key] = val.String()
		}
		val.Reset()
	}
	i := 0
	start := true
	for i < len(ext) {
		if start {
			j := strings.IndexByte(ext[i:], '=')
			if j < 0 || !keyRe.MatchString(ext[i:i+j]) {
				t.Fatalf("bad key at %q", ext[i:])
			}
			key, i, start = ext[i:i+j], i+j+1, false
			continue
		}
		c := ext[i]
		switch {
		case c == '\\' && i+1 < len(ext):
			switch ext[i+1] {
			case 'n':
				val.WriteByte('\n')
			case 'r':
				val.WriteByte('\r')
			default:
				val.WriteByte(ext[i+1])
			}
			i += 2
		case c == '=':
			t.Fatalf("unescaped '=' in value of %s: %q", key, ext)
		case c == ' ':
			// A space ends the value when a key= follows.
			rest := ext[i+1:]
			if j := strings.IndexByte(rest, '='); j > 0 && keyRe.MatchString(rest[:j]) {
				flush()
				i++
				start = true
				continue
			}
			val.WriteByte(c)
			i++
		default:
			val.WriteByte(c)
			i++
		}
	}
	flush()
	return out
}

func splitCEFHeader(t *testing.T, s string) ([]string, string) {
	t.Helper()
	var fields []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && (s[i+1] == '\\' || s[i+1] == '|'):
			cur.WriteByte(s[i+1])
			i++
		case s[i] == '|':
			fields = append(fields, cur.String())
			cur.Reset()
			if len(fields) == 7 {
				return fields, s[i+1:]
			}
		default:
			cur.WriteByte(s[i])
		}
	}
	t.Fatalf("CEF header with %d fields: %q", len(fields), s)
	return nil, ""
}

func TestCEFEscaping(t *testing.T) {
	for _, tc := range []struct{ in, hdr, ext string }{
		{"plain", "plain", "plain"},
		{`a|b`, `a\|b`, `a|b`},
		{`a\b`, `a\\b`, `a\\b`},
		{`a=b`, `a=b`, `a\=b`},
		{"a\nb\rc", "a b c", `a\nb\rc`},
		{"tab\tx", "tab x", "tab x"},
		{"ü日🚀", "ü日🚀", "ü日🚀"},
		{"bad\xffbyte", "bad\uFFFDbyte", "bad\uFFFDbyte"},
	} {
		if got := cefHeaderEscape(tc.in); got != tc.hdr {
			t.Errorf("header(%q) = %q, want %q", tc.in, got, tc.hdr)
		}
		if got := cefExtEscape(tc.in); got != tc.ext {
			t.Errorf("ext(%q) = %q, want %q", tc.in, got, tc.ext)
		}
	}
}

func TestCEFAlert(t *testing.T) {
	a := trickyAlert()
	enc := testEncoder(FormatCEF)
	b, _, err := enc.alert(a, 1, testNow)
	if err != nil {
		t.Fatal(err)
	}
	m := parse5424(t, b)
	if strings.HasPrefix(*m.Message, bom) {
		t.Fatal("CEF MSG must start with CEF:, not a BOM")
	}
	hdr, ext := splitCEFHeader(t, *m.Message)
	if want := []string{"CEF:0", "launchtap", "launchtap", "1.2.3", "beacon", "Periodic egress beacon", "8"}; !reflect.DeepEqual(hdr, want) {
		t.Errorf("header %q, want %q", hdr, want)
	}
	got := cefUnescapeExt(t, ext)
	for k, v := range map[string]string{
		"src": "10.1.2.3", "smac": "a4:83:e7:01:02:03", "dhost": a.DstFQDN, "dst": "2001:db8::7", "dpt": "443",
		"proto": "TCP", "shost": a.Hostname, "suser": "alice", "dvchost": "span-sensor-1", "externalId": a.ID,
		"cs1": "com.example.agent=1|x", "cs1Label": "launchdLabel", "cs2": a.Enrichment.Jobs[0].Path,
		"cs3": "macos", "cs5": "matched", "cs6": "203.0.113.7,2001:db8::7", "cn1": "300", "cn2": "12", "cn3": "1",
		"cfp1": "0.93", "cfp2": "0.021", "cfp3": "0.92", "rt": strconv.FormatInt(a.TS.UnixMilli(), 10),
		"start": strconv.FormatInt(a.FirstSeen.UnixMilli(), 10), "end": strconv.FormatInt(a.LastSeen.UnixMilli(), 10),
		"cs4": "period 300s ± 2% over 12 beats; name has \"quotes\" and [brackets] and a\\backslash; emoji 🚀 and bad byte \uFFFD here; pipe | equals = tab here",
	} {
		if got[k] != v {
			t.Errorf("CEF %s = %q, want %q", k, got[k], v)
		}
	}
}

func TestLEEFAlert(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a\tb", "a b"}, {"a=b", "a=b"}, {"x\ny", "x y"}, {"ü", "ü"},
	} {
		if got := leefValue(tc.in); got != tc.want {
			t.Errorf("leefValue(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := leefKey("a b=c|d\te"); got != "a_b_c_d_e" {
		t.Errorf("leefKey = %q", got)
	}
	a := trickyAlert()
	enc := testEncoder(FormatLEEF)
	b, _, err := enc.alert(a, 1, testNow)
	if err != nil {
		t.Fatal(err)
	}
	msg := *parse5424(t, b).Message
	const prefix = "LEEF:2.0|launchtap|launchtap|1.2.3|beacon|x09|"
	if !strings.HasPrefix(msg, prefix) {
		t.Fatalf("LEEF header: %q", msg)
	}
	got := map[string]string{}
	for _, f := range strings.Split(msg[len(prefix):], "\t") {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			t.Fatalf("attribute without '=': %q", f)
		}
		got[k] = v
	}
	for k, v := range map[string]string{
		"src": "10.1.2.3", "srcMAC": "a4:83:e7:01:02:03", "dst": "2001:db8::7", "dstPort": "443", "proto": "TCP",
		"sev": "8", "cat": "beacon", "devTime": "2026-11-25T11:00:00.000Z", "devTimeFormat": leefTimeFormat,
		"identHostName": a.Hostname, "usrName": "alice", "launchd_label": "com.example.agent=1|x",
		"launchd_path": a.Enrichment.Jobs[0].Path, "dst_fqdn": a.DstFQDN, "score": "0.93", "host_os": "macos",
	} {
		if got[k] != v {
			t.Errorf("LEEF %s = %q, want %q", k, got[k], v)
		}
	}
}

func TestParseDest(t *testing.T) {
	for _, tc := range []struct {
		raw, scheme, addr, format string
		bad                       bool
	}{
		{"udp://127.0.0.1:514", "udp", "127.0.0.1:514", "rfc5424", false},
		{"tcp://siem.example", "tcp", "siem.example:514", "rfc5424", false},
		{"tls://siem.example?format=cef", "tls", "siem.example:6514", "cef", false},
		{"tcp://[::1]:1514?format=LEEF", "tcp", "[::1]:1514", "leef", false},
		{"unix:///dev/log", "unix", "/dev/log", "rfc5424", false},
		{"unix:///dev/log?format=json", "unix", "/dev/log", "json", false},
		{"http://x", "", "", "", true},
		{"tcp://x:0", "", "", "", true},
		{"tcp://x:99999", "", "", "", true},
		{"tcp://:514", "", "", "", true},
		{"tcp://x?format=xml", "", "", "", true},
		{"tcp://x?fromat=cef", "", "", "", true},
		{"tcp://x/path", "", "", "", true},
		{"unix://", "", "", "", true},
	} {
		d, err := parseDest(tc.raw, FormatRFC5424)
		if (err != nil) != tc.bad {
			t.Errorf("%s: err = %v", tc.raw, err)
			continue
		}
		if !tc.bad && (d.scheme != tc.scheme || d.addr != tc.addr || d.format != tc.format) {
			t.Errorf("%s: got %+v", tc.raw, d)
		}
	}
}

// FuzzRFC5424Builder feeds arbitrary text into the fields that reach
// structured data and MSG: the result must always parse with go-syslog and
// carry the sanitised values unchanged.
func FuzzRFC5424Builder(f *testing.F) {
	f.Add("10.0.0.1", "example.com", "com.example.agent", "reason", "host")
	f.Add(`"`, `\`, `]`, "\xff\xfe", "\x00\n\r\t")
	f.Add(`a\"b\]c\\`, "例え.jp", "🚀", strings.Repeat("x", 300), "ü")
	f.Add("=", " ", "[x@1 a=\"b\"]", "\xef\xbb\xbf", "-")
	f.Fuzz(func(t *testing.T, src, fqdn, label, reason, host string) {
		a := trickyAlert()
		a.SrcIP, a.DstFQDN, a.Reasons, a.Hostname, a.Sensor = src, fqdn, []string{reason}, host, host
		a.Enrichment.Jobs[0].Label = label
		for _, max := range []int{maxStreamMsg, 900} {
			enc := testEncoder(FormatRFC5424)
			enc.maxLen = max
			b, truncated, err := enc.alert(a, 1, testNow)
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			if len(b) > max {
				t.Fatalf("len %d > %d", len(b), max)
			}
			m := parse5424(t, b)
			sd := (*m.StructuredData)[DefaultSDID]
			want := wantParams(a)
			for k, v := range sd {
				if k == "truncated" && truncated {
					continue
				}
				if want[k] != v {
					t.Fatalf("%s = %q, want %q", k, v, want[k])
				}
			}
			if !truncated && len(sd) != len(want) {
				t.Fatalf("%d params, want %d", len(sd), len(want))
			}
			for _, f := range []string{FormatCEF, FormatLEEF, FormatJSON} {
				enc.format = f
				b, _, err := enc.alert(a, 1, testNow)
				if err != nil || len(b) > max {
					t.Fatalf("%s: len %d err %v", f, len(b), err)
				}
				parse5424(t, b)
			}
		}
	})
}

// FuzzCEFExt checks that any value survives CEF extension escaping.
func FuzzCEFExt(f *testing.F) {
	for _, s := range []string{"a=b", `\`, "x\ny", "ü|=\\", " k=v", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		ext := cefExt([]kv{{"cs1", v}, {"cs2", "end"}})
		got := cefUnescapeExt(t, ext)
		want := strings.ToValidUTF8(v, "\uFFFD")
		want = strings.Map(func(r rune) rune {
			if (r < 0x20 && r != '\n' && r != '\r') || r == 0x7f {
				return ' '
			}
			return r
		}, want)
		if v != "" && got["cs1"] != want || got["cs2"] != "end" {
			t.Fatalf("ext %q: got %q, want %q", ext, got, want)
		}
	})
}

// BenchmarkEncodeAlert measures encoding one alert per format (alerts are
// rare, this is not the per-packet path, but Alert runs on the caller).
func BenchmarkEncodeAlert(b *testing.B) {
	a := trickyAlert()
	for _, f := range []string{FormatRFC5424, FormatCEF, FormatLEEF, FormatJSON} {
		b.Run(f, func(b *testing.B) {
			enc := testEncoder(f)
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := enc.alert(a, 1, testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
