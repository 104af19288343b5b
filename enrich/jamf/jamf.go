// Package jamf is the Jamf Pro inventory provider. Jamf does not inventory
// launchd jobs itself, so the jobs come from an extension attribute that
// runs deploy/jamf/launchd-jobs-ea.sh on each Mac at inventory time; this
// package finds the computer and parses that attribute.
//
// Documented behaviour it relies on (Jamf Pro API):
//   - OAuth client credentials: POST /api/oauth/token, form
//     grant_type=client_credentials&client_id=…&client_secret=…, answering
//     {"access_token","token_type","expires_in"}; a token is refreshed before
//     it expires, and once more when an API call answers 401 INVALID_TOKEN.
//   - GET /api/v1/computers-inventory with repeated section=…, page (0-based),
//     page-size, and an RSQL filter such as general.lastReportedIp=="10.0.0.5";
//     answers {"totalCount":n,"results":[…]}; sections not requested are null.
//   - general.lastReportedIp is the address the Mac reports for itself;
//     general.lastIpAddress is where Jamf saw the request come from (often a
//     NAT or VPN egress), so it is never used to identify a LAN host.
//   - hardware.macAddress is stored upper-case.
package jamf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/launchtap/launchtap/enrich/internal/httpx"
	"github.com/launchtap/launchtap/enrich/inventory"
	"github.com/launchtap/launchtap/sensor/hostid"
)

// Sections requested from computers-inventory.
var Sections = []string{"GENERAL", "HARDWARE", "OPERATING_SYSTEM", "USER_AND_LOCATION", "EXTENSION_ATTRIBUTES"}

// Config configures the provider.
type Config struct {
	URL          string
	ClientID     string // never logged
	ClientSecret string // never logged
	EAName       string // the extension attribute's display name
	PageSize     int    // default 100
	MaxPages     int    // default 5
	Log          *slog.Logger
}

// Provider looks computers up in Jamf Pro.
type Provider struct {
	cfg  Config
	base string
	c    *httpx.Client
	log  *slog.Logger
	now  func() time.Time

	mu     sync.Mutex // guards the token and serialises refreshes
	token  string
	expiry time.Time

	TokenFetches int64 // guarded by mu
}

// New checks the configuration.
func New(cfg Config, c *httpx.Client) (*Provider, error) {
	u, err := httpx.BaseURL("jamf", cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("jamf: API client id and secret are required")
	}
	if cfg.EAName == "" {
		return nil, errors.New("jamf: extension attribute name is required")
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 100
	}
	if cfg.MaxPages <= 0 {
		cfg.MaxPages = 5
	}
	return &Provider{cfg: cfg, base: u.String(), c: c, log: httpx.Logger(cfg.Log, "jamf"), now: time.Now}, nil
}

// Name is the provider's name in alerts.
func (p *Provider) Name() string { return "jamf" }

// Computer is the part of a computers-inventory result used here.
type Computer struct {
	ID      string `json:"id"`
	General *struct {
		Name                string        `json:"name"`
		LastIPAddress       string        `json:"lastIpAddress"`
		LastReportedIP      string        `json:"lastReportedIp"`
		LastContactTime     string        `json:"lastContactTime"`
		ExtensionAttributes []ExtensionAt `json:"extensionAttributes"`
	} `json:"general"`
	Hardware *struct {
		SerialNumber  string `json:"serialNumber"`
		MACAddress    string `json:"macAddress"`
		AltMACAddress string `json:"altMacAddress"`
	} `json:"hardware"`
	OperatingSystem *struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"operatingSystem"`
	UserAndLocation *struct {
		Username string `json:"username"`
	} `json:"userAndLocation"`
	ExtensionAttributes []ExtensionAt `json:"extensionAttributes"`
}

// ExtensionAt is one extension attribute value.
type ExtensionAt struct {
	DefinitionID string   `json:"definitionId"`
	Name         string   `json:"name"`
	Values       []string `json:"values"`
}

// Page is one computers-inventory answer.
type Page struct {
	TotalCount int        `json:"totalCount"`
	Results    []Computer `json:"results"`
}

// ParsePage decodes a computers-inventory answer.
func ParsePage(b []byte) (*Page, error) {
	var pg struct {
		TotalCount *int        `json:"totalCount"`
		Results    *[]Computer `json:"results"`
	}
	if err := json.Unmarshal(b, &pg); err != nil {
		return nil, fmt.Errorf("decoding computers-inventory: %w", err)
	}
	if pg.TotalCount == nil || pg.Results == nil {
		return nil, errors.New(`computers-inventory answer lacks "totalCount" or "results"`)
	}
	if *pg.TotalCount < 0 {
		return nil, fmt.Errorf("negative totalCount %d", *pg.TotalCount)
	}
	return &Page{TotalCount: *pg.TotalCount, Results: *pg.Results}, nil
}

// Lookup finds the computer by reported IP, then MAC, then name.
func (p *Provider) Lookup(ctx context.Context, q inventory.Query) (*inventory.Host, error) {
	var filters []string
	if q.IP.IsValid() {
		filters = append(filters, `general.lastReportedIp==`+rsqlQuote(q.IP.Unmap().String()))
	}
	if q.MAC != "" {
		filters = append(filters, `hardware.macAddress==`+rsqlQuote(strings.ToUpper(q.MAC)))
	}
	if q.Hostname != "" {
		name, _, _ := strings.Cut(strings.TrimSuffix(q.Hostname, "."), ".")
		filters = append(filters, `general.name==`+rsqlQuote(name))
	}
	for _, f := range filters {
		c, err := p.search(ctx, f, q.IP)
		if err != nil {
			return nil, err
		}
		if c != nil {
			return p.host(c)
		}
	}
	return nil, fmt.Errorf("jamf: %s: %w", q.IP, inventory.ErrHostNotFound)
}

func (p *Provider) host(c *Computer) (*inventory.Host, error) {
	h := &inventory.Host{Platform: hostid.MacOS, Ref: c.ID, CalendarComplete: true}
	eas := c.ExtensionAttributes
	if g := c.General; g != nil {
		h.Hostname = g.Name
		if a, err := netip.ParseAddr(g.LastReportedIP); err == nil {
			h.IPs = []netip.Addr{a.Unmap()}
		}
		eas = append(eas, g.ExtensionAttributes...)
	}
	if hw := c.Hardware; hw != nil {
		h.Serial = hw.SerialNumber
		for _, m := range []string{hw.MACAddress, hw.AltMACAddress} {
			if mac, err := inventory.NormalizeMAC(m); err == nil {
				h.MACs = append(h.MACs, mac)
			}
		}
	}
	if os := c.OperatingSystem; os != nil {
		h.OSVersion = os.Version
	}
	if u := c.UserAndLocation; u != nil {
		h.User = u.Username
	}
	var value *string
	for i := range eas {
		if eas[i].Name == p.cfg.EAName && len(eas[i].Values) > 0 {
			value = &eas[i].Values[0]
		}
	}
	if value == nil {
		return nil, &inventory.NoJobsError{Host: h, Reason: fmt.Sprintf("Jamf has no value for extension attribute %q: deploy deploy/jamf/launchd-jobs-ea.sh as it and wait for the next inventory", p.cfg.EAName)}
	}
	ea, err := ParseEA(*value)
	if err != nil {
		return nil, &inventory.NoJobsError{Host: h, Reason: "extension attribute " + strconv.Quote(p.cfg.EAName) + ": " + err.Error()}
	}
	if ea.Skipped > 0 {
		p.log.Warn("extension attribute entries skipped", "computer", h.Hostname, "skipped", ea.Skipped, "first", ea.Problems)
	}
	if ea.Truncated {
		p.log.Warn("extension attribute was truncated on the Mac; some jobs are missing", "computer", h.Hostname)
	}
	h.Jobs = ea.Jobs
	if h.User == "" {
		h.User = inventory.UserFromJobs(h.Jobs)
	}
	return h, nil
}

// rsqlQuote quotes an RSQL argument: double quotes with backslash escapes.
func rsqlQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// search pages through the filter's matches and returns the computer that
// contacted Jamf last (old records of a re-imaged Mac keep stale addresses).
func (p *Provider) search(ctx context.Context, filter string, ip netip.Addr) (*Computer, error) {
	var best *Computer
	seen := 0
	for page := 0; page < p.cfg.MaxPages; page++ {
		v := url.Values{}
		for _, s := range Sections {
			v.Add("section", s)
		}
		v.Set("page", strconv.Itoa(page))
		v.Set("page-size", strconv.Itoa(p.cfg.PageSize))
		v.Set("sort", "id:asc")
		v.Set("filter", filter)
		b, err := p.get(ctx, "/api/v1/computers-inventory?"+v.Encode())
		if err != nil {
			return nil, err
		}
		pg, err := ParsePage(b)
		if err != nil {
			return nil, fmt.Errorf("jamf: %w: %w", err, inventory.ErrUnavailable)
		}
		for i := range pg.Results {
			c := &pg.Results[i]
			if best == nil || lastContact(c) > lastContact(best) {
				best = c
			}
		}
		seen += len(pg.Results)
		if seen >= pg.TotalCount || len(pg.Results) == 0 {
			break
		}
	}
	return best, nil
}

func lastContact(c *Computer) string {
	if c.General == nil {
		return ""
	}
	return c.General.LastContactTime
}

// get calls the API with a bearer token, refreshing it once on 401.
func (p *Provider) get(ctx context.Context, path string) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		tok, err := p.bearer(ctx, attempt > 0)
		if err != nil {
			return nil, err
		}
		resp, err := p.c.Do(ctx, httpx.Request{Method: http.MethodGet, URL: p.base + path, Header: httpx.Bearer(tok), ExpectJSON: true})
		var se *httpx.StatusError
		if errors.As(err, &se) && se.Status == http.StatusUnauthorized && attempt == 0 {
			p.log.Debug("token rejected; fetching a new one", "code", jamfCode(se.Body))
			p.invalidate(tok)
			continue
		}
		if err != nil {
			return nil, api.Err(err)
		}
		return resp.Body, nil
	}
}

// api names Jamf Pro in errors about its API.
var api = httpx.API{Name: "jamf", Secret: "API client", AuthHint: "give its API role Read Computers", Detail: jamfCode}

// jamfCode extracts the error code of Jamf's {"httpStatus","errors":[{"code"}]}.
func jamfCode(b []byte) string {
	var e struct {
		Errors []struct {
			Code        string `json:"code"`
			Description string `json:"description"`
		} `json:"errors"`
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil {
		if len(e.Errors) > 0 {
			return e.Errors[0].Code
		}
		if e.Error != "" {
			return e.Error
		}
	}
	return httpx.Snippet(b)
}

func (p *Provider) invalidate(tok string) {
	p.mu.Lock()
	if p.token == tok {
		p.token = ""
	}
	p.mu.Unlock()
}

// bearer returns a token valid for a while yet, fetching one when needed.
func (p *Provider) bearer(ctx context.Context, force bool) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !force && p.token != "" && p.now().Before(p.expiry) {
		return p.token, nil
	}
	form := url.Values{}
	form.Set("grant_type", "client_credentials")
	form.Set("client_id", p.cfg.ClientID)
	form.Set("client_secret", p.cfg.ClientSecret)
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	h.Set("Accept", "application/json")
	p.TokenFetches++
	resp, err := p.c.Do(ctx, httpx.Request{Method: http.MethodPost, URL: p.base + "/api/oauth/token", Header: h, Body: []byte(form.Encode()), ExpectJSON: true})
	var se *httpx.StatusError
	if errors.As(err, &se) {
		// The body of a failed token request holds no secret; it is safe to quote.
		return "", fmt.Errorf("jamf: token request refused (HTTP %d %s): check the API client id and secret and that the client is enabled: %w", se.Status, jamfCode(se.Body), inventory.ErrUnavailable)
	}
	if err != nil {
		return "", fmt.Errorf("jamf: token request: %w: %w", err, inventory.ErrUnavailable)
	}
	tok, ttl, err := ParseToken(resp.Body)
	if err != nil {
		return "", fmt.Errorf("jamf: %w: %w", err, inventory.ErrUnavailable)
	}
	// Refresh ahead of expiry: a tenth of the lifetime, at least 5 s.
	margin := max(ttl/10, 5*time.Second)
	if margin >= ttl {
		margin = ttl / 2
	}
	p.token, p.expiry = tok, p.now().Add(ttl-margin)
	return tok, nil
}

// ParseToken decodes the OAuth token answer.
func ParseToken(b []byte) (string, time.Duration, error) {
	var t struct {
		AccessToken string   `json:"access_token"`
		TokenType   string   `json:"token_type"`
		ExpiresIn   *float64 `json:"expires_in"`
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return "", 0, fmt.Errorf("decoding token answer: %w", err)
	}
	if t.AccessToken == "" {
		return "", 0, errors.New("token answer has no access_token")
	}
	if t.TokenType != "" && !strings.EqualFold(t.TokenType, "bearer") {
		return "", 0, fmt.Errorf("token type %q is not Bearer", t.TokenType)
	}
	if t.ExpiresIn == nil || *t.ExpiresIn <= 0 || *t.ExpiresIn > 86400*366 {
		return "", 0, errors.New("token answer has no usable expires_in")
	}
	return t.AccessToken, time.Duration(*t.ExpiresIn * float64(time.Second)), nil
}
