// Command launchtap is a passive network sensor that finds macOS
// LaunchAgents and LaunchDaemons making periodic external connections
// (MITRE ATT&CK AN1115).
//
//	launchtap replay [flags] CAPTURE...   replay pcap/pcapng files, print alerts
//	launchtap run -i IFACE [flags]        capture live from a tap or span port
//	launchtap hosts [flags] CAPTURE...    print the passive host table
//	launchtap baseline check [FILE]       validate a baseline, print its rules, warn about weak ones
//	launchtap report --state-dir DIR      the evidence report (HTML, JSON)
//
// Every flag can also be set from a YAML file given with --config.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1 // the run failed
	exitUsage   = 2 // bad flags, config or input
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func dispatch(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "replay":
		return runReplay(ctx, args[1:], stdin, stdout, stderr)
	case "run":
		return runLive(ctx, args[1:], stdout, stderr)
	case "hosts":
		return runHosts(ctx, args[1:], stdout, stderr)
	case "baseline":
		return runBaseline(args[1:], stdout, stderr)
	case "report":
		return runReport(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "launchtap", version)
		return exitOK
	case "help", "-h", "--help", "-help":
		usage(stdout)
		return exitOK
	}
	fmt.Fprintf(stderr, "launchtap: unknown command %q\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  launchtap replay [flags] CAPTURE...   replay pcap/pcapng files (gzip, directories, - for stdin); alerts as JSON Lines on stdout
  launchtap run -i IFACE [flags]        live capture (AF_PACKET + eBPF pre-filter) until SIGINT/SIGTERM; SIGHUP reloads
  launchtap hosts [flags] CAPTURE...    print the passive host table (OS, confidence, evidence) as JSON Lines
  launchtap baseline check [FILE]       validate a baseline file, print the effective rules, warn about weak or broad ones
  launchtap report --state-dir DIR [--since 7d] [--html FILE] [--json FILE]
                                        the evidence report: coverage, periodic communicators, alerts, baseline hygiene
  launchtap version

Run "launchtap COMMAND -h" for the flags of a command.
`)
}
