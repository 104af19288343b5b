package host

import (
	"cmp"
	"errors"
	"net/netip"
	"slices"
	"time"
)

// Join is a learned join as a checkpoint keeps it: Member is part of the
// host whose canonical MAC is Host.
type Join struct {
	Member, Host [6]byte
	Last         int64 // capture time the join was made or last confirmed, Unix ns
}

// Binding is an address binding as a checkpoint keeps it.
type Binding struct {
	Addr  netip.Addr
	MAC   [6]byte
	Last  int64 // capture time the holder was last seen with it, Unix ns
	Lease bool  // last set by a DHCP lease
}

// Saved is what a checkpoint keeps of a Binder, so that a restarted sensor
// gives a docked Mac the host_id it had: which MAC announced first after
// the restart no longer decides it.
type Saved struct {
	Clock    int64 // capture time of the checkpoint, Unix ns
	Joins    []Join
	Bindings []Binding
	// Routers are the MACs found forwarding other hosts' traffic: nothing
	// restored joins or binds to them.
	Routers [][6]byte
}

// JoinTTL is how long a join outlives its last confirmation in a
// checkpoint: as long as the name or DUID that made it stays its first
// holder's (a name last heard longer ago is free for the next device).
const JoinTTL = time.Duration(nameFresh)

// Export copies what a checkpoint keeps: every learned join (least
// recently made or confirmed first), the bindings whose holder was seen
// within the bind TTL to MACs that are not routers', and the routers.
// Bounded by the binder's own tables; it runs between batches, never per
// packet.
func (b *Binder) Export() Saved {
	s := Saved{Clock: b.now}
	for _, m := range b.joins.Keys() {
		if j, ok := b.joins.Peek(m); ok {
			s.Joins = append(s.Joins, Join{Member: m, Host: j.canon, Last: j.at})
		}
	}
	for _, m := range b.macs.Keys() {
		if mi, ok := b.macs.Peek(m); ok && mi.router {
			s.Routers = append(s.Routers, m)
		}
	}
	for _, a := range b.binds.Keys() {
		bd, ok := b.binds.Peek(a)
		if !ok || b.now-bd.last > b.bindTTL {
			continue
		}
		if mi, ok := b.macs.Peek(bd.mac); ok && mi.router {
			continue
		}
		s.Bindings = append(s.Bindings, Binding{Addr: a, MAC: bd.mac, Last: bd.last, Lease: bd.lease})
	}
	return s
}

// restoredSet is what Restore restored, for the first packet to age.
type restoredSet struct {
	joins [][6]byte
	binds []netip.Addr
}

var (
	errAged    = errors.New("host: restored entry aged")
	errRefused = errors.New("host: restored entry refused")
)

// Restore takes what a checkpoint kept, before the first packet, through
// the binder's own rules: a join is refused when its member is an
// inventory join's or already part of a host, when either MAC is a
// router's, or when the host already has its most MACs; a binding when its
// MAC is a router's or its address is bound. Joins confirmed longer than
// JoinTTL before s.Clock, and bindings seen longer than the bind TTL before
// it, are aged and not restored; the first packet ages the rest again by
// its own time (a capture that resumes days later). Joins are restored
// oldest first, so that the joins table keeps its order. The counts are in
// Stats.
func (b *Binder) Restore(s Saved) {
	routers := make(map[[6]byte]bool, len(s.Routers))
	for _, m := range s.Routers {
		routers[m] = true
	}
	rs := b.restored
	if rs == nil {
		rs = &restoredSet{}
	}
	joins := slices.Clone(s.Joins)
	slices.SortStableFunc(joins, func(x, y Join) int { return cmp.Compare(x.Last, y.Last) })
	for _, j := range joins {
		switch err := b.restoreJoin(j, s.Clock, routers); err {
		case nil:
			b.stats.RestoredJoins++
			rs.joins = append(rs.joins, j.Member)
		case errAged:
			b.stats.RestoreAged++
		default:
			b.stats.RestoreRefused++
		}
	}
	binds := slices.Clone(s.Bindings)
	slices.SortStableFunc(binds, func(x, y Binding) int { return cmp.Compare(x.Last, y.Last) })
	for _, bd := range binds {
		switch err := b.restoreBinding(bd, s.Clock, routers); err {
		case nil:
			b.stats.RestoredBindings++
			rs.binds = append(rs.binds, bd.Addr)
		case errAged:
			b.stats.RestoreAged++
		default:
			b.stats.RestoreRefused++
		}
	}
	if len(rs.joins)+len(rs.binds) > 0 {
		b.restored = rs
	}
}

func (b *Binder) restoreJoin(j Join, clock int64, routers map[[6]byte]bool) error {
	switch {
	case !UsableMAC(j.Member) || !UsableMAC(j.Host) || j.Member == j.Host:
		return errRefused
	case clock > 0 && clock-j.Last >= nameFresh:
		return errAged
	case routers[j.Member] || routers[j.Host]:
		return errRefused
	}
	if _, ok := b.static[j.Member]; ok {
		return errRefused // the inventory's join stands
	}
	canon := b.Canonical(j.Host)
	if canon == j.Member {
		return errRefused // the inventory joined them the other way round
	}
	if _, ok := b.joins.Peek(j.Member); ok || len(b.members[j.Member]) > 0 {
		return errRefused
	}
	for _, m := range [][6]byte{j.Member, canon} {
		if mi, ok := b.macs.Peek(m); ok && mi.router {
			return errRefused
		}
	}
	if 1+len(b.members[canon]) >= b.cfg.MaxMACsPerHost {
		return errRefused
	}
	b.joins.Add(j.Member, joinRec{canon: canon, at: j.Last})
	b.members[canon] = append(b.members[canon], j.Member)
	b.gen++
	b.notify(Change{MAC: j.Member, Host: MACKey(canon), TS: j.Last})
	return nil
}

func (b *Binder) restoreBinding(bd Binding, clock int64, routers map[[6]byte]bool) error {
	switch {
	case !bd.Addr.IsValid() || bd.Addr.IsUnspecified() || bd.Addr.IsMulticast() || !UsableMAC(bd.MAC):
		return errRefused
	case clock > 0 && clock-bd.Last > b.bindTTL:
		return errAged
	case routers[bd.MAC]:
		return errRefused
	}
	if _, ok := b.binds.Peek(bd.Addr); ok {
		return errRefused
	}
	mi := b.mac(bd.MAC)
	if mi.router {
		return errRefused
	}
	mi.last = max(mi.last, bd.Last)
	oldest, found := 0, false
	for i := range mi.ips {
		if mi.ips[i].addr == bd.Addr {
			mi.ips[i].last, found = max(mi.ips[i].last, bd.Last), true
			break
		}
		if mi.ips[i].last < mi.ips[oldest].last {
			oldest = i
		}
	}
	if !found {
		mi.ips[oldest] = seenAddr{bd.Addr, bd.Last}
	}
	b.binds.Add(bd.Addr, binding{mac: bd.MAC, last: bd.Last, lease: bd.Lease})
	b.gen++
	b.notify(Change{Addr: bd.Addr, MAC: bd.MAC, Host: b.resolve(bd.Addr)})
	return nil
}

// ageRestored ends the restored joins and bindings that are too old at ts,
// the first packet's time, as Restore did by the checkpoint's.
func (b *Binder) ageRestored(ts int64) {
	rs := b.restored
	b.restored = nil
	for _, m := range rs.joins {
		if j, ok := b.joins.Peek(m); ok && ts-j.at >= nameFresh {
			b.joins.Remove(m)       // unjoin, through the table's callback
			b.stats.JoinEvictions-- // not an eviction: aged
			b.stats.RestoredJoins-- // counted as restored at start
			b.stats.RestoreAged++
		}
	}
	for _, a := range rs.binds {
		if bd, ok := b.binds.Peek(a); ok && ts-bd.last > b.bindTTL {
			b.binds.Remove(a)          // told, through the table's callback
			b.stats.BindingEvictions-- // not an eviction: aged
			b.stats.RestoredBindings--
			b.stats.RestoreAged++
		}
	}
}

// Restored returns the joins and bindings Restore restored that still
// stand, as the Changes they are: live capture writes them to the kernel's
// hosts map before the first packet, as it does the inventory's (Static).
func (b *Binder) Restored() []Change {
	if b.restored == nil {
		return nil
	}
	var out []Change
	for _, m := range b.restored.joins {
		if j, ok := b.joins.Peek(m); ok {
			out = append(out, Change{MAC: m, Host: MACKey(b.canonicalOf(j.canon)), TS: j.at})
		}
	}
	for _, a := range b.restored.binds {
		if bd, ok := b.binds.Peek(a); ok {
			if k := b.resolve(a); k.IsMAC() {
				out = append(out, Change{Addr: a, MAC: bd.mac, Host: k})
			}
		}
	}
	return out
}
