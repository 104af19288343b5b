package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"time"
)

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func addrsOf(s ...string) []netip.Addr {
	out := make([]netip.Addr, len(s))
	for i, a := range s {
		out[i] = netip.MustParseAddr(a)
	}
	return out
}

// The labelled evaluation scenarios (issue 3). Each plants one style of
// periodic traffic on one or more hosts, with light background (a Mac, an
// iPhone and a Windows PC browsing, Apple chatter), and labels every pair.
// Beacon hosts are Macs with the full macOS signal set (SYN shape, DHCP
// option 55, Bonjour model/osxvers, time-macos.apple.com) unless the
// scenario is about other OSes.

type evalDef struct {
	name, desc string
	span       time.Duration
	build      func(w *world)
}

func init() {
	for _, d := range []evalDef{
		{"eval-launchd-interval", "launchd StartInterval jobs: exact periods of 10 s, 60 s, 300 s and 1 h", 14 * time.Hour, evalInterval},
		{"eval-launchd-long", "launchd StartInterval of several hours (2 h, 4 h) over two days", 50 * time.Hour, evalLong},
		{"eval-launchd-sleep", "StartInterval on laptops that sleep: skipped firings coalesce into one start on wake", 50 * time.Hour, evalSleep},
		{"eval-launchd-calendar", "StartCalendarInterval jobs: hourly at minute 17, daily at 09:30", 10*24*time.Hour + time.Hour, evalCalendar},
		{"eval-keepalive-loop", "KeepAlive agents timing themselves: sleep S in a loop, so each interval is S plus the work time", 12 * time.Hour, evalKeepAlive},
		{"eval-c2-one-sided", "Cobalt-Strike-style sleep uniform in [P(1-j), P], j from 0 to 50 %", 8 * time.Hour, evalOneSided},
		{"eval-c2-symmetric", "Empire/Mythic-style sleep uniform in [P(1-j), P(1+j)], j from 10 to 50 %", 8 * time.Hour, evalSymmetric},
		{"eval-c2-additive", "Sliver-style sleep P + U(0, J)", 8 * time.Hour, evalAdditive},
		{"eval-multi-conn", "check-ins that open 2-3 sessions within 1-2 s: one beat each", 8 * time.Hour, evalMultiConn},
		{"eval-missed-beats", "beacons that skip beats: intervals are multiples of the period", 12 * time.Hour, evalMissed},
		{"eval-quic", "beacons over UDP/443 (QUIC-like)", 5 * time.Hour, evalQUIC},
		{"eval-cdn-rotation", "beacons to one name answered by a rotating pool of many CDN addresses", 8 * time.Hour, evalCDN},
		{"eval-dns-channel", "names that change every beat under one registered domain: DNS-only C2 and per-beat names before HTTPS", 8 * time.Hour, evalDNSChannel},
		{"eval-long-session", "keep-alive C2 inside one long TCP session: periodic bursts, no new connections", 8 * time.Hour, evalLongSession},
		{"eval-benign-os", "Windows and Linux hosts beaconing: alert only with --os any", 6 * time.Hour, evalBenignOS},
		{"eval-benign-internal", "periodic traffic from Macs to internal servers: never alerts", 6 * time.Hour, evalBenignInternal},
		{"eval-benign-apple", "Apple services: NTP, APNs keep-alive, software update checks from Macs and iPhones", 12 * time.Hour, evalBenignApple},
		{"eval-benign-mdm", "approved MDM and EDR check-ins (Jamf, Kandji, Mosyle, Intune, CrowdStrike, SentinelOne, Defender)", 8 * time.Hour, evalBenignMDM},
		{"eval-benign-few", "a Mac with only 3 connections to a destination, and one with 5 irregular ones", 4 * time.Hour, evalBenignFew},
		{"eval-ipv6", "beacons over IPv6 from dual-stack Macs (AAAA answers, Happy Eyeballs prefers IPv6): TCP/443 and QUIC", 5 * time.Hour, evalIPv6},
		{"eval-mixed-use", "a jittered beacon to a name its user also uses by hand: the user's sessions fall between the beats", 8 * time.Hour, evalMixedUse},
		{"eval-noise", "hours of browsing from dozens of hosts: Poisson page loads, bursts to several CDN names, heavy-tailed sizes", 6 * time.Hour, evalNoise},
	} {
		register(Scenario{Name: d.name, Description: d.desc, Eval: true, Span: d.span, build: func(w *world) {
			evalBase(w)
			d.build(w)
		}})
	}
}

// evalBase registers the name catalogues and the light background.
func evalBase(w *world) {
	w.cleartext = true
	w.dnsTCP = true
	w.lossy = true
	n := w.net
	n.addWeb()
	n.addApple()
	n.addMDM()
	n.addOS()
	bg := browseCfg{medianGap: int64(15 * 60 * sec), maxBytes: 12000, scale: 0.1, until: w.start + int64(8*time.Hour)}
	for i, k := range []struct {
		os         osKind
		ver, model string
	}{{osMacOS, "14.6", "MacBookAir10,1"}, {osIOS, "17.5", "iPhone14,2"}, {osWindows, "11", ""}} {
		ip := fmt.Sprintf("10.20.4.%d", 200+i)
		h := n.addHost(fmt.Sprintf("bg-%s-%d", k.os, i), k.os, k.ver, k.model, ip, "")
		h.quiet = true
		start := w.start + h.rng.Int64N(int64(5*60*sec))
		w.join(h, start, true)
		if k.os.apple() {
			w.appleChatter(h, start+2*sec)
		}
		w.browse(h, start+10*sec, bg)
		w.noiseLabel(h)
	}
}

func (w *world) noiseLabel(h *host) {
	w.label(Label{Style: "browsing-noise", SrcIP: h.ip.String(), SrcMAC: h.mac.String(), OS: h.os.String(), DstFQDN: "*",
		Note: "browsing-like noise (Poisson page loads, CDN names, heavy-tailed sizes): any alert from this source is false"})
}

// evalHost adds a host with its join traffic, OS chatter and a little
// browsing (so the beacon is not the host's only traffic).
func (w *world) evalHost(name string, os osKind, ip string) *host {
	ver := map[osKind]string{osMacOS: "14.5", osIOS: "17.5", osWindows: "11", osLinux: "12"}[os]
	model := map[osKind]string{osMacOS: "MacBookPro18,3", osIOS: "iPhone14,2"}[os]
	h := w.net.addHost(name, os, ver, model, ip, "")
	h.quiet = true
	start := w.start + h.rng.Int64N(int64(30*sec))
	w.join(h, start, true)
	if os.apple() {
		w.appleChatter(h, start+sec)
	}
	w.browse(h, start+30*sec, browseCfg{medianGap: int64(30 * 60 * sec), maxBytes: 8000, scale: 0.08, until: w.start + int64(8*time.Hour)})
	return h
}

// verdict says which alerts a labelled pair must produce.
type verdict uint8

const (
	malicious verdict = iota // alert by default (Mac) and with --os any
	otherOS                  // alert only with --os any
	benign                   // never alert
)

func (w *world) pairLabel(h *host, style, fqdn string, port uint16, proto string, period, jitter float64, v verdict, note string) *labelRec {
	l := Label{Style: style, SrcIP: h.ip.String(), SrcMAC: h.mac.String(), OS: h.os.String(), DstFQDN: fqdn,
		DstPort: port, Proto: proto, PeriodS: period, Jitter: jitter, Note: note}
	switch v {
	case malicious:
		l.ShouldAlert = h.os == osMacOS
		l.ShouldAlertOSAny = true
	case otherOS:
		l.ShouldAlertOSAny = true
	}
	return w.label(l)
}

// c2 registers an external beacon destination in a documentation range.
func (w *world) c2(name string, ttl uint32, addrs ...string) *service {
	s := w.net.svc(name, ttl, stackLinux, int64(20+len(name)%40)*ms, nil, addrs...)
	s.rotate = true
	return s
}

// runBeacon fires b from first until stop; next returns the following beat
// time from the current one. A sleeping host skips the beat.
func (w *world) runBeacon(b *beat, first, stop int64, next func(r *rand.Rand, t int64) int64) {
	w.every(first, func(w *world) int64 {
		if w.now >= stop {
			return -1
		}
		if b.h.awake(w.now) {
			b.fire(w, w.now)
		}
		return next(b.h.rng, w.now)
	})
}

// seedPeriod varies a C2 period by ±15 % with the seed (rounded to 0.1 s, at least 10 s),
// so a detector cannot lean on round numbers; launchd intervals, which
// admins and malware authors write as round numbers, stay as given.
func (w *world) seedPeriod(h *host, p float64) float64 {
	r := w.rngFor("period/" + h.name)
	return max(10, math.Round(p*(0.85+0.3*r.Float64())*10)/10) // issue 3's range starts at 10 s
}

// Jitter styles.
func exact(p time.Duration) func(*rand.Rand, int64) int64 {
	return func(r *rand.Rand, t int64) int64 { return t + int64(p) + uniform(r, -20*ms, 20*ms) }
}

func oneSided(p time.Duration, j float64) func(*rand.Rand, int64) int64 {
	return func(r *rand.Rand, t int64) int64 { return t + int64(float64(p)*(1-j*r.Float64())) }
}

func symmetric(p time.Duration, j float64) func(*rand.Rand, int64) int64 {
	return func(r *rand.Rand, t int64) int64 { return t + int64(float64(p)*(1+j*(2*r.Float64()-1))) }
}

func additive(p, jit time.Duration) func(*rand.Rand, int64) int64 {
	return func(r *rand.Rand, t int64) int64 { return t + int64(p) + int64(float64(jit)*r.Float64()) }
}

func dur(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func evalInterval(w *world) {
	t0 := w.start
	specs := []struct {
		period   float64
		from, to time.Duration
		name     string
	}{
		{10, 10 * time.Minute, 40 * time.Minute, "api.example.com"},
		{60, 20 * time.Minute, 4 * time.Hour, "sync.example.org"},
		{300, 5 * time.Minute, 10 * time.Hour, "updates.example.net"},
		{3600, 2 * time.Minute, 14 * time.Hour, "status.example.com"},
	}
	for i, s := range specs {
		h := w.evalHost(fmt.Sprintf("mac-interval-%d", i), osMacOS, fmt.Sprintf("10.20.1.%d", 30+i))
		w.c2(s.name, 60, fmt.Sprintf("203.0.113.%d", 30+i))
		lab := w.pairLabel(h, "launchd-start-interval", s.name, 443, "tcp", s.period, 0, malicious,
			fmt.Sprintf("LaunchAgent StartInterval %g s: exact period, process start jitter only", s.period))
		b := &beat{h: h, name: s.name, port: 443, out: 800, in: 3000, lab: lab}
		w.runBeacon(b, t0+int64(s.from), t0+int64(s.to), exact(dur(s.period)))
	}
}

func evalLong(w *world) {
	t0 := w.start
	for i, p := range []float64{7200, 14400} {
		name := []string{"report.example.org", "license.example.net"}[i]
		h := w.evalHost(fmt.Sprintf("mac-long-%d", i), osMacOS, fmt.Sprintf("10.20.1.%d", 40+i))
		w.c2(name, 300, fmt.Sprintf("198.51.100.%d", 40+i))
		lab := w.pairLabel(h, "launchd-start-interval", name, 443, "tcp", p, 0, malicious,
			fmt.Sprintf("LaunchDaemon StartInterval %g h on an always-on Mac", p/3600))
		b := &beat{h: h, name: name, port: 443, out: 1200, in: 2000, lab: lab}
		w.runBeacon(b, t0+int64(3*time.Minute), w.end, exact(dur(p)))
	}
}

// sleeper makes h sleep over lunch and every night (times vary by seed), and
// returns the sleep intervals; on each wake the Mac rejoins the network.
func (w *world) sleeper(h *host) [][2]int64 {
	r := h.rng
	var iv [][2]int64
	day := int64(24 * time.Hour)
	for d := int64(0); w.start+d*day < w.end; d++ {
		base := w.start - int64(8*time.Hour) + d*day // midnight
		lunch := base + int64(12*time.Hour) + uniform(r, -20*60*sec, 20*60*sec)
		iv = append(iv, [2]int64{lunch, lunch + int64(50*time.Minute) + uniform(r, 0, 30*60*sec)})
		night := base + int64(18*time.Hour+30*time.Minute) + uniform(r, -30*60*sec, 60*60*sec)
		wake := base + day + int64(8*time.Hour) + uniform(r, -20*60*sec, 40*60*sec)
		iv = append(iv, [2]int64{night, wake})
	}
	h.asleep = func(t int64) bool {
		for _, x := range iv {
			if t >= x[0] && t < x[1] {
				return true
			}
		}
		return false
	}
	for _, x := range iv {
		if x[1] < w.end {
			wake := x[1]
			w.after(wake, func(w *world) { w.join(h, w.now, false) })
		}
	}
	return iv
}

// launchdInterval is StartInterval under sleep: a firing due while asleep
// is skipped; on wake launchd starts the job once (coalescing every missed
// firing) a few seconds after the network is back, and counts P from there.
func launchdInterval(p time.Duration, sleeps [][2]int64) func(*rand.Rand, int64) int64 {
	return func(r *rand.Rand, t int64) int64 {
		next := t + int64(p) + uniform(r, -20*ms, 20*ms)
		for _, x := range sleeps {
			if next >= x[0] && next < x[1] {
				return x[1] + 4*sec + r.Int64N(25*sec)
			}
		}
		return next
	}
}

func evalSleep(w *world) {
	t0 := w.start
	for i, p := range []float64{900, 3600} {
		name := []string{"cdn.example.com", "metrics.example.org"}[i]
		h := w.evalHost(fmt.Sprintf("mbp-sleepy-%d", i), osMacOS, fmt.Sprintf("10.20.1.%d", 50+i))
		sl := w.sleeper(h)
		w.c2(name, 60, fmt.Sprintf("192.0.2.%d", 50+i), fmt.Sprintf("192.0.2.%d", 60+i))
		lab := w.pairLabel(h, "launchd-sleep-coalesce", name, 443, "tcp", p, 0, malicious,
			fmt.Sprintf("StartInterval %g s on a laptop asleep over lunch and every night: hours of nothing, then one start on wake", p))
		b := &beat{h: h, name: name, port: 443, out: 700, in: 2500, lab: lab}
		w.runBeacon(b, t0+int64(2*time.Minute), w.end, launchdInterval(dur(p), sl))
	}
}

func evalCalendar(w *world) {
	t0 := w.start
	hourly := w.evalHost("imac-calendar-0", osMacOS, "10.20.1.60")
	w.c2("heartbeat.example.net", 300, "203.0.113.60")
	lab := w.pairLabel(hourly, "launchd-calendar-hourly", "heartbeat.example.net", 443, "tcp", 3600, 0, malicious,
		"StartCalendarInterval {Minute: 17}: every hour at hh:17, on a desktop that never sleeps")
	b := &beat{h: hourly, name: "heartbeat.example.net", port: 443, out: 600, in: 1500, lab: lab}
	first := t0 + int64(17*time.Minute) + 300*ms
	w.runBeacon(b, first, t0+int64(30*time.Hour), calendar(t0+int64(17*time.Minute), int64(time.Hour)))
	daily := w.evalHost("imac-calendar-1", osMacOS, "10.20.1.61")
	w.c2("daily.example.org", 300, "203.0.113.61")
	dl := w.pairLabel(daily, "launchd-calendar-daily", "daily.example.org", 443, "tcp", 86400, 0, malicious,
		"StartCalendarInterval {Hour: 9, Minute: 30}: once a day at 09:30 for 10 days")
	db := &beat{h: daily, name: "daily.example.org", port: 443, out: 900, in: 6000, lab: dl}
	w.runBeacon(db, t0+int64(90*time.Minute)+200*ms, w.end, calendar(t0+int64(90*time.Minute), int64(24*time.Hour)))
}

// calendar fires at anchor + k·every (StartCalendarInterval), a fraction of
// a second late as launchd spawns the job.
func calendar(anchor, every int64) func(*rand.Rand, int64) int64 {
	return func(r *rand.Rand, t int64) int64 {
		slot := anchor + (t-anchor)/every*every
		return slot + every + 100*ms + r.Int64N(700*ms)
	}
}

func evalKeepAlive(w *world) {
	t0 := w.start
	for i, s := range []float64{60, 600} {
		name := []string{"poll.example.com", "agent.example.net"}[i]
		h := w.evalHost(fmt.Sprintf("mac-keepalive-%d", i), osMacOS, fmt.Sprintf("10.20.1.%d", 70+i))
		w.c2(name, 60, fmt.Sprintf("198.51.100.%d", 70+i))
		// work time: DNS + TLS session + processing, 0.4-2.4 s, added to every interval
		lab := w.pairLabel(h, "launchd-keepalive-loop", name, 443, "tcp", s+1.4, 0.7/(s+1.4), malicious,
			fmt.Sprintf("KeepAlive agent looping: work, then sleep(%g): intervals %g s + work time (0.4-2.4 s)", s, s))
		b := &beat{h: h, name: name, port: 443, out: 900, in: 2200, lab: lab}
		stop := t0 + int64([]time.Duration{4 * time.Hour, 12 * time.Hour}[i])
		w.runBeacon(b, t0+int64(3*time.Minute), stop, func(r *rand.Rand, t int64) int64 {
			return t + int64(dur(s)) + uniform(r, 400*ms, 2400*ms)
		})
	}
}

type c2spec struct {
	p, j     float64
	from, to time.Duration
}

func (w *world) c2Family(style, prefix string, ipBase int, specs []c2spec, next func(c2spec) func(*rand.Rand, int64) int64, note func(c2spec) string) {
	t0 := w.start
	for i, s := range specs {
		name := fmt.Sprintf("%s%d.example.com", prefix, i)
		h := w.evalHost(fmt.Sprintf("mac-%s-%d", prefix, i), osMacOS, fmt.Sprintf("10.20.1.%d", ipBase+i))
		s.p = w.seedPeriod(h, s.p)
		w.c2(name, 60, fmt.Sprintf("203.0.113.%d", ipBase+i))
		lab := w.pairLabel(h, style, name, 443, "tcp", s.p, s.j, malicious, note(s))
		b := &beat{h: h, name: name, port: 443, out: 350 + 100*i, in: 900 + 400*i, lab: lab}
		w.runBeacon(b, t0+int64(s.from), t0+int64(s.to), next(s))
	}
}

func evalOneSided(w *world) {
	w.c2Family("c2-one-sided-jitter", "cs", 80, []c2spec{
		{60, 0, 5 * time.Minute, 2 * time.Hour},
		{60, 0.1, 10 * time.Minute, 3 * time.Hour},
		{60, 0.3, 10 * time.Minute, 3 * time.Hour},
		{30, 0.5, 15 * time.Minute, 2 * time.Hour},
		{120, 0.5, 20 * time.Minute, 6 * time.Hour},
		{300, 0.2, 5 * time.Minute, 8 * time.Hour},
	}, func(s c2spec) func(*rand.Rand, int64) int64 { return oneSided(dur(s.p), s.j) },
		func(s c2spec) string {
			return fmt.Sprintf("Cobalt Strike sleep %g s, jitter %g%%: each sleep uniform in [%g, %g] s", s.p, s.j*100, s.p*(1-s.j), s.p)
		})
}

func evalSymmetric(w *world) {
	w.c2Family("c2-symmetric-jitter", "emp", 90, []c2spec{
		{60, 0.1, 10 * time.Minute, 3 * time.Hour},
		{120, 0.25, 10 * time.Minute, 5 * time.Hour},
		{45, 0.4, 15 * time.Minute, 2 * time.Hour},
		{300, 0.5, 5 * time.Minute, 8 * time.Hour},
	}, func(s c2spec) func(*rand.Rand, int64) int64 { return symmetric(dur(s.p), s.j) },
		func(s c2spec) string {
			return fmt.Sprintf("Empire/Mythic sleep %g s, jitter %g%%: uniform in [%g, %g] s", s.p, s.j*100, s.p*(1-s.j), s.p*(1+s.j))
		})
}

func evalAdditive(w *world) {
	w.c2Family("c2-additive-jitter", "sliver", 100, []c2spec{
		{60, 0.5, 10 * time.Minute, 3 * time.Hour},
		{300, 0.2, 5 * time.Minute, 8 * time.Hour},
		{20, 0.5, 15 * time.Minute, 90 * time.Minute},
	}, func(s c2spec) func(*rand.Rand, int64) int64 { return additive(dur(s.p), dur(s.p*s.j)) },
		func(s c2spec) string {
			return fmt.Sprintf("Sliver beacon interval %g s + jitter U(0, %g s); jitter field = J/P", s.p, s.p*s.j)
		})
}

// evalMixedUse: a beacon every ~120 s ±20 % to a web application its Mac's
// user also opens by hand, at log-normal think times: the user's sessions
// fall between the beacon's and split its intervals. The period must come
// from the beacon's own regular sub-sequence (issue 14: the mean spacing of
// everything was 28 % short).
func evalMixedUse(w *world) {
	t0 := w.start
	for i, humanGap := range []time.Duration{20 * time.Minute, 8 * time.Minute, 4 * time.Minute} {
		name := fmt.Sprintf("app%d.example-saas.com", i)
		h := w.evalHost(fmt.Sprintf("mac-mixed-%d", i), osMacOS, fmt.Sprintf("10.20.1.%d", 170+i))
		p := w.seedPeriod(h, 120)
		w.c2(name, 300, fmt.Sprintf("198.51.100.%d", 170+i), fmt.Sprintf("198.51.100.%d", 180+i))
		lab := w.pairLabel(h, "mixed-human-use", name, 443, "tcp", p, 0.2, malicious,
			fmt.Sprintf("sleep %g s ±20 %% (uniform); the user also opens %s by hand, median %v apart", p, name, humanGap))
		b := &beat{h: h, name: name, port: 443, out: 700, in: 2400, conns: 1, lab: lab}
		w.runBeacon(b, t0+int64(5*time.Minute), w.end, symmetric(dur(p), 0.2))
		r := h.rng
		cfg := browseCfg{maxBytes: 400000, scale: 1}
		w.every(t0+int64(7*time.Minute), func(w *world) int64 {
			if w.now >= w.end {
				return -1
			}
			if h.awake(w.now) {
				w.webObject(h, name, w.now, false, lognormal(r, 30000, 1.2, 300, cfg.maxBytes), cfg)
			}
			return w.now + int64(float64(humanGap)*math.Exp(1.1*r.NormFloat64())) + 2*sec
		})
	}
}

func evalMultiConn(w *world) {
	t0 := w.start
	for i, s := range []struct {
		p, j  float64
		conns int
	}{{180, 0.1, 2}, {600, 0, 3}, {90, 0.3, 3}} {
		name := fmt.Sprintf("checkin%d.example.org", i)
		h := w.evalHost(fmt.Sprintf("mac-multi-%d", i), osMacOS, fmt.Sprintf("10.20.1.%d", 110+i))
		s.p = w.seedPeriod(h, s.p)
		w.c2(name, 300, fmt.Sprintf("198.51.100.%d", 110+i), fmt.Sprintf("198.51.100.%d", 120+i))
		lab := w.pairLabel(h, "multi-connection", name, 443, "tcp", s.p, s.j, malicious,
			fmt.Sprintf("each check-in opens %d sessions within 1-2 s (one beat); period %g s, one-sided jitter %g%%", s.conns, s.p, s.j*100))
		b := &beat{h: h, name: name, port: 443, out: 700, in: 2400, conns: s.conns, lab: lab}
		w.runBeacon(b, t0+int64(5*time.Minute), w.end, oneSided(dur(s.p), s.j))
	}
}

func evalMissed(w *world) {
	t0 := w.start
	for i, s := range []struct{ p, j, miss float64 }{{120, 0, 0.3}, {600, 0.05, 0.2}, {60, 0.1, 0.4}} {
		name := fmt.Sprintf("gate%d.example.net", i)
		h := w.evalHost(fmt.Sprintf("mac-missed-%d", i), osMacOS, fmt.Sprintf("10.20.1.%d", 120+i))
		s.p = w.seedPeriod(h, s.p)
		w.c2(name, 60, fmt.Sprintf("192.0.2.%d", 120+i))
		lab := w.pairLabel(h, "missed-beats", name, 443, "tcp", s.p, s.j, malicious,
			fmt.Sprintf("period %g s, %g%% of beats missed at random (intervals are multiples of the period)", s.p, s.miss*100))
		b := &beat{h: h, name: name, port: 443, out: 600, in: 1800, lab: lab}
		miss := s.miss
		stop := t0 + int64([]time.Duration{6 * time.Hour, 12 * time.Hour, 3 * time.Hour}[i])
		next := symmetric(dur(s.p), s.j)
		w.every(t0+int64(4*time.Minute), func(w *world) int64 {
			if w.now >= stop {
				return -1
			}
			if h.rng.Float64() >= miss {
				b.fire(w, w.now)
			}
			return next(h.rng, w.now)
		})
	}
}

func evalQUIC(w *world) {
	t0 := w.start
	for i, s := range []struct{ p, j float64 }{{90, 0.2}, {30, 0}, {300, 0.1}} {
		name := fmt.Sprintf("h3-%d.example.com", i)
		h := w.evalHost(fmt.Sprintf("mac-quic-%d", i), osMacOS, fmt.Sprintf("10.20.1.%d", 130+i))
		s.p = w.seedPeriod(h, s.p)
		w.c2(name, 60, fmt.Sprintf("203.0.113.%d", 130+i))
		lab := w.pairLabel(h, "quic-udp443", name, 443, "udp", s.p, s.j, malicious,
			fmt.Sprintf("beacon over UDP/443 (QUIC long/short headers), new connection each beat; period %g s, one-sided jitter %g%%", s.p, s.j*100))
		b := &beat{h: h, name: name, port: 443, udp: true, out: 400, in: 1500, lab: lab}
		stop := t0 + int64([]time.Duration{4 * time.Hour, 90 * time.Minute, 5 * time.Hour}[i])
		w.runBeacon(b, t0+int64(5*time.Minute), stop, oneSided(dur(s.p), s.j))
	}
}

func evalCDN(w *world) {
	t0 := w.start
	for i, s := range []struct {
		p, j       float64
		pool, per  int
		ttl        uint32
		name, cnam string
	}{
		{240, 0.15, 24, 1, 20, "assets.example.com", "assets-example-com.edge.example.net"},
		{120, 0.1, 60, 4, 30, "static.example.org", "static-example-org.cdn.example.net"},
	} {
		h := w.evalHost(fmt.Sprintf("mac-cdn-%d", i), osMacOS, fmt.Sprintf("10.20.1.%d", 140+i))
		s.p = w.seedPeriod(h, s.p)
		sv := &service{name: s.name, chain: []string{s.cnam}, perAnswer: s.per, ttl: s.ttl, stack: stackCDN, rtt: 12 * ms, rotate: true}
		for k := 0; k < s.pool; k++ {
			blk := []string{"203.0.113", "198.51.100", "192.0.2"}[k%3]
			sv.addrs = append(sv.addrs, mustAddr(fmt.Sprintf("%s.%d", blk, 150+k/3+40*i)))
		}
		// the pool answers in a shuffled order, as CDN load balancing does
		h.rng.Shuffle(len(sv.addrs), func(a, b int) { sv.addrs[a], sv.addrs[b] = sv.addrs[b], sv.addrs[a] })
		w.net.addService(sv)
		lab := w.pairLabel(h, "cdn-rotation", s.name, 443, "tcp", s.p, s.j, malicious,
			fmt.Sprintf("one name, %d addresses rotating (%d per answer, TTL %d s): a new address almost every beat", s.pool, s.per, s.ttl))
		b := &beat{h: h, name: s.name, port: 443, out: 800, in: 3500, lab: lab}
		w.runBeacon(b, t0+int64(5*time.Minute), w.end, symmetric(dur(s.p), s.j))
	}
}

func evalDNSChannel(w *world) {
	t0 := w.start
	// DNS-only channel: an A query for a fresh name every beat, answered by the
	// attacker's authoritative server through the internal resolver.
	h := w.evalHost("mac-dnstunnel-0", osMacOS, "10.20.1.150")
	w.net.addService(&service{name: "t.example-dns.net", suffix: true, addrs: addrsOf("192.0.2.153"), ttl: 1, stack: stackLinux})
	lab := w.pairLabel(h, "dns-channel", "example-dns.net", 53, "udp", 60, 0.2, malicious,
		"DNS-channel C2: every beat an A query for <hex>.t.example-dns.net (a new name each time) to the internal resolver; no connection follows")
	w.every(t0+int64(5*time.Minute), func(w *world) int64 {
		if w.now >= t0+int64(4*time.Hour) {
			return -1
		}
		name := fmt.Sprintf("%x.t.example-dns.net", h.rng.Uint64())
		w.resolveOn(h, name, w.now, false, lab.beat)
		return w.now + int64(float64(60*sec)*(1-0.2*h.rng.Float64()))
	})
	// Per-beat names before an HTTPS check-in: the name changes, the domain does not.
	h2 := w.evalHost("mac-dga-1", osMacOS, "10.20.1.151")
	w.net.addService(&service{name: "example-cdn.com", suffix: true, addrs: addrsOf("203.0.113.161", "203.0.113.162", "203.0.113.163"),
		ttl: 30, stack: stackLinux, rotate: true})
	lab2 := w.pairLabel(h2, "per-beat-names", "example-cdn.com", 443, "tcp", 300, 0.1, malicious,
		"each beat resolves a new name <random>.example-cdn.com, then connects to it over HTTPS: one registered domain")
	b := &beat{h: h2, port: 443, out: 800, in: 2600, lab: lab2, names: func(i int) string {
		return fmt.Sprintf("%s.example-cdn.com", randLabel(h2.rng, 10))
	}}
	w.runBeacon(b, t0+int64(6*time.Minute), w.end, symmetric(300*time.Second, 0.1))
}

func randLabel(r *rand.Rand, n int) string {
	const al = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = al[r.IntN(26)]
		if i > 0 {
			b[i] = al[r.IntN(len(al))]
		}
	}
	return string(b)
}

func evalLongSession(w *world) {
	t0 := w.start
	for i, s := range []struct {
		p, j float64
		to   time.Duration
	}{{30, 0.1, 3 * time.Hour}, {300, 0.2, 8 * time.Hour}, {10, 0, time.Hour}} {
		name := fmt.Sprintf("ws%d.example.net", i)
		h := w.evalHost(fmt.Sprintf("mac-longsess-%d", i), osMacOS, fmt.Sprintf("10.20.1.%d", 160+i))
		s.p = w.seedPeriod(h, s.p)
		w.c2(name, 300, fmt.Sprintf("198.51.100.%d", 160+i))
		lab := w.pairLabel(h, "long-session-bursts", name, 443, "tcp", s.p, s.j, malicious,
			fmt.Sprintf("keep-alive C2 in one long TLS session: a burst every %g s (symmetric jitter %g%%), no new connections; beats = bursts", s.p, s.j*100))
		lab.addIP(mustAddr(fmt.Sprintf("198.51.100.%d", 160+i)))
		r := h.rng
		span := int64(s.to - 2*time.Minute)
		w.tcpSession(h, name, 443, t0+int64(2*time.Minute), func(c *tcpConn) {
			c.tls(900, 4000, false)
			c.acts = c.acts[:len(c.acts)-1]
			for el := int64(0); ; {
				gap := int64(float64(dur(s.p)) * (1 + s.j*(2*r.Float64()-1)))
				if el+gap >= span {
					break
				}
				el += gap
				c.send(true, 150+r.IntN(300), tlsHead(0x17, 0), gap)
				c.acts[len(c.acts)-1].mark = lab.beat
				c.send(false, 200+r.IntN(1800), tlsHead(0x17, 0), c.p.rtt+r.Int64N(20*ms))
			}
			c.close(true, 5*sec)
		}, nil)
	}
}

func evalBenignOS(w *world) {
	t0 := w.start
	win := w.evalHost("win-beacon-0", osWindows, "10.20.2.10")
	w.c2("telemetry.example.org", 300, "198.51.100.20")
	l := w.pairLabel(win, "windows-beacon", "telemetry.example.org", 443, "tcp", 120, 0.02, otherOS,
		"Windows host beaconing every 120 s: not macOS, alerts only with --os any")
	w.runBeacon(&beat{h: win, name: "telemetry.example.org", port: 443, out: 600, in: 1200, lab: l}, t0+int64(3*time.Minute), w.end, symmetric(120*time.Second, 0.02))
	win2 := w.evalHost("win-beacon-1", osWindows, "10.20.2.11")
	w.c2("cs-win.example.com", 60, "203.0.113.170")
	l2 := w.pairLabel(win2, "c2-one-sided-jitter", "cs-win.example.com", 443, "tcp", 60, 0.2, otherOS,
		"Cobalt Strike on Windows (60 s, 20 % jitter): alerts only with --os any")
	w.runBeacon(&beat{h: win2, name: "cs-win.example.com", port: 443, out: 400, in: 900, lab: l2}, t0+int64(5*time.Minute), t0+int64(3*time.Hour), oneSided(60*time.Second, 0.2))
	lin := w.evalHost("linux-beacon-0", osLinux, "10.20.3.20")
	l3 := w.pairLabel(lin, "linux-beacon", "deb.debian.org", 80, "tcp", 300, 0.01, otherOS,
		"Linux apt-style cleartext HTTP polling every 300 s: alerts only with --os any")
	w.runBeacon(&beat{h: lin, name: "deb.debian.org", port: 80, http: "/debian/dists/bookworm/InRelease", in: 2500, lab: l3}, t0+int64(4*time.Minute), w.end, symmetric(300*time.Second, 0.01))
	lin2 := w.evalHost("linux-beacon-1", osLinux, "10.20.3.21")
	w.c2("metrics.example.net", 300, "192.0.2.180")
	l4 := w.pairLabel(lin2, "linux-beacon", "metrics.example.net", 443, "tcp", 60, 0, otherOS,
		"Linux agent pushing metrics every 60 s: alerts only with --os any")
	w.runBeacon(&beat{h: lin2, name: "metrics.example.net", port: 443, out: 2500, in: 600, lab: l4}, t0+int64(6*time.Minute), t0+int64(3*time.Hour), exact(60*time.Second))
}

func evalBenignInternal(w *world) {
	t0 := w.start
	w.net.internalSvc("git.corp.example", "10.20.5.20", "52:54:00:20:05:20")
	w.net.internalSvc("files.corp.example", "10.20.5.21", "52:54:00:20:05:21")
	w.net.internalSvc("monitor.corp.example", "10.20.5.22", "52:54:00:20:05:22")
	m := w.evalHost("mac-internal-0", osMacOS, "10.20.1.170")
	l := w.pairLabel(m, "internal-periodic", "git.corp.example", 8443, "tcp", 60, 0, benign, "internal destination 10.20.5.20: never alerts")
	w.runBeacon(&beat{h: m, name: "git.corp.example", port: 8443, out: 300, in: 500, plain: true, lab: l}, t0+int64(2*time.Minute), t0+int64(4*time.Hour), exact(60*time.Second))
	l2 := w.pairLabel(m, "internal-periodic", "files.corp.example", 445, "tcp", 300, 0.05, benign, "internal SMB every 300 s: never alerts")
	w.runBeacon(&beat{h: m, name: "files.corp.example", port: 445, out: 600, in: 900, plain: true, lab: l2}, t0+int64(3*time.Minute), w.end, symmetric(300*time.Second, 0.05))
	m2 := w.evalHost("mac-internal-1", osMacOS, "10.20.1.171")
	l3 := w.pairLabel(m2, "internal-periodic", "monitor.corp.example", 9100, "tcp", 15, 0, benign, "internal metrics scrape every 15 s: never alerts")
	w.runBeacon(&beat{h: m2, name: "monitor.corp.example", port: 9100, out: 200, in: 3000, plain: true, lab: l3}, t0+int64(2*time.Minute), t0+int64(90*time.Minute), exact(15*time.Second))
}

func evalBenignApple(w *world) {
	t0 := w.start
	for i := 0; i < 4; i++ {
		os := osMacOS
		if i >= 2 {
			os = osIOS
		}
		h := w.evalHost(fmt.Sprintf("apple-%s-%d", os, i), os, fmt.Sprintf("10.20.1.%d", 180+i))
		if os == osMacOS {
			l := w.pairLabel(h, "apple-softwareupdate", "swscan.apple.com", 443, "tcp", 3600, 0.02, benign,
				"hourly Software Update catalog check: approved by the default baseline")
			w.runBeacon(&beat{h: h, name: "swscan.apple.com", port: 443, out: 900, in: 4000, lab: l}, t0+int64(10*time.Minute), w.end, symmetric(time.Hour, 0.02))
			l2 := w.pairLabel(h, "apple-mdm", "gdmf.apple.com", 443, "tcp", 1800, 0.05, benign,
				"gdmf.apple.com every 30 min: approved by the default baseline")
			w.runBeacon(&beat{h: h, name: "gdmf.apple.com", port: 443, out: 700, in: 2500, lab: l2}, t0+int64(12*time.Minute), w.end, symmetric(30*time.Minute, 0.05))
		}
	}
}

func evalBenignMDM(w *world) {
	t0 := w.start
	w.net.svc("managerapi.mosyle.com", 300, stackLinux, 40*ms, nil, "52.44.13.99")
	w.net.svc("edr-eus.endpoint.security.microsoft.com", 300, stackWindows, 30*ms, nil, "20.10.127.192")
	specs := []struct {
		name  string
		port  uint16
		p, j  float64
		style string
		note  string
	}{
		{"acme.jamfcloud.com", 443, 900, 0.01, "mdm-checkin", "Jamf Pro check-in every 15 min (*.jamfcloud.com)"},
		{"acme-device.kandji.io", 443, 900, 0.02, "mdm-checkin", "Kandji agent check-in every 15 min (*.kandji.io)"},
		{"managerapi.mosyle.com", 443, 600, 0.05, "mdm-checkin", "Mosyle check-in every 10 min (*.mosyle.com)"},
		{"i.manage.microsoft.com", 443, 28800, 0.01, "mdm-checkin", "Intune company portal sync every 8 h (*.manage.microsoft.com)"},
		{"ts01-b.cloudsink.net", 443, 120, 0.05, "edr-checkin", "CrowdStrike Falcon sensor every 2 min (*.cloudsink.net)"},
		{"acme.sentinelone.net", 443, 60, 0.02, "edr-checkin", "SentinelOne agent every 60 s (*.sentinelone.net)"},
		{"edr-eus.endpoint.security.microsoft.com", 443, 300, 0.05, "edr-checkin", "Microsoft Defender for Endpoint every 5 min (*.endpoint.security.microsoft.com)"},
	}
	for i, s := range specs {
		h := w.evalHost(fmt.Sprintf("mac-managed-%d", i), osMacOS, fmt.Sprintf("10.20.1.%d", 190+i))
		l := w.pairLabel(h, s.style, s.name, s.port, "tcp", s.p, s.j, benign, s.note+": approved by the default baseline")
		stop := w.end
		if s.p <= 120 {
			stop = t0 + int64(3*time.Hour)
		}
		w.runBeacon(&beat{h: h, name: s.name, port: s.port, out: 1500, in: 2500, lab: l}, t0+int64(3*time.Minute)+h.rng.Int64N(int64(time.Minute)), stop, symmetric(dur(s.p), s.j))
	}
	// Intune's 8 h sync gives 1 beat in 8 h; the same Mac also runs Jamf so the host has a periodic approved pair.
}

func evalBenignFew(w *world) {
	t0 := w.start
	h := w.evalHost("mac-few-0", osMacOS, "10.20.1.200")
	w.c2("rare.example.com", 300, "203.0.113.200")
	l := w.pairLabel(h, "few-connections", "rare.example.com", 443, "tcp", 600, 0, benign,
		"only 3 connections, exactly 600 s apart: too few beats to call periodic")
	w.runBeacon(&beat{h: h, name: "rare.example.com", port: 443, out: 700, in: 2000, lab: l}, t0+int64(20*time.Minute), t0+int64(20*time.Minute+25*time.Minute), exact(600*time.Second))
	h2 := w.evalHost("mac-few-1", osMacOS, "10.20.1.201")
	w.c2("sporadic.example.org", 300, "203.0.113.201")
	l2 := w.pairLabel(h2, "irregular", "sporadic.example.org", 443, "tcp", 0, 0, benign,
		"5 connections at irregular times (user-driven): not periodic")
	times := []time.Duration{17 * time.Minute, 41 * time.Minute, 58 * time.Minute, 2*time.Hour + 13*time.Minute, 3*time.Hour + 30*time.Minute}
	k := 0
	b := &beat{h: h2, name: "sporadic.example.org", port: 443, out: 800, in: 5000, lab: l2}
	w.every(t0+int64(times[0])+h2.rng.Int64N(int64(time.Minute)), func(w *world) int64 {
		b.fire(w, w.now)
		k++
		if k >= len(times) {
			return -1
		}
		return t0 + int64(times[k]) + h2.rng.Int64N(int64(time.Minute))
	})
}

func evalNoise(w *world) {
	cfg := browseCfg{medianGap: int64(10 * 60 * sec), maxBytes: 16000, scale: 0.12}
	kinds := []osKind{osMacOS, osMacOS, osIOS, osWindows, osMacOS, osLinux, osWindows, osMacOS}
	for i := 0; i < 40; i++ {
		os := kinds[i%len(kinds)]
		ver := map[osKind]string{osMacOS: "14.5", osIOS: "17.5", osWindows: "11", osLinux: "12"}[os]
		model := map[osKind]string{osMacOS: "MacBookPro18,3", osIOS: "iPhone14,2"}[os]
		h := w.net.addHost(fmt.Sprintf("noise-%02d", i), os, ver, model, fmt.Sprintf("10.20.6.%d", 10+i), "")
		h.quiet = true
		start := w.start + h.rng.Int64N(int64(20*60*sec))
		w.join(h, start, true)
		if os.apple() {
			w.appleChatter(h, start+sec)
		}
		w.browse(h, start+5*sec, cfg)
		w.noiseLabel(h)
	}
}

// dualStack gives h a ULA IPv6 address (fd20:20::/48, inside fc00::/7).
func (w *world) dualStack(h *host) {
	r := w.rngFor("v6/" + h.name)
	var b [16]byte
	copy(b[:], []byte{0xfd, 0x20, 0, 0x20, 0, 0, 0, 1})
	for i := 8; i < 16; i++ {
		b[i] = byte(r.Uint32())
	}
	h.ip6 = netip.AddrFrom16(b)
}

func evalIPv6(w *world) {
	t0 := w.start
	for i, s := range []struct {
		p, j float64
		udp  bool
		name string
	}{{120, 0.1, false, "v6.example.com"}, {60, 0.2, true, "h3v6.example.net"}} {
		h := w.evalHost(fmt.Sprintf("mac-v6-%d", i), osMacOS, fmt.Sprintf("10.20.1.%d", 210+i))
		w.dualStack(h)
		h.dns6 = i == 1
		sv := w.c2(s.name, 60, fmt.Sprintf("203.0.113.%d", 210+i))
		sv.addrs6 = addrsOf(fmt.Sprintf("2001:db8:c2::%d", 10+i), fmt.Sprintf("2001:db8:c2::%d", 20+i))
		proto, style := "tcp", "ipv6-beacon"
		if s.udp {
			proto = "udp"
		}
		lab := w.label(Label{Style: style, SrcIP: h.ip6.String(), SrcMAC: h.mac.String(), OS: "macos", DstFQDN: s.name,
			DstPort: 443, Proto: proto, PeriodS: s.p, Jitter: s.j, ShouldAlert: true, ShouldAlertOSAny: true,
			Note: fmt.Sprintf("dual-stack Mac beaconing over IPv6 (%s/443, AAAA answers rotating over 2 addresses); period %g s, symmetric jitter %g%%; "+
				"its IPv4 address is %s; DNS over IPv6: %v (else the lookup comes from the IPv4 address: bind names per host, not per address)", proto, s.p, s.j*100, h.ip, h.dns6)})
		b := &beat{h: h, name: s.name, port: 443, udp: s.udp, aaaa: true, out: 600, in: 2000, lab: lab}
		w.runBeacon(b, t0+int64(4*time.Minute), w.end, symmetric(dur(s.p), s.j))
	}
}
