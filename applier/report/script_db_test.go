package report

import (
	"bytes"
	"database/sql"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/recoup-dev/recoup/applier"
	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// TestScriptOnMariaDB runs the statements a DBA would paste, through the
// mariadb command-line client as they would, and checks that each row then
// holds its after-image byte for byte (read the way compensation reads
// rows: binary protocol, exact conversions).
func TestScriptOnMariaDB(t *testing.T) {
	client, err := exec.LookPath("mariadb")
	if err != nil {
		t.Fatal("the mariadb client is missing: apt-get install -y mariadb-client")
	}
	in := sandbox.StartInstance(t, nil)
	db := in.DB(t)
	ctx := t.Context()
	mustExecAll(t, db, "CREATE DATABASE shop", ordersDDL, "CREATE TABLE shop.notes (a INT, b VARCHAR(10) CHARACTER SET utf8mb4, f FLOAT)")
	cnf := clientOptions(t, in)
	for _, tc := range scriptCases() {
		t.Run(tc.name, func(t *testing.T) {
			mustExecAll(t, db, tc.setup...)
			r := oneRowReport(tc.table, tc.change, tc.state, tc.before, tc.after)
			s := r.ScriptFor(&r.Conflicts[0])
			if !s.Complete {
				t.Fatalf("script incomplete:\n%s", s.Text)
			}
			runClient(t, client, cnf, s.Text)
			probe := tc.after
			if probe == nil {
				probe = tc.before
			}
			got, err := applier.ReadRow(ctx, db, repl.MariaDB, tc.table, probe)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.after == nil && got != nil:
				t.Errorf("the deleted row is still there: %v", got)
			case tc.after != nil && !got.Equal(tc.after):
				t.Errorf("row after the script differs from the after-image:\n%s", rowDiff(tc.table, got, tc.after))
			}
		})
	}
	checkRows(t, db, "SELECT COUNT(*) FROM shop.notes WHERE b = 'x'", 1)
}

// scriptCase is one row state a DBA's script must bring to the after-image.
type scriptCase struct {
	name          string
	setup         []string
	table         *repl.Table
	change, state string
	before, after repl.Row
}

func scriptCases() []scriptCase {
	orders := ordersTable()
	notes := &repl.Table{Schema: "shop", Name: "notes", Columns: []repl.Column{{Name: "a", Type: "int", Nullable: true},
		{Name: "b", Type: "varchar", Length: 10, Charset: "utf8mb4", Collation: "utf8mb4_general_ci", Nullable: true},
		{Name: "f", Type: "float", Nullable: true}}}
	odd := orderRow(2, "𝄞 tab\there", "0.0001", math.SmallestNonzeroFloat64)
	odd[3] = repl.Float32Value(math.MaxFloat32)
	odd[6], odd[7], odd[8], odd[9], odd[14], odd[15], odd[17] = repl.StringValue(nil, "latin1"), repl.BytesValue(nil),
		repl.BitValue(0), repl.YearValue(0), repl.EnumValue(1, "new"), repl.SetValue(0, ""), repl.Null()
	noteBefore := repl.Row{repl.IntValue(1), str("x"), repl.Float32Value(1.5)}
	noteAfter := repl.Row{repl.IntValue(1), str("y"), repl.Float32Value(float32(math.Pi))}
	return []scriptCase{
		{"update a changed row", []string{"INSERT INTO shop.orders (id, qty, price, ratio, score, name) VALUES (1, 1, 99, 1, 1, 'x')"},
			orders, "update", CurrentFound, orderRow(1, "café", "1.0000", 1), fixtureReport().Conflicts[0].Rows[0].After.Values},
		{"insert an absent row", nil, orders, "insert", CurrentAbsent, nil, odd},
		{"insert over a row with the key", []string{"INSERT INTO shop.orders (id, qty, price, ratio, score, name) VALUES (3, 1, 99, 1, 1, 'x')"},
			orders, "insert", CurrentFound, nil, orderRow(3, "three", "3.3000", -2.5)},
		{"update an absent row", nil, orders, "update", CurrentAbsent, orderRow(5, "old", "1.0000", 1), orderRow(5, "new", "5.0000", -math.MaxFloat64)},
		{"delete", []string{"INSERT INTO shop.orders (id, qty, price, ratio, score, name) VALUES (4, 1, 99, 1, 1, 'x')"},
			orders, "delete", CurrentBefore, orderRow(4, "x", "99.0000", 1), nil},
		{"update one of two identical rows of a keyless table", []string{"INSERT INTO shop.notes VALUES (1, 'x', 1.5), (1, 'x', 1.5)"},
			notes, "update", CurrentBefore, noteBefore, noteAfter},
	}
}

func oneRowReport(t *repl.Table, change, state string, before, after repl.Row) *Report {
	row := Row{Index: 0, Table: t.QualifiedName(), TableDef: 0, Change: change, Key: "k", Verdict: "conflict", CurrentState: state}
	if before != nil {
		row.Before = img(t, before)
	}
	if after != nil {
		row.After = img(t, after)
	}
	if state == CurrentFound { // a row with the same key: only its key matters to the script
		row.Current = row.After
		if row.Current == nil {
			row.Current = row.Before
		}
	}
	return &Report{Schema: SchemaVersion, ID: "t", Flavor: "mariadb", Tables: []*repl.Table{t},
		Conflicts: []Conflict{{N: 1, GTID: "0-1-1", Verdict: "conflict", Rows: []Row{row}}}}
}

func rowDiff(t *repl.Table, got, want repl.Row) string {
	var b bytes.Buffer
	for i, c := range t.Columns {
		if i >= len(got) || i >= len(want) {
			break
		}
		if !got[i].Equal(want[i]) {
			fmt.Fprintf(&b, "  %s: got %s %q (%s), want %s %q (%s)\n", c.Name, got[i].Kind(), got[i].String(), got[i].Charset(),
				want[i].Kind(), want[i].String(), want[i].Charset())
		}
	}
	return b.String()
}

// clientOptions writes a [client] option file (mode 0600): the password
// never goes on a command line.
func clientOptions(t *testing.T, in *sandbox.Instance) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "client.cnf")
	// A DBA's session is not in UTC: the script must set its time zone.
	text := fmt.Sprintf("[client]\nuser=%s\npassword=%s\nhost=%s\nport=%d\ninit-command=SET SESSION time_zone = '+05:00'\n",
		in.User, in.Password, in.Host, in.Port)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func runClient(t *testing.T, client, cnf, script string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), client, "--defaults-extra-file="+cnf, "--batch")
	cmd.Stdin = bytes.NewReader([]byte(script))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mariadb client: %v\n%s\nscript:\n%s", err, out, script)
	}
}

func mustExecAll(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func checkRows(t *testing.T, db *sql.DB, q string, want int) {
	t.Helper()
	var n int
	if err := db.QueryRowContext(t.Context(), q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if n != want {
		t.Errorf("%s = %d, want %d", q, n, want)
	}
}
