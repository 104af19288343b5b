package main

import (
	"net/netip"

	"github.com/launchtap/launchtap/sensor/decode"
	"github.com/launchtap/launchtap/sensor/pipeline"
)

// platformLookup answers from the MDM inventory's cache or file; it never
// blocks on the network (enrich.Service.Platform).
type platformLookup func(ip netip.Addr, mac [6]byte) (platform string, ok bool)

// inventoryHosts puts the inventory's word above passive evidence: when the
// inventory knows a host's platform, that is the host's OS, with full
// confidence; otherwise the passive table decides.
type inventoryHosts struct {
	passive  pipeline.HostTable
	platform platformLookup
}

func (h inventoryHosts) Observe(p *decode.Packet) { h.passive.Observe(p) }

func (h inventoryHosts) ObserveDNSQuery(ip netip.Addr, mac [6]byte, hasMAC bool, name string, ts int64) {
	h.passive.ObserveDNSQuery(ip, mac, hasMAC, name, ts)
}

func (h inventoryHosts) Lookup(ip netip.Addr, mac [6]byte, hasMAC bool) pipeline.HostVerdict {
	v := h.passive.Lookup(ip, mac, hasMAC)
	if !hasMAC {
		mac = [6]byte{}
	}
	p, ok := h.platform(ip, mac)
	if !ok {
		return v
	}
	os := osFromPlatform(p)
	if v.OS != os && v.OS != pipeline.OSUnknown && v.OS != "" {
		v.Evidence = append(v.Evidence, "passive evidence said "+v.OS+"; the inventory overrides it")
	}
	v.OS, v.Confidence = os, 1
	v.Evidence = append(v.Evidence, "inventory lists this host with platform "+p)
	return v
}

// osFromPlatform maps inventory platform names (osquery's, Jamf's, the file
// schema's) to alert OS families.
func osFromPlatform(p string) string {
	switch p {
	case "darwin", "macos", "macOS", "mac":
		return pipeline.OSMacOS
	case "ios", "ipados", "iOS", "iPadOS":
		return "ios"
	case "windows":
		return "windows"
	case "linux", "ubuntu", "debian", "rhel", "centos", "fedora", "amzn", "arch":
		return "linux"
	}
	return "other"
}
