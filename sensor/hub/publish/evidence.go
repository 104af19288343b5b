package publish

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/dnstrack"
	"github.com/launchtap/launchtap/sensor/hostid"
	"github.com/launchtap/launchtap/sensor/hub/obs"
	"github.com/launchtap/launchtap/sensor/state"
)

// Alert queues a local alert (as the sinks got it).
func (p *Publisher) Alert(a *alert.Alert) error {
	rec, err := obs.NewAlert(a)
	if err != nil {
		p.refused.Add(1)
		return err
	}
	if !p.Add(rec) {
		return fmt.Errorf("hub: queue full, alert %s not sent", a.ID)
	}
	return nil
}

// Checkpoint queues what a state checkpoint tells the hub: coverage per
// hour, host evidence, the names hosts resolved, and the checkpoint itself
// for the organisation's store (split into parts each under obs.MaxJSON).
// It returns how many records the queue had no room for.
func (p *Publisher) Checkpoint(cp *state.Checkpoint) int {
	var recs []obs.Record
	for _, h := range cp.Hours {
		recs = append(recs, &obs.Coverage{Sensor: p.cfg.Sensor, Hour: h.Start, Clock: cp.Clock,
			Packets: h.Packets, Bytes: h.Bytes, Drops: h.Drops, Sessions: h.Sessions, OneSided: h.OneSided,
			Named: h.NamedDNS + h.NamedMAC + h.NamedWire, NamedDNS: h.NamedDNS, NamedMAC: h.NamedMAC,
			NamedWire: h.NamedWire, Unnamed: h.Unnamed, DNSQueries: h.DNSQueries, Evictions: h.Evictions})
	}
	macOf := map[netip.Addr][6]byte{}
	for i := range cp.Hosts {
		if r := hostRecord(p.cfg.Sensor, &cp.Hosts[i]); r != nil {
			recs = append(recs, r)
			if r.MACs != nil {
				for _, a := range r.Addrs {
					macOf[a] = r.MACs[0]
				}
			}
		}
	}
	recs = append(recs, nameRecords(p.cfg.Sensor, cp.DNSAnswers, macOf)...)
	parts, err := splitCheckpoint(cp)
	if err != nil {
		p.refused.Add(1)
		p.log.Warn("hub: checkpoint not sent", "err", err)
	}
	for _, j := range parts {
		recs = append(recs, &obs.Checkpoint{Sensor: p.cfg.Sensor, JSON: j})
	}
	dropped := 0
	for _, r := range recs {
		if !p.Add(r) {
			dropped++
		}
	}
	return dropped
}

// hostRecord is a host table's verdict as the hub's host evidence; nil for
// a host without an address.
func hostRecord(sensor string, h *hostid.Host) *obs.Host {
	r := &obs.Host{Sensor: sensor, Hostname: trim(h.Hostname), OS: trim(string(h.OS)),
		Confidence: min(max(h.Confidence, 0), 1), TS: h.LastSeen.UnixNano()}
	if r.Confidence != r.Confidence { // NaN
		r.Confidence = 0
	}
	ips := h.IPs
	if len(ips) == 0 {
		ips = []string{h.IP}
	}
	for _, s := range ips {
		if a, err := netip.ParseAddr(s); err == nil && len(r.Addrs) < obs.MaxAddrs {
			r.Addrs = append(r.Addrs, a)
		}
	}
	if len(r.Addrs) == 0 {
		return nil
	}
	if hw, err := net.ParseMAC(h.MAC); err == nil && len(hw) == 6 {
		r.MACs = [][6]byte{[6]byte(hw)}
		r.HostID = hw.String()
	} else {
		r.HostID = r.Addrs[len(r.Addrs)-1].String()
	}
	if h.LastSeen.IsZero() {
		r.TS = 0
	}
	return r
}

func trim(s string) string {
	if len(s) > obs.MaxString {
		return s[:obs.MaxString]
	}
	return s
}

// nameRecords groups DNS answers by client and name.
func nameRecords(sensor string, answers []dnstrack.Answer, macOf map[netip.Addr][6]byte) []obs.Record {
	type key struct {
		client netip.Addr
		name   string
	}
	at := map[key]*obs.Name{}
	var out []obs.Record
	for _, a := range answers {
		if a.Name == "" || len(a.Name) > obs.MaxString || !a.Client.IsValid() {
			continue
		}
		k := key{a.Client, a.Name}
		n := at[k]
		if n == nil {
			id := a.Client.String()
			if mac, ok := macOf[a.Client]; ok {
				id = net.HardwareAddr(mac[:]).String()
			}
			n = &obs.Name{Sensor: sensor, HostID: id, Name: a.Name, Source: "dns", TS: a.At}
			if a.Expires > a.At {
				n.TTL = uint32(min((a.Expires-a.At)/int64(time.Second), 1<<31))
			}
			at[k] = n
			out = append(out, n)
		}
		if a.Addr.IsValid() && len(n.Addrs) < obs.MaxAddrs && !slices.Contains(n.Addrs, a.Addr) {
			n.Addrs = append(n.Addrs, a.Addr)
		}
		n.TS = max(n.TS, a.At)
	}
	return out
}

// splitCheckpoint is cp's JSON, in as many parts as keep each under
// obs.MaxJSON: the first part has everything but a share of the lists, the
// others only their share of the pairs, hosts, host states, bindings and
// DNS answers, so a store applying every part gets cp once (counters are
// in the first part only).
func splitCheckpoint(cp *state.Checkpoint) ([][]byte, error) {
	j, err := json.Marshal(cp)
	if err != nil {
		return nil, fmt.Errorf("hub: checkpoint: %w", err)
	}
	if len(j) <= obs.MaxJSON {
		return [][]byte{j}, nil
	}
	n := max(len(cp.Pairs), len(cp.Hosts), len(cp.HostStates), len(cp.Bindings), len(cp.DNSAnswers))
	if n <= 1 {
		return nil, fmt.Errorf("hub: checkpoint of %d bytes cannot be split under %d", len(j), obs.MaxJSON)
	}
	a, b := *cp, state.Checkpoint{Clock: cp.Clock, Sensor: cp.Sensor, Version: cp.Version}
	a.Pairs, b.Pairs = halve(cp.Pairs)
	a.Hosts, b.Hosts = halve(cp.Hosts)
	a.HostStates, b.HostStates = halve(cp.HostStates)
	a.Bindings, b.Bindings = halve(cp.Bindings)
	a.DNSAnswers, b.DNSAnswers = halve(cp.DNSAnswers)
	pa, err := splitCheckpoint(&a)
	if err != nil {
		return nil, err
	}
	pb, err := splitCheckpoint(&b)
	if err != nil {
		return nil, err
	}
	return append(pa, pb...), nil
}

func halve[T any](s []T) ([]T, []T) {
	h := (len(s) + 1) / 2
	return s[:h:h], s[h:]
}
