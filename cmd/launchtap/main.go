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
// Every flag can also be set from a YAML file given with --config. The
// command tree and its flag groups are in cli.go.
package main

import (
	"context"
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
