package bpf

//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -target bpfel -cflags "-mcpu=v3 -Wall -Werror -I./src/headers" -type flow_key -type flow_val -type stat_idx -type host_key launchtap src/launchtap.c

// -mcpu=v3 (Linux 5.12+) for the atomic exchange used at session starts.
