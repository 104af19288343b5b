package pipeline

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// straddlePcap is a filler frame, then a DNS response whose headers end
// 10 bytes before offset 8192 and whose payload runs on into the next page.
func straddlePcap() []byte {
	le := binary.LittleEndian
	var b []byte
	b = le.AppendUint32(b, 0xa1b2c3d4)
	b = le.AppendUint16(b, 2)
	b = le.AppendUint16(b, 4)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, 262144)
	b = le.AppendUint32(b, 1)
	rec := func(sec uint32, data []byte) {
		b = le.AppendUint32(b, sec)
		b = le.AppendUint32(b, 0)
		b = le.AppendUint32(b, uint32(len(data)))
		b = le.AppendUint32(b, uint32(len(data)))
		b = append(b, data...)
	}
	rec(1, make([]byte, 8084))
	payload := make([]byte, 300)
	payload[2] = 0x81 // a response
	f := make([]byte, 0, 42+len(payload))
	f = append(f, 0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 6, 0x08, 0x00)
	ip := []byte{0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 53, 10, 0, 0, 5}
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(payload)))
	f = append(f, ip...)
	udp := []byte{0, 53, 0x30, 0x39, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(payload)))
	f = append(f, udp...)
	f = append(f, payload...)
	rec(2, f)
	return b
}

// A fault while the sharded reader copies a payload into a worker's batch
// (the file cut at the page the payload runs into) must leave the batch
// whole: the worker reads it after the reader stopped, with no fault guard.
// Run in a child process, as the failure is the process dying.
func TestReplayShardedFaultMidCopy(t *testing.T) {
	if os.Getenv("LAUNCHTAP_FAULT_CHILD") == "1" {
		_, err := replayShrinking(t, filepath.Join(t.TempDir(), "s.pcap"), straddlePcap(), 8192, 2)
		if err == nil || !strings.Contains(err.Error(), "shrank") {
			t.Fatalf("replay returned %v, want the file named as shrunk", err)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestReplayShardedFaultMidCopy$", "-test.v")
	cmd.Env = append(os.Environ(), "LAUNCHTAP_FAULT_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		s := string(out)
		if i := strings.Index(s, "goroutine "); i > 0 {
			s = s[:min(len(s), i+900)]
		}
		t.Fatalf("child: %v\n%s", err, s)
	}
}
