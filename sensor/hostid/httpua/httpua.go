// Package httpua finds the User-Agent of a cleartext HTTP request in one TCP
// segment and says which OS it names. A User-Agent is trivially spoofed and
// iPadOS sends a Mac-like one, so launchtap weighs it lightly.
package httpua

import (
	"bytes"
)

// maxScan bounds how far into a segment headers are searched.
const maxScan = 8192

var methods = [][]byte{
	[]byte("GET "), []byte("POST "), []byte("HEAD "), []byte("PUT "),
	[]byte("OPTIONS "), []byte("DELETE "), []byte("PATCH "), []byte("CONNECT "),
}

// IsRequest reports whether a payload starts like an HTTP/1.x request.
func IsRequest(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	for _, m := range methods {
		if bytes.HasPrefix(b, m) {
			return true
		}
	}
	return false
}

// UserAgent returns the User-Agent header value of the HTTP request at the
// start of b (aliasing b), or nil. It does not allocate.
func UserAgent(b []byte) []byte {
	if !IsRequest(b) {
		return nil
	}
	if len(b) > maxScan {
		b = b[:maxScan]
	}
	// Skip the request line.
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil
	}
	b = b[i+1:]
	for len(b) > 0 {
		end := bytes.IndexByte(b, '\n')
		line := b
		if end >= 0 {
			line, b = b[:end], b[end+1:]
		} else {
			b = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			return nil // end of headers
		}
		const name = "user-agent:"
		if len(line) >= len(name) && asciiEqualFold(line[:len(name)], name) {
			return bytes.TrimSpace(line[len(name):])
		}
	}
	return nil
}

func asciiEqualFold(b []byte, lower string) bool {
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// Guess is the OS a User-Agent names.
type Guess struct {
	OS     string // macos, ios, darwin, windows, linux, or ""
	Reason string // the token that decided it
}

type rule struct {
	token, os string
}

// Order matters: iOS UAs contain "like Mac OS X", Android UAs contain "Linux".
var rules = []rule{
	{"iPhone", "ios"}, {"iPad;", "ios"}, {"iPod", "ios"}, {"iOS/", "ios"},
	{"Macintosh; Intel Mac OS X", "macos"}, {"macOS/", "macos"}, {"Mac OS X/", "macos"},
	{"CFNetwork/", "darwin"}, {"Darwin/", "darwin"},
	{"Windows NT", "windows"}, {"Microsoft-CryptoAPI", "windows"}, {"Windows-Update-Agent", "windows"},
	{"Microsoft-Delivery-Optimization", "windows"}, {"Microsoft NCSI", "windows"},
	{"Android", "linux"}, {"X11; Linux", "linux"}, {"X11; Ubuntu", "linux"}, {"X11; Fedora", "linux"},
	{"Linux x86_64", "linux"}, {"Debian APT-HTTP", "linux"}, {"APT-HTTP", "linux"}, {"CrOS", "linux"},
}

// Classify says which OS a User-Agent names, if any. It does not allocate
// except for the returned reason on a hit.
func Classify(ua []byte) Guess {
	for _, r := range rules {
		if bytes.Contains(ua, []byte(r.token)) {
			return Guess{OS: r.os, Reason: r.token}
		}
	}
	return Guess{}
}
