package capture

// prefetch hints the CPU to load the cache lines of [p, p+n) (PREFETCHT0).
//
//go:noescape
func prefetch(p *byte, n uintptr)
