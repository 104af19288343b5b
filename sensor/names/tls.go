package names

import "encoding/binary"

// TLS constants of RFC 8446 the ClientHello walk needs.
const (
	recordHandshake    = 22
	handshakeHello     = 1
	extServerName      = 0
	serverNameHost     = 0
	tlsRecordHeader    = 5
	tlsHandshakeHeader = 4
)

// HelloSNI returns the server name of the TLS ClientHello at the start of b,
// the first bytes a client sent on a TCP session, as a sub-slice of b.
//
// A ClientHello larger than one segment (post-quantum key shares make most
// of them so) is read as far as b goes: the name is returned if it lies in
// b, and ErrIncomplete says that the next segment is needed.
func HelloSNI(b []byte) ([]byte, error) {
	if len(b) < 3 || b[0] != recordHandshake || b[1] != 3 || b[2] > 4 {
		return nil, ErrNotMine
	}
	if len(b) < tlsRecordHeader {
		return nil, ErrIncomplete
	}
	n := int(binary.BigEndian.Uint16(b[3:]))
	if n == 0 || n > 1<<14+2048 {
		return nil, ErrMalformed
	}
	rec := b[tlsRecordHeader:]
	if len(rec) > n {
		rec = rec[:n]
	}
	// A hello fragmented over two records (rare) reads as incomplete.
	return HandshakeSNI(rec)
}

// HandshakeSNI returns the server name of the ClientHello handshake message
// at the start of b (no record layer: as QUIC CRYPTO frames carry it).
func HandshakeSNI(b []byte) ([]byte, error) {
	if len(b) < 1 {
		return nil, ErrIncomplete
	}
	if b[0] != handshakeHello {
		return nil, ErrNotMine
	}
	if len(b) < tlsHandshakeHeader {
		return nil, ErrIncomplete
	}
	n := int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	if n < 2+32+1+2+1 || n > 1<<16 {
		return nil, ErrMalformed
	}
	body := b[tlsHandshakeHeader:]
	complete := len(body) >= n
	if complete {
		body = body[:n]
	}
	r := reader{b: body, complete: complete}
	r.skip(2 + 32)       // legacy_version, random
	r.skip(int(r.u8()))  // legacy_session_id
	r.skip(int(r.u16())) // cipher_suites
	r.skip(int(r.u8()))  // legacy_compression_methods
	if r.err == nil && r.complete && len(r.b) == 0 {
		return nil, ErrNoName // a hello without extensions (TLS 1.2 and older)
	}
	ext := r.u16()
	if r.err != nil {
		return nil, r.err
	}
	if complete && int(ext) != len(r.b) {
		return nil, ErrMalformed
	}
	for r.err == nil && (len(r.b) > 0 || !r.complete) {
		typ, l := r.u16(), int(r.u16())
		if r.err != nil {
			break
		}
		if typ != extServerName {
			r.skip(l)
			continue
		}
		return serverName(r.sub(l))
	}
	if r.err != nil {
		return nil, r.err
	}
	return nil, ErrNoName
}

// serverName reads the ServerNameList of RFC 6066 §3: the host_name entry.
func serverName(r reader) ([]byte, error) {
	list := r.sub(int(r.u16()))
	for list.err == nil && (len(list.b) > 0 || !list.complete) {
		typ, name := list.u8(), list.bytes(int(list.u16()))
		if list.err != nil {
			break
		}
		if typ != serverNameHost {
			continue
		}
		if !validHost(name) {
			return nil, ErrMalformed
		}
		return name, nil
	}
	switch {
	case r.err != nil:
		return nil, r.err
	case list.err != nil:
		return nil, list.err
	}
	return nil, ErrNoName
}

// reader walks length-prefixed fields. complete says whether b is the whole
// message: running out of bytes is then malformed, else incomplete. The
// first error sticks and every later read returns zero.
type reader struct {
	b        []byte
	complete bool
	err      error
}

func (r *reader) short() {
	if r.err != nil {
		return
	}
	if r.complete {
		r.err = ErrMalformed
	} else {
		r.err = ErrIncomplete
	}
	r.b = nil
}

func (r *reader) u8() uint8 {
	if r.err != nil || len(r.b) < 1 {
		r.short()
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) u16() uint16 {
	if r.err != nil || len(r.b) < 2 {
		r.short()
		return 0
	}
	v := binary.BigEndian.Uint16(r.b)
	r.b = r.b[2:]
	return v
}

func (r *reader) skip(n int) { r.bytes(n) }

func (r *reader) bytes(n int) []byte {
	if r.err != nil || len(r.b) < n {
		r.short()
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// sub splits off the next n bytes as a reader of their own; when fewer are
// left it holds what there is and is incomplete or malformed as r is.
func (r *reader) sub(n int) reader {
	if r.err != nil {
		return reader{err: r.err}
	}
	if len(r.b) >= n {
		s := reader{b: r.b[:n:n], complete: true}
		r.b = r.b[n:]
		return s
	}
	if r.complete {
		r.err = ErrMalformed
		return reader{err: ErrMalformed}
	}
	s := reader{b: r.b, complete: false}
	r.b = nil
	return s
}
