package alert

import (
	"strings"
	"testing"
)

func TestJudge(t *testing.T) {
	mac := HostOS{MacOS: true, Confidence: 0.9}
	unknown := HostOS{Unknown: true}
	other := HostOS{}
	for _, c := range []struct {
		p      OSPolicy
		score  float64
		os     HostOS
		sev    Severity
		reason bool
		ok     bool
	}{
		{OSPolicyMacOS, 0.9, mac, SeverityHigh, false, true},
		{OSPolicyMacOS, 0.9, HostOS{MacOS: true, Confidence: 0.5}, SeverityMedium, false, true},
		{OSPolicyMacOS, 0.7, mac, SeverityMedium, false, true},
		{OSPolicyMacOS, 0.9, unknown, SeverityLow, true, true},
		{OSPolicyMacOS, 0.5, unknown, "", false, false},
		{OSPolicyMacOS, 0.9, other, "", false, false},
		{OSPolicyAny, 0.5, unknown, SeverityMedium, false, true},
		{OSPolicyAny, 0.9, other, SeverityMedium, false, true},
	} {
		sev, reason, ok := c.p.Judge(c.score, c.os, 0.6)
		if sev != c.sev || (reason != "") != c.reason || ok != c.ok {
			t.Errorf("%s %.1f %+v: %q %q %v; want %q, reason %v, %v", c.p, c.score, c.os, sev, reason, ok, c.sev, c.reason, c.ok)
		}
		if c.reason && !strings.Contains(reason, "0.90 >= 0.60") {
			t.Errorf("reason %q", reason)
		}
	}
}
