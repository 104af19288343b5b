package p0f

import (
	"strconv"
	"strings"

	"github.com/launchtap/launchtap/sensor/decode"
)

// Quirks is a bit set of p0f's IP/TCP quirks.
type Quirks uint32

// Quirk bits, named as in p0f.fp.
const (
	QDF       Quirks = 1 << iota // df: IPv4 don't-fragment set
	QIDPlus                      // id+: DF set but IP ID non-zero
	QIDMinus                     // id-: DF not set but IP ID zero
	QECN                         // ecn: ECN-capable (ECE/CWR in the SYN or ECT/CE in TOS)
	QZeroPlus                    // 0+: IPv4 reserved ("must be zero") flag set
	QFlow                        // flow: IPv6 flow label non-zero
	QSeqMinus                    // seq-: sequence number zero
	QAckPlus                     // ack+: ACK number non-zero without the ACK flag
	QAckMinus                    // ack-: ACK number zero with the ACK flag
	QUptrPlus                    // uptr+: urgent pointer non-zero without URG
	QUrgPlus                     // urgf+: URG flag set
	QPushPlus                    // pushf+: PSH flag set
	QTS1Minus                    // ts1-: own timestamp zero
	QTS2Plus                     // ts2+: peer timestamp non-zero in a SYN
	QOptPlus                     // opt+: non-zero bytes after EOL
	QExWS                        // exws: window scale above 14
	QBad                         // bad: malformed options
)

var quirkNames = []struct {
	name string
	bit  Quirks
}{
	{"df", QDF}, {"id+", QIDPlus}, {"id-", QIDMinus}, {"ecn", QECN}, {"0+", QZeroPlus},
	{"flow", QFlow}, {"seq-", QSeqMinus}, {"ack+", QAckPlus}, {"ack-", QAckMinus},
	{"uptr+", QUptrPlus}, {"urgf+", QUrgPlus}, {"pushf+", QPushPlus}, {"ts1-", QTS1Minus},
	{"ts2+", QTS2Plus}, {"opt+", QOptPlus}, {"exws", QExWS}, {"bad", QBad},
}

var quirkByName = func() map[string]Quirks {
	m := make(map[string]Quirks, len(quirkNames))
	for _, q := range quirkNames {
		m[q.name] = q.bit
	}
	return m
}()

// unobservable are quirks decode.Packet does not carry (flow label, the IPv4
// reserved bit, the urgent pointer). They are ignored on both sides when
// matching, so a signature that lists them still matches.
const unobservable = QFlow | QZeroPlus | QUptrPlus

// String renders the quirks in p0f syntax ("df,id+").
func (q Quirks) String() string {
	var b strings.Builder
	for _, n := range quirkNames {
		if q&n.bit != 0 {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(n.name)
		}
	}
	return b.String()
}

// SYN is the fingerprint of one observed TCP SYN, in p0f's terms.
type SYN struct {
	Ver    uint8 // 4 or 6
	TTL    uint8 // observed TTL / hop limit
	OLen   uint8 // IP options / extension header bytes
	MSS    int32 // 0 without an MSS option
	Win    uint16
	Scale  int16 // 0 without a window scale option
	Quirks Quirks
	PClass int8 // 0 no payload, 1 payload

	layout [maxOpts]byte
	nlay   uint8
	eolPad uint8
}

// FromPacket fills s from a decoded TCP segment. It reports false when p is
// not a SYN without ACK (the only segment [tcp:request] signatures describe).
// It does not allocate.
func FromPacket(p *decode.Packet, s *SYN) bool {
	if p.Proto != decode.ProtoTCP || p.TCPFlags&(decode.TCPSyn|decode.TCPAck|decode.TCPRst) != decode.TCPSyn {
		return false
	}
	*s = SYN{Ver: 4, TTL: p.TTL, OLen: p.IPOptLen, Win: p.Window}
	if p.IPv6 {
		s.Ver = 6
	} else {
		switch {
		case p.DF && p.IPID != 0:
			s.Quirks |= QDF | QIDPlus
		case p.DF:
			s.Quirks |= QDF
		case p.IPID == 0:
			s.Quirks |= QIDMinus
		}
	}
	if p.TOS&0x03 != 0 || p.TCPFlags&(decode.TCPEce|decode.TCPCwr) != 0 {
		s.Quirks |= QECN
	}
	if p.Seq == 0 {
		s.Quirks |= QSeqMinus
	}
	if p.Ack != 0 {
		s.Quirks |= QAckPlus
	}
	if p.TCPFlags&decode.TCPUrg != 0 {
		s.Quirks |= QUrgPlus
	}
	if p.TCPFlags&decode.TCPPsh != 0 {
		s.Quirks |= QPushPlus
	}
	if p.PayloadLen > 0 {
		s.PClass = 1
	}
	s.parseOptions(p.TCPOptions)
	return true
}

func (s *SYN) parseOptions(o []byte) {
	for i := 0; i < len(o); {
		if s.nlay >= maxOpts {
			s.Quirks |= QBad
			return
		}
		kind := o[i]
		switch kind {
		case optEOL:
			s.layout[s.nlay] = optEOL
			s.nlay++
			rest := o[i+1:]
			s.eolPad = uint8(len(rest))
			for _, b := range rest {
				if b != 0 {
					s.Quirks |= QOptPlus
					break
				}
			}
			return
		case optNOP:
			s.layout[s.nlay] = optNOP
			s.nlay++
			i++
			continue
		}
		if i+1 >= len(o) {
			s.Quirks |= QBad
			return
		}
		l := int(o[i+1])
		if l < 2 || i+l > len(o) {
			s.Quirks |= QBad
			return
		}
		body := o[i+2 : i+l]
		switch kind {
		case optMSS:
			if l != 4 {
				s.Quirks |= QBad
				return
			}
			s.MSS = int32(body[0])<<8 | int32(body[1])
		case optWS:
			if l != 3 {
				s.Quirks |= QBad
				return
			}
			s.Scale = int16(body[0])
			if s.Scale > 14 {
				s.Quirks |= QExWS
			}
		case optSOK:
			if l != 2 {
				s.Quirks |= QBad
				return
			}
		case optSACK:
			if l < 10 || l > 34 {
				s.Quirks |= QBad
				return
			}
		case optTS:
			if l != 10 {
				s.Quirks |= QBad
				return
			}
			if body[0]|body[1]|body[2]|body[3] == 0 {
				s.Quirks |= QTS1Minus
			}
			if body[4]|body[5]|body[6]|body[7] != 0 {
				s.Quirks |= QTS2Plus
			}
		}
		s.layout[s.nlay] = kind
		s.nlay++
		i += l
	}
}

// Match is the result of matching a SYN against a database.
type Match struct {
	Sig   *Sig
	Fuzzy bool // matched only with a TTL beyond MaxDist or tolerated quirk differences
	Dist  int  // hops between the sender and the sensor (signature's initial TTL - observed)
}

// Match finds the best signature for s: an exact specific match, else an
// exact generic one, else the first fuzzy one, as p0f does. It does not
// allocate.
func (db *DB) Match(s *SYN) (Match, bool) {
	exactGeneric, fuzzy := int32(-1), int32(-1)
	for _, i := range db.byLayout[string(s.layout[:s.nlay])] {
		sig := &db.Sigs[i]
		ok, fz := sig.matches(s)
		if !ok {
			continue
		}
		switch {
		case !fz && !sig.Label.Generic:
			return db.result(i, false, s), true
		case !fz:
			if exactGeneric < 0 {
				exactGeneric = i
			}
		default:
			if fuzzy < 0 {
				fuzzy = i
			}
		}
	}
	if exactGeneric >= 0 {
		return db.result(exactGeneric, false, s), true
	}
	if fuzzy >= 0 {
		return db.result(fuzzy, true, s), true
	}
	return Match{}, false
}

func (db *DB) result(i int32, fuzzy bool, s *SYN) Match {
	sig := &db.Sigs[i]
	d := int(sig.ittl) - int(s.TTL)
	if d < 0 || d > MaxDist {
		d = GuessDist(s.TTL)
	}
	return Match{Sig: sig, Fuzzy: fuzzy, Dist: d}
}

func (sig *Sig) matches(s *SYN) (ok, fuzzy bool) {
	if sig.eolPad != s.eolPad {
		return false, false
	}
	sq, oq := sig.quirks&^unobservable, s.Quirks&^unobservable
	if sq != oq {
		deleted := (sq ^ oq) & sq
		added := (sq ^ oq) & oq
		if deleted&^(QDF|QIDPlus) != 0 || added&^(QIDMinus|QECN) != 0 {
			return false, false
		}
		fuzzy = true
	}
	if sig.mss >= 0 && sig.mss != s.MSS ||
		sig.scale >= 0 && sig.scale != s.Scale ||
		sig.pclass >= 0 && sig.pclass != s.PClass ||
		sig.ver > 0 && uint8(sig.ver) != s.Ver ||
		sig.olen != s.OLen {
		return false, false
	}
	if sig.badTTL {
		if sig.ittl < s.TTL {
			return false, false
		}
	} else if sig.ittl < s.TTL || sig.ittl-s.TTL > MaxDist {
		fuzzy = true
	}
	win := int32(s.Win)
	switch sig.winType {
	case winNormal:
		if sig.win != win {
			return false, false
		}
	case winMod:
		if win%sig.win != 0 {
			return false, false
		}
	case winMSS:
		if s.MSS <= 0 || sig.win*s.MSS != win {
			return false, false
		}
	case winMTU:
		hdr := int32(40)
		if s.Ver == 6 {
			hdr = 60
		}
		if s.MSS <= 0 || sig.win*(s.MSS+hdr) != win {
			return false, false
		}
	}
	return true, fuzzy
}

// GuessDist is p0f's hop distance guess from an observed TTL: the distance
// to the next initial TTL of 32, 64, 128 or 255.
func GuessDist(ttl uint8) int {
	switch {
	case ttl <= 32:
		return 32 - int(ttl)
	case ttl <= 64:
		return 64 - int(ttl)
	case ttl <= 128:
		return 128 - int(ttl)
	}
	return 255 - int(ttl)
}

// Raw renders s as a p0f raw signature ("4:64+0:0:1460:65535,6:mss,...:df,ecn:0"),
// the form p0f logs, for evidence strings. It allocates; call it once per new
// fingerprint, not per packet.
func (s *SYN) Raw() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(int(s.Ver)))
	b.WriteByte(':')
	d := GuessDist(s.TTL)
	b.WriteString(strconv.Itoa(int(s.TTL)))
	b.WriteByte('+')
	b.WriteString(strconv.Itoa(d))
	b.WriteByte(':')
	b.WriteString(strconv.Itoa(int(s.OLen)))
	b.WriteByte(':')
	b.WriteString(strconv.Itoa(int(s.MSS)))
	b.WriteByte(':')
	b.WriteString(strconv.Itoa(int(s.Win)))
	b.WriteByte(',')
	b.WriteString(strconv.Itoa(int(s.Scale)))
	b.WriteByte(':')
	b.WriteString(layoutString(s.layout[:s.nlay], s.eolPad))
	b.WriteByte(':')
	b.WriteString(s.Quirks.String())
	b.WriteByte(':')
	if s.PClass == 0 {
		b.WriteByte('0')
	} else {
		b.WriteByte('+')
	}
	return b.String()
}

// Key is a compact hash of every field matching depends on, so callers can
// skip re-matching a host's repeated identical SYNs.
func (s *SYN) Key() uint64 {
	h := uint64(14695981039346656037)
	mix := func(v uint64) {
		h ^= v
		h *= 1099511628211
	}
	mix(uint64(s.Ver)<<56 | uint64(s.TTL)<<48 | uint64(s.OLen)<<40 | uint64(uint32(s.MSS))<<8 | uint64(s.PClass))
	mix(uint64(s.Win)<<32 | uint64(uint16(s.Scale))<<16 | uint64(s.eolPad))
	mix(uint64(s.Quirks))
	for _, k := range s.layout[:s.nlay] {
		mix(uint64(k))
	}
	return h
}
