package repl

import "testing"

func TestRowEqual(t *testing.T) {
	r := Row{IntValue(1), StringValue([]byte("a"), "utf8mb4"), Null()}
	for _, tc := range []struct {
		name string
		o    Row
		want bool
	}{
		{"same", Row{IntValue(1), StringValue([]byte("a"), "utf8mb4"), Null()}, true},
		{"null vs empty string", Row{IntValue(1), StringValue([]byte("a"), "utf8mb4"), StringValue(nil, "utf8mb4")}, false},
		{"charset differs", Row{IntValue(1), StringValue([]byte("a"), "latin1"), Null()}, false},
		{"shorter", Row{IntValue(1), StringValue([]byte("a"), "utf8mb4")}, false},
		{"longer", Row{IntValue(1), StringValue([]byte("a"), "utf8mb4"), Null(), Null()}, false},
		{"nil", nil, false},
	} {
		if got := r.Equal(tc.o); got != tc.want || tc.o.Equal(r) != tc.want {
			t.Errorf("%s: Equal = %v, want %v", tc.name, got, tc.want)
		}
	}
	if !Row(nil).Equal(Row{}) {
		t.Error("two empty rows differ")
	}
}

func TestRowChangeType(t *testing.T) {
	row := Row{IntValue(1)}
	for _, tc := range []struct {
		c    RowChange
		want ChangeType
		name string
	}{
		{RowChange{After: row}, Insert, "insert"},
		{RowChange{Before: row}, Delete, "delete"},
		{RowChange{Before: row, After: Row{IntValue(2)}}, Update, "update"},
		{RowChange{Before: Row{}, After: Row{}}, Update, "update"}, // empty images are present, not absent
	} {
		if got := tc.c.Type(); got != tc.want || got.String() != tc.name {
			t.Errorf("%+v: Type = %v, want %v", tc.c, got, tc.want)
		}
	}
	if ChangeType(0).String() != "unknown" {
		t.Error("ChangeType(0).String()")
	}
}

func TestTxnIsDDL(t *testing.T) {
	ddl := Txn{GTID: MariaDBGTID(0, 1, 7), Statements: []Statement{{Schema: "shop", Query: "ALTER TABLE t ADD c INT"}}}
	rows := Txn{GTID: MariaDBGTID(0, 1, 8), Changes: []RowChange{{After: Row{IntValue(1)}}}}
	mixed := Txn{Changes: rows.Changes, Statements: ddl.Statements}
	if !ddl.IsDDL() || rows.IsDDL() || mixed.IsDDL() || (&Txn{}).IsDDL() {
		t.Error("IsDDL is wrong")
	}
}
