package alert

import (
	"strconv"
	"time"

	"github.com/launchtap/launchtap/sensor/beacon"
)

// FromFinding is the alert for f as far as the finding tells it: when, the
// destination, the period and its evidence, f's reasons and then extra.
// The caller adds what it knows of the source host and the alert's ID.
func FromFinding(f *beacon.Finding, sensor string, sev Severity, extra []string) *Alert {
	k := f.Key
	a := &Alert{
		TS:             time.Unix(0, f.Last).UTC(),
		Sensor:         sensor,
		Severity:       sev,
		DstFQDN:        k.Dest,
		DstPort:        k.Port,
		Proto:          protoName(k.Proto),
		Kind:           k.Kind.String(),
		PeriodS:        f.PeriodS,
		Jitter:         f.Jitter,
		Beats:          f.Beats,
		Missed:         f.Missed,
		FirstSeen:      time.Unix(0, f.First).UTC(),
		LastSeen:       time.Unix(0, f.Last).UTC(),
		Score:          f.Score,
		BytesOutMedian: f.BytesOutMedian,
		BytesInMedian:  f.BytesInMedian,
		Reasons:        append(f.Reasons, extra...),
		DstIPs:         make([]string, 0, len(f.DstIPs)),
	}
	for _, ip := range f.DstIPs {
		if ip.IsValid() {
			a.DstIPs = append(a.DstIPs, ip.String())
		}
	}
	for _, t := range f.BeatTimes {
		a.BeatTimes = append(a.BeatTimes, time.Unix(0, t).UTC())
	}
	return a
}

func protoName(p uint8) string {
	switch p {
	case 6:
		return "tcp"
	case 17:
		return "udp"
	}
	return strconv.Itoa(int(p))
}
