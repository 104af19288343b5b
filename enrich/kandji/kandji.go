// Package kandji is the Kandji (Iru Endpoint Management) inventory provider.
// Kandji's agent inventories launchd jobs itself; Prism serves them.
//
// Documented behaviour it relies on (Kandji API, Devices and Prism):
//   - Authorization: Bearer <API token>; errors are {"error":"…"} with
//     400/401/404.
//   - GET /api/v1/devices?mac_address=…&limit=… (limit required, at most
//     300) finds a device by MAC address; device_name=… by name. The list
//     API has no IP address filter, so Kandji needs the alert's MAC or a
//     hostname from host identification.
//   - GET /api/v1/prism/launch_agents_and_daemons?filter=…&limit=300&offset=…
//     answers {"offset","limit","total","data":[…],"cursor"}; each row has
//     device_id, path, label, program (may be null), program_arguments
//     (one string, arguments joined with ", "), run_at_load, keep_alive,
//     disabled, user_name, start_interval (may be null). Prism has no
//     StartCalendarInterval column.
package kandji

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/launchtap/launchtap/enrich/internal/httpx"
	"github.com/launchtap/launchtap/enrich/inventory"
	"github.com/launchtap/launchtap/sensor/hostid"
)

// PageLimit is Kandji's documented hard upper limit per request.
const PageLimit = 300

// MaxPages bounds how many Prism pages one device may take.
const MaxPages = 20

// Config configures the provider.
type Config struct {
	URL   string // https://<subdomain>.api.kandji.io
	Token string // never logged
	Log   *slog.Logger
}

// Provider looks devices up in Kandji.
type Provider struct {
	cfg  Config
	base string
	c    *httpx.Client
	log  *slog.Logger
}

// New checks the configuration.
func New(cfg Config, c *httpx.Client) (*Provider, error) {
	u, err := httpx.BaseURL("kandji", cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.Token == "" {
		return nil, errors.New("kandji: API token missing")
	}
	return &Provider{cfg: cfg, base: u.String(), c: c, log: httpx.Logger(cfg.Log, "kandji")}, nil
}

// Name is the provider's name in alerts.
func (p *Provider) Name() string { return "kandji" }

// Device is the part of a Kandji device record used here.
type Device struct {
	DeviceID     string          `json:"device_id"`
	DeviceName   string          `json:"device_name"`
	SerialNumber string          `json:"serial_number"`
	Platform     string          `json:"platform"`
	OSVersion    string          `json:"os_version"`
	LastCheckIn  string          `json:"last_check_in"`
	User         json.RawMessage `json:"user"` // "" or {"name","email",…}
}

// Row is one Prism launch agent/daemon record.
type Row struct {
	DeviceID         string  `json:"device_id"`
	Path             string  `json:"path"`
	Label            string  `json:"label"`
	Program          *string `json:"program"`
	ProgramArguments *string `json:"program_arguments"`
	RunAtLoad        *bool   `json:"run_at_load"`
	KeepAlive        *bool   `json:"keep_alive"`
	Disabled         *bool   `json:"disabled"`
	UserName         *string `json:"user_name"`
	StartInterval    *int64  `json:"start_interval"`
	// TeamID is not a documented Prism column; a row that carries one
	// (a custom attribute export shaped like Prism) has it read.
	TeamID *string `json:"team_id"`
}

// Page is one Prism answer.
type Page struct {
	Total int   `json:"total"`
	Data  []Row `json:"data"`
}

// ParseDevices decodes the device list (a JSON array).
func ParseDevices(b []byte) ([]Device, error) {
	var ds []Device
	if err := json.Unmarshal(b, &ds); err != nil {
		return nil, fmt.Errorf("decoding device list: %w", err)
	}
	return ds, nil
}

// ParsePage decodes a Prism answer.
func ParsePage(b []byte) (*Page, error) {
	var pg struct {
		Total *int   `json:"total"`
		Data  *[]Row `json:"data"`
	}
	if err := json.Unmarshal(b, &pg); err != nil {
		return nil, fmt.Errorf("decoding prism page: %w", err)
	}
	if pg.Total == nil || pg.Data == nil || *pg.Total < 0 {
		return nil, errors.New(`prism answer lacks "total" or "data"`)
	}
	if len(*pg.Data) > PageLimit {
		return nil, fmt.Errorf("prism page of %d rows exceeds the documented limit of %d", len(*pg.Data), PageLimit)
	}
	return &Page{Total: *pg.Total, Data: *pg.Data}, nil
}

// userName reads the device's user: "" or an object with a name or email.
func userName(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var u struct {
		Name  string `json:"name"`
		Email string `json:"email"`
	}
	if json.Unmarshal(raw, &u) == nil {
		if u.Email != "" {
			if local, _, ok := strings.Cut(u.Email, "@"); ok {
				return local
			}
		}
		return u.Name
	}
	return ""
}

// Lookup finds the device by MAC, then by name, and reads its jobs.
func (p *Provider) Lookup(ctx context.Context, q inventory.Query) (*inventory.Host, error) {
	var searches []url.Values
	if q.MAC != "" {
		searches = append(searches, url.Values{"mac_address": {q.MAC}})
	}
	if q.Hostname != "" {
		name, _, _ := strings.Cut(strings.TrimSuffix(q.Hostname, "."), ".")
		searches = append(searches, url.Values{"device_name": {name}})
	}
	if len(searches) == 0 {
		return nil, fmt.Errorf("kandji: %s: no MAC address or hostname to search by (Kandji cannot search by IP): %w", q.IP, inventory.ErrHostNotFound)
	}
	var dev *Device
	for _, v := range searches {
		v.Set("limit", strconv.Itoa(PageLimit))
		b, err := p.get(ctx, "/api/v1/devices?"+v.Encode())
		if err != nil {
			return nil, err
		}
		ds, err := ParseDevices(b)
		if err != nil {
			return nil, fmt.Errorf("kandji: %w: %w", err, inventory.ErrUnavailable)
		}
		for i := range ds {
			if name := v.Get("device_name"); name != "" && !strings.EqualFold(ds[i].DeviceName, name) {
				continue // the name filter may match partially
			}
			if dev == nil || ds[i].LastCheckIn > dev.LastCheckIn {
				dev = &ds[i]
			}
		}
		if dev != nil {
			break
		}
	}
	if dev == nil {
		return nil, fmt.Errorf("kandji: %s: %w", q.IP, inventory.ErrHostNotFound)
	}
	h := &inventory.Host{
		Serial: dev.SerialNumber, Hostname: dev.DeviceName, Platform: hostid.ParsePlatform(platform(dev.Platform)),
		OSVersion: dev.OSVersion, User: userName(dev.User), Ref: dev.DeviceID,
		CalendarComplete: true, // Prism has no StartCalendarInterval to fetch later
	}
	if q.MAC != "" {
		h.MACs = []string{q.MAC}
	}
	if h.Platform != hostid.MacOS {
		return h, nil
	}
	jobs, err := p.jobs(ctx, dev.DeviceID)
	if err != nil {
		return nil, err
	}
	h.Jobs = jobs
	if h.User == "" {
		h.User = inventory.UserFromJobs(jobs)
	}
	return h, nil
}

func platform(s string) string {
	switch s {
	case "Mac":
		return "darwin"
	case "iPhone", "iPad":
		return "ios"
	}
	return s
}

func (p *Provider) jobs(ctx context.Context, deviceID string) ([]inventory.Job, error) {
	filter, _ := json.Marshal(map[string]any{"device_id": map[string]any{"in": []string{deviceID}}})
	var jobs []inventory.Job
	offset := 0
	for page := 0; page < MaxPages; page++ {
		v := url.Values{}
		v.Set("filter", string(filter))
		v.Set("limit", strconv.Itoa(PageLimit))
		v.Set("offset", strconv.Itoa(offset))
		b, err := p.get(ctx, "/api/v1/prism/launch_agents_and_daemons?"+v.Encode())
		if err != nil {
			return nil, err
		}
		pg, err := ParsePage(b)
		if err != nil {
			return nil, fmt.Errorf("kandji: %w: %w", err, inventory.ErrUnavailable)
		}
		for _, r := range pg.Data {
			if r.DeviceID != deviceID || r.Label == "" {
				continue // a filter the server ignored must not mix devices
			}
			jobs = append(jobs, JobFromRow(r))
		}
		offset += len(pg.Data)
		if len(pg.Data) == 0 || offset >= pg.Total {
			break
		}
	}
	return jobs, nil
}

// JobFromRow converts a Prism row.
func JobFromRow(r Row) inventory.Job {
	j := inventory.Job{Label: r.Label, Path: r.Path}
	if r.Program != nil {
		j.Program = *r.Program
	}
	if r.ProgramArguments != nil && *r.ProgramArguments != "" {
		// Prism joins the arguments with ", "; an argument that itself
		// contains ", " is split too, which only adds words to match.
		j.ProgramArguments = strings.Split(*r.ProgramArguments, ", ")
		if len(j.ProgramArguments) > inventory.MaxArguments {
			j.ProgramArguments = j.ProgramArguments[:inventory.MaxArguments]
		}
	}
	if r.RunAtLoad != nil {
		j.RunAtLoad = *r.RunAtLoad
	}
	if r.KeepAlive != nil {
		j.KeepAlive = *r.KeepAlive
	}
	if r.Disabled != nil {
		j.Disabled = *r.Disabled
	}
	if r.UserName != nil {
		j.Username = *r.UserName
	}
	if r.StartInterval != nil && *r.StartInterval > 0 && *r.StartInterval <= 1<<31-1 {
		j.StartInterval = int(*r.StartInterval)
	}
	if r.TeamID != nil {
		// A malformed team ID is dropped: rules that need one then do not match.
		j.TeamID, _ = inventory.ParseTeamID(*r.TeamID)
	}
	return j
}

func (p *Provider) get(ctx context.Context, path string) ([]byte, error) {
	resp, err := p.c.Do(ctx, httpx.Request{Method: http.MethodGet, URL: p.base + path, Header: httpx.Bearer(p.cfg.Token), ExpectJSON: true})
	if err != nil {
		return nil, api.Err(err)
	}
	return resp.Body, nil
}

// api names Kandji in errors.
var api = httpx.API{Name: "kandji", Secret: "API token", AuthHint: "check the token and its permissions (Devices, Prism)", Detail: kandjiError}

func kandjiError(b []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return e.Error
	}
	return httpx.Snippet(b)
}
