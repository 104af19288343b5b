package synth

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/gopacket/gopacket"
)

// PacketWriter receives generated Ethernet frames in non-decreasing timestamp
// order. *pcapgo.Writer and *pcapgo.NgWriter satisfy it. data is only valid
// during the call.
type PacketWriter interface {
	WritePacket(ci gopacket.CaptureInfo, data []byte) error
}

// Scenario describes one named, registered scenario.
type Scenario struct {
	Name        string
	Description string
	// Eval marks the labelled evaluation scenarios (issue 3); an evaluation
	// program generates each of them for several seeds.
	Eval bool
	// Span is the simulated time the scenario covers (its actors stop
	// starting new activity after Span; sessions in flight then finish).
	Span time.Duration
	// DefaultPackets is the packet count used when Options.Packets is 0 for
	// scenarios sized by packets rather than time (bench); 0 otherwise.
	DefaultPackets int

	build func(w *world)
}

// Options adjusts a generation run. The zero value means the scenario's defaults.
type Options struct {
	// Packets stops generation after this many frames. For bench it sets the
	// size; for time-bounded scenarios it only truncates. 0: scenario default.
	Packets int
	// SnapLen cuts every frame to this many captured bytes, as a sensor
	// capturing with a snap length would (headers kept, Length stays the
	// wire length). 0: full frames.
	SnapLen int
}

// Label is the ground truth for one (source, destination, port, protocol)
// pair of a generated scenario.
//
// dst_fqdn "*" means every destination of that source (used for browsing
// noise hosts: any alert on them is a false alert). For a beacon whose name
// changes every beat, dst_fqdn is the registered domain the names share.
// Jitter is a fraction of the period: for additive (Sliver-style) jitter
// P+U(0,J) it is J/P.
type Label struct {
	Scenario string `json:"scenario"`
	Style    string `json:"style"`
	SrcIP    string `json:"src_ip"`
	SrcMAC   string `json:"src_mac"`
	// SrcIPs and SrcMACs are every address and MAC the pair's beats left
	// from, in order of first use, when there are more than one (a host
	// re-addressed by DHCP or IPv6 privacy addresses, or a docked laptop);
	// SrcIP and SrcMAC are then the first. One label is one host's pair.
	SrcIPs  []string `json:"src_ips,omitempty"`
	SrcMACs []string `json:"src_macs,omitempty"`
	// Device names the machine (its hostname) on the labels of a device
	// that shows more than one address or MAC, the same on each of them.
	// It is ground truth, not the sensor's host_id (a MAC or address).
	Device           string      `json:"device,omitempty"`
	OS               string      `json:"os"`
	DstFQDN          string      `json:"dst_fqdn"`
	DstIPs           []string    `json:"dst_ips,omitempty"`
	DstPort          uint16      `json:"dst_port"`
	Proto            string      `json:"proto"`
	PeriodS          float64     `json:"period_s"`
	Jitter           float64     `json:"jitter"`
	Beats            int         `json:"beats"`
	ShouldAlert      bool        `json:"should_alert"`
	ShouldAlertOSAny bool        `json:"should_alert_os_any"`
	Note             string      `json:"note"`
	FirstBeat        *time.Time  `json:"first_beat,omitempty"`
	LastBeat         *time.Time  `json:"last_beat,omitempty"`
	MeanIntervalS    float64     `json:"mean_interval_s,omitempty"`
	BeatTimes        []time.Time `json:"beat_times,omitempty"`
}

// HostLabel is the ground truth for one host identity of a scenario (issue
// 4): what launchtap's host table should say about the MAC/IP pair. A host
// that leaves the network has Until set; a device that rejoins with a new
// private Wi-Fi MAC is a new HostLabel.
type HostLabel struct {
	Scenario  string     `json:"scenario"`
	Hostname  string     `json:"hostname"`
	IP        string     `json:"ip"`
	IP6       string     `json:"ip6,omitempty"`
	MAC       string     `json:"mac"`
	VLAN      uint16     `json:"vlan,omitempty"`
	OS        string     `json:"os"`
	OSVersion string     `json:"os_version"`
	Model     string     `json:"model,omitempty"`
	Until     *time.Time `json:"until,omitempty"`
	Note      string     `json:"note,omitempty"`
}

// HostLabels runs scenario name with seed (discarding the frames) and
// returns the ground truth of every host in it, sorted by IP then MAC.
func HostLabels(name string, seed uint64) ([]HostLabel, error) {
	sc, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownScenario, name)
	}
	wd := newWorld(sc, seed, discardWriter{}, Options{Packets: sc.DefaultPackets})
	sc.build(wd)
	if err := wd.run(); err != nil {
		return nil, fmt.Errorf("synth: scenario %s seed %d: %w", name, seed, err)
	}
	return wd.hostLabels(), nil
}

type discardWriter struct{}

func (discardWriter) WritePacket(gopacket.CaptureInfo, []byte) error { return nil }

// WriteHostLabels writes host labels as an indented JSON array.
func WriteHostLabels(w io.Writer, hosts []HostLabel) error {
	if hosts == nil {
		hosts = []HostLabel{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(hosts); err != nil {
		return fmt.Errorf("synth: writing host labels: %w", err)
	}
	return nil
}

// Stats summarises one generation run.
type Stats struct {
	Packets int
	Bytes   int64 // frame bytes written
	First   time.Time
	Last    time.Time
}

// ErrUnknownScenario is returned for a scenario name that is not registered.
var ErrUnknownScenario = errors.New("synth: unknown scenario")

// Scenarios returns every registered scenario, sorted by name.
func Scenarios() []Scenario {
	out := make([]Scenario, 0, len(registry))
	for _, s := range registry {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// EvalScenarios returns the labelled evaluation scenarios, sorted by name.
func EvalScenarios() []Scenario {
	var out []Scenario
	for _, s := range Scenarios() {
		if s.Eval {
			out = append(out, s)
		}
	}
	return out
}

// Lookup returns the scenario registered under name.
func Lookup(name string) (Scenario, bool) {
	s, ok := registry[name]
	return s, ok
}

// Generate runs scenario name with seed, writing frames to w, and returns its
// labels (sorted by scenario, source, destination, port).
func Generate(name string, seed uint64, w PacketWriter) ([]Label, error) {
	labels, _, err := GenerateWith(name, seed, w, Options{})
	return labels, err
}

// GenerateWith is Generate with options; it also returns run statistics.
func GenerateWith(name string, seed uint64, w PacketWriter, opt Options) ([]Label, Stats, error) {
	sc, ok := registry[name]
	if !ok {
		return nil, Stats{}, fmt.Errorf("%w %q", ErrUnknownScenario, name)
	}
	if opt.Packets < 0 {
		return nil, Stats{}, fmt.Errorf("synth: negative packet count %d", opt.Packets)
	}
	if opt.SnapLen < 0 || (opt.SnapLen > 0 && opt.SnapLen < 64) {
		return nil, Stats{}, fmt.Errorf("synth: snap length %d: want 0 (full) or >= 64", opt.SnapLen)
	}
	wd := newWorld(sc, seed, w, opt)
	sc.build(wd)
	if err := wd.run(); err != nil {
		return nil, wd.stats, fmt.Errorf("synth: scenario %s seed %d: %w", name, seed, err)
	}
	return wd.finishLabels(), wd.stats, nil
}

// WriteLabels writes labels as an indented JSON array.
func WriteLabels(w io.Writer, labels []Label) error {
	if labels == nil {
		labels = []Label{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(labels); err != nil {
		return fmt.Errorf("synth: writing labels: %w", err)
	}
	return nil
}

// ReadLabels reads a JSON array written by WriteLabels.
func ReadLabels(r io.Reader) ([]Label, error) {
	var out []Label
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("synth: reading labels: %w", err)
	}
	return out, nil
}

var registry = map[string]Scenario{}

func register(s Scenario) {
	if _, dup := registry[s.Name]; dup {
		panic("synth: duplicate scenario " + s.Name)
	}
	registry[s.Name] = s
}
