package main

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recoup-dev/recoup/applier"
	"github.com/recoup-dev/recoup/applier/report"
	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// reviewTable is the table of the review test, as the streamer captures it.
var reviewTable = &repl.Table{Schema: "shop", Name: "acct", PrimaryKey: []int{0}, Columns: []repl.Column{
	{Name: "id", Type: "int"},
	{Name: "balance", Type: "decimal", Length: 12, Decimals: 2},
	{Name: "note", Type: "varchar", Length: 20, Charset: "utf8mb4", Collation: "utf8mb4_general_ci", Nullable: true},
	{Name: "f", Type: "float", Nullable: true},
	{Name: "at", Type: "datetime", Decimals: 6, Nullable: true},
}}

func acctRow(id int64, balance, note string, f float32, at string) repl.Row {
	return repl.Row{repl.IntValue(id), repl.TextValue(repl.KindDecimal, []byte(balance)),
		repl.StringValue([]byte(note), "utf8mb4"), repl.Float32Value(f), repl.TextValue(repl.KindDateTime, []byte(at))}
}

// TestReviewResolve resolves conflicts of a report on a real, fenced
// MariaDB new master, as a user with only the documented grants: an
// applied conflict leaves the row byte-identical to the after-image; a row
// changed since the report is refused and left alone; a discard only
// records; list hides what is resolved.
func TestReviewResolve(t *testing.T) {
	ctx := t.Context()
	nm, jsonPath, htmlPath, after1, after4 := reviewSetup(t)
	db := nm.DB(t)
	dir := t.TempDir()
	cfg := reviewConfig(t, dir, nm)
	if out := review(t, nil, "show", "--report", jsonPath, "2", "--live", "--config", cfg); !strings.Contains(out, "the rows are as the report shows them") {
		t.Errorf("live re-check of an unchanged conflict:\n%s", out)
	}
	// A client changes row 2 after the report was written.
	if _, err := db.ExecContext(ctx, "UPDATE shop.acct SET balance = 22.00 WHERE id = 2"); err != nil {
		t.Fatal(err)
	}
	before2 := readAcct(t, db, 2)
	if out := review(t, nil, "show", "--report", jsonPath, "2", "--live", "--config", cfg); !strings.Contains(out, "changed since the report") {
		t.Errorf("live re-check of a changed conflict:\n%s", out)
	}
	wantListed(t, jsonPath, "1", "2", "3", "4")

	review(t, nil, "resolve", "--report", jsonPath, "1", "--apply", "--config", cfg, "--by", "ann")
	wantRow(t, db, 1, after1)
	review(t, []string{"changed since the report", "row 0 (update shop.acct id=2)"}, "resolve", "--report", jsonPath, "2", "--apply", "--config", cfg)
	wantRow(t, db, 2, before2)
	before3 := readAcct(t, db, 3)
	review(t, nil, "resolve", "--report", jsonPath, "3", "--discard", "--by", "bob", "--note", "client wins")
	wantRow(t, db, 3, before3)
	review(t, []string{"already resolved"}, "resolve", "--report", jsonPath, "1", "--discard")
	wantListed(t, jsonPath, "2", "4")
	// A second reviewer working on the report meanwhile is turned away.
	before4 := readAcct(t, db, 4)
	unlock, err := report.LockDecisions(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	review(t, []string{"another recoup review is resolving a conflict of this report"}, "resolve", "--report", jsonPath, "4", "--apply", "--config", cfg)
	unlock()
	wantRow(t, db, 4, before4)
	wantListed(t, jsonPath, "2", "4")

	review(t, nil, "resolve", "--report", jsonPath, "4", "--apply", "--config", cfg)
	wantRow(t, db, 4, after4)
	wantListed(t, jsonPath, "2")
	review(t, nil, "resolve", "--report", jsonPath, "2", "--apply", "--force", "--config", cfg)
	wantRow(t, db, 2, acctRow(2, "21.00", "x", 2, "2026-01-01 00:00:00.000000"))
	wantListed(t, jsonPath)
	out := review(t, nil, "show", "--report", jsonPath, "1")
	for _, want := range []string{"status:     apply by ann", "*11.00", "!50.00", "REVIEW BEFORE RUNNING", "UPDATE `shop`.`acct` SET"} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	decisions, err := report.ReadDecisions(jsonPath)
	if err != nil || len(decisions) != 4 || decisions[3].Note != "client wins" || decisions[1].NewMaster != nm.Addr() ||
		!decisions[2].Forced || decisions[1].Forced {
		t.Errorf("decisions = %+v, %v", decisions, err)
	}
	if page, err := os.ReadFile(htmlPath); err != nil || strings.Count(string(page), "reviewed: ") != 4 {
		t.Errorf("the page does not show the 4 decisions (%v)", err)
	}
}

// reviewSetup starts a fenced new master holding the rows of four
// conflicts, a reviewer account with only the documented grants, and the
// report of those conflicts; it returns the after-images to apply.
func reviewSetup(t *testing.T) (nm *sandbox.Instance, jsonPath, htmlPath string, after1, after4 repl.Row) {
	t.Helper()
	ctx := t.Context()
	nm = sandbox.StartInstance(t, nil)
	db := nm.DB(t)
	for _, q := range []string{"CREATE DATABASE shop",
		"CREATE TABLE shop.acct (id INT PRIMARY KEY, balance DECIMAL(12,2) NOT NULL, note VARCHAR(20) CHARACTER SET utf8mb4, f FLOAT, at DATETIME(6))",
		"INSERT INTO shop.acct VALUES (1, 50.00, 'client', 1.5, '2026-01-01 00:00:00'), (2, 20.00, 'b', 2, NULL), " +
			"(3, 30.00, 'client', 3, NULL), (4, 40.00, 'other', 4, NULL)",
		"CREATE USER reviewer@'127.0.0.1' IDENTIFIED BY 'rv-pass-1'",
		"GRANT READ_ONLY ADMIN ON *.* TO reviewer@'127.0.0.1'",
		"GRANT SELECT, INSERT, UPDATE, DELETE ON shop.* TO reviewer@'127.0.0.1'",
		"SET GLOBAL read_only = ON"} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	after1 = acctRow(1, "11.00", "é <b>&'\"", 0.1, "2026-02-03 04:05:06.000007")
	after4 = acctRow(4, "-0.01", "four", 3.4028235e38, "0000-00-00 00:00:00.000000")
	rep := &report.Report{Schema: report.SchemaVersion, Cluster: "shop", Flavor: "mariadb", Policy: "report",
		GeneratedAt: time.Now().UTC(), Recovery: report.Recovery{NewMaster: nm.Addr()}, Tables: []*repl.Table{reviewTable}}
	rep.Conflicts = []report.Conflict{
		reviewConflict(t, nm, 1, "update", acctRow(1, "10.00", "old", 1.5, "2026-01-01 00:00:00.000000"), after1),
		reviewConflict(t, nm, 2, "update", acctRow(2, "10.00", "old", 2, "2026-01-01 00:00:00.000000"), acctRow(2, "21.00", "x", 2, "2026-01-01 00:00:00.000000")),
		reviewConflict(t, nm, 3, "delete", acctRow(3, "30.00", "old", 3, "2026-01-01 00:00:00.000000"), nil),
		reviewConflict(t, nm, 4, "insert", nil, after4),
	}
	jsonPath, htmlPath, err := report.Save(filepath.Join(t.TempDir(), "reports"), rep)
	if err != nil {
		t.Fatal(err)
	}
	return nm, jsonPath, htmlPath, after1, after4
}

// reviewConflict builds a one-row conflict whose current image is read
// from the new master, as a compensation run records it.
func reviewConflict(t *testing.T, nm *sandbox.Instance, id int64, change string, before, after repl.Row) report.Conflict {
	t.Helper()
	probe := before
	if probe == nil {
		probe = after
	}
	cur, err := applier.ReadRow(t.Context(), nm.DB(t), repl.MariaDB, reviewTable, probe)
	if err != nil || cur == nil {
		t.Fatalf("reading row %d: %v (%v)", id, cur, err)
	}
	names := []string{"id", "balance", "note", "f", "at"}
	image := func(r repl.Row) *report.Image {
		if r == nil {
			return nil
		}
		return &report.Image{Columns: names, Values: r}
	}
	reason := "the row differs from the before-image"
	if change == "insert" {
		reason = "a different row has the same key"
	}
	return report.Conflict{N: int(id), GTID: fmt.Sprintf("0-1-%d", 100+id), Verdict: "conflict", Resolvable: true,
		Reason: reason, Tables: []string{"shop.acct"}, Decision: "skipped",
		Rows: []report.Row{{Index: 0, Table: "shop.acct", TableDef: 0, Change: change, Key: fmt.Sprintf("id=%d", id),
			Verdict: "conflict", Reason: reason, Before: image(before), After: image(after), Current: image(cur),
			CurrentState: report.CurrentFound}}}
}

// reviewConfig writes a config whose compensation user is the reviewer.
func reviewConfig(t *testing.T, dir string, nm *sandbox.Instance) string {
	t.Helper()
	t.Setenv("RECOUP_TEST_STREAM_PW", nm.Password)
	t.Setenv("RECOUP_TEST_REVIEW_PW", "rv-pass-1")
	cfg := fmt.Sprintf("clusters:\n  - name: shop\n    master: %s\n    user: %s\n    password_env: RECOUP_TEST_STREAM_PW\n"+
		"    server_id: 4001\n    compensate:\n      user: reviewer\n      password_env: RECOUP_TEST_REVIEW_PW\n"+
		"store:\n  local:\n    dir: %s\n", nm.Addr(), nm.User, filepath.Join(dir, "store"))
	p := filepath.Join(dir, "recoup.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// review runs `recoup review args...`; wantErr lists what the error must
// say (nil: it must succeed). It returns stdout.
func review(t *testing.T, wantErr []string, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	err := runReview(t.Context(), args, &out, &errOut)
	switch {
	case wantErr == nil && err != nil:
		t.Fatalf("review %v: %v\n%s", args, err, errOut.String())
	case wantErr != nil && err == nil:
		t.Fatalf("review %v succeeded, want an error saying %q", args, wantErr)
	}
	for _, w := range wantErr {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("review %v: error %q lacks %q", args, err, w)
		}
	}
	return out.String()
}

// wantListed checks which conflicts `review list` shows as open.
func wantListed(t *testing.T, jsonPath string, want ...string) {
	t.Helper()
	var got []string
	for _, line := range strings.Split(review(t, nil, "list", "--report", jsonPath), "\n")[1:] {
		if f := strings.Fields(line); len(f) > 0 && line != "no open conflicts" {
			got = append(got, f[0])
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("open conflicts = %v, want %v", got, want)
	}
}

// readAcct reads row id of shop.acct exactly (nil when absent).
func readAcct(t *testing.T, db *sql.DB, id int64) repl.Row {
	t.Helper()
	probe := repl.Row{repl.IntValue(id), repl.Null(), repl.Null(), repl.Null(), repl.Null()}
	r, err := applier.ReadRow(t.Context(), db, repl.MariaDB, reviewTable, probe)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func wantRow(t *testing.T, db *sql.DB, id int64, want repl.Row) {
	t.Helper()
	if got := readAcct(t, db, id); !got.Equal(want) {
		t.Errorf("row %d = %v, want %v", id, got, want)
	}
}

// TestReviewAfterRealFailover is the DBA's story on a real lossy
// failover: the streamer captures the old master; the replica stops
// replicating; the old master commits L1 (update row 1), L2 (insert row 2)
// and L3 (update row 1 again) and dies; the replica is promoted and a
// client changes row 1. Compensation applies L2 and skips L1 (conflict)
// and L3 (depends on L1); the report is written; review refuses L3 first
// (its row was never checked and conflicts now), applies L1, then L3, and
// row 1 ends as the old master left it, byte for byte.
func TestReviewAfterRealFailover(t *testing.T) {
	ctx := t.Context()
	topo := sandbox.StartTopology(t, sandbox.Options{Replicas: 1})
	old := topo.Primary
	mustExec(t, old, "CREATE DATABASE shop",
		"CREATE TABLE shop.items (id INT PRIMARY KEY, v DECIMAL(10,2) NOT NULL, s VARCHAR(20) CHARACTER SET utf8mb4, f DOUBLE, ts TIMESTAMP(6) NULL)",
		"INSERT INTO shop.items VALUES (1, 1.00, 'one', 0.5, '2026-01-01 00:00:00')")
	if err := topo.WaitCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfgPath := writeTestConfig(t, dir, topo)
	storeDir := filepath.Join(dir, "store", "shop")
	stopStream := startTestStreamer(t, dir, topo)
	waitCaptured(t, storeDir, mustPos(t, old))
	if err := topo.Replicas[0].StopReplication(ctx); err != nil {
		t.Fatal(err)
	}
	mustExec(t, old, "UPDATE shop.items SET v = 2.50, s = 'é <i>', f = 0.1 WHERE id = 1",
		"INSERT INTO shop.items VALUES (2, 9.99, 'two', NULL, NULL)",
		"UPDATE shop.items SET v = 3.75, ts = '2026-03-04 05:06:07.000089' WHERE id = 1")
	waitCaptured(t, storeDir, mustPos(t, old))
	stopStream()
	if err := old.Kill(); err != nil {
		t.Fatal(err)
	}
	nm, err := topo.Promote(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, nm, "SET SESSION gtid_domain_id = 1", "UPDATE shop.items SET s = 'client' WHERE id = 1", "SET GLOBAL read_only = ON")
	jsonPath := compensateAndReport(t, storeDir, nm, old.Addr())
	wantListed(t, jsonPath, "1", "2")
	review(t, []string{"was not read by the run", "now conflicts"}, "resolve", "--report", jsonPath, "2", "--apply", "--config", cfgPath)
	review(t, nil, "resolve", "--report", jsonPath, "1", "--apply", "--config", cfgPath)
	review(t, nil, "resolve", "--report", jsonPath, "2", "--apply", "--config", cfgPath)
	wantListed(t, jsonPath)
	r, err := report.Read(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	final := r.Conflicts[1].Rows[0].After.Values
	got, err := applier.ReadRow(ctx, nm.DB(t), repl.MariaDB, r.Tables[0], final)
	if err != nil || !got.Equal(final) {
		t.Errorf("row 1 on the new master = %v (%v), want the old master's last image %v", got, err, final)
	}
}

// compensateAndReport runs compensation on the new master and writes its
// report, checking the verdicts the story expects.
func compensateAndReport(t *testing.T, storeDir string, nm *sandbox.Instance, oldAddr string) string {
	t.Helper()
	store, err := capture.OpenLocalReadOnly(storeDir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	started := time.Now()
	res, err := applier.Compensate(t.Context(), nm.DB(t), store, applier.Options{Flavor: repl.MariaDB, Cluster: "shop",
		Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts.Applied != 1 || res.Counts.Conflicts != 2 {
		t.Fatalf("counts = %+v, want L2 applied and L1, L3 conflicting", res.Counts)
	}
	jsonPath, _, err := report.Write(filepath.Join(filepath.Dir(storeDir), "..", "reports"), res, report.Meta{
		RecoveryUID: "test-recovery", OldMaster: oldAddr, NewMaster: nm.Addr(), Started: started, Finished: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	r, err := report.Read(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Tables) != 1 || r.Conflicts[0].Rows[0].TableDef != 0 {
		t.Fatalf("the report lacks the captured table definition (applier.RowResult.TableDef): tables %d", len(r.Tables))
	}
	return jsonPath
}

func TestReviewArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		err  string // "" for success
	}{
		{[]string{"show", "--report", "r.json", "3"}, ""},
		{[]string{"resolve", "--report", "r.json", "3", "--discard", "--by", "x"}, ""},
		{[]string{"resolve", "3", "--report", "r.json", "--apply"}, ""},
		{[]string{"show", "--report", "r.json"}, "conflict number is required"},
		{[]string{"show", "--report", "r.json", "x"}, "not a conflict number"},
		{[]string{"show", "--report", "r.json", "0"}, "not a conflict number"},
		{[]string{"show", "3"}, "--report is required"},
		{[]string{"resolve", "--report", "r.json", "3"}, "exactly one of --apply or --discard"},
		{[]string{"resolve", "--report", "r.json", "3", "--apply", "--discard"}, "exactly one of --apply or --discard"},
		{[]string{"list", "--report", "r.json", "extra"}, "unexpected argument"},
	} {
		a, err := parseReviewArgs(tc.args[0], tc.args[1:], io.Discard, tc.args[0] != "list")
		switch {
		case tc.err == "" && (err != nil || a.n != 3 || a.report != "r.json"):
			t.Errorf("%v: %+v, %v", tc.args, a, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, errUsage)):
			t.Errorf("%v: error %v, want a usage error saying %q", tc.args, err, tc.err)
		}
	}
	if err := runReview(t.Context(), []string{"frob"}, io.Discard, io.Discard); !errors.Is(err, errUsage) {
		t.Errorf("unknown subcommand: %v", err)
	}
	if got := termSafe("a\x1b[31mred\nx"); got != `a\x1b[31mred\nx` {
		t.Errorf("term kept control characters: %q", got)
	}
}
