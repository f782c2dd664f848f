package main

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/recoup-dev/recoup/repl"
)

// binlogGTIDs is the GTIDs in the server's binary logs, event by event,
// as "domain-server-seq". Neither gtid_binlog_pos (the last sequence number
// per domain and server id) nor a repl.GTIDSet (which keys MariaDB GTIDs
// on domain and sequence number only) can tell 0-1-7 from 0-2-7, and after
// a conflict the new master holds one and not the other.
func binlogGTIDs(ctx context.Context, db *sql.DB) (map[string]bool, error) {
	set := map[string]bool{}
	files, err := column(ctx, db, "SHOW BINARY LOGS", 0, 0)
	if err != nil {
		return set, err
	}
	for _, f := range files {
		if strings.ContainsAny(f[0], "'\\") {
			return set, fmt.Errorf("unexpected binlog name %q", f[0])
		}
		// Columns: Log_name, Pos, Event_type, Server_id, End_log_pos, Info.
		evs, err := column(ctx, db, "SHOW BINLOG EVENTS IN '"+f[0]+"'", 2, 5)
		if err != nil {
			return set, err
		}
		for _, ev := range evs {
			if ev[0] != "Gtid" {
				continue
			}
			fs := strings.Fields(ev[1]) // "BEGIN GTID 0-1-7" or "GTID 0-1-7"
			g, err := repl.ParseGTID(repl.MariaDB, fs[len(fs)-1])
			if err != nil {
				return set, fmt.Errorf("binlog event %q: %w", ev[1], err)
			}
			set[g.String()] = true
		}
	}
	return set, nil
}

// column runs q and returns columns a and b of every row.
func column(ctx context.Context, db *sql.DB, q string, a, b int) ([][2]string, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", q, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	if a >= len(cols) || b >= len(cols) {
		return nil, fmt.Errorf("%s: %d columns", q, len(cols))
	}
	var out [][2]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("%s: %w", q, err)
		}
		out = append(out, [2]string{vals[a].String, vals[b].String})
	}
	return out, rows.Err()
}
