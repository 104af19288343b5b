package flow

import (
	"testing"

	"github.com/launchtap/launchtap/sensor/decode"
	"github.com/launchtap/launchtap/sensor/netset"
)

// countedRecorder records MayBeCounted of each session as it ends.
type countedRecorder struct {
	recorder
	counted []bool
}

func (r *countedRecorder) SessionEnd(s *Session) {
	r.counted = append(r.counted, s.MayBeCounted())
}

// MayBeCounted is false exactly for sessions the live pre-filter passes
// whole (bpf/: it counts nothing of a TCP session before its SYN-ACK or a
// segment that is not a SYN, FIN or RST, nor of a UDP direction before its
// second datagram), so that user space asks the kernel for nothing of a scan.
func TestMayBeCounted(t *testing.T) {
	for _, tc := range []struct {
		name string
		pkts []decode.Packet
		want bool
	}{
		{"SYN refused", []decode.Packet{pkt(0, tcp, ">", cdn, 443, syn, 0), pkt(0.01, tcp, "<", cdn, 443, rst|ack, 0)}, false},
		// The filter counts an answered handshake's ACK, which user space may
		// not see: a half-open scan's open port is asked for.
		{"SYN, SYN-ACK, RST (half-open scan)", []decode.Packet{
			pkt(0, tcp, ">", cdn, 443, syn, 0), pkt(0.01, tcp, "<", cdn, 443, synack, 0), pkt(0.02, tcp, ">", cdn, 443, rst, 0)}, true},
		{"SYN-ACK to a SYN the table lost", []decode.Packet{pkt(0.01, tcp, "<", cdn, 443, synack, 0), pkt(0.02, tcp, ">", cdn, 443, rst, 0)}, true},
		{"unanswered SYNs", []decode.Packet{pkt(0, tcp, ">", cdn, 443, syn, 0), pkt(1, tcp, ">", cdn, 443, syn, 0)}, false},
		{"handshake completed", []decode.Packet{
			pkt(0, tcp, ">", cdn, 443, syn, 0), pkt(0.01, tcp, "<", cdn, 443, synack, 0), pkt(0.02, tcp, ">", cdn, 443, ack, 0),
			pkt(0.03, tcp, ">", cdn, 443, fin, 0), pkt(0.04, tcp, "<", cdn, 443, fin, 0)}, true},
		{"SYN, then FIN with data, RST", []decode.Packet{
			pkt(0, tcp, ">", cdn, 443, syn, 0), pkt(0.03, tcp, ">", cdn, 443, fin, 100), pkt(0.04, tcp, "<", cdn, 443, rst, 0)}, false},
		{"joined mid-stream", []decode.Packet{pkt(0, tcp, ">", cdn, 443, ack, 100)}, true},
		{"one datagram out", []decode.Packet{pkt(0, udp, ">", cdn, 5000, 0, 40)}, false},
		{"two datagrams out", []decode.Packet{pkt(0, udp, ">", cdn, 5000, 0, 40), pkt(0.1, udp, ">", cdn, 5000, 0, 40)}, true},
		{"one out, one back", []decode.Packet{pkt(0, udp, ">", cdn, 5000, 0, 40), pkt(0.1, udp, "<", cdn, 5000, 0, 40)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &countedRecorder{}
			tr, err := NewTracker(DefaultConfig(), netset.MustParse(netset.DefaultInternal), r)
			if err != nil {
				t.Fatal(err)
			}
			for i := range tc.pkts {
				tr.Packet(&tc.pkts[i])
			}
			tr.Flush()
			if len(r.counted) != 1 || r.counted[0] != tc.want {
				t.Errorf("MayBeCounted at the end = %v, want [%v]", r.counted, tc.want)
			}
		})
	}
}
