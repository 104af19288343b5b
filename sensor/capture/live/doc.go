// Package live captures from network interfaces for `launchtap run`.
//
// Each worker gets one capture.Source reading TPACKET_V3 rings (gopacket's
// cgo-free afpacket), one AF_PACKET socket per interface, and every interface's
// sockets form one fanout group. With several workers the group uses
// PACKET_FANOUT_EBPF and bpf's launchtap_fanout program, which hashes the
// internal host: both directions of a host's traffic, whatever address it
// holds, reach the same worker, so per-host state can be sharded without
// locks. The program computes sensor/shard's rule and hash, which replay
// applies to decoded packets; the bindings of addresses to hosts it reads
// from its hosts map (Capture.Hosts), which sensor/pipeline keeps in step
// with what the workers learn.
//
// With Config.BPF the sockets also carry bpf's pre-filter, which keeps
// mid-session payload in the kernel and counts it per flow (Capture.Flows);
// with Config.XDP it runs at the driver instead, on dedicated tap ports.
// Capture.Stats reports kernel drops and freezes per socket and the filter's
// decisions.
//
// livetest builds a network namespace and veth pair and replays captures into
// it with tcpreplay, for tests of anything that reads live traffic; livecap is
// a command measuring this package alone (deploy/bench-live.sh drives it).
package live
