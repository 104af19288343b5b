package merge

import (
	"sort"
	"time"
)

// prevalence counts, per partition and capture-time day, the distinct
// merged hosts that reached each destination and the hosts active at all:
// a destination 1 Mac of 800 beats to is not the finding one that 780 do.
// Partitions are counted apart so a process can publish what its own
// partitions saw and add what the others published (Config.Remote).
type prevalence struct {
	maxDests int
	dests    int // destination entries across days and partitions
	days     map[int64]*prevDay
}

type prevDay struct {
	byPart map[int]*prevPart
	// The sums over byPart, so an alert reads its destination's
	// prevalence in one lookup.
	dests map[string]uint64
	fleet uint64
}

type prevPart struct {
	dests map[string]map[uint64]struct{}
	fleet map[uint64]struct{}
	dirty bool // changed since the last Export
}

func (p *prevalence) init(maxDests int) {
	p.maxDests = maxDests
	p.days = map[int64]*prevDay{}
}

// add notes that host reached dest at ts (Unix ns) in partition part.
func (p *prevalence) add(part int, ts int64, dest string, host uint64, c *Counters) {
	day := ts / int64(24*time.Hour)
	d, ok := p.days[day]
	if !ok {
		if p.expire(day, c) {
			return // older than the days kept
		}
		d = &prevDay{byPart: map[int]*prevPart{}, dests: map[string]uint64{}}
		p.days[day] = d
	}
	pp, ok := d.byPart[part]
	if !ok {
		pp = &prevPart{dests: map[string]map[uint64]struct{}{}, fleet: map[uint64]struct{}{}}
		d.byPart[part] = pp
	}
	if _, ok := pp.fleet[host]; !ok {
		if len(pp.fleet) < maxSet {
			pp.fleet[host] = struct{}{}
			pp.dirty = true
			d.fleet++
		} else {
			c.Saturated++
		}
	}
	set, ok := pp.dests[dest]
	if !ok {
		if p.dests >= p.maxDests {
			c.DestsDropped++
			return
		}
		set = make(map[uint64]struct{}, 1)
		pp.dests[dest] = set
		p.dests++
	}
	if _, ok := set[host]; ok {
		return
	}
	if len(set) >= maxSet {
		c.Saturated++
		return
	}
	set[host] = struct{}{}
	pp.dirty = true
	d.dests[dest]++
}

// expire makes room for a new day: it drops the days more than keepDays
// before the newest and reports whether day itself is too old to keep.
func (p *prevalence) expire(day int64, c *Counters) bool {
	newest := day
	for d := range p.days {
		newest = max(newest, d)
	}
	if day <= newest-keepDays {
		return true
	}
	for d, pd := range p.days {
		if d <= newest-keepDays {
			for _, pp := range pd.byPart {
				p.dests -= len(pp.dests)
			}
			delete(p.days, d)
			c.DaysExpired++
		}
	}
	return false
}

// count sums dest's hosts and the fleet over the local partitions.
func (p *prevalence) count(day int64, dest string) (hosts, fleet uint64) {
	d, ok := p.days[day]
	if !ok {
		return 0, 0
	}
	return d.dests[dest], d.fleet
}

func (p *prevalence) drop(part int) {
	for _, d := range p.days {
		if pp, ok := d.byPart[part]; ok {
			p.dests -= len(pp.dests)
			for dest, set := range pp.dests {
				if d.dests[dest] -= uint64(len(set)); d.dests[dest] == 0 {
					delete(d.dests, dest)
				}
			}
			d.fleet -= uint64(len(pp.fleet))
			delete(d.byPart, part)
		}
	}
}

// PartitionCounts is what one partition counted on one day: the distinct
// hosts per destination and the hosts active at all. Processes publish it
// so each can add the partitions it does not own.
type PartitionCounts struct {
	Part  int               `json:"part"`
	Day   int64             `json:"day"` // days since the Unix epoch, UTC
	Fleet uint64            `json:"fleet"`
	Dests map[string]uint64 `json:"dests"`
}

// Changed returns the counts of every (partition, day) changed since the
// last call, oldest day first.
func (e *Engine) Changed() []PartitionCounts {
	var out []PartitionCounts
	for day, d := range e.prev.days {
		for part, pp := range d.byPart {
			if !pp.dirty {
				continue
			}
			pp.dirty = false
			pc := PartitionCounts{Part: part, Day: day, Fleet: uint64(len(pp.fleet)), Dests: make(map[string]uint64, len(pp.dests))}
			for dest, set := range pp.dests {
				pc.Dests[dest] = uint64(len(set))
			}
			out = append(out, pc)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Day != out[j].Day {
			return out[i].Day < out[j].Day
		}
		return out[i].Part < out[j].Part
	})
	return out
}
