package hostid

import (
	"path/filepath"
	"testing"

	"github.com/launchtap/launchtap/internal/pkttest"
	"github.com/launchtap/launchtap/internal/testenv"
	"github.com/launchtap/launchtap/sensor/decode"
)

// capturesDir is the repository's real captures (testdata/captures).
func capturesDir(t testing.TB) string {
	return filepath.Dir(testenv.Capture(t, "README.md"))
}

func realPackets(t testing.TB, rel string) []decode.Packet {
	pkts, err := pkttest.ReadFile(filepath.Join(capturesDir(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return pkts
}
