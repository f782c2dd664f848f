package applier

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/recoup-dev/recoup/conflict"
	"github.com/recoup-dev/recoup/repl"
)

// Source-wins overwrites cannot use the original row events: their
// before-images do not match the rows the new master holds. The applier
// writes the after-images with typed statements instead, every value a
// bound parameter, only for the rows the planner did not find already in
// their end state:
//
//	INSERT, UPDATE:  [DELETE FROM t WHERE <before key> LIMIT 1]   (key changed)
//	                 INSERT INTO t (cols) VALUES (?...)
//	                 ON DUPLICATE KEY UPDATE c = VALUES(c), ...
//	DELETE:          DELETE FROM t WHERE <before key> LIMIT 1
//
// ON DUPLICATE KEY UPDATE rewrites the existing row in place; REPLACE
// would delete and re-insert it and so fire ON DELETE CASCADE on child
// rows. Tables without a key match whole rows null-safely (one row per
// change). Generated columns are left to the server.
//
// Statements fire the new master's triggers, and MariaDB cannot disable
// triggers for a session; the captured transaction already holds the
// rows its triggers wrote on the origin, so replaying them through
// triggers would write them twice. A transaction on a table with triggers
// is therefore never overwritten: the run stops with an error.

// overwriteStmt is one typed statement.
type overwriteStmt struct {
	query string
	args  []any
}

// overwriteStatements builds the statements of one ApplyOverwrite
// transaction: every row not AlreadyApplied.
func overwriteStatements(t *repl.Txn, d *conflict.TxnDecision) ([]overwriteStmt, error) {
	var out []overwriteStmt
	for _, rd := range d.Rows {
		switch rd.Verdict {
		case conflict.AlreadyApplied:
			continue
		case conflict.Apply, conflict.ApplyOverwrite:
		default:
			return nil, fmt.Errorf("row %d of %s has verdict %s in a transaction to overwrite", rd.Index, t.GTID, rd.Verdict)
		}
		c := t.Changes[rd.Index]
		switch c.Type() {
		case repl.Insert:
			out = append(out, upsert(c.Table, c.After))
		case repl.Update:
			if keyChanged(c) {
				out = append(out, deleteOne(c.Table, c.Before))
			}
			out = append(out, upsert(c.Table, c.After))
		case repl.Delete:
			out = append(out, deleteOne(c.Table, c.Before))
		}
	}
	return out, nil
}

func keyChanged(c repl.RowChange) bool {
	cols := c.Table.KeyColumns()
	if cols == nil {
		return true // keyless: the before-image row is removed, the after-image added
	}
	for _, i := range cols {
		if !c.Before[i].Equal(c.After[i]) {
			return true
		}
	}
	return false
}

// writableColumns are the columns an INSERT may name: not generated.
func writableColumns(t *repl.Table) []int {
	var cols []int
	for i, c := range t.Columns {
		if c.Generated == "" {
			cols = append(cols, i)
		}
	}
	return cols
}

func upsert(t *repl.Table, row repl.Row) overwriteStmt {
	cols := writableColumns(t)
	var b strings.Builder
	b.WriteString("INSERT INTO " + tableRef(t) + " (" + columnList(t, cols) + ") VALUES (")
	args := make([]any, 0, len(cols))
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("?")
		args = append(args, row[c].SQLArg())
	}
	b.WriteString(")")
	if t.KeyColumns() != nil {
		b.WriteString(" ON DUPLICATE KEY UPDATE ")
		for i, c := range cols {
			if i > 0 {
				b.WriteString(", ")
			}
			n := quoteIdent(t.Columns[c].Name)
			b.WriteString(n + " = VALUES(" + n + ")")
		}
	}
	return overwriteStmt{query: b.String(), args: args}
}

// deleteOne deletes the row with row's identity: its key, or the whole
// row (null-safely) when the table has no key.
func deleteOne(t *repl.Table, row repl.Row) overwriteStmt {
	cols := t.KeyColumns()
	nullSafe := cols == nil
	if nullSafe {
		cols = allColumns(t)
	}
	where, args := keyMatch(t, cols, row, nullSafe, nil)
	return overwriteStmt{query: "DELETE FROM " + tableRef(t) + " WHERE " + where + " LIMIT 1", args: args}
}

// tablesWithTriggers reports which tables of t have triggers on the new
// master, as information_schema shows them to the applier's user (MariaDB
// shows a table's triggers to users with the TRIGGER privilege on it).
func tablesWithTriggers(ctx context.Context, q querier, t *repl.Txn) ([]string, error) {
	seen := map[string]bool{}
	var found []string
	for _, c := range t.Changes {
		name := c.Table.QualifiedName()
		if seen[name] {
			continue
		}
		seen[name] = true
		var n int
		rows, err := q.QueryContext(ctx, "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = ? AND EVENT_OBJECT_TABLE = ?",
			[]byte(c.Table.Schema), []byte(c.Table.Name))
		if err != nil {
			return nil, fmt.Errorf("looking up triggers of %s: %w", name, err)
		}
		err = scanOne(rows, &n)
		if err != nil {
			return nil, fmt.Errorf("looking up triggers of %s: %w", name, err)
		}
		if n > 0 {
			found = append(found, name)
		}
	}
	return found, nil
}

func scanOne(rows *sql.Rows, dst any) error {
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := rows.Scan(dst); err != nil {
		return err
	}
	return rows.Close()
}
