// Package bpf holds launchtap's kernel-side programs and their user-space API.
//
// launchtap.c has two socket-filter programs for the AF_PACKET capture
// sockets: a pre-filter (SO_ATTACH_BPF) that passes to user space only what the
// sensor needs and counts the rest per flow in a bounded hash (atomic adds;
// per-CPU slots would split a session across CPUs), and a
// fanout program (PACKET_FANOUT_EBPF) that steers each internal host's packets,
// both directions, to one worker. bpf2go compiles it; the generated
// launchtap_bpfel.go/.o are committed so that building needs no clang.
// `make generate` (go generate ./bpf/...) rebuilds them; CI checks that the
// committed files match.
package bpf
