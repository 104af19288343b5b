package httpua

import (
	"testing"

	"github.com/launchtap/launchtap/internal/pkttest"
	"github.com/launchtap/launchtap/internal/testenv"
)

func TestUserAgent(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/8.0\r\n\r\n", "curl/8.0"},
		{"lower case", "POST /a HTTP/1.1\nuser-agent:   CFNetwork/1490 Darwin/23.5.0  \n\n", "CFNetwork/1490 Darwin/23.5.0"},
		{"after blank line", "GET / HTTP/1.1\r\nHost: x\r\n\r\nUser-Agent: no\r\n", ""},
		{"not http", "\x16\x03\x01\x02\x00", ""},
		{"no newline", "GET / HTTP/1.1", ""},
		{"truncated header", "GET / HTTP/1.1\r\nUser-Agent: Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)"},
		{"short name", "GET / HTTP/1.1\r\nUser\r\n", ""},
	}
	for _, tt := range tests {
		if got := string(UserAgent([]byte(tt.in))); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestClassify(t *testing.T) {
	tests := []struct{ ua, want string }{
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", "macos"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15", "ios"},
		{"Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X)", "ios"},
		{"com.apple.trustd/2.2", ""},
		{"Software%20Update (unknown version) CFNetwork/1496.0.7 Darwin/23.5.0", "darwin"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36", "windows"},
		{"Microsoft-CryptoAPI/10.0", "windows"},
		{"Mozilla/5.0 (Linux; Android 14; Pixel 8)", "linux"},
		{"Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0", "linux"},
		{"Debian APT-HTTP/1.3 (2.6.1)", "linux"},
		{"curl/8.5.0", ""},
	}
	for _, tt := range tests {
		if g := Classify([]byte(tt.ua)); g.OS != tt.want {
			t.Errorf("%q -> %+v, want %q", tt.ua, g, tt.want)
		}
	}
}

func TestRealCapture(t *testing.T) {
	pkts, err := pkttest.ReadFile(testenv.Capture(t, "real", "single-packets.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	var windows int
	for _, p := range pkts {
		if ua := UserAgent(p.Payload); ua != nil {
			if g := Classify(ua); g.OS != "windows" {
				t.Errorf("UA %q classified %+v; the capture's client is Windows (Edge 12)", ua, g)
			}
			windows++
		}
	}
	if windows == 0 {
		t.Error("no User-Agent found in single-packets.pcap")
	}
}

func BenchmarkUserAgent(b *testing.B) {
	req := []byte("GET /activity HTTP/1.1\r\nAccept: text/html\r\nReferer: http://www.example.com/\r\nAccept-Language: en-US\r\n" +
		"User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Edge/12.10240\r\nHost: x\r\n\r\n")
	b.ReportAllocs()
	for b.Loop() {
		if ua := UserAgent(req); ua == nil {
			b.Fatal("no UA")
		}
	}
}

func FuzzUserAgent(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nUser-Agent: Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5)\r\n\r\n"))
	f.Add([]byte("POST / HTTP/1.0\nUSER-AGENT:\n"))
	f.Add([]byte("CONNECT a:443 HTTP/1.1\r\n\r\n"))
	if pkts, err := pkttest.ReadFile(testenv.Capture(f, "real", "single-packets.pcap")); err == nil {
		for _, p := range pkts {
			if len(p.Payload) > 0 {
				f.Add(append([]byte(nil), p.Payload...))
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ua := UserAgent(b)
		if ua != nil && len(ua) > len(b) {
			t.Fatalf("UA longer than input")
		}
		Classify(ua)
	})
}
