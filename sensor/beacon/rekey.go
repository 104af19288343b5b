package beacon

import (
	"cmp"
	"net/netip"
	"slices"
	"time"
)

// Rekey moves the beats of pair from to pair to: a pair first keyed by
// address becomes the named pair once a name for the address is known (a
// TLS SNI, a late DNS answer), keeping its beats. When both are tracked
// their beats are merged in time order (beats within the group window of
// each other are one beat) and to keeps its alert state. It reports whether
// from was tracked. It never scores: the next beat does.
func (d *Detector) Rekey(from, to PairKey) bool {
	if from == to || from.Dest == "" && d.addrPairs[addrSlot(from.DestIP)] == 0 {
		return false
	}
	fp, ok := d.peek(from)
	if !ok {
		return false
	}
	d.lru.Remove(d.id(from))
	d.stats.Rekeyed++
	tp, ok := d.peek(to)
	if !ok {
		fp.key = to
		d.store(d.id(to), fp)
		return true
	}
	d.merge(tp, fp)
	d.lru.Promote(d.id(to)) // it has a history now
	return true
}

// store adds p, a pair arriving with its beats (moved or restored), in the
// table's class for what it holds: a pair with a history is protected, as
// its second beat would have made it, so a scan cannot push it out.
func (d *Detector) store(id pairID, p *pair) {
	if old, ok := d.lru.Peek(id); ok {
		d.forget(id, old) // Add replaces a held id's value without removing it
	}
	d.lru.Add(id, p)
	d.admitted(p)
	if p.hist != nil {
		d.lru.Promote(id)
	}
}

type mergedBeat struct {
	t       int64
	out, in uint16
}

// merge adds src's beats to dst's.
func (d *Detector) merge(dst, src *pair) {
	all := append(beatsOf(dst), beatsOf(src)...)
	slices.SortFunc(all, func(a, b mergedBeat) int { return cmp.Compare(a.t, b.t) })
	kept := all[:0]
	for _, b := range all {
		if n := len(kept); n > 0 && b.t < kept[n-1].t+d.window {
			if kept[n-1].out == 0 && kept[n-1].in == 0 {
				kept[n-1].out, kept[n-1].in = b.out, b.in
			}
			continue
		}
		kept = append(kept, b)
	}
	grouped := len(all) - len(kept)
	if len(kept) > HistoryLen {
		kept = kept[len(kept)-HistoryLen:]
	}
	var dsts []netip.Addr
	for _, p := range []*pair{src, dst} {
		if h := p.hist; h != nil {
			dsts = append(dsts, h.dst[:h.ndst]...)
		}
	}
	h := &history{}
	base := kept[0].t
	for _, b := range kept {
		h.push(uint32((b.t - base) / int64(time.Millisecond)))
		i := h.at(int(h.n) - 1)
		h.out[i], h.in[i] = b.out, b.in
	}
	for _, a := range dsts {
		h.addDst(a)
	}
	dst.first = min(dst.first, src.first)
	dst.base = base
	dst.hist = h
	dst.beats = dst.beats + src.beats - uint32(min(grouped, int(dst.beats+src.beats)-1))
}

// beatsOf lists a pair's retained beats.
func beatsOf(p *pair) []mergedBeat {
	h := p.hist
	if h == nil {
		return []mergedBeat{{t: p.first, out: p.out0, in: p.in0}}
	}
	bs := make([]mergedBeat, 0, h.n)
	for i := 0; i < int(h.n); i++ {
		j := h.at(i)
		bs = append(bs, mergedBeat{t: p.base + int64(h.t[j])*int64(time.Millisecond), out: h.out[j], in: h.in[j]})
	}
	return bs
}
