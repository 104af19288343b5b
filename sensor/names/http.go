package names

import "bytes"

// RequestKind says where an HTTP request's host came from.
type RequestKind uint8

const (
	// Origin: a request to the server itself, named by its Host header.
	Origin RequestKind = iota + 1
	// Connect: "CONNECT host:port", a tunnel through a proxy.
	Connect
	// Absolute: "GET http://host/path", a request forwarded by a proxy.
	Absolute
)

// Request is the destination of an HTTP/1.x request. Host and Method alias
// the payload given to ParseRequest.
type Request struct {
	Kind   RequestKind
	Method []byte
	Host   []byte // without port or IPv6 brackets
	Port   uint16 // 0 when the request gives none
}

// maxHead bounds how far into a payload the request line and headers are
// read: a longer head is read as incomplete.
const maxHead = 8192

var methods = [][]byte{
	[]byte("GET"), []byte("POST"), []byte("HEAD"), []byte("PUT"), []byte("DELETE"),
	[]byte("OPTIONS"), []byte("PATCH"), []byte("CONNECT"), []byte("TRACE"),
}

// LooksLikeRequest reports whether b starts with an HTTP method and a
// space: a cheap test of whether ParseRequest is worth calling.
func LooksLikeRequest(b []byte) bool {
	// Every method starts with a capital letter; encrypted data (a TLS
	// record starts with 0x14-0x17) rarely does, and most payloads a span
	// sees are encrypted, so one compare answers most calls.
	if len(b) == 0 || b[0] < 'A' || b[0] > 'Z' {
		return false
	}
	sp := bytes.IndexByte(b[:min(len(b), 8)], ' ')
	if sp <= 0 {
		return false
	}
	for _, m := range methods {
		if bytes.Equal(b[:sp], m) {
			return true
		}
	}
	return false
}

// ParseRequest reads the HTTP/1.x request at the start of b, the first
// payload a client sent on a TCP session, whatever the port.
func ParseRequest(b []byte) (Request, error) {
	var q Request
	sp := bytes.IndexByte(b[:min(len(b), 8)], ' ')
	if sp <= 0 {
		return q, ErrNotMine
	}
	q.Method = b[:sp]
	known := false
	for _, m := range methods {
		if bytes.Equal(q.Method, m) {
			known = true
			break
		}
	}
	if !known {
		return q, ErrNotMine
	}
	if len(b) > maxHead {
		b = b[:maxHead]
	}
	eol := bytes.IndexByte(b, '\n')
	if eol < 0 {
		return q, ErrIncomplete
	}
	line := bytes.TrimSuffix(b[sp+1:eol], []byte{'\r'})
	sp2 := bytes.LastIndexByte(line, ' ')
	if sp2 <= 0 || !bytes.HasPrefix(line[sp2+1:], []byte("HTTP/1.")) {
		return q, ErrMalformed
	}
	target := line[:sp2]
	switch {
	case bytes.Equal(q.Method, []byte("CONNECT")):
		q.Kind = Connect
		return q, q.authority(target, true)
	case len(target) > 0 && target[0] != '/' && target[0] != '*':
		// An absolute URI: scheme "://" authority [path].
		i := bytes.Index(target, []byte("://"))
		if i <= 0 {
			return q, ErrMalformed
		}
		auth := target[i+3:]
		if j := bytes.IndexAny(auth, "/?#"); j >= 0 {
			auth = auth[:j]
		}
		if j := bytes.LastIndexByte(auth, '@'); j >= 0 {
			auth = auth[j+1:] // userinfo
		}
		q.Kind = Absolute
		return q, q.authority(auth, false)
	}
	q.Kind = Origin
	return q, q.hostHeader(b[eol+1:])
}

// hostHeader finds the Host header in the header block at the start of b.
func (q *Request) hostHeader(b []byte) error {
	for len(b) > 0 {
		eol := bytes.IndexByte(b, '\n')
		if eol < 0 {
			return ErrIncomplete
		}
		line := bytes.TrimSuffix(b[:eol], []byte{'\r'})
		b = b[eol+1:]
		if len(line) == 0 {
			return ErrNoName // end of the headers
		}
		if len(line) > 5 && line[4] == ':' && bytes.EqualFold(line[:4], []byte("host")) {
			return q.authority(bytes.TrimSpace(line[5:]), false)
		}
	}
	return ErrIncomplete
}

// authority splits host[:port], with IPv6 literals in brackets.
// needPort is set for CONNECT, whose target must name a port.
func (q *Request) authority(a []byte, needPort bool) error {
	host, port := a, []byte(nil)
	if len(a) > 0 && a[0] == '[' {
		end := bytes.IndexByte(a, ']')
		if end < 0 {
			return ErrMalformed
		}
		host = a[1:end]
		rest := a[end+1:]
		if len(rest) > 0 {
			if rest[0] != ':' {
				return ErrMalformed
			}
			port = rest[1:]
		}
	} else if i := bytes.LastIndexByte(a, ':'); i >= 0 {
		host, port = a[:i], a[i+1:]
		if bytes.IndexByte(host, ':') >= 0 {
			return ErrMalformed // an unbracketed IPv6 literal
		}
	}
	if !validHost(host) {
		return ErrMalformed
	}
	q.Host = host
	if port != nil {
		p, ok := parsePort(port)
		if !ok {
			return ErrMalformed
		}
		q.Port = p
	}
	if needPort && q.Port == 0 {
		return ErrMalformed
	}
	return nil
}

// parsePort reads a decimal port 1..65535 without allocating.
func parsePort(b []byte) (uint16, bool) {
	if len(b) == 0 || len(b) > 5 {
		return 0, false
	}
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	if v == 0 || v > 65535 {
		return 0, false
	}
	return uint16(v), true
}
