package live

import (
	"flag"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Defaults for Config fields left zero.
const (
	// DefaultBlockSize: a TPACKET_V3 block of 256 KiB holds ~170 full-size
	// frames. Blocks go to user space whole, at the latest after BlockTimeout,
	// so at low rates the ring's depth is its number of blocks times the
	// timeout: 16 MiB is 64 blocks, 640 ms at the default 10 ms.
	DefaultBlockSize     = 256 << 10
	DefaultFrameSize     = 2048
	DefaultBlockTimeout  = 10 * time.Millisecond
	minRingMB, maxRingMB = 16, 512
)

// Config selects interfaces and sizes the capture.
type Config struct {
	Interfaces []string // names, at least one
	Workers    int      // sockets per interface, one Source each (the pipeline's --workers); 0: one per CPU
	// RingMB is each socket's ring in MiB; 0 sizes it from memory (RingSize).
	RingMB int
	// BlockSize is the TPACKET_V3 block in bytes (a multiple of the page size);
	// blocks are handed to user space whole, when full or after BlockTimeout.
	BlockSize    int
	FrameSize    int // tp_frame_size; V3 packs frames, so it only has to divide BlockSize
	BlockTimeout time.Duration
	// FanoutGroup is the first fanout group id; interface i uses FanoutGroup+i.
	// 0 derives it from the process id so two sensors never share a group.
	FanoutGroup uint16
	Promisc     bool // PACKET_ADD_MEMBERSHIP PACKET_MR_PROMISC on every interface
	// BPF attaches the eBPF pre-filter. Steering by internal host (Workers > 1)
	// uses eBPF whatever BPF says; without eBPF the capture falls back to one
	// worker.
	BPF bool
	// XDP runs the pre-filter at the driver (XDP) instead of on the sockets,
	// for dedicated tap ports only: what it counts is dropped for the whole
	// host. Falls back to the socket filter where XDP cannot attach.
	XDP            bool
	SampleInterval time.Duration // pre-filter: pass a packet per flow direction this often (0: 1s)
	FlowEntries    uint32        // pre-filter: flow table bound (0: 65536)

	// Set by the pipeline from its own flags (flow.Config's --udp-idle,
	// --burst-gap and MinBurstLen, and --internal) so that the kernel makes
	// the same calls as the flow stage; zero values take bpf's defaults, which
	// equal flow.DefaultConfig's.
	UDPIdle     time.Duration
	BurstGap    time.Duration
	MinBurstLen uint32
	Internal    []netip.Prefix
}

// NewConfig returns the command line's defaults: promiscuous, pre-filter on,
// everything else sized at Open.
func NewConfig(ifaces ...string) Config {
	return Config{Interfaces: ifaces, Promisc: true, BPF: true}
}

// RegisterFlags adds the capture flags to fs with Config's defaults:
// -i/--interface (repeatable, or comma-separated), --ring-mb, --block-size,
// --frame-size, --block-timeout, --fanout-group, --promisc, --no-bpf, --xdp,
// --bpf-sample, --bpf-flow-entries. Workers is not among them: the pipeline's
// --workers sets it (one capture socket per pipeline worker and interface).
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.Promisc = true
	c.BPF = true
	ifaces := (*stringList)(&c.Interfaces)
	fs.Var(ifaces, "i", "interface to capture on (repeatable; shorthand for --interface)")
	fs.Var(ifaces, "interface", "interface to capture on (repeatable)")
	fs.IntVar(&c.RingMB, "ring-mb", c.RingMB, "ring size per socket in MiB (0: sized from memory)")
	fs.IntVar(&c.BlockSize, "block-size", DefaultBlockSize, "TPACKET_V3 block size in bytes (multiple of the page size)")
	fs.IntVar(&c.FrameSize, "frame-size", DefaultFrameSize, "TPACKET_V3 frame size in bytes (divides --block-size)")
	fs.DurationVar(&c.BlockTimeout, "block-timeout", DefaultBlockTimeout, "hand a partly filled block to user space after this long")
	fs.Func("fanout-group", "first PACKET_FANOUT group id; interface i uses id+i (0: from the process id)", func(s string) error {
		var v uint16
		if _, err := fmt.Sscan(s, &v); err != nil {
			return fmt.Errorf("fanout group %q: want 0..65535", s)
		}
		c.FanoutGroup = v
		return nil
	})
	fs.BoolVar(&c.Promisc, "promisc", true, "put the interfaces in promiscuous mode")
	fs.Var(boolFunc{set: func(b bool) { c.BPF = !b }}, "no-bpf", "do not attach the eBPF pre-filter (every packet goes to user space)")
	fs.BoolVar(&c.XDP, "xdp", false, "run the pre-filter as XDP on the interfaces: cheapest, but counted packets are dropped for the whole host (dedicated tap ports only)")
	fs.DurationVar(&c.SampleInterval, "bpf-sample", time.Second, "pre-filter: pass one packet of each flow direction this often")
	fs.Func("bpf-flow-entries", "pre-filter: flow table entries (0: 65536)", func(s string) error {
		var v uint32
		if _, err := fmt.Sscan(s, &v); err != nil {
			return fmt.Errorf("bpf flow entries %q: want a count", s)
		}
		c.FlowEntries = v
		return nil
	})
}

// stringList is a repeatable string flag; a comma-separated value adds several.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

// boolFunc is a boolean flag.Value calling set.
type boolFunc struct{ set func(bool) }

func (b boolFunc) String() string   { return "false" }
func (b boolFunc) IsBoolFlag() bool { return true }
func (b boolFunc) Set(s string) error {
	var v bool
	switch s {
	case "true", "1", "t", "T", "TRUE", "True":
		v = true
	case "false", "0", "f", "F", "FALSE", "False":
	default:
		return fmt.Errorf("%q is not a boolean", s)
	}
	b.set(v)
	return nil
}

// RingSize is the default ring per socket in MiB: a sixteenth of physical
// memory shared by all sockets, 16..512 MiB each. At 10 GbE line
// rate with 1518-byte frames (1.25 GB/s) 256 MiB absorbs ~200 ms of a stalled
// worker.
func RingSize(totalMem uint64, sockets int) int {
	if sockets < 1 {
		sockets = 1
	}
	mb := int(totalMem / 16 / uint64(sockets) >> 20)
	return min(max(mb, minRingMB), maxRingMB)
}
