package capture

// prefetch hints the CPU to load the cache lines of [p, p+n) (PRFM PLDL1KEEP).
//
//go:noescape
func prefetch(p *byte, n uintptr)
