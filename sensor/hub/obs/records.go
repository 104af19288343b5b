package obs

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"

	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/beacon"
)

// Beat is one beat of one host to one destination, as the sensor's
// detector was given it: a session start, a burst inside a long session,
// or a DNS query.
type Beat struct {
	Sensor   string
	HostID   string     // host identity: its MAC where the span sees it, else its address
	MAC      [6]byte    // zero where the span does not see it
	SrcIP    netip.Addr // the host's address at the time
	Dest     string     // the FQDN the host resolved, "" when none
	DestIP   netip.Addr
	Port     uint16
	Proto    uint8
	Kind     beacon.Kind
	TS       int64 // capture time, Unix ns
	BytesOut uint64
	BytesIn  uint64
}

// Type is KindBeat.
func (*Beat) Type() Kind { return KindBeat }

// AppendBinary appends the beat's body.
func (m *Beat) AppendBinary(b []byte) ([]byte, error) {
	var err error
	if b, err = appendStrings(b, m.Sensor, "sensor", m.HostID, "host id"); err != nil {
		return b, err
	}
	b = append(b, m.MAC[:]...)
	b = appendAddr(b, m.SrcIP)
	if b, err = appendString(b, m.Dest, "destination"); err != nil {
		return b, err
	}
	b = appendAddr(b, m.DestIP)
	b = binary.BigEndian.AppendUint16(b, m.Port)
	b = append(b, m.Proto, byte(m.Kind))
	b = binary.AppendVarint(b, m.TS)
	b = binary.AppendUvarint(b, m.BytesOut)
	return binary.AppendUvarint(b, m.BytesIn), nil
}

// UnmarshalBinary decodes a beat's body.
func (m *Beat) UnmarshalBinary(b []byte) error {
	r := reader{b: b}
	m.Sensor = r.string("sensor")
	m.HostID = r.string("host id")
	m.MAC = r.mac("mac")
	m.SrcIP = r.addr("source address")
	m.Dest = r.string("destination")
	m.DestIP = r.addr("destination address")
	m.Port = r.u16("port")
	m.Proto = r.byte("protocol")
	m.Kind = beacon.Kind(r.byte("beat kind"))
	m.TS = r.varint("time")
	m.BytesOut = r.uvarint("bytes out")
	m.BytesIn = r.uvarint("bytes in")
	if r.err == nil && m.Kind > beacon.KindDNS {
		r.fail("beat kind %d", m.Kind)
	}
	return r.done(KindBeat)
}

// Host is what a sensor knows of one host: its names, MACs, addresses and
// operating system.
type Host struct {
	Sensor     string
	HostID     string
	Hostname   string
	Serial     string
	MACs       [][6]byte    // at most MaxMACs
	Addrs      []netip.Addr // at most MaxAddrs, most recent last
	OS         string       // macos, ios, windows, linux, other, unknown
	Confidence float64      // 0..1
	TS         int64        // capture time of the evidence, Unix ns
}

// Type is KindHost.
func (*Host) Type() Kind { return KindHost }

// AppendBinary appends the host's body.
func (m *Host) AppendBinary(b []byte) ([]byte, error) {
	var err error
	if b, err = appendStrings(b, m.Sensor, "sensor", m.HostID, "host id", m.Hostname, "hostname", m.Serial, "serial", m.OS, "os"); err != nil {
		return b, err
	}
	if len(m.MACs) > MaxMACs {
		return b, fmt.Errorf("obs: host %s: %d MACs, at most %d", m.HostID, len(m.MACs), MaxMACs)
	}
	b = append(b, byte(len(m.MACs)))
	for _, mac := range m.MACs {
		b = append(b, mac[:]...)
	}
	if b, err = appendAddrs(b, m.Addrs, "host "+m.HostID); err != nil {
		return b, err
	}
	if !(m.Confidence >= 0 && m.Confidence <= 1) {
		return b, fmt.Errorf("obs: host %s: confidence %v outside 0..1", m.HostID, m.Confidence)
	}
	b = appendFloat(b, m.Confidence)
	return binary.AppendVarint(b, m.TS), nil
}

// UnmarshalBinary decodes a host's body.
func (m *Host) UnmarshalBinary(b []byte) error {
	r := reader{b: b}
	m.Sensor = r.string("sensor")
	m.HostID = r.string("host id")
	m.Hostname = r.string("hostname")
	m.Serial = r.string("serial")
	m.OS = r.string("os")
	m.MACs = nil
	if n := int(r.byte("macs")); n > MaxMACs {
		r.fail("%d MACs", n)
	} else if n > 0 && r.err == nil {
		m.MACs = make([][6]byte, n)
		for i := range m.MACs {
			m.MACs[i] = r.mac("mac")
		}
	}
	m.Addrs = r.addrs("addresses")
	m.Confidence = r.float("confidence")
	if r.err == nil && !(m.Confidence >= 0 && m.Confidence <= 1) {
		r.fail("confidence %v", m.Confidence)
	}
	m.TS = r.varint("time")
	return r.done(KindHost)
}

// Name is a name a host resolved (or named on the wire) and the addresses
// it stands for.
type Name struct {
	Sensor string
	HostID string
	Name   string       // lower case, no trailing dot
	Source string       // dns, sni, quic, http, connect
	Addrs  []netip.Addr // at most MaxAddrs
	TTL    uint32       // seconds, 0 when not from DNS
	TS     int64        // capture time, Unix ns
}

// Type is KindName.
func (*Name) Type() Kind { return KindName }

// AppendBinary appends the name's body.
func (m *Name) AppendBinary(b []byte) ([]byte, error) {
	var err error
	if b, err = appendStrings(b, m.Sensor, "sensor", m.HostID, "host id", m.Name, "name", m.Source, "name source"); err != nil {
		return b, err
	}
	if b, err = appendAddrs(b, m.Addrs, "name "+m.Name); err != nil {
		return b, err
	}
	b = binary.BigEndian.AppendUint32(b, m.TTL)
	return binary.AppendVarint(b, m.TS), nil
}

// UnmarshalBinary decodes a name's body.
func (m *Name) UnmarshalBinary(b []byte) error {
	r := reader{b: b}
	m.Sensor = r.string("sensor")
	m.HostID = r.string("host id")
	m.Name = r.string("name")
	m.Source = r.string("name source")
	m.Addrs = r.addrs("addresses")
	m.TTL = r.u32("ttl")
	m.TS = r.varint("time")
	return r.done(KindName)
}

// Finding is a pair the sensor's own detector judged periodic (whether or
// not it became an alert): the hub sees what each sensor saw alone.
type Finding struct {
	Sensor  string
	HostID  string
	SrcIP   netip.Addr
	Dest    string
	DestIP  netip.Addr
	Port    uint16
	Proto   uint8
	Kind    beacon.Kind
	PeriodS float64
	Jitter  float64
	Score   float64
	Beats   uint32
	First   int64 // Unix ns
	Last    int64 // Unix ns
}

// Type is KindFinding.
func (*Finding) Type() Kind { return KindFinding }

// AppendBinary appends the finding's body.
func (m *Finding) AppendBinary(b []byte) ([]byte, error) {
	var err error
	if b, err = appendStrings(b, m.Sensor, "sensor", m.HostID, "host id"); err != nil {
		return b, err
	}
	b = appendAddr(b, m.SrcIP)
	if b, err = appendString(b, m.Dest, "destination"); err != nil {
		return b, err
	}
	b = appendAddr(b, m.DestIP)
	b = binary.BigEndian.AppendUint16(b, m.Port)
	b = append(b, m.Proto, byte(m.Kind))
	for _, f := range [...]float64{m.PeriodS, m.Jitter, m.Score} {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return b, fmt.Errorf("obs: finding %s: non-finite number", m.Dest)
		}
		b = appendFloat(b, f)
	}
	b = binary.AppendUvarint(b, uint64(m.Beats))
	b = binary.AppendVarint(b, m.First)
	return binary.AppendVarint(b, m.Last), nil
}

// UnmarshalBinary decodes a finding's body.
func (m *Finding) UnmarshalBinary(b []byte) error {
	r := reader{b: b}
	m.Sensor = r.string("sensor")
	m.HostID = r.string("host id")
	m.SrcIP = r.addr("source address")
	m.Dest = r.string("destination")
	m.DestIP = r.addr("destination address")
	m.Port = r.u16("port")
	m.Proto = r.byte("protocol")
	m.Kind = beacon.Kind(r.byte("beat kind"))
	m.PeriodS = r.float("period")
	m.Jitter = r.float("jitter")
	m.Score = r.float("score")
	beats := r.uvarint("beats")
	m.Beats = uint32(beats)
	m.First = r.varint("first")
	m.Last = r.varint("last")
	if r.err == nil {
		switch {
		case m.Kind > beacon.KindDNS:
			r.fail("beat kind %d", m.Kind)
		case beats > math.MaxUint32:
			r.fail("beats %d", beats)
		}
		for _, f := range [...]float64{m.PeriodS, m.Jitter, m.Score} {
			if math.IsNaN(f) || math.IsInf(f, 0) {
				r.fail("non-finite number")
			}
		}
	}
	return r.done(KindFinding)
}

// Coverage is one hour of a sensor's capture: what it saw and how much of
// it it could name. Each record is the counts the sensor added to the hour
// since its previous checkpoint (Clock), so the hub sums them; Clock makes
// two equal deltas two different records.
type Coverage struct {
	Sensor     string
	Hour       int64 // Unix seconds, a multiple of 3600
	Clock      int64 // capture time of the checkpoint that read the counts, Unix ns
	Packets    uint64
	Bytes      uint64
	Drops      uint64 // packets the kernel dropped (live capture)
	Sessions   uint64 // external session starts
	OneSided   uint64
	Named      uint64 // NamedDNS + NamedMAC + NamedWire
	NamedDNS   uint64
	NamedMAC   uint64
	NamedWire  uint64
	Unnamed    uint64
	DNSQueries uint64
	Evictions  uint64
}

// Type is KindCoverage.
func (*Coverage) Type() Kind { return KindCoverage }

func (m *Coverage) counters() [12]*uint64 {
	return [...]*uint64{&m.Packets, &m.Bytes, &m.Drops, &m.Sessions, &m.OneSided, &m.Named,
		&m.NamedDNS, &m.NamedMAC, &m.NamedWire, &m.Unnamed, &m.DNSQueries, &m.Evictions}
}

// AppendBinary appends the coverage's body.
func (m *Coverage) AppendBinary(b []byte) ([]byte, error) {
	var err error
	if b, err = appendString(b, m.Sensor, "sensor"); err != nil {
		return b, err
	}
	if m.Hour%3600 != 0 {
		return b, fmt.Errorf("obs: coverage hour %d is not a multiple of 3600", m.Hour)
	}
	b = binary.AppendVarint(b, m.Hour)
	b = binary.AppendVarint(b, m.Clock)
	for _, c := range m.counters() {
		b = binary.AppendUvarint(b, *c)
	}
	return b, nil
}

// UnmarshalBinary decodes a coverage's body.
func (m *Coverage) UnmarshalBinary(b []byte) error {
	r := reader{b: b}
	m.Sensor = r.string("sensor")
	m.Hour = r.varint("hour")
	m.Clock = r.varint("clock")
	for _, c := range m.counters() {
		*c = r.uvarint("counter")
	}
	if r.err == nil && m.Hour%3600 != 0 {
		r.fail("hour %d is not a multiple of 3600", m.Hour)
	}
	return r.done(KindCoverage)
}

// Alert is an alert the sensor delivered itself, as its JSON (the
// alert.Alert schema).
type Alert struct {
	Sensor string
	JSON   []byte
}

// Type is KindAlert.
func (*Alert) Type() Kind { return KindAlert }

// NewAlert encodes a for the hub.
func NewAlert(a *alert.Alert) (*Alert, error) {
	j, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("obs: alert %s: %w", a.ID, err)
	}
	return &Alert{Sensor: a.Sensor, JSON: j}, nil
}

// Alert decodes the alert.
func (m *Alert) Alert() (*alert.Alert, error) {
	var a alert.Alert
	if err := json.Unmarshal(m.JSON, &a); err != nil {
		return nil, fmt.Errorf("obs: alert from %s: %w", m.Sensor, err)
	}
	return &a, nil
}

// AppendBinary appends the alert's body.
func (m *Alert) AppendBinary(b []byte) ([]byte, error) {
	return appendJSON(b, m.Sensor, m.JSON, "alert")
}

// UnmarshalBinary decodes an alert's body.
func (m *Alert) UnmarshalBinary(b []byte) error {
	var err error
	m.Sensor, m.JSON, err = readJSON(b, KindAlert)
	return err
}

// Checkpoint is a sensor's state checkpoint (the JSON of a
// state.Checkpoint), for the organisation's store. A checkpoint too large
// for one record is sent as several, each a valid checkpoint with part of
// the pairs and hosts.
type Checkpoint struct {
	Sensor string
	JSON   []byte
}

// Type is KindCheckpoint.
func (*Checkpoint) Type() Kind { return KindCheckpoint }

// AppendBinary appends the checkpoint's body.
func (m *Checkpoint) AppendBinary(b []byte) ([]byte, error) {
	return appendJSON(b, m.Sensor, m.JSON, "checkpoint")
}

// UnmarshalBinary decodes a checkpoint's body.
func (m *Checkpoint) UnmarshalBinary(b []byte) error {
	var err error
	m.Sensor, m.JSON, err = readJSON(b, KindCheckpoint)
	return err
}

func appendJSON(b []byte, sensor string, j []byte, what string) ([]byte, error) {
	var err error
	if b, err = appendString(b, sensor, "sensor"); err != nil {
		return b, err
	}
	if len(j) == 0 || len(j) > MaxJSON {
		return b, fmt.Errorf("obs: %s JSON is %d bytes, want 1..%d", what, len(j), MaxJSON)
	}
	if !json.Valid(j) {
		return b, fmt.Errorf("obs: %s: not JSON", what)
	}
	b = binary.AppendUvarint(b, uint64(len(j)))
	return append(b, j...), nil
}

func readJSON(b []byte, k Kind) (string, []byte, error) {
	r := reader{b: b}
	sensor := r.string("sensor")
	n := r.uvarint("json length")
	var j []byte
	if r.err == nil && (n == 0 || n > MaxJSON) {
		r.fail("json length %d", n)
	} else {
		j = r.take(int(n), "json")
	}
	if r.err == nil && !json.Valid(j) {
		r.fail("not JSON")
	}
	if err := r.done(k); err != nil {
		return "", nil, err
	}
	return sensor, append([]byte(nil), j...), nil
}

func appendStrings(b []byte, kv ...string) ([]byte, error) {
	var err error
	for i := 0; i+1 < len(kv); i += 2 {
		if b, err = appendString(b, kv[i], kv[i+1]); err != nil {
			return b, err
		}
	}
	return b, nil
}

func appendAddrs(b []byte, as []netip.Addr, what string) ([]byte, error) {
	if len(as) > MaxAddrs {
		return b, fmt.Errorf("obs: %s: %d addresses, at most %d", what, len(as), MaxAddrs)
	}
	b = append(b, byte(len(as)))
	for _, a := range as {
		b = appendAddr(b, a)
	}
	return b, nil
}

func (r *reader) addrs(what string) []netip.Addr {
	n := int(r.byte(what))
	if n > MaxAddrs {
		r.fail("%s: %d addresses", what, n)
		return nil
	}
	if n == 0 || r.err != nil {
		return nil
	}
	as := make([]netip.Addr, n)
	for i := range as {
		as[i] = r.addr(what)
	}
	return as
}
