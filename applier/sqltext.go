package applier

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/recoup-dev/recoup/repl"
)

// quoteIdent quotes a schema, table or column name for SQL text.
func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// tableRef is `schema`.`table`.
func tableRef(t *repl.Table) string { return quoteIdent(t.Schema) + "." + quoteIdent(t.Name) }

// isWord reports whether s is a non-empty [A-Za-z0-9_] word: what a
// character set or collation name is. Such names are written into SQL text
// (CONVERT ... USING, COLLATE), which take no placeholders.
func isWord(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// param is the placeholder expression for value v of column c in a
// comparison, and the bound argument. Values always travel as bound
// parameters; the expression around the placeholder only gives the
// parameter the column's type:
//   - character strings arrive as binary strings (the session's character
//     set is binary) and are reinterpreted in the value's character set and
//     the column's collation, so the comparison is the column's own and its
//     index is usable;
//   - decimals are cast to the column's DECIMAL(M,D), so they compare as
//     decimals, not as doubles.
func param(c *repl.Column, v repl.Value) (string, any) {
	switch v.Kind() {
	case repl.KindString:
		if cs := v.Charset(); isWord(cs) && cs != "binary" {
			expr := "CONVERT(? USING " + cs + ")"
			if isWord(c.Collation) && strings.HasPrefix(c.Collation, cs+"_") {
				expr += " COLLATE " + c.Collation
			}
			return expr, v.SQLArg()
		}
	case repl.KindDecimal:
		if c.Length > 0 && c.Length <= 65 && c.Decimals >= 0 && c.Decimals <= 38 && c.Decimals <= c.Length {
			return "CAST(? AS DECIMAL(" + strconv.Itoa(c.Length) + "," + strconv.Itoa(c.Decimals) + "))", v.SQLArg()
		}
	}
	return "?", v.SQLArg()
}

// columnList is the quoted, comma-separated list of cols of t.
func columnList(t *repl.Table, cols []int) string {
	var b strings.Builder
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteIdent(t.Columns[c].Name))
	}
	return b.String()
}

// allColumns is 0..n-1.
func allColumns(t *repl.Table) []int {
	cols := make([]int, len(t.Columns))
	for i := range cols {
		cols[i] = i
	}
	return cols
}

// keyMatch is "c1 = p1 AND c2 = p2" (or <=> when nullSafe) for the values
// of row at cols, appending the arguments to args.
func keyMatch(t *repl.Table, cols []int, row repl.Row, nullSafe bool, args []any) (string, []any) {
	op := " = "
	if nullSafe {
		op = " <=> "
	}
	var b strings.Builder
	for i, c := range cols {
		if i > 0 {
			b.WriteString(" AND ")
		}
		expr, arg := param(&t.Columns[c], row[c])
		fmt.Fprintf(&b, "%s%s%s", quoteIdent(t.Columns[c].Name), op, expr)
		args = append(args, arg)
	}
	return b.String(), args
}
