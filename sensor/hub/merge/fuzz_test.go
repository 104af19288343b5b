package merge

import (
	"testing"

	"github.com/launchtap/launchtap/sensor/host"
)

// FuzzParseMAC: a sensor's host id is a MAC only when it reads back as the
// same MAC.
func FuzzParseMAC(f *testing.F) {
	for _, s := range []string{"3c:22:fb:16:00:01", "3C-22-FB-16-00-01", "10.20.7.50", "fe80::1", "", "3c:22:fb:16:00:0g"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, ok := parseMAC(s)
		if !ok {
			return
		}
		if back, ok := parseMAC(host.MACString(m)); !ok || back != m {
			t.Fatalf("%q read as %v, which does not read back", s, m)
		}
	})
}
