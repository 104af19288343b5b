package beacon

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"
	"net/netip"
	"time"

	"github.com/launchtap/launchtap/sensor/host"
	"github.com/launchtap/launchtap/sensor/slru"
)

// Kind says what a beat is.
type Kind uint8

// Kinds of beats.
const (
	KindSession Kind = iota // connection/session starts
	KindBurst               // activity bursts inside a long-lived session
	KindDNS                 // DNS queries for names under one registered domain
)

// String names the kind for logs and reasons.
func (k Kind) String() string {
	switch k {
	case KindSession:
		return "session"
	case KindBurst:
		return "burst"
	case KindDNS:
		return "dns"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// PairKey identifies what is scored: the internal host (sensor/host: its
// MAC where the span sees it, so its beats survive address changes; else its
// address), destination (the FQDN the host resolved — lower-case, no
// trailing dot — or, when none, the destination address), port, protocol,
// kind.
type PairKey struct {
	Host   host.Key
	Dest   string
	DestIP netip.Addr // set only when Dest == ""
	Port   uint16
	Proto  uint8
	Kind   Kind
}

// Finding is a pair judged periodic, with the evidence for it.
type Finding struct {
	Key     PairKey
	PeriodS float64 // estimated period (mean spacing of beats), seconds
	Jitter  float64 // robust spread of single-period intervals, fraction of the period
	Score   float64 // 0..1, how strongly periodic (see Reasons)
	Beats   int     // beats (grouped session starts) seen since the pair was first tracked
	Missed  int     // beats the period predicts inside the history but that did not happen
	First   int64   // first beat, Unix ns
	Last    int64   // latest beat, Unix ns

	BytesOutMedian float64 // per beat's first session, source → destination (0 if unknown)
	BytesInMedian  float64

	DstIPs    []netip.Addr // distinct addresses of recent beats, most recent last
	Reasons   []string     // plain-language explanation
	BeatTimes []int64      // beats in the history, Unix ns, oldest first

	// Explanation of the score, also summarised in Reasons.
	Evidence    float64 // -log10 chance that Poisson arrivals look this regular
	Fit         int     // intervals explained by the period (or a small multiple)
	Intervals   int     // intervals in the history
	Gaps        int     // intervals not explained (e.g. a sleeping laptop)
	SpanS       float64 // time covered by the history, seconds
	SizeRegular float64 // fraction of sized beats within ±15 % of the median bytes out and in (-1 unknown)
}

// Stats are the detector's counters.
type Stats struct {
	Pairs      uint64 // tracked now
	Evictions  uint64 // pairs evicted to stay within MaxPairs (both classes below)
	Findings   uint64 // Findings returned (alerts and re-alerts)
	Beats      uint64 // Beat calls
	Grouped    uint64 // Beat calls merged into the pair's current beat
	OutOfOrder uint64 // Beat calls older than the pair's latest beat, dropped
	Late       uint64 // Late calls older than the pair's latest beat, merged in time order
	Scored     uint64 // rescorings (pairs with at least MinBeats beats)
	Sizes      uint64 // Sizes calls matched to a beat
	SizesLost  uint64 // Sizes calls with no matching pair or beat
	Collisions uint64 // distinct pairs whose 128-bit IDs collided (the older one is dropped)
	Rekeyed    uint64 // pairs moved to a new key (an address-keyed pair named), see Rekey
	Steady     uint64 // rescorings skipped: an alerted pair whose intervals cannot move its period (see steady)
	// Unalertable counts the rescorings (of Scored) stopped once the search
	// over explanations found no timing evidence that can alert (below
	// TimingEvidence): the pair is neither described nor its sizes weighed
	// (see estimateAbove).
	Unalertable uint64

	// The evictions by class: pairs with one beat (probation: what a scan
	// creates) and pairs with a history of beats (protected: evicted only when
	// such pairs alone fill their share of MaxPairs).
	EvictionsProbation uint64
	EvictionsProtected uint64
}

const maxDst = 4 // distinct destination addresses kept per pair

// pair is the always-present part of a tracked pair's state (112 bytes).
type pair struct {
	key     PairKey  // the LRU is keyed by a 128-bit hash of it; this confirms the match
	first   int64    // first beat ever, ns
	base    int64    // history times are milliseconds after base
	hist    *history // nil until the second beat: most pairs never get one
	beats   uint32   // beats ever
	alerted float32  // period of the last alert, seconds; 0 = never alerted
	alertAt uint32   // beats when it was last alerted
	out0    uint16   // sizes of the first beat while hist is nil
	in0     uint16
}

// pairID is the LRU key: two independent 64-bit hashes of a PairKey. A
// PairKey is 72 bytes and the LRU stores its key twice (map slot and list
// entry); 16 bytes keeps a tracked pair within 256 bytes. A collision (odds
// about n²/2^129) is detected by comparing pair.key and counted.
type pairID struct{ a, b uint64 }

// history is the bounded per-pair ring of recent beats.
type history struct {
	t    [HistoryLen]uint32 // beat start, ms after pair.base
	out  [HistoryLen]uint16 // log-encoded bytes of the beat's first session; 0 unknown
	in   [HistoryLen]uint16
	dst  [maxDst]netip.Addr
	head uint8 // index of the oldest beat
	n    uint8
	ndst uint8
}

func (h *history) at(i int) int { return (int(h.head) + i) % HistoryLen }

func (h *history) push(t uint32) {
	if int(h.n) < HistoryLen {
		i := h.at(int(h.n))
		h.t[i], h.out[i], h.in[i] = t, 0, 0
		h.n++
		return
	}
	i := int(h.head)
	h.t[i], h.out[i], h.in[i] = t, 0, 0
	h.head = uint8((int(h.head) + 1) % HistoryLen)
}

func (h *history) addDst(a netip.Addr) {
	if !a.IsValid() {
		return
	}
	n := int(h.ndst)
	for i := 0; i < n; i++ {
		if h.dst[i] == a {
			copy(h.dst[i:n], h.dst[i+1:n]) // move to most recent
			h.dst[n-1] = a
			return
		}
	}
	if n < maxDst {
		h.dst[n] = a
		h.ndst++
		return
	}
	copy(h.dst[:], h.dst[1:])
	h.dst[maxDst-1] = a
}

// BytesPerPair is the heap memory of one pair's own state and of the
// history it gets from its second beat on, excluding the LRU's list entry and
// map slot (about 120 bytes more; BenchmarkPairMemory measures the total).
const (
	BytesPerPair    = int(unsafeSizeofPair)
	BytesPerHistory = int(unsafeSizeofHistory)
)

// Detector scores pairs. One per worker goroutine; not safe for concurrent use.
type Detector struct {
	cfg    Config
	lru    *slru.Table[pairID, *pair] // a pair is promoted at its second beat
	seeds  [2]maphash.Seed
	stats  Stats
	window int64 // GroupWindow, ns
	sc     scratch

	// addrPairs counts the tracked pairs keyed by destination address, by
	// a hash of the address (addrSlot). Rekey is asked at every named
	// session start whether the host beat the address before the name was
	// known, which it almost never did; a zero here answers without
	// hashing the key or probing the table. Collisions only cost a probe.
	addrPairs [1 << addrSlotBits]uint32

	// Per-estimate constants of the configuration, computed once: the
	// period bounds in seconds, and the search penalty by intervals in the
	// history (a logarithm, once a beat, was 4 % of estimating browsing).
	minP, maxP float64
	penalty    [HistoryLen]float64
}

const addrSlotBits = 12

// addrSlot is where addrPairs counts pairs keyed by address a.
func addrSlot(a netip.Addr) uint32 {
	b := a.As16()
	x := binary.LittleEndian.Uint64(b[:8]) ^ binary.LittleEndian.Uint64(b[8:])*0x9e3779b97f4a7c15
	return uint32((x * 0xbf58476d1ce4e5b9) >> (64 - addrSlotBits))
}

// admitted counts p in addrPairs as it enters the table; forget, called
// for every pair that leaves it, uncounts it.
func (d *Detector) admitted(p *pair) {
	if p.key.Dest == "" {
		d.addrPairs[addrSlot(p.key.DestIP)]++
	}
}

func (d *Detector) forget(_ pairID, p *pair) {
	if p.key.Dest == "" {
		d.addrPairs[addrSlot(p.key.DestIP)]--
	}
}

// NewDetector returns a detector with cfg. Invalid settings are replaced by
// their defaults (callers validate flags with Config.Validate first).
func NewDetector(cfg Config) *Detector {
	def := DefaultConfig()
	if cfg.Validate() != nil {
		cfg = def
	}
	d := &Detector{cfg: cfg, window: int64(cfg.GroupWindow), seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}}
	d.sc.exp = make([]explanation, 0, 8*HistoryLen)
	d.minP, d.maxP = cfg.MinPeriod.Seconds(), cfg.MaxPeriod.Seconds()
	for ni := range d.penalty {
		d.penalty[ni] = searchPenalty(ni, cfg.MinBeats)
	}
	lru, err := slru.NewHashed[pairID, *pair](cfg.MaxPairs, 0, func(id pairID) uint64 { return id.a }, d.forget)
	if err != nil { // unreachable: MaxPairs >= 1 after validation
		panic(fmt.Sprintf("beacon: %v", err))
	}
	d.lru = lru
	return d
}

// Config returns the configuration in use.
func (d *Detector) Config() Config { return d.cfg }

// Stats returns the counters.
func (d *Detector) Stats() Stats {
	s := d.stats
	s.Pairs = uint64(d.lru.Len())
	s.EvictionsProbation = d.lru.Evictions(slru.Probation)
	s.EvictionsProtected = d.lru.Evictions(slru.Protected)
	s.Evictions = s.EvictionsProbation + s.EvictionsProtected
	return s
}

// id hashes k with two independent seeds. maphash.Comparable walks a struct
// holding a string generically (about 90 ns a hash, a beat hashes at least
// once); the name and the fixed-size fields hashed as bytes cost a fraction.
func (d *Detector) id(k PairKey) pairID {
	var buf [pairKeyBytes]byte
	b := append(buf[:0], k.Host.MAC[:]...)
	b = appendAddr(b, k.Host.Addr)
	b = appendAddr(b, k.DestIP)
	b = binary.LittleEndian.AppendUint16(b, k.Port)
	b = append(b, k.Proto, byte(k.Kind))
	n := len(b)
	b = binary.LittleEndian.AppendUint64(b, maphash.String(d.seeds[0], k.Dest))
	a := maphash.Bytes(d.seeds[0], b)
	binary.LittleEndian.PutUint64(b[n:], maphash.String(d.seeds[1], k.Dest))
	return pairID{a, maphash.Bytes(d.seeds[1], b)}
}

// pairKeyBytes is the most bytes id hashes: MAC, two addresses as
// appendAddr writes them, port, protocol, kind and the name's hash.
const pairKeyBytes = 6 + 2*17 + 2 + 2 + 8

// peek returns k's state without touching recency.
func (d *Detector) peek(k PairKey) (*pair, bool) {
	p, ok := d.lru.Peek(d.id(k))
	if !ok || p.key != k {
		return nil, false
	}
	return p, true
}

// Beat records a session start (or burst / DNS query) of pair k at ts (Unix
// ns, capture time) towards address dst. It returns a Finding when the pair
// should be (re-)alerted now, else nil.
func (d *Detector) Beat(k PairKey, dst netip.Addr, ts int64) *Finding {
	d.stats.Beats++
	id := d.id(k)
	p, ok := d.lru.Get(id)
	if ok && p.key != k {
		d.stats.Collisions++
		d.lru.Remove(id) // the new pair starts in probation
		ok = false
	}
	if !ok {
		// A pair seen once goes to probation: a scan's new pairs evict only
		// each other, never a pair with a history.
		p := &pair{key: k, first: ts, base: ts, beats: 1}
		d.lru.Add(id, p)
		d.admitted(p)
		return nil
	}
	last := p.lastBeat()
	if ts < last+d.window {
		if ts < last-d.window {
			d.stats.OutOfOrder++
			return nil
		}
		if ts < last+p.groupWindow(d.window) {
			d.stats.Grouped++
			if p.hist != nil {
				p.hist.addDst(dst)
			}
			return nil
		}
	}
	if p.hist == nil {
		h := &history{}
		h.push(0)
		h.out[0], h.in[0] = p.out0, p.in0
		p.hist = h
		d.lru.Promote(id)
	}
	h := p.hist
	if ts-p.base > maxOffset {
		rebase(p, ts)
	}
	h.push(uint32((ts - p.base) / int64(time.Millisecond)))
	h.addDst(dst)
	p.beats++
	return d.score(k, p)
}

// score scores pair k after a beat was added to its history and returns a
// Finding when it should be (re-)alerted now.
func (d *Detector) score(k PairKey, p *pair) *Finding {
	if int(p.hist.n) < d.cfg.MinBeats {
		return nil
	}
	// Re-alert on a material change only: a heavily jittered period is only
	// known to within its jitter, so it must move by more than that, and by
	// half a history of new beats, so a wobbling estimate cannot flap. Until
	// those beats are in, no score can change the verdict, so none is
	// computed (an alerted check-in every few minutes was most of the
	// scoring of an office day).
	if p.alerted != 0 && p.beats-p.alertAt < HistoryLen/2 {
		return nil
	}
	if p.alerted != 0 && d.steady(p) {
		d.stats.Steady++
		return nil
	}
	d.stats.Scored++
	est, ok := d.estimateAbove(p, d.cfg.TimingEvidence)
	if !ok {
		d.stats.Unalertable++
		return nil
	}
	if !d.alertable(&est) {
		return nil
	}
	if p.alerted != 0 && d.samePeriod(p, &est) {
		return nil
	}
	// Only a pair about to alert looks for a regular sub-sequence in beats
	// that do not fit one schedule (unmix costs about 0.1 ms).
	if est.off > 0 || est.missed >= est.fit {
		d.unmix(p, &est)
		if p.alerted != 0 && d.samePeriod(p, &est) {
			return nil
		}
	}
	p.alerted, p.alertAt = float32(est.period), p.beats
	d.stats.Findings++
	return d.finding(k, p, &est)
}

// steadyMargin absorbs the rounding of means and midranges of intervals,
// which can land a few ulps outside the intervals' range.
const steadyMargin = 1e-9

// steady reports whether no estimate of alerted pair p's history can
// re-alert it: every interval is either within Realert of the alerted
// period (at least four of them, spanning less than a ratio of 1.5) or a
// silence longer than maxMultiple+½ times the longest of those allowed
// (fewer silences than a band must explain). Then every candidate period
// estimate tries lies among the near intervals, each of them is one period
// of it and no silence is any multiple of it, so whatever explanation wins,
// the period it describes is a mean, median or midrange of near intervals:
// within Realert of the alerted one, where Beat returns nil whether or not
// the pair is still alertable. An alerted check-in every few minutes was
// most of an office day's scoring; this is one pass over the intervals.
// The intervals are computed exactly as estimate computes them.
func (d *Detector) steady(p *pair) bool {
	h, a := p.hist, float64(p.alerted)
	lo := a * (1 - d.cfg.Realert) * (1 + steadyMargin)
	hi := a * (1 + d.cfg.Realert) * (1 - steadyMargin)
	lo = max(lo, d.cfg.MinPeriod.Seconds())
	silence := (maxMultiple + 0.5) * hi * (1 + steadyMargin)
	n := int(h.n)
	ni := n - 1
	kmin := minFit(ni, d.cfg.MinBeats) // as estimate's
	near, silences := 0, 0
	xmin, xmax := math.Inf(1), 0.0
	prev := float64(h.t[h.at(0)]) / 1000
	for i := 1; i < n; i++ {
		t := float64(h.t[h.at(i)]) / 1000
		x := t - prev
		prev = t
		switch {
		case x >= lo && x <= hi:
			near++
			xmin, xmax = min(xmin, x), max(xmax, x)
		case x > silence:
			silences++
		default:
			return false
		}
	}
	return near >= 4 && silences < kmin && xmax < 1.5*(1-steadyMargin)*xmin
}

// groupWindow is how close to the pair's latest beat a start must be to be
// part of it: the configured window, narrowed to a quarter of the pair's own
// typical spacing (the median of its last few intervals). A check-in that
// opens several connections at once opens them far closer together than its
// period, so it stays one beat; a loop that reconnects every 2 s is its own
// rhythm, and each start is a beat. A pair seen once has no rhythm yet and
// gets the full window, so its first beats group as before; a loop faster
// than the window is first seen as beats two starts apart, which narrows the
// window to its real spacing from the third start on.
func (p *pair) groupWindow(full int64) int64 {
	h := p.hist
	if h == nil || h.n < 2 {
		return full
	}
	var iv [4]uint32
	n := 0
	for i := int(h.n) - 1; i > 0 && n < len(iv); i-- {
		iv[n] = h.t[h.at(i)] - h.t[h.at(i-1)]
		n++
	}
	// Median of up to four, by insertion sort (no allocation).
	for i := 1; i < n; i++ {
		for j := i; j > 0 && iv[j] < iv[j-1]; j-- {
			iv[j], iv[j-1] = iv[j-1], iv[j]
		}
	}
	med := iv[n/2]
	if n%2 == 0 {
		med = (iv[n/2-1] + iv[n/2]) / 2
	}
	return min(full, int64(med)*int64(time.Millisecond)/4)
}

// samePeriod reports whether est's period is, within the realert change
// and its own jitter, the period p was last alerted at.
func (d *Detector) samePeriod(p *pair, est *estimate) bool {
	return math.Abs(est.period-float64(p.alerted)) <= max(d.cfg.Realert, 1.5*est.jitter)*float64(p.alerted)
}

// lastBeat is the start of the pair's latest beat (ms resolution once the
// pair has a history).
func (p *pair) lastBeat() int64 {
	h := p.hist
	if h == nil || h.n == 0 {
		return p.first
	}
	return p.base + int64(h.t[h.at(int(h.n)-1)])*int64(time.Millisecond)
}

// maxOffset keeps millisecond offsets within uint32 with room to spare.
const maxOffset = int64(math.MaxUint32-1) * int64(time.Millisecond)

// rebase moves p.base to the oldest retained beat; if ts is still too far
// from it, the history is restarted at ts (a silence longer than ~49 days is
// far beyond MaxPeriod, so the old beats say nothing about the new ones).
func rebase(p *pair, ts int64) {
	h := p.hist
	oldest := h.t[h.head]
	shift := int64(oldest) * int64(time.Millisecond)
	if ts-(p.base+shift) > maxOffset {
		*h = history{}
		p.base = ts
		return
	}
	for i := 0; i < int(h.n); i++ {
		j := h.at(i)
		h.t[j] -= oldest
	}
	p.base += shift
}

// Sizes records the byte counts of the pair's session that began at start
// (called when the session ends). Only the first session of a beat counts.
func (d *Detector) Sizes(k PairKey, start int64, bytesOut, bytesIn uint64) {
	p, ok := d.peek(k)
	if !ok {
		d.stats.SizesLost++
		return
	}
	out, in := encodeSize(bytesOut), encodeSize(bytesIn)
	if p.hist == nil {
		if start >= p.first && start < p.first+d.window && p.out0 == 0 && p.in0 == 0 {
			p.out0, p.in0 = out, in
			d.stats.Sizes++
			return
		}
		d.stats.SizesLost++
		return
	}
	h := p.hist
	for i := int(h.n) - 1; i >= 0; i-- {
		j := h.at(i)
		t := p.base + int64(h.t[j])*int64(time.Millisecond)
		if start >= t-int64(time.Millisecond) && start < t+d.window {
			if h.out[j] == 0 && h.in[j] == 0 {
				h.out[j], h.in[j] = out, in
				d.stats.Sizes++
				return
			}
			break
		}
		if t < start {
			break
		}
	}
	d.stats.SizesLost++
}

// Sizes are kept as 16-bit log2 codes (0.035 % resolution, 0 = unknown,
// saturating at about 7 GB) so a pair's history stays small.
const sizeScale = 2000

func encodeSize(b uint64) uint16 {
	v := 1 + math.Round(math.Log2(1+float64(b))*sizeScale)
	if v > math.MaxUint16 {
		return math.MaxUint16
	}
	return uint16(v)
}

func decodeSize(c uint16) float64 {
	if c == 0 {
		return -1
	}
	return math.Round(math.Exp2(float64(c-1)/sizeScale) - 1)
}
