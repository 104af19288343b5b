package synth

import (
	"math"
	"net/netip"
	"strings"
)

func addr4(b [3]byte, last byte) netip.Addr {
	return netip.AddrFrom4([4]byte{b[0], b[1], b[2], last})
}

// join emits what a host does when it joins the network at t: DHCP, Bonjour
// announcement, captive-portal / connectivity probe.
func (w *world) join(h *host, t int64, full bool) { w.joinWith(h, t, dhcpOpts{full: full}) }

// joinWith is join with the DHCP exchange varied (a NAK first, a lease).
func (w *world) joinWith(h *host, t int64, opt dhcpOpts) {
	w.dhcpWith(h, t, opt)
	if opt.nak.IsValid() {
		t += 2600 * ms // the NAK and the client's back-off before its DISCOVER
	}
	w.arpJoin(h, t+45*ms) // after the DHCP ACK (at most ~36 ms after t)
	t += 50*ms + h.rng.Int64N(200*ms)
	switch h.os {
	case osMacOS, osIOS:
		w.mdnsAnnounce(h, t)
		w.mdnsQuery(h, t+300*ms, "_companion-link._tcp.local.", "_airplay._tcp.local.", "_raop._tcp.local.")
		w.httpGet(h, "captive.apple.com", "/hotspot-detect.html", "CaptiveNetworkSupport-481.100.3 wispr", t+400*ms, 69, nil)
	case osWindows:
		w.httpGet(h, "www.msftconnecttest.com", "/connecttest.txt", "Microsoft NCSI", t+500*ms, 22, nil)
	default:
		if h.avahi != "" {
			w.mdnsAnnounce(h, t)
		}
	}
}

// sizeCap bounds transfer sizes so small scenarios stay small.
type browseCfg struct {
	medianGap int64 // median think time between page loads
	maxBytes  int   // cap on one object
	scale     float64
	until     int64 // stop browsing at this time (0: scenario end)
}

// browse runs Poisson-ish page loads on h from start to the scenario end:
// log-normal think times (heavy tail: mostly short gaps, sometimes long
// idle), each page load a burst of connections to several names, object
// sizes log-normal. A sleeping host loads nothing.
func (w *world) browse(h *host, start int64, cfg browseCfg) {
	if cfg.scale == 0 {
		cfg.scale = 1
	}
	r := h.rng
	w.every(start+expo(r, cfg.medianGap), func(w *world) int64 {
		t := w.now
		if cfg.until > 0 && t >= cfg.until {
			return -1
		}
		if h.awake(t) {
			w.pageLoad(h, t, cfg)
		}
		gap := float64(cfg.medianGap) * math.Exp(1.1*r.NormFloat64())
		return t + int64(gap) + 2*sec
	})
}

func (w *world) pageLoad(h *host, t int64, cfg browseCfg) {
	r := h.rng
	st := pickSite(r)
	big := 1.0
	if st.big {
		big = 6
	}
	size := func(median float64, sigma float64) int {
		return lognormal(r, median*cfg.scale*big, sigma, 300, cfg.maxBytes)
	}
	w.webObject(h, st.main, t, st.quic, size(25000, 1.0), cfg)
	dt := int64(80*ms) + r.Int64N(300*ms)
	for _, sub := range st.subs {
		if r.IntN(4) == 0 {
			continue
		}
		conns := 1 + r.IntN(2)
		for c := 0; c < conns; c++ {
			w.webObject(h, sub, t+dt, st.quic, size(12000, 1.6), cfg)
			dt += int64(20*ms) + r.Int64N(150*ms)
		}
	}
	if r.IntN(2) == 0 {
		w.webObject(h, thirdParty[r.IntN(len(thirdParty))], t+dt+r.Int64N(sec), false, size(3000, 0.8), cfg)
	}
	if w.cleartext && r.IntN(6) == 0 {
		w.cleartextHTTP(h, t+dt+r.Int64N(2*sec), size(8000, 1))
	}
}

// cleartextHTTP is one plain HTTP fetch carrying the host's User-Agent: a
// browser UA, or an app's CFNetwork/Darwin UA on Apple hosts.
func (w *world) cleartextHTTP(h *host, t int64, body int) {
	r := h.rng
	if r.IntN(2) == 0 {
		w.httpGet(h, "neverssl.com", "/online/", h.browserUA(), t, body, nil)
		return
	}
	app := []string{"Slack/4.38.125", "zoom.us/6.1.1", "Spotify/1.2.40", "Notion/3.10.0"}[r.IntN(4)]
	ua := h.userAgent(app)
	if !h.os.apple() {
		ua = app + " " + h.browserUA()
	}
	w.httpGet(h, "download.example-apps.com", "/appcast.xml", ua, t, body, nil)
}

// browserUA is the host's web browser User-Agent.
func (h *host) browserUA() string {
	switch h.os {
	case osMacOS:
		return "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"
	case osIOS:
		if strings.HasPrefix(h.model, "iPad") {
			// iPadOS asks for desktop sites with a Mac User-Agent
			return "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"
		}
		return "Mozilla/5.0 (iPhone; CPU iPhone OS " + strings.ReplaceAll(h.osVersion, ".", "_") +
			" like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
	case osWindows:
		return "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0"
	}
	return "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
}

// webObject fetches one object over TLS (or QUIC for HTTP/3 sites).
func (w *world) webObject(h *host, name string, t int64, quic bool, in int, cfg browseCfg) {
	r := h.rng
	out := 600 + r.IntN(1500)
	if quic && r.IntN(4) == 0 {
		w.quic(h, name, t, out, in, nil)
		return
	}
	keep := int64(0)
	if r.IntN(3) == 0 {
		keep = int64(2*sec) + expo(r, 20*sec) // keep-alive idle before close
	}
	w.tcpSession(h, name, 443, t, func(c *tcpConn) {
		c.tls(out, in, r.IntN(10) == 0)
		if keep > 0 {
			c.acts[len(c.acts)-1].delay += keep
		}
	}, nil)
}

// appleChatter runs a Mac's or iPhone's background services from start:
// timed NTP polls, the APNs courier keep-alive session, software update
// checks. Labels are created for the periodic ones.
func (w *world) appleChatter(h *host, start int64) {
	r := h.rng
	ntpName := "time-macos.apple.com"
	if h.os == osIOS {
		ntpName = "time-ios.apple.com"
	}
	ntpLab := w.label(Label{Style: "apple-ntp", SrcIP: h.ip.String(), SrcMAC: h.mac.String(), OS: h.os.String(),
		DstFQDN: ntpName, DstPort: 123, Proto: "udp", PeriodS: 1024, Jitter: 0.05,
		Note: "timed polls Apple NTP: approved by the default baseline"})
	w.every(start+r.Int64N(20*sec), func(w *world) int64 {
		if h.awake(w.now) {
			w.ntp(h, ntpName, w.now, func(w *world) { ntpLab.beat(w) })
			if a, ok := h.cache[ntpName]; ok {
				ntpLab.addIP(a.addr)
			}
		}
		return w.now + int64(1024*sec) + uniform(r, -50*sec, 50*sec)
	})
	w.pushCourier(h, start+r.Int64N(30*sec))
	if h.os == osMacOS && !h.quiet {
		w.after(start+int64(10*60*sec)+r.Int64N(int64(40*60*sec)), func(w *world) {
			w.tcpSession(h, "swscan.apple.com", 443, w.now, func(c *tcpConn) { c.tls(900, 12000, false) }, nil)
			w.tcpSession(h, "gdmf.apple.com", 443, w.now+2*sec, func(c *tcpConn) { c.tls(700, 9000, false) }, nil)
		})
	}
}

// pushCourier holds one long APNs session on TCP 5223 with a small
// keep-alive exchange every ~15 min (benign, approved: *.push.apple.com).
func (w *world) pushCourier(h *host, t int64) {
	name := courierNames[h.rng.IntN(len(courierNames))]
	lab := w.label(Label{Style: "apple-push", SrcIP: h.ip.String(), SrcMAC: h.mac.String(), OS: h.os.String(),
		DstFQDN: name, DstPort: 5223, Proto: "tcp", PeriodS: 900, Jitter: 0.1,
		Note: "APNs keep-alive inside one long TCP session: approved by the default baseline"})
	w.courierSession(h, t, 0, name, lab)
}

var courierNames = []string{"1-courier.push.apple.com", "15-courier.push.apple.com", "36-courier.push.apple.com"}

// courierSession is the APNs session of pushCourier, ending by until (the
// host is re-addressed or changes interface then; 0: the host's own end),
// its keep-alives recorded as beats of lab.
func (w *world) courierSession(h *host, t, until int64, name string, lab *labelRec) {
	r := h.rng
	src, mac := h.ip, h.mac
	span := w.end - t
	if h.until > 0 {
		span = h.until - t
	}
	if until > 0 {
		span = until - t
	}
	w.tcpSession(h, name, 5223, t, func(c *tcpConn) {
		c.tls(900, 5200, false)
		c.acts = c.acts[:len(c.acts)-1] // keep the session open
		for el := int64(0); ; {
			gap := int64(900*sec) + uniform(r, -90*sec, 90*sec)
			if el+gap >= span {
				break
			}
			el += gap
			c.send(true, 53, tlsHead(0x17, 0), gap)
			c.acts[len(c.acts)-1].mark = func(w *world) { lab.beatFrom(w, src, mac) }
			c.send(false, 53, tlsHead(0x17, 0), c.p.rtt)
		}
		c.close(false, 30*sec)
	}, func(w *world) {})
	if a, ok := h.cache[name]; ok {
		lab.addIP(a.addr)
	}
}

// beat describes what one beacon beat does on the wire.
type beat struct {
	h     *host
	name  string // or a func for per-beat names
	port  uint16
	udp   bool // QUIC-like UDP/443
	out   int
	in    int
	conns int // sessions per beat (1-3)
	http  string
	plain bool // a bare request/response, no TLS
	aaaa  bool // also query AAAA (getaddrinfo with AF_UNSPEC)
	lab   *labelRec
	names func(i int) string // per-beat name (DNS-channel style)
	n     int
}

// fire runs one beat at time t: DNS (if the cached answer expired), then the
// session(s). The label records the beat when its first packet is written.
func (b *beat) fire(w *world, t int64) {
	r := b.h.rng
	name := b.name
	if b.names != nil {
		name = b.names(b.n)
	}
	b.n++
	first := true
	// The source is taken when the beat's sessions are made (below), as the
	// sessions take theirs: a host re-addressed before the first packet
	// leaves still sends it from the address the session opened with.
	var from netip.Addr
	fromMAC := b.h.mac
	mark := func(w *world) {
		if first {
			first = false
			b.lab.beatFrom(w, from, fromMAC)
		}
	}
	conns := max(b.conns, 1)
	for k := 0; k < conns; k++ {
		out := vary(r, b.out, 0.08)
		in := vary(r, b.in, 0.08)
		if k > 0 {
			t += 150*ms + r.Int64N(1200*ms)
			out, in = out/2, in/3
		}
		var addr netip.Addr
		var ok bool
		switch {
		case b.udp:
			addr, ok = w.quic(b.h, name, t, out, in, mark)
		case b.http != "":
			addr, ok = w.httpGet(b.h, name, b.http, b.h.userAgent("updater/1.4"), t, in, mark)
		case b.plain:
			addr, ok = w.tcpSessionQ(b.h, name, b.port, t, b.aaaa, func(c *tcpConn) {
				c.exchange(out, in, nil, nil, 2*ms+r.Int64N(5*ms))
				c.close(true, 2*ms+r.Int64N(20*ms))
			}, mark)
		default:
			addr, ok = w.tcpSessionQ(b.h, name, b.port, t, b.aaaa, func(c *tcpConn) { c.tls(out, in, false) }, mark)
		}
		if ok {
			b.lab.addIP(addr)
			if !from.IsValid() {
				from = b.h.srcFor(addr)
			}
		}
	}
}

// vary returns n ± frac·n.
func vary(r interface{ Float64() float64 }, n int, frac float64) int {
	if n == 0 {
		return 0
	}
	return max(1, int(float64(n)*(1+frac*(2*r.Float64()-1))))
}
