package pipeline

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"

	"github.com/launchtap/launchtap/sensor/beacon"
	"github.com/launchtap/launchtap/sensor/hub/obs"
)

// hubSink collects what the workers hand the hub; full refuses everything.
type hubSink struct {
	mu       sync.Mutex
	beats    []obs.Beat
	findings []obs.Finding
	hosts    []obs.Host
	full     bool
}

func (s *hubSink) Host(h obs.Host) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.full {
		return false
	}
	s.hosts = append(s.hosts, h)
	return true
}

func (s *hubSink) Beats(b []obs.Beat) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.full {
		return false
	}
	s.beats = append(s.beats, b...)
	return true
}

func (s *hubSink) Finding(f obs.Finding) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.full {
		return false
	}
	s.findings = append(s.findings, f)
	return true
}

func replayHub(t *testing.T, workers int, sink HubSink) ([]string, Stats) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Workers = workers
	cfg.OS = "any"
	cfg.Sensor = "tap-test"
	if sink != nil {
		cfg.Hub = sink
	}
	alerts, st := runConfig(t, cfg, readAll(t, "../../testdata/demo.pcapng"), false)
	slices.Sort(alerts)
	return alerts, st
}

// TestHubBeats replays the demo capture with a hub sink: the hub gets every
// beat the detectors were given, once, sized where the session ended, keyed
// by the host's MAC; and the alerts are those of a sensor without a hub.
func TestHubBeats(t *testing.T) {
	alone, _ := replayHub(t, 1, nil)
	for _, workers := range []int{1, 2} {
		sink := &hubSink{}
		alerts, st := replayHub(t, workers, sink)
		if !slices.Equal(alerts, alone) {
			t.Fatalf("%d workers: alerts with a hub differ from without", workers)
		}
		if st.Hub.Beats != st.Beacon.Beats || uint64(len(sink.beats)) != st.Beacon.Beats || st.Hub.Dropped != 0 {
			t.Fatalf("%d workers: hub got %d beats (counted %d, dropped %d), the detectors %d",
				workers, len(sink.beats), st.Hub.Beats, st.Hub.Dropped, st.Beacon.Beats)
		}
		if st.Hub.Findings != st.Findings || uint64(len(sink.findings)) != st.Findings || st.Findings == 0 {
			t.Fatalf("%d workers: hub got %d findings, the detectors made %d", workers, len(sink.findings), st.Findings)
		}
		seen := map[string]bool{}
		var sized, sessions, zero int
		for _, b := range sink.beats {
			var w obs.Writer
			if err := w.Add(&b); err != nil {
				t.Fatalf("beat %+v does not encode: %v", b, err)
			}
			key := fmt.Sprint(b.HostID, b.Dest, b.DestIP, b.Port, b.Kind, b.TS)
			if seen[key] {
				t.Fatalf("beat %+v handed over twice", b)
			}
			seen[key] = true
			if b.Sensor != "tap-test" || !b.SrcIP.IsValid() || b.HostID == "" {
				t.Fatalf("beat %+v lacks its sensor, address or host", b)
			}
			if _, err := netip.ParseAddr(b.HostID); err != nil {
				if hw, err := net.ParseMAC(b.HostID); err != nil || len(hw) != 6 || hw.String() != b.HostID {
					t.Fatalf("beat keyed %q: neither a MAC in lower-case colon form nor an address", b.HostID)
				}
			}
			if b.Kind != beacon.KindDNS && b.BytesOut == 0 && b.BytesIn == 0 {
				zero++
			}
			if b.Kind == beacon.KindSession {
				sessions++
				if b.BytesOut > 0 || b.BytesIn > 0 {
					sized++
				}
			}
		}
		// Every beating host's evidence, keyed as its beats, sent once per
		// address and interval, not once per beat.
		hostRecs := map[string]bool{}
		for _, h := range sink.hosts {
			hostRecs[h.HostID] = true
			var w obs.Writer
			if err := w.Add(&h); err != nil {
				t.Fatalf("host %+v does not encode: %v", h, err)
			}
		}
		for _, b := range sink.beats {
			if !hostRecs[b.HostID] {
				t.Fatalf("%d workers: host %s beats but its evidence was not sent", workers, b.HostID)
			}
		}
		if len(sink.hosts) == 0 || len(sink.hosts) > len(sink.beats)/2 || st.Hub.Hosts != uint64(len(sink.hosts)) {
			t.Fatalf("%d workers: %d host records (counted %d) for %d beats", workers, len(sink.hosts), st.Hub.Hosts, len(sink.beats))
		}
		// A burst is sized when the next one begins, often later than the
		// hub waits: only sessions are expected sized.
		if sessions == 0 || sized < sessions*9/10 || st.Hub.Unsized > uint64(zero) {
			t.Fatalf("%d workers: %d of %d session beats sized, %d unsized counted", workers, sized, sessions, st.Hub.Unsized)
		}
	}
}

// TestHubSinkFull: a sink with no room costs the detection nothing and is
// counted.
func TestHubSinkFull(t *testing.T) {
	alone, _ := replayHub(t, 1, nil)
	alerts, st := replayHub(t, 1, &hubSink{full: true})
	if !slices.Equal(alerts, alone) {
		t.Fatal("alerts with a full hub sink differ from without")
	}
	if st.Hub.Beats != 0 || st.Hub.Dropped != st.Beacon.Beats || st.Hub.FindingsDropped != st.Findings ||
		st.Hub.Hosts == 0 || st.Hub.HostsDropped != st.Hub.Hosts {
		t.Fatalf("hub stats %+v with %d beats and %d findings", st.Hub, st.Beacon.Beats, st.Findings)
	}
}

// discardHub takes everything and keeps nothing: what the data path pays
// for --hub-url, without the publisher.
type discardHub struct{}

func (discardHub) Beats([]obs.Beat) bool    { return true }
func (discardHub) Finding(obs.Finding) bool { return true }
func (discardHub) Host(obs.Host) bool       { return true }
