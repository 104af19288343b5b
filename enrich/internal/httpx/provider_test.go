package httpx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/launchtap/launchtap/enrich/inventory"
)

func TestBaseURL(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"https://acme.kandji.io/", "https://acme.kandji.io", ""},
		{"http://127.0.0.1:8080//", "http://127.0.0.1:8080", ""},
		{"https://jamf.example/base/", "https://jamf.example/base", ""},
		{"acme.kandji.io", "", `kandji: --kandji-url "acme.kandji.io" is not an http(s) URL`},
		{"ftp://x.example", "", `kandji: --kandji-url "ftp://x.example" is not an http(s) URL`},
		{"https://", "", `kandji: --kandji-url "https://" is not an http(s) URL`},
		{"", "", `kandji: --kandji-url "" is not an http(s) URL`},
	} {
		u, err := BaseURL("kandji", tc.in)
		switch {
		case tc.err != "" && (err == nil || err.Error() != tc.err):
			t.Errorf("BaseURL(%q) error %v, want %q", tc.in, err, tc.err)
		case tc.err == "" && (err != nil || u.String() != tc.want):
			t.Errorf("BaseURL(%q) = %v, %v; want %q", tc.in, u, err, tc.want)
		}
	}
}

func TestLogger(t *testing.T) {
	Logger(nil, "fleet").Info("dropped") // must not panic
	var buf bytes.Buffer
	Logger(slog.New(slog.NewTextHandler(&buf, nil)), "jamf").Info("hello")
	if !strings.Contains(buf.String(), "component=enrich/jamf") {
		t.Errorf("log line %q lacks the component", buf.String())
	}
}

func TestAPIErr(t *testing.T) {
	api := API{Name: "acme", Secret: "API token", AuthHint: "check the token",
		Detail: func(b []byte) string { return strings.ToUpper(string(b)) }}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"401", &StatusError{Status: 401, Body: []byte("bad token")}, "acme: API token rejected (HTTP 401: BAD TOKEN); check the token: inventory unavailable"},
		{"403", fmt.Errorf("wrapped: %w", &StatusError{Status: 403, Body: []byte("no role")}), "acme: API token rejected (HTTP 403: NO ROLE); check the token: inventory unavailable"},
		{"500", &StatusError{Status: 500, Body: []byte("oops")}, "acme: HTTP 500: OOPS: inventory unavailable"},
		{"transport", context.DeadlineExceeded, "acme: context deadline exceeded: inventory unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := api.Err(tc.err)
			if tc.err == nil {
				if err != nil {
					t.Fatalf("Err(nil) = %v", err)
				}
				return
			}
			if err == nil || err.Error() != tc.want || !errors.Is(err, inventory.ErrUnavailable) {
				t.Fatalf("Err = %v, want %q wrapping ErrUnavailable", err, tc.want)
			}
		})
	}
	// Without Detail the body is quoted as a snippet.
	err := API{Name: "acme"}.Err(&StatusError{Status: 502, Body: []byte("<html><title>Bad gateway</title></html>")})
	if !strings.Contains(err.Error(), `HTML page titled "Bad gateway"`) {
		t.Errorf("snippet: %v", err)
	}
}
