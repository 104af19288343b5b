package live

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf/link"
	"github.com/gopacket/gopacket/afpacket"
	"github.com/launchtap/launchtap/bpf"
	"github.com/launchtap/launchtap/sensor/capture"
	"golang.org/x/sys/unix"
)

// pollInterval bounds how long Next waits before it notices Stop.
const pollInterval = 100 * time.Millisecond

// idlePolls empty polls (about a second) make Next return capture.ErrIdle.
const idlePolls = int(time.Second / pollInterval)

// drainFor bounds how long Next keeps delivering what is left in the rings
// after Stop: a sender that does not stop would otherwise keep it going.
// What is still in the rings then is counted as undelivered (Stats).
const drainFor = time.Second

// drainBlockWait is how long the drain waits, once, for the kernel to retire
// a partly filled block: more than the largest usual --block-timeout.
const drainBlockWait = 100 * time.Millisecond

// Capture is a running live capture: one Source per worker.
type Capture struct {
	log     *slog.Logger
	cfg     Config
	objs    *bpf.Objects // nil without eBPF
	sources []*source
	xdp     []link.Link // XDP pre-filters attached, one per interface in XDP mode

	closeOnce sync.Once
	closeErr  error
	closed    bool            // guarded by statsMu: Stats returns final
	final     bpf.FilterStats // the filter's counters read at Close

	statsMu sync.Mutex
	last    []afpacket.SocketStatsV3 // per socket, to turn gopacket's uint32 totals into deltas
	acc     []SocketStats
}

type sock struct {
	tp     *afpacket.TPacket
	fd     int
	iface  int // index in Config.Interfaces
	link   capture.LinkType
	global int // index in Capture.acc
}

// source is one worker's view: one socket per interface.
type source struct {
	socks       []sock
	pfds        []unix.PollFd
	next        int // round-robin position
	stop        atomic.Bool
	busy        atomic.Bool // inside Next: Close waits for it to leave
	delivered   atomic.Uint64
	drainEnd    time.Time // set by Next when it first sees stop
	drainWaited bool      // drain waited once for a partly filled block

	mu     sync.Mutex // guards closed against Stats reading the sockets
	closed bool
}

// Open opens Workers sockets on every interface, joins each interface's
// sockets in a fanout group steered by internal host, attaches the pre-filter
// when cfg.BPF, and returns the running capture. Frames flow as soon as it
// returns; read them from Sources.
func Open(cfg Config, log *slog.Logger) (*Capture, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "capture")
	if len(cfg.Interfaces) == 0 {
		return nil, errors.New("live: no interface given (-i IFACE)")
	}
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	c := &Capture{log: log, cfg: cfg}

	if cfg.BPF || cfg.Workers > 1 {
		objs, err := bpf.Load(bpf.Options{
			SampleInterval: cfg.SampleInterval,
			UDPIdle:        cfg.UDPIdle,
			BurstGap:       cfg.BurstGap,
			MinBurstLen:    cfg.MinBurstLen,
			FlowEntries:    cfg.FlowEntries,
			Internal:       cfg.Internal,
		})
		if err != nil {
			if cfg.Workers > 1 {
				log.Warn("eBPF unavailable: capturing with one worker, without the pre-filter, so that each host's packets stay on one worker", "err", err)
			} else {
				log.Warn("eBPF unavailable: capturing without the pre-filter", "err", err)
			}
			cfg.Workers, cfg.BPF = 1, false
			c.cfg = cfg
		} else {
			c.objs = objs
		}
	}

	for w := 0; w < cfg.Workers; w++ {
		c.sources = append(c.sources, &source{})
	}
	base := cfg.FanoutGroup
	if base == 0 {
		base = uint16(os.Getpid()*31) | 1
	}
	for i, name := range cfg.Interfaces {
		if err := c.openIface(i, name, base+uint16(i)); err != nil {
			c.Close()
			return nil, err
		}
	}
	for _, s := range c.sources {
		for _, sk := range s.socks {
			s.pfds = append(s.pfds, unix.PollFd{Fd: int32(sk.fd), Events: unix.POLLIN})
		}
	}
	c.last = make([]afpacket.SocketStatsV3, len(c.acc))
	log.Info("capturing", "interfaces", strings.Join(cfg.Interfaces, ","), "workers", cfg.Workers,
		"ring_mb", cfg.RingMB, "block_size", cfg.BlockSize, "block_timeout", cfg.BlockTimeout,
		"bpf_filter", c.cfg.BPF, "xdp", len(c.xdp) > 0, "promisc", cfg.Promisc)
	return c, nil
}

// fill applies defaults and checks sizes.
func (cfg *Config) fill() error {
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.NumCPU()
	}
	if cfg.Workers > 256 {
		return fmt.Errorf("live: %d workers: at most 256", cfg.Workers)
	}
	if cfg.BlockSize == 0 {
		cfg.BlockSize = DefaultBlockSize
	}
	if cfg.FrameSize == 0 {
		cfg.FrameSize = DefaultFrameSize
	}
	if cfg.BlockTimeout == 0 {
		cfg.BlockTimeout = DefaultBlockTimeout
	}
	page := os.Getpagesize()
	if cfg.BlockSize <= 0 || cfg.BlockSize%page != 0 {
		return fmt.Errorf("live: block size %d: want a positive multiple of the page size %d", cfg.BlockSize, page)
	}
	if cfg.FrameSize < 128 || cfg.BlockSize%cfg.FrameSize != 0 {
		return fmt.Errorf("live: frame size %d: want at least 128 and a divisor of the block size %d", cfg.FrameSize, cfg.BlockSize)
	}
	if cfg.BlockTimeout < time.Millisecond {
		return fmt.Errorf("live: block timeout %v: want at least 1ms", cfg.BlockTimeout)
	}
	if cfg.RingMB == 0 {
		var si unix.Sysinfo_t
		total := uint64(1 << 30)
		if unix.Sysinfo(&si) == nil {
			total = uint64(si.Totalram) * uint64(si.Unit)
		}
		cfg.RingMB = RingSize(total, cfg.Workers*len(cfg.Interfaces))
	}
	if cfg.RingMB < 1 || cfg.RingMB<<20 < cfg.BlockSize {
		return fmt.Errorf("live: ring of %d MiB: want at least one block (%d bytes)", cfg.RingMB, cfg.BlockSize)
	}
	return nil
}

func (c *Capture) openIface(idx int, name string, group uint16) error {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return fmt.Errorf("live: interface %s: %w", name, err)
	}
	if ifi.Flags&net.FlagUp == 0 {
		c.log.Warn("interface is down: no packets until it is up", "iface", name)
	}
	lt := linkType(name)
	warnOffloads(c.log, name)
	sockFilter := c.cfg.BPF
	if c.cfg.BPF && c.cfg.XDP {
		if err := c.attachXDP(ifi); err != nil {
			c.log.Warn("XDP pre-filter unavailable: using the socket filter", "iface", name, "err", err)
		} else {
			sockFilter = false
			c.log.Info("XDP pre-filter attached: counted packets are dropped for the whole host", "iface", name)
		}
	}

	for w, s := range c.sources {
		tp, err := afpacket.NewTPacket(
			afpacket.OptInterface(name),
			afpacket.TPacketVersion3,
			afpacket.OptBlockSize(c.cfg.BlockSize),
			afpacket.OptFrameSize(c.cfg.FrameSize),
			afpacket.OptNumBlocks(c.cfg.RingMB<<20/c.cfg.BlockSize),
			afpacket.OptBlockTimeout(c.cfg.BlockTimeout),
			afpacket.OptPollTimeout(0), // Next polls all of a worker's sockets itself
			afpacket.OptAddVLANHeader(true),
		)
		if err != nil {
			return fmt.Errorf("live: opening AF_PACKET socket %d on %s: %w", w, name, err)
		}
		fd, err := socketFD(tp)
		if err != nil {
			tp.Close()
			return err
		}
		s.socks = append(s.socks, sock{tp: tp, fd: fd, iface: idx, link: lt, global: len(c.acc)})
		c.acc = append(c.acc, SocketStats{Iface: name, Worker: w})

		if sockFilter {
			if err := tp.SetEBPF(int32(c.objs.Filter().FD())); err != nil {
				return fmt.Errorf("live: attaching the pre-filter on %s: %w", name, err)
			}
		}
		if len(c.sources) > 1 {
			// Joining in worker order makes socket w the kernel's fanout index w.
			if err := tp.SetFanout(afpacket.FanoutEBPF, group); err != nil {
				return fmt.Errorf("live: joining fanout group %d on %s (another process using the id? set --fanout-group): %w", group, name, err)
			}
			if w == 0 {
				if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT_DATA, c.objs.Fanout().FD()); err != nil {
					return fmt.Errorf("live: attaching the fanout program on %s: %w", name, err)
				}
			}
		}
		if c.cfg.Promisc {
			if err := tp.SetPromiscuous(true); err != nil {
				return fmt.Errorf("live: promiscuous mode on %s: %w", name, err)
			}
		}
	}
	return nil
}

// attachXDP attaches the XDP pre-filter to ifi (driver mode where the driver
// has it, generic otherwise).
func (c *Capture) attachXDP(ifi *net.Interface) error {
	prog, err := c.objs.XDP()
	if err != nil {
		return err
	}
	l, err := link.AttachXDP(link.XDPOptions{Program: prog, Interface: ifi.Index})
	if err != nil {
		return fmt.Errorf("live: attaching XDP to %s: %w", ifi.Name, err)
	}
	c.xdp = append(c.xdp, l)
	return nil
}

// socketFD reads the descriptor afpacket keeps unexported; fanout data and
// polling several rings need it. It checks that it really is a packet socket.
func socketFD(tp *afpacket.TPacket) (int, error) {
	v := reflect.ValueOf(tp).Elem().FieldByName("fd")
	if !v.IsValid() || v.Kind() != reflect.Int {
		return -1, errors.New("live: afpacket.TPacket has no fd field (gopacket changed): update socketFD")
	}
	fd := int(v.Int())
	dom, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil || dom != unix.AF_PACKET {
		return -1, fmt.Errorf("live: afpacket descriptor %d is not an AF_PACKET socket (domain %d): %v", fd, dom, err)
	}
	return fd, nil
}

// linkType maps the interface's ARPHRD type to the frames' link type.
func linkType(name string) capture.LinkType {
	b, err := os.ReadFile("/sys/class/net/" + name + "/type")
	if err != nil {
		return capture.LinkEthernet
	}
	switch t, _ := strconv.Atoi(strings.TrimSpace(string(b))); t {
	case unix.ARPHRD_NONE, unix.ARPHRD_IPGRE, unix.ARPHRD_TUNNEL, unix.ARPHRD_TUNNEL6:
		return capture.LinkRaw // tun and IP tunnels: frames start with the IP header
	default:
		return capture.LinkEthernet // Ethernet, loopback, veth, bridges, bonds, VLANs
	}
}

// Sources returns one capture.Source per worker. Each must be read by one
// goroutine; a worker sees every packet of the internal hosts steered to it.
func (c *Capture) Sources() []capture.Source {
	out := make([]capture.Source, len(c.sources))
	for i, s := range c.sources {
		out[i] = s
	}
	return out
}

// Workers is the number of sources (fewer than asked for when eBPF is unavailable).
func (c *Capture) Workers() int { return len(c.sources) }

// Flows returns the pre-filter's per-flow counters, nil when it is not attached.
func (c *Capture) Flows() *bpf.FlowCounters {
	if c.objs == nil || !c.cfg.BPF {
		return nil
	}
	return c.objs.Flows
}

// Hosts is the fanout program's hosts map, through which the workers'
// binders tell the kernel which host an address or MAC belongs to; nil when
// the capture does not steer with eBPF (one worker).
func (c *Capture) Hosts() *bpf.Hosts {
	if c.objs == nil || len(c.sources) < 2 {
		return nil
	}
	return c.objs.Hosts()
}

// Stop makes every source's Next return io.EOF within ~100 ms. It is safe from
// any goroutine (a signal handler's).
func (c *Capture) Stop() {
	for _, s := range c.sources {
		s.stop.Store(true)
	}
}

// Close stops the sources, waits for readers to leave Next, and releases the
// sockets, XDP attachments and eBPF objects. Read Stats before Close for the
// final counts. Calling it again returns the first call's result.
func (c *Capture) Close() error {
	c.closeOnce.Do(func() {
		c.Stop()
		// The last reading of every counter, so that Stats after Close is final.
		_, statsErr := c.Stats()
		var errs []error
		errs = append(errs, statsErr)
		for _, s := range c.sources {
			errs = append(errs, s.Close())
		}
		for _, l := range c.xdp {
			errs = append(errs, l.Close())
		}
		c.statsMu.Lock()
		c.closed = true
		if c.objs != nil {
			errs = append(errs, c.objs.Close())
		}
		c.statsMu.Unlock()
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}

// Stats reads the kernel counters of every socket (which resets them in the
// kernel; Capture keeps the totals) and the pre-filter's counters. After
// Close it returns the totals read at Close.
func (c *Capture) Stats() (Stats, error) {
	c.statsMu.Lock()
	defer c.statsMu.Unlock()
	var st Stats
	var errs []error
	for _, s := range c.sources {
		st.Delivered += s.delivered.Load()
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			continue
		}
		for _, sk := range s.socks {
			_, v3, err := sk.tp.SocketStats()
			if err != nil {
				errs = append(errs, fmt.Errorf("live: reading socket stats: %w", err))
				continue
			}
			a, l := &c.acc[sk.global], &c.last[sk.global]
			// gopacket keeps uint32 running totals; uint32 subtraction handles wrap.
			a.Packets += uint64(uint32(v3.Packets()) - uint32(l.Packets()))
			a.Drops += uint64(uint32(v3.Drops()) - uint32(l.Drops()))
			a.Freezes += uint64(uint32(v3.QueueFreezes()) - uint32(l.QueueFreezes()))
			*l = v3
		}
		s.mu.Unlock()
	}
	st.Sockets = append([]SocketStats(nil), c.acc...)
	for _, a := range c.acc {
		st.Packets += a.Packets
		st.Drops += a.Drops
		st.Freezes += a.Freezes
	}
	if c.objs != nil && c.cfg.BPF {
		if !c.closed {
			fs, err := c.objs.Stats()
			if err != nil {
				errs = append(errs, err)
			} else {
				c.final = fs
			}
		}
		st.Filter, st.FilterOn = c.final, true
	}
	st.account()
	return st, errors.Join(errs...)
}

// Next delivers the next frame from any of the worker's sockets. Data aliases
// the ring and is valid until the next call. After Stop it delivers what the
// rings still hold (for up to drainFor) and then returns io.EOF, so that a
// stop loses nothing the kernel had already queued.
func (s *source) Next(f *capture.Frame) error {
	s.busy.Store(true)
	defer s.busy.Store(false)
	for polls := 0; ; polls++ {
		if s.stop.Load() {
			return s.drain(f)
		}
		if polls == idlePolls {
			return capture.ErrIdle
		}
		if ok, err := s.readOne(f); ok || err != nil {
			return err
		}
		if _, err := unix.Poll(s.pfds, int(pollInterval/time.Millisecond)); err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("live: poll: %w", err)
		}
	}
}

// readOne reads a frame from the first of the worker's rings, round robin,
// that has one: ok false and no error when every ring is empty now.
func (s *source) readOne(f *capture.Frame) (ok bool, err error) {
	n := len(s.socks)
	for range n {
		i := s.next
		if s.next++; s.next == n {
			s.next = 0
		}
		sk := &s.socks[i]
		data, ci, err := sk.tp.ZeroCopyReadPacketData()
		if err == nil {
			f.Data = data
			f.TS = ci.Timestamp.UnixNano()
			f.WireLen = uint32(ci.Length)
			f.LinkType = sk.link
			f.Iface = sk.iface
			s.delivered.Add(1)
			return true, nil
		}
		if !errors.Is(err, afpacket.ErrTimeout) {
			return false, fmt.Errorf("live: reading socket %d of worker: %w", i, err)
		}
	}
	return false, nil
}

// drain delivers a frame left in any ring after Stop, or returns io.EOF
// when every ring is empty or drainFor has passed. The sockets poll with a
// zero timeout, so an empty ring answers at once.
func (s *source) drain(f *capture.Frame) error {
	now := time.Now()
	if s.drainEnd.IsZero() {
		s.drainEnd = now.Add(drainFor)
	}
	if now.After(s.drainEnd) {
		return io.EOF
	}
	for pass := 0; pass < 2; pass++ {
		if ok, err := s.readOne(f); ok {
			return nil
		} else if err != nil {
			return io.EOF // a socket failing while stopping: nothing more to drain
		}
		if pass == 0 && !s.drainWaited {
			// The block the kernel was filling reaches user space only when
			// it is full or its timeout passes: wait for that once.
			s.drainWaited = true
			if _, err := unix.Poll(s.pfds, int(drainBlockWait/time.Millisecond)); err != nil && !errors.Is(err, unix.EINTR) {
				return io.EOF
			}
			continue
		}
		break
	}
	return io.EOF
}

// Close stops the source and closes its sockets once no goroutine is in Next.
func (s *source) Close() error {
	s.stop.Store(true)
	deadline := time.Now().Add(drainFor + 2*pollInterval)
	for s.busy.Load() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if s.busy.Load() {
		return errors.New("live: source still being read after Stop; not closing its sockets")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		for _, sk := range s.socks {
			sk.tp.Close()
		}
	}
	return nil
}
