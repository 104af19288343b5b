// SPDX-License-Identifier: (MIT OR GPL-2.0)
//
// launchtap kernel side: two socket-filter programs for AF_PACKET sockets.
//
//   launchtap_filter  attached with SO_ATTACH_BPF to every capture socket. It passes
//                     to user space what the sensor needs (TCP control segments, DNS,
//                     DHCP, mDNS, NTP, the first non-control segment of each TCP
//                     direction and session, the first two datagrams of each UDP
//                     direction and session, the first payloads of each session (where
//                     the server name is), the first data after burst_gap_ns of
//                     silence, a sample per flow direction every sample_ns, everything
//                     it does not understand) and counts the rest per flow in a
//                     bounded hash. A flow direction enters that hash only once it
//                     has something to count: a TCP direction at its first segment
//                     that is not a SYN, FIN or RST, a UDP direction at its second
//                     datagram. A port scan (SYN, then RST or nothing; one datagram
//                     per port) passes whole and leaves the hash alone, so user space
//                     has no counts to take for it and the hash keeps room for real
//                     sessions. A handshake the server answered is counted from its
//                     last ACK on, as if its SYN and SYN-ACK had made the entries.
//
// The flow table is one hash shared by all CPUs, updated with atomic adds, not a
// per-CPU hash: a flow's packets can arrive on several CPUs (veth, RPS, a
// migrating sender), and the session split below (prev/cur) and the sample
// clock must be per flow, not per flow and CPU, to keep session sizes exact.
// The per-CPU map is kept for the global counters.
//   launchtap_xdp     the same filter as an XDP program, for dedicated tap ports.
//   launchtap_fanout  attached with PACKET_FANOUT_DATA to the PACKET_FANOUT_EBPF group.
//                     It returns shard.HashKey of the packet's host (sensor/shard, the
//                     one definition of the rule and hash replay uses too): the owner
//                     address, or a DHCPv4 message's client MAC, looked up in the hosts
//                     map user space keeps in step with its binders (an address bound
//                     to a Mac's MAC hashes as the MAC), so that both directions of a
//                     host's traffic, whatever address it holds, reach the same worker;
//                     the kernel takes it modulo the number of sockets in the group.
//
// Both programs start from skb->protocol (the ethertype after the kernel
// removed the first VLAN tag). The fanout hook runs before AF_PACKET pushes the
// MAC header back (skb->data is the network header), the filter after it.

#include "headers/common.h"

char __license[] SEC("license") = "Dual MIT/GPL";

// Set by the loader before the programs are loaded (see bpf/filter.go).
volatile const __u64 sample_ns = 1000000000ULL;  // pass one packet per flow direction this often
volatile const __u64 udp_gap_ns = 59000000000ULL; // a UDP flow idle this long starts a new session
volatile const __u64 burst_gap_ns = 8000000000ULL; // data after this much silence is a burst (flow.Config.BurstGap)
volatile const __u32 min_burst_len = 2;             // payload bytes that make a packet data (flow.Config.MinBurstLen)

struct flow_key {
	__u8 src[16]; // IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d)
	__u8 dst[16];
	__u16 sport; // host byte order
	__u16 dport;
	__u8 proto;
	__u8 pad[3];
};

// host_key is shard.MapKey: a 16-byte address (IPv4 mapped), or ten 0xff
// bytes and a MAC.
struct host_key {
	__u8 b[16];
};

struct flow_val {
	__u64 packets;      // counted (not passed) packets of the current session
	__u64 bytes;        // their IP bytes (IPv4 total length, IPv6 payload length + 40)
	__u64 payload;      // their transport payload bytes (from the IP length)
	__u64 prev_packets; // the same for the previous session on this 5-tuple
	__u64 prev_bytes;
	__u64 prev_payload;
	__u64 last_ns;           // bpf_ktime_get_ns of the last packet
	__u64 last_pass_ns;      // ... of the last packet passed to user space
	__u64 last_data_ns;      // ... of the last packet with >= min_burst_len payload bytes
	__u64 last_pass_data_ns; // ... of the last such packet passed
	__u32 data_seen;         // packets with data in the current session (stops at 2)
	__u32 client;            // 1 when this direction opened the session with a SYN
	__u32 fresh;             // a session started here: pass its next non-control packet
	__u32 pad;
};

// mark_val is a direction's entry in marks: what the filter remembers of a
// direction it passed without a flow entry.
struct mark_val {
	__u64 ns;   // bpf_ktime_get_ns of the SYN, SYN-ACK or first datagram
	__u32 kind; // MARK_*
	__u32 data; // the first datagram had >= min_burst_len payload bytes
};

enum mark_kind {
	MARK_SYN = 1, // the direction sent a SYN: a TCP client
	MARK_SYNACK,  // the direction sent a SYN-ACK: a TCP server that answered
	MARK_UDP,     // the direction's first UDP datagram
};

enum stat_idx {
	STAT_PASS_CTL = 0,    // TCP SYN/FIN/RST
	STAT_PASS_SERVICE,    // DNS, DHCP, DHCPv6, mDNS, LLMNR, NTP, tunnel ports
	STAT_PASS_FIRST,      // first packet of a flow direction or of a session, first payloads
	STAT_PASS_SAMPLE,     // periodic sample of a long flow
	STAT_PASS_BURST,      // data after burst_gap_ns of silence in its direction
	STAT_PASS_OTHER,      // not IP/TCP/UDP, fragments, tunnels, VLAN in-band, unparsable
	STAT_PASS_MAP_FULL,   // flow table full: passed so that nothing is lost
	STAT_COUNTED,         // counted in the flow table instead of passed
	STAT_PASS_BYTES,      // IP bytes of passed TCP/UDP packets
	STAT_COUNTED_BYTES,   // IP bytes of counted packets
	STAT_PASS_NO_ENTRY,   // of the passes above: a TCP control segment or a UDP direction's
	                      // first datagram, passed without making a flow entry (scans)
	STAT_MARK_HIT,        // flow entries made that found their direction's mark (SYN, first datagram)
	STAT_MAX,
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct flow_key);
	__type(value, struct flow_val);
	__uint(max_entries, 65536); // resized by the loader
} flows SEC(".maps");

// marks remembers flow directions the filter passed without a flow entry:
// a TCP direction that sent a SYN (its first_payloads are a client's) or a
// SYN-ACK (the handshake was answered, see decide), a UDP direction's first
// datagram (the second makes the entry). An LRU, so that a flood never makes
// an insert fail, it only ages the marks: a mark lost costs the direction a
// packet or two passed that would have been counted, or one payload segment
// less passed (a TCP client is treated as a session that began before the
// sensor), never a count.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct flow_key);
	__type(value, struct mark_val);
	__uint(max_entries, 32768); // resized by the loader
} marks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, enum stat_idx);
	__type(value, __u64);
	__uint(max_entries, STAT_MAX);
} stats SEC(".maps");

// HOSTS_MAX is host.DefaultMaxBindings + host.DefaultMaxMACs: every address
// binding and every MAC join a binder can hold at once.
#define HOSTS_MAX 131072

// hosts holds what user space's binders resolved (sensor/host, via
// shard.MapKey): an owner address bound to a host's MAC, or a MAC joined to
// another MAC's host, mapped to shard.HashKey of that host. An LRU, so that
// an update never fails for room: what falls out is the entry no packet
// looked up for longest, and its address hashes as itself again.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct host_key);
	__type(value, __u32);
	__uint(max_entries, HOSTS_MAX);
} hosts SEC(".maps");

struct lpm4 {
	__u32 prefixlen;
	__u8 addr[4];
};

struct lpm6 {
	__u32 prefixlen;
	__u8 addr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct lpm4);
	__type(value, __u8);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} internal4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct lpm6);
	__type(value, __u8);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} internal6 SEC(".maps");

static __always_inline void stat_add(enum stat_idx idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);
	if (v)
		*v += n;
}

#define ETH_P_IP_BE bpf_htons(0x0800)
#define ETH_P_IPV6_BE bpf_htons(0x86DD)

// PASS keeps the whole packet: AF_PACKET cuts the snap length to the filter's
// return value, so the largest value means "all of it", even for a packet
// whose skb->len were 0.
#define PASS 0xffffffffU

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

// IPV6_MAX_EXT is sensor/decode's maxIPv6Ext: extension headers skipped
// before the transport header.
#define IPV6_MAX_EXT 8

// l4 is the outcome of parsing one IP header and the ports after it.
struct l4 {
	struct flow_key key;
	__u32 iplen;  // IP datagram length from the header
	__u32 payload; // transport payload length from iplen
	__u32 ipoff;  // offset of the IP header from the start of the packet data
	__u32 l4off;  // offset of the transport header from the start of the packet data
	__u32 ulen;   // UDP length field
	__u8 tcpflags;
	__u8 is6;
	__u8 ports;   // 1 when sport/dport were read (TCP or UDP, not a later fragment)
	__u8 frag;    // an IP fragment
	__u8 bad;     // lengths inconsistent with the bytes present
};

// parse_ip reads the IPv4 or IPv6 header at off (from the start of the packet data)
// and, for TCP/UDP, the ports. It returns 0 on success, -1 when the bytes are not
// a well-formed header of the given ethertype.
// ld reads len bytes at off from the start of the packet data (skb->data, or
// the frame for XDP). Both helpers read paged (non-linear) data too: drivers
// and TX-ring senders often leave only the first bytes in the linear part, so
// loads relative to the network header (linear only) would fail on them. xdp is
// a constant in each program, so each keeps only its own helper.
static __always_inline long ld(void *ctx, int xdp, __u32 off, void *to, __u32 len)
{
	if (xdp)
		return bpf_xdp_load_bytes(ctx, off, to, len);
	return bpf_skb_load_bytes(ctx, off, to, len);
}

static __always_inline int parse_ip(void *ctx, int xdp, __u32 off, __be16 proto, struct l4 *p)
{
	p->ipoff = off;
	if (proto == ETH_P_IP_BE) {
		__u8 h[20];
		if (ld(ctx, xdp, off, h, sizeof(h)) < 0)
			return -1;
		if ((h[0] >> 4) != 4 || (h[0] & 0xf) < 5)
			return -1;
		p->key.src[10] = 0xff;
		p->key.src[11] = 0xff;
		p->key.dst[10] = 0xff;
		p->key.dst[11] = 0xff;
		__builtin_memcpy(&p->key.src[12], &h[12], 4);
		__builtin_memcpy(&p->key.dst[12], &h[16], 4);
		p->key.proto = h[9];
		p->iplen = ((__u32)h[2] << 8) | h[3];
		p->l4off = off + (h[0] & 0xf) * 4;
		// A fragment other than the first has no transport header. The first
		// one has ports (the fanout hashes it like the rest of the flow) but is
		// passed like every fragment, so that user space sees the whole datagram.
		if (h[6] & 0x20)
			p->frag = 1;
		if ((h[6] & 0x1f) || h[7]) {
			p->frag = 1;
			return 0;
		}
	} else if (proto == ETH_P_IPV6_BE) {
		__u8 h[40];
		if (ld(ctx, xdp, off, h, sizeof(h)) < 0)
			return -1;
		if ((h[0] >> 4) != 6)
			return -1;
		__builtin_memcpy(p->key.src, &h[8], 16);
		__builtin_memcpy(p->key.dst, &h[24], 16);
		p->iplen = (((__u32)h[4] << 8) | h[5]) + 40;
		p->l4off = off + 40;
		p->is6 = 1;
		__u8 next = h[6];
		// The extension headers sensor/decode skips, as many as it skips:
		// hop-by-hop, routing, destination options, mobility, HIP, shim6,
		// AH and fragment headers.
#pragma unroll
		for (int i = 0; i < IPV6_MAX_EXT; i++) {
			if (next != 0 && next != 43 && next != 60 && next != 135 && next != 139 &&
			    next != 140 && next != 51 && next != 44)
				break;
			__u8 e[4];
			if (ld(ctx, xdp, p->l4off, e, sizeof(e)) < 0)
				return -1;
			if (next == 44) {
				p->frag = 1;
				p->l4off += 8;
				if ((((__u16)e[2] << 8) | e[3]) & 0xfff8) {
					p->key.proto = e[0];
					return 0; // not the first fragment: no transport header
				}
			} else if (next == 51) {
				p->l4off += ((__u32)e[1] + 2) * 4;
			} else {
				p->l4off += ((__u32)e[1] + 1) * 8;
			}
			next = e[0];
		}
		p->key.proto = next;
	} else {
		return -1;
	}
	// Lengths the bytes do not back (a header cut short, an IP length beyond
	// the frame) make the packet bad: the filter passes it, user space counts
	// the decode error. The fanout still hashes what it could read.
	__u8 last;
	if (p->iplen == 0 || p->iplen < p->l4off - off ||
	    ld(ctx, xdp, off + p->iplen - 1, &last, 1) < 0)
		p->bad = 1;
	if (p->key.proto == IPPROTO_TCP) {
		__u8 t[14];
		if (ld(ctx, xdp, p->l4off, t, sizeof(t)) < 0) {
			p->bad = 1;
			return 0;
		}
		p->key.sport = ((__u16)t[0] << 8) | t[1];
		p->key.dport = ((__u16)t[2] << 8) | t[3];
		p->tcpflags = t[13];
		p->ports = 1;
		__u32 doff = (t[12] >> 4) * 4;
		__u32 hdrs = p->l4off - off + doff;
		if (doff < 20 || p->iplen < hdrs ||
		    ld(ctx, xdp, p->l4off + doff - 1, &last, 1) < 0) {
			p->bad = 1;
			return 0;
		}
		p->payload = p->iplen - hdrs;
	} else if (p->key.proto == IPPROTO_UDP) {
		__u8 u[8];
		if (ld(ctx, xdp, p->l4off, u, sizeof(u)) < 0) {
			p->bad = 1;
			return 0;
		}
		p->key.sport = ((__u16)u[0] << 8) | u[1];
		p->key.dport = ((__u16)u[2] << 8) | u[3];
		p->ports = 1;
		__u32 ulen = ((__u32)u[4] << 8) | u[5];
		p->ulen = ulen;
		__u32 hdrs = p->l4off - off + 8;
		if (ulen < 8 || p->iplen < hdrs || p->l4off - off + ulen > p->iplen) {
			p->bad = 1;
			return 0;
		}
		p->payload = p->iplen - hdrs;
	}
	return 0;
}

static __always_inline int service_port(__u16 port, __u8 proto)
{
	if (port == 53)
		return 1; // DNS over UDP and TCP
	if (proto != IPPROTO_UDP)
		return 0;
	switch (port) {
	case 67:   // DHCP server
	case 68:   // DHCP client
	case 123:  // NTP
	case 546:  // DHCPv6 client
	case 547:  // DHCPv6 server
	case 5353: // mDNS
	case 5355: // LLMNR
	case 4789: // VXLAN: user space decapsulates
	case 4790: // VXLAN-GPE
	case 6081: // Geneve
		return 1;
	}
	return 0;
}

// first_payloads is how many payload-carrying packets of a session's
// direction user space must see to name the session from the wire
// (sensor/pipeline names.go): the TLS ClientHello, HTTP request or CONNECT of
// the client of a TCP session, which can span two segments, the first data of
// its server, and the first two client datagrams of UDP/443 (QUIC Initials: the
// ClientHello can fill two). A TCP direction whose SYN the filter did not see
// (the session began before the sensor, or its mark aged out of marks) gets one.
static __always_inline __u32 first_payloads(const struct l4 *p, const struct flow_val *v)
{
	if (p->key.proto == IPPROTO_TCP)
		return v->client ? 2 : 1;
	return p->key.dport == 443 ? 2 : 1;
}

// pass counts a passed TCP/UDP packet under idx and returns 1.
static __always_inline int pass(enum stat_idx idx, const struct l4 *p)
{
	stat_add(idx, 1);
	stat_add(STAT_PASS_BYTES, p->iplen);
	return 1;
}

// decide is the pre-filter: 1 to pass the packet whose network header (of
// the given ethertype) is at off, 0 when it was counted instead.
//
// What it keeps for user space's sessions (sensor/flow): nothing of a
// session's direction is counted before user space has seen, of that session,
// the server's SYN-ACK or a TCP segment of the direction that is not a SYN,
// FIN or RST, or the direction's first two UDP datagrams (any datagram back
// counts as two: the first may predate the session). So a session user space
// saw none of these of (a scan's SYN and RST, a lone datagram out) has no
// counts in the kernel, and user space asks for none
// (flow.Session.MayBeCounted).
static __always_inline int decide(void *ctx, int xdp, __u32 off, __be16 ethertype)
{
	struct l4 p;
	__builtin_memset(&p, 0, sizeof(p));

	// In-band VLAN tags (QinQ, or frames the kernel did not untag), MPLS, ARP,
	// fragments, anything else: pass, user space decides. The filter never hides
	// what it does not understand.
	if (parse_ip(ctx, xdp, off, ethertype, &p) < 0 || !p.ports || p.frag || p.bad) {
		stat_add(STAT_PASS_OTHER, 1);
		return 1;
	}

	__u8 proto = p.key.proto;
	if (service_port(p.key.sport, proto) || service_port(p.key.dport, proto))
		return pass(STAT_PASS_SERVICE, &p);

	__u64 now = bpf_ktime_get_ns();
	int data = p.payload >= min_burst_len;
	int tcp = proto == IPPROTO_TCP;
	int ctl = tcp && (p.tcpflags & (TCP_SYN | TCP_FIN | TCP_RST));
	int syn = ctl && (p.tcpflags & (TCP_SYN | TCP_ACK)) == TCP_SYN;

	struct flow_val *v = bpf_map_lookup_elem(&flows, &p.key);
	if (!v) {
		if (ctl) {
			// Nothing to count yet: the direction's entry is made by its
			// first segment that is not a SYN, FIN or RST. A SYN or SYN-ACK
			// is remembered for that entry.
			if (p.tcpflags & TCP_SYN) {
				struct mark_val nm = {.ns = now, .kind = syn ? MARK_SYN : MARK_SYNACK};
				bpf_map_update_elem(&marks, &p.key, &nm, BPF_ANY);
			}
			stat_add(STAT_PASS_NO_ENTRY, 1);
			return pass(STAT_PASS_CTL, &p);
		}
		struct mark_val *m = bpf_map_lookup_elem(&marks, &p.key);
		__u32 first_data = 0;
		if (!tcp) {
			// A UDP direction's first datagram passes and is remembered;
			// the second, within the idle gap, makes the entry and passes
			// too: user space, which saw two, knows to take counts.
			if (!m || m->kind != MARK_UDP || now - m->ns >= udp_gap_ns) {
				struct mark_val nm = {.ns = now, .kind = MARK_UDP, .data = data};
				bpf_map_update_elem(&marks, &p.key, &nm, BPF_ANY);
				stat_add(STAT_PASS_NO_ENTRY, 1);
				return pass(STAT_PASS_FIRST, &p);
			}
			first_data = m->data;
		}
		// A TCP direction whose SYN or SYN-ACK the filter passed, of a
		// handshake the server answered (user space saw the SYN-ACK, so it
		// knows to take counts): the entry is made as that packet would
		// have made it, and this packet is judged like any after it (the
		// handshake's last ACK is counted). Otherwise this packet passes:
		// the first of a direction user space may not know.
		int answered = 0;
		__u32 client = 0;
		__u64 since = now;
		if (tcp && m) {
			client = m->kind == MARK_SYN;
			answered = m->kind == MARK_SYNACK;
			if (client) {
				struct flow_key rk;
				__builtin_memcpy(rk.src, p.key.dst, 16);
				__builtin_memcpy(rk.dst, p.key.src, 16);
				rk.sport = p.key.dport;
				rk.dport = p.key.sport;
				rk.proto = p.key.proto;
				__builtin_memset(rk.pad, 0, sizeof(rk.pad));
				struct mark_val *rm = bpf_map_lookup_elem(&marks, &rk);
				answered = (rm && rm->kind == MARK_SYNACK) || bpf_map_lookup_elem(&flows, &rk);
			}
			if (answered)
				since = m->ns;
		}
		struct flow_val nv;
		__builtin_memset(&nv, 0, sizeof(nv));
		nv.last_ns = since;
		nv.last_pass_ns = since;
		nv.last_data_ns = since;
		nv.last_pass_data_ns = since;
		nv.data_seen = answered ? 0 : data + first_data;
		nv.client = client;
		if (bpf_map_update_elem(&flows, &p.key, &nv, BPF_NOEXIST) < 0 &&
		    !bpf_map_lookup_elem(&flows, &p.key))
			return pass(STAT_PASS_MAP_FULL, &p);
		if (m) {
			stat_add(STAT_MARK_HIT, 1);
			bpf_map_delete_elem(&marks, &p.key);
		}
		if (!answered)
			return pass(STAT_PASS_FIRST, &p);
		v = bpf_map_lookup_elem(&flows, &p.key);
		if (!v) // taken meanwhile
			return pass(STAT_PASS_FIRST, &p);
	} else {
		// A SYN (the client) or SYN-ACK (the server), or a UDP packet after
		// the idle gap, starts a new session in this direction on a 5-tuple
		// that had one: earlier counts belong to the old one. Splitting at
		// the SYN-ACK too keeps the server's counts of the old session with it.
		int start = (ctl && (p.tcpflags & TCP_SYN)) || (!tcp && now - v->last_ns >= udp_gap_ns);
		if (start) {
			__sync_fetch_and_add(&v->prev_packets, __sync_lock_test_and_set(&v->packets, 0));
			__sync_fetch_and_add(&v->prev_bytes, __sync_lock_test_and_set(&v->bytes, 0));
			__sync_fetch_and_add(&v->prev_payload, __sync_lock_test_and_set(&v->payload, 0));
			v->last_ns = now;
			v->last_pass_ns = now;
			v->last_data_ns = now;
			v->last_pass_data_ns = now;
			v->data_seen = data;
			if (tcp)
				v->client = syn;
			v->fresh = 1;
			return pass(ctl ? STAT_PASS_CTL : STAT_PASS_FIRST, &p);
		}
	}

	// A plain read and write, not an atomic add: two CPUs racing on one
	// direction's first payloads can at worst pass one packet more or less,
	// and a packet is either passed or counted, so the counts stay exact.
	__u32 seen = v->data_seen;
	if (data && seen < 2)
		v->data_seen = seen + 1;
	__u64 last_data = v->last_data_ns;
	v->last_ns = now;
	if (data)
		v->last_data_ns = now;
	if (ctl) {
		v->last_pass_ns = now;
		if (data)
			v->last_pass_data_ns = now;
		return pass(STAT_PASS_CTL, &p);
	}
	// The first packet of a session begun on a 5-tuple that had one, as the
	// first of a direction without an entry above: user space sees it before
	// anything of the session is counted.
	if (v->fresh) {
		v->fresh = 0;
		v->last_pass_ns = now;
		if (data)
			v->last_pass_data_ns = now;
		return pass(STAT_PASS_FIRST, &p);
	}
	// The first payloads carry the name (SNI, Host, CONNECT) that the
	// session is known by when DNS did not name it.
	if (data && seen < first_payloads(&p, v)) {
		v->last_pass_ns = now;
		v->last_pass_data_ns = now;
		return pass(STAT_PASS_FIRST, &p);
	}
	// Data after burst_gap of silence in this direction: user space's flow
	// stage counts it as an activity burst (keep-alive beat), so it must see it.
	if (data && now - last_data >= burst_gap_ns) {
		v->last_pass_ns = now;
		v->last_pass_data_ns = now;
		return pass(STAT_PASS_BURST, &p);
	}
	// A periodic sample keeps the session alive in user space (idle timeouts).
	// A data sample is skipped when user space has seen no data of this
	// direction for burst_gap: it would take it for a burst the wire never had.
	if (now - v->last_pass_ns >= sample_ns && !(data && now - v->last_pass_data_ns >= burst_gap_ns)) {
		v->last_pass_ns = now;
		if (data)
			v->last_pass_data_ns = now;
		return pass(STAT_PASS_SAMPLE, &p);
	}
	__sync_fetch_and_add(&v->packets, 1);
	__sync_fetch_and_add(&v->bytes, p.iplen);
	__sync_fetch_and_add(&v->payload, p.payload);
	stat_add(STAT_COUNTED, 1);
	stat_add(STAT_COUNTED_BYTES, p.iplen);
	return 0;
}

// TEST_RUN_AT_NET in cb[0] tells the filter that skb->data is the network
// header, as under BPF_PROG_TEST_RUN. On a packet socket the kernel clears cb
// before running the filter, and skb->data is the MAC header.
#define TEST_RUN_AT_NET 0x4c544e54

SEC("socket")
int launchtap_filter(struct __sk_buff *skb)
{
	__u32 off = 0;
	if (skb->cb[0] != TEST_RUN_AT_NET) {
		// Ethernet: the type field (after the kernel removed a VLAN tag, the
		// inner type) equals skb->protocol. Links without a MAC header
		// (tun, IP tunnels) start at the network header.
		__be16 t;
		if (bpf_skb_load_bytes(skb, 12, &t, 2) == 0 && t == skb->protocol)
			off = 14;
	}
	return decide(skb, 0, off, skb->protocol) ? PASS : 0;
}

// launchtap_xdp is the same filter at the driver, for dedicated tap ports:
// counted packets are dropped before the kernel builds an skb, which saves
// most of the per-packet cost, but they are gone for the whole host, not only
// for launchtap. The kernel removes one VLAN tag before AF_PACKET sees a frame;
// XDP sees it in-band, so the first tag is skipped here to decide alike.
SEC("xdp")
int launchtap_xdp(struct xdp_md *ctx)
{
	__u8 eth[18];
	if (bpf_xdp_load_bytes(ctx, 0, eth, 14) < 0) {
		stat_add(STAT_PASS_OTHER, 1);
		return XDP_PASS;
	}
	__u32 off = 14;
	__be16 proto = ((__u16)eth[13] << 8) | eth[12]; // network byte order, as skb->protocol
	if (proto == bpf_htons(0x8100) || proto == bpf_htons(0x88A8)) {
		if (bpf_xdp_load_bytes(ctx, 14, &eth[14], 4) < 0) {
			stat_add(STAT_PASS_OTHER, 1);
			return XDP_PASS;
		}
		proto = ((__u16)eth[17] << 8) | eth[16];
		off = 18;
	}
	return decide(ctx, 1, off, proto) ? XDP_PASS : XDP_DROP;
}

// ---- fanout ----
//
// The fanout hook runs before AF_PACKET pushes the MAC header back: skb->data
// is the network header here, in the kernel and under BPF_PROG_TEST_RUN.

// ip_proto_of reads the version nibble at off: the ethertype of a bare IP packet.
static __always_inline int ip_proto_of(struct __sk_buff *skb, __u32 off, __be16 *proto)
{
	__u8 v;
	if (bpf_skb_load_bytes(skb, off, &v, 1) < 0)
		return -1;
	if ((v >> 4) == 4)
		*proto = ETH_P_IP_BE;
	else if ((v >> 4) == 6)
		*proto = ETH_P_IPV6_BE;
	else
		return -1;
	return 0;
}

// L2_MAX_TAGS and L2_MAX_LABELS are sensor/decode's maxVLANTags and
// maxMPLSLabels.
#define L2_MAX_TAGS 8
#define L2_MAX_LABELS 8

static __always_inline int is_vlan(__be16 proto)
{
	return proto == bpf_htons(0x8100) || proto == bpf_htons(0x88A8) ||
	       proto == bpf_htons(0x9100) || proto == bpf_htons(0x9200);
}

// l2_walk steps from an EtherType at *off to the IP header the way
// sensor/decode does: VLAN tags (802.1Q, 802.1ad and the two pre-standard
// QinQ types), then an MPLS label stack (the payload's version nibble says
// IPv4 or IPv6) or a PPPoE session header. It returns 0 when off/proto
// point at what parse_ip reads (an IP header, or something it rejects).
static __always_inline int l2_walk(struct __sk_buff *skb, __u32 *off, __be16 *proto)
{
#pragma unroll
	for (int i = 0; i < L2_MAX_TAGS; i++) {
		if (!is_vlan(*proto))
			break;
		__be16 next;
		if (bpf_skb_load_bytes(skb, *off + 2, &next, 2) < 0)
			return -1;
		*proto = next;
		*off += 4;
	}
	if (*proto == bpf_htons(0x8847) || *proto == bpf_htons(0x8848)) {
#pragma unroll
		for (int i = 0; i < L2_MAX_LABELS; i++) {
			__u8 l[4];
			if (bpf_skb_load_bytes(skb, *off, l, 4) < 0)
				return -1;
			*off += 4;
			if (l[2] & 1) // bottom of the stack
				return ip_proto_of(skb, *off, proto);
		}
		return -1;
	}
	if (*proto == bpf_htons(0x8864)) {
		__u8 h[8];
		if (bpf_skb_load_bytes(skb, *off, h, 8) < 0 || h[0] != 0x11 || h[1])
			return -1;
		__u16 ppp = ((__u16)h[6] << 8) | h[7];
		*off += 8;
		if (ppp == 0x0021)
			*proto = ETH_P_IP_BE;
		else if (ppp == 0x0057)
			*proto = ETH_P_IPV6_BE;
		else
			return -1;
	}
	return 0;
}

// inner_ether reads the Ethernet header at off and moves off/proto to its payload.
static __always_inline int inner_ether(struct __sk_buff *skb, __u32 *off, __be16 *proto)
{
	__be16 t;
	if (bpf_skb_load_bytes(skb, *off + 12, &t, 2) < 0)
		return -1;
	*off += 14;
	*proto = t;
	return l2_walk(skb, off, proto);
}

// decap finds the packet inside a GRE (IP, Ethernet), ERSPAN I/II/III or
// VXLAN/VXLAN-GPE encapsulation with the rules of sensor/decode, so that
// remote-span feeds are steered by the monitored hosts, not the span source.
// It returns 1 when off/proto now point at an inner network header.
static __always_inline int decap(struct __sk_buff *skb, struct l4 *p, __u32 *off, __be16 *proto)
{
	if (p->key.proto == IPPROTO_UDP && p->ports && !p->frag &&
	    (p->key.dport == 4789 || p->key.sport == 4789 || p->key.dport == 4790 || p->key.sport == 4790)) {
		__u8 v[8];
		if (bpf_skb_load_bytes(skb, p->l4off + 8, v, 8) < 0 || v[7])
			return 0;
		*off = p->l4off + 16;
		if (v[0] == 0x08 || v[0] == 0x88)
			return inner_ether(skb, off, proto) == 0;
		if ((v[0] & 0xfc) != 0x0c || v[1] || v[2])
			return 0;
		switch (v[3]) { // VXLAN-GPE next protocol
		case 1:
			*proto = ETH_P_IP_BE;
			return 1;
		case 2:
			*proto = ETH_P_IPV6_BE;
			return 1;
		case 3:
			return inner_ether(skb, off, proto) == 0;
		}
		return 0;
	}
	if (p->key.proto != 47 || p->frag)
		return 0;
	__u8 g[4];
	if (bpf_skb_load_bytes(skb, p->l4off, g, 4) < 0)
		return 0;
	if ((g[1] & 0x07) || (g[0] & 0x40)) // GRE version 1 (PPTP), source routing
		return 0;
	__u32 o = p->l4off + 4;
	if (g[0] & 0x80) // checksum present
		o += 4;
	if (g[0] & 0x20) // key present
		o += 4;
	if (g[0] & 0x10) // sequence number present
		o += 4;
	__u16 gp = ((__u16)g[2] << 8) | g[3];
	switch (gp) {
	case 0x0800:
	case 0x86DD:
		*off = o;
		*proto = bpf_htons(gp);
		return 1;
	case 0x6558: // transparent Ethernet bridging
		*off = o;
		return inner_ether(skb, off, proto) == 0;
	case 0x88BE: { // ERSPAN type II (8-byte header) or, without a GRE sequence number, type I
		if (g[0] & 0x10) {
			__u8 ver;
			if (bpf_skb_load_bytes(skb, o, &ver, 1) < 0 || (ver >> 4) != 1)
				return 0;
			o += 8;
		}
		*off = o;
		return inner_ether(skb, off, proto) == 0;
	}
	case 0x22EB: { // ERSPAN type III: 12 bytes, 8 more when the O bit is set
		__u8 e[12];
		if (bpf_skb_load_bytes(skb, o, e, 12) < 0 || (e[0] >> 4) != 2)
			return 0;
		__u8 ft = (e[10] >> 2) & 0x1f;
		*off = o + 12 + ((e[11] & 1) ? 8 : 0);
		if (ft == 2)
			return ip_proto_of(skb, *off, proto) == 0;
		if (ft == 0)
			return inner_ether(skb, off, proto) == 0;
		return 0;
	}
	}
	return 0;
}

// is_internal looks a 16-byte address up in the internal networks. An
// IPv4-mapped address is looked up as IPv4, as netset.Set.Contains does.
static __always_inline int is_internal(const __u8 *a)
{
	int v4 = 1;
#pragma unroll
	for (int i = 0; i < 10; i++)
		if (a[i])
			v4 = 0;
	if (v4 && a[10] == 0xff && a[11] == 0xff) {
		struct lpm4 k = {.prefixlen = 32};
		__builtin_memcpy(k.addr, a + 12, 4);
		return bpf_map_lookup_elem(&internal4, &k) != NULL;
	}
	struct lpm6 k = {.prefixlen = 128};
	__builtin_memcpy(k.addr, a, 16);
	return bpf_map_lookup_elem(&internal6, &k) != NULL;
}

static __always_inline __u32 load_be32(const __u8 *b)
{
	return ((__u32)b[0] << 24) | ((__u32)b[1] << 16) | ((__u32)b[2] << 8) | b[3];
}

// addr_less compares two 16-byte addresses as big-endian numbers.
static __always_inline int addr_less(const __u8 *a, const __u8 *b)
{
#pragma unroll
	for (int i = 0; i < 16; i += 4) {
		__u32 x = load_be32(a + i), y = load_be32(b + i);
		if (x != y)
			return x < y;
	}
	return 0;
}

// addr_hash is shard.Hash: 32-bit FNV-1a over the 16-byte address.
static __always_inline __u32 addr_hash(const __u8 *a)
{
	__u32 h = 2166136261U;
#pragma unroll
	for (int i = 0; i < 16; i++) {
		h ^= a[i];
		h *= 16777619U;
	}
	return h;
}

// DHCP_MAX_OPTS is shard.MaxDHCPOptions: option entries (pads included)
// read looking for option 50.
#define DHCP_MAX_OPTS 64

// dhcp_msg finds a DHCPv4 message in a UDP packet to port 67 or 68: 1 with
// *start and *end its bounds when it has the fixed header and the magic
// cookie. The message ends where the UDP length, the IP length or the packet
// ends, whichever is first, as the decoder's payload.
static __always_inline int dhcp_msg(struct __sk_buff *skb, const struct l4 *p, __u32 *start, __u32 *end)
{
	if (p->key.proto != IPPROTO_UDP || !p->ports || (p->key.dport != 67 && p->key.dport != 68))
		return 0;
	__u32 e = skb->len;
	// An IP length of zero (IPv4) or a payload length of zero (IPv6) is
	// segmentation offload's: the packet's end is the datagram's.
	if (p->is6 ? p->iplen > 40 : p->iplen > 0) {
		if (p->ipoff + p->iplen < e)
			e = p->ipoff + p->iplen;
	}
	if (p->ulen >= 8 && p->l4off + p->ulen < e)
		e = p->l4off + p->ulen;
	__u32 s = p->l4off + 8;
	if (e < s + 240)
		return 0;
	__u8 m[4];
	if (bpf_skb_load_bytes(skb, s + 236, m, 4) < 0)
		return 0;
	if (m[0] != 0x63 || m[1] != 0x82 || m[2] != 0x53 || m[3] != 0x63)
		return 0;
	*start = s;
	*end = e;
	return 1;
}

// dhcp_client_mac is shard.DHCPClientMAC with host.UsableMAC: the client's
// Ethernet hardware address (htype 1, hlen 6), written to k as shard.MapKey
// of the MAC, when it can name a host (not zero, not a group address).
static __always_inline int dhcp_client_mac(struct __sk_buff *skb, __u32 start, struct host_key *k)
{
	__u8 h[4]; // op, htype, hlen, hops
	if (bpf_skb_load_bytes(skb, start, h, 4) < 0 || h[1] != 1 || h[2] != 6)
		return 0;
	if (bpf_skb_load_bytes(skb, start + 28, &k->b[10], 6) < 0)
		return 0;
	if (k->b[10] & 1)
		return 0;
	if (!(k->b[10] | k->b[11] | k->b[12] | k->b[13] | k->b[14] | k->b[15]))
		return 0;
#pragma unroll
	for (int i = 0; i < 10; i++)
		k->b[i] = 0xff;
	return 1;
}

// dhcp_addr is shard.DHCPAddr for the message at start..end: the client
// address it names (yiaddr, else ciaddr, else option 50), written
// IPv4-mapped to a.
static __always_inline int dhcp_addr(struct __sk_buff *skb, __u32 start, __u32 end, __u8 *a)
{
	__u8 h[8]; // ciaddr, yiaddr
	if (bpf_skb_load_bytes(skb, start + 12, h, 8) < 0)
		return 0;
	if (h[4] | h[5] | h[6] | h[7]) {
		__builtin_memcpy(a + 12, &h[4], 4);
		return 1;
	}
	if (h[0] | h[1] | h[2] | h[3]) {
		__builtin_memcpy(a + 12, &h[0], 4);
		return 1;
	}
	__u32 i = start + 240;
	for (int k = 0; k < DHCP_MAX_OPTS; k++) {
		if (i >= end)
			return 0;
		__u8 code;
		if (bpf_skb_load_bytes(skb, i, &code, 1) < 0 || code == 255)
			return 0;
		if (code == 0) {
			i++;
			continue;
		}
		if (i + 1 >= end)
			return 0;
		__u8 n;
		if (bpf_skb_load_bytes(skb, i + 1, &n, 1) < 0 || i + 2 + n > end)
			return 0;
		if (code == 50 && n == 4)
			return bpf_skb_load_bytes(skb, i + 2, a + 12, 4) == 0;
		i += 2 + n;
	}
	return 0;
}

// mac_hash is shard.HashKey of a MAC-keyed host: FNV-1a over the six MAC
// bytes (the last six of a MAC's host_key).
static __always_inline __u32 mac_hash(const struct host_key *k)
{
	__u32 h = 2166136261U;
#pragma unroll
	for (int i = 10; i < 16; i++) {
		h ^= k->b[i];
		h *= 16777619U;
	}
	return h;
}

// host_hash is shard.HashKey of the host that owns address a: what user
// space bound it to in hosts, else the address itself (shard.Hash).
static __always_inline __u32 host_hash(const struct host_key *a)
{
	__u32 *v = bpf_map_lookup_elem(&hosts, a);
	if (v)
		return *v;
	return addr_hash(a->b);
}

// launchtap_fanout returns shard.HashKey of the host that owns the packet
// (see sensor/shard for the rule), read from the innermost IP header after
// VLAN tags, MPLS, PPPoE and up to three encapsulations: a DHCPv4 message's
// client MAC, else the owner address, each through the hosts map.
SEC("socket")
int launchtap_fanout(struct __sk_buff *skb)
{
	struct l4 p;
	__builtin_memset(&p, 0, sizeof(p));
	__u32 off = 0;
	__be16 proto = skb->protocol;

	if (l2_walk(skb, &off, &proto) < 0)
		return 0;
	if (parse_ip(skb, 0, off, proto, &p) < 0)
		return 0;
	// Up to three encapsulations, like the user-space decoder.
#pragma unroll
	for (int i = 0; i < 3; i++) {
		if (!decap(skb, &p, &off, &proto))
			break;
		struct l4 in;
		__builtin_memset(&in, 0, sizeof(in));
		if (parse_ip(skb, 0, off, proto, &in) < 0)
			break;
		p = in;
	}

	struct host_key k = {.b = {[10] = 0xff, [11] = 0xff}};
	__u32 start, end;
	if (dhcp_msg(skb, &p, &start, &end)) {
		// A lease's whole exchange belongs to the client's MAC (its host,
		// when the MAC joined another).
		struct host_key m;
		if (dhcp_client_mac(skb, start, &m)) {
			__u32 *v = bpf_map_lookup_elem(&hosts, &m);
			if (v)
				return *v;
			return mac_hash(&m);
		}
		if (dhcp_addr(skb, start, end, k.b))
			return host_hash(&k);
	}

	const __u8 *src = p.key.src, *dst = p.key.dst;
	int si = is_internal(src), di = is_internal(dst);
	const __u8 *pick = src; // neither internal: the source
	if (si && !di)
		pick = src;
	else if (di && !si)
		pick = dst;
	else if (si && di) {
		if (p.key.sport != p.key.dport)
			pick = p.key.sport > p.key.dport ? src : dst; // the ephemeral (client) side
		else
			pick = addr_less(src, dst) ? src : dst;
	}
	__builtin_memcpy(k.b, pick, 16);
	return host_hash(&k);
}
