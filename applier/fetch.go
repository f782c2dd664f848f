package applier

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/recoup-dev/recoup/conflict"
	"github.com/recoup-dev/recoup/repl"
)

// maxFetchParams bounds the placeholders of one SELECT; a batch whose keys
// need more is read with several (MariaDB and MySQL accept 65535).
const maxFetchParams = 20000

// querier is what fetching needs: a *sql.Conn (dry run) or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// selectStmt is one SELECT of current rows and its bound arguments.
type selectStmt struct {
	query string
	args  []any
}

// keyImage is one image to look up: its KeySet and its values.
type keyImage struct {
	set *conflict.KeySet
	img repl.Row
}

// buildSelects turns a Fetch into SELECTs of every column of the table,
// in the Fetch's column order, for the rows matching any of its key images:
//
//	SELECT cols FROM db.t WHERE (k1, k2) IN ((?, ?), ...) OR u IN (?, ...) [FOR UPDATE]
//
// A WholeRow set matches null-safely: (c1 <=> ? AND c2 <=> ? ...) OR ....
// More than maxFetchParams placeholders are split into several statements.
func buildSelects(f conflict.Fetch, forUpdate bool) []selectStmt {
	n := 0
	for i := range f.Sets {
		n += len(f.Sets[i].Images)
	}
	all := make([]keyImage, 0, n)
	for i := range f.Sets {
		for _, img := range f.Sets[i].Images {
			all = append(all, keyImage{set: &f.Sets[i], img: img})
		}
	}
	var out []selectStmt
	for start := 0; start < len(all); {
		end, n := start, 0
		for end < len(all) && (end == start || n+len(all[end].img) <= maxFetchParams) {
			n += len(all[end].img)
			end++
		}
		out = append(out, selectFor(f.Table, all[start:end], forUpdate))
		start = end
	}
	return out
}

// selectFor builds one SELECT for images, which are grouped by set in order.
func selectFor(t *repl.Table, imgs []keyImage, forUpdate bool) selectStmt {
	var b strings.Builder
	b.WriteString("SELECT ")
	b.WriteString(columnList(t, allColumns(t)))
	b.WriteString(" FROM ")
	b.WriteString(tableRef(t))
	b.WriteString(" WHERE ")
	var args []any
	for i := 0; i < len(imgs); {
		j := i
		for j < len(imgs) && imgs[j].set == imgs[i].set {
			j++
		}
		if i > 0 {
			b.WriteString(" OR ")
		}
		var pred string
		pred, args = setPredicate(t, imgs[i].set, imgs[i:j], args)
		b.WriteString(pred)
		i = j
	}
	if forUpdate {
		b.WriteString(" FOR UPDATE")
	}
	return selectStmt{query: b.String(), args: args}
}

// setPredicate matches the images of one key set.
func setPredicate(t *repl.Table, ks *conflict.KeySet, imgs []keyImage, args []any) (string, []any) {
	var b strings.Builder
	if ks.WholeRow {
		for i, ki := range imgs {
			if i > 0 {
				b.WriteString(" OR ")
			}
			var m string
			m, args = keyMatch(t, ks.Columns, expand(t, ks.Columns, ki.img), true, args)
			b.WriteString("(" + m + ")")
		}
		return "(" + b.String() + ")", args
	}
	multi := len(ks.Columns) > 1
	if !multi {
		if runs, rest, ok := integerRuns(imgs); ok {
			return runsPredicate(t, ks.Columns[0], runs, rest, args)
		}
	}
	if multi {
		b.WriteString("(" + columnList(t, ks.Columns) + ") IN (")
	} else {
		b.WriteString(columnList(t, ks.Columns) + " IN (")
	}
	for i, ki := range imgs {
		if i > 0 {
			b.WriteString(", ")
		}
		if multi {
			b.WriteString("(")
		}
		for k, c := range ks.Columns {
			if k > 0 {
				b.WriteString(", ")
			}
			expr, arg := param(&t.Columns[c], ki.img[k])
			b.WriteString(expr)
			args = append(args, arg)
		}
		if multi {
			b.WriteString(")")
		}
	}
	b.WriteString(")")
	return b.String(), args
}

// runsPredicate matches an integer column's values: one BETWEEN per run
// and an IN list for the rest, all bound parameters.
func runsPredicate(t *repl.Table, col int, runs []intRun, rest []repl.Value, args []any) (string, []any) {
	name := columnList(t, []int{col})
	var b strings.Builder
	b.WriteString("(")
	for i, r := range runs {
		if i > 0 {
			b.WriteString(" OR ")
		}
		b.WriteString(name + " BETWEEN ? AND ?")
		args = append(args, r.lo.SQLArg(), r.hi.SQLArg())
	}
	if len(rest) > 0 {
		b.WriteString(" OR " + name + " IN (")
		for i, v := range rest {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("?")
			args = append(args, v.SQLArg())
		}
		b.WriteString(")")
	}
	b.WriteString(")")
	return b.String(), args
}

// expand places a key image (one value per key column) into a row of the
// table's width, so keyMatch can index it by column.
func expand(t *repl.Table, cols []int, img repl.Row) repl.Row {
	row := make(repl.Row, len(t.Columns))
	for k, c := range cols {
		row[c] = img[k]
	}
	return row
}

// fetchCurrent reads, for every Fetch, the rows of the new master that
// match its key images, converted exactly into repl values (see
// valueOf). Each physical row is returned once.
func fetchCurrent(ctx context.Context, q querier, flavor repl.Flavor, need []conflict.Fetch, forUpdate bool) (conflict.Current, error) {
	sels := make([][]selectStmt, len(need))
	for i, f := range need {
		sels[i] = buildSelects(f, forUpdate)
	}
	return fetchPlanned(ctx, q, flavor, need, sels)
}

// fetchPlanned is fetchCurrent with the SELECTs already written:
// sels[i] = buildSelects(need[i], forUpdate).
func fetchPlanned(ctx context.Context, q querier, flavor repl.Flavor, need []conflict.Fetch, sels [][]selectStmt) (conflict.Current, error) {
	cur := make(conflict.Current, len(need))
	for i, f := range need {
		rows, err := fetchTable(ctx, q, flavor, f, sels[i])
		if err != nil {
			return nil, fmt.Errorf("reading current rows of %s: %w", f.Table.QualifiedName(), err)
		}
		cur[f.Table.QualifiedName()] = rows
	}
	return cur, nil
}

func fetchTable(ctx context.Context, q querier, flavor repl.Flavor, f conflict.Fetch, stmts []selectStmt) ([]repl.Row, error) {
	var out []repl.Row
	var seen map[conflict.Key]bool
	if len(stmts) > 1 && f.Table.KeyColumns() != nil {
		seen = map[conflict.Key]bool{} // a row may match images in two statements
	}
	for _, st := range stmts {
		rows, err := queryRows(ctx, q, flavor, f.Table, st)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			if seen != nil {
				k := conflict.KeyOf(f.Table, r)
				if seen[k] {
					continue
				}
				seen[k] = true
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// queryRows runs one SELECT as an explicit server-side prepared statement,
// so results come in the binary protocol whatever the DSN says (with
// interpolateParams=true a plain query with arguments would be sent as
// text): FLOAT and DOUBLE arrive as their IEEE bits, which valueOf
// requires. In the text protocol the server prints a FLOAT with 6
// significant digits, which does not give back the stored value.
func queryRows(ctx context.Context, q querier, flavor repl.Flavor, t *repl.Table, st selectStmt) ([]repl.Row, error) {
	stmt, err := q.PrepareContext(ctx, st.query)
	if err != nil {
		return nil, err
	}
	defer stmt.Close()
	rows, err := stmt.QueryContext(ctx, st.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	n := len(t.Columns)
	raw := make([]any, n)
	ptrs := make([]any, n)
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	var out []repl.Row
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make(repl.Row, n)
		for i := range raw {
			v, err := valueOf(&t.Columns[i], flavor, raw[i])
			if err != nil {
				return nil, fmt.Errorf("column %s: %w", t.Columns[i].Name, err)
			}
			row[i] = v
		}
		out = append(out, row)
	}
	return out, rows.Err()
}
