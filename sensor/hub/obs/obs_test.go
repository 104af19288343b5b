package obs

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"hash/fnv"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/launchtap/launchtap/sensor/beacon"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// samples is one record of every kind, with every field set.
func samples() []Record {
	mac := [6]byte{0xaa, 0xbb, 0xcc, 0x00, 0x11, 0x22}
	v4, v6 := netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("2001:db8::5")
	return []Record{
		&Beat{Sensor: "tap-a", HostID: "aa:bb:cc:00:11:22", MAC: mac, SrcIP: v4, Dest: "update.example.com",
			DestIP: netip.MustParseAddr("93.184.216.34"), Port: 443, Proto: 6, Kind: beacon.KindSession,
			TS: 1_700_000_000_123_456_789, BytesOut: 517, BytesIn: 4096},
		&Beat{Sensor: "tap-b", HostID: "2001:db8::5", SrcIP: v6, DestIP: netip.MustParseAddr("2001:db8::99"),
			Port: 53, Proto: 17, Kind: beacon.KindDNS, TS: -1},
		&Host{Sensor: "tap-a", HostID: "aa:bb:cc:00:11:22", Hostname: "alices-mbp", Serial: "C02XYZ",
			MACs: [][6]byte{mac, {2, 0, 0, 0, 0, 1}}, Addrs: []netip.Addr{v4, v6}, OS: "macos", Confidence: 0.9,
			TS: 1_700_000_000_000_000_000},
		&Name{Sensor: "tap-a", HostID: "aa:bb:cc:00:11:22", Name: "update.example.com", Source: "dns",
			Addrs: []netip.Addr{netip.MustParseAddr("93.184.216.34")}, TTL: 300, TS: 1_700_000_000_000_000_000},
		&Finding{Sensor: "tap-a", HostID: "aa:bb:cc:00:11:22", SrcIP: v4, Dest: "update.example.com", Port: 443,
			Proto: 6, Kind: beacon.KindBurst, PeriodS: 3600, Jitter: 0.02, Score: 0.93, Beats: 12,
			First: 1_699_960_000_000_000_000, Last: 1_700_000_000_000_000_000},
		&Coverage{Sensor: "tap-a", Hour: 1_699_999_200, Clock: 1_700_000_000_000_000_000, Packets: 1e6, Bytes: 9e8,
			Drops: 3, Sessions: 1200, OneSided: 4, Named: 1100, NamedDNS: 1000, NamedMAC: 20, NamedWire: 80,
			Unnamed: 100, DNSQueries: 5000, Evictions: 1},
		&Alert{Sensor: "tap-a", JSON: []byte(`{"id":"x","sensor":"tap-a","src_ip":"10.1.2.3"}`)},
		&Checkpoint{Sensor: "tap-a", JSON: []byte(`{"Clock":1,"Sensor":"tap-a"}`)},
	}
}

func frameOf(t testing.TB, recs ...Record) []byte {
	t.Helper()
	var w Writer
	for _, r := range recs {
		if err := w.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	return bytes.Clone(w.Bytes())
}

func TestRoundTrip(t *testing.T) {
	for _, rec := range samples() {
		t.Run(rec.Type().String(), func(t *testing.T) {
			got, err := Decode(frameOf(t, rec))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || !reflect.DeepEqual(got[0], rec) {
				t.Fatalf("decoded %#v, want %#v", got, rec)
			}
		})
	}
}

// TestGolden pins the wire format: a change that breaks sensors and hubs of
// the previous version fails here (regenerate with -update only on purpose,
// with a new version byte).
func TestGolden(t *testing.T) {
	frame := frameOf(t, samples()...)
	path := filepath.Join("testdata", "frame.hex")
	got := hex.Dump(frame)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("frame bytes changed:\n%s\nwant:\n%s", got, want)
	}
	recs, err := Decode(frame)
	if err != nil || !reflect.DeepEqual(recs, samples()) {
		t.Fatalf("golden frame decodes to %v, %v", recs, err)
	}
}

func TestEncodeRefused(t *testing.T) {
	long := strings.Repeat("x", MaxString+1)
	for _, tc := range []struct {
		name string
		rec  Record
		want string
	}{
		{"long host id", &Beat{HostID: long}, "host id is 256 bytes"},
		{"long name", &Name{Name: long}, "name is 256 bytes"},
		{"many MACs", &Host{MACs: make([][6]byte, MaxMACs+1)}, "17 MACs"},
		{"many addresses", &Name{Addrs: make([]netip.Addr, MaxAddrs+1)}, "33 addresses"},
		{"confidence", &Host{Confidence: 1.5}, "confidence 1.5"},
		{"NaN period", &Finding{PeriodS: nan()}, "non-finite"},
		{"odd hour", &Coverage{Hour: 7}, "not a multiple of 3600"},
		{"empty alert", &Alert{}, "alert JSON is 0 bytes"},
		{"not JSON", &Checkpoint{JSON: []byte("{")}, "not JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w Writer
			err := w.Add(tc.rec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Add: %v, want an error containing %q", err, tc.want)
			}
			if w.Count() != 0 || w.Bytes() != nil {
				t.Fatal("a refused record was added")
			}
		})
	}
}

func nan() float64 { var z float64; return z / z }

func TestDecodeErrors(t *testing.T) {
	good := frameOf(t, samples()[0])
	beat := frameOf(t, &Beat{Kind: beacon.KindDNS})
	for _, tc := range []struct {
		name  string
		frame []byte
		want  string
	}{
		{"empty", nil, "not a frame"},
		{"magic", append([]byte("XX"), good[2:]...), "not a frame"},
		{"version", append([]byte{'L', 'T', 9}, good[3:]...), "frame version 9"},
		{"truncated", good[:len(good)-1], "record length"},
		{"count too high", func() []byte { b := bytes.Clone(good); b[4] = 2; return b }(), "record length"},
		{"count too low", func() []byte { b := bytes.Clone(good); b[4] = 0; return b }(), "after the last record"},
		{"unknown kind", func() []byte { b := bytes.Clone(good); b[6] = 99; return b }(), "unknown kind 99"},
		{"beat kind", func() []byte { b := bytes.Clone(beat); b[len(b)-4] = 7; return b }(), "beat kind 7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.frame)
			if !errors.Is(err, ErrBad) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Decode: %v, want ErrBad containing %q", err, tc.want)
			}
		})
	}
}

func TestWriterFull(t *testing.T) {
	var w Writer
	big := &Checkpoint{Sensor: "s", JSON: []byte(`"` + strings.Repeat("a", MaxJSON-2) + `"`)}
	if err := w.Add(big); err != nil {
		t.Fatal(err)
	}
	if err := w.Add(big); !errors.Is(err, ErrFull) {
		t.Fatalf("second checkpoint: %v, want ErrFull", err)
	}
	if w.Count() != 1 || len(w.Bytes()) > MaxFrame {
		t.Fatalf("frame of %d records, %d bytes", w.Count(), len(w.Bytes()))
	}
	w.Reset()
	b := &Beat{Sensor: "s", HostID: "h"}
	n := 0
	for ; ; n++ {
		err := w.Add(b)
		if errors.Is(err, ErrFull) {
			break
		}
		if err != nil || n > MaxRecords {
			t.Fatalf("beat %d: %v", n, err)
		}
	}
	if len(w.Bytes()) > MaxFrame {
		t.Fatalf("frame of %d bytes", len(w.Bytes()))
	}
	recs, err := Decode(w.Bytes())
	if err != nil || len(recs) != n {
		t.Fatalf("decoded %d records of %d, %v", len(recs), n, err)
	}
}

func TestSubject(t *testing.T) {
	for _, tc := range []struct {
		kind Kind
		host string
		want string
	}{
		{KindBeat, "aa:bb:cc:00:11:22", "launchtap.obs.55.beat"},
		{KindHost, "10.0.0.1", "launchtap.obs.13.host"},
		{KindName, "10.0.0.1", "launchtap.obs.13.name"},
		{KindFinding, "10.0.0.1", "launchtap.obs.13.finding"},
		{KindCoverage, "ignored", "launchtap.obs.sensor.coverage"},
		{KindAlert, "", "launchtap.obs.sensor.alert"},
		{KindCheckpoint, "", "launchtap.obs.sensor.checkpoint"},
	} {
		if got := Subject(tc.kind, tc.host); got != tc.want {
			t.Errorf("Subject(%s, %q) = %q, want %q", tc.kind, tc.host, got, tc.want)
		}
		if k, err := ParseKind(tc.kind.String()); err != nil || k != tc.kind {
			t.Errorf("ParseKind(%q) = %v, %v", tc.kind, k, err)
		}
	}
}

// TestSubjectOf: a host-keyed record goes to its host's partition, the
// rest to the sensor subject.
func TestSubjectOf(t *testing.T) {
	for _, tc := range []struct {
		r    Record
		want string
	}{
		{&Beat{HostID: "aa:bb:cc:00:11:22"}, "launchtap.obs.55.beat"},
		{&Host{HostID: "10.0.0.1"}, "launchtap.obs.13.host"},
		{&Name{HostID: "10.0.0.1"}, "launchtap.obs.13.name"},
		{&Finding{HostID: "10.0.0.1"}, "launchtap.obs.13.finding"},
		{&Coverage{}, "launchtap.obs.sensor.coverage"},
	} {
		if got := SubjectOf(tc.r); got != tc.want {
			t.Errorf("SubjectOf(%T) = %q, want %q", tc.r, got, tc.want)
		}
	}
}

// TestPartitionIsFNV1a keeps Partition the FNV-1a the contract names, which
// hub processes in other languages or versions compute too.
func TestPartitionIsFNV1a(t *testing.T) {
	for _, id := range []string{"", "aa:bb:cc:00:11:22", "10.0.0.1", "2001:db8::5"} {
		h := fnv.New32a()
		h.Write([]byte(id))
		if got, want := Partition(id), int(h.Sum32()%Partitions); got != want {
			t.Errorf("Partition(%q) = %d, want %d", id, got, want)
		}
	}
}

func TestMsgID(t *testing.T) {
	a, b := frameOf(t, samples()[0]), frameOf(t, samples()[1])
	if MsgID("s", a) != MsgID("s", bytes.Clone(a)) {
		t.Error("equal frames, different ids")
	}
	if MsgID("s", a) == MsgID("s", b) || MsgID("s", a) == MsgID("t", a) {
		t.Error("different frames or sensors, one id")
	}
}

func BenchmarkDecodeBeats(b *testing.B) {
	var w Writer
	beat := samples()[0]
	for i := 0; i < 1000; i++ {
		_ = w.Add(beat)
	}
	frame := w.Bytes()
	var r Reader
	var m Beat
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		_ = r.Reset(frame)
		for r.Next() {
			if err := r.Decode(&m); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "beats/s")
}
