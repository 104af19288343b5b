package syslog

import "errors"

// errFull is returned by a backlog at its bound; the message is dropped.
var errFull = errors.New("backlog full")

// backlog holds one destination's messages from enqueue until the transport
// confirms them. Records are handed out in order by next; commit releases the
// oldest sent ones; rewind makes every sent-but-uncommitted record unsent
// again (after a connection loss). Only the destination's worker uses it.
type backlog interface {
	append(rec []byte) error
	next() ([]byte, error) // nil, nil when nothing is unsent
	commit(n int) error
	rewind() int
	depth() int  // records not committed
	unsent() int // records not handed out since the last rewind
	// full reports that append would refuse a record for want of room
	// whatever its size. The worker then leaves messages in the enqueue
	// channel, which is a second bound of the same size, rather than take
	// them only to drop them. A spool, bounded in bytes, never says so.
	full() bool
	// durable reports that records outlive the process (a spool): what is
	// left at shutdown stays for the next start instead of being dropped.
	durable() bool
	sync() error // make appends and the commit point durable (spool)
	close() error
}

// memBacklog is the in-memory backlog, bounded by a record count.
type memBacklog struct {
	recs  [][]byte
	start int // first uncommitted record
	sent  int // records after start handed out by next
	max   int
}

func newMemBacklog(max int) *memBacklog { return &memBacklog{max: max} }

func (m *memBacklog) append(rec []byte) error {
	if len(m.recs)-m.start >= m.max {
		return errFull
	}
	m.recs = append(m.recs, rec)
	return nil
}

func (m *memBacklog) next() ([]byte, error) {
	i := m.start + m.sent
	if i >= len(m.recs) {
		return nil, nil
	}
	m.sent++
	return m.recs[i], nil
}

func (m *memBacklog) commit(n int) error {
	n = min(n, m.sent)
	for i := m.start; i < m.start+n; i++ {
		m.recs[i] = nil
	}
	m.start += n
	m.sent -= n
	// Compact once the committed prefix dominates, keeping the slice bounded.
	if m.start > 64 && m.start*2 > len(m.recs) {
		m.recs = append(m.recs[:0], m.recs[m.start:]...)
		m.start = 0
	}
	return nil
}

func (m *memBacklog) rewind() int {
	n := m.sent
	m.sent = 0
	return n
}

func (m *memBacklog) depth() int    { return len(m.recs) - m.start }
func (m *memBacklog) unsent() int   { return len(m.recs) - m.start - m.sent }
func (m *memBacklog) full() bool    { return m.depth() >= m.max }
func (m *memBacklog) durable() bool { return false }
func (m *memBacklog) sync() error   { return nil }
func (m *memBacklog) close() error {
	m.recs, m.start, m.sent = nil, 0, 0
	return nil
}
