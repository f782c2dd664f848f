package conflict

import (
	"math"
	"testing"

	"github.com/recoup-dev/recoup/repl"
)

// kv is db.kv (id INT PRIMARY KEY, v VARCHAR, u INT NULL UNIQUE uk_u).
var kvCols = []repl.Column{{Name: "id", Type: "int"}, {Name: "v", Type: "varchar"},
	{Name: "u", Type: "int", Nullable: true}}

func kvTable() *repl.Table {
	return &repl.Table{Schema: "db", Name: "kv", Columns: kvCols, PrimaryKey: []int{0},
		UniqueKeys: []repl.UniqueKey{{Name: "uk_u", Columns: []int{2}}}}
}

// bag is db.bag (a INT, b VARCHAR NULL): no key at all.
func bagTable() *repl.Table {
	return &repl.Table{Schema: "db", Name: "bag", Columns: []repl.Column{{Name: "a", Type: "int"},
		{Name: "b", Type: "varchar", Nullable: true}}}
}

// fl is db.fl (id INT PRIMARY KEY, d DOUBLE, f FLOAT).
func flTable() *repl.Table {
	return &repl.Table{Schema: "db", Name: "fl", Columns: []repl.Column{{Name: "id", Type: "int"},
		{Name: "d", Type: "double"}, {Name: "f", Type: "float"}}, PrimaryKey: []int{0}}
}

func iv(n int64) repl.Value  { return repl.IntValue(n) }
func sv(s string) repl.Value { return repl.StringValue([]byte(s), "utf8mb4") }
func dv(f float64) repl.Value {
	return repl.Float64Value(f)
}
func null() repl.Value { return repl.Null() }

// kvRow builds a kv row; u < 0 is NULL.
func kvRow(id int64, v string, u int64) repl.Row {
	uv := iv(u)
	if u < 0 {
		uv = null()
	}
	return repl.Row{iv(id), sv(v), uv}
}

func ins(t *repl.Table, after repl.Row) repl.RowChange {
	return repl.RowChange{Table: t, After: after}
}
func upd(t *repl.Table, before, after repl.Row) repl.RowChange {
	return repl.RowChange{Table: t, Before: before, After: after}
}
func del(t *repl.Table, before repl.Row) repl.RowChange {
	return repl.RowChange{Table: t, Before: before}
}

func gtid(seq uint64) repl.GTID { return repl.MariaDBGTID(0, 1, seq) }

func txn(seq uint64, changes ...repl.RowChange) repl.Txn {
	return repl.Txn{GTID: gtid(seq), Changes: changes}
}

// seed builds a master holding rows of one table.
func seed(t *testing.T, tbl *repl.Table, rows ...repl.Row) *master {
	t.Helper()
	m := newMaster()
	m.table(tbl)
	for _, r := range rows {
		if err := m.add(tbl, r); err != nil {
			t.Fatalf("seeding %s: %v", tbl.Name, err)
		}
	}
	return m
}

// decideAll runs txns in one batch under policy p and executes the plan.
func decideAll(t *testing.T, m *master, p Policy, txns ...repl.Txn) []TxnDecision {
	t.Helper()
	st, err := NewState(p)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := m.run(st, txns, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

var negZero = math.Copysign(0, -1)

func float32frombits(b uint32) float32 { return math.Float32frombits(b) }
func float64frombits(b uint64) float64 { return math.Float64frombits(b) }
