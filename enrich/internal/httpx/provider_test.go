package httpx

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
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
