package proc

import (
	"log/slog"
	"net/netip"
	"testing"

	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/hub/merge"
	"github.com/launchtap/launchtap/sensor/hub/obs"
)

func frameOf(t testing.TB, recs ...obs.Record) []byte {
	var w obs.Writer
	for _, r := range recs {
		if err := w.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	return append([]byte(nil), w.Bytes()...)
}

// FuzzFrame: whatever bytes a partition holds, the engine goroutine counts
// what it cannot read and carries on.
func FuzzFrame(f *testing.F) {
	mac := [6]byte{0x3c, 0x22, 0xfb, 0, 0, 1}
	f.Add(frameOf(f, &obs.Beat{Sensor: "office-a", HostID: "3c:22:fb:00:00:01", MAC: mac, SrcIP: netip.MustParseAddr("10.20.7.50"),
		Dest: "c2.example", Port: 443, Proto: 6, TS: 1_700_000_000_000_000_000}))
	f.Add(frameOf(f, &obs.Host{Sensor: "office-a", HostID: "3c:22:fb:00:00:01", MACs: [][6]byte{mac}, Serial: "C02X", Hostname: "janes-mbp",
		OS: "macos", Confidence: 0.9, TS: 1}))
	f.Add(frameOf(f, &obs.Beat{Sensor: "s", TS: 1}, &obs.Beat{Sensor: "s", HostID: "10.0.0.1", Dest: "x", TS: -5}))
	f.Add([]byte("LT\x01\x00\x01\x05"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := merge.New(merge.Config{Name: "hub"}, func(*alert.Alert) {})
		if err != nil {
			t.Fatal(err)
		}
		p := &Process{eng: e, log: slog.New(slog.DiscardHandler)}
		p.frame(3, data)
		p.frame(3, data) // again: a redelivery
		if _, err := obs.Decode(data); err != nil && p.malformed.Load() == 0 {
			t.Fatalf("undecodable frame not counted: %v", err)
		}
	})
}

// FuzzParseCounts: another process's prevalence table is read or refused.
func FuzzParseCounts(f *testing.F) {
	f.Add("d20514.p3", []byte(`{"part":3,"day":20514,"fleet":100,"dests":{"c2.example":1}}`))
	f.Add("d20514.p3", []byte(`{"part":64,"day":20514}`))
	f.Add("d1.p1", []byte(`not json`))
	f.Fuzz(func(t *testing.T, key string, val []byte) {
		pc, err := parseCounts(key, val)
		if err == nil && (pc.Part < 0 || pc.Part >= obs.Partitions || prevKey(pc.Day, pc.Part) != key) {
			t.Fatalf("accepted %q as %+v", key, pc)
		}
	})
}
