package beacon

import "net/netip"

// Late records a beat of pair k at ts that may be older than the pair's
// latest beat, in time order, and scores the pair as Beat does. Beat drops
// such a beat (one sensor's packets arrive in order); a hub merging the beats
// of several sensors receives one sensor's beats after another's later ones
// (a sensor that caught up after a link cut, two replays run one after the
// other), and every one of them is evidence. A beat within the group window
// of a retained beat joins it. For a beat not older than the latest, Late is
// Beat.
func (d *Detector) Late(k PairKey, dst netip.Addr, ts int64) *Finding {
	p, ok := d.peek(k)
	if !ok || ts >= p.lastBeat()-d.window {
		return d.Beat(k, dst, ts)
	}
	d.stats.Beats++
	d.stats.Late++
	before := p.beats
	d.merge(p, &pair{key: k, first: ts, base: ts, beats: 1})
	if p.beats == before {
		d.stats.Grouped++
		return nil
	}
	p.hist.addDst(dst)
	d.lru.Promote(d.id(k)) // it has a history now, if it had none
	return d.score(k, p)
}
