package repl

import (
	"slices"
	"testing"
)

func testTable(pk []int, uks ...UniqueKey) *Table {
	return &Table{
		Schema: "shop", Name: "orders",
		Columns: []Column{
			{Name: "id", Type: "bigint", Unsigned: true},
			{Name: "code", Type: "varchar", Length: 32, Charset: "utf8mb4", Collation: "utf8mb4_general_ci"},
			{Name: "email", Type: "varchar", Length: 255, Nullable: true},
			{Name: "region", Type: "enum", Members: []string{"eu", "us"}},
		},
		PrimaryKey: pk, UniqueKeys: uks,
	}
}

func TestTableKeyColumns(t *testing.T) {
	for _, tc := range []struct {
		name string
		t    *Table
		want []int
	}{
		{"primary key", testTable([]int{0}, UniqueKey{"code", []int{1}}), []int{0}},
		{"composite primary key", testTable([]int{3, 0}), []int{3, 0}},
		{"not-null unique key", testTable(nil, UniqueKey{"code", []int{1}}), []int{1}},
		{"nullable unique key skipped", testTable(nil, UniqueKey{"email", []int{2}}, UniqueKey{"rc", []int{3, 1}}), []int{3, 1}},
		{"only nullable unique key", testTable(nil, UniqueKey{"email", []int{2, 1}}), nil},
		{"empty unique key skipped", testTable(nil, UniqueKey{"bad", nil}, UniqueKey{"code", []int{1}}), []int{1}},
		{"out of range unique key skipped", testTable(nil, UniqueKey{"bad", []int{-1}}, UniqueKey{"bad2", []int{9}}), nil},
		{"no keys", testTable(nil), nil},
	} {
		if got := tc.t.KeyColumns(); !slices.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("%s: KeyColumns = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestTableValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		t    *Table
		ok   bool
	}{
		{"valid", testTable([]int{0}, UniqueKey{"code", []int{1, 3}}), true},
		{"no keys", testTable(nil), true},
		{"pk out of range", testTable([]int{4}), false},
		{"pk negative", testTable([]int{-1}), false},
		{"pk repeats a column", testTable([]int{0, 0}), false},
		{"unique key out of range", testTable([]int{0}, UniqueKey{"code", []int{1, 7}}), false},
		{"unique key without columns", testTable([]int{0}, UniqueKey{"empty", nil}), false},
	} {
		if err := tc.t.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
	tb := testTable(nil)
	if tb.QualifiedName() != "shop.orders" || tb.ColumnIndex("email") != 2 || tb.ColumnIndex("Email") != -1 {
		t.Error("QualifiedName or ColumnIndex")
	}
}
