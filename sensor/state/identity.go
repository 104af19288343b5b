package state

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/netip"

	"github.com/launchtap/launchtap/sensor/host"
)

// writeIdentity replaces the stored binder state with id's.
func writeIdentity(ctx context.Context, tx *sql.Tx, id *host.Saved) error {
	if id == nil {
		return nil
	}
	for _, t := range []string{"host_joins", "host_addr_bindings", "host_routers"} {
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+t); err != nil {
			return err
		}
	}
	if len(id.Joins) > 0 {
		st, err := tx.PrepareContext(ctx, `INSERT INTO host_joins(member, host, last_ns) VALUES (?, ?, ?)
			ON CONFLICT(member) DO UPDATE SET host = excluded.host, last_ns = excluded.last_ns WHERE excluded.last_ns >= last_ns`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, j := range id.Joins {
			if _, err := st.ExecContext(ctx, host.MACString(j.Member), host.MACString(j.Host), j.Last); err != nil {
				return err
			}
		}
	}
	if len(id.Bindings) > 0 {
		st, err := tx.PrepareContext(ctx, `INSERT INTO host_addr_bindings(ip, mac, last_ns, lease) VALUES (?, ?, ?, ?)
			ON CONFLICT(ip) DO UPDATE SET mac = excluded.mac, last_ns = excluded.last_ns, lease = excluded.lease WHERE excluded.last_ns >= last_ns`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, b := range id.Bindings {
			if !b.Addr.IsValid() {
				continue
			}
			if _, err := st.ExecContext(ctx, b.Addr.String(), host.MACString(b.MAC), b.Last, b.Lease); err != nil {
				return err
			}
		}
	}
	if len(id.Routers) > 0 {
		st, err := tx.PrepareContext(ctx, "INSERT INTO host_routers(mac) VALUES (?) ON CONFLICT(mac) DO NOTHING")
		if err != nil {
			return err
		}
		defer st.Close()
		for _, m := range id.Routers {
			if _, err := st.ExecContext(ctx, host.MACString(m)); err != nil {
				return err
			}
		}
	}
	return nil
}

// Identity reads the host binder's state the newest checkpoint kept, at
// most max of each kind (joins and bindings the most recent), with the
// newest checkpointed capture time as its Clock. A row that does not parse
// is skipped and counted.
func (s *Store) Identity(ctx context.Context, max int) (id host.Saved, bad int, err error) {
	id.Clock = s.Clock(ctx)
	wrap := func(err error) error { return fmt.Errorf("state: %s: reading host identity: %w", s.path, err) }
	rows, err := s.db.QueryContext(ctx, "SELECT member, host, last_ns FROM host_joins ORDER BY last_ns DESC LIMIT ?", max)
	if err != nil {
		return id, bad, wrap(err)
	}
	for rows.Next() {
		var m, h, last any
		if err := rows.Scan(&m, &h, &last); err != nil {
			rows.Close()
			return id, bad, wrap(err)
		}
		member, ok1 := parseMAC(m)
		canon, ok2 := parseMAC(h)
		ts, ok3 := last.(int64)
		if !ok1 || !ok2 || !ok3 {
			bad++
			continue
		}
		id.Joins = append(id.Joins, host.Join{Member: member, Host: canon, Last: ts})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return id, bad, wrap(err)
	}
	rows, err = s.db.QueryContext(ctx, "SELECT ip, mac, last_ns, lease FROM host_addr_bindings ORDER BY last_ns DESC LIMIT ?", max)
	if err != nil {
		return id, bad, wrap(err)
	}
	for rows.Next() {
		var ip, m, last, lease any
		if err := rows.Scan(&ip, &m, &last, &lease); err != nil {
			rows.Close()
			return id, bad, wrap(err)
		}
		a, ok1 := parseAddr(ip)
		mac, ok2 := parseMAC(m)
		ts, ok3 := last.(int64)
		l, ok4 := lease.(int64)
		if !ok1 || !ok2 || !ok3 || !ok4 || l != 0 && l != 1 {
			bad++
			continue
		}
		id.Bindings = append(id.Bindings, host.Binding{Addr: a, MAC: mac, Last: ts, Lease: l == 1})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return id, bad, wrap(err)
	}
	rows, err = s.db.QueryContext(ctx, "SELECT mac FROM host_routers LIMIT ?", max)
	if err != nil {
		return id, bad, wrap(err)
	}
	defer rows.Close()
	for rows.Next() {
		var m any
		if err := rows.Scan(&m); err != nil {
			return id, bad, wrap(err)
		}
		mac, ok := parseMAC(m)
		if !ok {
			bad++
			continue
		}
		id.Routers = append(id.Routers, mac)
	}
	return id, bad, rows.Err()
}

// Stored columns are scanned as they are (SQLite keeps any type in any
// column): a value of the wrong type makes its row unreadable, counted,
// not the whole read.

// parseMAC reads a stored MAC: six bytes that name a host.
func parseMAC(v any) ([6]byte, bool) {
	s, ok := v.(string)
	if !ok {
		return [6]byte{}, false
	}
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 || !host.UsableMAC([6]byte(hw)) {
		return [6]byte{}, false
	}
	return [6]byte(hw), true
}

// parseAddr reads a stored IP address.
func parseAddr(v any) (netip.Addr, bool) {
	s, ok := v.(string)
	if !ok {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	return a, err == nil
}
