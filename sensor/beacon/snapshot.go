package beacon

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"time"

	"github.com/launchtap/launchtap/sensor/host"
)

// PairState is one pair's durable state: its beat history and what it last
// alerted. A sensor writes it out at a checkpoint and reads it back at start,
// so a pair keeps counting beats across a restart and does not alert again
// what it already alerted.
type PairState struct {
	Key     PairKey
	First   int64   // first beat ever, Unix ns
	Beats   uint32  // beats ever
	Alerted float32 // period of the last alert, seconds; 0 = never alerted
	AlertAt uint32  // beats when it was last alerted
	Times   []int64 // retained beats, Unix ns (ms resolution), oldest first
	Out     []uint16
	In      []uint16 // log-encoded sizes per retained beat, 0 unknown
	DstIPs  []netip.Addr
}

// Last is the pair's latest beat.
func (s *PairState) Last() int64 {
	if len(s.Times) == 0 {
		return s.First
	}
	return s.Times[len(s.Times)-1]
}

// Export calls fn with the state of every tracked pair whose latest beat is
// at or after since (capture time, Unix ns), least recently beaten first. It
// runs in the detector's goroutine; fn may keep st (it is not reused).
func (d *Detector) Export(since int64, fn func(st *PairState)) {
	for _, p := range d.lru.Values() { // oldest first; no lookups by key
		if p.lastBeat() >= since {
			fn(p.state())
		}
	}
}

func (p *pair) state() *PairState {
	s := &PairState{Key: p.key, First: p.first, Beats: p.beats, Alerted: p.alerted, AlertAt: p.alertAt}
	h := p.hist
	if h == nil {
		s.Times, s.Out, s.In = []int64{p.first}, []uint16{p.out0}, []uint16{p.in0}
		return s
	}
	n := int(h.n)
	s.Times, s.Out, s.In = make([]int64, n), make([]uint16, n), make([]uint16, n)
	for i := 0; i < n; i++ {
		j := h.at(i)
		s.Times[i] = p.base + int64(h.t[j])*int64(time.Millisecond)
		s.Out[i], s.In[i] = h.out[j], h.in[j]
	}
	s.DstIPs = append([]netip.Addr(nil), h.dst[:h.ndst]...)
	return s
}

// Import restores a pair exported by Export (possibly by another process)
// as the most recently beaten pair. A pair already tracked is replaced.
func (d *Detector) Import(s *PairState) error {
	if err := s.check(); err != nil {
		return err
	}
	p := &pair{key: s.Key, first: s.First, base: s.First, beats: s.Beats, alerted: s.Alerted, alertAt: s.AlertAt}
	if len(s.Times) == 1 && len(s.DstIPs) == 0 && s.Beats <= 1 {
		p.out0, p.in0 = s.Out[0], s.In[0]
	} else {
		h := &history{}
		p.base = s.Times[0]
		for i, t := range s.Times {
			h.push(uint32((t - p.base) / int64(time.Millisecond)))
			j := h.at(int(h.n) - 1)
			h.out[j], h.in[j] = s.Out[i], s.In[i]
		}
		for _, a := range s.DstIPs {
			h.addDst(a)
		}
		p.hist = h
	}
	d.store(d.id(s.Key), p)
	return nil
}

// check rejects a state the detector could not have produced.
func (s *PairState) check() error {
	n := len(s.Times)
	switch {
	case n == 0 || n > HistoryLen:
		return fmt.Errorf("beacon: pair state: %d beats retained, want 1..%d", n, HistoryLen)
	case len(s.Out) != n || len(s.In) != n:
		return errors.New("beacon: pair state: sizes do not match the beats")
	case len(s.DstIPs) > maxDst:
		return fmt.Errorf("beacon: pair state: %d addresses, at most %d", len(s.DstIPs), maxDst)
	case s.Times[0] < s.First:
		return errors.New("beacon: pair state: a beat before the first")
	case s.Times[n-1]-s.Times[0] > maxOffset:
		return errors.New("beacon: pair state: history spans more than the detector keeps")
	case !s.Key.Host.IsValid():
		return errors.New("beacon: pair state: no source host")
	case math.IsNaN(float64(s.Alerted)) || s.Alerted < 0:
		return errors.New("beacon: pair state: bad alerted period")
	}
	for i := 1; i < n; i++ {
		if s.Times[i] < s.Times[i-1] {
			return errors.New("beacon: pair state: beats out of order")
		}
	}
	return nil
}

// stateVersion is the first byte of MarshalBinary's encoding.
const stateVersion = 1

// MarshalBinary encodes the state compactly (beats as millisecond deltas).
func (s *PairState) MarshalBinary() ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 64+len(s.Key.Dest)+8*len(s.Times))
	b = append(b, stateVersion)
	b = appendHost(b, s.Key.Host)
	b = binary.AppendUvarint(b, uint64(len(s.Key.Dest)))
	b = append(b, s.Key.Dest...)
	b = appendAddr(b, s.Key.DestIP)
	b = binary.BigEndian.AppendUint16(b, s.Key.Port)
	b = append(b, s.Key.Proto, byte(s.Key.Kind))
	b = binary.AppendVarint(b, s.First)
	b = binary.AppendUvarint(b, uint64(s.Beats))
	b = binary.BigEndian.AppendUint32(b, math.Float32bits(s.Alerted))
	b = binary.AppendUvarint(b, uint64(s.AlertAt))
	b = append(b, byte(len(s.Times)))
	prev := s.First
	for i, t := range s.Times {
		b = binary.AppendUvarint(b, uint64(t-prev))
		prev = t
		b = binary.BigEndian.AppendUint16(b, s.Out[i])
		b = binary.BigEndian.AppendUint16(b, s.In[i])
	}
	b = append(b, byte(len(s.DstIPs)))
	for _, a := range s.DstIPs {
		b = appendAddr(b, a)
	}
	return b, nil
}

// appendHost writes a host key as appendAddr writes an address, or, for a
// MAC-keyed host, the tag hostMAC and the six bytes: state written before
// hosts had MACs reads back unchanged.
func appendHost(b []byte, k host.Key) []byte {
	if k.IsMAC() {
		return append(append(b, hostMAC), k.MAC[:]...)
	}
	return appendAddr(b, k.Addr)
}

const hostMAC = 6

func appendAddr(b []byte, a netip.Addr) []byte {
	switch {
	case !a.IsValid():
		return append(b, 0)
	case a.Is4():
		v := a.As4()
		return append(append(b, 4), v[:]...)
	}
	v := a.As16()
	return append(append(b, 16), v[:]...)
}

// ErrBadState is returned (wrapped) by UnmarshalBinary for bytes it cannot use.
var ErrBadState = errors.New("beacon: bad pair state")

// UnmarshalBinary decodes what MarshalBinary wrote; bad bytes are an error
// wrapping ErrBadState, never a panic.
func (s *PairState) UnmarshalBinary(b []byte) error {
	r := reader{b: b}
	if v := r.byte(); v != stateVersion {
		return fmt.Errorf("%w: encoding version %d, want %d", ErrBadState, v, stateVersion)
	}
	*s = PairState{}
	s.Key.Host = r.host()
	if n := r.uvarint(); n <= 255 && r.ok(int(n)) {
		s.Key.Dest = string(r.b[:n])
		r.b = r.b[n:]
	} else {
		r.err = true
	}
	s.Key.DestIP = r.addr()
	s.Key.Port = uint16(r.byte())<<8 | uint16(r.byte())
	s.Key.Proto, s.Key.Kind = r.byte(), Kind(r.byte())
	s.First = r.varint()
	s.Beats = uint32(r.uvarint())
	s.Alerted = math.Float32frombits(uint32(r.u16())<<16 | uint32(r.u16()))
	s.AlertAt = uint32(r.uvarint())
	n := int(r.byte())
	if n > HistoryLen {
		r.err = true
		n = 0
	}
	prev := s.First
	for i := 0; i < n && !r.err; i++ {
		d := r.uvarint()
		if d > uint64(maxOffset) {
			r.err = true
			break
		}
		prev += int64(d)
		s.Times = append(s.Times, prev)
		s.Out = append(s.Out, r.u16())
		s.In = append(s.In, r.u16())
	}
	m := int(r.byte())
	for i := 0; i < m && i <= maxDst && !r.err; i++ {
		s.DstIPs = append(s.DstIPs, r.addr())
	}
	if r.err || len(r.b) != 0 {
		return fmt.Errorf("%w: truncated or trailing bytes", ErrBadState)
	}
	if err := s.check(); err != nil {
		return fmt.Errorf("%w: %v", ErrBadState, err)
	}
	return nil
}

// reader consumes bytes; any short read sets err and yields zeros.
type reader struct {
	b   []byte
	err bool
}

func (r *reader) ok(n int) bool {
	if r.err || n < 0 || len(r.b) < n {
		r.err = true
		return false
	}
	return true
}

func (r *reader) byte() byte {
	if !r.ok(1) {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) u16() uint16 { return uint16(r.byte())<<8 | uint16(r.byte()) }

func (r *reader) uvarint() uint64 {
	if r.err {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) addr() netip.Addr {
	switch n := r.byte(); n {
	case 0:
		return netip.Addr{}
	case 4, 16:
		if !r.ok(int(n)) {
			return netip.Addr{}
		}
		a, _ := netip.AddrFromSlice(r.b[:n])
		r.b = r.b[n:]
		return a
	}
	r.err = true
	return netip.Addr{}
}

func (r *reader) host() host.Key {
	if len(r.b) > 0 && r.b[0] == hostMAC {
		r.b = r.b[1:]
		if !r.ok(6) {
			return host.Key{}
		}
		m := [6]byte(r.b[:6])
		r.b = r.b[6:]
		if !host.UsableMAC(m) {
			r.err = true
		}
		return host.MACKey(m)
	}
	return host.AddrKey(r.addr())
}
