package hostid

import "strings"

// Platform is an operating-system family: what a verdict concludes, what an
// inventory says, and what an alert's host_os carries. One vocabulary, so
// the inventory's word and the traffic's are compared without translation.
type Platform string

// Platforms a host is labelled with.
const (
	MacOS   Platform = "macos"
	IOS     Platform = "ios"
	Windows Platform = "windows"
	Linux   Platform = "linux"
	Other   Platform = "other"
	Unknown Platform = "unknown"
)

// ParsePlatform maps the names inventories and MDMs use (darwin, macOS,
// ipados, ubuntu, Windows…) onto the vocabulary. It is the one translation:
// an empty name stays empty (the inventory does not say) and a name it does
// not know is Other.
func ParsePlatform(s string) Platform {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "darwin", "macos", "mac os x", "osx", "mac":
		return MacOS
	case "ios", "ipados", "iphone", "ipad":
		return IOS
	case "windows", "win":
		return Windows
	case "linux", "ubuntu", "debian", "rhel", "centos", "fedora", "amzn", "arch", "sles", "opensuse", "gentoo", "manjaro", "rocky", "almalinux":
		return Linux
	case "":
		return ""
	}
	return Other
}
