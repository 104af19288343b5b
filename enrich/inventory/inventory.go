// Package inventory holds the provider-neutral view of a managed device and
// its launchd jobs that every enrichment provider (file, Fleet, Jamf,
// Kandji) returns and the matcher ranks, plus the strict decoder of the
// launchd job schema shared by the file inventory and the Jamf extension
// attribute.
package inventory

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/launchtap/launchtap/sensor/hostid"
)

// Host is one managed device as an inventory describes it.
type Host struct {
	Serial    string
	Hostname  string
	Platform  hostid.Platform // "" when the inventory does not say
	OSVersion string
	User      string
	MACs      []string // lower-case, colon separated
	IPs       []netip.Addr
	Jobs      []Job
	// CalendarComplete is false when the provider did not read
	// StartCalendarInterval (Fleet reads it only when the interval jobs do
	// not explain the period); the service then refetches when it matters.
	CalendarComplete bool
	// Ref is the provider's own identifier (Fleet host id, Jamf computer id,
	// Kandji device id).
	Ref string
}

// Job is one launchd job (LaunchAgent or LaunchDaemon).
type Job struct {
	Label                 string
	Path                  string
	Program               string
	ProgramArguments      []string
	RunAtLoad             bool
	KeepAlive             bool
	Disabled              bool
	StartInterval         int // seconds, 0 when unset
	StartCalendarInterval []Calendar
	Username              string
	TeamID                string    // code-signing team identifier of the program; "" when the provider gives none
	Modified              time.Time // zero when unknown
}

// Any marks a StartCalendarInterval field that is not set (launchd: "any").
const Any = -1

// Calendar is one StartCalendarInterval dictionary; unset fields are Any.
type Calendar struct {
	Minute, Hour, Day, Weekday, Month int
}

// Query is what the service knows about the alert's source host.
type Query struct {
	IP       netip.Addr
	MAC      string // lower-case colon form, "" when unknown
	Hostname string // from host identification, "" when unknown
	PeriodS  float64
}

// Provider errors. Providers wrap them with detail; callers test with errors.Is.
var (
	ErrHostNotFound = errors.New("host not found in inventory")
	ErrUnavailable  = errors.New("inventory unavailable")
)

// NoJobsError says the provider found the host but cannot tell its launchd
// jobs now: a Fleet host that is offline, a Jamf computer whose extension
// attribute has not reported yet. Host carries the identity.
type NoJobsError struct {
	Host   *Host
	Reason string
}

func (e *NoJobsError) Error() string {
	name := ""
	if e.Host != nil {
		name = e.Host.Hostname
	}
	return fmt.Sprintf("host %s: %s", name, e.Reason)
}

// Unwrap makes a host without readable jobs an unavailable inventory.
func (e *NoJobsError) Unwrap() error { return ErrUnavailable }

// Lookuper is implemented by every provider.
type Lookuper interface {
	Lookup(ctx context.Context, q Query) (*Host, error)
}

// NormalizeMAC returns the lower-case colon form of a 6-byte MAC address.
func NormalizeMAC(s string) (string, error) {
	hw, err := net.ParseMAC(strings.TrimSpace(s))
	if err != nil {
		return "", err
	}
	if len(hw) != 6 {
		return "", fmt.Errorf("%q is not a 6-byte MAC address", s)
	}
	return hw.String(), nil
}

// MACString formats a MAC address array; the zero address gives "".
func MACString(mac [6]byte) string {
	if mac == ([6]byte{}) {
		return ""
	}
	return net.HardwareAddr(mac[:]).String()
}

// NeedsCalendar reports whether StartCalendarInterval data would matter for
// an alert with this period: no interval job explains it, so a calendar job
// might.
func (h *Host) NeedsCalendar(periodS float64) bool {
	if h.CalendarComplete || periodS <= 0 || len(h.Jobs) == 0 {
		return false
	}
	for _, j := range h.Jobs {
		if j.StartInterval <= 0 {
			continue
		}
		s := float64(j.StartInterval)
		k := periodS / s
		n := float64(int(k + 0.5))
		if n >= 1 && n <= 8 && abs(k-n) <= 0.05 {
			return false
		}
	}
	return true
}

// UserFromJobs guesses the device's primary user from the home directories
// its launch agents live in, for inventories that do not name one (Fleet).
// It returns "" unless exactly one home appears.
func UserFromJobs(jobs []Job) string {
	user := ""
	for _, j := range jobs {
		rest, ok := strings.CutPrefix(j.Path, "/Users/")
		if !ok {
			continue
		}
		name, _, ok := strings.Cut(rest, "/")
		if !ok || name == "" || name == "Shared" {
			continue
		}
		if user != "" && user != name {
			return ""
		}
		user = name
	}
	return user
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
