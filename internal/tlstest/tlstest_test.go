package tlstest

import (
	"bytes"
	"testing"
)

// The record is one whole handshake record holding a ClientHello that names
// the server, longer than one segment.
func TestClientHello(t *testing.T) {
	b := MustClientHello(t, "beacon.example.com")
	if b[0] != 0x16 || b[5] != 0x01 {
		t.Fatalf("record type %#x, handshake type %#x: want a handshake record with a ClientHello", b[0], b[5])
	}
	if n := 5 + (int(b[3])<<8 | int(b[4])); n != len(b) {
		t.Errorf("record length %d, returned %d bytes", n, len(b))
	}
	if !bytes.Contains(b, []byte("beacon.example.com")) {
		t.Error("the server name is not in the hello")
	}
	if len(b) <= 1400 {
		t.Errorf("hello of %d bytes fits one segment; the tests rely on a split one", len(b))
	}
}
