// Command livecap measures the live capture layer on its own: it opens
// live.Open with the same flags `launchtap run` takes, decodes every frame on
// each worker (the pipeline's first stage), and on SIGINT/SIGTERM prints one
// JSON object with the kernel, filter and user-space counts and the CPU time
// used. deploy/bench-live.sh drives it; it is a test tool, not part of the
// sensor.
//
//	livecap -i IFACE [--workers N] [--no-bpf] [--stats FILE] ...
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/launchtap/launchtap/sensor/capture"
	"github.com/launchtap/launchtap/sensor/capture/live"
	"github.com/launchtap/launchtap/sensor/decode"
	"golang.org/x/sys/unix"
)

// Summary is livecap's output. Keys match what bench-live.sh reads.
type Summary struct {
	Interfaces    []string `json:"interfaces"`
	Workers       int      `json:"workers"`
	BPF           bool     `json:"bpf"`
	Seconds       float64  `json:"seconds"`
	CPUSeconds    float64  `json:"cpu_seconds"`
	KernelPackets uint64   `json:"kernel_packets"`
	KernelDrops   uint64   `json:"kernel_drops"`
	KernelFreezes uint64   `json:"kernel_freezes"`
	Delivered     uint64   `json:"delivered"`
	Decoded       uint64   `json:"decoded"`
	DecodeErrors  uint64   `json:"decode_errors"`
	UserBytes     uint64   `json:"user_bytes"` // wire bytes of frames delivered
	FilterPassed  uint64   `json:"filter_passed"`
	FilterCounted uint64   `json:"filter_counted"`
	FilterMapFull uint64   `json:"filter_map_full"`
	FilterNoEntry uint64   `json:"filter_no_entry"`
	CountedBytes  uint64   `json:"filter_counted_bytes"`
	PassedBytes   uint64   `json:"filter_passed_bytes"`
	// seen = delivered + filter_counted + kernel_drops + undelivered (+ unaccounted)
	Seen        uint64 `json:"seen"`
	Undelivered uint64 `json:"undelivered"`
	Unaccounted uint64 `json:"unaccounted"`
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("livecap", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := live.NewConfig()
	cfg.RegisterFlags(fs)
	fs.IntVar(&cfg.Workers, "workers", 0, "capture workers (0: one per CPU)")
	fs.DurationVar(&cfg.UDPIdle, "udp-idle", 0, "UDP session idle gap the pre-filter splits sessions at (launchtap run's --udp-idle; 0: 60s)")
	fs.DurationVar(&cfg.BurstGap, "burst-gap", 0, "silence before data counts as a burst (launchtap run's --burst-gap; 0: 8s)")
	statsFile := fs.String("stats", "", "also write the summary to this file")
	duration := fs.Duration("duration", 0, "stop after this long (0: at SIGINT/SIGTERM)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}

	cpu0 := cpuTime()
	t0 := time.Now()
	c, err := live.Open(cfg, log)
	if err != nil {
		fmt.Fprintln(stderr, "livecap:", err)
		return 1
	}
	defer c.Close()

	type counts struct{ decoded, errs, bytes uint64 }
	results := make([]counts, c.Workers())
	var wg sync.WaitGroup
	for w, src := range c.Sources() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var f capture.Frame
			var p decode.Packet
			var d decode.Decoder
			var n counts
			defer func() { results[w] = n }()
			for {
				if err := src.Next(&f); err != nil {
					if errors.Is(err, capture.ErrIdle) {
						continue
					}
					if !errors.Is(err, io.EOF) {
						log.Error("reading", "worker", w, "err", err)
					}
					return
				}
				n.bytes += uint64(f.WireLen)
				if d.Decode(&f, &p) == decode.OK {
					n.decoded++
				} else {
					n.errs++
				}
			}
		}()
	}
	<-ctx.Done()
	c.Stop()
	wg.Wait()
	st, err := c.Stats()
	if err != nil {
		log.Warn("stats", "err", err)
	}
	s := Summary{
		Interfaces: cfg.Interfaces, Workers: c.Workers(), BPF: st.FilterOn,
		Seconds: time.Since(t0).Seconds(), CPUSeconds: cpuTime() - cpu0,
		KernelPackets: st.Packets, KernelDrops: st.Drops, KernelFreezes: st.Freezes, Delivered: st.Delivered,
		FilterPassed: st.Filter.Passed(), FilterCounted: st.Filter.Counted, FilterMapFull: st.Filter.PassMapFull,
		FilterNoEntry: st.Filter.PassNoEntry,
		CountedBytes:  st.Filter.CountedBytes, PassedBytes: st.Filter.PassBytes,
		Seen: st.Seen, Undelivered: st.Undelivered, Unaccounted: st.Unaccounted,
	}
	for _, r := range results {
		s.Decoded += r.decoded
		s.DecodeErrors += r.errs
		s.UserBytes += r.bytes
	}
	out, _ := json.MarshalIndent(s, "", "  ")
	fmt.Fprintln(stdout, string(out))
	if *statsFile != "" {
		if err := os.WriteFile(*statsFile, append(out, '\n'), 0o644); err != nil {
			fmt.Fprintln(stderr, "livecap:", err)
			return 1
		}
	}
	return 0
}

// cpuTime is this process's user+system CPU seconds.
func cpuTime() float64 {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
