package pipeline

import (
	"net/netip"
	"slices"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/launchtap/launchtap/sensor/beacon"
	"github.com/launchtap/launchtap/sensor/host"
	"github.com/launchtap/launchtap/sensor/hostid"
	"github.com/launchtap/launchtap/sensor/hub/obs"
)

// HubSink takes what the workers tell the hub (--hub-url). Its methods
// must not block: they return false when the sink's queue is full, and the
// worker counts what it could not hand over.
type HubSink interface {
	// Beats takes a batch of beats; the sink owns the slice.
	Beats([]obs.Beat) bool
	// Finding takes a pair the worker's detector judged periodic.
	Finding(obs.Finding) bool
	// Host takes what the worker knows of a host that beats, keyed as its
	// beats are.
	Host(obs.Host) bool
}

// HubStats count what the workers handed the hub sink.
type HubStats struct {
	Beats           uint64 // beats handed over
	Unsized         uint64 // of those, sent without their sizes (the session outlived hubSizeWait or the table, or the capture ended)
	Dropped         uint64 // beats the sink's queue had no room for
	Findings        uint64 // findings handed over (or dropped, below)
	FindingsDropped uint64
	Hosts           uint64 // host records handed over (or dropped, below)
	HostsDropped    uint64
}

// Bounds of a worker's beats waiting for the hub.
const (
	// hubBatch beats are handed over at once; fewer at the end of a batch
	// of packets.
	hubBatch = 512
	// hubPending bounds the beats waiting for their session's sizes; the
	// oldest is sent unsized when it is full.
	hubPending = 1 << 14
	// hubSizeWait is how long (capture time) a beat waits for its sizes:
	// a session longer than that (or a burst not followed by another
	// within it: a burst is sized when the next begins) is sent unsized,
	// so the hub is never later than this.
	hubSizeWait = int64(10 * 60 * 1e9)
	// hubHostEvery is how often (capture time) a beating host's evidence
	// is sent again; sooner when it beats from a new address.
	hubHostEvery = int64(30 * 60 * 1e9)
	// hubHosts bounds the hosts whose last sending is remembered.
	hubHosts = 1 << 12
)

// hubHostSent is when a host's evidence was last sent, and the addresses
// it beat from (a dual-stack Mac beats from two, and is not sent again for
// alternating between them).
type hubHostSent struct {
	at    int64
	addrs [hubHostAddrs]netip.Addr // most recent first
}

// hubHostAddrs bounds the addresses remembered and sent per host.
const hubHostAddrs = 4

type hubKey struct {
	pair beacon.PairKey
	ts   int64
}

// hubOut is a worker's side of the hub: beats wait here for their sizes
// (known when the session or burst ends) and leave in batches. It is the
// worker's own, never shared: no lock.
type hubOut struct {
	sink    HubSink
	sensor  string
	buf     []obs.Beat
	pending *simplelru.LRU[hubKey, obs.Beat]
	taking  bool // sized is removing a beat it sends itself
	hosts   *simplelru.LRU[host.Key, hubHostSent]
	c       HubStats
}

func newHubOut(sink HubSink, sensor string) *hubOut {
	h := &hubOut{sink: sink, sensor: sensor}
	h.pending, _ = simplelru.NewLRU[hubKey, obs.Beat](hubPending, func(_ hubKey, b obs.Beat) {
		if h.taking {
			return
		}
		h.c.Unsized++
		h.emit(b)
	})
	h.hosts, _ = simplelru.NewLRU[host.Key, hubHostSent](hubHosts, nil)
	return h
}

// host sends the evidence of host k, beating from src, when it was not sent
// in the last hubHostEvery or src is new; verdict is called only then (it
// allocates).
func (h *hubOut) host(k host.Key, src netip.Addr, mac [6]byte, hasMAC bool, ts int64, verdict func() hostid.Verdict) {
	last, ok := h.hosts.Get(k)
	known := ok && slices.Contains(last.addrs[:], src)
	if known && ts-last.at < hubHostEvery && ts >= last.at {
		return
	}
	sent := hubHostSent{at: ts, addrs: [hubHostAddrs]netip.Addr{src}}
	n := 1
	for _, a := range last.addrs {
		if a.IsValid() && a != src && n < hubHostAddrs {
			sent.addrs[n] = a
			n++
		}
	}
	h.hosts.Add(k, sent)
	v := verdict()
	r := obs.Host{Sensor: h.sensor, HostID: k.String(), Hostname: v.Hostname, OS: string(v.OS),
		Confidence: min(max(v.Confidence, 0), 1), TS: ts}
	for i := n - 1; i >= 0; i-- {
		r.Addrs = append(r.Addrs, sent.addrs[i]) // most recent last, as obs.Host wants
	}
	if len(r.Hostname) > obs.MaxString {
		r.Hostname = r.Hostname[:obs.MaxString]
	}
	if k.IsMAC() {
		r.MACs = append(r.MACs, k.MAC)
	}
	if hasMAC && mac != k.MAC && k.IsMAC() {
		r.MACs = append(r.MACs, mac) // another MAC of the host (a dock, Wi-Fi)
	}
	h.c.Hosts++
	if !h.sink.Host(r) {
		h.c.HostsDropped++
	}
}

// beat records a beat of host k.Host from address src (in a frame from mac
// when hasMAC): DNS beats have no size and leave at once; sessions and
// bursts wait for sized. The host id is the pair's host (host.Key), the
// identity the hub merges on.
func (h *hubOut) beat(k beacon.PairKey, src, dst netip.Addr, ts int64, mac [6]byte, hasMAC bool) {
	b := obs.Beat{Sensor: h.sensor, HostID: k.Host.String(), SrcIP: src, Dest: k.Dest,
		DestIP: dst, Port: k.Port, Proto: k.Proto, Kind: k.Kind, TS: ts}
	if hasMAC {
		b.MAC = mac
	}
	if k.Dest == "" {
		b.DestIP = k.DestIP
	}
	// Beats older than hubSizeWait leave unsized, oldest first.
	for {
		_, old, ok := h.pending.GetOldest()
		if !ok || ts-old.TS < hubSizeWait {
			break
		}
		h.pending.RemoveOldest() // emits, counted, through the eviction callback
	}
	if k.Kind == beacon.KindDNS {
		h.emit(b)
		return
	}
	h.pending.Add(hubKey{k, ts}, b)
}

// sized gives a waiting beat its sizes and sends it.
func (h *hubOut) sized(k beacon.PairKey, start int64, out, in uint64) {
	key := hubKey{k, start}
	b, ok := h.pending.Peek(key)
	if !ok {
		return
	}
	h.taking = true // Remove runs the eviction callback: not an unsized beat
	h.pending.Remove(key)
	h.taking = false
	b.BytesOut, b.BytesIn = out, in
	h.emit(b)
}

func (h *hubOut) emit(b obs.Beat) {
	h.buf = append(h.buf, b)
	if len(h.buf) >= hubBatch {
		h.flush()
	}
}

// flush hands the batched beats over.
func (h *hubOut) flush() {
	if len(h.buf) == 0 {
		return
	}
	n := uint64(len(h.buf))
	if h.sink.Beats(h.buf) {
		h.c.Beats += n
	} else {
		h.c.Dropped += n
	}
	h.buf = make([]obs.Beat, 0, hubBatch)
}

// finish sends every waiting beat (the capture ended) and flushes.
func (h *hubOut) finish() {
	h.pending.Purge()
	h.flush()
}

func (h *hubOut) finding(f *beacon.Finding, src netip.Addr) {
	k := f.Key
	o := obs.Finding{Sensor: h.sensor, HostID: k.Host.String(), SrcIP: src, Dest: k.Dest, DestIP: k.DestIP,
		Port: k.Port, Proto: k.Proto, Kind: k.Kind, PeriodS: f.PeriodS, Jitter: f.Jitter, Score: f.Score,
		Beats: uint32(f.Beats), First: f.First, Last: f.Last}
	if len(f.DstIPs) > 0 && k.Dest != "" {
		o.DestIP = f.DstIPs[len(f.DstIPs)-1]
	}
	h.c.Findings++
	if !h.sink.Finding(o) {
		h.c.FindingsDropped++
	}
}
