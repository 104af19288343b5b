package hostid

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/launchtap/launchtap/internal/pkttest"
	"github.com/launchtap/launchtap/sensor/decode"
)

func capturesDir(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "captures")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("real captures not present: %v", err)
	}
	return dir
}

func realPackets(t testing.TB, rel string) []decode.Packet {
	pkts, err := pkttest.ReadFile(filepath.Join(capturesDir(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return pkts
}
