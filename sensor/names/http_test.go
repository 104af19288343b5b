package names

import (
	"errors"
	"path/filepath"
	"testing"
)

func TestParseRequest(t *testing.T) {
	for _, tc := range []struct {
		in   string
		kind RequestKind
		host string
		port uint16
		err  error
	}{
		{in: "GET /a HTTP/1.1\r\nHost: www.example.com\r\n\r\n", kind: Origin, host: "www.example.com"},
		{in: "POST /x HTTP/1.1\r\nUser-Agent: x\r\nhOsT:   api.example.com:8080  \r\n\r\n", kind: Origin, host: "api.example.com", port: 8080},
		{in: "GET / HTTP/1.1\nHost: [2001:db8::1]:8443\n\n", kind: Origin, host: "2001:db8::1", port: 8443},
		{in: "CONNECT updates.example.com:443 HTTP/1.1\r\nHost: updates.example.com:443\r\n\r\n", kind: Connect, host: "updates.example.com", port: 443},
		{in: "CONNECT [2001:db8::5]:443 HTTP/1.1\r\n\r\n", kind: Connect, host: "2001:db8::5", port: 443},
		{in: "GET http://cdn.example.net/v1/check?id=3 HTTP/1.1\r\nHost: cdn.example.net\r\n\r\n", kind: Absolute, host: "cdn.example.net"},
		{in: "GET http://user:pw@cdn.example.net:8080 HTTP/1.0\r\n\r\n", kind: Absolute, host: "cdn.example.net", port: 8080},
		{in: "GET / HTTP/1.0\r\n\r\n", kind: Origin, err: ErrNoName},
		{in: "GET / HTTP/1.1\r\nAccept: */*\r\n", kind: Origin, err: ErrIncomplete},
		{in: "GET /very/long/path", err: ErrIncomplete},
		{in: "CONNECT example.com HTTP/1.1\r\n\r\n", kind: Connect, err: ErrMalformed},
		{in: "CONNECT example.com:0 HTTP/1.1\r\n\r\n", kind: Connect, err: ErrMalformed},
		{in: "CONNECT example.com:99999 HTTP/1.1\r\n\r\n", kind: Connect, err: ErrMalformed},
		{in: "GET / HTTP/1.1\r\nHost: bad<host>\r\n\r\n", kind: Origin, err: ErrMalformed},
		{in: "GET / SIP/2.0\r\n\r\n", err: ErrMalformed},
		{in: "GET 2001:db8::1 HTTP/1.1\r\n\r\n", err: ErrMalformed},
		{in: "FOO / HTTP/1.1\r\n\r\n", err: ErrNotMine},
		{in: "\x16\x03\x01\x02\x00", err: ErrNotMine},
		{in: "", err: ErrNotMine},
	} {
		t.Run(tc.in, func(t *testing.T) {
			q, err := ParseRequest([]byte(tc.in))
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if looks := LooksLikeRequest([]byte(tc.in)); looks != !errors.Is(err, ErrNotMine) {
				t.Fatalf("LooksLikeRequest %v, ParseRequest %v", looks, err)
			}
			if err != nil {
				return
			}
			if q.Kind != tc.kind || string(q.Host) != tc.host || q.Port != tc.port {
				t.Fatalf("got %v %q %d, want %v %q %d", q.Kind, q.Host, q.Port, tc.kind, tc.host, tc.port)
			}
		})
	}
}

func TestParseRequestReal(t *testing.T) {
	files, _ := filepath.Glob("testdata/fuzz/FuzzParseRequest/real-*")
	if len(files) == 0 {
		t.Fatal("no real seeds")
	}
	for _, f := range files {
		q, err := ParseRequest(readSeed(t, f))
		if err != nil || q.Kind != Origin || !validHost(q.Host) {
			t.Errorf("%s: %v %q %v", f, q.Kind, q.Host, err)
		}
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Add([]byte("CONNECT updates.example.com:443 HTTP/1.1\r\nHost: updates.example.com:443\r\n\r\n"))
	f.Add([]byte("GET http://cdn.example.net/v1 HTTP/1.1\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n"))
	f.Add([]byte("\x17\x03\x03\x00\x20 GET"))
	f.Add([]byte("get / HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := ParseRequest(b)
		// LooksLikeRequest is the cheap gate in front of ParseRequest: it
		// must let through whatever ParseRequest would not call foreign.
		if looks := LooksLikeRequest(b); looks != !errors.Is(err, ErrNotMine) {
			t.Fatalf("LooksLikeRequest %v, ParseRequest %v", looks, err)
		}
		if err != nil {
			return
		}
		if !validHost(q.Host) || q.Kind < Origin || q.Kind > Absolute {
			t.Fatalf("%+v", q)
		}
		if q.Kind == Connect && q.Port == 0 {
			t.Fatal("CONNECT without a port")
		}
	})
}

// BenchmarkLooksLikeRequest is the gate's cost on what a span mostly
// carries, encrypted records, and on a request.
func BenchmarkLooksLikeRequest(b *testing.B) {
	for _, c := range []struct{ name, in string }{
		{"tls", "\x17\x03\x03\x01\x00\x8f\x11\x22\x33"},
		{"request", "GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n"},
	} {
		in := []byte(c.in)
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				LooksLikeRequest(in)
			}
		})
	}
}
