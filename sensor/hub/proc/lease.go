package proc

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Leases share the partitions between the hub processes through the
// leases bucket, whose TTL is the lease: every Renew each process writes
// its member key (m.<id>) and rewrites (compare-and-set on the revision)
// the partition keys (p.<n>) it holds. A process that stops renewing — it
// died, or lost the cluster — has its keys expire after TTL, and the
// others create them on their next tick: a dead process's share moves
// within TTL + Renew. Each process aims at ceil(partitions / members):
// one that holds more releases the excess, so a process that joins gets
// its share on the others' next tick.
type Leases struct {
	kv     jetstream.KeyValue
	id     string
	parts  int
	renew  time.Duration
	ttl    time.Duration
	log    *slog.Logger
	gain   func(p int)
	lose   func(p int)
	mu     sync.Mutex
	owned  map[int]lease
	gained uint64
	lost   uint64
}

type lease struct {
	rev uint64
	at  time.Time // last successful write
}

// LeaseConfig configures Leases.
type LeaseConfig struct {
	ID         string        // this process's id, unique among the hub's processes
	Partitions int           // partitions to share
	TTL        time.Duration // the bucket's TTL: how long a lease lives unrenewed
	Renew      time.Duration // how often leases are renewed (default TTL/4)
	Log        *slog.Logger
	// Gain and Lose are called, from Run's goroutine, when this process
	// starts and stops holding a partition.
	Gain, Lose func(p int)
}

// Default lease timing: a dead process's partitions move within
// DefaultLeaseTTL + DefaultLeaseTTL/4, 25 s.
const DefaultLeaseTTL = 20 * time.Second

// NewLeases returns Leases over the bucket kv (whose TTL must be cfg.TTL).
func NewLeases(kv jetstream.KeyValue, cfg LeaseConfig) (*Leases, error) {
	if cfg.ID == "" || strings.ContainsAny(cfg.ID, ".*> ") {
		return nil, fmt.Errorf("hub: process id %q: want a non-empty token without dots, spaces or wildcards", cfg.ID)
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultLeaseTTL
	}
	if cfg.Renew <= 0 {
		cfg.Renew = cfg.TTL / 4
	}
	if cfg.Renew*2 > cfg.TTL {
		return nil, fmt.Errorf("hub: lease renewal %v must be at most half the lease TTL %v", cfg.Renew, cfg.TTL)
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Leases{kv: kv, id: cfg.ID, parts: cfg.Partitions, renew: cfg.Renew, ttl: cfg.TTL, log: cfg.Log,
		gain: cfg.Gain, lose: cfg.Lose, owned: map[int]lease{}}, nil
}

// Owned is the partitions held now, in order.
func (l *Leases) Owned() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]int, 0, len(l.owned))
	for p := range l.owned {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// Counts returns the partitions gained and lost so far.
func (l *Leases) Counts() (gained, lost uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.gained, l.lost
}

// Run holds leases until ctx ends, then releases them (a clean stop hands
// its partitions over at once) unless release is false (a crash, in tests).
func (l *Leases) Run(ctx context.Context, release bool) {
	t := time.NewTicker(l.renew)
	defer t.Stop()
	for {
		l.tick(ctx)
		select {
		case <-ctx.Done():
			if release {
				l.releaseAll()
			}
			return
		case <-t.C:
		}
	}
}

func memberKey(id string) string { return "m." + id }
func partKey(p int) string       { return "p." + strconv.Itoa(p) }

// tick renews, releases the excess and claims up to the fair share.
func (l *Leases) tick(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, l.renew)
	defer cancel()
	if _, err := l.kv.Put(ctx, memberKey(l.id), []byte(strconv.FormatInt(time.Now().Unix(), 10))); err != nil {
		l.log.Warn("hub: cannot renew membership", "err", err)
	}
	keys, err := l.kv.Keys(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
		l.log.Warn("hub: cannot list leases", "err", err)
		l.expireUnrenewed()
		return
	}
	members, held := 0, map[int]bool{}
	for _, k := range keys {
		switch {
		case strings.HasPrefix(k, "m."):
			members++
		case strings.HasPrefix(k, "p."):
			if p, err := strconv.Atoi(k[2:]); err == nil {
				held[p] = true
			}
		}
	}
	members = max(members, 1)
	target := (l.parts + members - 1) / members

	for _, p := range l.Owned() {
		l.mu.Lock()
		ls := l.owned[p]
		l.mu.Unlock()
		rev, err := l.kv.Update(ctx, partKey(p), []byte(l.id), ls.rev)
		switch {
		case err == nil:
			l.mu.Lock()
			l.owned[p] = lease{rev: rev, at: time.Now()}
			l.mu.Unlock()
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
			l.log.Warn("hub: partition lease taken over", "partition", p, "err", err)
			l.drop(p)
		default:
			l.log.Warn("hub: cannot renew partition lease", "partition", p, "err", err)
		}
	}
	l.expireUnrenewed()

	owned := l.Owned()
	for i := len(owned) - 1; i >= target && i >= 0; i-- {
		l.release(ctx, owned[i])
	}
	if len(owned) >= target {
		return
	}
	// Claim free partitions, starting at a place of our own so processes
	// starting together do not all race for partition 0.
	h := fnv.New32a()
	h.Write([]byte(l.id))
	start := int(h.Sum32() % uint32(l.parts))
	need := target - len(owned)
	for i := 0; i < l.parts && need > 0; i++ {
		p := (start + i) % l.parts
		if held[p] {
			continue
		}
		rev, err := l.kv.Create(ctx, partKey(p), []byte(l.id))
		if err != nil {
			if !errors.Is(err, jetstream.ErrKeyExists) {
				l.log.Warn("hub: cannot claim partition", "partition", p, "err", err)
			}
			continue
		}
		l.mu.Lock()
		l.owned[p] = lease{rev: rev, at: time.Now()}
		l.gained++
		l.mu.Unlock()
		need--
		l.log.Debug("hub: partition claimed", "partition", p)
		if l.gain != nil {
			l.gain(p)
		}
	}
}

// expireUnrenewed gives up the leases not renewed for half the TTL: the
// bucket may already have let them expire, and another process claim them.
func (l *Leases) expireUnrenewed() {
	for _, p := range l.Owned() {
		l.mu.Lock()
		stale := time.Since(l.owned[p].at) > l.ttl/2
		l.mu.Unlock()
		if stale {
			l.log.Warn("hub: partition lease not renewed in time: giving it up", "partition", p)
			l.drop(p)
		}
	}
}

func (l *Leases) drop(p int) {
	l.mu.Lock()
	_, ok := l.owned[p]
	delete(l.owned, p)
	if ok {
		l.lost++
	}
	l.mu.Unlock()
	if ok && l.lose != nil {
		l.lose(p)
	}
}

// release stops work on p, then deletes its key if it is still ours.
func (l *Leases) release(ctx context.Context, p int) {
	l.mu.Lock()
	ls := l.owned[p]
	l.mu.Unlock()
	l.drop(p)
	if err := l.kv.Delete(ctx, partKey(p), jetstream.LastRevision(ls.rev)); err != nil {
		l.log.Debug("hub: releasing partition", "partition", p, "err", err)
	}
}

func (l *Leases) releaseAll() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, p := range l.Owned() {
		l.release(ctx, p)
	}
	if err := l.kv.Delete(ctx, memberKey(l.id)); err != nil {
		l.log.Debug("hub: leaving", "err", err)
	}
}
