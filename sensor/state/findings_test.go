package state

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/launchtap/launchtap/sensor/alert"
)

// A checkpoint hands on the fates it wrote (for the hub), and its JSON
// keeps each alert's beat times, which the alert's own JSON leaves out.
func TestCheckpointCarriesFindings(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	beats := []time.Time{time.Unix(0, t0).UTC(), time.Unix(0, t0+int64(time.Minute)).UTC()}
	s.Record(&alert.Alert{ID: "a1", SrcIP: "10.0.0.1", DstFQDN: "c2.example.net", BeatTimes: beats, TS: beats[1]}, string(Alerted), "", "com.x")
	s.Record(&alert.Alert{ID: "a2", SrcIP: "10.0.0.1", DstFQDN: "time.apple.com", TS: beats[1]}, string(ApprovedDestination), "time.apple.com", "")
	c := &Checkpoint{Clock: t0, Sensor: "hq", Findings: []Finding{{Alert: &alert.Alert{ID: "ignored"}}}}
	if _, err := s.Checkpoint(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if len(c.Findings) != 2 || c.Findings[0].Alert.ID != "a1" {
		t.Fatalf("checkpoint findings %+v: want the two recorded, not what the caller left", c.Findings)
	}
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back Checkpoint
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	f := back.Findings
	if len(f) != 2 || f[0].Fate != Alerted || f[0].Label != "com.x" || len(f[0].Alert.BeatTimes) != 2 || !f[0].Alert.BeatTimes[1].Equal(beats[1]) ||
		f[1].Rule != "time.apple.com" || len(f[1].Alert.BeatTimes) != 0 {
		t.Errorf("findings after JSON: %+v", f)
	}
	// The next checkpoint has none: they were written.
	c2 := &Checkpoint{Clock: t0 + 1, Sensor: "hq"}
	if _, err := s.Checkpoint(context.Background(), c2); err != nil || len(c2.Findings) != 0 {
		t.Errorf("second checkpoint: %v, findings %+v", err, c2.Findings)
	}
}
