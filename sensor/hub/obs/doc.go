// Package obs is the wire format of what a sensor tells the hub: beats per
// host identity and destination, host evidence, names, local findings,
// hourly coverage, local alerts and state checkpoints. It also names the
// JetStream subjects, stream and key-value buckets the sensor and the hub
// meet on, so both sides read one definition.
//
// A NATS message carries one frame: a 5-byte header ("LT", the version,
// the record count as a big-endian uint16) followed by that many records,
// each a uvarint length, a kind byte and the kind's body. Every field is
// length-checked on decode; bytes that do not parse are an error wrapping
// ErrBad, never a panic, and a frame is never longer than MaxFrame (under
// NATS's default 1 MiB payload limit). All records of a frame go to one
// subject (Subject), so a frame of beats holds one partition's hosts.
//
// Each frame has a stable message id (MsgID: the sensor and a hash of the
// frame's bytes), sent as Nats-Msg-Id so that JetStream stores a frame the
// sensor retried once. Records are written so that equal bytes mean the
// same observation: beats, names, hosts, findings and alerts carry their
// capture time, and coverage carries the checkpoint clock it was read at.
package obs
