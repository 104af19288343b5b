package enrich

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"time"
)

// Environment variables holding provider secrets. Secrets never come from
// flags (they would show in ps and shell history) and are never logged.
const (
	EnvFleetToken       = "LAUNCHTAP_FLEET_TOKEN"
	EnvJamfClientID     = "LAUNCHTAP_JAMF_CLIENT_ID"
	EnvJamfClientSecret = "LAUNCHTAP_JAMF_CLIENT_SECRET"
	EnvKandjiToken      = "LAUNCHTAP_KANDJI_TOKEN"
)

// Defaults, documented in docs/enrichment/README.md ("Robustness").
const (
	DefaultTimeout         = 30 * time.Second
	DefaultConcurrency     = 5 // Jamf's published guidance: at most 5 concurrent API calls
	DefaultRequestTimeout  = 40 * time.Second
	DefaultRetries         = 3
	DefaultCacheTTL        = 10 * time.Minute
	DefaultNegativeTTL     = 2 * time.Minute
	DefaultStaleTTL        = 7 * 24 * time.Hour
	DefaultCacheSize       = 4096
	DefaultMaxPending      = 256
	DefaultMaxBody         = 8 << 20
	DefaultBreakerFailures = 5
	DefaultBreakerCooldown = 30 * time.Second
	DefaultInventoryPoll   = 2 * time.Second
	DefaultJamfEAName      = "launchtap launchd jobs"
)

// Config configures enrichment. The zero value (plus defaults) is "not
// configured": alerts carry status "not-configured".
type Config struct {
	Inventory     string        // file inventory path (--inventory)
	InventoryPoll time.Duration // how often the file is checked for changes

	FleetURL       string
	FleetTokenFile string // else $LAUNCHTAP_FLEET_TOKEN

	JamfURL              string
	JamfClientIDFile     string // else $LAUNCHTAP_JAMF_CLIENT_ID
	JamfClientSecretFile string // else $LAUNCHTAP_JAMF_CLIENT_SECRET
	JamfEAName           string // extension attribute written by deploy/jamf

	KandjiURL       string
	KandjiTokenFile string // else $LAUNCHTAP_KANDJI_TOKEN

	Timeout         time.Duration // an alert never waits longer for enrichment
	Concurrency     int           // concurrent provider lookups
	RequestTimeout  time.Duration // one HTTP attempt
	Retries         int           // retries after the first attempt
	CacheTTL        time.Duration // fresh answers are reused this long
	NegativeTTL     time.Duration // "host not found" is remembered this long
	StaleTTL        time.Duration // last good answer kept for offline hosts
	CacheSize       int           // entries per cache
	MaxPending      int           // distinct lookups in flight; beyond it: "unavailable"
	MaxBody         int64         // bytes per HTTP response
	BreakerFailures int           // consecutive failures that open the breaker
	BreakerCooldown time.Duration // before a trial request
	CAFile          string        // extra PEM CA for the MDM servers
}

// RegisterFlags adds the enrichment flags to fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Inventory, "inventory", c.Inventory, "file inventory (JSON, see docs/enrichment/file.md); reloaded on change and SIGHUP")
	fs.StringVar(&c.FleetURL, "fleet-url", c.FleetURL, "Fleet server URL, e.g. https://fleet.example.com (token: $"+EnvFleetToken+" or --fleet-token-file)")
	fs.StringVar(&c.FleetTokenFile, "fleet-token-file", c.FleetTokenFile, "file holding the Fleet API token")
	fs.StringVar(&c.JamfURL, "jamf-url", c.JamfURL, "Jamf Pro URL, e.g. https://example.jamfcloud.com (client: $"+EnvJamfClientID+"/$"+EnvJamfClientSecret+" or files)")
	fs.StringVar(&c.JamfClientIDFile, "jamf-client-id-file", c.JamfClientIDFile, "file holding the Jamf Pro API client id")
	fs.StringVar(&c.JamfClientSecretFile, "jamf-client-secret-file", c.JamfClientSecretFile, "file holding the Jamf Pro API client secret")
	fs.StringVar(&c.JamfEAName, "jamf-ea-name", orDefault(c.JamfEAName, DefaultJamfEAName), "name of the extension attribute running deploy/jamf/launchd-jobs-ea.sh")
	fs.StringVar(&c.KandjiURL, "kandji-url", c.KandjiURL, "Kandji API URL, e.g. https://example.api.kandji.io (token: $"+EnvKandjiToken+" or --kandji-token-file)")
	fs.StringVar(&c.KandjiTokenFile, "kandji-token-file", c.KandjiTokenFile, "file holding the Kandji API token")
	fs.DurationVar(&c.Timeout, "enrich-timeout", orDefaultD(c.Timeout, DefaultTimeout), "longest an alert waits for enrichment before leaving with status unavailable")
	fs.IntVar(&c.Concurrency, "enrich-concurrency", orDefaultI(c.Concurrency, DefaultConcurrency), "concurrent MDM lookups")
	fs.DurationVar(&c.CacheTTL, "enrich-cache-ttl", orDefaultD(c.CacheTTL, DefaultCacheTTL), "how long an inventory answer is reused")
	fs.StringVar(&c.CAFile, "mdm-ca-file", c.CAFile, "PEM CA certificate(s) trusted for the MDM servers, in addition to the system roots")
}

// CheckFlags rejects values the flags cannot mean. In a Config built in
// code zero means "the default"; from the command line it is what the user
// typed, so a zero or negative timeout, TTL or concurrency is an error that
// names the flag rather than a silent default.
func (c *Config) CheckFlags() error {
	switch {
	case c.Timeout <= 0:
		return fmt.Errorf("enrich-timeout: must be positive, got %s", c.Timeout)
	case c.Concurrency <= 0:
		return fmt.Errorf("enrich-concurrency: must be at least 1, got %d", c.Concurrency)
	case c.CacheTTL <= 0:
		return fmt.Errorf("enrich-cache-ttl: must be positive, got %s", c.CacheTTL)
	}
	return nil
}

func (c *Config) setDefaults() {
	c.InventoryPoll = orDefaultD(c.InventoryPoll, DefaultInventoryPoll)
	c.JamfEAName = orDefault(c.JamfEAName, DefaultJamfEAName)
	c.Timeout = orDefaultD(c.Timeout, DefaultTimeout)
	c.Concurrency = orDefaultI(c.Concurrency, DefaultConcurrency)
	c.RequestTimeout = orDefaultD(c.RequestTimeout, DefaultRequestTimeout)
	if c.Retries == 0 {
		c.Retries = DefaultRetries
	}
	if c.Retries < 0 {
		c.Retries = 0
	}
	c.CacheTTL = orDefaultD(c.CacheTTL, DefaultCacheTTL)
	c.NegativeTTL = orDefaultD(c.NegativeTTL, DefaultNegativeTTL)
	c.StaleTTL = orDefaultD(c.StaleTTL, DefaultStaleTTL)
	c.CacheSize = orDefaultI(c.CacheSize, DefaultCacheSize)
	c.MaxPending = orDefaultI(c.MaxPending, DefaultMaxPending)
	if c.MaxBody <= 0 {
		c.MaxBody = DefaultMaxBody
	}
	c.BreakerFailures = orDefaultI(c.BreakerFailures, DefaultBreakerFailures)
	c.BreakerCooldown = orDefaultD(c.BreakerCooldown, DefaultBreakerCooldown)
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

func orDefaultD(v, d time.Duration) time.Duration {
	if v <= 0 {
		return d
	}
	return v
}

func orDefaultI(v, d int) int {
	if v <= 0 {
		return d
	}
	return v
}

// secret holds a credential; it formats and logs as "[redacted]".
type secret string

func (secret) String() string                 { return "[redacted]" }
func (secret) GoString() string               { return "[redacted]" }
func (secret) LogValue() slog.Value           { return slog.StringValue("[redacted]") }
func (s secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// readSecret takes the secret from file when given, else from the
// environment. A group- or world-readable file is used but warned about.
func readSecret(what, file, env string, log *slog.Logger) (secret, error) {
	if file != "" {
		st, err := os.Stat(file)
		if err != nil {
			return "", fmt.Errorf("enrich: %s file: %w", what, err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			log.Warn("secret file is readable by other users; chmod 600 it", "what", what, "file", file, "mode", fs.FileMode(st.Mode().Perm()).String())
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("enrich: reading %s file: %w", what, err)
		}
		s := strings.TrimSpace(string(b))
		if s == "" {
			return "", fmt.Errorf("enrich: %s file %s is empty", what, file)
		}
		return secret(s), nil
	}
	if s := strings.TrimSpace(os.Getenv(env)); s != "" {
		return secret(s), nil
	}
	return "", errors.New("enrich: " + what + " missing: set $" + env + " or pass its file flag")
}
