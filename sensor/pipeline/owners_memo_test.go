package pipeline

import (
	"testing"

	"github.com/launchtap/launchtap/internal/synth"
	"github.com/launchtap/launchtap/sensor/capture"
	"github.com/launchtap/launchtap/sensor/decode"
	"github.com/launchtap/launchtap/sensor/host"
	"github.com/launchtap/launchtap/sensor/shard"
)

// TestShardMatchesHost runs the sharded reader's path (owners.shard, with
// its flow memo) and the rule's reference path (owners.host) side by side,
// each with its own binder, over generated spans where hosts move: DHCP
// churn, rotated private Wi-Fi MACs, a dual-stack Mac, sleeping laptops.
// Every packet must go to the same host, and the memo must answer most of
// them (else the test would not reach it). The kernel differential test
// (shard_test.go) checks the same where eBPF programs load.
func TestShardMatchesHost(t *testing.T) {
	t.Run("crafted", func(t *testing.T) {
		// Leases, moves, a dock joined by its hostname, an inventory
		// join, a router found, a release: each changes what a flow
		// already seen resolves to.
		frames := hostFrames()
		n := shardMatchesHost(t, frames, hostsInventory)
		if n < uint64(len(frames))/8 {
			t.Errorf("the flow memo answered %d of %d packets", n, len(frames))
		}
	})
	for _, g := range []struct {
		scenario string
		opt      synth.Options
	}{
		{"hosts-mix", synth.Options{Packets: 40000}},
		{"office", synth.Options{Packets: 40000}},
		{"eval-ipv6", synth.Options{Packets: 20000}},
		{"demo", synth.Options{SnapLen: 96}},
	} {
		t.Run(g.scenario, func(t *testing.T) {
			var c collect
			if _, _, err := synth.GenerateWith(g.scenario, 1, &c, g.opt); err != nil {
				t.Fatal(err)
			}
			n := shardMatchesHost(t, c.frames)
			if g.scenario != "eval-ipv6" && n < uint64(len(c.frames))/2 {
				t.Errorf("the flow memo answered %d of %d packets", n, len(c.frames))
			}
		})
	}
}

// shardMatchesHost checks owners.shard against owners.host over frames and
// returns how many packets the flow memo answered.
func shardMatchesHost(t *testing.T, frames []capture.Frame, inventory ...[][6]byte) uint64 {
	t.Helper()
	cfg := DefaultConfig()
	cfg.HostMACs = inventory
	own, err := newOwners(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := newOwners(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	var (
		dec      decode.Decoder
		p        decode.Packet
		compared int
	)
	for i := range frames {
		if k := dec.Decode(&frames[i], &p); k != decode.OK && !hasIP(k) {
			continue
		}
		var bh batchHost
		hash := own.shard(&p, &bh)
		want := ref.host(&p)
		compared++
		if hash != shard.HashKey(want.key) || bh.mac != want.key.MAC || bh.end != want.end {
			t.Fatalf("frame %d %s:%d > %s:%d proto %d: shard gave hash %#x, MAC %s, end %d; host gave %v (hash %#x), end %d",
				i, p.Src, p.SrcPort, p.Dst, p.DstPort, p.Proto, hash, host.MACString(bh.mac), bh.end,
				want.key, shard.HashKey(want.key), want.end)
		}
	}
	got, wantStats := own.stats(), ref.binder.Stats()
	if got.ByMAC != wantStats.ByMAC || got.ByAddr != wantStats.ByAddr {
		t.Errorf("lookups by MAC / by address: %d / %d, want %d / %d", got.ByMAC, got.ByAddr, wantStats.ByMAC, wantStats.ByAddr)
	}
	memo := own.memoMAC + own.memoAddr
	t.Logf("%d packets, %d answered by the flow memo", compared, memo)
	return memo
}
