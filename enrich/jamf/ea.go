package jamf

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/launchtap/launchtap/enrich/inventory"
)

// The extension attribute (deploy/jamf/launchd-jobs-ea.sh) prints
//
//	<result>{"v":2,"generated":"2026-11-25T09:00:00Z","truncated":false,
//	  "jobs":[{"path":"/Users/alice/Library/LaunchAgents/x.plist","owner":"alice",
//	           "mtime":1764018847,"team_id":"ABCDE12345","plist":{"Label":"x","StartInterval":300,…}},
//	          {"path":"/Library/LaunchDaemons/bad.plist","owner":"root","mtime":0,"error":"unreadable"}]}</result>
//
// where "plist" holds the job's own launchd keys as plutil converts them to
// JSON, so nothing is lost in translation (KeepAlive may be a dictionary,
// StartCalendarInterval a dictionary or an array of them).

// EAVersion is the newest format the script prints: version 2 adds, per
// job, the "team_id" codesign -dv reports for its program. Version 1 is
// still read (its jobs have no team ID).
const EAVersion = 2

// MaxEAValue bounds the attribute's text.
const MaxEAValue = 4 << 20

var (
	eaTopKeys = []string{"v", "generated", "truncated", "jobs"}
	eaJobKeys = []string{"path", "owner", "mtime", "plist", "error", "team_id"}
)

// EA is the decoded attribute.
type EA struct {
	Generated time.Time
	Truncated bool
	Jobs      []inventory.Job
	Skipped   int      // plists the script could not read or that launchtap rejected
	Problems  []string // the first few reasons, for the log
}

func (ea *EA) skip(reason string) {
	ea.Skipped++
	if len(ea.Problems) < 5 {
		ea.Problems = append(ea.Problems, reason)
	}
}

// ParseEA decodes the attribute value, with or without its <result> tags
// (Jamf stores what is between them).
func ParseEA(value string) (*EA, error) {
	if len(value) > MaxEAValue {
		return nil, fmt.Errorf("extension attribute value of %d bytes exceeds %d", len(value), MaxEAValue)
	}
	s := strings.TrimSpace(value)
	if i := strings.Index(s, "<result>"); i >= 0 {
		j := strings.LastIndex(s, "</result>")
		if j < i {
			return nil, errors.New("extension attribute: <result> without </result>")
		}
		s = s[i+len("<result>") : j]
	}
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("extension attribute is empty (the script has not reported yet)")
	}
	tree, err := inventory.DecodeTree([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("extension attribute: %w", err)
	}
	top, err := inventory.Object(tree, "ea", eaTopKeys)
	if err != nil {
		return nil, err
	}
	v, ok, err := inventory.Int(top, "v", "ea", 0, math.MaxInt32)
	if err != nil {
		return nil, err
	}
	if !ok || v < 1 || v > EAVersion {
		return nil, fmt.Errorf("ea.v: format version %d is not 1 or 2 (update launchtap or the script)", v)
	}
	ea := &EA{}
	if ea.Truncated, err = inventory.Bool(top, "truncated", "ea"); err != nil {
		return nil, err
	}
	gen, err := inventory.String(top, "generated", "ea")
	if err != nil {
		return nil, err
	}
	if gen != "" {
		if ea.Generated, err = time.Parse(time.RFC3339, gen); err != nil {
			return nil, fmt.Errorf("ea.generated: %q is not an RFC 3339 time", gen)
		}
	}
	jobs, ok := top["jobs"].([]any)
	if !ok {
		return nil, errors.New(`ea.jobs: want an array`)
	}
	if len(jobs) > 20000 {
		return nil, fmt.Errorf("ea.jobs: %d entries exceed the limit", len(jobs))
	}
	for i, jv := range jobs {
		path := fmt.Sprintf("ea.jobs[%d]", i)
		// One odd plist must not hide the others: skip it and say why.
		m, err := inventory.Object(jv, path, eaJobKeys)
		if err != nil {
			ea.skip(err.Error())
			continue
		}
		if e, _ := inventory.String(m, "error", path); e != "" || m["plist"] == nil {
			p, _ := inventory.String(m, "path", path)
			ea.skip(fmt.Sprintf("%s: %s: %s", path, p, orDefault(e, "no plist")))
			continue
		}
		j, err := jobFromPlist(m, path)
		if err != nil {
			ea.skip(err.Error())
			continue
		}
		ea.Jobs = append(ea.Jobs, j)
	}
	return ea, nil
}

func jobFromPlist(m map[string]any, path string) (inventory.Job, error) {
	var j inventory.Job
	var err error
	if j.Path, err = inventory.String(m, "path", path); err != nil {
		return j, err
	}
	owner, err := inventory.String(m, "owner", path)
	if err != nil {
		return j, err
	}
	mt, ok, err := inventory.Int(m, "mtime", path, 0, 1<<40)
	if err != nil {
		return j, err
	}
	if ok && mt > 0 {
		j.Modified = time.Unix(mt, 0).UTC()
	}
	if j.TeamID, err = inventory.TeamID(m, "team_id", path); err != nil {
		return j, err
	}
	pl, ok := m["plist"].(map[string]any)
	pp := path + ".plist"
	if !ok {
		return j, fmt.Errorf("%s: want an object", pp)
	}
	// The plist may hold any launchd key; only these are read, with their
	// documented types.
	if j.Label, err = inventory.String(pl, "Label", pp); err != nil {
		return j, err
	}
	if j.Label == "" {
		return j, fmt.Errorf("%s.Label: missing", pp)
	}
	if j.Program, err = inventory.String(pl, "Program", pp); err != nil {
		return j, err
	}
	if j.ProgramArguments, err = inventory.Strings(pl, "ProgramArguments", pp, inventory.MaxArguments); err != nil {
		return j, err
	}
	if j.RunAtLoad, err = inventory.Bool(pl, "RunAtLoad", pp); err != nil {
		return j, err
	}
	if j.Disabled, err = inventory.Bool(pl, "Disabled", pp); err != nil {
		return j, err
	}
	switch ka := pl["KeepAlive"].(type) {
	case nil:
	case bool:
		j.KeepAlive = ka
	case map[string]any:
		// Conditional KeepAlive (SuccessfulExit, NetworkState…): launchd
		// restarts the job when the condition holds.
		j.KeepAlive = len(ka) > 0
	default:
		return j, fmt.Errorf("%s.KeepAlive: want a boolean or a dictionary", pp)
	}
	si, _, err := inventory.Int(pl, "StartInterval", pp, 0, math.MaxInt32)
	if err != nil {
		return j, err
	}
	j.StartInterval = int(si)
	if j.Username, err = inventory.String(pl, "UserName", pp); err != nil {
		return j, err
	}
	if j.Username == "" && strings.HasPrefix(j.Path, "/Users/") {
		j.Username = owner
	}
	switch sc := pl["StartCalendarInterval"].(type) {
	case nil:
	case map[string]any:
		c, err := plistCalendar(sc, pp+".StartCalendarInterval")
		if err != nil {
			return j, err
		}
		j.StartCalendarInterval = []inventory.Calendar{c}
	case []any:
		if len(sc) > inventory.MaxCalendars {
			return j, fmt.Errorf("%s.StartCalendarInterval: %d entries exceed the limit", pp, len(sc))
		}
		for i, e := range sc {
			p := fmt.Sprintf("%s.StartCalendarInterval[%d]", pp, i)
			em, ok := e.(map[string]any)
			if !ok {
				return j, fmt.Errorf("%s: want a dictionary", p)
			}
			c, err := plistCalendar(em, p)
			if err != nil {
				return j, err
			}
			j.StartCalendarInterval = append(j.StartCalendarInterval, c)
		}
	default:
		return j, fmt.Errorf("%s.StartCalendarInterval: want a dictionary or an array", pp)
	}
	return j, nil
}

func plistCalendar(m map[string]any, path string) (inventory.Calendar, error) {
	if _, err := inventory.Object(m, path, inventory.CalendarKeys); err != nil {
		return inventory.Calendar{}, err
	}
	return inventory.CalendarFrom(func(k string, lo, hi int64) (int64, bool, error) { return inventory.Int(m, k, path, lo, hi) })
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
