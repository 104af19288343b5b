// Package merge is the hub's detection: it takes the beats and host
// evidence every sensor observed (for the partitions of host identity one
// hub process owns), merges the identities that name one machine across
// sensors — a MAC, an inventory serial, a hostname — runs the sensor's own
// beacon.Detector on each merged host's beats, counts fleet prevalence (the
// distinct hosts that reached a destination on a day), and turns findings
// into alerts for the alert stage the sensor uses (pipeline.AlertStage).
//
// A roaming Mac is the reason it exists: a laptop whose LaunchAgent beats
// every 2 h while its owner works mornings in one office and afternoons in
// another shows each office's sensor too few beats; the hub, keyed by the
// Mac's MAC rather than by the address each office's DHCP gave it, sees
// them all. Beats arrive in the order sensors publish them, not in capture
// time (a sensor catching up after a link cut, replays run one after the
// other), so they go to the detector through beacon.(*Detector).Late.
//
// An Engine is single-threaded: one goroutine feeds it. Every table is
// bounded (hosts, identities per host, pairs per host, prevalence
// destinations per day) with an eviction counter.
package merge
