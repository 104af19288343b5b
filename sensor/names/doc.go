// Package names reads the destination name a client puts on the wire in the
// first bytes of a session, for the sessions whose DNS lookup the sensor did
// not see (DNS over HTTPS, a resolver beyond the span, a cached answer):
//
//   - the server_name of a TLS ClientHello at the start of a TCP stream
//     (HelloSNI);
//   - the same inside a QUIC v1 or v2 client Initial, whose protection keys
//     derive from the Destination Connection ID on the wire, so anyone can
//     remove them (RFC 9001 §5.2, RFC 9369) — QUIC;
//   - the authority of an HTTP/1.x request: the Host header, the target of a
//     CONNECT, or the host of an absolute-URI request sent to a proxy
//     (ParseRequest).
//
// The parsers return sub-slices of their input or of a caller-owned buffer
// and allocate nothing on the common path (QUIC allocates its keys once per
// connection ID). Every parser treats its input as hostile: a length that
// runs past the bytes is ErrIncomplete when more bytes of the stream could
// complete it and ErrMalformed when no stream could; nothing panics.
package names

import "errors"

// Errors the parsers return. Callers count them by kind.
var (
	// ErrNotMine: the bytes are not this protocol at all (not a TLS
	// handshake, not an HTTP request, not a QUIC client Initial).
	ErrNotMine = errors.New("names: not this protocol")
	// ErrIncomplete: the bytes stop before the name; a later segment or
	// packet of the same session may complete them.
	ErrIncomplete = errors.New("names: message continues beyond the bytes given")
	// ErrMalformed: lengths or fields that no well-formed message has.
	ErrMalformed = errors.New("names: malformed")
	// ErrNoName: a complete message that names no host.
	ErrNoName = errors.New("names: no host name in the message")
)

// validHost reports whether b is a plausible DNS host name or address
// literal: 1 to 253 bytes of letters, digits, '-', '_', '.' and, for IPv6
// literals, ':' — so a forged length cannot smuggle arbitrary bytes into an
// alert.
func validHost(b []byte) bool {
	if len(b) == 0 || len(b) > 253 {
		return false
	}
	for _, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '.', c == '_', c == ':':
		default:
			return false
		}
	}
	return true
}
