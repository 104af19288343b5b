package orgstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/launchtap/launchtap/sensor/state"
)

// ErrBadCheckpoint is wrapped by DecodeCheckpoint and CheckpointJSON for
// bytes that are not a checkpoint a sensor writes.
var ErrBadCheckpoint = errors.New("orgstore: bad checkpoint")

// Bounds of one checkpoint as it comes from the wire: far above what a
// sensor sends (the publisher splits a checkpoint into parts of at most
// obs.MaxJSON), so only a corrupt or hostile one meets them.
const (
	maxCheckpointJSON = 64 << 20
	maxListLen        = 1 << 20
)

// DecodeCheckpoint reads a checkpoint sent as the JSON of a
// state.Checkpoint (obs.Checkpoint) by sensor (the record's; it overrides
// the JSON's own when set), and names it by its content: a checkpoint
// delivered twice has one id, and two checkpoints of one sensor differ at
// least in their clock or their counts.
func DecodeCheckpoint(sensor string, js []byte) (*state.Checkpoint, string, error) {
	if len(js) > maxCheckpointJSON {
		return nil, "", fmt.Errorf("%w: %d bytes of JSON (at most %d)", ErrBadCheckpoint, len(js), maxCheckpointJSON)
	}
	var c state.Checkpoint
	if err := json.Unmarshal(js, &c); err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrBadCheckpoint, err)
	}
	if sensor != "" {
		c.Sensor = sensor
	}
	if clean(c.Sensor) == "" {
		return nil, "", ErrNoSensor
	}
	if c.Clock < 0 || c.Started < 0 {
		return nil, "", fmt.Errorf("%w: negative clock", ErrBadCheckpoint)
	}
	for _, n := range []int{len(c.Pairs), len(c.Findings), len(c.Hours), len(c.HostHours), len(c.Hosts), len(c.Learned), len(c.HostStates),
		len(c.Bindings), len(c.DNSAnswers), len(c.DoHHosts), len(c.Internal)} {
		if n > maxListLen {
			return nil, "", fmt.Errorf("%w: a list of %d entries (at most %d)", ErrBadCheckpoint, n, maxListLen)
		}
	}
	for _, h := range c.Hours {
		if h.Start < 0 || h.Start%3600 != 0 {
			return nil, "", fmt.Errorf("%w: coverage hour %d is not the start of an hour", ErrBadCheckpoint, h.Start)
		}
	}
	for _, h := range c.HostHours {
		if h.Start < 0 || h.Start%3600 != 0 {
			return nil, "", fmt.Errorf("%w: host hour %d is not the start of an hour", ErrBadCheckpoint, h.Start)
		}
	}
	sum := sha256.Sum256(js)
	return &c, "json-" + hex.EncodeToString(sum[:16]), nil
}

// CheckpointJSON applies a checkpoint as the hub receives it (obs.Checkpoint:
// the sensor and the JSON of its state.Checkpoint), once per content. Bytes
// that are not a checkpoint are refused with ErrBadCheckpoint (or
// ErrNoSensor) and counted: the hub acknowledges and skips them.
func (s *Store) CheckpointJSON(ctx context.Context, sensor string, js []byte) (applied bool, err error) {
	c, id, err := DecodeCheckpoint(sensor, js)
	if err != nil {
		s.count(func(st *Stats) { st.Rejected++ })
		return false, err
	}
	return s.CheckpointOnce(ctx, id, c)
}
