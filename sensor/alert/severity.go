package alert

import "fmt"

// Severity is how urgently an alert asks for a look. Its JSON form is the
// lower-case word, part of the alert contract.
type Severity string

// Severities, most urgent first.
const (
	SeverityHigh   Severity = "high"
	SeverityMedium Severity = "medium"
	SeverityLow    Severity = "low"
)

// OSPolicy says which hosts may alert (--os).
type OSPolicy string

// OS policies.
const (
	// OSPolicyMacOS: only macOS hosts alert; hosts of unknown OS alert at
	// low severity when the beacon is strong. The default.
	OSPolicyMacOS OSPolicy = "macos"
	// OSPolicyAny: every host alerts.
	OSPolicyAny OSPolicy = "any"
)

// ParseOSPolicy reads a policy name; "" is the default, OSPolicyMacOS.
func ParseOSPolicy(s string) (OSPolicy, error) {
	switch OSPolicy(s) {
	case "", OSPolicyMacOS:
		return OSPolicyMacOS, nil
	case OSPolicyAny:
		return OSPolicyAny, nil
	}
	return "", fmt.Errorf("%q is not macos or any", s)
}

// HostOS is what a finding's source host is known to run, as the OS
// policy asks it.
type HostOS struct {
	MacOS      bool    // macOS
	Unknown    bool    // not known; neither: known and not macOS
	Confidence float64 // in the OS
}

// Judge is the severity p gives a finding of score from a host of os, and
// for a host of unknown OS alerted because the beacon is strong, the reason
// the alert says so; ok is false where p suppresses the finding: a host
// known not to run macOS, or of unknown OS with score below unknownMin.
func (p OSPolicy) Judge(score float64, os HostOS, unknownMin float64) (sev Severity, reason string, ok bool) {
	sev = SeverityMedium
	if score >= 0.8 && os.MacOS && os.Confidence >= 0.7 {
		sev = SeverityHigh
	}
	if p == OSPolicyAny || os.MacOS {
		return sev, "", true
	}
	if !os.Unknown || score < unknownMin {
		return "", "", false
	}
	return SeverityLow, fmt.Sprintf("source host's OS is not known: alerted because the beacon is strong (score %.2f >= %.2f), at low severity",
		score, unknownMin), true
}

// String returns the policy's name.
func (p OSPolicy) String() string { return string(p) }

// Type names the flag's value in help (pflag.Value).
func (p *OSPolicy) Type() string { return "policy" }

// Set parses a flag value, so an OSPolicy is a flag.Value.
func (p *OSPolicy) Set(s string) error {
	v, err := ParseOSPolicy(s)
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// Rank orders severities: high 3, medium 2, low 1, anything else 0.
func (s Severity) Rank() int {
	switch s {
	case SeverityHigh:
		return 3
	case SeverityMedium:
		return 2
	case SeverityLow:
		return 1
	}
	return 0
}
