package baseline

import (
	"fmt"
	"net/netip"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// Warning is a rule that loads but approves more than its author likely
// meant.
type Warning struct {
	Rule *Rule
	Msg  string
}

func (w Warning) String() string {
	return fmt.Sprintf("%s: rule %q: %s", w.Rule.Source, w.Rule.Name, w.Msg)
}

// sharedPlatforms are cloud services anyone can put content on, which
// attackers use for C2 and exfiltration (MITRE T1102, T1567): a
// destination-only rule for them approves the attacker too.
var sharedPlatforms = []string{
	"dropbox.com", "dropboxapi.com", "dropboxusercontent.com", "slack.com", "slack-edge.com", "slack-files.com",
	"googleapis.com", "googleusercontent.com", "drive.google.com", "docs.google.com", "icloud-content.com",
	"amazonaws.com", "cloudfront.net", "azurewebsites.net", "blob.core.windows.net", "web.core.windows.net",
	"github.com", "githubusercontent.com", "pastebin.com", "discord.com", "discordapp.com", "telegram.org",
	"onedrive.live.com", "1drv.com", "sharepoint.com", "workers.dev", "pages.dev", "ngrok.io", "ngrok-free.app",
}

// user-writable or catch-all program locations.
var broadPrograms = []string{"/", "~/", "/Users/", "/tmp/", "/private/tmp/", "/var/tmp/", "/private/var/tmp/", "/Users/Shared/", "/var/folders/", "/private/var/folders/", "~/Library/", "/opt/homebrew/", "/usr/local/"}

// Warnings lists the rules that are weak (a label alone identifies the job)
// or broad (a glob, prefix or network that approves far more than one
// service), for `launchtap baseline check`.
func (b *Baseline) Warnings() []Warning {
	var out []Warning
	for _, r := range b.Rules() {
		for _, m := range r.warnings() {
			out = append(out, Warning{r, m})
		}
	}
	return out
}

func (r *Rule) warnings() []string {
	var w []string
	if r.Weak() {
		w = append(w, "weak: a label alone identifies the job, and any program can take a label; add programs, team_ids or plist")
	}
	for _, l := range r.Labels {
		pre, _, _ := strings.Cut(l, "*")
		pre, _, _ = strings.Cut(pre, "?")
		pre, _, _ = strings.Cut(pre, "[")
		if strings.ContainsAny(l, "*?[") && strings.Count(pre, ".") < 2 {
			w = append(w, fmt.Sprintf("broad: label glob %q matches labels of many vendors", l))
		}
	}
	for _, p := range r.Programs {
		for _, bp := range broadPrograms {
			if p == bp || p+"/" == bp {
				w = append(w, fmt.Sprintf("broad: program prefix %q is a catch-all or user-writable location", p))
				break
			}
		}
		if strings.HasPrefix(p, "~/") && len(r.TeamIDs) == 0 {
			w = append(w, fmt.Sprintf("program prefix %q is in the user's home, writable by anything the user runs; add team_ids", p))
		}
	}
	if r.Plist == LocationUser && len(r.TeamIDs) == 0 {
		w = append(w, "plist: user is writable by anything the user runs; add team_ids")
	}
	for _, d := range r.Destinations {
		if msg := broadDest(d); msg != "" {
			w = append(w, msg)
		}
		if !r.hasJob() {
			if p := sharedPlatform(d); p != "" {
				w = append(w, fmt.Sprintf("destination %q is on %s, a shared platform attackers also use for C2: approve it only together with the vendor's launchd job", d, p))
			}
		}
	}
	return w
}

func broadDest(d string) string {
	if strings.Contains(d, "/") {
		p, err := netip.ParsePrefix(d)
		if err == nil && ((p.Addr().Is4() && p.Bits() < 8) || (p.Addr().Is6() && p.Bits() < 24)) {
			return fmt.Sprintf("broad: network %s covers a large part of the Internet", d)
		}
		return ""
	}
	n := normName(d)
	if n == "*" || strings.HasPrefix(n, "*") && !strings.HasPrefix(n, "*.") {
		return fmt.Sprintf("broad: destination glob %q matches names of any domain", d)
	}
	if rest, ok := strings.CutPrefix(n, "*."); ok {
		if ps, _ := publicsuffix.PublicSuffix(rest); ps == rest {
			return fmt.Sprintf("broad: destination glob %q matches every domain under the public suffix %s", d, rest)
		}
	}
	return ""
}

func sharedPlatform(d string) string {
	n := strings.TrimPrefix(normName(d), "*.")
	for _, p := range sharedPlatforms {
		if n == p || strings.HasSuffix(n, "."+p) {
			return p
		}
	}
	return ""
}
