// Package kandjitest is an httptest Kandji (Iru Endpoint Management) server
// for tests, following the documented API: Bearer token auth with
// {"error":"Unauthorized"} bodies; GET /api/v1/devices with a required
// limit (at most 300), offset, mac_address (exact) and device_name
// ("containing") filters, answering a JSON array; GET
// /api/v1/prism/launch_agents_and_daemons with a JSON filter such as
// {"device_id":{"in":[…]}}, limit ≤ 300 and offset, answering
// {"offset","limit","total","data","cursor"} with program_arguments joined
// by ", " and nulls for unset keys.
package kandjitest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/launchtap/launchtap/enrich/inventory"
)

// Device is one enrolled device.
type Device struct {
	ID, Name, Serial, MAC, Platform, OS, UserEmail string
	Jobs                                           []inventory.Job
}

// Server is the fake.
type Server struct {
	*httptest.Server
	Token   string
	devices []Device

	DeviceRequests, PrismRequests atomic.Int64
}

// New starts the fake.
func New(token string, ds ...Device) *Server {
	s := &Server{Token: token, devices: ds}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func limitOffset(q map[string][]string, required bool) (int, int, bool) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	l := get("limit")
	if l == "" && required {
		return 0, 0, false
	}
	limit := 300
	if l != "" {
		var err error
		if limit, err = strconv.Atoi(l); err != nil || limit < 1 || limit > 300 {
			return 0, 0, false
		}
	}
	offset, err := strconv.Atoi(get("offset"))
	if get("offset") != "" && (err != nil || offset < 0) {
		return 0, 0, false
	}
	return limit, offset, true
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+s.Token {
		writeJSON(w, 401, map[string]string{"error": "Unauthorized"})
		return
	}
	q := r.URL.Query()
	switch r.URL.Path {
	case "/api/v1/devices":
		s.DeviceRequests.Add(1)
		limit, offset, ok := limitOffset(q, true)
		if !ok {
			writeJSON(w, 400, map[string]string{"error": "Bad Request"})
			return
		}
		out := []any{}
		for _, d := range s.devices {
			if m := q.Get("mac_address"); m != "" && !strings.EqualFold(m, d.MAC) {
				continue
			}
			if n := q.Get("device_name"); n != "" && !strings.Contains(strings.ToLower(d.Name), strings.ToLower(n)) {
				continue
			}
			var user any = ""
			if d.UserEmail != "" {
				user = map[string]any{"email": d.UserEmail, "name": d.UserEmail, "id": "36600", "is_archived": false}
			}
			out = append(out, map[string]any{
				"device_id": d.ID, "device_name": d.Name, "model": "MacBook Pro (14-inch, 2023)", "serial_number": d.Serial,
				"platform": d.Platform, "os_version": d.OS, "last_check_in": "2026-11-25T08:00:00.000000Z", "user": user,
				"asset_tag": "", "blueprint_id": "97e4e175-1631-43f6-a02b-33fd1c748ab8", "mdm_enabled": true, "agent_installed": true,
			})
		}
		writeJSON(w, 200, out[min(offset, len(out)):min(offset+limit, len(out))])
	case "/api/v1/prism/launch_agents_and_daemons":
		s.PrismRequests.Add(1)
		limit, offset, ok := limitOffset(q, false)
		var filter map[string]map[string][]string
		if !ok || (q.Get("filter") != "" && json.Unmarshal([]byte(q.Get("filter")), &filter) != nil) {
			writeJSON(w, 400, map[string]string{"error": "Bad Request"})
			return
		}
		var rows []any
		for _, d := range s.devices {
			if ids := filter["device_id"]["in"]; ids != nil && !contains(ids, d.ID) {
				continue
			}
			for _, j := range d.Jobs {
				rows = append(rows, row(d, j))
			}
		}
		total := len(rows)
		page := rows[min(offset, total):min(offset+limit, total)]
		if page == nil {
			page = []any{}
		}
		writeJSON(w, 200, map[string]any{"offset": nil, "limit": limit, "total": total, "data": page, "cursor": nil})
	default:
		writeJSON(w, 404, map[string]string{"error": "Not Found"})
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func row(d Device, j inventory.Job) map[string]any {
	var program, args, user, interval any
	if j.Program != "" {
		program = j.Program
	}
	if len(j.ProgramArguments) > 0 {
		args = strings.Join(j.ProgramArguments, ", ")
	}
	if j.Username != "" {
		user = j.Username
	}
	if j.StartInterval > 0 {
		interval = j.StartInterval
	}
	name := j.Path[strings.LastIndexByte(j.Path, '/')+1:]
	return map[string]any{
		"device_id": d.ID, "device__name": d.Name, "device__family": "Mac", "serial_number": d.Serial,
		"path": j.Path, "file_name": name, "label": j.Label, "program": program, "run_at_load": j.RunAtLoad,
		"keep_alive": j.KeepAlive, "disabled": j.Disabled, "is_disabled": j.Disabled, "is_loaded": true,
		"group_name": nil, "user_name": user, "start_interval": interval, "program_arguments": args,
		"watch_paths": nil, "queue_directories": nil, "service_domain": "System Agent", "pid": nil,
	}
}
