package syslog

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config configures the syslog emitter. The zero value plus URLs is usable:
// New fills in the defaults below.
type Config struct {
	URLs     []string // destinations, --syslog (repeatable); ?format= overrides Format per URL
	Format   string   // rfc5424 (default), cef, leef or json
	Facility string   // name (local4, default) or code 0..23
	SDID     string   // enterprise SD-ID, default launchtap@32473
	Hostname string   // HOSTNAME of stats/health and of alerts without a sensor name (set it to --sensor-name); default os.Hostname()
	Version  string   // launchtap version for CEF/LEEF headers; default "dev"
	BOM      string   // auto (default): BOM before a non-ASCII rfc5424 MSG, as RFC 5424 requires; never

	MaxUDP int // datagram size limit for udp:// and unixgram, default 8192; longer messages are truncated
	// MaxMsg limits a message on stream transports, default 8192: what RFC
	// 5425 says receivers should accept and rsyslog's default maxMessageSize
	// (a receiver cuts longer ones blindly, breaking the structured data).
	MaxMsg int
	// UDPRate caps udp:// sends per second (default 500) so that replaying a
	// backlog after an outage does not overflow the receiver's socket buffer,
	// where UDP loses messages without any signal.
	UDPRate int

	CAFile, CertFile, KeyFile string // TLS: CA bundle (default: system roots), optional client certificate

	Spool         string // spool directory; empty = memory only
	SpoolMaxBytes int64  // per destination, default 64 MiB
	SpoolSync     string // always (default), interval, never

	QueueLen     int           // per destination: enqueue channel and in-memory backlog bound, default 10000
	FlushTimeout time.Duration // Close's bound when its ctx has no deadline, default 5s
	// ResendWindow keeps messages the receiver's TCP stack acknowledged this
	// long before they count as delivered: a receiver that dies (or restarts)
	// with them unread in its socket buffer gets them again. 0 means the
	// default, 2s; negative turns it off (TCP acks are trusted).
	ResendWindow time.Duration

	DialTimeout  time.Duration // default 5s
	WriteTimeout time.Duration // default 10s: a receiver that stops reading is treated as dead
	BackoffMin   time.Duration // first reconnect delay, default 250ms (doubles, with jitter)
	BackoffMax   time.Duration // default 30s
}

// Default values.
const (
	DefaultFacility      = "local4"
	DefaultSDID          = "launchtap@32473"
	DefaultMaxUDP        = 8192
	DefaultMaxMsg        = 8192
	DefaultQueueLen      = 10000
	DefaultSpoolMaxBytes = 64 << 20
)

// RegisterFlags registers the syslog flags on fs, writing into c.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.Func("syslog", "syslog destination `URL`, repeatable: udp://host:514, tcp://host:514, tls://host:6514, unix:///dev/log; add ?format=cef|leef|json|rfc5424 to override --syslog-format", func(s string) error {
		if _, err := parseDest(s, FormatRFC5424); err != nil {
			return err
		}
		c.URLs = append(c.URLs, s)
		return nil
	})
	fs.StringVar(&c.Format, "syslog-format", FormatRFC5424, "syslog body format: rfc5424 (structured data), cef, leef or json")
	fs.StringVar(&c.Facility, "syslog-facility", DefaultFacility, "syslog facility name or code")
	fs.StringVar(&c.SDID, "syslog-sd-id", DefaultSDID, "RFC 5424 structured-data ID (name@enterprise-number)")
	fs.StringVar(&c.BOM, "syslog-bom", "auto", "UTF-8 BOM before a non-ASCII rfc5424 MSG: auto or never")
	fs.IntVar(&c.MaxUDP, "syslog-max-udp", DefaultMaxUDP, "largest UDP/unix datagram in bytes; longer messages are truncated with a marker, never split")
	fs.IntVar(&c.MaxMsg, "syslog-max-msg", DefaultMaxMsg, "largest message on tcp/tls/unix-stream in bytes (match the receiver's limit); longer messages are truncated with a marker")
	fs.IntVar(&c.UDPRate, "syslog-udp-rate", 500, "most udp:// messages per second (paces backlog replay so the receiver's buffer does not overflow)")
	fs.StringVar(&c.CAFile, "syslog-ca-file", "", "PEM CA bundle to verify tls:// receivers (default: system roots)")
	fs.StringVar(&c.CertFile, "syslog-cert-file", "", "PEM client certificate for tls:// receivers")
	fs.StringVar(&c.KeyFile, "syslog-key-file", "", "PEM client key for tls:// receivers")
	fs.StringVar(&c.Spool, "spool", "", "directory for the on-disk syslog spool (survives receiver outages and restarts)")
	fs.Int64Var(&c.SpoolMaxBytes, "spool-max-bytes", DefaultSpoolMaxBytes, "spool size bound per destination; beyond it new messages are dropped and counted")
	fs.StringVar(&c.SpoolSync, "spool-sync", SyncAlways, "spool fsync policy: always, interval (1s) or never")
	fs.IntVar(&c.QueueLen, "syslog-queue", DefaultQueueLen, "per-destination queue bound in messages")
	fs.DurationVar(&c.FlushTimeout, "syslog-flush-timeout", 5*time.Second, "how long shutdown waits to deliver queued syslog messages")
	fs.Func("syslog-resend-window", "re-send messages acknowledged this recently when a receiver dies (at-least-once; 0 = trust TCP acks) (default 2s)", func(s string) error {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return fmt.Errorf("want a duration >= 0, e.g. 2s")
		}
		if d == 0 {
			d = -1 // explicitly off; 0 in Config means the default
		}
		c.ResendWindow = d
		return nil
	})
}

// CheckFlags rejects values the flags cannot mean, whether or not a
// --syslog destination is given (a config file is checked whole). In a
// Config built in code zero means "the default"; from the command line it is
// what the user typed.
func (c *Config) CheckFlags() error {
	switch {
	case c.MaxUDP <= 0:
		return fmt.Errorf("syslog-max-udp: must be positive, got %d", c.MaxUDP)
	case c.MaxMsg <= 0:
		return fmt.Errorf("syslog-max-msg: must be positive, got %d", c.MaxMsg)
	case c.UDPRate <= 0:
		return fmt.Errorf("syslog-udp-rate: must be at least 1 message per second, got %d", c.UDPRate)
	case c.SpoolMaxBytes <= 0:
		return fmt.Errorf("spool-max-bytes: must be positive, got %d", c.SpoolMaxBytes)
	case c.QueueLen <= 0:
		return fmt.Errorf("syslog-queue: must be at least 1, got %d", c.QueueLen)
	case c.FlushTimeout <= 0:
		return fmt.Errorf("syslog-flush-timeout: must be positive, got %s", c.FlushTimeout)
	}
	_, err := c.withDefaults()
	return err
}

func (c *Config) withDefaults() (Config, error) {
	out := *c
	if out.Format == "" {
		out.Format = FormatRFC5424
	}
	if out.Facility == "" {
		out.Facility = DefaultFacility
	}
	if out.SDID == "" {
		out.SDID = DefaultSDID
	}
	if out.Hostname == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "launchtap"
		}
		out.Hostname = h
	}
	if out.Version == "" {
		out.Version = "dev"
	}
	if out.BOM == "" {
		out.BOM = "auto"
	}
	if out.MaxUDP <= 0 {
		out.MaxUDP = DefaultMaxUDP
	}
	if out.MaxMsg <= 0 {
		out.MaxMsg = DefaultMaxMsg
	}
	if out.UDPRate <= 0 {
		out.UDPRate = 500
	}
	if out.SpoolMaxBytes <= 0 {
		out.SpoolMaxBytes = DefaultSpoolMaxBytes
	}
	if out.SpoolSync == "" {
		out.SpoolSync = SyncAlways
	}
	if out.QueueLen <= 0 {
		out.QueueLen = DefaultQueueLen
	}
	if out.FlushTimeout <= 0 {
		out.FlushTimeout = 5 * time.Second
	}
	switch {
	case out.ResendWindow == 0:
		out.ResendWindow = 2 * time.Second
	case out.ResendWindow < 0:
		out.ResendWindow = 0
	}
	if out.DialTimeout <= 0 {
		out.DialTimeout = 5 * time.Second
	}
	if out.WriteTimeout <= 0 {
		out.WriteTimeout = 10 * time.Second
	}
	if out.BackoffMin <= 0 {
		out.BackoffMin = 250 * time.Millisecond
	}
	if out.BackoffMax < out.BackoffMin {
		out.BackoffMax = max(30*time.Second, out.BackoffMin)
	}
	var errs []error
	if !validFormat(out.Format) {
		errs = append(errs, fmt.Errorf("syslog: unknown format %q (want rfc5424, cef, leef or json)", out.Format))
	}
	if _, err := parseFacility(out.Facility); err != nil {
		errs = append(errs, err)
	}
	if err := validSDID(out.SDID); err != nil {
		errs = append(errs, err)
	}
	if out.BOM != "auto" && out.BOM != "never" {
		errs = append(errs, fmt.Errorf("syslog: --syslog-bom %q: want auto or never", out.BOM))
	}
	switch out.SpoolSync {
	case SyncAlways, SyncInterval, SyncNever:
	default:
		errs = append(errs, fmt.Errorf("syslog: --spool-sync %q: want always, interval or never", out.SpoolSync))
	}
	if out.MaxUDP < 480 {
		errs = append(errs, fmt.Errorf("syslog: --syslog-max-udp %d: RFC 5426 receivers must take 480 bytes; use at least that", out.MaxUDP))
	}
	if out.MaxMsg < 480 || out.MaxMsg > maxStreamMsg {
		errs = append(errs, fmt.Errorf("syslog: --syslog-max-msg %d: want 480..%d", out.MaxMsg, maxStreamMsg))
	}
	return out, errors.Join(errs...)
}

func validFormat(f string) bool {
	switch f {
	case FormatRFC5424, FormatCEF, FormatLEEF, FormatJSON:
		return true
	}
	return false
}

// destination is a parsed --syslog URL.
type destination struct {
	raw    string
	scheme string
	addr   string // host:port, or the socket path for unix
	host   string // TLS server name
	format string
}

// parseDest parses a --syslog URL; defFormat applies without ?format=.
func parseDest(raw, defFormat string) (destination, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return destination{}, fmt.Errorf("syslog: destination %q: %w", raw, err)
	}
	d := destination{raw: raw, scheme: strings.ToLower(u.Scheme), format: defFormat}
	q := u.Query()
	for k := range q {
		if k != "format" {
			return destination{}, fmt.Errorf("syslog: destination %q: unknown parameter %q (only format)", raw, k)
		}
	}
	if f := q.Get("format"); f != "" {
		d.format = strings.ToLower(f)
		if !validFormat(d.format) {
			return destination{}, fmt.Errorf("syslog: destination %q: unknown format %q (want rfc5424, cef, leef or json)", raw, f)
		}
	}
	switch d.scheme {
	case schemeUnix:
		d.addr = u.Path
		if d.addr == "" {
			d.addr = u.Opaque
		}
		if d.addr == "" {
			return destination{}, fmt.Errorf("syslog: destination %q: want unix:///path/to/socket", raw)
		}
		return d, nil
	case schemeUDP, schemeTCP:
		d.addr, d.host, err = hostPort(u, "514")
	case schemeTLS:
		d.addr, d.host, err = hostPort(u, "6514")
	default:
		return destination{}, fmt.Errorf("syslog: destination %q: scheme must be udp, tcp, tls or unix", raw)
	}
	if err != nil {
		return destination{}, fmt.Errorf("syslog: destination %q: %w", raw, err)
	}
	if u.Path != "" && u.Path != "/" {
		return destination{}, fmt.Errorf("syslog: destination %q: unexpected path %q", raw, u.Path)
	}
	return d, nil
}

func hostPort(u *url.URL, defPort string) (string, string, error) {
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return "", "", errors.New("missing host")
	}
	if port == "" {
		port = defPort
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", "", fmt.Errorf("bad port %q", port)
	}
	return net.JoinHostPort(host, port), host, nil
}
