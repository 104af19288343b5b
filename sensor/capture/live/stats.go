package live

import "github.com/launchtap/launchtap/bpf"

// SocketStats are one AF_PACKET socket's kernel counters since Open,
// accumulated across reads (the kernel resets them on every read).
type SocketStats struct {
	Iface  string
	Worker int
	// Packets the socket accepted (after the pre-filter), drops included.
	Packets uint64
	// Drops: packets lost because the ring was full (tp_drops).
	Drops uint64
	// Freezes: times the ring filled and the queue froze (tp_freeze_q_cnt).
	Freezes uint64
}

// Stats is a snapshot of the capture's counters.
type Stats struct {
	Packets, Drops, Freezes uint64 // kernel, summed over sockets
	Delivered               uint64 // frames handed to callers of Next
	Sockets                 []SocketStats
	// Filter holds the pre-filter's decisions when it is attached
	// (FilterOn); Filter.PassMapFull counts BPF map-full events.
	Filter   bpf.FilterStats
	FilterOn bool
}
