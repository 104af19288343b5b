package dnstrack

import (
	"net/netip"

	"github.com/launchtap/launchtap/sensor/slru"
)

// A dual-stack host often resolves a name over IPv4 and connects over IPv6:
// the session's own address resolved nothing. NameByMAC finds the name
// through the client addresses the session's MAC received answers on.
// Workers are sharded by host (a MAC's addresses share a worker once the
// binder holds them; live, the first packets of a new address may reach
// another worker for the moment before the kernel's map has it), so each
// tracker keeps its own table of them and looks the name up in its own
// answers: nothing is copied per answer and no lock is shared.
//
// A MAC that receives answers for many client addresses is a router's (the
// span sees routed traffic with the router as the frame's destination): its
// answers would name one host's sessions after another host's lookups, so
// such a MAC is never used.

// maxClientsPerMAC is how many client addresses one MAC may resolve for
// before it counts as a router: a dual-stack host has an IPv4 address and a
// few (temporary) IPv6 ones.
const maxClientsPerMAC = 4

type macClients struct {
	clients [maxClientsPerMAC][16]byte
	n       int
	router  bool
}

// newMACClients bounds the table of MACs at a quarter of the answers (at
// least 16), as many MACs as hosts that resolve; a plain LRU.
func newMACClients(maxAnswers int, evicted func()) (*slru.Table[[6]byte, *macClients], error) {
	return slru.New(max(16, maxAnswers/4), 0, func([6]byte, *macClients) { evicted() })
}

// noteClient records that mac received an answer for client. The last MAC
// and client noted are remembered: a host's run of responses costs one
// comparison each.
func (t *Tracker) noteClient(mac [6]byte, client netip.Addr) {
	c := client.As16()
	if t.lastMAC == mac && t.lastClient == c {
		return
	}
	t.lastMAC, t.lastClient = mac, c
	o, ok := t.macs.Get(mac)
	if !ok {
		o = &macClients{}
		t.macs.Add(mac, o)
	}
	if o.router {
		return
	}
	for i := 0; i < o.n; i++ {
		if o.clients[i] == c {
			return
		}
	}
	if o.n == maxClientsPerMAC {
		o.router = true
		return
	}
	o.clients[o.n] = c
	o.n++
}

// NameByMAC returns the name the host with this MAC last resolved to addr
// from any of its addresses, if that answer is still live at ts. It serves
// IPv6 sessions of dual-stack hosts that looked the name up over IPv4.
func (t *Tracker) NameByMAC(mac [6]byte, addr netip.Addr, ts int64) (string, bool) {
	if !usableMAC(mac) {
		return "", false
	}
	o, ok := t.macs.Peek(mac)
	if !ok || o.router {
		return "", false
	}
	var best answer
	a16 := addr.As16()
	for _, c := range o.clients[:o.n] {
		if a, ok := t.answers.Peek(answerKey{client: c, addr: a16}); ok && ts <= a.expires && a.at >= best.at {
			best = a
		}
	}
	if best.name == "" {
		return "", false
	}
	t.stats.MACHits++
	return best.name, true
}

// usableMAC is a unicast, non-zero MAC: one that names a host.
func usableMAC(m [6]byte) bool { return m != [6]byte{} && m[0]&1 == 0 }
