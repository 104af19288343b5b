package baseline

import "slices"

// Rules lists the baseline's rules as ApprovedDestination and ApprovedLabel
// name them when they match, sorted: the evidence report lists the rules
// that matched nothing.
func (b *Baseline) Rules() (destinations, labels []string) {
	if b == nil {
		return nil, nil
	}
	for _, r := range b.exact {
		destinations = append(destinations, r)
	}
	for _, r := range b.suffix {
		destinations = append(destinations, r)
	}
	destinations = append(destinations, b.globs...)
	for _, p := range b.prefixes {
		destinations = append(destinations, p.String())
	}
	for _, r := range b.labelEx {
		labels = append(labels, r)
	}
	labels = append(labels, b.labels...)
	slices.Sort(destinations)
	slices.Sort(labels)
	return slices.Compact(destinations), slices.Compact(labels)
}
