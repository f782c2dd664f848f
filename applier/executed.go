package applier

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/recoup-dev/recoup/repl"
)

// executed is what the new master has executed, as the missing-set search
// needs it.
//
// MySQL: base is gtid_executed, an exact set; exact is empty.
//
// MariaDB: GTID positions hold one sequence number per domain and ignore
// server ids, so "0-3-101 executed" would hide a lost 0-1-101. The new
// master's gtid_slave_pos is the divergence point: per domain, the last
// transaction it received by replication before it was promoted. base is
// every sequence number up to it (per domain: 1..slave_pos, or 1..binlog_pos
// for a domain the new master never replicated). Whatever the new master
// binlogged past the divergence point (its own writes after promotion,
// and transactions recoup replayed) is read from its binary log with SHOW
// BINLOG EVENTS and kept in exact, with server ids: a captured transaction
// past the divergence point is executed only if exact holds its very GTID.
type executed struct {
	flavor     repl.Flavor
	base       repl.GTIDSet
	exact      map[repl.GTID]bool
	bySlot     map[slot]repl.GTID // exact, by domain and sequence number
	text       string             // as read, for the report
	divergence string
}

// slot is a MariaDB domain and sequence number.
type slot struct {
	domain uint32
	seq    uint64
}

// has reports whether the new master executed g.
func (e *executed) has(g repl.GTID) bool { return e.exact[g] || e.base.Contains(g) }

// collision returns the new master's GTID that holds g's domain and
// sequence number with another server id, if any.
func (e *executed) collision(g repl.GTID) (repl.GTID, bool) {
	o, ok := e.bySlot[slot{g.Domain, g.Seq}]
	return o, ok && o != g
}

// readExecuted reads the new master's executed GTIDs (see executed).
func readExecuted(ctx context.Context, conn *sql.Conn, flavor repl.Flavor) (*executed, error) {
	e := &executed{flavor: flavor, exact: map[repl.GTID]bool{}, bySlot: map[slot]repl.GTID{}}
	if flavor == repl.MySQL {
		var text string
		if err := conn.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_executed").Scan(&text); err != nil {
			return nil, fmt.Errorf("reading gtid_executed of the new master: %w", err)
		}
		set, err := repl.ParseGTIDSet(repl.MySQL, strings.ReplaceAll(text, "\n", ""))
		if err != nil {
			return nil, fmt.Errorf("parsing gtid_executed of the new master: %w", err)
		}
		e.base, e.text = set, set.String()
		return e, nil
	}
	return e, e.readMariaDB(ctx, conn)
}

func (e *executed) readMariaDB(ctx context.Context, conn *sql.Conn) error {
	var binlogText, slaveText string
	err := conn.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_binlog_pos, @@GLOBAL.gtid_slave_pos").Scan(&binlogText, &slaveText)
	if err != nil {
		return fmt.Errorf("reading gtid_binlog_pos and gtid_slave_pos of the new master: %w", err)
	}
	binlog, err1 := repl.ParseGTIDSet(repl.MariaDB, binlogText)
	slave, err2 := repl.ParseGTIDSet(repl.MariaDB, slaveText)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("parsing the new master's GTID positions %q, %q: %v %v", binlogText, slaveText, err1, err2)
	}
	e.text, e.divergence = binlogText, slaveText
	if slaveText != "" {
		e.text = "binlog " + binlogText + "; slave " + slaveText
	}
	slaveLast := map[uint32]repl.GTID{}
	for _, g := range slave.Last() {
		slaveLast[g.Domain] = g
	}
	own := slave
	scan := map[uint32]uint64{} // domain -> divergence sequence number
	for _, b := range binlog.Last() {
		p, ok := slaveLast[b.Domain]
		switch {
		case !ok:
			pos, err := positionOf(b)
			if err != nil {
				return err
			}
			own = own.Union(pos)
		case b.Seq > p.Seq:
			scan[b.Domain] = p.Seq
		}
	}
	e.base = own
	if len(scan) == 0 {
		return nil
	}
	gtids, err := binlogGTIDsAfter(ctx, conn, scan)
	if err != nil {
		return err
	}
	for _, g := range gtids {
		e.exact[g] = true
		e.bySlot[slot{g.Domain, g.Seq}] = g
	}
	return nil
}

// positionOf is the set 1..g.Seq of g's domain.
func positionOf(g repl.GTID) (repl.GTIDSet, error) {
	s, err := repl.ParseGTIDSet(repl.MariaDB, g.String())
	if err != nil {
		return repl.GTIDSet{}, fmt.Errorf("GTID position %s: %w", g, err)
	}
	return s, nil
}

// binlogGTIDsAfter returns the GTIDs the new master's binary log holds, in
// the domains of after, with a sequence number above after's. It reads
// the files backwards until one starts (its Gtid_list event) at or before
// the divergence point of every such domain, then reads the GTID events of
// that file and the later ones.
func binlogGTIDsAfter(ctx context.Context, conn *sql.Conn, after map[uint32]uint64) ([]repl.GTID, error) {
	files, err := binlogFiles(ctx, conn)
	if err != nil {
		return nil, err
	}
	start := -1
	for i := len(files) - 1; i >= 0 && start < 0; i-- {
		state, err := fileStartState(ctx, conn, files[i])
		if err != nil {
			return nil, err
		}
		ok := true
		for _, g := range state.Last() {
			if seq, scanned := after[g.Domain]; scanned && g.Seq > seq {
				ok = false
			}
		}
		if ok {
			start = i
		}
	}
	if start < 0 {
		return nil, fmt.Errorf("the new master's binary logs were purged past the divergence point %v: cannot tell what it executed", after)
	}
	var out []repl.GTID
	for _, f := range files[start:] {
		if out, err = fileGTIDs(ctx, conn, f, after, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func binlogFiles(ctx context.Context, conn *sql.Conn) ([]string, error) {
	rows, err := conn.QueryContext(ctx, "SHOW BINARY LOGS")
	if err != nil {
		return nil, fmt.Errorf("listing the new master's binary logs: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var files []string
	for rows.Next() {
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("listing the new master's binary logs: %w", err)
		}
		name := string(vals[0])
		if !isFileName(name) {
			return nil, fmt.Errorf("unexpected binary log name %q", name)
		}
		files = append(files, name)
	}
	return files, rows.Err()
}

// isFileName accepts the binary log names a server gives: letters, digits,
// '.', '-', '_'. They are written into SHOW BINLOG EVENTS IN '...', which
// takes no placeholder.
func isFileName(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for _, c := range s {
		if !(c == '.' || c == '-' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// binlogEvent is one row of SHOW BINLOG EVENTS.
type binlogEvent struct {
	typ  string
	info string
}

// eachEvent runs SHOW BINLOG EVENTS IN file [LIMIT n] and calls fn per
// row until it returns false.
func eachEvent(ctx context.Context, conn *sql.Conn, file string, limit int, fn func(binlogEvent) (bool, error)) error {
	q := "SHOW BINLOG EVENTS IN '" + file + "'"
	if limit > 0 {
		q += " LIMIT " + strconv.Itoa(limit)
	}
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("reading binary log %s of the new master: %w", file, err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, typ, info sql.RawBytes
		var pos, serverID, end sql.RawBytes
		if err := rows.Scan(&name, &pos, &typ, &serverID, &end, &info); err != nil {
			return fmt.Errorf("reading binary log %s of the new master: %w", file, err)
		}
		more, err := fn(binlogEvent{typ: string(typ), info: string(info)})
		if err != nil || !more {
			return err
		}
	}
	return rows.Err()
}

// fileStartState is the GTID state a binary log file starts with, from its
// Gtid_list event ("[0-1-100,1-2-5]").
func fileStartState(ctx context.Context, conn *sql.Conn, file string) (repl.GTIDSet, error) {
	state := repl.NewGTIDSet(repl.MariaDB)
	found := false
	err := eachEvent(ctx, conn, file, 4, func(ev binlogEvent) (bool, error) {
		if ev.typ != "Gtid_list" {
			return true, nil
		}
		found = true
		s, err := repl.ParseGTIDSet(repl.MariaDB, strings.Trim(ev.info, "[] "))
		state = s
		return false, err
	})
	if err == nil && !found {
		err = fmt.Errorf("binary log %s has no Gtid_list event", file)
	}
	return state, err
}

// fileGTIDs appends the GTIDs of one file's GTID events ("BEGIN GTID
// 0-1-5", "GTID 0-1-6 cid=9") in the domains of after, above after's
// sequence number.
func fileGTIDs(ctx context.Context, conn *sql.Conn, file string, after map[uint32]uint64, out []repl.GTID) ([]repl.GTID, error) {
	err := eachEvent(ctx, conn, file, 0, func(ev binlogEvent) (bool, error) {
		if ev.typ != "Gtid" {
			return true, nil
		}
		g, err := gtidOfInfo(ev.info)
		if err != nil {
			return false, fmt.Errorf("binary log %s: %w", file, err)
		}
		if seq, ok := after[g.Domain]; ok && g.Seq > seq {
			out = append(out, g)
		}
		return true, nil
	})
	return out, err
}

// gtidOfInfo parses the GTID out of a Gtid event's Info column.
func gtidOfInfo(info string) (repl.GTID, error) {
	f := strings.Fields(info)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "GTID" {
			return repl.ParseGTID(repl.MariaDB, f[i+1])
		}
	}
	return repl.GTID{}, fmt.Errorf("no GTID in Gtid event info %q", info)
}
