package baseline

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

// Location is where a launchd job's plist lives.
type Location string

// Plist locations. System locations are writable only by root (and
// /System only by Apple); a user's ~/Library/LaunchAgents is writable by
// that user and by anything running as them.
const (
	LocationUnknown Location = ""       // the inventory gave no path
	LocationSystem  Location = "system" // /Library/Launch{Daemons,Agents}, /System/Library/Launch{Daemons,Agents}
	LocationUser    Location = "user"   // ~/Library/LaunchAgents
	LocationOther   Location = "other"  // anywhere else (a plist loaded by hand from /tmp, say)
)

var systemDirs = []string{"/Library/LaunchDaemons/", "/Library/LaunchAgents/", "/System/Library/LaunchDaemons/", "/System/Library/LaunchAgents/"}

// PlistLocation classifies a plist path.
func PlistLocation(plist string) Location {
	if plist == "" {
		return LocationUnknown
	}
	p := path.Clean(plist)
	for _, d := range systemDirs {
		if strings.HasPrefix(p, d) && !strings.Contains(p[len(d):], "/") {
			return LocationSystem
		}
	}
	if home, ok := homeOf(p); ok && strings.HasPrefix(p[len(home):], "/Library/LaunchAgents/") && !strings.Contains(p[len(home)+len("/Library/LaunchAgents/"):], "/") {
		return LocationUser
	}
	return LocationOther
}

// homeOf returns the home directory p lies in: /Users/NAME or /var/root.
// /Users/Shared is writable by every user and no one's home.
func homeOf(p string) (string, bool) {
	if rest, ok := strings.CutPrefix(p, "/Users/"); ok {
		if i := strings.IndexByte(rest, '/'); i > 0 && rest[:i] != "Shared" {
			return p[:len("/Users/")+i], true
		}
	}
	for _, h := range []string{"/var/root", "/private/var/root"} {
		if strings.HasPrefix(p, h+"/") {
			return h, true
		}
	}
	return "", false
}

func (l Location) describe() string {
	switch l {
	case LocationSystem:
		return "a system location (/Library or /System/Library)"
	case LocationUser:
		return "the user-writable ~/Library/LaunchAgents"
	case LocationOther:
		return "neither a system location nor ~/Library/LaunchAgents"
	}
	return "an unknown location"
}

// Rule is one approval. Every part it sets must match; an unset part
// matches anything.
type Rule struct {
	Name        string // from the file, or the pattern of a legacy entry
	Description string // what the rule approves, "the Jamf Pro agent"
	Source      string // file:line
	Builtin     bool

	Labels       []string // launchd label globs
	Programs     []string // program path prefixes; "~/" is any user's home
	TeamIDs      []string // code-signing team identifiers
	Plist        Location // "" any
	Destinations []string // name globs, addresses, CIDRs as written
	Ports        []uint16

	dests  destSet
	legacy bool // from approved_labels / approved_destinations
}

func (r *Rule) hasJob() bool {
	return len(r.Labels) > 0 || len(r.Programs) > 0 || len(r.TeamIDs) > 0 || r.Plist != LocationUnknown
}

// hasIdentity reports whether the rule names more than a label: the parts
// malware cannot simply choose.
func (r *Rule) hasIdentity() bool {
	return len(r.Programs) > 0 || len(r.TeamIDs) > 0 || r.Plist != LocationUnknown
}

func (r *Rule) portOK(p uint16) bool {
	if len(r.Ports) == 0 {
		return true
	}
	for _, q := range r.Ports {
		if q == p {
			return true
		}
	}
	return false
}

func (r *Rule) destOK(d Destination) bool {
	if !r.portOK(d.Port) {
		return false
	}
	if r.dests.empty() {
		return true
	}
	return r.dests.matches(d)
}

// Weak reports whether the rule identifies a job by its label alone: any
// program can take a label.
func (r *Rule) Weak() bool { return len(r.Labels) > 0 && !r.hasIdentity() }

// what names the rule in a reason.
func (r *Rule) what() string {
	if r.Description != "" {
		return r.Description
	}
	return fmt.Sprintf("what baseline rule %q approves", r.Name)
}

// Summary is the rule's parts on one line, as `launchtap baseline check` and
// the alerts print them.
func (r *Rule) Summary() string {
	var parts []string
	if len(r.Labels) > 0 {
		parts = append(parts, "label "+strings.Join(r.Labels, " | "))
	}
	if len(r.Programs) > 0 {
		parts = append(parts, "program under "+strings.Join(r.Programs, " | "))
	}
	if len(r.TeamIDs) > 0 {
		parts = append(parts, "team ID "+strings.Join(r.TeamIDs, " | "))
	}
	if r.Plist != LocationUnknown {
		parts = append(parts, "plist "+string(r.Plist))
	}
	if len(r.Destinations) > 0 {
		parts = append(parts, "destination "+strings.Join(r.Destinations, " | "))
	}
	if len(r.Ports) > 0 {
		ps := make([]string, len(r.Ports))
		for i, p := range r.Ports {
			ps[i] = strconv.Itoa(int(p))
		}
		parts = append(parts, "port "+strings.Join(ps, " | "))
	}
	return strings.Join(parts, ", ")
}

func (r *Rule) labelMatch(label string) (string, bool) {
	for _, g := range r.Labels {
		if m, _ := path.Match(g, label); m {
			return g, true
		}
	}
	return "", false
}

// programMatch reports whether the cleaned program path lies under one of
// the rule's prefixes. A prefix ending in "/" is a directory; one that
// does not is a file or a bundle, matched exactly or as a directory.
func (r *Rule) programMatch(prog string) bool {
	for _, pre := range r.Programs {
		if programUnder(prog, pre) {
			return true
		}
	}
	return false
}

func programUnder(prog, pre string) bool {
	if rest, ok := strings.CutPrefix(pre, "~/"); ok {
		home, ok := homeOf(prog)
		if !ok {
			return false
		}
		pre = home + "/" + rest
	}
	if strings.HasSuffix(pre, "/") {
		return strings.HasPrefix(prog, pre)
	}
	return prog == pre || strings.HasPrefix(prog, pre+"/")
}

func (r *Rule) teamMatch(team string) bool {
	for _, t := range r.TeamIDs {
		if t == team {
			return true
		}
	}
	return false
}
