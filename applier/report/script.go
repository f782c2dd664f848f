package report

import (
	"fmt"
	"strings"

	"github.com/recoup-dev/recoup/repl"
)

// Script is the SQL a DBA could run by hand to apply a conflict's
// transaction the old master's way. It is for humans only, shown in the
// HTML page and by `recoup review show`: recoup never runs SQL text with
// values in it (review resolve binds every value as a parameter).
type Script struct {
	// Statements are the executable statements, in order, without the
	// trailing semicolon: SET time_zone, START TRANSACTION, one statement
	// per row to write, COMMIT.
	Statements []string
	// Text is the whole script with comments, ready to read.
	Text string
	// Complete is false when some row could not be written as SQL (no
	// table definition, or a value with no literal): see the comments.
	Complete bool
}

// ScriptFor builds the statements that make every row of conflict c hold
// its after-image (or be absent, for a delete), given what the run found
// on the new master:
//
//	insert: INSERT (row absent) or UPDATE ... WHERE key (a row holds the key)
//	update: UPDATE ... SET every column WHERE key = before-image key LIMIT 1
//	        (INSERT when the row was absent)
//	delete: DELETE ... WHERE key = before-image key LIMIT 1
//
// Rows already in their end state are skipped. Tables without a key match
// the whole before-image null-safely (<=>). Generated columns are never
// written.
func (r *Report) ScriptFor(c *Conflict) Script {
	var b strings.Builder
	s := Script{Complete: true}
	fmt.Fprintf(&b, "-- recoup: transaction %s (conflict #%d of report %s), the old master's change.\n", comment(c.GTID), c.N, comment(r.ID))
	b.WriteString("-- REVIEW BEFORE RUNNING. Generated for a human; values are exact literals.\n")
	add := func(st string) {
		s.Statements = append(s.Statements, st)
		b.WriteString(st + ";\n")
	}
	add("SET SESSION time_zone = '+00:00'")
	add("START TRANSACTION")
	for i := range c.Rows {
		row := &c.Rows[i]
		fmt.Fprintf(&b, "-- row %d: %s %s %s (%s)\n", row.Index, row.Change, comment(row.Table), comment(row.Key), rowNote(row))
		st, skip, err := r.rowStatement(row)
		switch {
		case err != nil:
			s.Complete = false
			fmt.Fprintf(&b, "-- NOT GENERATED: %s\n", comment(err.Error()))
		case skip != "":
			fmt.Fprintf(&b, "-- nothing to do: %s\n", skip)
		default:
			add(st)
		}
	}
	add("COMMIT")
	s.Text = b.String()
	return s
}

func rowNote(row *Row) string {
	if row.Reason != "" {
		return row.Verdict + ": " + comment(row.Reason)
	}
	return row.Verdict
}

// rowStatement is the statement for one row, or why none is needed.
func (r *Report) rowStatement(row *Row) (stmt, skip string, err error) {
	if row.TableDef < 0 || row.TableDef >= len(r.Tables) {
		return "", "", fmt.Errorf("the report has no definition of table %s", row.Table)
	}
	t := r.Tables[row.TableDef]
	if row.CurrentState == CurrentAfter {
		return "", "the row already holds the after-image", nil
	}
	switch row.Change {
	case "insert":
		if row.After == nil {
			return "", "", fmt.Errorf("insert without an after-image")
		}
		if row.CurrentState == CurrentFound && row.Current != nil && sameKey(t, row.Current.Values, row.After.Values) {
			return updateSQL(t, row.After.Values, row.After.Values)
		}
		return insertSQL(t, row.After.Values)
	case "update":
		if row.Before == nil || row.After == nil {
			return "", "", fmt.Errorf("update without both images")
		}
		if row.CurrentState == CurrentAbsent {
			return insertSQL(t, row.After.Values)
		}
		return updateSQL(t, row.Before.Values, row.After.Values)
	case "delete":
		if row.Before == nil {
			return "", "", fmt.Errorf("delete without a before-image")
		}
		if row.CurrentState == CurrentAbsent {
			return "", "the row is already absent", nil
		}
		where, err := whereSQL(t, row.Before.Values)
		if err != nil {
			return "", "", err
		}
		return "DELETE FROM " + tableSQL(t) + " WHERE " + where + " LIMIT 1", "", nil
	}
	return "", "", fmt.Errorf("unknown change %q", row.Change)
}

func tableSQL(t *repl.Table) string { return quoteIdent(t.Schema) + "." + quoteIdent(t.Name) }

// writable lists the columns a statement may set: not generated.
func writable(t *repl.Table) []int {
	var out []int
	for i, c := range t.Columns {
		if c.Generated == "" {
			out = append(out, i)
		}
	}
	return out
}

// insertSQL is INSERT ... SET, one column per line: easier to read than a
// column list and a value list side by side.
func insertSQL(t *repl.Table, after repl.Row) (string, string, error) {
	sets, err := assignments(t, after)
	if err != nil {
		return "", "", err
	}
	return "INSERT INTO " + tableSQL(t) + " SET\n  " + sets, "", nil
}

// assignments is "c1 = v1,\n  c2 = v2..." for the writable columns; a
// string written in hex gets its readable text in a trailing comment.
func assignments(t *repl.Table, row repl.Row) (string, error) {
	if len(row) != len(t.Columns) {
		return "", fmt.Errorf("the image has %d values for %d columns", len(row), len(t.Columns))
	}
	cols := writable(t)
	var b strings.Builder
	for n, i := range cols {
		lit, err := Literal(row[i])
		if err != nil {
			return "", fmt.Errorf("column %s: %w", t.Columns[i].Name, err)
		}
		if n > 0 {
			b.WriteString("\n  ")
		}
		b.WriteString(quoteIdent(t.Columns[i].Name) + " = " + lit)
		if n < len(cols)-1 {
			b.WriteString(",")
		}
		switch k := row[i].Kind(); {
		case k == repl.KindEnum || k == repl.KindSet:
			b.WriteString(" -- '" + comment(shorten(row[i].Text(), 60)) + "'")
		case k == repl.KindString || k == repl.KindJSON:
			if c := display(row[i]); c.Class == "str" {
				b.WriteString(" -- " + comment(shorten(c.Text, 60)))
			}
		}
	}
	return b.String(), nil
}

// shorten cuts s to at most n runes, marking the cut.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

func updateSQL(t *repl.Table, match, after repl.Row) (string, string, error) {
	sets, err := assignments(t, after)
	if err != nil {
		return "", "", err
	}
	where, err := whereSQL(t, match)
	if err != nil {
		return "", "", err
	}
	return "UPDATE " + tableSQL(t) + " SET\n  " + sets + "\nWHERE " + where + " LIMIT 1", "", nil
}

// whereSQL matches row by the table's key, or null-safely by every column
// when the table has none.
func whereSQL(t *repl.Table, row repl.Row) (string, error) {
	if len(row) != len(t.Columns) {
		return "", fmt.Errorf("the image has %d values for %d columns", len(row), len(t.Columns))
	}
	cols, op := t.KeyColumns(), " = "
	if cols == nil {
		op = " <=> "
		for i := range t.Columns {
			cols = append(cols, i)
		}
	}
	parts := make([]string, 0, len(cols))
	for _, i := range cols {
		lit, err := Literal(row[i])
		if err != nil {
			return "", fmt.Errorf("key column %s: %w", t.Columns[i].Name, err)
		}
		parts = append(parts, quoteIdent(t.Columns[i].Name)+op+lit)
	}
	return strings.Join(parts, " AND "), nil
}

// sameKey reports whether two images of t have the same key values.
func sameKey(t *repl.Table, a, b repl.Row) bool {
	cols := t.KeyColumns()
	if cols == nil || len(a) != len(t.Columns) || len(b) != len(t.Columns) {
		return false
	}
	for _, i := range cols {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}
