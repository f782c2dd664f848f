package applier

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/recoup-dev/recoup/conflict"
	"github.com/recoup-dev/recoup/repl"
)

// Review support: `recoup review` re-checks one reported conflict against
// the new master and, when a human decides so, writes the old master's
// change. The transaction is rebuilt from the report (exact images and the
// captured table definitions), not from the capture log.
//
// Both functions decide the transaction afresh with the conflict package,
// alone (no earlier transactions, no dependencies), against the rows the
// new master holds now, read exactly as a compensation run reads them
// (same session settings, binary protocol, same conversions).
//
// Privileges (MariaDB 10.11, TestReviewResolve uses exactly these):
// SELECT, INSERT, UPDATE, DELETE on the schemas, and READ_ONLY ADMIN while
// the new master is fenced (read_only=ON). Triggers are detected through
// information_schema.TRIGGERS, which MariaDB 10.11 shows to an account
// holding any privilege on the table but SELECT (the write privileges
// above do; MySQL needs TRIGGER): a table with triggers is refused.

// ErrTriggers is returned by ApplyReviewed for a transaction touching a
// table with triggers: typed statements would fire them.
var ErrTriggers = errors.New("tables with triggers cannot be written by review")

// Recheck decides txn against the new master's current rows, read without
// locks. It changes nothing.
func Recheck(ctx context.Context, db *sql.DB, flavor repl.Flavor, txn repl.Txn) (*conflict.TxnDecision, error) {
	sess, err := openSession(ctx, db, flavor, slog.Default())
	if err != nil {
		return nil, err
	}
	defer sess.close()
	return decideOne(ctx, sess.conn, flavor, txn, false)
}

// ApplyReviewed writes txn's after-images on the new master in one DB
// transaction: it reads the rows with SELECT ... FOR UPDATE, decides txn
// afresh, and calls check with the decision; check refusing rolls back.
// Then every row not already in its end state is written with typed
// statements, every value a bound parameter (INSERT ... ON DUPLICATE KEY
// UPDATE, DELETE ... LIMIT 1 by key: see overwrite.go), and the
// transaction commits under a GTID the server assigns. Tables with
// triggers are refused (ErrTriggers). Under read_only=ON the user needs
// READ_ONLY ADMIN.
func ApplyReviewed(ctx context.Context, db *sql.DB, flavor repl.Flavor, txn repl.Txn,
	check func(*conflict.TxnDecision) error) (*conflict.TxnDecision, error) {
	sess, err := openSession(ctx, db, flavor, slog.Default())
	if err != nil {
		return nil, err
	}
	defer sess.close()
	tx, err := sess.conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("starting the review transaction: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // ErrTxDone once committed: nothing to report
	d, err := decideOne(ctx, tx, flavor, txn, true)
	if err != nil {
		return nil, err
	}
	if err := check(d); err != nil {
		return d, err
	}
	if err := writeReviewed(ctx, tx, &txn, d); err != nil {
		return d, err
	}
	if err := tx.Commit(); err != nil {
		return d, fmt.Errorf("committing transaction %s: %w", txn.GTID, err)
	}
	return d, nil
}

// decideOne reads the rows txn touches and decides it alone.
func decideOne(ctx context.Context, q querier, flavor repl.Flavor, txn repl.Txn, forUpdate bool) (*conflict.TxnDecision, error) {
	st, err := conflict.NewState(conflict.PolicyReport)
	if err != nil {
		return nil, err
	}
	txns := []repl.Txn{txn}
	cur, err := fetchCurrent(ctx, q, flavor, st.NeededKeys(txns), forUpdate)
	if err != nil {
		return nil, err
	}
	plan, err := st.Decide(txns, cur)
	if err != nil {
		return nil, err
	}
	return &plan.Txns[0], nil
}

// writeReviewed runs the typed statements of txn's rows that are not
// already applied.
func writeReviewed(ctx context.Context, tx *sql.Tx, txn *repl.Txn, d *conflict.TxnDecision) error {
	trig, err := tablesWithTriggers(ctx, tx, txn)
	if err != nil {
		return err
	}
	if len(trig) > 0 {
		return fmt.Errorf("%w (%s): the triggers would fire again; apply it by hand", ErrTriggers, strings.Join(trig, ", "))
	}
	forced := *d
	forced.Rows = append([]conflict.RowDecision(nil), d.Rows...)
	for i := range forced.Rows {
		if forced.Rows[i].Verdict == conflict.Conflict {
			forced.Rows[i].Verdict = conflict.ApplyOverwrite
		}
	}
	stmts, err := overwriteStatements(txn, &forced)
	if err != nil {
		return err
	}
	for _, st := range stmts {
		if _, err := tx.ExecContext(ctx, st.query, st.args...); err != nil {
			return fmt.Errorf("writing a row of %s: %w", txn.GTID, err)
		}
	}
	return nil
}

// ReadRow reads the row of t whose key (or, for a table without one, whole
// row, null-safely) equals row's, exactly as a compensation run reads rows;
// nil when there is none.
func ReadRow(ctx context.Context, db *sql.DB, flavor repl.Flavor, t *repl.Table, row repl.Row) (repl.Row, error) {
	if len(row) != len(t.Columns) {
		return nil, fmt.Errorf("reading a row of %s: the image has %d values for %d columns", t.QualifiedName(), len(row), len(t.Columns))
	}
	sess, err := openSession(ctx, db, flavor, slog.Default())
	if err != nil {
		return nil, err
	}
	defer sess.close()
	cols := t.KeyColumns()
	nullSafe := cols == nil
	if nullSafe {
		cols = allColumns(t)
	}
	where, args := keyMatch(t, cols, row, nullSafe, nil)
	q := "SELECT " + columnList(t, allColumns(t)) + " FROM " + tableRef(t) + " WHERE " + where + " LIMIT 1"
	rows, err := queryRows(ctx, sess.conn, flavor, t, selectStmt{query: q, args: args})
	if err != nil {
		return nil, fmt.Errorf("reading a row of %s: %w", t.QualifiedName(), err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return rows[0], nil
}
