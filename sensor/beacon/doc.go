// Package beacon finds periodic communication: for every (internal source,
// destination, port, protocol, kind) pair it keeps a short, fixed-size history
// of "beats" (session starts, activity bursts inside a long session, or DNS
// queries under one registered domain) and rescores the pair each time a beat
// arrives. A pair becomes a Finding when its intervals cluster around a period
// (or small multiples of it) far more tightly than random, Poisson-like traffic
// could by chance; the Finding explains the period, jitter, missed beats, span
// and size regularity in plain words.
//
// A Detector is owned by one worker goroutine: it has no locks and is not safe
// for concurrent use. Memory is bounded by Config.MaxPairs and by the fixed
// HistoryLen beats kept per pair. The pair table is a segmented LRU (package
// slru): pairs seen once are evicted first, so a scan of millions of
// destinations cannot push out a pair with a history of beats; evictions are
// counted per class.
package beacon
