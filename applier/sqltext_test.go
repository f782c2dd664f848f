package applier

import (
	"reflect"
	"testing"

	"github.com/recoup-dev/recoup/conflict"
	"github.com/recoup-dev/recoup/repl"
)

func testTable() *repl.Table {
	return &repl.Table{Schema: "app", Name: "t`x", Columns: []repl.Column{
		{Name: "id", Type: "int"},
		{Name: "k", Type: "varchar", Charset: "utf8mb4", Collation: "utf8mb4_unicode_ci"},
		{Name: "amt", Type: "decimal", Length: 12, Decimals: 2, Nullable: true},
		{Name: "g", Type: "int", Generated: "virtual", Nullable: true},
	}, PrimaryKey: []int{0, 1}}
}

func row(vals ...repl.Value) repl.Row { return repl.Row(vals) }

func TestBuildSelects(t *testing.T) {
	tbl := testTable()
	k1 := row(repl.IntValue(1), repl.StringValue([]byte("a"), "utf8mb4"))
	k2 := row(repl.IntValue(2), repl.StringValue([]byte("b'"), "utf8mb4"))
	f := conflict.Fetch{Table: tbl, Sets: []conflict.KeySet{{Index: "PRIMARY", Columns: []int{0, 1}, Images: []repl.Row{k1, k2}}}}
	got := buildSelects(f, true)
	want := "SELECT `id`, `k`, `amt`, `g` FROM `app`.`t``x` WHERE (`id`, `k`) IN " +
		"((?, CONVERT(? USING utf8mb4) COLLATE utf8mb4_unicode_ci), (?, CONVERT(? USING utf8mb4) COLLATE utf8mb4_unicode_ci)) FOR UPDATE"
	if len(got) != 1 || got[0].query != want {
		t.Fatalf("buildSelects = %+v\nwant %s", got, want)
	}
	wantArgs := []any{int64(1), []byte("a"), int64(2), []byte("b'")}
	if !reflect.DeepEqual(got[0].args, wantArgs) {
		t.Errorf("args = %#v, want %#v", got[0].args, wantArgs)
	}
}

func TestBuildSelectsWholeRowAndSplit(t *testing.T) {
	tbl := &repl.Table{Schema: "s", Name: "nokey", Columns: []repl.Column{{Name: "a", Type: "int", Nullable: true},
		{Name: "d", Type: "decimal", Length: 5, Decimals: 1, Nullable: true}}}
	img := row(repl.Null(), repl.TextValue(repl.KindDecimal, []byte("1.5")))
	f := conflict.Fetch{Table: tbl, Sets: []conflict.KeySet{{Columns: []int{0, 1}, WholeRow: true, Images: []repl.Row{img, img}}}}
	got := buildSelects(f, false)
	want := "SELECT `a`, `d` FROM `s`.`nokey` WHERE ((`a` <=> ? AND `d` <=> CAST(? AS DECIMAL(5,1))) OR " +
		"(`a` <=> ? AND `d` <=> CAST(? AS DECIMAL(5,1))))"
	if len(got) != 1 || got[0].query != want {
		t.Fatalf("buildSelects = %+v\nwant %s", got, want)
	}
	many := make([]repl.Row, maxFetchParams)
	for i := range many {
		many[i] = row(repl.IntValue(int64(2 * i))) // no consecutive runs: one placeholder per image
	}
	f = conflict.Fetch{Table: tbl, Sets: []conflict.KeySet{{Columns: []int{0}, Images: many[:maxFetchParams/2+1]},
		{Index: "u", Columns: []int{0}, Images: many}}}
	stmts := buildSelects(f, false)
	total := 0
	for _, st := range stmts {
		if len(st.args) > maxFetchParams {
			t.Errorf("a statement has %d placeholders, more than %d", len(st.args), maxFetchParams)
		}
		total += len(st.args)
	}
	if len(stmts) != 2 || total != maxFetchParams/2+1+maxFetchParams {
		t.Errorf("split into %d statements with %d placeholders", len(stmts), total)
	}
}

func TestOverwriteStatements(t *testing.T) {
	tbl := testTable()
	before := row(repl.IntValue(1), repl.StringValue([]byte("a"), "utf8mb4"), repl.Null(), repl.IntValue(7))
	after := row(repl.IntValue(2), repl.StringValue([]byte("a"), "utf8mb4"), repl.TextValue(repl.KindDecimal, []byte("3.10")), repl.IntValue(7))
	txn := &repl.Txn{GTID: repl.MariaDBGTID(0, 1, 9), Changes: []repl.RowChange{
		{Table: tbl, Before: before, After: after}, {Table: tbl, Before: after}, {Table: tbl, After: before}}}
	d := &conflict.TxnDecision{Verdict: conflict.ApplyOverwrite, Rows: []conflict.RowDecision{
		{Index: 0, Verdict: conflict.ApplyOverwrite}, {Index: 1, Verdict: conflict.Apply}, {Index: 2, Verdict: conflict.AlreadyApplied}}}
	got, err := overwriteStatements(txn, d)
	if err != nil {
		t.Fatal(err)
	}
	del := "DELETE FROM `app`.`t``x` WHERE `id` = ? AND `k` = CONVERT(? USING utf8mb4) COLLATE utf8mb4_unicode_ci LIMIT 1"
	ins := "INSERT INTO `app`.`t``x` (`id`, `k`, `amt`) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE " +
		"`id` = VALUES(`id`), `k` = VALUES(`k`), `amt` = VALUES(`amt`)"
	want := []overwriteStmt{
		{query: del, args: []any{int64(1), []byte("a")}},
		{query: ins, args: []any{int64(2), []byte("a"), []byte("3.10")}},
		{query: del, args: []any{int64(2), []byte("a")}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("overwriteStatements =\n%#v\nwant\n%#v", got, want)
	}
	d.Rows[2].Verdict = conflict.Conflict
	if _, err := overwriteStatements(txn, d); err == nil {
		t.Error("a conflicting row in a transaction to overwrite: want an error")
	}
}

func TestIsWordAndFileName(t *testing.T) {
	for s, want := range map[string]bool{"utf8mb4": true, "latin1_swedish_ci": true, "": false, "x y": false, "a'b": false} {
		if isWord(s) != want {
			t.Errorf("isWord(%q) = %v", s, !want)
		}
	}
	for s, want := range map[string]bool{"mysql-bin.000001": true, "x'y": false, "a b": false, "": false} {
		if isFileName(s) != want {
			t.Errorf("isFileName(%q) = %v", s, !want)
		}
	}
}
