package applier

import (
	"database/sql"
	"errors"
	"testing"

	"github.com/recoup-dev/recoup/conflict"
	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// TestApplyReviewed: the re-check sees the new master's rows now; a
// refusing check and a table with triggers write nothing; an accepted
// conflict leaves the rows in their after-images, which a second re-check
// then finds already applied.
func TestApplyReviewed(t *testing.T) {
	ctx := t.Context()
	db := sandbox.StartInstance(t, nil).DB(t)
	mustExec(t, db, "CREATE DATABASE rv",
		"CREATE TABLE rv.a (id INT PRIMARY KEY, v VARCHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci)",
		"CREATE TABLE rv.trig (id INT PRIMARY KEY, v VARCHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci)",
		"CREATE TABLE rv.audit (n INT)",
		"CREATE TRIGGER rv.t_upd AFTER UPDATE ON rv.trig FOR EACH ROW INSERT INTO rv.audit VALUES (1)",
		"INSERT INTO rv.a VALUES (1, 'client'), (3, 'gone?')", "INSERT INTO rv.trig VALUES (1, 'client')")
	table := func(name string) *repl.Table {
		return &repl.Table{Schema: "rv", Name: name, PrimaryKey: []int{0}, Columns: []repl.Column{{Name: "id", Type: "int"},
			{Name: "v", Type: "varchar", Length: 10, Charset: "utf8mb4", Collation: "utf8mb4_general_ci", Nullable: true}}}
	}
	r := func(id int64, v string) repl.Row {
		return repl.Row{repl.IntValue(id), repl.StringValue([]byte(v), "utf8mb4")}
	}
	a := table("a")
	txn := repl.Txn{GTID: repl.MariaDBGTID(0, 1, 9), Changes: []repl.RowChange{
		{Table: a, Before: r(1, "old"), After: r(1, "new")}, // conflict: the client changed it
		{Table: a, After: r(2, "two")},                      // applies
		{Table: a, Before: r(3, "gone?")},                   // applies
	}}
	d, err := Recheck(ctx, db, repl.MariaDB, txn)
	if err != nil || d.Verdict != conflict.Conflict || !d.Rows[0].Current.Equal(r(1, "client")) || d.Rows[1].Verdict != conflict.Apply {
		t.Fatalf("Recheck = %+v, %v", d, err)
	}
	refused := errors.New("refused")
	if _, err := ApplyReviewed(ctx, db, repl.MariaDB, txn, func(*conflict.TxnDecision) error { return refused }); !errors.Is(err, refused) {
		t.Fatalf("a refusing check: %v", err)
	}
	trig := repl.Txn{GTID: txn.GTID, Changes: []repl.RowChange{{Table: table("trig"), Before: r(1, "old"), After: r(1, "new")}}}
	if _, err := ApplyReviewed(ctx, db, repl.MariaDB, trig, func(*conflict.TxnDecision) error { return nil }); !errors.Is(err, ErrTriggers) {
		t.Fatalf("a table with triggers: %v", err)
	}
	checkReviewRows(t, db, "SELECT GROUP_CONCAT(id, '=', v ORDER BY id) FROM rv.a", "1=client,3=gone?")
	checkReviewRows(t, db, "SELECT CONCAT(COUNT(*)) FROM rv.audit", "0")
	if _, err := ApplyReviewed(ctx, db, repl.MariaDB, txn, func(*conflict.TxnDecision) error { return nil }); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[int64]repl.Row{1: r(1, "new"), 2: r(2, "two"), 3: nil} {
		got, err := ReadRow(ctx, db, repl.MariaDB, a, r(id, ""))
		if err != nil || !got.Equal(want) {
			t.Errorf("row %d = %v (%v), want %v", id, got, err, want)
		}
	}
	if d, err := Recheck(ctx, db, repl.MariaDB, txn); err != nil || d.Verdict != conflict.AlreadyApplied {
		t.Errorf("after applying, Recheck = %+v, %v; want already-applied", d, err)
	}
}

func checkReviewRows(t *testing.T, db *sql.DB, q, want string) {
	t.Helper()
	var got string
	if err := db.QueryRowContext(t.Context(), q).Scan(&got); err != nil || got != want {
		t.Errorf("%s = %q (%v), want %q", q, got, err, want)
	}
}
