package pipeline

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"strconv"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/net/publicsuffix"

	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/beacon"
	"github.com/launchtap/launchtap/sensor/decode"
	"github.com/launchtap/launchtap/sensor/dnstrack"
	"github.com/launchtap/launchtap/sensor/flow"
	"github.com/launchtap/launchtap/sensor/hostid"
)

// worker owns the state of the hosts sharded to it: nothing in it is shared,
// so nothing in it is locked.
type worker struct {
	id     int
	cfg    *Config
	flows  *flow.Tracker
	dns    *dnstrack.Tracker
	det    *beacon.Detector
	hosts  *hostid.Table
	out    chan<- *alert.Alert
	dnsNew *simplelru.LRU[dnsPairKey, string] // last name per (client, registered domain)

	c     workerCounters // written by this worker only
	pub   published      // copied from c once per batch, read by Stats
	clock int64          // capture time of the latest packet

	batched    BatchFilterCounters         // cfg.Filtered when it takes in batches
	ended      []endedSession              // sessions waiting for the filter's counts
	endedPairs map[beacon.PairKey]struct{} // their pairs, so that a pair's next beat takes them first
	endedSince int64                       // capture time of the oldest of them
	takes      []FlowTake
}

// endedSession is what the detector needs of a session that ended, held
// until the kernel filter's counts are added.
type endedSession struct {
	pair      beacon.PairKey
	key       flow.Key
	client    netip.Addr
	server    netip.Addr
	start     int64
	bytesOut  uint64
	bytesIn   uint64
	midstream bool
	restarted bool
}

// maxPendingEnds bounds the ended sessions a worker holds for the filter's
// counts; they are taken at the latest a second of capture time after the
// oldest ended (pendingEndsAge).
const (
	maxPendingEnds = 1 << 16
	pendingEndsAge = int64(time.Second)
)

type dnsPairKey struct {
	client [16]byte
	domain string
}

func newWorker(id int, cfg *Config, out chan<- *alert.Alert, macNames *dnstrack.MACNames) (*worker, error) {
	w := &worker{id: id, cfg: cfg, out: out}
	var err error
	if w.flows, err = flow.NewTracker(cfg.Flow, cfg.Internal, w); err != nil {
		return nil, err
	}
	if w.dns, err = dnstrack.New(cfg.DNS, w); err != nil {
		return nil, err
	}
	w.dns.ShareByMAC(macNames)
	if b, ok := cfg.Filtered.(BatchFilterCounters); ok {
		w.batched = b
		w.endedPairs = make(map[beacon.PairKey]struct{})
	}
	w.det = beacon.NewDetector(cfg.Beacon.PerWorker(cfg.Workers))
	if w.hosts, err = hostid.NewTable(cfg.HostID); err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	if w.dnsNew, err = simplelru.NewLRU[dnsPairKey, string](max(16, cfg.DNS.MaxAnswers/4), func(dnsPairKey, string) { w.c.dnsNameEvictions++ }); err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	return w, nil
}

// handle is the per-packet path once a packet is decoded (kind is the
// decoder's verdict: OK, or an IP-only result whose addresses are valid).
func (w *worker) handle(p *decode.Packet, kind decode.ErrKind) {
	w.c.packets++
	w.clock = p.TS
	if len(w.ended) > 0 && p.TS-w.endedSince >= pendingEndsAge {
		w.takeEnded()
	}
	w.hosts.Observe(p)
	if kind != decode.OK {
		return
	}
	if dnstrack.IsDNS(p) {
		w.dns.Packet(p)
	}
	w.flows.Packet(p)
}

// handleCopy gives the host table a packet that another worker handles and
// counts (DHCP from a host without an address yet, which every worker must
// learn): the table's DHCP counters are kept as if it had not seen it.
func (w *worker) handleCopy(p *decode.Packet) {
	before := w.hosts.Stats()
	w.hosts.Observe(p)
	after := w.hosts.Stats()
	w.c.copiedDHCP += after.DHCP - before.DHCP
	w.c.copiedDHCPErrors += after.DHCPErrors - before.DHCPErrors
}

// flush ends every session (end of a capture) so that their sizes are recorded.
func (w *worker) flush() {
	w.flows.Flush()
	w.takeEnded()
}

// SessionStart is a beat: the pair is keyed by the name the host resolved.
func (w *worker) SessionStart(s *flow.Session) {
	var ok bool
	s.Name, ok = w.dns.Name(s.ClientAddr, s.ServerAddr, s.Start)
	if !ok && s.HasMAC && s.ClientAddr.Is6() && !s.ClientAddr.Is4In6() {
		// A dual-stack host may have resolved the name from its IPv4 address.
		s.Name, _ = w.dns.NameByMAC(s.ClientMAC, s.ServerAddr, s.Start)
	}
	w.beat(w.pairKey(s, beacon.KindSession), s.ServerAddr, s.Start, s.ClientMAC, s.HasMAC)
}

func (w *worker) SessionEnd(s *flow.Session) {
	if w.batched != nil {
		if len(w.ended) == 0 {
			w.endedSince = w.clock
		}
		pk := w.pairKey(s, beacon.KindSession)
		w.ended = append(w.ended, endedSession{
			pair: pk, key: s.Key, client: s.ClientAddr, server: s.ServerAddr,
			start: s.Start, bytesOut: s.BytesOut, bytesIn: s.BytesIn, midstream: s.Midstream, restarted: s.Restarted,
		})
		if !s.Midstream {
			w.endedPairs[pk] = struct{}{}
		}
		if len(w.ended) >= maxPendingEnds {
			w.takeEnded()
		}
		return
	}
	if f := w.cfg.Filtered; f != nil {
		k := &s.Key
		po, bo := f.Take(s.ClientAddr, s.ServerAddr, k.ClientPort, k.ServerPort, k.Proto, s.Restarted)
		pi, bi := f.Take(s.ServerAddr, s.ClientAddr, k.ServerPort, k.ClientPort, k.Proto, s.Restarted)
		s.PktsOut += uint32(po)
		s.PktsIn += uint32(pi)
		s.BytesOut += bo
		s.BytesIn += bi
	}
	if s.Midstream {
		return
	}
	w.det.Sizes(w.pairKey(s, beacon.KindSession), s.Start, s.BytesOut, s.BytesIn)
}

// takeEnded adds the kernel filter's counts to the sessions that ended since
// the last call, in one batch, and records their sizes in order.
func (w *worker) takeEnded() {
	if len(w.ended) == 0 {
		return
	}
	w.takes = w.takes[:0]
	for i := range w.ended {
		e := &w.ended[i]
		// A session begun on the 5-tuple since this one ended owns the
		// counts after the kernel's split, as with a restart.
		restarted := e.restarted || w.flows.Tracking(e.key)
		k := &e.key
		w.takes = append(w.takes,
			FlowTake{Src: e.client, Dst: e.server, SrcPort: k.ClientPort, DstPort: k.ServerPort, Proto: k.Proto, Restarted: restarted},
			FlowTake{Src: e.server, Dst: e.client, SrcPort: k.ServerPort, DstPort: k.ClientPort, Proto: k.Proto, Restarted: restarted})
	}
	w.batched.TakeBatch(w.takes)
	for i := range w.ended {
		e := &w.ended[i]
		if !e.midstream {
			w.det.Sizes(e.pair, e.start, e.bytesOut+w.takes[2*i].Bytes, e.bytesIn+w.takes[2*i+1].Bytes)
		}
		*e = endedSession{}
	}
	w.ended = w.ended[:0]
	clear(w.endedPairs)
}

// Burst is a beat of a keep-alive channel inside one long session.
func (w *worker) Burst(s *flow.Session, ts int64) {
	w.beat(w.pairKey(s, beacon.KindBurst), s.ServerAddr, ts, s.ClientMAC, s.HasMAC)
}

func (w *worker) pairKey(s *flow.Session, kind beacon.Kind) beacon.PairKey {
	k := beacon.PairKey{Src: s.ClientAddr, Dest: s.Name, Port: s.Key.ServerPort, Proto: s.Key.Proto, Kind: kind}
	if s.Name == "" {
		k.DestIP = s.ServerAddr
	}
	return k
}

// DNSQuery feeds host identification and, for names that change from one
// lookup to the next under one registered domain (DNS-channel C2 puts data
// in the labels), the periodic-DNS pair of that domain. A host that asks for
// the same name every time is already scored by its connections.
func (w *worker) DNSQuery(client netip.Addr, mac [6]byte, hasMAC bool, name string, qtype uint16, ts int64) {
	w.hosts.ObserveDNSQuery(client, mac, hasMAC, name, ts)
	if !w.cfg.Internal.Contains(client) || name == "" {
		return
	}
	domain, err := publicsuffix.EffectiveTLDPlusOne(name)
	if err != nil || domain == name || isLocalName(domain) {
		return
	}
	k := dnsPairKey{client: client.As16(), domain: domain}
	if prev, ok := w.dnsNew.Get(k); ok && prev == name {
		return
	}
	w.dnsNew.Add(k, name)
	w.beat(beacon.PairKey{Src: client, Dest: domain, Port: 53, Proto: decode.ProtoUDP, Kind: beacon.KindDNS}, netip.Addr{}, ts, mac, hasMAC)
}

func isLocalName(domain string) bool {
	switch domain {
	case "local", "arpa", "in-addr.arpa", "ip6.arpa", "home.arpa", "localhost":
		return true
	}
	return false
}

func (w *worker) beat(k beacon.PairKey, dst netip.Addr, ts int64, mac [6]byte, hasMAC bool) {
	if w.cfg.NoDetection {
		return
	}
	if len(w.endedPairs) > 0 {
		// The pair's last session has ended but waits for the filter's
		// counts: its sizes must be in before this beat is scored, as they
		// are without batching (a client that reconnects on the same
		// 5-tuple ends one session just as it starts the next).
		if _, ok := w.endedPairs[k]; ok {
			w.takeEnded()
		}
	}
	f := w.det.Beat(k, dst, ts)
	if f == nil {
		return
	}
	w.c.findings++
	a := w.alertFor(f, mac, hasMAC)
	if a == nil {
		return
	}
	w.out <- a
}

// alertFor turns a finding into an alert, applying the host-OS policy: by
// default only macOS hosts alert, and hosts of unknown OS alert at low
// severity; --os any lets every host alert.
func (w *worker) alertFor(f *beacon.Finding, mac [6]byte, hasMAC bool) *alert.Alert {
	v := w.hosts.Lookup(f.Key.Src, mac, hasMAC)
	severity := "medium"
	if f.Score >= 0.8 && v.OS == hostid.MacOS && v.Confidence >= 0.7 {
		severity = "high"
	}
	var extra []string
	if w.cfg.OS != "any" {
		switch v.OS {
		case hostid.MacOS:
		case hostid.Unknown:
			if f.Score < w.cfg.UnknownMinScore {
				w.c.suppressedOS++
				w.cfg.Log.Debug("finding suppressed: host OS unknown and the beacon not strong enough", "src", f.Key.Src,
					"dest", destName(f.Key), "score", f.Score, "min", w.cfg.UnknownMinScore)
				return nil
			}
			severity = "low"
			extra = append(extra, fmt.Sprintf("source host's OS is not known: alerted because the beacon is strong (score %.2f >= %.2f), at low severity",
				f.Score, w.cfg.UnknownMinScore))
		default:
			w.c.suppressedOS++
			w.cfg.Log.Debug("finding suppressed: host is not macOS", "src", f.Key.Src, "dest", destName(f.Key), "os", v.OS)
			return nil
		}
	}
	a := &alert.Alert{
		TS:               time.Unix(0, f.Last).UTC(),
		Sensor:           w.cfg.Sensor,
		Severity:         severity,
		SrcIP:            f.Key.Src.String(),
		DstFQDN:          f.Key.Dest,
		DstPort:          f.Key.Port,
		Proto:            protoName(f.Key.Proto),
		Kind:             f.Key.Kind.String(),
		PeriodS:          f.PeriodS,
		Jitter:           f.Jitter,
		Beats:            f.Beats,
		Missed:           f.Missed,
		FirstSeen:        time.Unix(0, f.First).UTC(),
		LastSeen:         time.Unix(0, f.Last).UTC(),
		Score:            f.Score,
		BytesOutMedian:   f.BytesOutMedian,
		BytesInMedian:    f.BytesInMedian,
		HostOS:           v.OS,
		HostOSConfidence: v.Confidence,
		Hostname:         v.Hostname,
		HostEvidence:     v.Evidence,
		Reasons:          append(f.Reasons, extra...),
		DstIPs:           make([]string, 0, len(f.DstIPs)),
	}
	switch {
	case v.MAC != "":
		a.SrcMAC = v.MAC
	case hasMAC:
		a.SrcMAC = netMAC(mac)
	}
	for _, ip := range f.DstIPs {
		if ip.IsValid() {
			a.DstIPs = append(a.DstIPs, ip.String())
		}
	}
	for _, t := range f.BeatTimes {
		a.BeatTimes = append(a.BeatTimes, time.Unix(0, t).UTC())
	}
	a.ID = alertID(f)
	return a
}

// alertID is stable for a pair and its period, whichever sensor or run saw it,
// so a SIEM can deduplicate re-deliveries and re-alerts of the same finding.
func alertID(f *beacon.Finding) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s|%s|%s|%d|%d|%d|%d", f.Key.Src, f.Key.Dest, f.Key.DestIP, f.Key.Port, f.Key.Proto, f.Key.Kind, int64(f.PeriodS+0.5))
	return strconv.FormatUint(h.Sum64(), 16)
}

func destName(k beacon.PairKey) string {
	if k.Dest != "" {
		return k.Dest
	}
	return k.DestIP.String()
}

func protoName(p uint8) string {
	switch p {
	case decode.ProtoTCP:
		return "tcp"
	case decode.ProtoUDP:
		return "udp"
	}
	return strconv.Itoa(int(p))
}

func netMAC(m [6]byte) string {
	const hex = "0123456789abcdef"
	b := make([]byte, 0, 17)
	for i, x := range m {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hex[x>>4], hex[x&0xf])
	}
	return string(b)
}
