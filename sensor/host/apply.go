package host

// Apply records a change another Binder made (its Config.Notify), so that
// this one resolves the address or MAC the same way: live capture's workers
// each own a Binder, and the worker the kernel now steers an address to must
// resolve it as the worker that learned the binding did. Apply does not
// notify a binding or a join — the change is already being told — nor does
// it run the router rule: the addresses another binder applies to one MAC
// are not evidence that it forwards traffic. Applying such a change twice,
// or one this binder made itself, changes nothing.
//
// Two kinds of change this binder acts on as if it had learned them, and
// tells what follows: a join key announced (Config.ShareKeys), which may
// complete a join; and a router found, whose addresses this binder knows of
// are told as their own hosts again.
func (b *Binder) Apply(c Change) {
	switch {
	case c.Router || c.NotRouter:
		b.applyRouter(c.MAC, c.Router)
		return
	case c.Key != "":
		// An announcement: every binder acts on it in the one order they
		// all hear, and tells the join it makes like one it learned.
		if UsableMAC(c.MAC) && len(c.Key) <= maxJoinKey {
			b.acting = true
			b.join(c.Key, c.MAC, c.TS)
			b.acting = false
		}
		return
	}
	b.applying = true
	defer func() { b.applying = false }()
	switch {
	case c.Addr.IsValid() && (c.Gone || !c.Host.IsMAC()):
		if _, ok := b.binds.Peek(c.Addr); ok {
			b.binds.Remove(c.Addr)
			b.stats.BindingEvictions-- // the callback counted it
			b.applied()
		}
	case c.Addr.IsValid():
		b.applyBinding(c)
	case !UsableMAC(c.MAC):
	case c.Gone || c.Host.MAC == c.MAC:
		b.leave(c.MAC)
	default:
		b.applyJoin(c.MAC, c.Host.MAC, c.TS)
	}
}

func (b *Binder) applied() {
	b.gen++
	b.stats.Applied++
}

// applyBinding binds c.Addr to the MAC it was bound to, or, when this
// binder would resolve that MAC to another host (a join it has not heard
// of), to the host's own MAC: what Resolve answers must be c.Host, as the
// kernel's hosts map says. A MAC this binder found to be a router's stays
// one (the finder told everyone; the teller has not heard it yet). The
// binding counts as seen now, so that this binder's conflict rule guards it
// as the teller's does.
func (b *Binder) applyBinding(c Change) {
	mac := c.MAC
	if !UsableMAC(mac) {
		mac = c.Host.MAC
	}
	if !UsableMAC(mac) {
		return
	}
	if bd, ok := b.binds.Peek(c.Addr); ok && bd.mac == mac && b.resolve(c.Addr) == c.Host {
		return
	}
	b.binds.Add(c.Addr, binding{mac: mac, last: b.now, remote: true})
	b.applied()
	if mi, ok := b.macs.Peek(mac); ok && mi.router {
		// The teller has not heard yet that the MAC is a router's: say
		// again that the address is its own host.
		if b.cfg.Notify != nil {
			b.cfg.Notify(Change{Addr: c.Addr, MAC: mac, Host: AddrKey(c.Addr), Gone: true})
		}
		return
	}
	if b.resolve(c.Addr) != c.Host && UsableMAC(c.Host.MAC) {
		b.binds.Add(c.Addr, binding{mac: c.Host.MAC, last: b.now, remote: true})
		b.leave(c.Host.MAC) // the teller holds it for a host of its own
		b.gen++
	}
}

// applyRouter marks mac a router's, or a host's again, as noteAddr does,
// and tells what the addresses this binder saw it send from resolve to.
func (b *Binder) applyRouter(mac [6]byte, router bool) {
	if !UsableMAC(mac) {
		return
	}
	mi := b.mac(mac)
	if mi.router == router {
		return // (the finder hears its own news too: it keeps its evidence)
	}
	mi.router, mi.remoteRouter = router, router
	b.applied()
	b.retell(mac, mi)
}

// applyJoin makes mac part of canon's host, whatever this binder knew of
// either: the binder that joined them had the evidence. Inventory joins
// stand, as in joinMAC.
func (b *Binder) applyJoin(mac, canon [6]byte, ts int64) {
	if _, ok := b.static[mac]; ok || !UsableMAC(canon) {
		return
	}
	if ts <= 0 {
		ts = b.now
	}
	if c, ok := b.joins.Peek(mac); ok && c.canon == canon {
		b.confirm(mac, ts)
		return
	}
	b.leave(mac)
	b.joins.Add(mac, joinRec{canon: canon, at: ts})
	b.members[canon] = append(b.members[canon], mac)
	b.applied()
}

// leave makes mac its own host again (the joins table's callback, unjoin,
// does the bookkeeping).
func (b *Binder) leave(mac [6]byte) {
	if b.joins.Remove(mac) {
		b.stats.JoinEvictions-- // not an eviction: counted as applied
		b.applied()
	}
}

// SetNotify sets Config.Notify and Config.ShareKeys: live capture sets
// them once the kernel map the changes go to exists, before the binder's
// read loop starts.
func (b *Binder) SetNotify(f func(Change), shareKeys bool) {
	b.cfg.Notify, b.cfg.ShareKeys = f, shareKeys
}

// Static returns the inventory's joins (JoinStatic) as the Changes they
// were: a map filled after the binder was made must hear them too.
func (b *Binder) Static() []Change {
	out := make([]Change, 0, len(b.static))
	for m, c := range b.static {
		out = append(out, Change{MAC: m, Host: MACKey(c)})
	}
	return out
}

// maxJoinKey bounds an announced join key: "duid:" and a 130-byte DUID in
// hex, the longest this binder makes.
const maxJoinKey = len("duid:") + 2*130
