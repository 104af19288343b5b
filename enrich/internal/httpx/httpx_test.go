package httpx

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"3", 3 * time.Second, true},
		{" 0 ", 0, true},
		{"-1", 0, false},
		{"999999", 24 * time.Hour, true},
		{"Wed, 25 Nov 2026 09:00:30 GMT", 30 * time.Second, true},
		{"Wed, 25 Nov 2026 08:00:00 GMT", 0, true},
		{"soon", 0, false},
		{"", 0, false},
		{"1.5", 0, false},
	} {
		got, ok := RetryAfter(c.in, now)
		if got != c.want || ok != c.ok {
			t.Errorf("RetryAfter(%q) = %v %v, want %v %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"120", "Wed, 21 Oct 2015 07:28:00 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "-5", "1e9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := RetryAfter(s, time.Now())
		if ok && (d < 0 || d > 24*time.Hour) {
			t.Fatalf("RetryAfter(%q) = %v", s, d)
		}
	})
}

func TestBreaker(t *testing.T) {
	now := time.Unix(0, 0)
	b := NewBreaker(3, 10*time.Second)
	b.now = func() time.Time { return now }
	for range 2 {
		b.Record(false)
	}
	if !b.Allow() || b.State() != "closed" {
		t.Fatal("opened too early")
	}
	b.Record(false)
	if b.Allow() || b.State() != "open" || b.Opens() != 1 {
		t.Fatalf("not open: %s", b.State())
	}
	now = now.Add(10 * time.Second)
	if b.State() != "half-open" || !b.Allow() {
		t.Fatal("no trial after cooldown")
	}
	if b.Allow() {
		t.Fatal("two trials at once")
	}
	b.Record(false) // trial failed: open again for a full cooldown
	if b.Allow() {
		t.Fatal("allowed right after a failed trial")
	}
	now = now.Add(10 * time.Second)
	if !b.Allow() {
		t.Fatal("no second trial")
	}
	b.Record(true)
	if b.State() != "closed" || !b.Allow() || b.Failures() != 0 {
		t.Fatal("success did not close it")
	}
}

func client(srv *httptest.Server, retries int) *Client {
	return &Client{HTTP: srv.Client(), Name: "t", MaxBody: 1024, MaxRetries: retries, BaseBackoff: time.Millisecond,
		MaxBackoff: 5 * time.Millisecond, Breaker: NewBreaker(10, time.Minute), Log: slog.New(slog.DiscardHandler)}
}

func TestDo(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/flaky":
			if n < 3 {
				w.WriteHeader(503)
				return
			}
			if string(body) != "payload" {
				w.WriteHeader(400)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{}`)
		case "/404":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(404)
			io.WriteString(w, `{"message":"Resource Not Found"}`)
		case "/text":
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, `ok`)
		case "/nocontenttype-html":
			w.Header()["Content-Type"] = nil
			io.WriteString(w, "\n  <!doctype html><title>Login</title>")
		case "/redirect":
			http.Redirect(w, r, "/sso/login", http.StatusFound)
		case "/slow":
			time.Sleep(200 * time.Millisecond)
			io.WriteString(w, `{}`)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	c := client(srv, 3)

	resp, err := c.Do(ctx, Request{Method: "POST", URL: srv.URL + "/flaky", Body: []byte("payload"), ExpectJSON: true})
	if err != nil || resp.Status != 200 || c.Retries.Load() != 2 {
		t.Fatalf("flaky: %v %v retries %d", resp, err, c.Retries.Load())
	}
	_, err = c.Do(ctx, Request{Method: "GET", URL: srv.URL + "/404?ip=10.0.0.5"})
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 404 || !strings.Contains(se.Error(), "Resource Not Found") {
		t.Fatalf("404: %v", err)
	}
	if _, err = c.Do(ctx, Request{Method: "GET", URL: srv.URL + "/text", ExpectJSON: true}); !errors.Is(err, ErrNotJSON) {
		t.Fatalf("text: %v", err)
	}
	_, err = c.Do(ctx, Request{Method: "GET", URL: srv.URL + "/nocontenttype-html?token=x", ExpectJSON: true})
	if !errors.Is(err, ErrNotJSON) || !strings.Contains(err.Error(), `"Login"`) || strings.Contains(err.Error(), "token=x") {
		t.Fatalf("html: %v", err)
	}
	hc, err := NewHTTPClient("", 1)
	if err != nil {
		t.Fatal(err)
	}
	nc := &Client{HTTP: hc, Name: "t", Log: c.Log}
	if _, err = nc.Do(ctx, Request{Method: "GET", URL: srv.URL + "/redirect"}); !errors.As(err, &se) || se.Status != 302 {
		t.Fatalf("redirect followed: %v", err)
	}
	start := time.Now()
	_, err = c.Do(ctx, Request{Method: "GET", URL: srv.URL + "/slow", Timeout: 20 * time.Millisecond})
	if err == nil || time.Since(start) > 180*time.Millisecond*4 {
		t.Fatalf("per-request timeout: %v after %v", err, time.Since(start))
	}
}

func TestNewHTTPClientCA(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{}`)
	}))
	defer srv.Close()
	hc, err := NewHTTPClient("", 1)
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{HTTP: hc, Name: "t", Log: slog.New(slog.DiscardHandler)}
	if _, err := c.Do(context.Background(), Request{Method: "GET", URL: srv.URL}); err == nil {
		t.Fatal("self-signed certificate accepted without the CA")
	}
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pemCert(srv), 0o600); err != nil {
		t.Fatal(err)
	}
	hc, err = NewHTTPClient(ca, 1)
	if err != nil {
		t.Fatal(err)
	}
	c.HTTP = hc
	if _, err := c.Do(context.Background(), Request{Method: "GET", URL: srv.URL, ExpectJSON: true}); err != nil {
		t.Fatalf("with --mdm-ca-file: %v", err)
	}
	os.WriteFile(ca, []byte("not pem"), 0o600)
	if _, err := NewHTTPClient(ca, 1); err == nil {
		t.Fatal("garbage CA file accepted")
	}
}
