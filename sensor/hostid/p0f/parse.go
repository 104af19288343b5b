// Package p0f reads TCP SYN signature databases in p0f v3's p0f.fp format and
// matches observed SYNs against them the way p0f 3 does: exact specific
// signatures first, then exact generic ones, then fuzzy matches (TTL out of
// range, or quirks that only differ by df/id+ disappearing or id-/ecn
// appearing).
//
// Only the [tcp:request] section is used; the other sections of p0f's own
// file ([mtu], [tcp:response], [http:*]) are skipped, so operators can load
// p0f's shipped file unchanged.
package p0f

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// MaxDist is how many hops below a signature's initial TTL an observed TTL
// may be and still match exactly (p0f's MAX_DIST).
const MaxDist = 35

// Limits on database size, so a hostile or broken file cannot make the
// sensor allocate without bound.
const (
	maxLineLen = 4096
	maxSigs    = 100000
	maxOpts    = 40 // TCP options are at most 40 bytes, so at most 40 options
)

// Window size forms.
const (
	winAny = iota // *
	winNormal
	winMod // %N
	winMSS // mss*N
	winMTU // mtu*N
)

// Label is a parsed `label = type:class:name:flavor` line.
type Label struct {
	Generic bool   // type g (generic) rather than s (specific)
	Class   string // win, unix, other, or ! for a userland tool
	Name    string // e.g. "Linux", "Mac OS X", "Windows"
	Flavor  string // e.g. "3.11 and newer"
}

// String renders the label as p0f prints it in its logs: "Name Flavor".
func (l Label) String() string {
	if l.Flavor == "" {
		return l.Name
	}
	return l.Name + " " + l.Flavor
}

// Sig is one `sig =` line of the [tcp:request] section.
type Sig struct {
	Label Label
	Sys   []string // the `sys =` line for userland labels (class !)
	Raw   string   // the signature text as written
	Line  int      // line number in the file

	ver     int8 // 4, 6 or -1 for *
	ittl    uint8
	badTTL  bool // "64-": the TTL is not an initial value; observed must not exceed it
	olen    uint8
	mss     int32 // -1 for *
	winType uint8
	win     int32
	scale   int16 // -1 for *
	layout  string
	eolPad  uint8
	quirks  Quirks
	pclass  int8 // -1 for *, 0 no payload, 1 payload
}

// DB is a parsed signature database.
type DB struct {
	Sigs []Sig
	// byLayout indexes Sigs by option layout, which must match exactly.
	byLayout map[string][]int32
}

// ParseError names the line of a database that could not be read.
type ParseError struct {
	Line int
	Msg  string
}

func (e *ParseError) Error() string { return fmt.Sprintf("p0f.fp line %d: %s", e.Line, e.Msg) }

// Parse reads a p0f.fp database. Sections other than [tcp:request] are
// skipped; inside it, every label and sig line must be well formed.
func Parse(r io.Reader) (*DB, error) {
	db := &DB{byLayout: make(map[string][]int32)}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1024), maxLineLen)
	var (
		line    int
		inReq   bool
		label   *Label
		sys     []string
		haveSig bool
	)
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == ';' {
			continue
		}
		if text[0] == '[' {
			if !strings.HasSuffix(text, "]") {
				return nil, &ParseError{line, "unterminated section header"}
			}
			inReq = text == "[tcp:request]"
			label, sys = nil, nil
			continue
		}
		key, val, ok := strings.Cut(text, "=")
		if !ok {
			return nil, &ParseError{line, "expected 'key = value'"}
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if !inReq {
			continue // [mtu], [tcp:response], [http:*], and top-level "classes ="
		}
		switch key {
		case "label":
			l, err := parseLabel(val)
			if err != nil {
				return nil, &ParseError{line, err.Error()}
			}
			label, sys, haveSig = &l, nil, false
		case "sys":
			if label == nil || haveSig {
				return nil, &ParseError{line, "sys must follow a label, before its sigs"}
			}
			for _, s := range strings.Split(val, ",") {
				if s = strings.TrimSpace(s); s != "" {
					sys = append(sys, s)
				}
			}
		case "sig":
			if label == nil {
				return nil, &ParseError{line, "sig before any label"}
			}
			if label.Class == "!" && len(sys) == 0 {
				return nil, &ParseError{line, "userland label (class !) needs a sys line"}
			}
			if len(db.Sigs) >= maxSigs {
				return nil, &ParseError{line, fmt.Sprintf("more than %d signatures", maxSigs)}
			}
			s, err := parseSig(val)
			if err != nil {
				return nil, &ParseError{line, err.Error()}
			}
			s.Label, s.Sys, s.Raw, s.Line = *label, sys, val, line
			db.byLayout[s.layout] = append(db.byLayout[s.layout], int32(len(db.Sigs)))
			db.Sigs = append(db.Sigs, s)
			haveSig = true
		default:
			return nil, &ParseError{line, fmt.Sprintf("unknown key %q in [tcp:request]", key)}
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, &ParseError{line + 1, fmt.Sprintf("line longer than %d bytes", maxLineLen)}
		}
		return nil, fmt.Errorf("p0f.fp: reading: %w", err)
	}
	if len(db.Sigs) == 0 {
		return nil, errors.New("p0f.fp: no [tcp:request] signatures")
	}
	return db, nil
}

func parseLabel(v string) (Label, error) {
	parts := strings.SplitN(v, ":", 4)
	if len(parts) != 4 {
		return Label{}, fmt.Errorf("label %q: want type:class:name:flavor", v)
	}
	var l Label
	switch parts[0] {
	case "s":
	case "g":
		l.Generic = true
	default:
		return Label{}, fmt.Errorf("label %q: type must be s or g", v)
	}
	l.Class, l.Name, l.Flavor = parts[1], parts[2], parts[3]
	if l.Class == "" || l.Name == "" {
		return Label{}, fmt.Errorf("label %q: empty class or name", v)
	}
	return l, nil
}

// parseSig reads ver:ittl:olen:mss:wsize,scale:olayout:quirks:pclass.
func parseSig(v string) (Sig, error) {
	f := strings.Split(v, ":")
	if len(f) != 8 {
		return Sig{}, fmt.Errorf("sig %q: want 8 colon-separated fields, got %d", v, len(f))
	}
	var s Sig
	var err error
	switch f[0] {
	case "*":
		s.ver = -1
	case "4":
		s.ver = 4
	case "6":
		s.ver = 6
	default:
		return Sig{}, fmt.Errorf("sig %q: bad version %q", v, f[0])
	}
	if err = s.parseTTL(f[1]); err != nil {
		return Sig{}, fmt.Errorf("sig %q: %w", v, err)
	}
	n, err := strconv.ParseUint(f[2], 10, 8)
	if err != nil {
		return Sig{}, fmt.Errorf("sig %q: bad olen %q", v, f[2])
	}
	s.olen = uint8(n)
	if f[3] == "*" {
		s.mss = -1
	} else {
		n, err := strconv.ParseUint(f[3], 10, 16)
		if err != nil {
			return Sig{}, fmt.Errorf("sig %q: bad mss %q", v, f[3])
		}
		s.mss = int32(n)
	}
	win, scale, ok := strings.Cut(f[4], ",")
	if !ok {
		return Sig{}, fmt.Errorf("sig %q: window field %q lacks ',scale'", v, f[4])
	}
	if err = s.parseWin(win); err != nil {
		return Sig{}, fmt.Errorf("sig %q: %w", v, err)
	}
	if scale == "*" {
		s.scale = -1
	} else {
		n, err := strconv.ParseUint(scale, 10, 8)
		if err != nil {
			return Sig{}, fmt.Errorf("sig %q: bad scale %q", v, scale)
		}
		s.scale = int16(n)
	}
	var lay [maxOpts]byte
	nl, pad, err := parseLayout(f[5], &lay)
	if err != nil {
		return Sig{}, fmt.Errorf("sig %q: %w", v, err)
	}
	s.layout, s.eolPad = string(lay[:nl]), pad
	if s.quirks, err = parseQuirks(f[6]); err != nil {
		return Sig{}, fmt.Errorf("sig %q: %w", v, err)
	}
	switch f[7] {
	case "*":
		s.pclass = -1
	case "0":
		s.pclass = 0
	case "+":
		s.pclass = 1
	default:
		return Sig{}, fmt.Errorf("sig %q: bad payload class %q", v, f[7])
	}
	return s, nil
}

func (s *Sig) parseTTL(t string) error {
	// Forms: "64", "64-" (bad TTL), "54+10" (observed+distance, as p0f logs it).
	if strings.HasSuffix(t, "-") {
		s.badTTL = true
		t = t[:len(t)-1]
	}
	base, dist, plus := strings.Cut(t, "+")
	n, err := strconv.ParseUint(base, 10, 8)
	if err != nil || n == 0 {
		return fmt.Errorf("bad ttl %q", t)
	}
	if plus {
		d, err := strconv.ParseUint(dist, 10, 8)
		if err != nil || n+d > 255 {
			return fmt.Errorf("bad ttl distance %q", t)
		}
		n += d
	}
	s.ittl = uint8(n)
	return nil
}

func (s *Sig) parseWin(w string) error {
	var num string
	switch {
	case w == "*":
		s.winType = winAny
		return nil
	case strings.HasPrefix(w, "mss*"):
		s.winType, num = winMSS, w[4:]
	case strings.HasPrefix(w, "mtu*"):
		s.winType, num = winMTU, w[4:]
	case strings.HasPrefix(w, "%"):
		s.winType, num = winMod, w[1:]
	default:
		s.winType, num = winNormal, w
	}
	n, err := strconv.ParseUint(num, 10, 16)
	if err != nil || (s.winType == winMod && n == 0) {
		return fmt.Errorf("bad window %q", w)
	}
	s.win = int32(n)
	return nil
}

// Option kinds as stored in a layout string. Unknown kinds keep their number.
const (
	optEOL  = 0
	optNOP  = 1
	optMSS  = 2
	optWS   = 3
	optSOK  = 4
	optSACK = 5
	optTS   = 8
)

func parseLayout(v string, out *[maxOpts]byte) (n int, pad uint8, err error) {
	if v == "" {
		return 0, 0, nil
	}
	for tok := range strings.SplitSeq(v, ",") {
		if n >= maxOpts {
			return 0, 0, fmt.Errorf("option layout %q: too many options", v)
		}
		switch {
		case tok == "nop":
			out[n] = optNOP
		case tok == "mss":
			out[n] = optMSS
		case tok == "ws":
			out[n] = optWS
		case tok == "sok":
			out[n] = optSOK
		case tok == "sack":
			out[n] = optSACK
		case tok == "ts":
			out[n] = optTS
		case strings.HasPrefix(tok, "eol+"):
			p, perr := strconv.ParseUint(tok[4:], 10, 8)
			if perr != nil || p > maxOpts {
				return 0, 0, fmt.Errorf("option layout %q: bad %q", v, tok)
			}
			out[n] = optEOL
			pad = uint8(p)
			n++
			// eol must be the last element.
			if !strings.HasSuffix(v, tok) {
				return 0, 0, fmt.Errorf("option layout %q: eol must be last", v)
			}
			return n, pad, nil
		case strings.HasPrefix(tok, "?"):
			k, perr := strconv.ParseUint(tok[1:], 10, 8)
			if perr != nil {
				return 0, 0, fmt.Errorf("option layout %q: bad %q", v, tok)
			}
			out[n] = byte(k)
		default:
			return 0, 0, fmt.Errorf("option layout %q: unknown option %q", v, tok)
		}
		n++
	}
	return n, 0, nil
}

func parseQuirks(v string) (Quirks, error) {
	var q Quirks
	if v == "" {
		return 0, nil
	}
	for tok := range strings.SplitSeq(v, ",") {
		bit, ok := quirkByName[tok]
		if !ok {
			return 0, fmt.Errorf("unknown quirk %q", tok)
		}
		q |= bit
	}
	return q, nil
}

// String renders the signature's option layout in p0f syntax.
func layoutString(lay []byte, pad uint8) string {
	var b bytes.Buffer
	for i, k := range lay {
		if i > 0 {
			b.WriteByte(',')
		}
		switch k {
		case optEOL:
			fmt.Fprintf(&b, "eol+%d", pad)
		case optNOP:
			b.WriteString("nop")
		case optMSS:
			b.WriteString("mss")
		case optWS:
			b.WriteString("ws")
		case optSOK:
			b.WriteString("sok")
		case optSACK:
			b.WriteString("sack")
		case optTS:
			b.WriteString("ts")
		default:
			fmt.Fprintf(&b, "?%d", k)
		}
	}
	return b.String()
}
