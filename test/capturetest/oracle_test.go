package capturetest

import (
	"database/sql"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// The oracle: what the server itself says a table holds, as repl values,
// read independently of the binlog (integers and temporal values through
// CAST AS CHAR in a UTC session, floats through the binary protocol,
// strings as HEX).

// column is one column as information_schema describes it.
type column struct {
	name, dataType, columnType, charset, extra string
}

// tableState is one table as the server has it at one point.
type tableState struct {
	cols    []column
	pk      []int
	uniques map[string][]int
	rows    map[string]repl.Row // by the first column's text
}

// colNames lists the column names.
func (s tableState) colNames() []string {
	out := make([]string, len(s.cols))
	for i, c := range s.cols {
		out[i] = c.name
	}
	return out
}

// utcDB opens a pool on inst whose sessions run in UTC, so that TIMESTAMPs
// read back as the binlog holds them.
func utcDB(t *testing.T, inst *sandbox.Instance, schema string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", inst.DSN(schema)+"&time_zone=%27%2B00%3A00%27&maxAllowedPacket=0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// snapshotSchema reads every base table of schema.
func snapshotSchema(t *testing.T, db *sql.DB, schema string) map[string]tableState {
	t.Helper()
	out := map[string]tableState{}
	for _, tbl := range firstColumn(t, db, `SELECT TABLE_NAME FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'`, schema) {
		out[tbl] = snapshotTable(t, db, schema, tbl)
	}
	return out
}

func snapshotTable(t *testing.T, db *sql.DB, schema, table string) tableState {
	t.Helper()
	s := tableState{cols: columnsOf(t, db, schema, table), uniques: map[string][]int{}}
	rows, err := db.QueryContext(t.Context(), `SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 ORDER BY INDEX_NAME, SEQ_IN_INDEX`, schema, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var idx, col string
		if err := rows.Scan(&idx, &col); err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(s.cols, func(c column) bool { return c.name == col })
		if idx == "PRIMARY" {
			s.pk = append(s.pk, i)
		} else {
			s.uniques[idx] = append(s.uniques[idx], i)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	s.rows = readRows(t, db, schema, table, s.cols)
	return s
}

func columnsOf(t *testing.T, db *sql.DB, schema, table string) []column {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), `SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IFNULL(CHARACTER_SET_NAME, ''),
		EXTRA FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?
		ORDER BY ORDINAL_POSITION`, schema, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var cols []column
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.name, &c.dataType, &c.columnType, &c.charset, &c.extra); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil || len(cols) == 0 {
		t.Fatalf("columns of %s.%s: %v (%d found)", schema, table, err, len(cols))
	}
	return cols
}

// exprs are the SELECT expressions that render the column's exact value.
func (c column) exprs() []string {
	q := "`" + c.name + "`"
	switch c.dataType {
	case "float", "double":
		return []string{q}
	case "bit", "year":
		return []string{"CAST(" + q + " AS UNSIGNED)"}
	case "enum", "set":
		return []string{"CAST(" + q + "+0 AS UNSIGNED)", "HEX(" + q + ")"}
	case "tinyint", "smallint", "mediumint", "int", "bigint", "decimal", "date", "time", "datetime", "timestamp":
		return []string{"CAST(" + q + " AS CHAR)"}
	}
	return []string{"HEX(" + q + ")"}
}

var textKinds = map[string]repl.Kind{"decimal": repl.KindDecimal, "date": repl.KindDate, "time": repl.KindTime,
	"datetime": repl.KindDateTime, "timestamp": repl.KindTimestamp}

const geometryTypes = "geometry point linestring polygon multipoint multilinestring multipolygon geometrycollection"

// value builds the expected repl.Value from the server's renderings v
// (v[0] nil for NULL).
func (c column) value(v []any) (repl.Value, error) {
	if v[0] == nil {
		return repl.Null(), nil
	}
	text := func(i int) string {
		if b, ok := v[i].([]byte); ok {
			return string(b)
		}
		return fmt.Sprint(v[i])
	}
	unhex := func(i int) []byte {
		b, _ := hex.DecodeString(text(i))
		return b
	}
	switch c.dataType {
	case "float":
		if f, ok := v[0].(float32); ok {
			return repl.Float32Value(f), nil
		}
		return repl.Value{}, fmt.Errorf("float column read as %T", v[0])
	case "double":
		if f, ok := v[0].(float64); ok {
			return repl.Float64Value(f), nil
		}
		return repl.Value{}, fmt.Errorf("double column read as %T", v[0])
	case "tinyint", "smallint", "mediumint", "int", "bigint":
		if strings.Contains(c.columnType, "unsigned") {
			u, err := strconv.ParseUint(text(0), 10, 64)
			return repl.UintValue(u), err
		}
		n, err := strconv.ParseInt(text(0), 10, 64)
		return repl.IntValue(n), err
	case "bit":
		u, err := strconv.ParseUint(text(0), 10, 64)
		return repl.BitValue(u), err
	case "year":
		n, err := strconv.ParseInt(text(0), 10, 64)
		return repl.YearValue(n), err
	case "enum":
		u, err := strconv.ParseUint(text(0), 10, 64)
		return repl.EnumValue(u, string(unhex(1))), err
	case "set":
		u, err := strconv.ParseUint(text(0), 10, 64)
		return repl.SetValue(u, string(unhex(1))), err
	}
	if k, ok := textKinds[c.dataType]; ok {
		return repl.TextValue(k, []byte(text(0))), nil
	}
	switch {
	case strings.Contains(geometryTypes, c.dataType):
		return repl.TextValue(repl.KindGeometry, unhex(0)), nil
	case c.charset == "":
		return repl.BytesValue(unhex(0)), nil
	}
	return repl.StringValue(unhex(0), c.charset), nil
}

// readRows reads every row of a table as expected values. The query has a
// parameter so that it runs as a prepared statement: floats then come back
// in the binary protocol, bit-exact.
func readRows(t *testing.T, db *sql.DB, schema, table string, cols []column) map[string]repl.Row {
	t.Helper()
	var exprs []string
	for _, c := range cols {
		exprs = append(exprs, "`"+c.name+"` IS NULL")
		exprs = append(exprs, c.exprs()...)
	}
	q := fmt.Sprintf("SELECT %s FROM `%s`.`%s` WHERE ? = 1", strings.Join(exprs, ", "), schema, table)
	rows, err := db.QueryContext(t.Context(), q, 1)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	out := map[string]repl.Row{}
	for rows.Next() {
		vals := make([]any, len(exprs))
		ptrs := make([]any, len(exprs))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row, at := make(repl.Row, len(cols)), 0
		for i, c := range cols {
			n := 1 + len(c.exprs())
			part := vals[at+1 : at+n]
			if isTrue(vals[at]) {
				part = []any{nil}
			}
			if row[i], err = c.value(part); err != nil {
				t.Fatalf("%s.%s: expected value: %v", table, c.name, err)
			}
			at += n
		}
		key := row[0].String()
		if _, dup := out[key]; dup {
			t.Fatalf("%s.%s: two rows with first column %s: the oracle needs it unique", schema, table, key)
		}
		out[key] = row
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func isTrue(v any) bool {
	if b, ok := v.([]byte); ok {
		return string(b) == "1"
	}
	return fmt.Sprint(v) == "1"
}

// sameRow compares a decoded row with the server's, naming each differing
// column.
func sameRow(t *testing.T, what string, cols []repl.Column, got, want repl.Row) {
	t.Helper()
	if want == nil {
		t.Errorf("%s: no such row on the server", what)
		return
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d values, the server has %d", what, len(got), len(want))
		return
	}
	for i := range got {
		if !got[i].Equal(want[i]) {
			t.Errorf("%s column %s: decoded %s %q (charset %q), server %s %q (charset %q)", what, cols[i].Name,
				got[i].Kind(), short(got[i]), got[i].Charset(), want[i].Kind(), short(want[i]), want[i].Charset())
		}
	}
}

func short(v repl.Value) string {
	s := v.String()
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// generated is the repl.Column.Generated form of the column's EXTRA.
func (c column) generated() string {
	switch {
	case strings.Contains(c.extra, "VIRTUAL GENERATED"):
		return "virtual"
	case strings.Contains(c.extra, "STORED GENERATED"):
		return "stored"
	}
	return ""
}

// checkSchema compares a decoded table's column names, generated columns,
// primary key and unique keys with the server's at the same point.
func checkSchema(t *testing.T, what string, got *repl.Table, want tableState) {
	t.Helper()
	var names, gens, wantGens []string
	for _, c := range got.Columns {
		names = append(names, c.Name)
		gens = append(gens, c.Generated)
	}
	for _, c := range want.cols {
		wantGens = append(wantGens, c.generated())
	}
	if !slices.Equal(names, want.colNames()) {
		t.Errorf("%s: decoded columns %v, the server's %v", what, names, want.colNames())
		return
	}
	if !slices.Equal(gens, wantGens) {
		t.Errorf("%s: decoded generated columns %q, the server's %q", what, gens, wantGens)
	}
	if !slices.Equal(got.PrimaryKey, want.pk) {
		t.Errorf("%s: decoded primary key %v, the server's %v", what, got.PrimaryKey, want.pk)
	}
	uniques := map[string][]int{}
	for _, uk := range got.UniqueKeys {
		uniques[uk.Name] = uk.Columns
	}
	if !maps.EqualFunc(uniques, want.uniques, slices.Equal) {
		t.Errorf("%s: decoded unique keys %v, the server's %v", what, uniques, want.uniques)
	}
}

// checkChanges compares each decoded change of a transaction with the
// server's rows before and after it, and checks that every row the
// transaction changed on the server was decoded. Tables missing from
// before (created by the transaction) or after (dropped) count as empty.
func checkChanges(t *testing.T, what string, txn repl.Txn, before, after map[string]tableState) {
	t.Helper()
	touched := map[string]int{}
	for _, ch := range txn.Changes {
		name := ch.Table.Name
		img := ch.After
		if img == nil {
			img = ch.Before
		}
		key := img[0].String()
		at := fmt.Sprintf("%s: %s row %s", what, name, key)
		if touched[name] == 0 {
			checkSchema(t, fmt.Sprintf("%s: table %s", what, name), ch.Table, after[name])
		}
		touched[name]++
		if ch.Before != nil {
			sameRow(t, at+" before image", ch.Table.Columns, ch.Before, before[name].rows[key])
		}
		if ch.After != nil {
			sameRow(t, at+" after image", ch.Table.Columns, ch.After, after[name].rows[key])
		}
	}
	for _, tbl := range tableNames(before, after) {
		b, a := before[tbl].rows, after[tbl].rows
		changed := 0
		for k, row := range a {
			if old, ok := b[k]; !ok || !old.Equal(row) {
				changed++
			}
		}
		for k := range b {
			if _, ok := a[k]; !ok {
				changed++
			}
		}
		if changed > touched[tbl] {
			t.Errorf("%s: %d rows of %s changed on the server, %d decoded", what, changed, tbl, touched[tbl])
		}
	}
}

func tableNames(states ...map[string]tableState) []string {
	var out []string
	for _, s := range states {
		for k := range s {
			if !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	slices.Sort(out)
	return out
}
