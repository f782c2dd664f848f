package streamer

import (
	"context"
	"testing"

	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// TestSchemaHistoryMariaDB checks the parser path against the server:
// after seeding and after each DDL, every table in the history equals what
// information_schema says, whether the DDL was applied from its text or,
// for MariaDB-only syntax, read from information_schema.
func TestSchemaHistoryMariaDB(t *testing.T) {
	inst := sandbox.StartInstance(t, nil)
	db := inst.DB(t)
	execAll(t, db, "CREATE DATABASE app", "CREATE DATABASE lat CHARACTER SET latin1",
		"CREATE TABLE app.rich (id INT PRIMARY KEY, a VARCHAR(20), b TEXT, c DECIMAL(10,2), d DATETIME(6), e ENUM('x','y''z'), "+
			"f JSON, g INT UNSIGNED ZEROFILL, h BIT(3), i YEAR, j BLOB, k BINARY(16), l FLOAT, m DOUBLE(10,3), u INT UNIQUE, "+
			"v INT AS (id + 1) VIRTUAL, w INT AS (id + 2) PERSISTENT, x TIMESTAMP(3) NULL, y CHAR(3) CHARACTER SET latin1, "+
			"z VARCHAR(5) COLLATE utf8mb4_bin NOT NULL, s SET('p','q'), tt TIME(2), dd DATE, tb TINYBLOB, lt LONGTEXT, "+
			"mi MEDIUMINT, si SMALLINT UNSIGNED, ti TINYINT(1), bi BIGINT, vb VARBINARY(7), UNIQUE KEY uk2 (a, g))",
		"CREATE TABLE app.maria (id INT PRIMARY KEY, ip INET6, uid UUID, hid INT INVISIBLE)",
		"CREATE TABLE lat.l1 (id INT, name VARCHAR(10), UNIQUE KEY (id, name))")
	h := newHistory(db, repl.MariaDB, func(s string) bool { return s == "app" || s == "lat" }, testLogger(t), "test")
	ctx := context.Background()
	if err := h.seed(ctx); err != nil {
		t.Fatal(err)
	}
	if len(h.tables) != 3 {
		t.Fatalf("seeded %d tables, want 3", len(h.tables))
	}
	compareWithServer(t, h, "seed")
	if got := describeTable(h.tables[tableKey{"app", "maria"}].t); got != "id:int(11,0)! ip:inet6 uid:uuid hid:int(11,0) | pk=id" {
		t.Errorf("MariaDB-only table = %s", got)
	}
	for _, ddl := range []string{
		"CREATE TABLE d1 (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50) NOT NULL, price DECIMAL(8,2), created DATETIME(3), flags SET('a','b'), UNIQUE KEY (name))",
		"ALTER TABLE d1 ADD COLUMN note TEXT CHARACTER SET latin1 AFTER name, ADD UNIQUE KEY uk_price (price, created)",
		"ALTER TABLE d1 CHANGE note note2 MEDIUMTEXT, MODIFY price DECIMAL(10,3) NOT NULL FIRST",
		"ALTER TABLE d1 DROP INDEX name, RENAME INDEX uk_price TO uk_p",
		"CREATE UNIQUE INDEX ui ON d1 (note2(10))",
		"ALTER ONLINE TABLE d1 ADD COLUMN ip INET6",
		"ALTER TABLE d1 DROP COLUMN ip, ADD COLUMN IF NOT EXISTS name INT",
		"CREATE OR REPLACE TABLE d2 (a INT PRIMARY KEY, u UUID)",
		"CREATE TABLE d3 (a INT, b JSON)",
		"CREATE TABLE d4 AS SELECT * FROM d1",
		"RENAME TABLE d4 TO d5, d3 TO lat.d3",
		"ALTER TABLE d5 CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
		"CREATE TABLE d6 (ts TIMESTAMP, x INT)",
		"ALTER TABLE lat.l1 ADD COLUMN z CHAR(4), DROP INDEX id",
		"DROP TABLE d5, d6",
		"ALTER TABLE maria ADD INDEX (ip), DROP COLUMN hid",
		"DROP DATABASE lat",
	} {
		execAll(t, db, "USE app", ddl)
		if err := h.applyDDL(ctx, "app", ddl); err != nil {
			t.Fatalf("applyDDL(%q): %v", ddl, err)
		}
		compareWithServer(t, h, ddl)
	}
}

// compareWithServer checks that the history holds exactly the captured
// tables the server has, each as information_schema describes it.
func compareWithServer(t *testing.T, h *schemaHistory, step string) {
	t.Helper()
	ctx := context.Background()
	keys, err := h.listTables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(h.tables) {
		t.Errorf("after %q: history has %d tables, server %d (%v)", step, len(h.tables), len(keys), keys)
	}
	for _, k := range keys {
		want, found, err := h.fromInfoSchema(ctx, k)
		if err != nil || !found {
			t.Fatalf("after %q: reading %s: %v %v", step, k, found, err)
		}
		got, ok := h.tables[k]
		switch {
		case !ok:
			t.Errorf("after %q: %s missing from the history", step, k)
		case describeTable(got.t) != describeTable(want.t) || got.charset != want.charset || got.collation != want.collation:
			t.Errorf("after %q: %s\nhistory %s (%s/%s)\n server %s (%s/%s)", step, k,
				describeTable(got.t), got.charset, got.collation, describeTable(want.t), want.charset, want.collation)
		}
	}
}
