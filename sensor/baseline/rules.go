package baseline

import "slices"

// RuleNames lists the names the matchers give when a rule approves, sorted:
// destinations for rules that approve by destination alone, jobs for rules
// that name a launchd job (label, program, team ID or plist location). The
// evidence report lists the rules that matched nothing from it.
func (b *Baseline) RuleNames() (destinations, jobs []string) {
	if b == nil {
		return nil, nil
	}
	for _, r := range b.rules {
		switch {
		case r.hasJob():
			jobs = append(jobs, r.Name)
		case r.Name != "":
			destinations = append(destinations, r.Name)
		default:
			destinations = append(destinations, r.Destinations...)
		}
	}
	slices.Sort(destinations)
	slices.Sort(jobs)
	return slices.Compact(destinations), slices.Compact(jobs)
}
