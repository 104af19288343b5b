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
//
// Every packet the capture saw is accounted for:
//
//	Seen = Delivered + Filter.Counted + Drops + Undelivered
//
// Seen is what reached the pre-filter (passed to the sockets plus counted in
// the kernel), or the sockets' Packets without it. Undelivered is what the
// rings hold (while running) or held when the capture stopped (after Close);
// Unaccounted is what the equation misses, from counters read a moment apart
// while packets flow (0 once the capture has stopped).
type Stats struct {
	Packets, Drops, Freezes uint64 // kernel, summed over sockets
	Delivered               uint64 // frames handed to callers of Next
	Sockets                 []SocketStats
	// Filter holds the pre-filter's decisions when it is attached
	// (FilterOn); Filter.PassMapFull counts BPF map-full events.
	Filter   bpf.FilterStats
	FilterOn bool

	Seen        uint64 // packets the capture saw on the wire (see above)
	Undelivered uint64 // queued in the rings and not (yet) delivered: Packets - Drops - Delivered
	Unaccounted uint64 // Seen - (Delivered + Filter.Counted + Drops + Undelivered), when positive
}

// account fills Seen, Undelivered and Unaccounted from the other counters.
func (s *Stats) account() {
	if q := s.Packets - s.Drops; s.Packets >= s.Drops && q > s.Delivered {
		s.Undelivered = q - s.Delivered
	}
	s.Seen = s.Packets
	if s.FilterOn {
		s.Seen = s.Filter.Passed() + s.Filter.Counted
	}
	if known := s.Delivered + s.Filter.Counted + s.Drops + s.Undelivered; s.Seen > known {
		s.Unaccounted = s.Seen - known
	}
}
