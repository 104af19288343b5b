// Package synth generates deterministic synthetic network traffic for tests,
// the demo and the labelled evaluation. It is not part of the sensor's data
// path: nothing under cmd/launchtap imports it at run time.
//
// A scenario (see Scenarios) is a small simulated network — Macs, iPhones,
// Windows and Linux hosts with the TCP/IP personalities of their real stacks,
// an internal DNS resolver at 10.20.0.53, DHCP, mDNS, NTP, browsing noise and
// planted beacons — run on a simulated clock. Generate writes its Ethernet
// frames in timestamp order to a PacketWriter (pcapgo's pcap and pcapng writers
// satisfy it) and returns the ground truth as Labels: one per labelled
// (source, destination, port, protocol) pair, with the beats actually emitted.
//
// Everything is a pure function of (scenario, seed, Options): the same inputs
// produce the same bytes on every machine. No wall clock is read.
package synth
