// Package syslog delivers alerts and sensor status to syslog receivers and
// SIEM collectors.
//
// Each destination (--syslog URL, repeatable) has its own wire format and
// transport:
//
//	udp://host:514        RFC 5426, one message per datagram, truncated (never split)
//	tcp://host:514        RFC 6587 octet counting ("LEN SP MSG")
//	tls://host:6514       RFC 5425, octet counting over TLS 1.2+
//	unix:///dev/log       local daemon: datagram socket, falling back to stream (LF-terminated)
//
// and its own body format, chosen with ?format= on the URL or --syslog-format:
// rfc5424 (header + structured data under an enterprise SD-ID, MSG a one-line
// summary), cef (ArcSight CEF:0), leef (IBM LEEF 2.0, tab-delimited) or json
// (the alert's JSON schema as MSG). Every message carries an RFC 5424 header
// and the registered [meta sequenceId="N"] element so receivers can spot gaps
// and duplicates.
//
// Delivery: every message first enters a bounded per-destination backlog
// (memory, or an on-disk spool with --spool) and leaves it only once the
// transport has confirmed it. For TCP/TLS that is the peer's TCP
// acknowledgement (SIOCOUTQ, trusted only while the connection is
// established) plus a resend window (default 2s) that covers a receiver
// dying with acknowledged data unread; a clean close (FIN) confirms what was
// acknowledged at once. A broken connection is detected by write errors, a
// write timeout and a reader that sees EOF or a reset (receivers never send);
// everything unconfirmed is sent again, in order, after reconnecting with
// exponential backoff and jitter. That is at-least-once (duplicates keep
// their meta sequenceId). UDP has no acknowledgements: an ICMP
// port-unreachable (seen by the reader or SO_ERROR) keeps the message for a
// resend, silence counts as delivery after the window, so UDP is
// at-most-once where ICMP is filtered. See docs/syslog.md and docs/formats/.
//
// An outage is logged twice whatever its length: "receiver unreachable,
// buffering" (WARN) at the first failure, then "receiver reachable again"
// (INFO) at the first confirmed delivery, or "receiver unreachable until
// shutdown" (WARN), each with the number of failures in between (each also
// counted in ConnErrors, and logged at DEBUG). A successful dial does not end
// an outage: a UDP socket always dials, and only ICMP says nobody listens.
//
// Severity mapping (syslog severity; CEF/LEEF sev in brackets):
//
//	alert severity high → 3 err [8], medium → 4 warning [5], low → 5 notice [3];
//	empty/unknown severity: score >= 0.8 → 3, >= 0.5 → 4, else 5;
//	then one level less severe (max 6 info) when host_os_confidence < 0.5,
//	because the detection is about macOS launchd jobs and the host OS is unsure.
//	SENSOR-STATS is 6 info; SENSOR-HEALTH uses the caller's severity.
package syslog
