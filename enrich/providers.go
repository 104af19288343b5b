package enrich

import (
	"fmt"
	"log/slog"

	"github.com/launchtap/launchtap/enrich/fleet"
	"github.com/launchtap/launchtap/enrich/internal/httpx"
	"github.com/launchtap/launchtap/enrich/jamf"
	"github.com/launchtap/launchtap/enrich/kandji"
)

// newRemotes builds the configured network providers, Fleet first (it asks
// the host itself), then Jamf, then Kandji.
func newRemotes(cfg *Config, log *slog.Logger) ([]remote, error) {
	var out []remote
	if cfg.FleetURL == "" && cfg.JamfURL == "" && cfg.KandjiURL == "" {
		return nil, nil
	}
	hc, err := httpx.NewHTTPClient(cfg.CAFile, cfg.Concurrency)
	if err != nil {
		return nil, fmt.Errorf("enrich: %w", err)
	}
	client := func(name string) *httpx.Client {
		return &httpx.Client{
			HTTP: hc, Name: name, MaxBody: cfg.MaxBody, MaxRetries: cfg.Retries,
			BaseBackoff: 500e6, MaxBackoff: 10e9,
			Breaker: httpx.NewBreaker(cfg.BreakerFailures, cfg.BreakerCooldown),
			Log:     log,
		}
	}
	if cfg.FleetURL != "" {
		tok, err := readSecret("Fleet API token", cfg.FleetTokenFile, EnvFleetToken, log)
		if err != nil {
			return nil, err
		}
		c := client("fleet")
		p, err := fleet.New(fleet.Config{URL: cfg.FleetURL, Token: string(tok), Log: log, LiveQueryTimeout: cfg.RequestTimeout}, c)
		if err != nil {
			return nil, fmt.Errorf("enrich: %w", err)
		}
		out = append(out, remote{name: p.Name(), lookup: p, client: c})
	}
	if cfg.JamfURL != "" {
		id, err := readSecret("Jamf API client id", cfg.JamfClientIDFile, EnvJamfClientID, log)
		if err != nil {
			return nil, err
		}
		sec, err := readSecret("Jamf API client secret", cfg.JamfClientSecretFile, EnvJamfClientSecret, log)
		if err != nil {
			return nil, err
		}
		c := client("jamf")
		p, err := jamf.New(jamf.Config{URL: cfg.JamfURL, ClientID: string(id), ClientSecret: string(sec), EAName: cfg.JamfEAName, Log: log}, c)
		if err != nil {
			return nil, fmt.Errorf("enrich: %w", err)
		}
		out = append(out, remote{name: p.Name(), lookup: p, client: c})
	}
	if cfg.KandjiURL != "" {
		tok, err := readSecret("Kandji API token", cfg.KandjiTokenFile, EnvKandjiToken, log)
		if err != nil {
			return nil, err
		}
		c := client("kandji")
		p, err := kandji.New(kandji.Config{URL: cfg.KandjiURL, Token: string(tok), Log: log}, c)
		if err != nil {
			return nil, fmt.Errorf("enrich: %w", err)
		}
		out = append(out, remote{name: p.Name(), lookup: p, client: c})
	}
	return out, nil
}
