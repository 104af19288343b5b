// Package fleettest is an httptest Fleet server for tests. It follows the
// documented Fleet REST API behaviour the provider relies on: Bearer token
// auth with Fleet's JSON error body, substring host search over hostname,
// serial and IP with 0-based pages, lookup by identifier with 404, and ad hoc
// live queries whose rows are all strings (booleans "1"/"0",
// program_arguments space-joined), offline hosts answering status "offline"
// with rows null at once, slow hosts answering 200 with error "timeout
// waiting for results". Faults can be injected: 429 with Retry-After, 5xx,
// HTML error pages, oversized bodies.
package fleettest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/launchtap/launchtap/enrich/inventory"
	"github.com/launchtap/launchtap/internal/apitest"
)

// Host is one enrolled host.
type Host struct {
	ID       uint64
	Hostname string
	Serial   string
	IP       string
	MAC      string
	Platform string // darwin, windows, ubuntu…
	OS       string // "macOS 14.5"
	Offline  bool
	Slow     bool // live queries time out
	Jobs     []inventory.Job
}

// Fault is an injected answer for the next matching request.
type Fault = apitest.Fault

// Server is the fake.
type Server struct {
	*httptest.Server
	Token     string
	SlowDelay time.Duration // how long a slow host takes to time out (Fleet: ~25 s)

	mu     sync.Mutex
	hosts  []Host
	faults apitest.Faults

	Searches, Identifiers, LiveQueries, CalendarQueries, Unauthorized atomic.Int64
}

// New starts a fake with the given hosts.
func New(token string, hosts ...Host) *Server {
	s := &Server{Token: token, hosts: hosts, SlowDelay: 200 * time.Millisecond}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// NewTLS starts the fake over TLS (a self-signed certificate).
func NewTLS(token string, hosts ...Host) *Server {
	s := &Server{Token: token, hosts: hosts, SlowDelay: 200 * time.Millisecond}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	return s
}

// Inject queues faults, served in order.
func (s *Server) Inject(f ...Fault) {
	s.faults.Inject(f...)
}

// SetOffline changes a host's connectivity.
func (s *Server) SetOffline(id uint64, off bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.hosts {
		if s.hosts[i].ID == id {
			s.hosts[i].Offline = off
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func fleetError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"message": msg, "errors": []map[string]string{{"name": "base", "reason": msg}}})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if f := s.faults.Take(r.URL.Path); f != nil {
		switch {
		case f.HTML:
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(max(f.Status, 200))
			fmt.Fprint(w, "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>")
		case f.HugeBytes > 0:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"hosts":[`)
			chunk := strings.Repeat(`{"id":1,"hostname":"x"},`, 1000)
			for n := 0; n < f.HugeBytes; n += len(chunk) {
				fmt.Fprint(w, chunk)
			}
			fmt.Fprint(w, `{"id":1}]}`)
		default:
			if f.RetryAfter != "" {
				w.Header().Set("Retry-After", f.RetryAfter)
			}
			fleetError(w, f.Status, http.StatusText(f.Status))
		}
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.Token {
		s.Unauthorized.Add(1)
		fleetError(w, http.StatusUnauthorized, "Authentication required")
		return
	}
	p := r.URL.Path
	switch {
	case r.Method == http.MethodGet && p == "/api/v1/fleet/hosts":
		s.search(w, r)
	case r.Method == http.MethodGet && strings.HasPrefix(p, "/api/v1/fleet/hosts/identifier/"):
		s.Identifiers.Add(1)
		id := strings.TrimPrefix(p, "/api/v1/fleet/hosts/identifier/")
		for _, h := range s.snapshot() {
			if h.Hostname == id || h.Serial == id {
				writeJSON(w, 200, map[string]any{"host": hostJSON(h)})
				return
			}
		}
		fleetError(w, http.StatusNotFound, "Resource Not Found")
	case r.Method == http.MethodPost && strings.HasPrefix(p, "/api/v1/fleet/hosts/") && strings.HasSuffix(p, "/query"):
		s.live(w, r)
	default:
		fleetError(w, http.StatusNotFound, "Resource Not Found")
	}
}

func (s *Server) snapshot() []Host {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Host(nil), s.hosts...)
}

func hostJSON(h Host) map[string]any {
	status := "online"
	if h.Offline {
		status = "offline"
	}
	return map[string]any{
		"id": h.ID, "hostname": h.Hostname, "computer_name": h.Hostname, "display_name": h.Hostname,
		"primary_ip": h.IP, "primary_mac": h.MAC, "hardware_serial": h.Serial, "platform": h.Platform,
		"os_version": h.OS, "status": status, "seen_time": "2026-11-25T09:00:00Z", "osquery_version": "5.13.1",
		"team_id": nil, "uuid": fmt.Sprintf("UUID-%d", h.ID),
	}
}

func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	s.Searches.Add(1)
	q := r.URL.Query()
	term := strings.ToLower(q.Get("query"))
	perPage, _ := strconv.Atoi(q.Get("per_page"))
	if perPage <= 0 {
		perPage = 100
	}
	page, _ := strconv.Atoi(q.Get("page"))
	var hits []map[string]any
	for _, h := range s.snapshot() {
		// Fleet's search is a substring match on these fields.
		if term == "" || strings.Contains(strings.ToLower(h.Hostname), term) || strings.Contains(strings.ToLower(h.Serial), term) || strings.Contains(h.IP, term) {
			hits = append(hits, hostJSON(h))
		}
	}
	lo := min(page*perPage, len(hits))
	hi := min(lo+perPage, len(hits))
	out := hits[lo:hi]
	if out == nil {
		out = []map[string]any{}
	}
	writeJSON(w, 200, map[string]any{"hosts": out})
}

func (s *Server) live(w http.ResponseWriter, r *http.Request) {
	idStr := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/v1/fleet/hosts/"), "/query")
	id, err := strconv.ParseUint(idStr, 10, 64)
	if err != nil {
		fleetError(w, 400, "invalid host id")
		return
	}
	var body struct {
		Query string `json:"query"`
	}
	if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&body) != nil || body.Query == "" {
		fleetError(w, 422, "query is required")
		return
	}
	var host *Host
	for _, h := range s.snapshot() {
		if h.ID == id {
			host = &h
		}
	}
	if host == nil {
		fleetError(w, 404, "Resource Not Found")
		return
	}
	s.LiveQueries.Add(1)
	resp := map[string]any{"host_id": id, "query": body.Query, "status": "online", "error": nil, "rows": nil}
	switch {
	case host.Offline:
		resp["status"] = "offline"
	case host.Slow:
		select {
		case <-time.After(s.SlowDelay):
		case <-r.Context().Done():
			return
		}
		resp["error"] = "timeout waiting for results"
	case strings.Contains(body.Query, "FROM launchd l LEFT JOIN file"):
		resp["rows"] = LaunchdRows(host.Jobs)
	case strings.Contains(body.Query, "JOIN plist p"):
		s.CalendarQueries.Add(1)
		resp["rows"] = CalendarRows(host.Jobs)
	default:
		resp["error"] = "no such table"
	}
	writeJSON(w, 200, resp)
}

func b(v bool) string {
	if v {
		return "1"
	}
	return "0"
}

// LaunchdRows renders jobs the way osquery's launchd table (joined with
// file for mtime, and with signature for the program's team_identifier,
// "" for an unsigned program) does: strings only, arguments space-joined,
// no calendar.
func LaunchdRows(jobs []inventory.Job) []map[string]string {
	rows := []map[string]string{}
	for _, j := range jobs {
		si := ""
		if j.StartInterval > 0 {
			si = strconv.Itoa(j.StartInterval)
		}
		mt := ""
		if !j.Modified.IsZero() {
			mt = strconv.FormatInt(j.Modified.Unix(), 10)
		}
		rows = append(rows, map[string]string{
			"path": j.Path, "label": j.Label, "program": j.Program,
			"program_arguments": strings.Join(j.ProgramArguments, " "),
			"run_at_load":       b(j.RunAtLoad), "keep_alive": b(j.KeepAlive), "disabled": b(j.Disabled),
			"username": j.Username, "start_interval": si, "mtime": mt, "team_identifier": j.TeamID,
		})
	}
	return rows
}

// CalendarRows renders StartCalendarInterval as osquery's plist table does
// for an array of dictionaries: subkey "<index>/<Key>".
func CalendarRows(jobs []inventory.Job) []map[string]string {
	rows := []map[string]string{}
	for _, j := range jobs {
		for i, c := range j.StartCalendarInterval {
			for _, kv := range []struct {
				k string
				v int
			}{{"Minute", c.Minute}, {"Hour", c.Hour}, {"Day", c.Day}, {"Weekday", c.Weekday}, {"Month", c.Month}} {
				if kv.v != inventory.Any {
					rows = append(rows, map[string]string{"path": j.Path, "subkey": fmt.Sprintf("%d/%s", i, kv.k), "value": strconv.Itoa(kv.v)})
				}
			}
		}
	}
	return rows
}
