package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/launchtap/launchtap/sensor/decode"
	"github.com/launchtap/launchtap/sensor/syslog"
)

// snapshot is every counter of the sensor at one moment: what the stats log
// line, the SENSOR-STATS syslog message and the Prometheus metrics report.
type snapshot struct {
	counters map[string]uint64 // flat name → value, for logs and syslog
	metrics  []sample
}

type sample struct {
	name, help string
	counter    bool // else gauge
	labels     []string
	labelVals  []string
	value      float64
}

// snapshotFunc collects a snapshot; the capture side (replay or live) adds its own.
func (s *sensor) snapshot(extra func(add func(sample))) snapshot {
	st := s.pipe.Stats()
	c := &s.stage.Counters
	snap := snapshot{counters: map[string]uint64{}}
	add := func(m sample) {
		snap.metrics = append(snap.metrics, m)
		key := m.name
		for _, l := range m.labelVals {
			key += "_" + l
		}
		snap.counters[key] = uint64(m.value)
	}
	ctr := func(name, help string, v uint64, lv ...string) {
		add(sample{name: name, help: help, counter: true, value: float64(v), labels: labelNames(name), labelVals: lv})
	}
	gauge := func(name, help string, v uint64) {
		add(sample{name: name, help: help, value: float64(v)})
	}
	ctr("packets", "Frames read from the capture.", st.Frames)
	ctr("bytes", "Wire bytes of the frames read.", st.Bytes)
	for k, v := range st.Decode {
		if decode.ErrKind(k) != decode.OK {
			ctr("decode_errors", "Frames not decoded to TCP/UDP, by kind.", v, decode.ErrKind(k).String())
		}
	}
	for k, v := range st.Decapsulated {
		if decode.Tunnel(k) != decode.TunnelNone {
			ctr("decapsulated", "Encapsulation layers removed (GRE, ERSPAN, VXLAN), by kind.", v, decode.Tunnel(k).String())
		}
	}
	ctr("first_fragments", "First fragments of fragmented IP datagrams (decoded).", st.FirstFrags)
	ctr("sessions", "Sessions by event.", st.Flow.SessionsStarted, "started")
	ctr("sessions", "Sessions by event.", st.Flow.SessionsJoined, "joined")
	ctr("sessions", "Sessions by event.", st.Flow.SessionsEnded, "ended")
	ctr("bursts", "Activity bursts inside long sessions.", st.Flow.Bursts)
	gauge("sessions_active", "Sessions tracked now.", st.Flow.ActiveTCP+st.Flow.ActiveUDP)
	gauge("pairs_tracked", "Pairs scored by the periodicity detector now.", st.Beacon.Pairs)
	gauge("dns_answers", "DNS answers remembered now.", st.DNS.Entries)
	gauge("hosts", "Hosts in the host-identification tables now.", uint64(st.Hosts.Hosts))
	ctr("evictions", "Entries evicted from a full table, by table.", st.Hosts.Evictions, "hosts")
	ctr("evictions", "Entries evicted from a full table, by table.", st.Hosts.BindingEvictions, "host_bindings")
	ctr("evictions", "Entries evicted from a full table, by table.", st.Flow.Evictions, "sessions")
	ctr("evictions", "Entries evicted from a full table, by table.", st.Beacon.Evictions, "pairs")
	for _, e := range []struct {
		table, class string
		v            uint64
	}{
		{"sessions", "probation", st.Flow.EvictionsProbation}, {"sessions", "protected", st.Flow.EvictionsProtected},
		{"pairs", "probation", st.Beacon.EvictionsProbation}, {"pairs", "protected", st.Beacon.EvictionsProtected},
	} {
		ctr("class_evictions", "Evictions from the scan-resistant tables, by table and class: probation (seen once) or protected (with a history).", e.v, e.table, e.class)
	}
	ctr("evictions", "Entries evicted from a full table, by table.", st.DNS.Evictions, "dns_answers")
	ctr("evictions", "Entries evicted from a full table, by table.", st.DNS.TCPEvictions, "dns_streams")
	ctr("evictions", "Entries evicted from a full table, by table.", st.DNS.MACEvictions, "dns_mac_answers")
	ctr("evictions", "Entries evicted from a full table, by table.", st.DNS.MACOwnerEvictions, "dns_mac_owners")
	ctr("evictions", "Entries evicted from a full table, by table.", st.DNSNameEvictions, "dns_names")
	ctr("dns_messages", "DNS messages by outcome.", st.DNS.Queries, "query")
	ctr("dns_messages", "DNS messages by outcome.", st.DNS.Responses, "response")
	ctr("dns_messages", "DNS messages by outcome.", st.DNS.Malformed, "malformed")
	ctr("dns_messages", "DNS messages by outcome.", st.DNS.Truncated, "truncated")
	ctr("findings", "Periodic pairs found, before host-OS policy and baseline.", st.Findings)
	ctr("alerts", "Alerts delivered.", c.Emitted.Load())
	ctr("suppressed", "Findings suppressed, by reason (one a baseline reload later releases stays counted here, and in released).", st.SuppressedOS, "host_os")
	ctr("suppressed", "Findings suppressed, by reason (one a baseline reload later releases stays counted here, and in released).", c.SuppressedDest.Load(), "baseline_dest")
	ctr("suppressed", "Findings suppressed, by reason (one a baseline reload later releases stays counted here, and in released).", c.SuppressedLabel.Load(), "approved_label")
	ctr("released", "Suppressed alerts delivered after a baseline reload withdrew the approval.", c.Released.Load())
	ctr("evictions", "Entries evicted from a full table, by table.", c.HeldEvictions.Load(), "held_alerts")
	ctr("sink_errors", "Alert deliveries that failed.", c.SinkErrors.Load())
	es := s.enrich.Stats()
	ctr("mdm_lookups", "MDM inventory lookups.", es.Lookups)
	ctr("mdm_failures", "MDM inventory lookups that failed.", es.Failures)
	for status, n := range c.EnrichmentStatus() {
		ctr("enrichment", "Alerts by enrichment status.", n, status)
	}
	if s.syslog != nil {
		for _, d := range s.syslog.Counters().Destinations {
			for _, m := range []struct {
				what string
				v    uint64
			}{{"queued", d.Queued}, {"sent", d.Sent}, {"delivered", d.Delivered}, {"retried", d.Retried}, {"dropped", d.Dropped}, {"spooled", d.Spooled}} {
				ctr("syslog_messages", "Syslog messages by destination and outcome.", m.v, d.URL, m.what)
			}
			add(sample{name: "syslog_queue_depth", help: "Syslog messages waiting per destination.", value: float64(d.Depth), labels: []string{"destination"}, labelVals: []string{d.URL}})
		}
	}
	if extra != nil {
		extra(add)
	}
	return snap
}

// labelNames names the label of the labelled metrics.
func labelNames(name string) []string {
	switch name {
	case "decode_errors", "decapsulated":
		return []string{"kind"}
	case "sessions", "dns_messages":
		return []string{"event"}
	case "evictions":
		return []string{"table"}
	case "class_evictions":
		return []string{"table", "class"}
	case "suppressed":
		return []string{"reason"}
	case "enrichment":
		return []string{"status"}
	case "syslog_messages":
		return []string{"destination", "outcome"}
	}
	return nil
}

// collector exposes snapshots to Prometheus under the launchtap_ namespace.
type collector struct{ snap func() snapshot }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	prometheus.DescribeByCollect(c, ch)
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.snap().metrics {
		name := "launchtap_" + m.name
		typ := prometheus.GaugeValue
		if m.counter {
			name += "_total"
			typ = prometheus.CounterValue
		}
		d := prometheus.NewDesc(name, m.help, m.labels, nil)
		ch <- prometheus.MustNewConstMetric(d, typ, m.value, m.labelVals...)
	}
}

// serveMetrics serves /metrics on addr until ctx is done.
func serveMetrics(ctx context.Context, addr string, snap func() snapshot, log *slog.Logger) (string, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{snap: snap})
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("metrics-addr: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	return ln.Addr().String(), nil
}

// headline reduces a snapshot's counters to what the periodic stats line
// and the SENSOR-STATS message carry: totals by name (drops, decode errors,
// evictions) rather than one entry per label, so the set stays small and its
// names fit an RFC 5424 PARAM-NAME (32 characters). Prometheus keeps the
// labelled detail.
func headline(c map[string]uint64) map[string]uint64 {
	h := map[string]uint64{}
	copyIf := func(names ...string) {
		for _, n := range names {
			if v, ok := c[n]; ok {
				h[n] = v
			}
		}
	}
	copyIf("packets", "bytes", "sessions_active", "pairs_tracked", "findings", "alerts",
		"mdm_lookups", "mdm_failures", "sink_errors",
		"kernel_drops", "kernel_freezes", "bpf_map_full", "bpf_passed",
		"bpf_counted", "capture_seen", "capture_delivered", "capture_undelivered")
	// The names the issue gives the SENSOR-STATS message.
	h["pairs"] = c["pairs_tracked"]
	h["enrichment_failures"] = c["mdm_failures"]
	// Packets are lost in the kernel only: each live worker reads its own
	// ring, and replay and the alert queue wait rather than drop.
	h["drops"] = c["kernel_drops"]
	for k, v := range c {
		switch {
		case strings.HasPrefix(k, "decode_errors_"):
			// ARP, LLDP, ICMP and the like are counted, not errors.
			if kind := strings.TrimPrefix(k, "decode_errors_"); kind != decode.ErrNotIP.String() && kind != decode.ErrOtherTransport.String() {
				h["decode_errors"] += v
			}
		case strings.HasPrefix(k, "evictions_"):
			h["evictions"] += v
		case strings.HasPrefix(k, "enrichment_"):
			h[k] = v // a handful of statuses: matched, no-match, ...
		case strings.HasPrefix(k, "syslog_messages_") && strings.HasSuffix(k, "_dropped"):
			h["syslog_dropped"] += v
		}
	}
	return h
}

// logStats writes one stats line every interval until ctx is done, and sends
// the same counters as a SENSOR-STATS syslog message when syslog is on, so a
// SIEM can tell the sensor is alive and seeing traffic.
func logStats(ctx context.Context, every time.Duration, snap func() snapshot, log *slog.Logger, sys *syslog.Emitter) {
	t := time.NewTicker(every)
	defer t.Stop()
	var prev map[string]uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cur := headline(snap().counters)
		keys := make([]string, 0, len(cur))
		for k := range cur {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		attrs := make([]any, 0, 2*len(keys)+2)
		for _, k := range keys {
			attrs = append(attrs, k, cur[k])
		}
		if prev != nil {
			attrs = append(attrs, "packets_per_s", float64(cur["packets"]-prev["packets"])/every.Seconds())
			if d := cur["drops"] - prev["drops"]; d > 0 {
				// One line per interval for a drop burst, never one per packet.
				log.Warn("kernel dropped packets in the last interval", "drops", d, "interval", every)
			}
		}
		log.Info("stats", attrs...)
		if sys != nil {
			sys.Stats(cur)
		}
		prev = cur
	}
}
