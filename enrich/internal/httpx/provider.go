package httpx

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/launchtap/launchtap/enrich/inventory"
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

// API names a vendor's API in the errors a provider returns.
type API struct {
	Name     string              // "fleet": the prefix of every error
	Secret   string              // what authenticates: "API token", "API client"
	AuthHint string              // what to check when the API refuses it
	Detail   func([]byte) string // the vendor's error text in a body; nil: Snippet
}

// Err maps the result of Client.Do to a provider's error: nil stays nil;
// anything else wraps inventory.ErrUnavailable (the inventory cannot answer
// now, which is not "no such host"). A refusal of the credentials (401, 403)
// says what to check; a response body is quoted through Detail, never the
// request, so no secret reaches a log.
func (a API) Err(err error) error {
	if err == nil {
		return nil
	}
	var se *StatusError
	if !errors.As(err, &se) {
		if strings.HasPrefix(err.Error(), a.Name+": ") {
			return fmt.Errorf("%w: %w", err, inventory.ErrUnavailable) // Client.Do named the provider
		}
		return fmt.Errorf("%s: %w: %w", a.Name, err, inventory.ErrUnavailable)
	}
	detail := Snippet(se.Body)
	if a.Detail != nil {
		detail = a.Detail(se.Body)
	}
	if se.Status == http.StatusUnauthorized || se.Status == http.StatusForbidden {
		return fmt.Errorf("%s: %s rejected (HTTP %d: %s); %s: %w", a.Name, a.Secret, se.Status, detail, a.AuthHint, inventory.ErrUnavailable)
	}
	return fmt.Errorf("%s: HTTP %d: %s: %w", a.Name, se.Status, detail, inventory.ErrUnavailable)
}

// Bearer is the header every vendor API here takes: a bearer token and a
// JSON answer. Add to it for a request body.
func Bearer(token string) http.Header {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+token)
	h.Set("Accept", "application/json")
	return h
}
