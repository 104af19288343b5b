// Command launchtap-synth writes a deterministic synthetic capture (and its
// ground-truth labels) from one of sensor/synth's scenarios: the demo, the
// bench file and the labelled evaluation scenarios.
//
//	launchtap-synth -scenario NAME -seed N -o FILE [-labels FILE] [-hosts FILE] [-packets N] [-snaplen N]
//	launchtap-synth -list
//
// FILE ends in .pcap or .pcapng, optionally followed by .gz.
package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/launchtap/launchtap/internal/synth"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("launchtap-synth", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scenario := fs.String("scenario", "demo", "scenario name (see -list)")
	seed := fs.Uint64("seed", 1, "random seed: same seed, same bytes")
	out := fs.String("o", "", "output capture: .pcap or .pcapng, optionally .gz (required)")
	labels := fs.String("labels", "", "write the ground-truth labels as JSON to this file")
	packets := fs.Int("packets", 0, "stop after this many packets (bench: its size; 0: scenario default)")
	hostsOut := fs.String("hosts", "", "write the host ground truth (synth.HostLabels) as JSON to this file")
	snap := fs.Int("snaplen", 0, "cut frames to this many captured bytes (0: full frames)")
	list := fs.Bool("list", false, "list the scenarios and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: launchtap-synth -scenario NAME -seed N -o FILE [-labels FILE] [-hosts FILE] [-packets N] [-snaplen N]\n       launchtap-synth -list\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if *list {
		for _, s := range synth.Scenarios() {
			kind := ""
			if s.Eval {
				kind = " [eval]"
			}
			fmt.Fprintf(stdout, "%-26s%s %s\n", s.Name, kind, s.Description)
		}
		return 0
	}
	if *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	if _, ok := synth.Lookup(*scenario); !ok {
		fmt.Fprintf(stderr, "launchtap-synth: unknown scenario %q (try -list)\n", *scenario)
		return 2
	}
	start := time.Now()
	lab, st, err := synth.WriteFile(*out, *labels, *scenario, *seed, synth.Options{Packets: *packets, SnapLen: *snap})
	if err != nil {
		fmt.Fprintf(stderr, "launchtap-synth: %v\n", err)
		return 1
	}
	if *hostsOut != "" {
		hosts, err := synth.HostLabels(*scenario, *seed)
		if err == nil {
			err = writeHosts(*hostsOut, hosts)
		}
		if err != nil {
			fmt.Fprintf(stderr, "launchtap-synth: %v\n", err)
			return 1
		}
	}
	el := time.Since(start)
	log.Info("wrote capture", "file", *out, "scenario", *scenario, "seed", *seed, "packets", st.Packets,
		"bytes", st.Bytes, "span", st.Last.Sub(st.First).Round(time.Second), "labels", len(lab),
		"elapsed", el.Round(time.Millisecond), "pkts_per_s", int(float64(st.Packets)/el.Seconds()))
	return 0
}

func writeHosts(path string, hosts []synth.HostLabel) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating host labels: %w", err)
	}
	if err := synth.WriteHostLabels(f, hosts); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing host labels: %w", err)
	}
	return nil
}
