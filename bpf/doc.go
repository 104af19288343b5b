// Package bpf holds launchtap's kernel-side programs and their user-space API.
//
// src/launchtap.c has two socket-filter programs for the AF_PACKET capture
// sockets: a pre-filter (SO_ATTACH_BPF) that passes to user space only what the
// sensor needs and counts the rest per flow in a bounded hash (atomic adds;
// per-CPU slots would split a session across CPUs), and a fanout program
// (PACKET_FANOUT_EBPF) that steers each internal host's packets, both
// directions, to one worker. The same pre-filter also exists as an XDP program
// for dedicated tap ports. bpf2go compiles them; the generated
// launchtap_bpfel.go/.o are committed so that building needs no clang.
//
// User space: Load, then Objects.Filter/Fanout/XDP to attach,
// Objects.Flows (FlowCounters.Take/Sweep) for the per-flow counts,
// Objects.Stats for the decisions, Objects.Hosts for the hosts map through
// which user space tells the fanout which host an address or a MAC belongs
// to (shard.MapKey → shard.HashKey). The steering rule and hash the fanout
// program computes are defined once, in sensor/shard.
// `make generate` (go generate ./bpf/...) rebuilds them; CI checks that the
// committed files match.
package bpf
