package inventory

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"
)

// The launchd job schema is decoded from a generic JSON tree rather than with
// struct tags: encoding/json matches keys case-insensitively and reports
// neither the array index nor a suggestion, and an inventory whose
// "startInterval" is silently ignored would make every alert a no-match
// without anyone noticing. Unknown or mistyped keys are therefore errors that
// name the exact place and the key that was probably meant.

// JobKeys are the keys of one launchd job object, in schema order.
var JobKeys = []string{"label", "path", "program", "program_arguments", "run_at_load", "keep_alive",
	"start_interval", "start_calendar_interval", "disabled", "username", "modified", "team_id"}

// CalendarKeys are the keys of one StartCalendarInterval object (launchd's own spelling).
var CalendarKeys = []string{"Minute", "Hour", "Day", "Weekday", "Month"}

// Limits on one job, so a hostile file or attribute cannot make the matcher
// scan megabytes per alert.
const (
	MaxArguments = 256
	MaxString    = 4096
	MaxCalendars = 128
)

// DecodeTree parses JSON into a generic tree with json.Number for numbers,
// turning syntax errors into "line L column C" messages.
func DecodeTree(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, positionError(data, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		off := dec.InputOffset()
		line, col := lineCol(data, off)
		return nil, fmt.Errorf("line %d column %d: unexpected data after the top-level JSON value", line, col)
	}
	return v, nil
}

func positionError(data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := lineCol(data, max(se.Offset-1, 0))
		return fmt.Errorf("line %d column %d: %w", line, col, err)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("truncated JSON: %w", err)
	}
	return err
}

func lineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	line, col := 1, 1
	for _, b := range data[:off] {
		if b == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

// Object checks v is a JSON object whose keys are all in allowed.
func Object(v any, path string, allowed []string) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: want an object, got %s", path, kind(v))
	}
	var unknown []string
	for k := range m {
		if !contains(allowed, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		k := unknown[0]
		msg := fmt.Sprintf("%s: unknown field %q", path, k)
		if s := Suggest(k, allowed); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		} else {
			msg += fmt.Sprintf(" (known fields: %s)", strings.Join(allowed, ", "))
		}
		if len(unknown) > 1 {
			msg += fmt.Sprintf(" and %d more", len(unknown)-1)
		}
		return nil, errors.New(msg)
	}
	return m, nil
}

// Suggest returns the allowed key that k most likely misspells, or "".
// Case and separators are ignored first, so "start-interval" finds
// "StartInterval" however far apart the raw spellings are.
func Suggest(k string, allowed []string) string {
	nk := normKey(k)
	for _, a := range allowed {
		if normKey(a) == nk {
			return a
		}
	}
	best, bestD := "", 3
	for _, a := range allowed {
		if d := editDistance(normKey(a), nk); d < bestD {
			best, bestD = a, d
		}
	}
	return best
}

var keySeparators = strings.NewReplacer("_", "", "-", "", " ", "")

func normKey(s string) string { return keySeparators.Replace(strings.ToLower(s)) }

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// String reads an optional string field (absent or null gives "").
func String(m map[string]any, key, path string) (string, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s.%s: want a string, got %s", path, key, kind(v))
	}
	if len(s) > MaxString {
		return "", fmt.Errorf("%s.%s: string of %d bytes exceeds the %d-byte limit", path, key, len(s), MaxString)
	}
	return s, nil
}

// TeamID reads an optional code-signing team identifier: ten letters and
// digits, as codesign -dv prints TeamIdentifier. "not set" (an Apple
// platform binary or an ad-hoc signature) and null are "".
func TeamID(m map[string]any, key, path string) (string, error) {
	s, err := String(m, key, path)
	if err != nil {
		return "", err
	}
	t, err := ParseTeamID(s)
	if err != nil {
		return "", fmt.Errorf("%s.%s: %w", path, key, err)
	}
	return t, nil
}

// ParseTeamID normalises a team identifier; "", "not set" and null mean
// none.
func ParseTeamID(s string) (string, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	if t == "" || t == "NOT SET" {
		return "", nil
	}
	if len(t) != 10 || strings.Trim(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" {
		return "", fmt.Errorf("%q is not a team identifier (10 letters and digits)", s)
	}
	return t, nil
}

// Bool reads an optional boolean field.
func Bool(m map[string]any, key, path string) (bool, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return false, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("%s.%s: want true or false, got %s", path, key, kind(v))
	}
	return b, nil
}

// Int reads an optional integer field within [lo, hi].
func Int(m map[string]any, key, path string, lo, hi int64) (int64, bool, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return 0, false, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return 0, false, fmt.Errorf("%s.%s: want an integer, got %s", path, key, kind(v))
	}
	i, err := n.Int64()
	if err != nil {
		return 0, false, fmt.Errorf("%s.%s: want an integer, got %s", path, key, n)
	}
	if i < lo || i > hi {
		return 0, false, fmt.Errorf("%s.%s: %d is outside %d..%d", path, key, i, lo, hi)
	}
	return i, true, nil
}

// Strings reads an optional array of strings, at most max long.
func Strings(m map[string]any, key, path string, max int) ([]string, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return nil, nil
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s.%s: want an array of strings, got %s", path, key, kind(v))
	}
	if len(arr) > max {
		return nil, fmt.Errorf("%s.%s: %d entries exceed the limit of %d", path, key, len(arr), max)
	}
	out := make([]string, 0, len(arr))
	for i, e := range arr {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("%s.%s[%d]: want a string, got %s", path, key, i, kind(e))
		}
		if len(s) > MaxString {
			return nil, fmt.Errorf("%s.%s[%d]: string exceeds the %d-byte limit", path, key, i, MaxString)
		}
		out = append(out, s)
	}
	return out, nil
}

// DecodeJob decodes one launchd job object of the inventory schema.
func DecodeJob(v any, path string) (Job, error) {
	var j Job
	m, err := Object(v, path, JobKeys)
	if err != nil {
		return j, err
	}
	if j.Label, err = String(m, "label", path); err != nil {
		return j, err
	}
	if j.Label == "" {
		return j, fmt.Errorf("%s.label: missing or empty (every launchd job has a Label)", path)
	}
	if j.Path, err = String(m, "path", path); err != nil {
		return j, err
	}
	if j.Program, err = String(m, "program", path); err != nil {
		return j, err
	}
	if j.ProgramArguments, err = Strings(m, "program_arguments", path, MaxArguments); err != nil {
		return j, err
	}
	if j.RunAtLoad, err = Bool(m, "run_at_load", path); err != nil {
		return j, err
	}
	if j.KeepAlive, err = Bool(m, "keep_alive", path); err != nil {
		return j, err
	}
	if j.Disabled, err = Bool(m, "disabled", path); err != nil {
		return j, err
	}
	si, _, err := Int(m, "start_interval", path, 0, math.MaxInt32)
	if err != nil {
		return j, err
	}
	j.StartInterval = int(si)
	if j.Username, err = String(m, "username", path); err != nil {
		return j, err
	}
	if j.TeamID, err = TeamID(m, "team_id", path); err != nil {
		return j, err
	}
	mod, err := String(m, "modified", path)
	if err != nil {
		return j, err
	}
	if mod != "" {
		t, err := time.Parse(time.RFC3339, mod)
		if err != nil {
			return j, fmt.Errorf("%s.modified: %q is not an RFC 3339 time such as 2024-05-01T12:00:00Z", path, mod)
		}
		j.Modified = t.UTC()
	}
	if j.StartCalendarInterval, err = DecodeCalendars(m["start_calendar_interval"], path+".start_calendar_interval"); err != nil {
		return j, err
	}
	return j, nil
}

// DecodeCalendars decodes the schema's start_calendar_interval: an array of
// objects, or null.
func DecodeCalendars(v any, path string) ([]Calendar, error) {
	if v == nil {
		return nil, nil
	}
	arr, ok := v.([]any)
	if !ok {
		if _, isObj := v.(map[string]any); isObj {
			return nil, fmt.Errorf("%s: want an array of objects or null; wrap a single dictionary in [ ]", path)
		}
		return nil, fmt.Errorf("%s: want an array of objects or null, got %s", path, kind(v))
	}
	if len(arr) > MaxCalendars {
		return nil, fmt.Errorf("%s: %d entries exceed the limit of %d", path, len(arr), MaxCalendars)
	}
	out := make([]Calendar, 0, len(arr))
	for i, e := range arr {
		p := fmt.Sprintf("%s[%d]", path, i)
		m, err := Object(e, p, CalendarKeys)
		if err != nil {
			return nil, err
		}
		c, err := CalendarFrom(func(key string, lo, hi int64) (int64, bool, error) { return Int(m, key, p, lo, hi) })
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// CalendarFrom builds a Calendar from a field reader, checking launchd's ranges.
func CalendarFrom(get func(key string, lo, hi int64) (int64, bool, error)) (Calendar, error) {
	c := Calendar{Any, Any, Any, Any, Any}
	fields := []struct {
		key    string
		lo, hi int64
		dst    *int
	}{
		{"Minute", 0, 59, &c.Minute}, {"Hour", 0, 23, &c.Hour}, {"Day", 1, 31, &c.Day},
		{"Weekday", 0, 7, &c.Weekday}, {"Month", 1, 12, &c.Month},
	}
	for _, f := range fields {
		v, ok, err := get(f.key, f.lo, f.hi)
		if err != nil {
			return c, err
		}
		if ok {
			*f.dst = int(v)
		}
	}
	if c.Weekday == 7 {
		c.Weekday = 0 // launchd: 0 and 7 are both Sunday
	}
	return c, nil
}

// String renders a calendar entry the way launchd's plist spells it.
func (c Calendar) String() string {
	var parts []string
	add := func(k string, v int) {
		if v != Any {
			parts = append(parts, fmt.Sprintf("%s=%d", k, v))
		}
	}
	add("Month", c.Month)
	add("Day", c.Day)
	add("Weekday", c.Weekday)
	add("Hour", c.Hour)
	add("Minute", c.Minute)
	if len(parts) == 0 {
		return "{every minute}"
	}
	return "{" + strings.Join(parts, " ") + "}"
}
