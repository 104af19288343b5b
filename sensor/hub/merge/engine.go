package merge

import (
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/beacon"
	"github.com/launchtap/launchtap/sensor/host"
	"github.com/launchtap/launchtap/sensor/hostid"
)

// Beat is one beat a sensor observed (the hub's obs.Beat).
type Beat struct {
	Sensor   string
	HostID   string  // the sensor's host identity: a MAC (aa:bb:…) or an address
	MAC      [6]byte // zero when the span does not see the host's MAC
	SrcIP    netip.Addr
	Dest     string
	DestIP   netip.Addr
	Port     uint16
	Proto    uint8
	Kind     beacon.Kind
	TS       int64 // Unix ns, capture time
	BytesOut uint64
	BytesIn  uint64
}

// Host is what a sensor knows of a host's identity (the hub's obs.Host).
type Host struct {
	Sensor, HostID   string
	Hostname, Serial string
	MACs             [][6]byte
	Addrs            []netip.Addr
	OS               string
	Confidence       float64
	TS               int64
}

// Config configures an Engine. The zero value of a field means its default.
type Config struct {
	Beacon beacon.Config
	// Name is the hub's name, put in alerts' sensor field.
	Name string
	// OS is the host-OS policy, as the sensor's --os.
	OS alert.OSPolicy
	// UnknownMinScore is the score a beacon from a host of unknown OS needs
	// to alert (at low severity) under OSPolicyMacOS.
	UnknownMinScore float64
	// MaxHosts bounds the merged hosts (default 1<<18); the least recently
	// active is forgotten.
	MaxHosts int
	// MaxDests bounds the destinations whose prevalence is counted per day
	// (default 1<<18); beyond it new destinations are not counted.
	MaxDests int
	// MergeHostnames merges hosts that report the same hostname (Macs name
	// themselves after their owners; default names such as "MacBook-Pro"
	// are never merged on). Off, only MACs and serials merge.
	MergeHostnames bool
	// Remote returns the prevalence the partitions this process does not
	// own counted for dest on day (nil: none; a single hub process).
	Remote func(day int64, dest string) (hosts, fleet uint64)
	Log    *slog.Logger
}

// Defaults.
const (
	DefaultMaxHosts = 1 << 18
	DefaultMaxDests = 1 << 18

	maxKeys    = 32   // identities per host
	maxMACs    = 8    // MACs per host
	maxAddrs   = 8    // recent addresses per host
	maxSensors = 8    // sensors per host: a pair's sensor set is a byte
	maxPairs   = 1024 // pairs per host moved when hosts merge
	maxSet     = 1 << 16
	keepDays   = 2 // prevalence days kept: today and yesterday in capture time
)

// Counters count what the Engine did. Fields are read with Stats.
type Counters struct {
	Beats          uint64 // beats taken
	Hosts          uint64 // host evidence taken
	Malformed      uint64 // observations refused (see Beat and Host errors)
	LateBeats      uint64 // beats older than their pair's latest (other sensors' order)
	Merges         uint64 // hosts merged into another by a shared MAC, serial or hostname
	HostEvictions  uint64 // merged hosts forgotten to stay within MaxHosts
	KeysDropped    uint64 // identities not kept: a host had maxKeys
	PairsUntracked uint64 // pairs a host had beyond maxPairs: not moved on a merge
	Findings       uint64 // periodic pairs found
	SuppressedOS   uint64 // findings not alerted: host OS policy
	Alerts         uint64 // alerts built
	DestsDropped   uint64 // prevalence destinations not counted: MaxDests reached
	Saturated      uint64 // prevalence sets at maxSet hosts: counts are lower bounds
	DaysExpired    uint64 // prevalence days dropped (older than keepDays)
}

// Errors of refused observations.
var (
	ErrNoHost = errors.New("merge: observation names no host (host id, MAC and address all empty)")
	ErrNoDest = errors.New("merge: beat names no destination")
	ErrNoTime = errors.New("merge: observation has no timestamp")
)

// keyKind says what an identity is.
type keyKind uint8

const (
	keyMAC      keyKind = iota + 1 // global: a MAC is one machine wherever it is seen
	keySerial                      // global: the inventory's serial
	keyHostname                    // global, when MergeHostnames
	keyLocal                       // one sensor's address-keyed host id: local to that sensor
)

// identKey is one identity. A MAC is kept as bytes and a local id as its
// sensor and value, so looking up a beat's identities allocates nothing.
type identKey struct {
	kind   keyKind
	mac    [6]byte
	sensor string // keyLocal only
	v      string
}

// hubHost is one merged host.
type hubHost struct {
	id       uint64
	keys     []identKey
	macs     [][6]byte
	addrs    []netip.Addr // most recent last
	sensors  []string     // in first-seen order; index = bit in pair sensor masks
	hostname string
	serial   string
	os       hostid.Platform
	conf     float64
	osTS     int64
	pairs    map[beacon.PairKey]pairMeta // by pair, keyed for this host
	hostID   string                      // stable name: first MAC, else serial, else first identity
	// part is the partition the host's prevalence is counted under: its
	// identities may hash to several (a sensor that keyed it by address
	// before it saw its MAC), and it must count once.
	part int
}

// pairMeta is what the engine keeps of a merged host's pair beside the
// detector's state.
type pairMeta struct {
	last    int64  // latest beat, Unix ns
	day     int32  // day (since the epoch) its destination was last counted in the prevalence
	epoch   uint32 // Engine.epoch when it was
	sensors uint8  // the sensors that beat it, bits of hubHost.sensors
}

// Engine merges, detects and counts. Not safe for concurrent use.
type Engine struct {
	cfg   Config
	det   *beacon.Detector
	hosts *simplelru.LRU[uint64, *hubHost]
	idx   map[identKey]uint64
	next  uint64
	prev  prevalence
	epoch uint32 // bumped by DropPartition: pairs count their prevalence again
	// dropped are the partitions given up (DropPartition) and not read
	// since; a beat of one clears it.
	dropped map[int]bool
	c       Counters
	out     func(*alert.Alert)
}

// New returns an Engine that hands its alerts to out (called from the
// goroutine feeding the Engine; it may block, which is backpressure).
func New(cfg Config, out func(*alert.Alert)) (*Engine, error) {
	if cfg.Beacon == (beacon.Config{}) {
		cfg.Beacon = beacon.DefaultConfig()
	}
	if err := cfg.Beacon.Validate(); err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	if cfg.MaxHosts <= 0 {
		cfg.MaxHosts = DefaultMaxHosts
	}
	if cfg.MaxDests <= 0 {
		cfg.MaxDests = DefaultMaxDests
	}
	if cfg.OS == "" {
		cfg.OS = alert.OSPolicyMacOS
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	e := &Engine{cfg: cfg, det: beacon.NewDetector(cfg.Beacon), idx: map[identKey]uint64{}, out: out, next: 1}
	e.prev.init(cfg.MaxDests)
	hosts, err := simplelru.NewLRU[uint64, *hubHost](cfg.MaxHosts, func(_ uint64, h *hubHost) {
		e.c.HostEvictions++
		e.unindex(h)
	})
	if err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	e.hosts = hosts
	return e, nil
}

// Stats returns the counters and the detector's.
func (e *Engine) Stats() (Counters, beacon.Stats) { return e.c, e.det.Stats() }

// HostCount is the merged hosts tracked.
func (e *Engine) HostCount() int { return e.hosts.Len() }

// unindex removes the identities still pointing at h.
func (e *Engine) unindex(h *hubHost) {
	for _, k := range h.keys {
		if e.idx[k] == h.id {
			delete(e.idx, k)
		}
	}
}

// pairKey is the detector's key for a pair of merged host h: a sensor's
// host.Key is one MAC or one address, and a merged host may have several
// of each; its hub id, as a unique-local IPv6 address, stands for all.
func pairKey(h uint64, dest string, destIP netip.Addr, port uint16, proto uint8, kind beacon.Kind) beacon.PairKey {
	var a [16]byte
	copy(a[:], "\xfd\x6c\x74\x68\x75\x62\x00\x00") // fd6c:7468:7562::/48, "lthub"
	for i := 0; i < 8; i++ {
		a[8+i] = byte(h >> (56 - 8*i))
	}
	k := beacon.PairKey{Host: host.AddrKey(netip.AddrFrom16(a)), Dest: dest, Port: port, Proto: proto, Kind: kind}
	if dest == "" {
		k.DestIP = destIP
	}
	return k
}

// beatKeys are the identities a beat names, strongest first.
func beatKeys(b *Beat, buf []identKey) []identKey {
	if b.MAC != ([6]byte{}) {
		buf = append(buf, identKey{kind: keyMAC, mac: b.MAC})
	}
	if b.HostID != "" {
		buf = append(buf, hostIDKey(b.Sensor, b.HostID))
	}
	if len(buf) == 0 && b.SrcIP.IsValid() {
		buf = append(buf, identKey{kind: keyLocal, sensor: b.Sensor, v: b.SrcIP.String()})
	}
	return buf
}

// hostIDKey reads a sensor's host id: a MAC is global; an address means
// only "this address at this sensor".
func hostIDKey(sensor, id string) identKey {
	if m, ok := parseMAC(id); ok {
		return identKey{kind: keyMAC, mac: m}
	}
	return identKey{kind: keyLocal, sensor: sensor, v: id}
}

// Beat takes one beat of partition part. A beat that names no host or
// destination, or has no time, is refused (counted) with an error.
func (e *Engine) Beat(part int, b *Beat) error {
	if b.TS <= 0 {
		e.c.Malformed++
		return ErrNoTime
	}
	if b.Dest == "" && !b.DestIP.IsValid() {
		e.c.Malformed++
		return ErrNoDest
	}
	var buf [3]identKey
	keys := beatKeys(b, buf[:0])
	if len(keys) == 0 {
		e.c.Malformed++
		return ErrNoHost
	}
	e.c.Beats++
	if e.dropped[part] {
		delete(e.dropped, part) // read again: held again
	}
	h := e.resolve(keys, part)
	if b.MAC != ([6]byte{}) {
		h.addMAC(b.MAC)
	}
	h.addAddr(b.SrcIP)
	bit := h.sensorBit(b.Sensor)
	k := pairKey(h.id, b.Dest, b.DestIP, b.Port, b.Proto, b.Kind)
	m, tracked := h.pairs[k]
	if !tracked && len(h.pairs) >= maxPairs {
		e.c.PairsUntracked++
	}
	m.sensors |= bit
	// A host's first beat to a destination on a day counts it in the
	// prevalence; the pair remembers that, so its later beats that day cost
	// nothing there. epoch is bumped when a partition's counts are dropped.
	day := int32(b.TS / int64(24*time.Hour))
	if m.day != day || m.epoch != e.epoch {
		e.prev.add(e.home(h, part), b.TS, destOf(b.Dest, b.DestIP), h.id, &e.c)
		m.day, m.epoch = day, e.epoch
	}
	// Beat drops what is older than the pair's latest; Late merges it, at
	// the cost of a lookup more, so only a beat the pair knows to be older
	// goes there (one from an untracked pair is older than its first
	// beat at worst, which Beat takes).
	var f *beacon.Finding
	if tracked && b.TS < m.last-int64(e.cfg.Beacon.GroupWindow) {
		e.c.LateBeats++
		f = e.det.Late(k, b.DestIP, b.TS)
	} else {
		f = e.det.Beat(k, b.DestIP, b.TS)
	}
	m.last = max(m.last, b.TS)
	if tracked || len(h.pairs) < maxPairs {
		if h.pairs == nil {
			h.pairs = make(map[beacon.PairKey]pairMeta, 4)
		}
		h.pairs[k] = m
	}
	if b.BytesOut|b.BytesIn != 0 {
		e.det.Sizes(k, b.TS, b.BytesOut, b.BytesIn)
	}
	if f != nil {
		e.finding(part, h, f)
	}
	return nil
}

// resolve returns the host the keys name, creating it, and indexes every
// key to it. Keys naming two hosts merge them (a beat's MAC and host id
// disagree only when a sensor re-keyed its host).
func (e *Engine) resolve(keys []identKey, part int) *hubHost {
	var h *hubHost
	for _, k := range keys {
		id, ok := e.idx[k]
		if !ok {
			continue
		}
		o, ok := e.hosts.Get(id)
		if !ok {
			delete(e.idx, k) // evicted; unindex missed it (re-pointed since)
			continue
		}
		switch {
		case h == nil:
			h = o
		case o != h:
			h = e.mergeHosts(h, o)
		}
	}
	if h == nil {
		h = &hubHost{id: e.next, part: part}
		e.next++
		e.hosts.Add(h.id, h)
	}
	for _, k := range keys {
		e.index(h, k)
	}
	return h
}

func (e *Engine) index(h *hubHost, k identKey) {
	if e.idx[k] == h.id {
		return
	}
	if !slices.Contains(h.keys, k) {
		if len(h.keys) >= maxKeys {
			e.c.KeysDropped++
			return
		}
		h.keys = append(h.keys, k)
	}
	e.idx[k] = h.id
	if h.hostID == "" || (k.kind == keyMAC && !strings.Contains(h.hostID, ":")) {
		h.hostID = keyName(k)
	}
}

// keyName is how an identity is shown: a MAC in colon form, else the value.
func keyName(k identKey) string {
	switch k.kind {
	case keyMAC:
		return host.MACString(k.mac)
	case keySerial:
		return "serial:" + k.v
	case keyHostname:
		return "hostname:" + k.v
	}
	return k.sensor + "/" + k.v
}

// mergeHosts merges the younger of a and b into the older (the smaller id:
// its alerts already went out under its host id) and returns the survivor.
func (e *Engine) mergeHosts(a, b *hubHost) *hubHost {
	if b.id < a.id {
		a, b = b, a
	}
	e.c.Merges++
	e.cfg.Log.Debug("hub: merging hosts", "into", a.hostID, "from", b.hostID)
	for _, m := range b.macs {
		a.addMAC(m)
	}
	for _, ad := range b.addrs {
		a.addAddr(ad)
	}
	remap := [maxSensors]uint8{}
	for i, s := range b.sensors {
		remap[i] = a.sensorBit(s)
	}
	for k, m := range b.pairs {
		var bits uint8
		for i := 0; i < maxSensors; i++ {
			if m.sensors&(1<<i) != 0 {
				bits |= remap[i]
			}
		}
		nk := pairKey(a.id, k.Dest, k.DestIP, k.Port, k.Proto, k.Kind)
		e.det.Rekey(k, nk)
		am, ok := a.pairs[nk]
		if !ok && len(a.pairs) >= maxPairs {
			e.c.PairsUntracked++
			continue
		}
		if a.pairs == nil {
			a.pairs = map[beacon.PairKey]pairMeta{}
		}
		am.sensors |= bits
		am.last = max(am.last, m.last)
		if !ok {
			am.day, am.epoch = m.day, m.epoch
		}
		a.pairs[nk] = am
	}
	if a.hostname == "" {
		a.hostname = b.hostname
	}
	if a.serial == "" {
		a.serial = b.serial
	}
	if b.conf > a.conf {
		a.os, a.conf, a.osTS = b.os, b.conf, b.osTS
	}
	keys := b.keys
	b.keys = nil // not unindexed by the removal: re-pointed below
	e.hosts.Remove(b.id)
	e.c.HostEvictions-- // a merge is not an eviction
	for _, k := range keys {
		e.index(a, k)
	}
	return a
}

// Host takes one sensor's evidence about a host: its MACs, serial and
// hostname name it across sensors, so hosts sharing any of them merge.
func (e *Engine) Host(part int, o *Host) error {
	if o.TS <= 0 {
		e.c.Malformed++
		return ErrNoTime
	}
	keys := make([]identKey, 0, 2+len(o.MACs))
	for _, m := range o.MACs {
		if m != ([6]byte{}) {
			keys = append(keys, identKey{kind: keyMAC, mac: m})
		}
	}
	if s := strings.TrimSpace(o.Serial); s != "" {
		keys = append(keys, identKey{kind: keySerial, v: strings.ToUpper(s)})
	}
	if n := normHostname(o.Hostname); n != "" && e.cfg.MergeHostnames && !genericHostname(n) {
		keys = append(keys, identKey{kind: keyHostname, v: n})
	}
	if o.HostID != "" {
		keys = append(keys, hostIDKey(o.Sensor, o.HostID))
	}
	if len(keys) == 0 {
		e.c.Malformed++
		return ErrNoHost
	}
	e.c.Hosts++
	h := e.resolve(keys, part)
	for _, m := range o.MACs {
		if m != ([6]byte{}) {
			h.addMAC(m)
		}
	}
	for _, a := range o.Addrs {
		h.addAddr(a)
	}
	h.sensorBit(o.Sensor)
	if o.Hostname != "" {
		h.hostname = o.Hostname
	}
	if o.Serial != "" {
		h.serial = o.Serial
	}
	// The most confident verdict wins; a newer one of equal confidence
	// replaces an older (a host re-identified).
	if os := hostid.Platform(o.OS); os != "" && (o.Confidence > h.conf || (o.Confidence == h.conf && o.TS >= h.osTS)) {
		h.os, h.conf, h.osTS = os, o.Confidence, o.TS
	}
	return nil
}

// DropPartition forgets the prevalence counted for part: another process
// owns it now and counts it.
func (e *Engine) DropPartition(part int) {
	e.prev.drop(part)
	e.epoch++
	if e.dropped == nil {
		e.dropped = map[int]bool{}
	}
	e.dropped[part] = true
}

// home is the partition h's prevalence is counted under: where it was first
// seen, unless this process gave that partition up, then part (one it
// holds: its beats arrive there).
func (e *Engine) home(h *hubHost, part int) int {
	if e.dropped[h.part] {
		h.part = part
	}
	return h.part
}

func (h *hubHost) addMAC(m [6]byte) {
	if slices.Contains(h.macs, m) {
		return
	}
	if len(h.macs) >= maxMACs {
		return // the first MACs name it; more add nothing to an alert
	}
	h.macs = append(h.macs, m)
}

func (h *hubHost) addAddr(a netip.Addr) {
	if !a.IsValid() {
		return
	}
	if n := len(h.addrs); n > 0 && h.addrs[n-1] == a {
		return
	}
	if i := slices.Index(h.addrs, a); i >= 0 {
		h.addrs = slices.Delete(h.addrs, i, i+1)
	} else if len(h.addrs) >= maxAddrs {
		h.addrs = slices.Delete(h.addrs, 0, 1)
	}
	h.addrs = append(h.addrs, a)
}

// sensorBit returns the bit standing for sensor s in h's pair masks; a
// host seen by more than maxSensors sensors shares the last bit.
func (h *hubHost) sensorBit(s string) uint8 {
	if i := slices.Index(h.sensors, s); i >= 0 {
		return 1 << i
	}
	if len(h.sensors) < maxSensors {
		h.sensors = append(h.sensors, s)
		return 1 << (len(h.sensors) - 1)
	}
	return 1 << (maxSensors - 1)
}

// finding applies the host-OS policy to f and builds the alert.
func (e *Engine) finding(part int, h *hubHost, f *beacon.Finding) {
	e.c.Findings++
	os := h.os
	if os == "" {
		os = hostid.Unknown
	}
	sev, why, ok := e.cfg.OS.Judge(f.Score, alert.HostOS{MacOS: os == hostid.MacOS, Unknown: os == hostid.Unknown, Confidence: h.conf},
		e.cfg.UnknownMinScore)
	if !ok {
		e.c.SuppressedOS++
		return
	}
	var extra []string
	if why != "" {
		extra = append(extra, why)
	}
	k := f.Key
	a := alert.FromFinding(f, e.cfg.Name, sev, extra)
	a.HostOS, a.HostOSConfidence, a.Hostname = string(os), h.conf, h.hostname
	a.HostID = h.hostID
	for _, ad := range h.addrs {
		a.SrcIPs = append(a.SrcIPs, ad.String())
	}
	if n := len(a.SrcIPs); n > 0 {
		a.SrcIP = a.SrcIPs[n-1]
	}
	for _, m := range h.macs {
		a.SrcMACs = append(a.SrcMACs, host.MACString(m))
	}
	if len(a.SrcMACs) > 0 {
		a.SrcMAC = a.SrcMACs[0]
	}
	mask := h.pairs[k].sensors
	for i, s := range h.sensors {
		if mask&(1<<i) != 0 {
			a.Sensors = append(a.Sensors, s)
		}
	}
	if len(a.Sensors) > 1 {
		addrs := make([]string, len(h.addrs))
		for i, ad := range h.addrs {
			addrs[i] = ad.String()
		}
		a.Reasons = append(a.Reasons, fmt.Sprintf("beats merged from %d sensors (%s) that saw host %s at %d addresses (%s): no one sensor saw enough",
			len(a.Sensors), strings.Join(a.Sensors, ", "), h.hostID, len(addrs), strings.Join(addrs, ", ")))
	}
	day := f.Last / int64(24*time.Hour)
	dest := destOf(k.Dest, k.DestIP)
	hosts, fleet := e.prev.count(day, dest)
	if e.cfg.Remote != nil {
		rh, rf := e.cfg.Remote(day, dest)
		hosts, fleet = hosts+rh, fleet+rf
	}
	if fleet > 0 {
		a.Prevalence = &alert.Prevalence{
			Day:        time.Unix(0, day*int64(24*time.Hour)).UTC().Format(time.DateOnly),
			Hosts:      hosts,
			FleetHosts: fleet,
			Fraction:   round3(float64(hosts) / float64(fleet)),
		}
		a.Reasons = append(a.Reasons, fmt.Sprintf("fleet prevalence: %d of %d hosts seen on %s reached %s", hosts, fleet, a.Prevalence.Day, dest))
	}
	a.ID = alertID(h.hostID, k, f.PeriodS)
	e.c.Alerts++
	e.out(a)
}

// alertID is stable for a merged host, destination and period, whichever
// hub process or sensor order found it: a process that takes a partition
// over rebuilds the same alerts, and the ledger knows their ids.
func alertID(host string, k beacon.PairKey, period float64) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "hub|%s|%s|%s|%d|%d|%d|%d", host, k.Dest, k.DestIP, k.Port, k.Proto, k.Kind, int64(period+0.5))
	return strconv.FormatUint(h.Sum64(), 16)
}

func destOf(name string, ip netip.Addr) string {
	if name != "" {
		return name
	}
	return ip.String()
}

// parseMAC reads aa:bb:cc:dd:ee:ff (either case, : or -).
func parseMAC(s string) ([6]byte, bool) {
	var m [6]byte
	if len(s) != 17 {
		return m, false
	}
	for i := 0; i < 6; i++ {
		if i > 0 && s[3*i-1] != ':' && s[3*i-1] != '-' {
			return m, false
		}
		hi, ok1 := unhex(s[3*i])
		lo, ok2 := unhex(s[3*i+1])
		if !ok1 || !ok2 {
			return m, false
		}
		m[i] = hi<<4 | lo
	}
	return m, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func normHostname(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimSuffix(s, ".")
	s = strings.TrimSuffix(s, ".local")
	return s
}

// genericHostname reports a name many machines share: the names macOS,
// Windows and Linux give before an owner renames the machine.
func genericHostname(n string) bool {
	base := strings.TrimRight(n, "0123456789-() ")
	switch base {
	case "", "localhost", "mac", "macbook", "macbook-pro", "macbook-air", "imac", "mac-mini", "mac-studio", "mac-pro",
		"iphone", "ipad", "android", "desktop", "laptop", "ubuntu", "debian", "raspberrypi", "unknown":
		return true
	}
	return strings.HasPrefix(n, "desktop-") || strings.HasPrefix(n, "laptop-") // Windows' DESKTOP-XXXXXXX
}

func round3(v float64) float64 {
	return float64(int64(v*1000+0.5)) / 1000
}
