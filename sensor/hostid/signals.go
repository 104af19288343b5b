package hostid

import (
	"strings"
	"unicode/utf8"

	"github.com/launchtap/launchtap/sensor/hostid/p0f"
)

// claim is what one piece of evidence says. Darwin means "macOS or iOS":
// the two share a TCP stack and several Apple services.
type claim uint8

const (
	claimNone claim = iota // shown to the analyst, no weight
	claimMacOS
	claimIOS
	claimDarwin
	claimWindows
	claimLinux
	claimOther
	numClaims
)

var claimNames = [numClaims]string{"none", string(MacOS), string(IOS), "darwin", string(Windows), string(Linux), string(Other)}

// claimFromString reads a classifier's answer: a platform, or "darwin" for
// "macOS or iOS".
func claimFromString(s string) claim {
	switch Platform(s) {
	case MacOS:
		return claimMacOS
	case IOS:
		return claimIOS
	case "darwin":
		return claimDarwin
	case Windows:
		return claimWindows
	case Linux:
		return claimLinux
	case Other:
		return claimOther
	}
	return claimNone
}

// kind is where evidence came from. Everything but the TCP stack is easy to
// imitate (a dhcpcd can send Apple's option 55, Samba advertises a Mac
// model, any host can resolve an Apple name or send a Mac User-Agent), so
// those kinds are spoofable: alone they never make a host macos.
type kind uint8

const (
	kindSYN kind = iota
	kindDHCP
	kindDHCP6
	kindMDNS
	kindDNS
	kindHTTP
	numKinds
)

var kindNames = [numKinds]string{"tcp_syn", "dhcp", "dhcpv6", "mdns", "dns", "http_ua"}

func (k kind) spoofable() bool { return k != kindSYN }

// Weights, in the same additive units as evidence accumulates. They are
// documented in docs/host-identification.md ("Signals and weights"); change
// both together.
const (
	wSYNExact     = 3.0 // specific p0f signature, exact
	wSYNGeneric   = 2.0 // generic signature, exact
	wSYNFuzzy     = 1.0 // fuzzy match (TTL out of range, tolerated quirks)
	wDHCPApple    = 2.5 // Apple option 55 with the macOS tail or the iOS end
	wDHCPOther    = 2.0 // Windows/Linux option 55 or vendor class
	wDHCPDarwin   = 1.0 // Apple-shaped list without the telling tail
	wHostname     = 0.5 // hostname pattern (MacBook, iPhone, DESKTOP-)
	wDHCPClientID = 1.0 // option 61 in RFC 4361 form: not an Apple or Windows client
	wMDNSModel    = 3.0 // _device-info model=
	wMDNSOSX      = 1.0 // osxvers=
	wMDNSComp     = 1.0 // _companion-link._tcp
	wMDNSSamba    = 1.0 // model=MacSamba: a Samba server, not a Mac
	wDNSNTP       = 2.0 // time-macos / time-ios.apple.com
	wDNSSWU       = 1.5 // macOS Software Update catalog/CDN
	wDNSApple     = 1.0 // Apple names both macOS and iOS use
	wDNSOther     = 1.5 // Windows Update / NTP, distribution mirrors
	wHTTPUA       = 1.0 // User-Agent token
	confScale     = 2.5 // weight at which confidence reaches 1-1/e of its share
	ambiguousCap  = 0.5 // confidence cap when TCP says Darwin and nothing separates macOS from iOS
	uaOnlyCap     = 0.6 // ... and when only a Mac User-Agent does
)

// familyOfLabel maps a p0f label to a claim. p0f's "Mac OS X" and "iOS"
// labels both become Darwin: p0f's own notes say its Mac rules match iPhones.
func familyOfLabel(l p0f.Label) claim {
	if l.Class == "!" {
		return claimNone // a tool (nmap, p0f-sendsyn), not an OS
	}
	n := strings.ToLower(l.Name)
	switch {
	case strings.Contains(n, "mac os"), strings.Contains(n, "macos"), n == "ios",
		strings.Contains(n, "darwin"), strings.Contains(n, "apple"):
		return claimDarwin
	case strings.Contains(n, "windows"):
		return claimWindows
	case strings.Contains(n, "linux"), strings.Contains(n, "android"), strings.Contains(n, "chrome os"):
		return claimLinux
	}
	return claimOther
}

// dnsRule is an OS-telling DNS name. A suffix rule (leading '.') matches the
// name itself and every name under it; "-courier.push.apple.com" matches
// any label ending so.
type dnsRule struct {
	name   string
	claim  claim
	weight float64
	why    string
}

var dnsRules = []dnsRule{
	{"time-macos.apple.com", claimMacOS, wDNSNTP, "macOS NTP server"},
	{"time-ios.apple.com", claimIOS, wDNSNTP, "iOS NTP server"},
	{"swscan.apple.com", claimMacOS, wDNSSWU, "macOS Software Update catalog"},
	{"swcdn.apple.com", claimMacOS, wDNSSWU, "macOS Software Update CDN"},
	{"swdist.apple.com", claimMacOS, wDNSSWU, "macOS Software Update"},
	{"swdownload.apple.com", claimMacOS, wDNSSWU, "macOS Software Update"},
	{"gdmf.apple.com", claimDarwin, wDNSApple, "Apple OS update/MDM catalog (macOS and iOS)"},
	{"mesu.apple.com", claimDarwin, wDNSApple, "Apple mobile asset server (macOS and iOS)"},
	{"-courier.push.apple.com", claimDarwin, wDNSApple, "Apple push (macOS and iOS)"},
	{"captive.apple.com", claimDarwin, wDNSApple, "Apple captive-portal check"},
	{"time.windows.com", claimWindows, wDNSOther, "Windows NTP server"},
	{".windowsupdate.com", claimWindows, wDNSOther, "Windows Update"},
	{".update.microsoft.com", claimWindows, wDNSOther, "Windows Update"},
	{"www.msftconnecttest.com", claimWindows, wDNSOther, "Windows connectivity check"},
	{"dns.msftncsi.com", claimWindows, wDNSOther, "Windows connectivity check"},
	{"ntp.ubuntu.com", claimLinux, wDNSOther, "Ubuntu NTP server"},
	{"connectivity-check.ubuntu.com", claimLinux, wDNSOther, "Ubuntu connectivity check"},
	{".archive.ubuntu.com", claimLinux, wDNSOther, "Ubuntu package mirror"},
	{"deb.debian.org", claimLinux, wDNSOther, "Debian package mirror"},
	{"security.debian.org", claimLinux, wDNSOther, "Debian security mirror"},
	{".pool.ntp.org", claimNone, 0, ""}, // explicitly neutral: every OS uses it
}

// matchDNS returns the index of the rule a query name matches, or -1. It
// does not allocate: comparisons are case-insensitive on the name as given.
func matchDNS(name string) int {
	name = strings.TrimSuffix(name, ".")
	if len(name) < 8 || !knownDomain(name) {
		return -1
	}
	for i := range dnsRules {
		r := &dnsRules[i]
		switch r.name[0] {
		case '.':
			if hasSuffixFold(name, r.name) || strings.EqualFold(name, r.name[1:]) {
				return i
			}
		case '-':
			if hasSuffixFold(name, r.name) {
				return i
			}
		default:
			if strings.EqualFold(name, r.name) {
				return i
			}
		}
	}
	return -1
}

// ruleDomains are the registrable domains dnsRules live under; checking the
// name's last two labels against them first keeps the common miss cheap.
var ruleDomains = []string{"apple.com", "windows.com", "windowsupdate.com", "microsoft.com",
	"msftconnecttest.com", "msftncsi.com", "ubuntu.com", "debian.org", "ntp.org"}

func knownDomain(name string) bool {
	dot := strings.LastIndexByte(name, '.')
	if dot <= 0 {
		return false
	}
	if d := strings.LastIndexByte(name[:dot], '.'); d >= 0 {
		name = name[d+1:]
	}
	// A name of ASCII octets (what every name read off the wire is:
	// miekg/dns escapes the others) folds to a rule only at the rule's
	// length, so EqualFold, not inlined, runs for at most one or two rules.
	ascii := true
	for i := 0; i < len(name); i++ {
		if name[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	for _, r := range ruleDomains {
		if (!ascii || len(name) == len(r)) && strings.EqualFold(name, r) {
			return true
		}
	}
	return false
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

// hostnameClaim reads default hostname patterns: Apple names devices
// "Alices-MacBook-Pro" / "Alices-iPhone", Windows "DESKTOP-XXXXXXX".
func hostnameClaim(h string) (claim, string) {
	l := strings.ToLower(h)
	switch {
	case strings.Contains(l, "iphone"), strings.Contains(l, "ipad"):
		return claimIOS, "iPhone/iPad"
	case strings.Contains(l, "macbook"), strings.Contains(l, "imac"), strings.Contains(l, "mac-mini"),
		strings.Contains(l, "macmini"), strings.Contains(l, "mac-pro"), strings.Contains(l, "mbp"), strings.Contains(l, "mac-studio"):
		return claimMacOS, "Mac"
	case strings.HasPrefix(l, "desktop-"), strings.HasPrefix(l, "laptop-"):
		return claimWindows, "Windows default"
	}
	return claimNone, ""
}
