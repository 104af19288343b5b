// Package fleet is the Fleet (osquery) inventory provider. It finds the host
// with Fleet's REST API and reads its launchd jobs with an ad hoc live query
// on osquery's launchd table, plus the plist table for StartCalendarInterval
// (which the launchd table lacks) when the interval jobs do not explain the
// alert.
//
// Documented behaviour it relies on (Fleet REST API):
//   - GET /api/v1/fleet/hosts?query=…&per_page=…&page=… searches hostname,
//     serial, UUID and IP as a substring, so 10.0.0.5 also returns 10.0.0.50:
//     primary_ip is filtered exactly here. Pages are 0-based.
//   - GET /api/v1/fleet/hosts/identifier/{hostname|serial|uuid} returns
//     {"host":{…}} or 404.
//   - POST /api/v1/fleet/hosts/{id}/query {"query":…} answers
//     {"host_id","query","status","error","rows"}: every column a string,
//     booleans "1"/"0", program_arguments space-joined; an offline host
//     answers status "offline", rows null at once; a slow host answers 200
//     with error "timeout waiting for results" after about 25 s.
//   - Authorization: Bearer <API token>.
package fleet

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
	"time"

	"github.com/launchtap/launchtap/enrich/internal/httpx"
	"github.com/launchtap/launchtap/enrich/inventory"
	"github.com/launchtap/launchtap/sensor/hostid"
)

// Queries run on the host. The file join gives each plist's mtime. The
// signature join gives the code-signing team of the job's program: Program,
// else ProgramArguments[0], read exactly from the plist table (the launchd
// table joins the arguments with spaces, and paths hold spaces). Apple's
// platform binaries on the system volume carry no team and are not
// checked; hash_resources = 0 checks the signature without hashing every
// resource of a large bundle.
const (
	LaunchdQuery = "SELECT l.path, l.label, l.program, l.program_arguments, l.run_at_load, l.keep_alive, " +
		"l.disabled, l.username, l.start_interval, f.mtime, s.team_identifier FROM launchd l LEFT JOIN file f ON f.path = l.path " +
		"LEFT JOIN plist a ON a.path = l.path AND a.key = 'ProgramArguments' AND a.subkey = '0' " +
		"LEFT JOIN signature s ON s.path = COALESCE(NULLIF(l.program, ''), a.value) AND s.hash_resources = 0 " +
		"AND s.path NOT LIKE '/System/%' AND s.path NOT LIKE '/usr/libexec/%' AND s.path NOT LIKE '/usr/sbin/%' AND s.path NOT LIKE '/usr/bin/%';"
	CalendarQuery = "SELECT p.path, p.subkey, p.value FROM launchd l JOIN plist p ON p.path = l.path " +
		"WHERE p.key = 'StartCalendarInterval';"
)

// Limits on what one host may send back.
const (
	MaxRows = 5000
)

// Config configures the provider.
type Config struct {
	URL              string
	Token            string // API token; never logged
	PerPage          int    // host search page size, default 50
	MaxPages         int    // search pages read at most, default 10
	LiveQueryTimeout time.Duration
	Log              *slog.Logger
}

// Provider looks hosts up in Fleet.
type Provider struct {
	cfg  Config
	base *url.URL
	c    *httpx.Client
	log  *slog.Logger
}

// New checks the configuration.
func New(cfg Config, c *httpx.Client) (*Provider, error) {
	u, err := httpx.BaseURL("fleet", cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.Token == "" {
		return nil, errors.New("fleet: API token missing")
	}
	if cfg.PerPage <= 0 {
		cfg.PerPage = 50
	}
	if cfg.MaxPages <= 0 {
		cfg.MaxPages = 10
	}
	if cfg.LiveQueryTimeout <= 0 {
		cfg.LiveQueryTimeout = 35 * time.Second
	}
	return &Provider{cfg: cfg, base: u, c: c, log: httpx.Logger(cfg.Log, "fleet")}, nil
}

// Name is the provider's name in alerts.
func (p *Provider) Name() string { return "fleet" }

// Host is the part of Fleet's host object used here.
type Host struct {
	ID             uint64 `json:"id"`
	Hostname       string `json:"hostname"`
	ComputerName   string `json:"computer_name"`
	PrimaryIP      string `json:"primary_ip"`
	PrimaryMAC     string `json:"primary_mac"`
	HardwareSerial string `json:"hardware_serial"`
	Platform       string `json:"platform"`
	OSVersion      string `json:"os_version"`
	Status         string `json:"status"`
	SeenTime       string `json:"seen_time"`
}

// LiveResult is the answer to an ad hoc live query.
type LiveResult struct {
	HostID uint64              `json:"host_id"`
	Query  string              `json:"query"`
	Status string              `json:"status"`
	Error  *string             `json:"error"`
	Rows   []map[string]string `json:"rows"`
}

// Lookup finds the host and reads its launchd jobs.
func (p *Provider) Lookup(ctx context.Context, q inventory.Query) (*inventory.Host, error) {
	fh, err := p.find(ctx, q)
	if err != nil {
		return nil, err
	}
	h := hostFrom(fh)
	if h.Platform != hostid.MacOS {
		h.CalendarComplete = true // no launchd: nothing to read
		return h, nil
	}
	lr, err := p.liveQuery(ctx, fh.ID, LaunchdQuery)
	if err != nil {
		return nil, p.liveErr(h, err)
	}
	if h.Jobs, err = JobsFromRows(lr.Rows); err != nil {
		return nil, fmt.Errorf("fleet: host %d launchd rows: %w: %w", fh.ID, err, inventory.ErrUnavailable)
	}
	h.User = inventory.UserFromJobs(h.Jobs)
	if h.NeedsCalendar(q.PeriodS) {
		lr, err := p.liveQuery(ctx, fh.ID, CalendarQuery)
		if err == nil {
			err = ApplyCalendarRows(h.Jobs, lr.Rows)
		}
		if err != nil {
			// The interval data is still worth matching; the service
			// asks again for a later alert.
			p.log.Warn("reading StartCalendarInterval failed", "host_id", fh.ID, "err", err)
		} else {
			h.CalendarComplete = true
		}
	}
	return h, nil
}

func (p *Provider) liveErr(h *inventory.Host, err error) error {
	var off *inventory.NoJobsError
	if errors.As(err, &off) {
		off.Host = h
		return off
	}
	return err
}

func hostFrom(fh *Host) *inventory.Host {
	h := &inventory.Host{
		Serial:    fh.HardwareSerial,
		Hostname:  fh.Hostname,
		Platform:  hostid.ParsePlatform(fh.Platform),
		OSVersion: strings.TrimSpace(strings.TrimPrefix(fh.OSVersion, "macOS")),
		Ref:       strconv.FormatUint(fh.ID, 10),
	}
	if h.Hostname == "" {
		h.Hostname = fh.ComputerName
	}
	if a, err := netip.ParseAddr(fh.PrimaryIP); err == nil {
		h.IPs = []netip.Addr{a.Unmap()}
	}
	if m, err := inventory.NormalizeMAC(fh.PrimaryMAC); err == nil {
		h.MACs = []string{m}
	}
	return h
}

func (p *Provider) find(ctx context.Context, q inventory.Query) (*Host, error) {
	if q.IP.IsValid() {
		ip := q.IP.Unmap()
		var best *Host
		for page := 0; page < p.cfg.MaxPages; page++ {
			v := url.Values{}
			v.Set("query", ip.String())
			v.Set("per_page", strconv.Itoa(p.cfg.PerPage))
			v.Set("page", strconv.Itoa(page))
			body, err := p.get(ctx, "/api/v1/fleet/hosts?"+v.Encode())
			if err != nil {
				return nil, err
			}
			hosts, err := ParseHosts(body)
			if err != nil {
				return nil, fmt.Errorf("fleet: hosts search: %w: %w", err, inventory.ErrUnavailable)
			}
			for i := range hosts {
				a, err := netip.ParseAddr(hosts[i].PrimaryIP)
				if err != nil || a.Unmap() != ip {
					continue // substring search: 10.0.0.5 also finds 10.0.0.50
				}
				if best == nil || better(&hosts[i], best) {
					best = &hosts[i]
				}
			}
			if len(hosts) < p.cfg.PerPage {
				break
			}
		}
		if best != nil {
			return best, nil
		}
	}
	if q.Hostname != "" {
		body, err := p.get(ctx, "/api/v1/fleet/hosts/identifier/"+url.PathEscape(q.Hostname))
		var se *httpx.StatusError
		if errors.As(err, &se) && se.Status == http.StatusNotFound {
			return nil, fmt.Errorf("fleet: %s / %s: %w", q.IP, q.Hostname, inventory.ErrHostNotFound)
		}
		if err != nil {
			return nil, err
		}
		h, err := ParseHost(body)
		if err != nil {
			return nil, fmt.Errorf("fleet: host by identifier: %w: %w", err, inventory.ErrUnavailable)
		}
		return h, nil
	}
	return nil, fmt.Errorf("fleet: %s: %w", q.IP, inventory.ErrHostNotFound)
}

// better prefers an online host, then the one seen last (a re-enrolled Mac
// can leave a stale record holding the same address).
func better(a, b *Host) bool {
	if (a.Status == "online") != (b.Status == "online") {
		return a.Status == "online"
	}
	return a.SeenTime > b.SeenTime // RFC 3339 strings in UTC order lexically
}

func (p *Provider) get(ctx context.Context, path string) ([]byte, error) {
	resp, err := p.c.Do(ctx, httpx.Request{Method: http.MethodGet, URL: p.base.String() + path, Header: p.auth(), ExpectJSON: true})
	return body(resp, err)
}

func (p *Provider) auth() http.Header { return httpx.Bearer(p.cfg.Token) }

// api names Fleet in errors.
var api = httpx.API{Name: "fleet", Secret: "API token", AuthHint: "check the token and the user's role", Detail: fleetMessage}

func body(resp *httpx.Response, err error) ([]byte, error) {
	var se *httpx.StatusError
	if errors.As(err, &se) && se.Status == http.StatusNotFound {
		return nil, err // no such host: the caller tries the next lookup
	}
	if err != nil {
		return nil, api.Err(err)
	}
	return resp.Body, nil
}

// fleetMessage extracts Fleet's {"message":…} error text.
func fleetMessage(b []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &e) == nil && e.Message != "" {
		return e.Message
	}
	return httpx.Snippet(b)
}

func (p *Provider) liveQuery(ctx context.Context, id uint64, sql string) (*LiveResult, error) {
	reqBody, _ := json.Marshal(map[string]string{"query": sql})
	h := p.auth()
	h.Set("Content-Type", "application/json")
	resp, err := p.c.Do(ctx, httpx.Request{
		Method: http.MethodPost, URL: fmt.Sprintf("%s/api/v1/fleet/hosts/%d/query", p.base, id),
		Header: h, Body: reqBody, Timeout: p.cfg.LiveQueryTimeout, ExpectJSON: true,
	})
	b, err := body(resp, err)
	if err != nil {
		return nil, err
	}
	lr, err := ParseLiveQuery(b)
	if err != nil {
		return nil, fmt.Errorf("fleet: live query on host %d: %w: %w", id, err, inventory.ErrUnavailable)
	}
	switch {
	case lr.Status == "offline":
		return nil, &inventory.NoJobsError{Reason: "host is offline"}
	case lr.Error != nil && *lr.Error != "":
		return nil, fmt.Errorf("fleet: live query on host %d: %s: %w", id, *lr.Error, inventory.ErrUnavailable)
	}
	return lr, nil
}

// ParseHosts decodes the hosts list.
func ParseHosts(b []byte) ([]Host, error) {
	var r struct {
		Hosts *[]Host `json:"hosts"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decoding hosts list: %w", err)
	}
	if r.Hosts == nil {
		return nil, errors.New(`hosts list has no "hosts" array`)
	}
	return *r.Hosts, nil
}

// ParseHost decodes {"host":{…}}.
func ParseHost(b []byte) (*Host, error) {
	var r struct {
		Host *Host `json:"host"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decoding host: %w", err)
	}
	if r.Host == nil || r.Host.ID == 0 {
		return nil, errors.New(`answer has no "host" with an id`)
	}
	return r.Host, nil
}

// ParseLiveQuery decodes a live query answer.
func ParseLiveQuery(b []byte) (*LiveResult, error) {
	var lr LiveResult
	if err := json.Unmarshal(b, &lr); err != nil {
		return nil, fmt.Errorf("decoding live query answer: %w", err)
	}
	if lr.Status == "" {
		return nil, errors.New(`live query answer has no "status"`)
	}
	if len(lr.Rows) > MaxRows {
		return nil, fmt.Errorf("%d rows exceed the limit of %d", len(lr.Rows), MaxRows)
	}
	return &lr, nil
}

func flag(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "yes":
		return true, nil
	case "0", "false", "no", "":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean", s)
}

// JobsFromRows converts launchd rows (LaunchdQuery's columns).
func JobsFromRows(rows []map[string]string) ([]inventory.Job, error) {
	jobs := make([]inventory.Job, 0, len(rows))
	for i, r := range rows {
		j := inventory.Job{
			Label: r["label"], Path: r["path"], Program: r["program"], Username: r["username"],
		}
		if j.Label == "" {
			continue // osquery emits rows for plists it could not read
		}
		// An unsigned or ad-hoc signed program has no team; a malformed one
		// is dropped rather than failing the host: rules needing it then do
		// not match.
		j.TeamID, _ = inventory.ParseTeamID(r["team_identifier"])
		var err error
		for _, f := range []struct {
			col string
			dst *bool
		}{{"run_at_load", &j.RunAtLoad}, {"keep_alive", &j.KeepAlive}, {"disabled", &j.Disabled}} {
			if *f.dst, err = flag(r[f.col]); err != nil {
				return nil, fmt.Errorf("row %d %s: %w", i, f.col, err)
			}
		}
		if s := strings.TrimSpace(r["start_interval"]); s != "" {
			n, err := strconv.ParseInt(s, 10, 32)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("row %d start_interval: %q is not a number of seconds", i, s)
			}
			j.StartInterval = int(n)
		}
		if s := strings.TrimSpace(r["mtime"]); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 0 || n > 1<<40 {
				return nil, fmt.Errorf("row %d mtime: %q is not a Unix time", i, s)
			}
			j.Modified = time.Unix(n, 0).UTC()
		}
		j.ProgramArguments = splitArguments(j.Program, r["program_arguments"])
		if len(j.ProgramArguments) > inventory.MaxArguments {
			j.ProgramArguments = j.ProgramArguments[:inventory.MaxArguments]
		}
		jobs = append(jobs, j)
	}
	return jobs, nil
}

// splitArguments undoes osquery's space join as well as it can: the program
// path, which often contains spaces ("Application Support"), is restored
// when the Program key is set; the other words split on spaces.
func splitArguments(program, joined string) []string {
	if joined == "" {
		return nil
	}
	if program != "" && (joined == program || strings.HasPrefix(joined, program+" ")) {
		return append([]string{program}, strings.Fields(joined[len(program):])...)
	}
	return strings.Fields(joined)
}

// ApplyCalendarRows fills StartCalendarInterval from plist-table rows
// (CalendarQuery's columns). The plist table flattens the value: a single
// dictionary gives subkeys "Minute", an array gives "0/Minute", "1/Hour".
func ApplyCalendarRows(jobs []inventory.Job, rows []map[string]string) error {
	type key struct {
		path string
		idx  int
	}
	vals := map[key]map[string]int64{}
	maxIdx := map[string]int{}
	for i, r := range rows {
		sub := r["subkey"]
		idx, field := 0, sub
		if a, b, ok := strings.Cut(sub, "/"); ok {
			n, err := strconv.Atoi(a)
			if err != nil || n < 0 || n >= inventory.MaxCalendars {
				return fmt.Errorf("row %d subkey %q: bad array index", i, sub)
			}
			idx, field = n, b
		}
		if !contains(inventory.CalendarKeys, field) {
			continue // launchd ignores unknown keys too
		}
		v, err := strconv.ParseInt(strings.TrimSpace(r["value"]), 10, 64)
		if err != nil {
			return fmt.Errorf("row %d %s: %q is not an integer", i, sub, r["value"])
		}
		k := key{r["path"], idx}
		if vals[k] == nil {
			vals[k] = map[string]int64{}
		}
		vals[k][field] = v
		maxIdx[r["path"]] = max(maxIdx[r["path"]], idx)
	}
	for ji := range jobs {
		top, ok := maxIdx[jobs[ji].Path]
		if !ok {
			continue
		}
		var cal []inventory.Calendar
		for idx := 0; idx <= top; idx++ {
			m := vals[key{jobs[ji].Path, idx}]
			if m == nil {
				continue
			}
			c, err := inventory.CalendarFrom(func(k string, lo, hi int64) (int64, bool, error) {
				v, ok := m[k]
				if ok && (v < lo || v > hi) {
					return 0, false, fmt.Errorf("%s %s=%d is outside %d..%d", jobs[ji].Path, k, v, lo, hi)
				}
				return v, ok, nil
			})
			if err != nil {
				return err
			}
			cal = append(cal, c)
		}
		jobs[ji].StartCalendarInterval = cal
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
