// Command launchtap-flood writes a flood capture (package floodcap): a port
// scan of -packets distinct destinations with a Mac's beacon interleaved.
// `make bench` replays it beside tcpdump. It is a test tool, not part of the
// sensor.
//
//	launchtap-flood -packets 2000000 -o /tmp/launchtap-flood.pcap
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/launchtap/launchtap/internal/floodcap"
	"github.com/launchtap/launchtap/internal/synth"
)

func main() {
	packets := flag.Int("packets", 2_000_000, "scan SYNs to write (the beacon's packets come on top)")
	rate := flag.Int("rate", 100_000, "scan SYNs per second of capture time")
	out := flag.String("o", "", "output capture (.pcap or .pcapng)")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: launchtap-flood [-packets N] [-rate PPS] -o FILE")
		os.Exit(2)
	}
	if err := run(*out, floodcap.Options{Packets: *packets, Rate: *rate}); err != nil {
		fmt.Fprintln(os.Stderr, "launchtap-flood:", err)
		os.Exit(1)
	}
}

func run(path string, o floodcap.Options) error {
	w, err := synth.CreateFile(path)
	if err != nil {
		return err
	}
	if err := floodcap.Write(w, o); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}
