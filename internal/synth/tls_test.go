package synth

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// parseHello walks a ClientHello record and returns its SNI, failing on
// any length that does not add up.
func parseHello(b []byte) (string, error) {
	if len(b) < 9 || b[0] != 0x16 || b[5] != 1 {
		return "", errors.New("not a handshake record with a ClientHello")
	}
	if int(binary.BigEndian.Uint16(b[3:5])) != len(b)-5 {
		return "", errors.New("record length")
	}
	hl := int(b[6])<<16 | int(b[7])<<8 | int(b[8])
	if hl != len(b)-9 {
		return "", errors.New("handshake length")
	}
	p := b[9:]
	skip := func(n int) error {
		if len(p) < n {
			return errors.New("short")
		}
		p = p[n:]
		return nil
	}
	vec := func(lenBytes int) ([]byte, error) {
		if len(p) < lenBytes {
			return nil, errors.New("short vector length")
		}
		n := 0
		for i := 0; i < lenBytes; i++ {
			n = n<<8 | int(p[i])
		}
		p = p[lenBytes:]
		if len(p) < n {
			return nil, errors.New("short vector")
		}
		v := p[:n]
		p = p[n:]
		return v, nil
	}
	if err := skip(2 + 32); err != nil {
		return "", err
	}
	for _, lb := range []int{1, 2, 1} { // session id, cipher suites, compression
		if _, err := vec(lb); err != nil {
			return "", err
		}
	}
	exts, err := vec(2)
	if err != nil {
		return "", err
	}
	if len(p) != 0 {
		return "", errors.New("bytes after extensions")
	}
	sni := ""
	for len(exts) > 0 {
		if len(exts) < 4 {
			return "", errors.New("short extension header")
		}
		typ := binary.BigEndian.Uint16(exts)
		n := int(binary.BigEndian.Uint16(exts[2:]))
		if len(exts) < 4+n {
			return "", errors.New("short extension")
		}
		if typ == 0 {
			body := exts[4 : 4+n]
			if len(body) < 5 || body[2] != 0 {
				return "", errors.New("bad server_name")
			}
			sni = string(body[5 : 5+int(binary.BigEndian.Uint16(body[3:]))])
		}
		exts = exts[4+n:]
	}
	return sni, nil
}

func TestClientHello(t *testing.T) {
	rnd := make([]byte, 512)
	for i := range rnd {
		rnd[i] = byte(i * 7)
	}
	for _, tt := range []struct {
		n   int
		sni string
		ok  bool
		fl  helloFlavor
	}{
		{517, "cdn.example.net", true, helloSafari},
		{581, "a-rather-long-per-beat-name-0123456789.example-cdn.com", true, helloSafari},
		{517, "", true, helloSafari},
		{517, "telemetry.example.org", true, helloChrome},
		{581, "deb.debian.org", true, helloFirefox},
		{200, "x.example", false, helloSafari},
	} {
		b := clientHello(tt.n, tt.sni, rnd, tt.fl)
		if !tt.ok {
			if b != nil {
				t.Fatalf("%d-byte hello built though it cannot fit", tt.n)
			}
			continue
		}
		if len(b) != tt.n {
			t.Fatalf("hello is %d bytes, want %d", len(b), tt.n)
		}
		sni, err := parseHello(b)
		if err != nil || sni != tt.sni {
			t.Fatalf("parse: %q, %v; want %q", sni, err, tt.sni)
		}
		// first cipher suite: GREASE for Safari and Chrome, TLS_AES_128_GCM_SHA256 for Firefox
		first := binary.BigEndian.Uint16(b[9+2+32+33+2:])
		if grease := first&0x0f0f == 0x0a0a; grease != (tt.fl != helloFirefox) {
			t.Fatalf("flavor %d: first suite %#04x", tt.fl, first)
		}
		if alps := bytes.Contains(b, []byte{0x44, 0x69, 0, 5}); alps != (tt.fl == helloChrome) {
			t.Fatalf("flavor %d: ALPS extension present %v", tt.fl, alps)
		}
	}
}
