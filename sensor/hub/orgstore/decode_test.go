package orgstore

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/launchtap/launchtap/internal/pgtest"
	"github.com/launchtap/launchtap/sensor/beacon"
	"github.com/launchtap/launchtap/sensor/state"
)

func checkpointJSON(t testing.TB, c *state.Checkpoint) []byte {
	t.Helper()
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func TestDecodeCheckpoint(t *testing.T) {
	good := checkpointJSON(t, office("hq", 0, 2))
	for _, c := range []struct {
		name, sensor, js string
		want             error
	}{
		{"a sensor's checkpoint", "", string(good), nil},
		{"the record's sensor wins", "hq-2", string(good), nil},
		{"not JSON", "hq", "\x01\x02", ErrBadCheckpoint},
		{"no sensor", "", `{"Clock": 5}`, ErrNoSensor},
		{"an hour that is not one", "hq", `{"Hours": [{"Start": 5}]}`, ErrBadCheckpoint},
		{"a host hour that is not one", "hq", `{"HostHours": [{"IP": "10.0.0.1", "Start": -3600}]}`, ErrBadCheckpoint},
		{"a negative clock", "hq", `{"Clock": -1}`, ErrBadCheckpoint},
		{"a list of the wrong type", "hq", `{"Pairs": 7}`, ErrBadCheckpoint},
		{"fields of a newer sensor", "hq", `{"Clock": 5, "Future": [1, 2]}`, nil},
	} {
		cp, id, err := DecodeCheckpoint(c.sensor, []byte(c.js))
		switch {
		case c.want == nil && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != nil && !errors.Is(err, c.want):
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		case c.want == nil && (id == "" || c.sensor != "" && cp.Sensor != c.sensor):
			t.Errorf("%s: id %q, sensor %q", c.name, id, cp.Sensor)
		}
	}
	_, a, _ := DecodeCheckpoint("", good)
	_, b, _ := DecodeCheckpoint("", checkpointJSON(t, office("hq", 0, 3)))
	if a == b {
		t.Error("two checkpoints with one id")
	}
}

// The hub's path: the JSON a sensor publishes, applied once however often it
// comes; a corrupt pair state is skipped, the rest written.
func TestCheckpointJSON(t *testing.T) {
	s := open(t, pgtest.DB(t), Options{})
	ctx := context.Background()
	c := office("hq", 0, 2)
	c.Pairs = []*beacon.PairState{{Key: beacon.PairKey{Dest: "c2.example.net", Port: 443, Proto: 6}, Times: []int64{1, 2}}}
	js := checkpointJSON(t, c)
	for i, want := range []bool{true, false, false} {
		if ok, err := s.CheckpointJSON(ctx, "hq", js); ok != want || err != nil {
			t.Fatalf("delivery %d: %v %v, want %v", i, ok, err, want)
		}
	}
	if _, err := s.CheckpointJSON(ctx, "hq", []byte("{")); !errors.Is(err, ErrBadCheckpoint) {
		t.Errorf("truncated JSON: %v", err)
	}
	ev, err := s.Evidence(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Hours) != 2 || ev.Hours[0].Packets != 1000 || ev.Pairs != 0 {
		t.Errorf("hours %+v, %d pairs: want 2 hours counted once, the corrupt pair skipped", ev.Hours, ev.Pairs)
	}
	if st := s.Stats(); st.Checkpoints != 1 || st.Duplicates != 2 || st.Rejected != 1 || st.BadRows != 1 {
		t.Errorf("stats %+v", st)
	}
}

// FuzzDecodeCheckpoint: whatever bytes come, DecodeCheckpoint returns an
// error or a checkpoint the store can write (a sensor, whole hours).
func FuzzDecodeCheckpoint(f *testing.F) {
	f.Add("", checkpointJSON(f, office("hq", 0, 2)))
	f.Add("hq", []byte(`{"Clock": 5, "Hours": [{"Start": 3600, "Packets": 1}], "DoHHosts": [{"IP": "10.0.0.1"}]}`))
	f.Add("hq", []byte(`{"Hours": [{"Start": 5}]}`))
	f.Add("", []byte(`{"Sensor": "\u0000"}`))
	f.Add("x", []byte("null"))
	f.Fuzz(func(t *testing.T, sensor string, js []byte) {
		c, id, err := DecodeCheckpoint(sensor, js)
		if err != nil {
			return
		}
		if id == "" || clean(c.Sensor) == "" || c.Clock < 0 {
			t.Fatalf("accepted %q: id %q sensor %q clock %d", js, id, c.Sensor, c.Clock)
		}
		for _, h := range c.Hours {
			if h.Start%3600 != 0 {
				t.Fatalf("accepted hour %d", h.Start)
			}
		}
	})
}

// A sensor's checkpoint carries the fates its state wrote (approved ones
// too); the hub's store keeps them under the sensor, beats and all.
func TestCheckpointJSONFindings(t *testing.T) {
	s := open(t, pgtest.DB(t), Options{})
	ctx := context.Background()
	c := office("branch", 0, 1)
	c.Findings = []state.Finding{
		{Alert: finding("branch", "f1", t0.Add(50*time.Minute)), Fate: state.Alerted, Label: "com.evil.agent"},
		{Alert: finding("branch", "f2", t0.Add(50*time.Minute)), Fate: state.ApprovedDestination, Rule: "*.example.net"},
	}
	if ok, err := s.CheckpointJSON(ctx, "branch", checkpointJSON(t, c)); !ok || err != nil {
		t.Fatal(ok, err)
	}
	ev, err := s.Evidence(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Findings) != 2 {
		t.Fatalf("findings %+v", ev.Findings)
	}
	for _, f := range ev.Findings {
		if f.Sensor != "branch" || len(f.Alert.BeatTimes) != 8 || (f.Alert.ID == "f2") != (f.Rule == "*.example.net") {
			t.Errorf("finding %s: sensor %q, %d beats, rule %q", f.Alert.ID, f.Sensor, len(f.Alert.BeatTimes), f.Rule)
		}
	}
	if !s.Ledger("branch").Alerted("f1") {
		t.Error("the sensor's delivered alert is not known as delivered")
	}
}
