// Package jamftest is an httptest Jamf Pro server for tests. It follows the
// documented Jamf Pro API behaviour the provider relies on: OAuth client
// credentials at /api/oauth/token (form body, access_token + expires_in,
// 401 {"error":"invalid_client"} for bad credentials); Bearer tokens that
// expire, answering 401 with Jamf's {"httpStatus":401,"errors":[{"code":
// "INVALID_TOKEN"}]}; /api/v1/computers-inventory with repeated section
// parameters (sections not requested come back null), 0-based page and
// page-size, totalCount, and RSQL == filters on general.lastReportedIp,
// general.lastIpAddress, hardware.macAddress (stored upper-case, compared
// exactly), general.name and hardware.serialNumber. Faults can be injected.
package jamftest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/launchtap/launchtap/internal/apitest"
)

// Computer is one managed Mac.
type Computer struct {
	ID             int
	Name           string
	Serial         string
	MAC            string // upper-case, as Jamf stores it
	LastReportedIP string
	LastIPAddress  string // NAT / VPN egress as Jamf saw it
	LastContact    time.Time
	OSVersion      string
	Username       string
	EAs            map[string]string // extension attribute name → value
}

// Fault is an injected answer for the next request whose path has Path as prefix.
type Fault = apitest.Fault

// Server is the fake.
type Server struct {
	*httptest.Server
	ClientID, ClientSecret string
	TokenTTL               time.Duration

	mu        sync.Mutex
	computers []Computer
	tokens    map[string]time.Time
	faults    apitest.Faults

	TokenRequests, InventoryRequests, InvalidToken atomic.Int64
	LastQuery                                      atomic.Value // url.Values as string
}

// New starts the fake.
func New(id, secret string, cs ...Computer) *Server {
	s := &Server{ClientID: id, ClientSecret: secret, TokenTTL: time.Minute, computers: cs, tokens: map[string]time.Time{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// RevokeAll invalidates every issued token (a Jamf restart, a rotated key).
func (s *Server) RevokeAll() {
	s.mu.Lock()
	s.tokens = map[string]time.Time{}
	s.mu.Unlock()
}

// Inject queues faults.
func (s *Server) Inject(f ...Fault) {
	s.faults.Inject(f...)
}

// SetEA changes an extension attribute value.
func (s *Server) SetEA(id int, name, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.computers {
		if s.computers[i].ID == id {
			if s.computers[i].EAs == nil {
				s.computers[i].EAs = map[string]string{}
			}
			s.computers[i].EAs[name] = value
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]any{"httpStatus": status, "errors": []map[string]any{{"code": code, "description": desc, "id": "0", "field": nil}}})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if f := s.faults.Take(r.URL.Path); f != nil {
		switch {
		case f.HTML:
			w.Header().Set("Content-Type", "text/html;charset=UTF-8")
			w.WriteHeader(max(f.Status, 200))
			fmt.Fprint(w, "<html><head><title>Jamf Pro is starting up</title></head><body>Please wait</body></html>")
		case f.HugeBytes > 0:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"totalCount":1,"results":[{"id":"1","general":{"name":"`)
			chunk := strings.Repeat("A", 64<<10)
			for n := 0; n < f.HugeBytes; n += len(chunk) {
				fmt.Fprint(w, chunk)
			}
			fmt.Fprint(w, `"}}]}`)
		default:
			if f.RetryAfter != "" {
				w.Header().Set("Retry-After", f.RetryAfter)
			}
			apiError(w, f.Status, strings.ToUpper(strings.ReplaceAll(http.StatusText(f.Status), " ", "_")), http.StatusText(f.Status))
		}
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/api/oauth/token":
		s.token(w, r)
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/computers-inventory":
		if !s.authorised(r) {
			s.InvalidToken.Add(1)
			apiError(w, http.StatusUnauthorized, "INVALID_TOKEN", "Unauthorized")
			return
		}
		s.inventory(w, r)
	default:
		apiError(w, http.StatusNotFound, "NOT_FOUND", "Not Found")
	}
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	s.TokenRequests.Add(1)
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") || r.ParseForm() != nil {
		writeJSON(w, 400, map[string]string{"error": "invalid_request"})
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		writeJSON(w, 400, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	if r.PostForm.Get("client_id") != s.ClientID || r.PostForm.Get("client_secret") != s.ClientSecret {
		writeJSON(w, 401, map[string]string{"error": "invalid_client"})
		return
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	tok := "eyJ" + hex.EncodeToString(b)
	s.mu.Lock()
	s.tokens[tok] = time.Now().Add(s.TokenTTL)
	s.mu.Unlock()
	writeJSON(w, 200, map[string]any{"access_token": tok, "scope": "api-role:2", "token_type": "Bearer", "expires_in": int(s.TokenTTL.Seconds())})
}

func (s *Server) authorised(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[tok]
	return ok && time.Now().Before(exp)
}

var filterFields = map[string]func(c *Computer) string{
	"general.lastReportedIp": func(c *Computer) string { return c.LastReportedIP },
	"general.lastIpAddress":  func(c *Computer) string { return c.LastIPAddress },
	"hardware.macAddress":    func(c *Computer) string { return c.MAC },
	"general.name":           func(c *Computer) string { return c.Name },
	"hardware.serialNumber":  func(c *Computer) string { return c.Serial },
}

func (s *Server) inventory(w http.ResponseWriter, r *http.Request) {
	s.InventoryRequests.Add(1)
	q := r.URL.Query()
	s.LastQuery.Store(q.Encode())
	page, _ := strconv.Atoi(q.Get("page"))
	size := 100
	if v := q.Get("page-size"); v != "" {
		size, _ = strconv.Atoi(v)
	}
	if size <= 0 || size > 2000 || page < 0 {
		apiError(w, 400, "INVALID_PAGINATION", "page-size must be 1..2000")
		return
	}
	match := func(*Computer) bool { return true }
	if f := q.Get("filter"); f != "" {
		field, val, ok := strings.Cut(f, "==")
		get, known := filterFields[field]
		if !ok || !known || len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' {
			apiError(w, 400, "INVALID_FIELD", "Invalid RSQL filter "+f)
			return
		}
		want := strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(val[1 : len(val)-1])
		match = func(c *Computer) bool { return get(c) == want }
	}
	sections := map[string]bool{}
	for _, sct := range q["section"] {
		sections[sct] = true
	}
	if len(sections) == 0 {
		sections["GENERAL"] = true
	}
	s.mu.Lock()
	var hits []Computer
	for i := range s.computers {
		if match(&s.computers[i]) {
			hits = append(hits, s.computers[i])
		}
	}
	s.mu.Unlock()
	sort.Slice(hits, func(a, b int) bool { return hits[a].ID < hits[b].ID })
	lo := min(page*size, len(hits))
	hi := min(lo+size, len(hits))
	results := []any{}
	for _, c := range hits[lo:hi] {
		results = append(results, render(c, sections))
	}
	writeJSON(w, 200, map[string]any{"totalCount": len(hits), "results": results})
}

func render(c Computer, sections map[string]bool) map[string]any {
	out := map[string]any{"id": strconv.Itoa(c.ID), "udid": fmt.Sprintf("UDID-%d", c.ID)}
	for _, k := range []string{"general", "hardware", "operatingSystem", "userAndLocation", "extensionAttributes", "applications", "diskEncryption"} {
		out[k] = nil
	}
	if sections["GENERAL"] {
		out["general"] = map[string]any{
			"name": c.Name, "lastIpAddress": c.LastIPAddress, "lastReportedIp": c.LastReportedIP,
			"lastContactTime": c.LastContact.UTC().Format("2006-01-02T15:04:05.000Z"), "platform": "Mac",
			"extensionAttributes": []any{},
		}
	}
	if sections["HARDWARE"] {
		out["hardware"] = map[string]any{"serialNumber": c.Serial, "macAddress": c.MAC, "altMacAddress": nil, "model": "MacBook Pro (14-inch, 2023)"}
	}
	if sections["OPERATING_SYSTEM"] {
		out["operatingSystem"] = map[string]any{"name": "macOS", "version": c.OSVersion, "build": "23F79"}
	}
	if sections["USER_AND_LOCATION"] {
		out["userAndLocation"] = map[string]any{"username": c.Username, "realname": "", "email": ""}
	}
	if sections["EXTENSION_ATTRIBUTES"] {
		eas := []any{}
		names := make([]string, 0, len(c.EAs))
		for n := range c.EAs {
			names = append(names, n)
		}
		sort.Strings(names)
		for i, n := range names {
			eas = append(eas, map[string]any{
				"definitionId": strconv.Itoa(i + 1), "name": n, "description": "", "enabled": true, "multiValue": false,
				"values": []string{c.EAs[n]}, "dataType": "STRING", "options": nil, "inputType": "SCRIPT",
			})
		}
		out["extensionAttributes"] = eas
	}
	return out
}

// EAJob is one job as the extension attribute script reports it.
type EAJob struct {
	Path  string
	Owner string
	MTime int64
	Plist map[string]any // launchd keys as plutil converts them to JSON
	Error string
	// TeamID is what codesign -dv reports for the program (format
	// version 2); "" leaves it out, as the script does for unsigned programs.
	TeamID string
}

// EAValue renders the attribute script's output (format version 2) for
// these jobs.
func EAValue(jobs ...EAJob) string {
	list := []any{}
	for _, j := range jobs {
		m := map[string]any{"path": j.Path, "owner": j.Owner, "mtime": j.MTime}
		if j.TeamID != "" {
			m["team_id"] = j.TeamID
		}
		if j.Error != "" {
			m["error"] = j.Error
		} else {
			m["plist"] = j.Plist
		}
		list = append(list, m)
	}
	b, _ := json.Marshal(map[string]any{"v": 2, "generated": "2026-11-25T08:00:00Z", "truncated": false, "jobs": list})
	return "<result>" + string(b) + "</result>"
}
