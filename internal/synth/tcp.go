package synth

import (
	"encoding/binary"
	"math/rand/v2"
	"net"
	"net/netip"
	"sort"

	"github.com/gopacket/gopacket/layers"
)

// actKind is one step of a TCP session's script.
type actKind uint8

const (
	actOpen  actKind = iota // SYN, SYN-ACK, ACK
	actSend                 // n bytes from one side, segmented, ACKed by the other
	actClose                // FIN from one side, FIN from the other, last ACK
	actReset                // RST from one side
)

// act is one script step; delay is the pause after the previous packet.
type act struct {
	kind       actKind
	fromClient bool
	n          int
	head       []byte // first bytes of the data (HTTP text, TLS header)
	delay      int64
	mark       func(w *world) // called when the act's first packet is written
	hello      bool           // the data is a TLS ClientHello naming the conn's SNI
}

// pkt is one expanded segment waiting to be written.
type pkt struct {
	at         int64
	fromClient bool
	flags      uint16
	n          int
	head       []byte
	mark       func(w *world)
	hello      bool
	retrans    bool // a retransmission of the previous segment
}

// tcpConn is a TCP session from an internal host to a peer. It expands its
// script lazily, a chunk of segments at a time, so long bulk flows cost no
// memory up front.
type tcpConn struct {
	h            *host
	p            peer
	src          netip.Addr       // h's address when the session opened
	srcMAC       net.HardwareAddr // and the interface it left by
	rng          *rand.Rand
	cport, sport uint16
	cnext, snext uint32
	ecn, ts      bool
	ecnSYN       bool // the client's SYN asks for ECN
	drawAtSYN    bool
	cliTS, srvTS uint32
	lastCli      uint32
	lastSrv      uint32
	cliID, srvID uint16
	mss          int
	synMSS       uint16
	flow         uint32 // IPv6 flow labels
	srvFlow      uint32
	gap          int64 // server pacing per full segment
	t0           int64
	acts         []act
	ai           int
	pend         []pkt
	pi           int
	onFirst      func(w *world)
	sni          string // server name the client's TLS hello carries
	synLoss      bool   // the first SYN is lost and retransmitted
	payBuf       []byte
	optBuf       []layers.TCPOption
	tsBuf        [10]byte
	sent         int
}

// newConn prepares a session from h to p:port. Callers append acts and
// schedule it with w.at.
func newConn(w *world, h *host, p peer, port uint16) *tcpConn {
	// A host that is re-addressed (DHCP, IPv6 temporary addresses, a dock)
	// keeps the session on the address it opened from, as a real stack does.
	c := &tcpConn{h: h, p: p, src: h.addrFor(&p), srcMAC: h.mac, rng: h.rng, cport: h.ephemeral(), sport: port}
	c.cnext = c.rng.Uint32()
	c.snext = c.rng.Uint32()
	c.srvTS = c.rng.Uint32()
	c.cliTS = c.rng.Uint32()
	c.cliID = uint16(c.rng.Uint32())
	c.srvID = uint16(c.rng.Uint32())
	// ECN: Darwin asks for it (ECE|CWR on the SYN) on most connections; it is
	// negotiated only with servers that accept it. The decision comes from
	// the host's own ECN stream; the two draws from c.rng below and in syn
	// are kept whatever ECN decides, so a seed's session timing and sizes
	// do not depend on ECN.
	c.drawAtSYN = !(h.os.apple() && c.rng.Float64() < h.ecnProb && p.stack == stackLinux && p.mac == nil)
	c.ecnSYN = h.os.apple() && h.ecnRng.Float64() < h.ecnProb
	c.ecn = c.ecnSYN && p.stack == stackLinux && p.mac == nil
	c.ts = h.os != osWindows
	c.mss = 1460
	if p.stack == stackCDN {
		c.mss = 1400
	}
	c.synMSS = 1460
	if p.ip.Is6() {
		c.mss, c.synMSS = 1440, 1440
		c.flow = c.rng.Uint32() & 0xfffff
		c.srvFlow = c.rng.Uint32() & 0xfffff
	}
	if c.ts {
		c.mss -= 12
	}
	// 20-200 Mbit/s from the server: time to send one full segment.
	mbps := 20 + c.rng.Int64N(180)
	c.gap = int64(c.mss+66) * 8 * 1000 / mbps
	c.synLoss = w.lossy && c.rng.IntN(40) == 0
	c.payBuf = make([]byte, 0, 1500)
	c.optBuf = make([]layers.TCPOption, 0, 8)
	return c
}

func (c *tcpConn) open(delay int64) *tcpConn {
	c.acts = append(c.acts, act{kind: actOpen, fromClient: true, delay: delay})
	return c
}

func (c *tcpConn) send(fromClient bool, n int, head []byte, delay int64) *tcpConn {
	if n < len(head) {
		n = len(head)
	}
	if n > 0 {
		c.acts = append(c.acts, act{kind: actSend, fromClient: fromClient, n: n, head: head, delay: delay})
	}
	return c
}

func (c *tcpConn) close(fromClient bool, delay int64) *tcpConn {
	c.acts = append(c.acts, act{kind: actClose, fromClient: fromClient, delay: delay})
	return c
}

func (c *tcpConn) reset(fromClient bool, delay int64) *tcpConn {
	c.acts = append(c.acts, act{kind: actReset, fromClient: fromClient, delay: delay})
	return c
}

// exchange appends a request/response round trip (TLS-looking unless heads
// are given): out bytes from the client, then in bytes after one RTT plus think.
func (c *tcpConn) exchange(out, in int, reqHead, respHead []byte, think int64) *tcpConn {
	c.send(true, out, reqHead, 200*us+c.rng.Int64N(2*ms))
	c.send(false, in, respHead, c.p.rtt+think)
	return c
}

func (c *tcpConn) step(w *world) (int64, bool) {
	if c.pi >= len(c.pend) {
		if !c.expand(w.now) {
			return 0, false
		}
		if c.pend[0].at > w.now {
			return c.pend[0].at, true
		}
	}
	k := &c.pend[c.pi]
	c.pi++
	c.emit(w, k)
	if c.pi < len(c.pend) {
		return c.pend[c.pi].at, true
	}
	if !c.expand(w.now) {
		return 0, false
	}
	return c.pend[0].at, true
}

// expand fills pend with the next chunk of the script, starting after cur.
func (c *tcpConn) expand(cur int64) bool {
	c.pend = c.pend[:0]
	c.pi = 0
	for c.ai < len(c.acts) && len(c.pend) == 0 {
		a := &c.acts[c.ai]
		t := cur + a.delay
		switch a.kind {
		case actOpen:
			c.pend = append(c.pend, pkt{at: t, fromClient: true, flags: fSYN})
			if c.synLoss {
				// the first SYN is lost: the stack retransmits it after its
				// initial RTO of 1 s (same sequence number, no ECN setup)
				t += sec
				c.pend = append(c.pend, pkt{at: t, fromClient: true, flags: fSYN, retrans: true})
			}
			c.pend = append(c.pend,
				pkt{at: t + c.p.rtt, flags: fSYN | fACK},
				pkt{at: t + c.p.rtt + 40*us + c.rng.Int64N(80*us), fromClient: true, flags: fACK})
			c.ai++
		case actSend:
			c.expandSend(a, t)
			if a.n == 0 {
				c.ai++
			} else {
				a.delay = 0
				a.head = nil
			}
		case actClose:
			back := 30*us + c.rng.Int64N(100*us)
			if a.fromClient {
				back = c.p.rtt
			}
			c.pend = append(c.pend,
				pkt{at: t, fromClient: a.fromClient, flags: fFIN | fACK},
				pkt{at: t + back, fromClient: !a.fromClient, flags: fFIN | fACK},
				pkt{at: t + back + 30*us + c.rng.Int64N(200*us), fromClient: a.fromClient, flags: fACK})
			c.ai++
		case actReset:
			c.pend = append(c.pend, pkt{at: t, fromClient: a.fromClient, flags: fRST | fACK})
			c.ai++
		}
	}
	if len(c.pend) == 0 {
		return false
	}
	sort.SliceStable(c.pend, func(i, j int) bool { return c.pend[i].at < c.pend[j].at })
	return true
}

// expandSend segments up to 64 segments of a, with the receiver ACKing every
// second segment (delayed ACK) and the last one.
func (c *tcpConn) expandSend(a *act, t int64) {
	gap := c.gap
	ackDelay := 30*us + c.rng.Int64N(60*us) // client is near the sensor
	if a.fromClient {
		gap = c.gap / 4 // the LAN side is fast
		ackDelay = c.p.rtt / 2
	}
	for seg := 0; seg < 64 && a.n > 0; seg++ {
		n := min(a.n, c.mss)
		a.n -= n
		fl := uint16(fACK)
		if a.n == 0 {
			fl |= fPSH
		}
		var head []byte
		if seg == 0 {
			head = a.head
		}
		var mark func(*world)
		if seg == 0 {
			mark, a.mark = a.mark, nil
		}
		c.pend = append(c.pend, pkt{at: t, fromClient: a.fromClient, flags: fl, n: n, head: head, mark: mark, hello: seg == 0 && a.hello && a.n == 0})
		if seg%2 == 1 || a.n == 0 {
			c.pend = append(c.pend, pkt{at: t + ackDelay, fromClient: !a.fromClient, flags: fACK})
		}
		t += gap * int64(n) / int64(c.mss)
		if n < c.mss && a.n > 0 {
			t += 10 * us
		}
	}
}

func (c *tcpConn) emit(w *world, k *pkt) {
	if c.sent == 0 {
		c.t0 = w.now
		if c.onFirst != nil {
			c.onFirst(w)
		}
	}
	c.sent++
	if k.mark != nil {
		k.mark(w)
	}
	var hd ipHdr
	var s tcpSeg
	s.flags = k.flags
	el := uint32((w.now - c.t0) / ms)
	if k.fromClient {
		tos := uint8(0)
		if c.ecn && k.n > 0 {
			tos = 2 // ECT(0) on data segments once ECN is negotiated
		}
		hd = c.h.clientHdr(&c.p, true, tos)
		hd.src, hd.srcMAC = c.src, c.srcMAC
		hd.flow = c.flow
		if c.h.os == osLinux {
			c.cliID++
			hd.id = c.cliID
		}
		s.sport, s.dport = c.cport, c.sport
		s.seq, s.ack = c.cnext, c.snext
		c.lastCli = c.cliTS + el
		if k.flags&fSYN != 0 {
			s.ack = 0
			c.syn(&s)
			if k.retrans {
				s.seq = c.cnext - 1
				s.flags &^= fECE | fCWR
				c.cnext--
			}
		} else {
			s.win = c.cliWin()
			c.tsOpt(&s, c.lastCli, c.lastSrv)
		}
		s.payload = c.payload(w, k)
		c.cnext += uint32(len(s.payload))
		if k.flags&(fSYN|fFIN) != 0 {
			c.cnext++
		}
	} else {
		hd = c.h.hdrFrom(&c.p)
		hd.dst, hd.dstMAC = c.src, c.srcMAC
		hd.df = true
		hd.flow = c.srvFlow
		if c.ecn && k.n > 0 {
			hd.tos = 2
		}
		if k.flags&fSYN == 0 {
			c.srvID++
			hd.id = c.srvID
		}
		s.sport, s.dport = c.sport, c.cport
		s.seq, s.ack = c.snext, c.cnext
		c.lastSrv = c.srvTS + el
		if k.flags&fSYN != 0 {
			c.synAck(&s)
		} else {
			s.win = c.srvWin()
			c.tsOpt(&s, c.lastSrv, c.lastCli)
		}
		s.payload = c.payload(w, k)
		c.snext += uint32(len(s.payload))
		if k.flags&(fSYN|fFIN) != 0 {
			c.snext++
		}
	}
	w.sendTCP(&hd, &s)
}

func (c *tcpConn) payload(w *world, k *pkt) []byte {
	if k.n == 0 {
		return nil
	}
	if k.hello {
		// one draw from c.rng, as for random data of the same length
		rnd := w.randBytes(c.rng, k.n-len(k.head))
		if ch := clientHello(k.n, c.sni, rnd, c.h.helloFlavor()); ch != nil {
			return ch
		}
		c.payBuf = append(c.payBuf[:0], k.head...)
		return append(c.payBuf, rnd...)
	}
	if len(k.head) >= k.n {
		return k.head[:k.n]
	}
	if len(k.head) == 0 {
		return w.randBytes(c.rng, k.n)
	}
	c.payBuf = append(c.payBuf[:0], k.head...)
	return append(c.payBuf, w.randBytes(c.rng, k.n-len(k.head))...)
}

func (c *tcpConn) cliWin() uint16 {
	switch c.h.os {
	case osWindows:
		return uint16(1020 + c.rng.IntN(8))
	case osLinux:
		return uint16(498 + c.rng.IntN(6))
	}
	return uint16(2040 + c.rng.IntN(12))
}

func (c *tcpConn) srvWin() uint16 {
	switch c.p.stack {
	case stackWindows:
		return uint16(1024 + c.rng.IntN(4))
	case stackCDN:
		return uint16(60 + c.rng.IntN(8))
	}
	return uint16(500 + c.rng.IntN(3))
}

func (c *tcpConn) tsOpt(s *tcpSeg, val, ecr uint32) {
	if !c.ts {
		return
	}
	c.optBuf = append(c.optBuf[:0], nop, nop, c.tsData(val, ecr))
	s.opts = c.optBuf
}

var (
	nop    = layers.TCPOption{OptionType: layers.TCPOptionKindNop}
	eol    = layers.TCPOption{OptionType: layers.TCPOptionKindEndList}
	sackOK = layers.TCPOption{OptionType: layers.TCPOptionKindSACKPermitted, OptionData: []byte{}}
)

func mssOpt(v uint16) layers.TCPOption {
	return layers.TCPOption{OptionType: layers.TCPOptionKindMSS, OptionData: []byte{byte(v >> 8), byte(v)}}
}

func wsOpt(v byte) layers.TCPOption {
	return layers.TCPOption{OptionType: layers.TCPOptionKindWindowScale, OptionData: []byte{v}}
}

func (c *tcpConn) tsData(val, ecr uint32) layers.TCPOption {
	binary.BigEndian.PutUint32(c.tsBuf[0:], val)
	binary.BigEndian.PutUint32(c.tsBuf[4:], ecr)
	return layers.TCPOption{OptionType: layers.TCPOptionKindTimestamps, OptionData: c.tsBuf[:8]}
}

// syn shapes the client SYN exactly like the host's real stack.
func (c *tcpConn) syn(s *tcpSeg) {
	o := c.optBuf[:0]
	switch c.h.os {
	case osMacOS, osIOS:
		// win 65535, mss 1460,nop,ws 6,nop,nop,ts,sackOK,eol; ECN setup often
		s.win = 65535
		o = append(o, mssOpt(c.synMSS), nop, wsOpt(6), nop, nop, c.tsData(c.lastCli, 0), sackOK, eol)
		if c.drawAtSYN {
			c.rng.Float64()
		}
		if c.ecnSYN {
			s.flags |= fECE | fCWR
		}
	case osWindows:
		// win 64240 (65535 or 8192 on some builds), mss,nop,ws 8,nop,nop,sackOK
		s.win = 64240
		switch {
		case c.h.winVar == 0:
			s.win = 8192
		case c.h.winVar < 3:
			s.win = 65535
		}
		o = append(o, mssOpt(c.synMSS), nop, wsOpt(8), nop, nop, sackOK)
	case osLinux:
		// win 64240, mss,sackOK,ts,nop,ws 7
		s.win = 64240
		o = append(o, mssOpt(c.synMSS), sackOK, c.tsData(c.lastCli, 0), nop, wsOpt(7))
	}
	c.optBuf = o
	s.opts = o
}

// synAck shapes the server's reply by its stack, echoing what the client offered.
func (c *tcpConn) synAck(s *tcpSeg) {
	o := c.optBuf[:0]
	if c.ecn {
		s.flags |= fECE
	}
	switch c.p.stack {
	case stackLinux:
		s.win = 65160
		if c.ts {
			o = append(o, mssOpt(c.synMSS), sackOK, c.tsData(c.lastSrv, c.lastCli), nop, wsOpt(7))
		} else {
			o = append(o, mssOpt(c.synMSS), nop, nop, sackOK, nop, wsOpt(7))
		}
	case stackCDN:
		s.win = 65535
		if c.ts {
			o = append(o, mssOpt(1400), sackOK, c.tsData(c.lastSrv, c.lastCli), nop, wsOpt(10))
		} else {
			o = append(o, mssOpt(1400), nop, nop, sackOK, nop, wsOpt(10))
		}
	case stackWindows:
		s.win = 65535
		o = append(o, mssOpt(c.synMSS), nop, wsOpt(8), sackOK)
		if c.ts {
			o = append(o, c.tsData(c.lastSrv, c.lastCli))
		}
	}
	c.optBuf = o
	s.opts = o
}
