package bpf

//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -target bpfel -cflags "-Wall -Werror -I./src/headers" -type flow_key -type flow_val -type stat_idx launchtap src/launchtap.c
