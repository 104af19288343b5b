package syslog

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/launchtap/launchtap/sensor/alert"
)

// fleetHostsShown is how many of a group's hosts a syslog message lists: a
// SIEM sees who is in the group at a glance, and a datagram stays small.
// The JSON format carries the alert's whole list; host_count is exact in all.
const fleetHostsShown = 5

// fleetHosts renders the first hosts of a group alert as
// "src_ip/src_mac/hostname/period_s/beats" joined by ", ", followed by
// "+N more" when the group has more hosts than are shown.
func fleetHosts(a *alert.Alert) string {
	clean := strings.NewReplacer("/", "_", ",", "_")
	var b strings.Builder
	n := min(len(a.Hosts), fleetHostsShown)
	for i, h := range a.Hosts[:n] {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s/%s/%s/%s/%d", h.SrcIP, h.SrcMAC, clean.Replace(oneLine(h.Hostname)), ftoa(h.PeriodS), h.Beats)
	}
	if more := a.HostCount - n; more > 0 && n > 0 {
		fmt.Fprintf(&b, ", +%d more", more)
	}
	return b.String()
}

// fleetParams are the fleet grouping's SD-PARAMs (and LEEF attributes),
// none for an alert in no group: the group's id, count and update flag,
// which an RFC 5424 message keeps among its most important params, and the
// host list, which it puts last (dropped first when a datagram must
// shrink).
func fleetParams(a *alert.Alert) (head, hosts []param) {
	if a.GroupID == "" {
		return nil, nil
	}
	head = []param{{"group_id", a.GroupID}}
	if a.HostCount > 0 {
		head = append(head, param{"host_count", strconv.Itoa(a.HostCount)})
	}
	if a.Update {
		head = append(head, param{"update", "true"})
	}
	if len(a.Hosts) > 0 {
		hosts = []param{{"hosts", fleetHosts(a)}}
	}
	return head, hosts
}

// fleetSummary is the part of the one-line summary that names a group's
// hosts ("15 hosts (10.0.0.1, 10.0.0.2, ... +10 more)"), or "" for an
// alert that is not a group alert.
func fleetSummary(a *alert.Alert) string {
	if a.HostCount == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d hosts (", a.HostCount)
	n := min(len(a.Hosts), fleetHostsShown)
	for i, h := range a.Hosts[:n] {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(orDash(h.SrcIP))
	}
	if more := a.HostCount - n; more > 0 {
		if n > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "+%d more", more)
	}
	b.WriteString(")")
	return b.String()
}
