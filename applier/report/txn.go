package report

import (
	"fmt"
	"slices"
	"strings"

	"github.com/recoup-dev/recoup/repl"
)

// Txn rebuilds conflict c's transaction from the report: its GTID, and one
// row change per row with the exact images and the captured table
// definition (shared by rows of the same table), for review to re-check
// and apply. It fails when a row has no table definition or its images do
// not fit it, and for a transaction with statements that are not row
// changes, which only a human can replay.
func (r *Report) Txn(c *Conflict) (repl.Txn, error) {
	flavor, err := repl.ParseFlavor(r.Flavor)
	if err != nil {
		return repl.Txn{}, fmt.Errorf("report flavor: %w", err)
	}
	g, err := repl.ParseGTID(flavor, c.GTID)
	if err != nil {
		return repl.Txn{}, fmt.Errorf("conflict %d: %w", c.N, err)
	}
	if strings.Contains(c.Reason, "not row changes") {
		return repl.Txn{}, fmt.Errorf("conflict %d: transaction %s holds statements that are not row changes (DDL?): "+
			"only a human can replay it (see `recoup log --from %s`)", c.N, c.GTID, c.GTID)
	}
	if len(c.Rows) == 0 {
		return repl.Txn{}, fmt.Errorf("conflict %d: transaction %s has no row changes in the report", c.N, c.GTID)
	}
	t := repl.Txn{GTID: g, CommitTime: c.CommitTime, Changes: make([]repl.RowChange, 0, len(c.Rows))}
	for i := range c.Rows {
		ch, err := r.change(&c.Rows[i])
		if err != nil {
			return repl.Txn{}, fmt.Errorf("conflict %d row %d: %w", c.N, c.Rows[i].Index, err)
		}
		t.Changes = append(t.Changes, ch)
	}
	return t, nil
}

func (r *Report) change(row *Row) (repl.RowChange, error) {
	if row.TableDef < 0 || row.TableDef >= len(r.Tables) || r.Tables[row.TableDef] == nil {
		return repl.RowChange{}, fmt.Errorf("the report has no definition of table %s: resolve it by hand", row.Table)
	}
	def := r.Tables[row.TableDef]
	if err := def.Validate(); err != nil {
		return repl.RowChange{}, err
	}
	ch := repl.RowChange{Table: def}
	var err error
	if ch.Before, err = imageRow(def, row.Before); err != nil {
		return repl.RowChange{}, fmt.Errorf("before-image: %w", err)
	}
	if ch.After, err = imageRow(def, row.After); err != nil {
		return repl.RowChange{}, fmt.Errorf("after-image: %w", err)
	}
	if want := ch.Type().String(); want != row.Change || ch.Before == nil && ch.After == nil {
		return repl.RowChange{}, fmt.Errorf("change %q does not match its images", row.Change)
	}
	return ch, nil
}

// imageRow checks that im has def's columns, in order.
func imageRow(def *repl.Table, im *Image) (repl.Row, error) {
	if im == nil {
		return nil, nil
	}
	names := make([]string, len(def.Columns))
	for i, c := range def.Columns {
		names[i] = c.Name
	}
	if !slices.Equal(names, im.Columns) || len(im.Values) != len(names) {
		return nil, fmt.Errorf("columns %v do not match table %s (%v)", im.Columns, def.QualifiedName(), names)
	}
	return slices.Clone(im.Values), nil
}

// Conflict returns conflict number n (1-based).
func (r *Report) Conflict(n int) (*Conflict, error) {
	if n < 1 || n > len(r.Conflicts) {
		return nil, fmt.Errorf("the report has no conflict %d (it has %d)", n, len(r.Conflicts))
	}
	return &r.Conflicts[n-1], nil
}
