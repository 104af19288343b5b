package baseline

import (
	"fmt"
	"path"
	"strings"
)

// Job is what an inventory says about a launchd job.
type Job struct {
	Label   string
	Plist   string // the plist's path
	Program string // Program, else ProgramArguments[0]
	TeamID  string // code-signing team identifier; "" when no provider gives it
}

// Verdict is a baseline's judgement of one launchd job.
type Verdict struct {
	// Approved: a rule's every part matches, destination included.
	Approved bool
	// Masquerade: the job's label matches a rule that names more than a
	// label, and the program, the plist's location or the team ID
	// contradicts it. Masquerading is itself evidence.
	Masquerade bool
	// Rule is the approving rule, the one the job poses as, or the one it
	// nearly matches; nil when no rule concerns the job.
	Rule *Rule
	// Why is one plain-language line for the job's reasons; "" with Rule nil.
	Why string
}

// JudgeJob judges job j, the launchd job enrichment found, for traffic to d.
// A rule approves when every part it sets matches. Where no rule approves,
// the verdict says what came closest, most telling first: a masquerade, a
// rule that approves the job only towards other destinations, a rule whose
// part the inventory cannot confirm (no team ID, no program path).
func (b *Baseline) JudgeJob(j Job, d Destination) Verdict {
	if b == nil {
		return Verdict{}
	}
	prog := ""
	if p := strings.TrimSpace(j.Program); p != "" {
		prog = path.Clean(p) // "/Library/JAMF/../../Users/x" is not under /Library/JAMF
	}
	loc := PlistLocation(j.Plist)
	team := strings.ToUpper(strings.TrimSpace(j.TeamID))
	var masq, near, unsure Verdict
	for _, r := range b.jobRules {
		glob := ""
		if len(r.Labels) > 0 {
			g, ok := r.labelMatch(j.Label)
			if !ok {
				continue
			}
			glob = g
		}
		var contra, missing []string
		progOK := false
		if len(r.Programs) > 0 {
			switch {
			case prog == "":
				missing = append(missing, "the inventory gives no program path")
			case !r.programMatch(prog):
				contra = append(contra, fmt.Sprintf("the program %s is not under %s", prog, strings.Join(r.Programs, " or ")))
			default:
				progOK = true
			}
		}
		if r.Plist != LocationUnknown {
			switch {
			case loc == LocationUnknown:
				missing = append(missing, "the inventory gives no plist path")
			case loc != r.Plist:
				contra = append(contra, fmt.Sprintf("the plist is in %s, not %s", loc.describe(), r.Plist.describe()))
			}
		}
		if len(r.TeamIDs) > 0 {
			switch {
			case team == "":
				missing = append(missing, fmt.Sprintf("the inventory gives no team ID (the rule needs %s)", strings.Join(r.TeamIDs, " or ")))
			case !r.teamMatch(team):
				contra = append(contra, fmt.Sprintf("the program is signed by team %s, not %s", team, strings.Join(r.TeamIDs, " or ")))
			}
		}
		switch {
		case len(contra) == 0 && len(missing) == 0:
			if r.destOK(d) {
				return Verdict{Approved: true, Rule: r, Why: approvedWhy(r)}
			}
			if near.Rule == nil {
				near = Verdict{Rule: r, Why: fmt.Sprintf("is %s (baseline rule %q) but the rule approves it only towards %s", r.what(), r.Name, r.towards())}
			}
		case len(contra) > 0 && glob != "" && r.hasIdentity():
			if masq.Rule == nil {
				masq = Verdict{Masquerade: true, Rule: r, Why: fmt.Sprintf("label %s matches baseline rule %q (%s) but %s: not %s",
					j.Label, r.Name, glob, strings.Join(contra, ", and "), r.what())}
			}
		case len(contra) == 0 && (glob != "" || progOK):
			if unsure.Rule == nil {
				unsure = Verdict{Rule: r, Why: fmt.Sprintf("may be %s (baseline rule %q) but %s: not approved", r.what(), r.Name, strings.Join(missing, ", and "))}
			}
		}
	}
	for _, v := range []Verdict{masq, near, unsure} {
		if v.Rule != nil {
			return v
		}
	}
	return Verdict{}
}

func approvedWhy(r *Rule) string {
	if r.legacy {
		return fmt.Sprintf("label approved by baseline rule %q", r.Name)
	}
	s := fmt.Sprintf("approved by baseline rule %q (%s)", r.Name, r.jobSummary())
	if r.Description != "" {
		s += ": " + r.Description
	}
	return s
}

func (r *Rule) jobSummary() string {
	c := *r
	c.Destinations, c.Ports = nil, nil
	return c.Summary()
}

func (r *Rule) towards() string {
	c := Rule{Destinations: r.Destinations, Ports: r.Ports}
	s := c.Summary()
	return strings.TrimPrefix(s, "destination ")
}
