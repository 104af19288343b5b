package obs

import "strconv"

// Where the sensor and the hub meet.
const (
	// Stream is the JetStream stream holding every observation.
	Stream = "LAUNCHTAP_OBS"
	// SubjectPrefix starts every observation subject.
	SubjectPrefix = "launchtap.obs"
	// StreamSubjects is the stream's subject filter.
	StreamSubjects = SubjectPrefix + ".>"
	// Partitions is how many subjects host-keyed kinds are spread over.
	Partitions = 64
	// SensorPartition is the subject token of kinds not keyed by host.
	SensorPartition = "sensor"

	// BaselineBucket is the key-value bucket the hub publishes the
	// organisation baseline into, under BaselineKey.
	BaselineBucket = "launchtap_baseline"
	BaselineKey    = "baseline"
	// LeasesBucket is the key-value bucket hub processes claim partitions in.
	LeasesBucket = "launchtap_leases"
)

// Partition is the partition of a host id: FNV-1a (32-bit) of it modulo
// Partitions.
func Partition(hostID string) int {
	h := uint32(2166136261)
	for i := 0; i < len(hostID); i++ {
		h ^= uint32(hostID[i])
		h *= 16777619
	}
	return int(h % Partitions)
}

// Subject is where a record of kind k about host hostID is published:
// launchtap.obs.<partition>.<kind> for host-keyed kinds,
// launchtap.obs.sensor.<kind> for the rest (hostID ignored).
func Subject(k Kind, hostID string) string {
	if k.HostKeyed() {
		return SubjectPrefix + "." + strconv.Itoa(Partition(hostID)) + "." + k.String()
	}
	return SubjectPrefix + "." + SensorPartition + "." + k.String()
}

// SubjectOf is where record r is published: Subject of its kind and, for a
// host-keyed record, its host id.
func SubjectOf(r Record) string {
	host := ""
	switch m := r.(type) {
	case *Beat:
		host = m.HostID
	case *Host:
		host = m.HostID
	case *Name:
		host = m.HostID
	case *Finding:
		host = m.HostID
	}
	return Subject(r.Type(), host)
}

// PartitionSubject is the filter of every host-keyed kind of partition p:
// launchtap.obs.<p>.*.
func PartitionSubject(p int) string {
	return SubjectPrefix + "." + strconv.Itoa(p) + ".*"
}

// SensorSubject is the filter of every kind not keyed by host.
const SensorSubject = SubjectPrefix + "." + SensorPartition + ".*"
