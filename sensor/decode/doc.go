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
// frames; TestDifferentialGopacket checks it against gopacket's full decode.
//
// # Which fields are valid
//
// Decode's result says how far decoding got:
//
//   - OK: a TCP or UDP header was decoded; everything is valid.
//   - ErrFragment, ErrOtherTransport: the IP fields (Src, Dst, IPv6, TTL, TOS,
//     IPID, DF, IPOptLen, IPLen, Proto) and the link fields are valid; ports,
//     TCP fields and Payload are zero, except that an ICMPv6 message is in
//     Payload (neighbor discovery). Host identification and flow accounting
//     use such IP-only packets too.
//   - anything else: only TS, WireLen and whatever was decoded before the
//     failure; treat the packet as undecoded.
//
// # Lengths
//
// IPLen and PayloadLen come from the IP header, not the captured bytes, so a
// frame cut by the snap length still counts its bytes right; Payload holds
// only what was captured. Ethernet padding beyond the IP length is dropped.
// An IPv4 total length (or IPv6 payload length) of zero, which a sender-side
// capture of a segmentation-offload super-packet shows, is taken as the
// length on the wire. A first fragment is decoded with Fragment set and its
// PayloadLen covers that fragment only; later fragments are ErrFragment with
// their IPLen, so summing over all fragments counts each byte once.
// Checksums are not verified: offload makes them wrong in sender-side
// captures, and a sensor counts what crossed the wire regardless.
//
// # Link addresses
//
// SrcMAC/DstMAC are the innermost Ethernet header's. Linux cooked captures
// carry only the sender's address: it fills SrcMAC, DstMAC stays zero.
// VLAN is the innermost tag; for ERSPAN without an inner tag it is the VLAN
// field of the ERSPAN header (the mirrored frame's VLAN when the switch
// stripped the tag).
//
// # Tunnels
//
// After decapsulation the Packet describes the inner packet only: outer
// addresses, MACs and VLANs are cleared (a GRE tunnel carrying bare IP leaves
// HasMAC false), and Tunnel names the outermost encapsulation removed. GRE
// is followed for IPv4, IPv6, transparent Ethernet bridging and ERSPAN; other
// GRE payloads and GRE version 1 (PPTP) stay the outer packet with
// ErrOtherTransport. UDP to or from port 4789/4790 is decapsulated when the
// header looks like VXLAN (I flag set); otherwise it stays an ordinary UDP
// packet. At most three encapsulations are removed from one frame; a fourth,
// and a VLAN or MPLS stack deeper than eight, is ErrTunnel.
package decode
