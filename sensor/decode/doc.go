// Package decode turns captured frames into the Packet summary every later
// stage consumes (flow tracking, DNS, host identification, detection).
//
// The decoder is a hand-written, switch-driven parser over the frame's bytes:
// link layer (Ethernet with 802.1Q/802.1ad/QinQ stacks, MPLS, PPPoE, Linux
// cooked SLL/SLL2, raw IP, BSD NULL/LOOP), IPv4 with options and fragments,
// IPv6 with extension headers, TCP and UDP, and the encapsulations remote-span
// feeds arrive in (GRE, ERSPAN type I/II/III, VXLAN and VXLAN-GPE). It fills a
// caller-owned Packet in place and allocates nothing, takes no locks and calls
// no interfaces, so one Decoder per worker goroutine keeps up with line rate.
// BenchmarkDecode compares it with gopacket's DecodingLayerParser on the same
// frames.
//
// Which fields are valid depends on the returned ErrKind:
//
//   - OK: a TCP or UDP header was decoded; everything is valid.
//   - ErrFragment, ErrOtherTransport: the IP fields (Src, Dst, IPv6, TTL, TOS,
//     IPID, DF, IPOptLen, IPLen, Proto) and the link fields are valid; ports,
//     TCP fields and Payload are zero. Host identification and flow accounting
//     use such IP-only packets too.
//   - anything else: only TS, WireLen and whatever was decoded before the
//     failure; treat the packet as undecoded.
//
// After decapsulation the Packet describes the inner packet only; Tunnel names
// the outermost encapsulation that was removed.
package decode
