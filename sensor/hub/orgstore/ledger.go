package orgstore

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/jackc/pgx/v5"
	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/state"
)

// Ledger is one sensor's alert memory in the organisation's store: what
// the hub's alert stage (pipeline.AlertStage's Ledger) asks before
// delivering and tells after judging. Fates are buffered (bounded) and
// written with that sensor's next Checkpoint, as sensor/state does, or by
// Flush.
type Ledger struct {
	s      *Store
	sensor string

	mu      sync.Mutex
	pending []state.Finding
	alerted *simplelru.LRU[string, struct{}]
}

// ledgerLRU bounds the ids a Ledger remembers without asking the database.
const ledgerLRU = 1 << 16

// Ledger returns sensor's ledger (the hub names itself as the sensor of its
// own alerts).
func (s *Store) Ledger(sensor string) *Ledger { return s.ledger(clean(sensor)) }

func (s *Store) ledger(sensor string) *Ledger {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.ledgers[sensor]
	if l == nil {
		lru, _ := simplelru.NewLRU[string, struct{}](ledgerLRU, nil)
		l = &Ledger{s: s, sensor: sensor, alerted: lru}
		s.ledgers[sensor] = l
	}
	return l
}

// askTimeout bounds the database question Alerted asks: the alert stage
// waits for it.
const askTimeout = 2 * time.Second

// Alerted reports whether an alert with this id was delivered before for
// this sensor, by this process or by another hub process sharing the
// database (one that took over a partition asks the database). When the
// database cannot answer it says no: an alert repeated beats one lost.
func (l *Ledger) Alerted(id string) bool {
	l.mu.Lock()
	if l.alerted.Contains(id) {
		l.mu.Unlock()
		return true
	}
	for _, f := range l.pending {
		if f.Fate == state.Alerted && f.Alert.ID == id {
			l.mu.Unlock()
			return true
		}
	}
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), askTimeout)
	defer cancel()
	var one int
	err := l.s.pool.QueryRow(ctx, "SELECT 1 FROM findings WHERE sensor = $1 AND id = $2 AND fate = $3", l.sensor, clean(id), string(state.Alerted)).Scan(&one)
	switch {
	case err == nil:
		l.mu.Lock()
		l.alerted.Add(id, struct{}{})
		l.mu.Unlock()
		return true
	case !errors.Is(err, pgx.ErrNoRows):
		l.s.count(func(st *Stats) { st.Errors++ })
	}
	return false
}

// Record remembers an alert's fate until the sensor's next Checkpoint.
func (l *Ledger) Record(a *alert.Alert, fate, rule, label string) {
	if a == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if state.Fate(fate) == state.Alerted {
		l.alerted.Add(a.ID, struct{}{})
	}
	if len(l.pending) >= l.s.opt.MaxPending {
		l.pending = l.pending[1:]
		l.s.count(func(st *Stats) { st.Dropped++ })
	}
	l.pending = append(l.pending, state.Finding{Alert: a, Fate: state.Fate(fate), Rule: rule, Label: label, Sensor: l.sensor})
}

// Flush writes the fates recorded since the last checkpoint or flush now,
// for a ledger whose name never checkpoints (the hub's own alerts). On
// error they stay pending.
func (l *Ledger) Flush(ctx context.Context) error {
	fates := l.take()
	if len(fates) == 0 {
		return nil
	}
	if err := l.s.Findings(ctx, fates); err != nil {
		l.putBack(fates)
		return err
	}
	return nil
}

// Pending is the fates waiting for the next checkpoint.
func (l *Ledger) Pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pending)
}

func (l *Ledger) take() []state.Finding {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.pending
	l.pending = nil
	return p
}

// putBack returns fates a failed checkpoint did not write, before those
// recorded since, within the bound.
func (l *Ledger) putBack(fates []state.Finding) {
	if len(fates) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending = append(fates, l.pending...)
	if over := len(l.pending) - l.s.opt.MaxPending; over > 0 {
		l.pending = l.pending[over:]
		l.s.count(func(st *Stats) { st.Dropped += uint64(over) })
	}
}
