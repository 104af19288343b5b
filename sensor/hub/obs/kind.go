package obs

import "fmt"

// Kind says what a record is. The values are on the wire: add, never
// renumber.
type Kind uint8

// Kinds of records.
const (
	KindBeat       Kind = 1 // Beat
	KindHost       Kind = 2 // Host
	KindName       Kind = 3 // Name
	KindFinding    Kind = 4 // Finding
	KindCoverage   Kind = 5 // Coverage
	KindAlert      Kind = 6 // Alert
	KindCheckpoint Kind = 7 // Checkpoint
	maxKind             = KindCheckpoint
)

var kindNames = [...]string{
	KindBeat:       "beat",
	KindHost:       "host",
	KindName:       "name",
	KindFinding:    "finding",
	KindCoverage:   "coverage",
	KindAlert:      "alert",
	KindCheckpoint: "checkpoint",
}

// String is the kind's subject token.
func (k Kind) String() string {
	if k >= 1 && k <= maxKind {
		return kindNames[k]
	}
	return fmt.Sprintf("kind%d", uint8(k))
}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k >= 1 && k <= maxKind }

// HostKeyed reports whether records of k are about one host and published
// on its partition: beats, hosts, names and findings.
func (k Kind) HostKeyed() bool {
	switch k {
	case KindBeat, KindHost, KindName, KindFinding:
		return true
	}
	return false
}

// ParseKind is the kind a subject token names.
func ParseKind(s string) (Kind, error) {
	for k := KindBeat; k <= maxKind; k++ {
		if kindNames[k] == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("obs: unknown kind %q", s)
}

// Record is one observation.
type Record interface {
	Type() Kind
	// AppendBinary appends the record's body (without length and kind).
	AppendBinary(b []byte) ([]byte, error)
	// UnmarshalBinary decodes a body AppendBinary wrote.
	UnmarshalBinary(b []byte) error
}

// New is a zero record of kind k, nil for an unknown kind.
func New(k Kind) Record {
	switch k {
	case KindBeat:
		return new(Beat)
	case KindHost:
		return new(Host)
	case KindName:
		return new(Name)
	case KindFinding:
		return new(Finding)
	case KindCoverage:
		return new(Coverage)
	case KindAlert:
		return new(Alert)
	case KindCheckpoint:
		return new(Checkpoint)
	}
	return nil
}
