package hostid

import (
	"fmt"
	"math"
	"math/bits"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Verdict is what the sensor believes about one host.
type Verdict struct {
	OS         Platform `json:"os"`         // macos, ios, windows, linux, other, unknown
	Confidence float64  `json:"confidence"` // 0–1
	Hostname   string   `json:"hostname,omitempty"`
	Evidence   []string `json:"evidence"`      // strongest first, with weights
	MAC        string   `json:"mac,omitempty"` // the host's own MAC; "" when only a router's was seen
}

// Host is one row of the host table, as `launchtap hosts` prints it.
type Host struct {
	IP         string            `json:"ip"`
	IPs        []string          `json:"ips,omitempty"` // every address seen recently, when more than one
	MAC        string            `json:"mac,omitempty"`
	OS         Platform          `json:"os"`
	Confidence float64           `json:"confidence"`
	Hostname   string            `json:"hostname,omitempty"`
	Evidence   []string          `json:"evidence"`
	FirstSeen  time.Time         `json:"first_seen"`
	LastSeen   time.Time         `json:"last_seen"`
	Signals    map[string]uint32 `json:"signals"` // packets seen per signal kind
	Router     bool              `json:"router,omitempty"`
}

// Lookup returns the verdict for a host sending from ip, in a frame from mac
// when hasMAC. The inventory (SetPlatformLookup) and static prefixes
// (SetStatic, --macos) override what traffic says. Call it when an alert is
// built, not per packet: it allocates the evidence strings.
func (t *Table) Lookup(ip netip.Addr, mac [6]byte, hasMAC bool) Verdict {
	h := t.find(ip, mac, hasMAC)
	var v Verdict
	if h != nil {
		v = t.score(h)
	} else {
		v = Verdict{OS: Unknown, Evidence: []string{}}
	}
	if v.MAC == "" && h == nil && hasMAC && usableMAC(mac) {
		// Nothing known: the frame's MAC is the best guess, unless it is a router's.
		if r, ok := t.hosts.Peek(hostKey{mac: mac}); !ok || !r.router {
			v.MAC = net.HardwareAddr(mac[:]).String()
		}
	}
	var hm [6]byte
	if h != nil && h.key.mac != hm {
		hm = h.key.mac
	} else if hasMAC {
		hm = mac
	}
	t.override(&v, ip, hm)
	return v
}

// find picks the host for an (ip, mac) pair: the MAC's host when the MAC is
// a host's own, else the host the address is bound to, else the host keyed
// by the address. Bindings and address-keyed hosts are trusted only while
// fresh, so one holder's evidence is not given to the next.
func (t *Table) find(ip netip.Addr, mac [6]byte, hasMAC bool) *host {
	var byMAC *host
	if hasMAC && usableMAC(mac) {
		if h, ok := t.hosts.Peek(hostKey{mac: mac}); ok && !h.router {
			byMAC = h
			if len(h.ev) > 0 {
				return h
			}
		}
	}
	if b, ok := t.binds.Peek(ip); ok && b.until >= t.now {
		if h, ok := t.hosts.Peek(hostKey{mac: b.mac}); ok && !h.router && len(h.ev) > 0 {
			return h
		}
	}
	if h, ok := t.hosts.Peek(hostKey{ip: ip}); ok && t.now-h.last <= ipHostIdle*t.bindTTL {
		return h
	}
	return byMAC
}

func (t *Table) override(v *Verdict, ip netip.Addr, mac [6]byte) {
	if t.platform != nil {
		if p, ok := t.platform.PlatformLookup(ip, mac); ok {
			note := "inventory says platform " + string(p)
			if v.OS != Unknown && v.OS != p {
				note += " (traffic suggested " + string(v.OS) + ")"
			}
			v.OS, v.Confidence = p, 1
			v.Evidence = append([]string{note}, v.Evidence...)
			return
		}
	}
	best := -1
	for i, s := range t.static {
		if s.prefix.Contains(ip) && (best < 0 || s.prefix.Bits() > t.static[best].prefix.Bits()) {
			best = i
		}
	}
	if best >= 0 {
		s := t.static[best]
		note := "static: " + s.prefix.String() + " is configured as " + string(s.os)
		if v.OS != Unknown && v.OS != s.os {
			note += " (traffic suggested " + string(v.OS) + ")"
		}
		v.OS, v.Confidence = s.os, 1
		v.Evidence = append([]string{note}, v.Evidence...)
	}
}

// Buckets of claims that compete: the Apple bucket holds macos, ios and darwin.
const (
	bApple = iota
	bWindows
	bLinux
	bOther
	numBuckets
)

var bucketNames = [numBuckets]string{"Apple", string(Windows), string(Linux), string(Other)}

func bucketOf(c claim) int {
	switch c {
	case claimMacOS, claimIOS, claimDarwin:
		return bApple
	case claimWindows:
		return bWindows
	case claimLinux:
		return bLinux
	}
	return bOther
}

// score turns a host's evidence into a verdict. The TCP stack decides
// between families when any SYN was seen (other signals are easy to imitate);
// Apple-specific signals then separate macOS from iOS. Confidence is the
// winner's share of all weight, scaled by how much weight there is.
func (t *Table) score(h *host) Verdict {
	v := Verdict{OS: Unknown, Hostname: h.hostname}
	if h.key.mac != ([6]byte{}) {
		v.MAC = net.HardwareAddr(h.key.mac[:]).String()
	}
	var (
		w        [numClaims]float64
		bucket   [numBuckets]float64
		synB     [numBuckets]float64
		macKinds uint8   // spoofable kinds that said macos or darwin
		macNonUA float64 // macos weight from anything but the User-Agent
		synSeen  bool
	)
	// Each source counts once per claim: two Darwin signatures (with and
	// without ECN) or two Software Update names are one piece of evidence,
	// so the strongest entry per (kind, claim) is used.
	var best [numKinds][numClaims]float64
	for _, e := range h.ev {
		if e.claim != claimNone && e.weight > best[e.kind][e.claim] {
			best[e.kind][e.claim] = e.weight
		}
	}
	for k := range numKinds {
		for c := range numClaims {
			if best[k][c] == 0 {
				continue
			}
			e := evidence{kind: kind(k), claim: claim(c), weight: best[k][c]}
			w[e.claim] += e.weight
			b := bucketOf(e.claim)
			bucket[b] += e.weight
			if e.kind == kindSYN {
				synB[b] += e.weight
				synSeen = true
			} else if e.claim == claimMacOS || e.claim == claimDarwin {
				macKinds |= 1 << e.kind
			}
			if e.claim == claimMacOS && e.kind != kindHTTP {
				macNonUA += e.weight
			}
		}
	}
	var notes []string
	total := bucket[bApple] + bucket[bWindows] + bucket[bLinux] + bucket[bOther]
	if total > 0 {
		win := -1
		for b := range numBuckets {
			if synSeen && synB[b] == 0 {
				continue // the stack rules out families it did not show
			}
			if win < 0 || bucket[b] > bucket[win] {
				win = b
			}
		}
		ww := bucket[win]
		conf := ww / total * (1 - math.Exp(-ww/confScale))
		if ww < total {
			var others []string
			for b := range numBuckets {
				if b != win && bucket[b] > 0 {
					others = append(others, fmt.Sprintf("%s %.1f", bucketNames[b], bucket[b]))
				}
			}
			notes = append(notes, fmt.Sprintf("conflicting signals (%s against %s %.1f) lower the confidence",
				strings.Join(others, ", "), bucketNames[win], ww))
		}
		switch win {
		case bWindows:
			v.OS = Windows
		case bLinux:
			v.OS = Linux
		case bOther:
			v.OS = Other
		case bApple:
			mw, iw := w[claimMacOS], w[claimIOS]
			switch {
			case mw > iw:
				v.OS = MacOS
				if iw > 0 {
					conf *= mw / (mw + iw)
					notes = append(notes, fmt.Sprintf("iOS signals (%.1f) disagree with macOS (%.1f)", iw, mw))
				}
				if macNonUA == 0 {
					conf = min(conf, uaOnlyCap)
					notes = append(notes, "only a User-Agent separates macOS from iOS, and iPadOS sends a Mac-like one")
				}
			case iw > mw:
				v.OS = IOS
				if mw > 0 {
					conf *= iw / (mw + iw)
					notes = append(notes, fmt.Sprintf("macOS signals (%.1f) disagree with iOS (%.1f)", mw, iw))
				}
			default:
				v.OS = MacOS
				conf = min(conf, ambiguousCap)
				notes = append(notes, "macOS and iOS share this evidence (TCP stack, Apple services); no DHCP, mDNS or NTP signal separates them yet")
			}
			if v.OS == MacOS && synB[bApple] == 0 && bits.OnesCount8(macKinds) < 2 {
				v.OS, conf = Unknown, 0
				notes = append(notes, "Apple-like signals come from one spoofable source only: not enough to call it macOS")
			}
		}
		v.Confidence = math.Round(conf*100) / 100
	}
	v.Evidence = evidenceStrings(h.ev)
	if h.router {
		notes = append(notes, "this MAC sources many addresses: treated as a router, its frames carry other hosts' traffic")
	}
	v.Evidence = append(v.Evidence, notes...)
	return v
}

func evidenceStrings(ev []evidence) []string {
	idx := make([]int, len(ev))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case ev[a].weight > ev[b].weight:
			return -1
		case ev[a].weight < ev[b].weight:
			return 1
		}
		return int(ev[a].first>>20) - int(ev[b].first>>20)
	})
	out := make([]string, 0, len(ev)+2)
	for _, i := range idx {
		e := &ev[i]
		s := e.text
		if e.weight > 0 {
			s += " [" + claimNames[e.claim] + " +" + strconv.FormatFloat(e.weight, 'f', 1, 64)
			if e.kind.spoofable() {
				s += ", spoofable"
			}
			s += "]"
		}
		if e.count > 1 {
			s += " ×" + strconv.FormatUint(uint64(e.count), 10)
		}
		out = append(out, s)
	}
	return out
}

// AddKeys adds an identity for each host to set: "mac <MAC>" or "ip <addr>".
// Tables of several workers can hold the same host (a DHCP client is seen by
// every worker before it has an address); the union counts it once.
func (t *Table) AddKeys(set map[string]struct{}) {
	for _, k := range t.hosts.Keys() {
		if k.ip.IsValid() {
			set["ip "+k.ip.String()] = struct{}{}
		} else {
			set["mac "+net.HardwareAddr(k.mac[:]).String()] = struct{}{}
		}
	}
}

// Hosts returns a snapshot of the table, least recently observed first.
func (t *Table) Hosts() []Host {
	out := make([]Host, 0, t.hosts.Len())
	for _, h := range t.hosts.Values() {
		var ip netip.Addr
		var ips []string
		if h.key.ip.IsValid() {
			ip = h.key.ip
		} else {
			var latest int64
			for _, s := range h.ips {
				if !s.addr.IsValid() {
					continue
				}
				ips = append(ips, s.addr.String())
				if s.last >= latest {
					ip, latest = s.addr, s.last
				}
			}
			slices.Sort(ips)
			if len(ips) < 2 {
				ips = nil
			}
		}
		v := t.score(h)
		t.override(&v, ip, h.key.mac)
		row := Host{
			IPs: ips, MAC: v.MAC, OS: v.OS, Confidence: v.Confidence, Hostname: v.Hostname,
			Evidence: v.Evidence, FirstSeen: time.Unix(0, h.first).UTC(), LastSeen: time.Unix(0, h.last).UTC(),
			Signals: map[string]uint32{}, Router: h.router,
		}
		if ip.IsValid() {
			row.IP = ip.String()
		}
		for k, n := range h.signals {
			if n > 0 {
				row.Signals[kindNames[k]] = n
			}
		}
		out = append(out, row)
	}
	return out
}
