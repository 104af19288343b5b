// Package httpx is the hardened HTTP client the MDM providers share: TLS
// verification with an optional private CA, per-request timeouts, retries
// with exponential backoff and full jitter, HTTP 429 Retry-After (seconds or
// HTTP-date), a circuit breaker, bounded response bodies and detection of
// HTML error pages where JSON was expected.
package httpx

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Sentinel errors; callers test with errors.Is.
var (
	ErrBreakerOpen  = errors.New("circuit breaker open")
	ErrBodyTooLarge = errors.New("response body too large")
	ErrNotJSON      = errors.New("response is not JSON")
	ErrRateLimited  = errors.New("rate limited")
)

// StatusError is a non-2xx answer that was not retried (or ran out of retries).
type StatusError struct {
	Status int
	Body   []byte // at most MaxBody bytes
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.Status, Snippet(e.Body))
}

// Snippet is a short, single-line, printable excerpt of a body for logs.
func Snippet(b []byte) string {
	if t := htmlTitle(b); t != "" {
		return "HTML page titled " + strconv.Quote(t)
	}
	const max = 200
	s := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, string(b[:min(len(b), max)]))
	if len(b) > max {
		s += "…"
	}
	return strconv.Quote(s)
}

var titleRE = regexp.MustCompile(`(?is)<title[^>]*>(.{0,200}?)</title>`)

func htmlTitle(b []byte) string {
	if m := titleRE.FindSubmatch(b[:min(len(b), 8192)]); m != nil {
		return strings.TrimSpace(string(m[1]))
	}
	return ""
}

// NewHTTPClient returns a client that verifies TLS against the system roots
// plus, when caFile is set, the PEM certificates in it.
func NewHTTPClient(caFile string, maxConns int) (*http.Client, error) {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("httpx: reading CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("httpx: %s holds no PEM certificate", caFile)
		}
		tlsCfg.RootCAs = pool
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		TLSClientConfig:       tlsCfg,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          2 * max(maxConns, 1),
		MaxIdleConnsPerHost:   max(maxConns, 1),
		MaxConnsPerHost:       max(maxConns, 1) * 2,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 0, // per-request contexts bound the wait (Fleet live queries take ~25 s)
	}
	return &http.Client{
		Transport: tr,
		// Never follow redirects: an SSO login page is an error, and
		// following would resend the Authorization header elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// Client sends requests for one provider.
type Client struct {
	HTTP        *http.Client
	Name        string // provider name, for errors and logs
	MaxBody     int64
	MaxRetries  int           // retries after the first attempt
	BaseBackoff time.Duration // first backoff; doubles each retry
	MaxBackoff  time.Duration
	Breaker     *Breaker
	Log         *slog.Logger

	Requests, Retries, Failures, RateLimited atomic.Uint64
}

// Request is one call. Body is resent on retries.
type Request struct {
	Method     string
	URL        string
	Header     http.Header
	Body       []byte
	Timeout    time.Duration // per attempt; 0 = only the caller's context
	ExpectJSON bool
}

// Response is a complete, bounded answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends req, retrying network errors, 5xx and 429 within ctx's deadline.
// A non-2xx status that is not retried comes back as *StatusError.
func (c *Client) Do(ctx context.Context, req Request) (*Response, error) {
	if c.Breaker != nil && !c.Breaker.Allow() {
		return nil, fmt.Errorf("%s: %w (%d consecutive failures)", c.Name, ErrBreakerOpen, c.Breaker.Failures())
	}
	var last error
	for attempt := 0; ; attempt++ {
		resp, err := c.once(ctx, req)
		retry, wait := false, time.Duration(0)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				c.record(false)
				return nil, fmt.Errorf("%s: %s %s: %w", c.Name, req.Method, redactURL(req.URL), err)
			}
			var tooBig bodyTooLargeError
			if errors.As(err, &tooBig) {
				c.record(false)
				return nil, fmt.Errorf("%s: %s %s: %w", c.Name, req.Method, redactURL(req.URL), err)
			}
			retry, last = true, err
		case resp.Status == http.StatusTooManyRequests:
			c.RateLimited.Add(1)
			retry, last = true, fmt.Errorf("%w: HTTP 429", ErrRateLimited)
			if d, ok := RetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
				wait = d
			}
		case resp.Status >= 500:
			retry, last = true, &StatusError{Status: resp.Status, Body: resp.Body}
			if d, ok := RetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok && resp.Status == http.StatusServiceUnavailable {
				wait = d
			}
		case resp.Status < 200 || resp.Status > 299:
			// A client error is an answer: the service is up.
			c.record(true)
			return resp, &StatusError{Status: resp.Status, Body: resp.Body}
		default:
			if req.ExpectJSON {
				if err := checkJSON(resp); err != nil {
					c.record(false)
					return nil, fmt.Errorf("%s: %s %s: %w", c.Name, req.Method, redactURL(req.URL), err)
				}
			}
			c.record(true)
			return resp, nil
		}
		if !retry || attempt >= c.MaxRetries {
			break
		}
		if wait == 0 {
			wait = c.backoff(attempt)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			// Waiting would outlive the caller: give up now, saying why.
			if errors.Is(last, ErrRateLimited) {
				last = fmt.Errorf("%w; Retry-After %s exceeds the time left", last, wait.Round(time.Second))
			}
			break
		}
		c.Retries.Add(1)
		c.Log.Debug("retrying", "provider", c.Name, "url", redactURL(req.URL), "attempt", attempt+1, "wait", wait, "err", last)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			c.record(false)
			return nil, fmt.Errorf("%s: %s %s: %w (last error: %v)", c.Name, req.Method, redactURL(req.URL), ctx.Err(), last)
		case <-t.C:
		}
	}
	c.record(false)
	return nil, fmt.Errorf("%s: %s %s: %w", c.Name, req.Method, redactURL(req.URL), last)
}

func (c *Client) record(ok bool) {
	if !ok {
		c.Failures.Add(1)
	}
	if c.Breaker != nil {
		c.Breaker.Record(ok)
	}
}

func (c *Client) backoff(attempt int) time.Duration {
	base, maxB := c.BaseBackoff, c.MaxBackoff
	if base <= 0 {
		base = 500 * time.Millisecond
	}
	if maxB <= 0 {
		maxB = 10 * time.Second
	}
	d := base << min(attempt, 16)
	if d > maxB || d <= 0 {
		d = maxB
	}
	// Full jitter: spread retries from many sensors over the whole window.
	return time.Duration(rand.Int64N(int64(d)) + 1)
}

type bodyTooLargeError struct{ limit int64 }

func (e bodyTooLargeError) Error() string {
	return fmt.Sprintf("%v: more than %d bytes", ErrBodyTooLarge, e.limit)
}
func (e bodyTooLargeError) Unwrap() error { return ErrBodyTooLarge }

func (c *Client) once(ctx context.Context, req Request) (*Response, error) {
	c.Requests.Add(1)
	if req.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, req.Timeout)
		defer cancel()
	}
	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, req.URL, body)
	if err != nil {
		return nil, scrubURLError(err)
	}
	for k, v := range req.Header {
		hr.Header[k] = v
	}
	if hr.Header.Get("User-Agent") == "" {
		hr.Header.Set("User-Agent", "launchtap-enrich/1")
	}
	resp, err := c.HTTP.Do(hr)
	err = scrubURLError(err)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	limit := c.MaxBody
	if limit <= 0 {
		limit = 8 << 20
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading body: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, bodyTooLargeError{limit}
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

func checkJSON(resp *Response) error {
	ct := resp.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	trimmed := bytes.TrimLeft(resp.Body, " \t\r\n")
	if mt == "text/html" || len(trimmed) > 0 && trimmed[0] == '<' {
		return fmt.Errorf("%w: HTTP %d sent %s (%s) — a proxy, SSO or maintenance page?", ErrNotJSON, resp.Status, orNone(ct), Snippet(resp.Body))
	}
	if mt != "" && mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return fmt.Errorf("%w: Content-Type %q", ErrNotJSON, ct)
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "no Content-Type"
	}
	return "Content-Type " + s
}

// scrubURLError replaces net/http's *url.Error, whose text repeats the
// whole request URL query and all, with the error it wraps: Do's own
// message names the method and the redacted URL once.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// redactURL drops the query: Jamf filters and Fleet searches name hosts, and
// logs should carry the path only.
func redactURL(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i] + "?…"
	}
	return u
}

// RetryAfter parses a Retry-After header: delay-seconds or an HTTP-date.
func RetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > 86400 {
			n = 86400
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return min(d, 24*time.Hour), true
	}
	return 0, false
}

// Breaker opens after Threshold consecutive failures and lets one trial
// request through after Cooldown (half-open); success closes it.
type Breaker struct {
	Threshold int
	Cooldown  time.Duration
	now       func() time.Time

	mu       sync.Mutex
	fails    int
	openedAt time.Time
	trial    bool
	opens    uint64
}

// NewBreaker returns a closed breaker.
func NewBreaker(threshold int, cooldown time.Duration) *Breaker {
	return &Breaker{Threshold: max(threshold, 1), Cooldown: cooldown, now: time.Now}
}

// Allow reports whether a request may be sent now.
func (b *Breaker) Allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fails < b.Threshold {
		return true
	}
	if b.now().Sub(b.openedAt) >= b.Cooldown && !b.trial {
		b.trial = true
		return true
	}
	return false
}

// Record feeds a request's outcome.
func (b *Breaker) Record(ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.trial = false
	if ok {
		b.fails = 0
		return
	}
	b.fails++
	if b.fails >= b.Threshold {
		if b.fails == b.Threshold {
			b.opens++
		}
		b.openedAt = b.now()
	}
}

// State is "closed", "open" or "half-open".
func (b *Breaker) State() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.fails < b.Threshold:
		return "closed"
	case b.now().Sub(b.openedAt) >= b.Cooldown:
		return "half-open"
	default:
		return "open"
	}
}

// Failures is the current run of consecutive failures.
func (b *Breaker) Failures() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.fails
}

// Opens counts how often the breaker opened.
func (b *Breaker) Opens() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.opens
}
