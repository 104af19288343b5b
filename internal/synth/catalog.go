package synth

import (
	"fmt"
	"math/rand/v2"
)

// site is a web destination for browsing noise: a main name and the
// sub-resource names a page load also fetches.
type site struct {
	main   string
	subs   []string
	weight int
	quic   bool // served over HTTP/3 (UDP/443) part of the time
	big    bool // large media objects
}

var sites = []site{
	{main: "www.google.com", subs: []string{"www.gstatic.com", "fonts.gstatic.com", "apis.google.com"}, weight: 30, quic: true},
	{main: "github.com", subs: []string{"github.githubassets.com", "avatars.githubusercontent.com", "api.github.com"}, weight: 18},
	{main: "www.wikipedia.org", subs: []string{"upload.wikimedia.org"}, weight: 10},
	{main: "stackoverflow.com", subs: []string{"cdn.sstatic.net", "i.stack.imgur.com"}, weight: 12},
	{main: "www.nytimes.com", subs: []string{"static01.nyt.com", "a.et.nytimes.com", "www.googletagmanager.com"}, weight: 6},
	{main: "www.bbc.co.uk", subs: []string{"static.files.bbci.co.uk", "ichef.bbci.co.uk"}, weight: 5},
	{main: "news.ycombinator.com", weight: 6},
	{main: "www.reddit.com", subs: []string{"www.redditstatic.com", "i.redd.it", "preview.redd.it"}, weight: 7},
	{main: "www.youtube.com", subs: []string{"i.ytimg.com", "rr4---sn-4g5edn6r.googlevideo.com", "yt3.ggpht.com"}, weight: 8, quic: true, big: true},
	{main: "app.slack.com", subs: []string{"a.slack-edge.com", "edgeapi.slack.com"}, weight: 10},
	{main: "outlook.office.com", subs: []string{"res.cdn.office.net", "login.microsoftonline.com"}, weight: 9},
	{main: "www.linkedin.com", subs: []string{"static.licdn.com", "media.licdn.com"}, weight: 4},
	{main: "docs.python.org", weight: 3},
	{main: "pkg.go.dev", subs: []string{"fonts.gstatic.com"}, weight: 3},
	{main: "www.amazon.com", subs: []string{"m.media-amazon.com", "images-na.ssl-images-amazon.com"}, weight: 4},
	{main: "zoom.us", subs: []string{"st1.zoom.us"}, weight: 3},
	{main: "www.figma.com", subs: []string{"static.figma.com"}, weight: 2},
	{main: "www.notion.so", subs: []string{"msgstore.www.notion.so"}, weight: 2},
	{main: "weather.com", subs: []string{"s.w-x.co", "www.googletagmanager.com"}, weight: 2},
	{main: "www.apple.com", subs: []string{"www.apple.com.edgekey.net"}, weight: 3},
	{main: "cdn.jsdelivr.net", weight: 2},
	{main: "www.netflix.com", subs: []string{"assets.nflxext.com", "ipv4-c012-fra002-ix.1.oca.nflxvideo.net"}, weight: 2, big: true},
}

// thirdParty names appear on many pages (analytics, fonts, ads).
var thirdParty = []string{"www.google-analytics.com", "fonts.googleapis.com", "cdnjs.cloudflare.com", "connect.facebook.net", "static.doubleclick.net"}

// cdnFronts are the CNAME targets used for sites served by a CDN, with the
// address block the CDN answers from and its stack.
var cdnFronts = []struct {
	suffix string
	block  [3]byte
	stack  srvStack
}{
	{"map.fastly.net", [3]byte{151, 101, 0}, stackCDN},
	{"cdn.cloudflare.net", [3]byte{104, 18, 32}, stackCDN},
	{"edgekey.net", [3]byte{23, 45, 112}, stackLinux},
	{"cloudfront.net", [3]byte{13, 32, 27}, stackLinux},
	{"azureedge.net", [3]byte{13, 107, 246}, stackWindows},
	{"", [3]byte{0, 0, 0}, stackLinux}, // no CDN: origin addresses
}

// origins are public-looking /24s used for names served without a CDN.
var origins = [][3]byte{{140, 82, 121}, {185, 15, 59}, {142, 250, 185}, {209, 216, 230}, {52, 84, 150}, {34, 120, 208}, {35, 186, 224}, {31, 13, 84}}

// addWeb registers every browsing name with a CNAME chain (for CDN-served
// ones), 1-4 rotating A records and TTLs typical of such names.
func (n *network) addWeb() {
	r := rand.New(rand.NewPCG(0x77656231, 7)) // the catalogue is the same for every seed
	seen := map[string]bool{}
	add := func(name string) {
		if seen[name] || n.lookup(name) != nil {
			return
		}
		seen[name] = true
		f := cdnFronts[r.IntN(len(cdnFronts))]
		s := &service{name: name, stack: f.stack, rtt: int64(8+r.IntN(60)) * ms, hops: uint8(8 + r.IntN(12)), rotate: true}
		block := f.block
		if f.suffix != "" {
			s.chain = []string{fmt.Sprintf("%s.%s", labelOf(name), f.suffix)}
			s.ttl = uint32(20 + r.IntN(280))
			block[2] += byte(r.IntN(4))
		} else {
			block = origins[r.IntN(len(origins))]
			s.ttl = uint32(60 + r.IntN(3540))
		}
		k := 1 + r.IntN(4)
		s.perAnswer = k
		for i := 0; i < k+2; i++ {
			s.addrs = append(s.addrs, addr4(block, byte(1+r.IntN(250))))
		}
		n.addService(s)
	}
	for _, st := range sites {
		add(st.main)
		for _, x := range st.subs {
			add(x)
		}
	}
	for _, x := range thirdParty {
		add(x)
	}
}

func labelOf(name string) string {
	out := []byte(name)
	for i, c := range out {
		if c == '.' {
			out[i] = '-'
		}
	}
	return string(out)
}

// addApple registers the Apple service names macOS and iOS use.
func (n *network) addApple() {
	n.svc("time-macos.apple.com", 300, stackLinux, 18*ms, []string{"time-macos.g.aaplimg.com"}, "17.253.14.125", "17.253.14.251", "17.253.34.125")
	n.svc("time-ios.apple.com", 300, stackLinux, 18*ms, []string{"time-ios.g.aaplimg.com"}, "17.253.14.123", "17.253.34.123")
	n.svc("time.apple.com", 300, stackLinux, 18*ms, []string{"time.g.aaplimg.com"}, "17.253.14.253")
	s := n.svc("courier.push.apple.com", 60, stackLinux, 30*ms, []string{"courier-push-apple.com.akadns.net", "gb-courier-4.push-apple.com.akadns.net"},
		"17.57.146.52", "17.57.146.53", "17.57.146.54", "17.57.146.55", "17.57.146.56", "17.57.146.57")
	s.rotate = true
	for i := 1; i <= 50; i += 7 {
		c := *s
		c.name = fmt.Sprintf("%d-courier.push.apple.com", i)
		n.addService(&c)
	}
	n.svc("captive.apple.com", 300, stackLinux, 15*ms, []string{"captive.g.aaplimg.com"}, "17.253.53.207", "17.253.53.208")
	n.svc("swscan.apple.com", 3600, stackLinux, 20*ms, []string{"swscan-cdn.apple.com.akadns.net"}, "17.253.73.201")
	n.svc("gdmf.apple.com", 3600, stackLinux, 22*ms, nil, "17.32.194.2", "17.32.194.4")
	n.svc("mesu.apple.com", 3600, stackLinux, 20*ms, []string{"mesu-cdn.apple.com.akadns.net"}, "17.253.73.204")
	n.svc("ocsp.apple.com", 3600, stackLinux, 20*ms, []string{"ocsp-a.g.aaplimg.com"}, "17.253.27.195")
	n.svc("configuration.apple.com", 3600, stackLinux, 20*ms, nil, "17.253.73.207")
}

// addMDM registers the MDM and EDR vendors' check-in names: the default
// baseline must approve these domains.
func (n *network) addMDM() {
	n.svc("acme.jamfcloud.com", 60, stackLinux, 35*ms, []string{"acme.jamfcloud.com.cdn.cloudflare.net"}, "104.18.38.12", "172.64.149.244")
	n.svc("acme.kandji.io", 60, stackLinux, 40*ms, nil, "35.171.78.120", "44.207.45.100")
	n.svc("acme-device.kandji.io", 60, stackLinux, 40*ms, nil, "35.171.78.121")
	n.svc("i.manage.microsoft.com", 300, stackWindows, 30*ms, []string{"i.manage.microsoft.com.trafficmanager.net"}, "20.190.151.7", "20.190.151.70")
	n.svc("ts01-b.cloudsink.net", 300, stackLinux, 45*ms, nil, "54.175.121.155", "52.0.36.227")
	n.svc("acme.sentinelone.net", 300, stackLinux, 40*ms, nil, "34.227.180.54")
	n.svc("mdmenrollment.apple.com", 3600, stackLinux, 20*ms, nil, "17.32.194.99")
}

// addOS registers the Windows and Linux service names.
func (n *network) addOS() {
	n.svc("time.windows.com", 900, stackWindows, 30*ms, []string{"twc.trafficmanager.net"}, "168.61.215.74", "20.101.57.9")
	n.svc("www.msftconnecttest.com", 300, stackWindows, 25*ms, []string{"www.msftconnecttest.com.edgesuite.net"}, "23.45.112.10")
	n.svc("ctldl.windowsupdate.com", 300, stackWindows, 25*ms, []string{"wu-bg-shim.trafficmanager.net"}, "13.107.4.50")
	n.svc("settings-win.data.microsoft.com", 300, stackWindows, 30*ms, nil, "20.42.65.92")
	n.svc("deb.debian.org", 300, stackCDN, 25*ms, []string{"debian.map.fastly.net"}, "151.101.2.132", "151.101.66.132")
	n.svc("security.debian.org", 300, stackCDN, 25*ms, []string{"debian.map.fastly.net"}, "151.101.2.132")
	n.svc("ntp.ubuntu.com", 300, stackLinux, 30*ms, nil, "185.125.190.58")
	// cleartext HTTP destinations for User-Agent evidence
	n.svc("neverssl.com", 300, stackLinux, 90*ms, nil, "34.223.124.45")
	n.svc("download.example-apps.com", 300, stackCDN, 20*ms, []string{"download-example-apps.map.fastly.net"}, "151.101.130.27")
}

// pickSite picks a site by weight.
func pickSite(r *rand.Rand) *site {
	total := 0
	for i := range sites {
		total += sites[i].weight
	}
	k := r.IntN(total)
	for i := range sites {
		k -= sites[i].weight
		if k < 0 {
			return &sites[i]
		}
	}
	return &sites[0]
}
