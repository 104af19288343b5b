package synth

import (
	"fmt"
	"time"
)

// BenchPackets is the default size of the bench capture (issue 2: >= 2 M).
const BenchPackets = 2_000_000

func init() {
	register(Scenario{
		Name: "bench",
		Description: "throughput capture: 400 hosts (half on 802.1Q VLAN 209), mostly mid-session payload of long TCP and QUIC flows, " +
			"browsing, DNS, a few beacons; sized by -packets (default 2,000,000)",
		Span:           6 * time.Hour,
		DefaultPackets: BenchPackets,
		build:          buildBench,
	})
}

func buildBench(w *world) {
	w.cleartext = true
	w.dnsTCP = true
	w.lossy = true
	n := w.net
	n.addWeb()
	n.addApple()
	n.addMDM()
	n.addOS()
	n.svc("dl.example-updates.com", 300, stackCDN, 20*ms, []string{"dl-example-updates.cdn.cloudflare.net"},
		"104.18.40.10", "104.18.40.11", "104.18.40.12", "104.18.40.13")
	n.svc("backup.example-storage.net", 300, stackLinux, 35*ms, nil, "198.51.100.80", "198.51.100.81")
	n.svc("video.example-stream.tv", 120, stackCDN, 15*ms, []string{"video-example-stream.map.fastly.net"},
		"151.101.64.90", "151.101.64.91", "151.101.64.92")
	for i := 0; i < 8; i++ {
		n.svc(fmt.Sprintf("c2-%d.example-beacon.net", i), 60, stackLinux, 30*ms, nil,
			fmt.Sprintf("203.0.113.%d", 100+i))
	}
	t0 := w.start
	browse := browseCfg{medianGap: int64(45 * sec), maxBytes: 4 << 20, scale: 1}
	kinds := []osKind{osMacOS, osMacOS, osWindows, osIOS, osLinux, osMacOS, osWindows, osMacOS}
	for i := 0; i < 400; i++ {
		os := kinds[i%len(kinds)]
		ver := map[osKind]string{osMacOS: "14.5", osIOS: "17.5", osWindows: "11", osLinux: "12"}[os]
		model := map[osKind]string{osMacOS: "MacBookPro18,3", osIOS: "iPhone14,2"}[os]
		ip := fmt.Sprintf("10.20.%d.%d", 8+i/200, 10+i%200)
		h := n.addHost(fmt.Sprintf("bench-%03d", i), os, ver, model, ip, "")
		h.quiet = true
		if i >= 200 {
			h.vlan = 209 // a trunk span: half the hosts arrive 802.1Q-tagged
		}
		start := t0 + h.rng.Int64N(int64(30*sec))
		w.join(h, start, true)
		if os.apple() {
			w.appleChatter(h, start+sec)
		}
		w.browse(h, start+2*sec, browse)
		switch {
		case i%40 == 0:
			w.bulkFlows(h, start+h.rng.Int64N(int64(20*sec)), "dl.example-updates.com", false)
		case i%40 == 20:
			w.bulkFlows(h, start+h.rng.Int64N(int64(20*sec)), "backup.example-storage.net", true)
		case i%40 == 3:
			w.videoStream(h, start+h.rng.Int64N(int64(10*sec)))
		case i%50 == 7:
			k := i / 50
			period := int64(10+5*k) * sec
			lab := w.label(Label{Style: "oneside-jitter", SrcIP: ip, SrcMAC: h.mac.String(), OS: os.String(),
				DstFQDN: fmt.Sprintf("c2-%d.example-beacon.net", k), DstPort: 443, Proto: "tcp",
				PeriodS: float64(period / sec), Jitter: 0.2,
				ShouldAlert: os == osMacOS, ShouldAlertOSAny: true, Note: "bench beacon (the bench capture is cut by packet count)"})
			b := &beat{h: h, name: lab.DstFQDN, port: 443, out: 700, in: 2400, lab: lab}
			w.every(start+5*sec, func(w *world) int64 {
				b.fire(w, w.now)
				return w.now + period - int64(0.2*h.rng.Float64()*float64(period))
			})
		}
	}
}

// bulkFlows runs back-to-back large transfers (downloads, or uploads when
// up) over long TCP sessions at a few to tens of Mbit/s, with idle gaps.
func (w *world) bulkFlows(h *host, t int64, name string, up bool) {
	r := h.rng
	w.every(t, func(w *world) int64 {
		size := lognormal(r, 8<<20, 1.0, 256<<10, 200<<20)
		mbps := 1 + r.Int64N(5)
		w.tcpSession(h, name, 443, w.now, func(c *tcpConn) {
			c.gap = int64(c.mss+66) * 8 * 1000 / mbps
			if up {
				c.gap *= 4 // expandSend divides the client's pace by 4
				c.tls(size, 6000, false)
			} else {
				c.tls(1200, size, false)
			}
		}, nil)
		dur := int64(size) * 8 * 1000 / mbps
		return w.now + dur + expo(r, 40*sec)
	})
}

// videoStream fetches a 1-3 MB segment every 4 s over one long TCP session,
// as adaptive streaming does.
func (w *world) videoStream(h *host, t int64) {
	r := h.rng
	w.tcpSession(h, "video.example-stream.tv", 443, t, func(c *tcpConn) {
		c.gap = int64(c.mss+66) * 8 * 1000 / 40 // 40 Mbit/s bursts
		c.tls(900, 8000, false)
		c.acts = c.acts[:len(c.acts)-1]
		for k := 0; k < 5000; k++ {
			c.send(true, 400+r.IntN(200), tlsHead(0x17, 0), int64(4*sec)+uniform(r, -300*ms, 300*ms))
			c.send(false, lognormal(r, 6e5, 0.4, 150_000, 2_000_000), tlsHead(0x17, 0), c.p.rtt+2*ms)
		}
		c.close(true, sec)
	}, nil)
}
