// Package eval measures launchtap's periodicity detection on the labelled
// evaluation scenarios of internal/synth. For each scenario and seed it
// writes the capture, replays it through a launchtap binary (once with the
// default --os macos, once with --os any), matches the alerts against the
// ground-truth labels, and scores the same pairs with a reimplementation of
// RITA v5's beacon score computed from the capture's connection records
// (Run). Summarise turns the runs into per-pair rows, recall, precision,
// false alerts and the targets missed; Report.Write prints them.
//
// The command cmd/launchtap-eval is a thin wrapper around this package.
package eval
