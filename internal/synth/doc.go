// Package synth generates deterministic synthetic network traffic for tests,
// the demo and the labelled evaluation. It is not part of the sensor's data
// path: nothing under cmd/launchtap imports it at run time.
//
// A scenario (see Scenarios) is a small simulated network — Macs, iPhones,
// Windows and Linux hosts with the TCP/IP personalities of their real stacks,
// an internal DNS resolver at 10.20.0.53, DHCP, mDNS, NTP, browsing noise and
// planted beacons — run on a simulated clock. Generate writes its Ethernet
// frames in timestamp order to a PacketWriter (pcapgo's pcap and pcapng writers
// satisfy it) and returns the ground truth as Labels: one per labelled
// (source, destination, port, protocol) pair, with the beats actually emitted.
//
// Everything is a pure function of (scenario, seed, Options): the same inputs
// produce the same bytes on every machine. No wall clock is read.
//
// # What the hosts look like on the wire
//
//   - macOS/iOS SYN: TTL 64, DF, IP ID 0, window 65535, options
//     mss 1460,nop,ws 6,nop,nop,ts,sackOK,eol; ECN-setup (ECE|CWR) on most
//     connections, ECT(0) on data when the server accepts. Windows 10/11: TTL
//     128, window 64240 (65535 or 8192 on some hosts), mss,nop,ws 8,nop,nop,
//     sackOK, a global IP ID counter. Linux: TTL 64, window 64240,
//     mss,sackOK,ts,nop,ws 7.
//   - DHCP option 55 per OS (Apple's IPConfiguration lists, Windows, ISC
//     dhclient), option 12 hostname, option 61 client id; Bonjour
//     _device-info._tcp TXT model= and osxvers= (Macs), model=iPhone14,2;
//     time-macos.apple.com / time-ios.apple.com / time.windows.com NTP;
//     cleartext HTTP User-Agents (CFNetwork/Darwin from Apple apps) in the
//     evaluation and bench scenarios.
//   - Every connection is preceded by a DNS lookup (A, and AAAA where the OS
//     does) unless the answer is still cached; answers carry CNAME chains and
//     TTLs, packed with miekg/dns.
//
// # Labels
//
// Label.Style names the pattern. Planted beacons (should_alert on a Mac):
// launchd-interval (demo), launchd-start-interval, launchd-sleep-coalesce,
// launchd-calendar-hourly, launchd-calendar-daily, launchd-keepalive-loop,
// c2-one-sided-jitter (sleep U[P(1-j), P]), c2-symmetric-jitter
// (U[P(1-j), P(1+j)]), c2-additive-jitter (P + U(0, J), jitter = J/P),
// multi-connection (2-3 sessions per beat), missed-beats, quic-udp443,
// cdn-rotation, dns-channel (dst_fqdn is the registered domain, dst_port 53:
// the beats are the queries), per-beat-names (dst_fqdn is the registered
// domain), long-session-bursts (beats are bursts inside one TCP session),
// and the host-identity styles of issue 11 (one alert each, on one host):
// dhcp-churn (a Mac re-addressed by DHCP every 2-3 h), ipv6-temp (beats
// from RFC 8981 temporary IPv6 addresses), docked (a MacBook on a dock's
// Ethernet and on Wi-Fi: two MACs), generic-hostname (a Mac named
// MacBook-Pro like another). Their labels list every source address and
// MAC in src_ips and src_macs, and name the device in device.
// Expected only with --os any: windows-beacon, linux-beacon (and C2 styles on
// non-Mac hosts). Never expected: internal-periodic, apple-ntp, apple-push,
// apple-softwareupdate, apple-mdm, mdm-checkin, edr-checkin (approved by the
// default baseline), few-connections, irregular, browsing-noise (dst_fqdn
// "*": any alert from that source is false).
//
// An evaluation matches an alert to the label with the same src_ip whose
// dst_fqdn equals the alert's name or is its registered domain (or whose
// dst_ips hold the alert's address), same dst_port and proto; an alert that
// matches no label with should_alert (or should_alert_os_any under --os any)
// is a false alert.
//
// HostLabels gives the per-host truth for host identification (OS, version,
// model, MAC, addresses, when a host left); the hosts-mix scenario holds the
// hard cases: iPad with a Mac User-Agent, older macOS DHCP lists, dhcpcd and
// Samba spoofers, DHCP churn and private Wi-Fi MAC rotation.
//
// # Host identity (issue 11)
//
// dhcp-churn, ipv6-temp, docked and mixed-identity (all three at once with
// 20 background hosts) put one beaconing LaunchAgent on a Mac whose address
// or interface changes under it, with what the span sees of that: DHCPv4
// NAKs, RELEASEs and new leases (options 12 and 61), router advertisements
// of a global prefix outside the default internal networks, duplicate
// address detection and neighbour solicitations, DHCPv6 under one DUID on
// two interfaces, Bonjour announcements per interface. A TCP session keeps
// the address and MAC it opened from, as a real stack does.
// docs/identity-captures.md describes each and what the sensor must make of it.
package synth
