package httpx

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"
)

// BaseURL checks the value of a provider's --<provider>-url flag and returns
// it without a trailing slash, so API paths can be appended as they are.
func BaseURL(provider, raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("%s: --%s-url %q is not an http(s) URL", provider, provider, raw)
	}
	return u, nil
}

// Logger is l, or a logger that discards when l is nil, tagged with the
// provider as component "enrich/<provider>".
func Logger(l *slog.Logger, provider string) *slog.Logger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return l.With("component", "enrich/"+provider)
}
