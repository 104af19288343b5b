package capture

// hintLen is how much of what follows a take the mapped path asks the CPU to
// load: the next record's header and the start of its frame, which decoding
// reads next. Without the hint that first touch misses the cache (the bytes
// come from the page cache, not from a copy the CPU just made, as read(2)
// gives tcpdump): about a tenth of an office replay's CPU. The hint is
// issued a whole record's work before the bytes are read, enough to hide
// the latency, and covers only what is read: hinting whole records cost
// as much as the misses it saved.
const hintLen = 128
