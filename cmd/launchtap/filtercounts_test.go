package main

import (
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/launchtap/launchtap/bpf"
	"github.com/launchtap/launchtap/internal/testenv"
	"github.com/launchtap/launchtap/sensor/pipeline"
)

// filterTCP runs the pre-filter on a TCP segment from src:sport to dst:dport.
// BPF_PROG_TEST_RUN starts a socket filter's skb at the network header; the
// filter learns so from cb[0] (TEST_RUN_AT_NET in bpf/src/launchtap.c).
func filterTCP(t *testing.T, o *bpf.Objects, src, dst string, sport, dport uint16, flags string, payload int) bool {
	t.Helper()
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP,
		SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
	tc := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Window: 1024,
		SYN: flags == "S", ACK: flags == "A", RST: flags == "R"}
	if err := tc.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		&layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4},
		ip, tc, gopacket.Payload(make([]byte, payload)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := struct {
		_  [12]uint32
		CB [5]uint32
	}{CB: [5]uint32{0x4c544e54}}
	ret, err := o.Filter().Run(&ebpf.RunOptions{Data: buf.Bytes(), Context: ctx})
	if err != nil {
		t.Fatal(err)
	}
	return ret != 0
}

// TakeBatch asks the kernel only for directions it can have counted, and
// still hands an uncounted session what a restart carried over to it.
func TestTakeBatchSkipsUncounted(t *testing.T) {
	testenv.RequireRoot(t, "loading the eBPF pre-filter")
	o, err := bpf.Load(bpf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	const mac, web = "192.168.1.10", "93.184.216.34"
	// A session the filter counted two segments of, in the client's direction.
	for i := 0; i < 3; i++ {
		filterTCP(t, o, mac, web, 50000, 443, "A", 100)
	}
	// A scan's SYN and RST: nothing counted.
	filterTCP(t, o, mac, web, 50001, 22, "S", 0)
	filterTCP(t, o, web, mac, 22, 50001, "R", 0)
	f := newFilterCounts(o.Flows, slog.New(slog.NewTextHandler(io.Discard, nil)))
	a, b := netip.MustParseAddr(mac), netip.MustParseAddr(web)
	take := func(sport, dport uint16, restarted, uncounted bool) pipeline.FlowTake {
		return pipeline.FlowTake{Src: a, Dst: b, SrcPort: sport, DstPort: dport, Proto: 6, Restarted: restarted, Uncounted: uncounted}
	}

	// The counted session ends because one began on its 5-tuple: its counts
	// after the split (all of them, no SYN was seen) are carried over.
	reqs := []pipeline.FlowTake{take(50000, 443, true, false), take(50001, 22, false, true)}
	f.TakeBatch(reqs)
	if reqs[0].Pkts != 0 || reqs[1].Pkts != 0 {
		t.Errorf("restarted session got %d packets, scan %d; want 0 and 0", reqs[0].Pkts, reqs[1].Pkts)
	}
	if st := o.Flows.Stats(); st.Keys != 1 || st.Skipped != 1 {
		t.Errorf("take stats %+v, want 1 key asked and 1 skipped", st)
	}
	// The session that began carried nothing the kernel saw: it gets what was
	// carried over without asking the kernel.
	reqs = []pipeline.FlowTake{take(50000, 443, false, true)}
	f.TakeBatch(reqs)
	if reqs[0].Pkts != 2 || reqs[0].Bytes != 200 {
		t.Errorf("carried counts: %d packets, %d bytes; want 2 and 200", reqs[0].Pkts, reqs[0].Bytes)
	}
	if st := o.Flows.Stats(); st.Keys != 1 || st.Skipped != 2 {
		t.Errorf("take stats %+v, want 1 key asked and 2 skipped", st)
	}
	if len(f.carried) != 0 {
		t.Errorf("%d counts still carried", len(f.carried))
	}
}
