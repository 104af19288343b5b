// Package capture is the first stage of the launchtap pipeline: it turns
// capture inputs into Frames.
//
// Open accepts pcap files (microsecond, nanosecond and the "modified" Kuznetzov
// variant, either byte order), pcapng files (several sections with their own
// byte order, several interfaces with their own link type and timestamp
// resolution), either of them gzip-compressed (recognised by the gzip magic,
// not the file name), directories of rotated captures and "-" for standard
// input. Several inputs are merged into one Source in timestamp order.
//
// The readers are hand-written rather than built on gopacket's pcapgo: they
// report the byte offset of a truncated record, keep per-interface link types
// and resolutions across pcapng sections, and hand out frames that alias the
// read buffer, so reading allocates nothing per packet. pcapgo serves as the
// differential oracle in the tests.
//
// Untrusted input is bounded: a record may carry at most MaxRecordLen
// captured bytes, a pcapng block at most MaxBlockLen bytes, a file at most
// MaxInterfaces interfaces. Violations are errors naming the file and offset,
// never panics or allocations of the claimed size.
package capture
