package applier

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// appSchema is the schema of the compensation scenario: every table class
// the applier must handle.
var appSchema = []string{
	"CREATE DATABASE app",
	`CREATE TABLE app.acct (id INT PRIMARY KEY, name VARCHAR(32) CHARACTER SET utf8mb4, bal DECIMAL(12,2),
	   f FLOAT, d DOUBLE, ts TIMESTAMP(3) NULL, note TEXT, kind ENUM('x','y'), flags SET('a','b','c'), bin VARBINARY(8))`,
	"CREATE TABLE app.src (id INT PRIMARY KEY, v INT)",
	"CREATE TABLE app.audit (n INT AUTO_INCREMENT PRIMARY KEY, src_id INT, action VARCHAR(8))",
	"CREATE TRIGGER app.src_ai AFTER INSERT ON app.src FOR EACH ROW INSERT INTO app.audit (src_id, action) VALUES (NEW.id, 'insert')",
	"CREATE TRIGGER app.src_au AFTER UPDATE ON app.src FOR EACH ROW INSERT INTO app.audit (src_id, action) VALUES (NEW.id, 'update')",
	"CREATE TABLE app.parent (id INT PRIMARY KEY, name VARCHAR(10))",
	"CREATE TABLE app.child (id INT PRIMARY KEY, pid INT NOT NULL, FOREIGN KEY (pid) REFERENCES app.parent (id) ON DELETE CASCADE)",
	"CREATE TABLE app.nokey (a INT, b VARCHAR(10))",
	"CREATE TABLE app.chain (id INT PRIMARY KEY, v INT)",
	"CREATE TABLE app.gap (id INT PRIMARY KEY)",
	"INSERT INTO app.gap VALUES (10)",
	`INSERT INTO app.acct VALUES (1, 'one', 10.00, 1.5, 2.5, '2020-01-01 00:00:00.001', 'n1', 'x', 'a', 0x01),
	   (2, 'two', 20.00, 0.1, 0.2, NULL, NULL, 'y', '', NULL), (3, 'three', 30.00, 3, 3, NULL, 'n3', NULL, 'b,c', 0x0303),
	   (4, 'four', 40.00, 4, 4, NULL, NULL, 'x', 'c', 0x04)`,
	"INSERT INTO app.src VALUES (1, 10)",
	"INSERT INTO app.parent VALUES (1, 'p1'), (2, 'p2')",
	"INSERT INTO app.child VALUES (10, 1), (11, 1), (12, 2)",
	"INSERT INTO app.nokey VALUES (1, 'x'), (1, 'x'), (2, NULL)",
	"INSERT INTO app.chain VALUES (1, 0), (2, 0)",
}

// lostTxns are committed on the old master after its replicas stopped:
// the transactions a failover loses. Each entry is one transaction.
var lostTxns = [][]string{
	{`INSERT INTO app.acct VALUES (6, 'Zoë ✓', 12.50, 1.1, 2.2, '2024-05-06 07:08:09.123', 'note', 'y', 'a,c', 0x00ff)`}, // L1
	{"UPDATE app.acct SET bal = bal + 1.01, f = f * 3, d = d / 3 WHERE id = 1"},                                          // L2
	{"DELETE FROM app.acct WHERE id = 2"}, // L3
	{"UPDATE app.acct SET name = 'THREE' WHERE id = 3", "DELETE FROM app.acct WHERE id = 4", // L4: multi-statement
		"INSERT INTO app.acct (id, name) VALUES (7, 'seven')", "INSERT INTO app.nokey VALUES (3, 'z')",
		"INSERT INTO app.gap VALUES (5)"},
	{"INSERT INTO app.src VALUES (2, 20)"},              // L5: trigger writes an audit row
	{"UPDATE app.src SET v = 11 WHERE id = 1"},          // L6: trigger
	{"DELETE FROM app.parent WHERE id = 1"},             // L7: cascades to child 10, 11 (not in the binlog)
	{"DELETE FROM app.nokey WHERE a = 1 LIMIT 1"},       // L8: one of two identical rows
	{"UPDATE app.chain SET v = 1 WHERE id = 1"},         // L9: conflicts (the new master changed the row)
	{"UPDATE app.chain SET v = 2 WHERE id = 1"},         // L10: depends on L9
	{"UPDATE app.chain SET v = 5 WHERE id = 2"},         // L11
	{"INSERT INTO app.acct (id, bal) VALUES (8, 0.01)"}, // L12
}

// grantsMariaDB is the least-privilege grant list of doc.go, for the
// schema the test uses.
var grantsMariaDB = []string{
	"GRANT SELECT, INSERT, UPDATE, DELETE ON %[1]s.* TO %[2]s",
	"GRANT READ_ONLY ADMIN, BINLOG REPLAY, BINLOG MONITOR ON *.* TO %[2]s",
}

// scenario is a failover with lost transactions, ready to compensate.
type scenario struct {
	topo     *sandbox.Topology
	old, nm  *sandbox.Instance // the crashed master and the promoted one
	store    capture.Store
	lost     []capture.Record // the captured lost transactions, in order
	oldPos   repl.GTIDSet     // the old master's gtid_binlog_pos at the crash
	recoupDB *sql.DB          // the new master as the least-privilege user
}

// newScenario (schema[0] is CREATE DATABASE) starts a primary with
// replicas and a real streamer capturing it into a local store, creates
// the schema, stops replication, commits lost on the primary, waits until
// the capture log holds them, kills the primary -9 and promotes a replica.
func newScenario(t *testing.T, replicas int, schema []string, lost [][]string) *scenario {
	t.Helper()
	ctx := t.Context()
	topo := sandbox.StartTopology(t, sandbox.Options{Replicas: replicas})
	s := &scenario{topo: topo, old: topo.Primary}
	capt := startCapture(t, s.old, "test") // before the schema: its DDL goes through the streamer's schema history
	user, pw := "recoup", randomHex(t)
	mustExec(t, s.old.DB(t), schema...)
	// The password is a random hex string; the statement is not logged.
	if _, err := s.old.DB(t).ExecContext(ctx, "CREATE USER "+user+"@'127.0.0.1' IDENTIFIED BY '"+pw+"'"); err != nil {
		t.Fatalf("creating the recoup user: %v", err)
	}
	for _, g := range grantsMariaDB {
		mustExec(t, s.old.DB(t), fmt.Sprintf(g, strings.TrimPrefix(schema[0], "CREATE DATABASE "), user+"@'127.0.0.1'"))
	}
	if err := topo.WaitCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	for _, r := range topo.Replicas {
		if err := r.StopReplication(ctx); err != nil {
			t.Fatal(err)
		}
	}
	before, err := s.old.GTIDBinlogPos(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, txn := range lost {
		mustTxn(t, s.old.DB(t), txn...)
	}
	if s.oldPos, err = s.old.GTIDBinlogPos(ctx); err != nil {
		t.Fatal(err)
	}
	// Every lost transaction is in the log before the master dies; the
	// streamer is stopped then, so the log does not follow the old master
	// when it is restarted or rejoins as a replica.
	s.store, s.lost = capt.store, txnsAfter(capt.wait(t), before)
	if len(s.lost) != len(lost) {
		t.Fatalf("the capture log has %d transactions after %s, want the %d lost ones", len(s.lost), before, len(lost))
	}
	if err := s.old.Kill(); err != nil {
		t.Fatal(err)
	}
	if s.nm, err = topo.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	s.recoupDB = openAs(t, s.nm, user, pw)
	return s
}

func randomHex(t testing.TB) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// openAs opens a pool to in as user; it is closed at the end of the test.
func openAs(t testing.TB, in *sandbox.Instance, user, pw string) *sql.DB {
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr, c.Timeout = user, pw, "tcp", in.Addr(), 5*time.Second
	db, err := sql.Open("mysql", c.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// mustTxn runs stmts as one transaction.
func mustTxn(t testing.TB, db *sql.DB, stmts ...string) {
	t.Helper()
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range stmts {
		if _, err := tx.ExecContext(t.Context(), q); err != nil {
			_ = tx.Rollback()
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func (s *scenario) fence(t *testing.T) {
	mustExec(t, s.nm.DB(t), "SET GLOBAL read_only = ON")
}

func (s *scenario) compensate(t *testing.T, ctx context.Context, opts Options) *Result {
	t.Helper()
	opts.Flavor, opts.Cluster = repl.MariaDB, "test"
	res, err := Compensate(ctx, s.recoupDB, s.store, opts)
	if err != nil {
		t.Fatalf("Compensate: %v", err)
	}
	return res
}

// binlogGTIDs is every GTID in in's binary logs, read from its files. It
// checks what a new master wrote, not a capture log, so it reads the files
// directly (recordBuilder) rather than through a streamer.
func binlogGTIDs(t testing.TB, in *sandbox.Instance) map[repl.GTID]bool {
	out := map[repl.GTID]bool{}
	for _, r := range binlogRecords(t, in, "check") {
		out[r.GTID] = true
	}
	return out
}
