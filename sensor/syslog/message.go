package syslog

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/leodido/go-syslog/v4/rfc5424"
)

// Syslog severities (RFC 5424 table 2) used by launchtap.
const (
	sevCritical = 2
	sevError    = 3
	sevWarning  = 4
	sevNotice   = 5
	sevInfo     = 6
)

const (
	appName = "launchtap"
	// metaSDID is the IANA-registered SD-ID whose sequenceId lets a receiver
	// detect lost and duplicated messages (RFC 5424 section 7.3.1).
	metaSDID = "meta"
	// truncMarker ends a MSG that had to be cut to fit a datagram.
	truncMarker = "[truncated]"
	// bom marks a UTF-8 MSG (RFC 5424 section 6.4).
	bom = "\xef\xbb\xbf"
	// maxStreamMsg is the largest --syslog-max-msg and spool record.
	maxStreamMsg = 1 << 20
)

var errTooLong = errors.New("message does not fit the size limit")

// param is one SD-PARAM before escaping. Params are kept in importance order:
// when a message must shrink, the last ones are dropped first.
type param struct{ name, value string }

// message is the transport-independent form of one syslog message.
type message struct {
	prio   int // facility*8 + severity
	ts     time.Time
	host   string
	procID string
	msgID  string
	sdID   string
	sd     []param
	seq    uint64 // meta sequenceId, 0 = omit
	msg    string
	// bom: prefix MSG with the UTF-8 BOM when it contains non-ASCII.
	bom bool
}

// render builds the RFC 5424 message with go-syslog's builder. When the result
// is longer than maxLen it cuts MSG (with a marker), then drops SD params from
// the least important end, and flags the SD element with truncated="1". It
// reports whether anything was cut.
func (m *message) render(maxLen int) ([]byte, bool, error) {
	out, err := m.build(m.sd, m.msg, false)
	if err != nil || len(out) <= maxLen {
		return []byte(out), false, err
	}
	// Cut MSG first: the summary is derived from the SD, which is the data.
	if m.msg != "" {
		full, err := m.build(m.sd, m.msg, true)
		if err != nil {
			return nil, true, err
		}
		if keep := len(m.msg) - (len(full) - maxLen) - len(" "+truncMarker); keep > 0 {
			// No dangling escape character (CEF, JSON) in front of the marker.
			cut := strings.TrimRight(cutUTF8(m.msg, keep), "\\")
			out, err = m.build(m.sd, cut+" "+truncMarker, true)
			if err != nil || len(out) <= maxLen {
				return []byte(out), true, err
			}
		}
	}
	// Keep the longest prefix of params that fits (length grows with n).
	lo, hi := -1, len(m.sd) // sd[:lo] fits (-1: none known); nothing longer than sd[:hi] can
	var best string
	for lo < hi {
		n := (lo + hi + 1) / 2
		out, err = m.build(m.sd[:n], truncMarker, true)
		if err != nil {
			return nil, true, err
		}
		if len(out) <= maxLen {
			lo, best = n, out
		} else {
			hi = n - 1
		}
	}
	if best == "" {
		if out, err = m.build(nil, truncMarker, true); err == nil && len(out) <= maxLen {
			best = out
		}
	}
	if best != "" {
		return []byte(best), true, nil
	}
	return nil, true, fmt.Errorf("syslog: rendering %s: %d bytes with no data: %w", m.msgID, len(out), errTooLong)
}

func (m *message) build(sd []param, msg string, truncated bool) (string, error) {
	b := &rfc5424.SyslogMessage{}
	b.SetPriority(uint8(m.prio))
	b.SetVersion(1)
	// The builder keeps microseconds; it trims trailing zeros, which RFC 3339 allows.
	b.SetTimestamp(m.ts.UTC().Format("2006-01-02T15:04:05.000000Z07:00"))
	b.SetHostname(headerField(m.host, 255))
	b.SetAppname(appName)
	b.SetProcID(headerField(m.procID, 128))
	b.SetMsgID(headerField(m.msgID, 32))
	want := 0
	if len(sd) > 0 || truncated {
		for _, p := range sd {
			b.SetParameter(m.sdID, p.name, escapeParamValue(p.value))
			want++
		}
		if truncated {
			b.SetParameter(m.sdID, "truncated", "1")
			want++
		}
	}
	if m.seq > 0 {
		b.SetParameter(metaSDID, "sequenceId", strconv.FormatUint(m.seq, 10))
	}
	if msg != "" {
		if m.bom && !isASCII(msg) {
			msg = bom + msg
		}
		b.SetMessage(msg)
	}
	// The builder silently ignores values its grammar rejects; check that
	// every param made it so a sanitiser bug cannot drop data unnoticed.
	if want > 0 {
		if b.StructuredData == nil || len((*b.StructuredData)[m.sdID]) != want {
			return "", fmt.Errorf("syslog: building %s: structured data rejected by builder", m.msgID)
		}
		for _, p := range sd {
			if got := (*b.StructuredData)[m.sdID][p.name]; got != paramValue(p.value) {
				return "", fmt.Errorf("syslog: building %s: param %q rejected by builder", m.msgID, p.name)
			}
		}
	}
	if (b.Hostname == nil && headerField(m.host, 255) != "-") || b.MsgID == nil || b.Timestamp == nil {
		return "", fmt.Errorf("syslog: building %s: header rejected by builder", m.msgID)
	}
	return b.String()
}

// headerField makes s a valid RFC 5424 header field: 1..max PRINTUSASCII
// (33..126) characters; others become '_', empty becomes "-" (NILVALUE).
func headerField(s string, max int) string {
	if s == "" {
		return "-"
	}
	var sb strings.Builder
	for i := 0; i < len(s) && sb.Len() < max; i++ {
		c := s[i]
		if c < 33 || c > 126 {
			c = '_'
		}
		sb.WriteByte(c)
	}
	return sb.String()
}

// sdName makes s a valid SD-NAME / PARAM-NAME: 1..32 PRINTUSASCII except
// '=', ' ', ']' and '"'.
func sdName(s string) string {
	if s == "" {
		return "_"
	}
	var sb strings.Builder
	for i := 0; i < len(s) && sb.Len() < 32; i++ {
		c := s[i]
		if c < 33 || c > 126 || c == '=' || c == ']' || c == '"' {
			c = '_'
		}
		sb.WriteByte(c)
	}
	return sb.String()
}

// validSDID reports whether id is an SD-ID launchtap may use: a private
// "name@PEN" (PEN digits with optional dotted sub-ids); names without '@'
// are reserved for IANA registration (RFC 5424 section 7.2.2).
func validSDID(id string) error {
	if id == "" || len(id) > 32 || sdName(id) != id {
		return fmt.Errorf("syslog: SD-ID %q: want 1..32 printable ASCII characters without '=', ' ', ']' or '\"'", id)
	}
	name, pen, ok := strings.Cut(id, "@")
	if !ok || name == "" || strings.Contains(pen, "@") {
		return fmt.Errorf("syslog: SD-ID %q: want name@enterprise-number (names without @ are IANA-reserved)", id)
	}
	for _, part := range strings.Split(pen, ".") {
		if part == "" || strings.Trim(part, "0123456789") != "" {
			return fmt.Errorf("syslog: SD-ID %q: enterprise number %q is not digits", id, pen)
		}
	}
	return nil
}

// paramValue is the PARAM-VALUE text a receiver must get back: valid UTF-8
// (invalid bytes become U+FFFD) without control characters (they become a
// space: receivers and SIEM field extractors split on them).
func paramValue(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// escapeParamValue escapes '"', '\' and ']' (RFC 5424 section 6.3.3); the
// builder takes the escaped form, unescapes it, and escapes again in String.
func escapeParamValue(s string) string {
	s = paramValue(s)
	if !strings.ContainsAny(s, "\"\\]") {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' || c == ']' {
			sb.WriteByte('\\')
		}
		sb.WriteByte(s[i])
	}
	return sb.String()
}

// oneLine makes s a single line of valid UTF-8.
func oneLine(s string) string { return paramValue(s) }

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// cutUTF8 returns the longest prefix of s of at most n bytes that ends on a
// rune boundary.
func cutUTF8(s string, n int) string {
	if n >= len(s) {
		return s
	}
	if n <= 0 {
		return ""
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
