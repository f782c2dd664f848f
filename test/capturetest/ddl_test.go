package capturetest

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/test/sandbox"
)

func ddl(q string) step      { return step{ddl: true, stmts: sqls(q)} }
func rows(qs ...string) step { return step{stmts: sqls(qs...)} }
func insertT(id int, rest string) string {
	return fmt.Sprintf("INSERT INTO t VALUES (%d, %s)", id, rest)
}

// ddlSteps alternate DDL with row transactions (inserts, and updates and
// deletes whose before images are in the new schema): column changes,
// primary key and index changes, table renames, drops, truncation, LIKE and
// CREATE OR REPLACE (MariaDB-only syntax the TiDB parser rejects).
// The first ddlBeforeStop steps run before the catch-up streamer stops:
// its schema history is seeded with table pre as it is at the end.
func ddlSteps() []step {
	return []step{
		ddl("CREATE TABLE pre (id INT PRIMARY KEY, u INT NOT NULL, v INT AS (u + 1) VIRTUAL, UNIQUE KEY uu (u))"),
		rows("INSERT INTO pre (id, u) VALUES (1, 1), (2, 2)"),
		rows("INSERT INTO pre (id, u) VALUES (3, 3)", "UPDATE pre SET u = 22 WHERE id = 2"),
		ddl("ALTER TABLE pre DROP INDEX uu, DROP COLUMN v"),
		rows("INSERT INTO pre VALUES (4, 4)", "DELETE FROM pre WHERE id = 1"),
		ddl("CREATE TABLE t (id INT PRIMARY KEY, a INT, b VARCHAR(20), n INT NOT NULL)"),
		rows(insertT(1, "10, 'one', 1"), insertT(2, "20, 'two', 2")),
		ddl("ALTER TABLE t ADD COLUMN c VARCHAR(10) NOT NULL DEFAULT 'x' AFTER a"),
		rows(insertT(3, "30, 'c3', 'three', 3"), "UPDATE t SET c = 'c2' WHERE id = 2", "DELETE FROM t WHERE id = 1"),
		ddl("ALTER TABLE t DROP COLUMN a"),
		rows(insertT(4, "'c4', 'four', 4"), "UPDATE t SET b = 'TWO' WHERE id = 2"),
		ddl("ALTER TABLE t MODIFY b VARCHAR(40) CHARACTER SET latin1"),
		rows(insertT(5, "'c5', 'fünf', 5"), "UPDATE t SET b = CONCAT(b, 'é') WHERE id = 3"),
		ddl("ALTER TABLE t CHANGE b bb MEDIUMTEXT CHARACTER SET utf8mb4"),
		rows(insertT(6, "'c6', '😀 six', 6"), "UPDATE t SET bb = 'FOUR' WHERE id = 4"),
		ddl("ALTER TABLE t RENAME COLUMN c TO cc"),
		rows(insertT(7, "'c7', 'seven', 7"), "DELETE FROM t WHERE id = 2"),
		ddl("ALTER TABLE t DROP PRIMARY KEY"),
		rows(insertT(8, "'c8', 'eight', 8"), "UPDATE t SET n = 33 WHERE id = 3", "DELETE FROM t WHERE id = 4"),
		ddl("ALTER TABLE t ADD PRIMARY KEY (n, id)"),
		rows(insertT(9, "'c9', 'nine', 9"), "UPDATE t SET bb = NULL WHERE id = 5"),
		ddl("CREATE UNIQUE INDEX un ON t (n)"),
		rows(insertT(10, "'c10', 'ten', 10"), "UPDATE t SET n = 66 WHERE id = 6"),
		ddl("ALTER TABLE t ADD INDEX ib (bb(5)), ADD UNIQUE KEY ucc (cc)"),
		rows(insertT(11, "'c11', 'eleven', 11"), "DELETE FROM t WHERE id = 7"),
		ddl("DROP INDEX un ON t"),
		rows(insertT(12, "'c12', 'twelve', 12"), "UPDATE t SET cc = 'c8!' WHERE id = 8"),
		ddl("ALTER TABLE t DROP INDEX ucc, DROP INDEX ib"),
		rows(insertT(13, "'c13', 'thirteen', 13")),
		ddl("RENAME TABLE t TO t2"),
		rows("INSERT INTO t2 VALUES (14, 'c14', 'fourteen', 14)", "UPDATE t2 SET cc = 'c3!' WHERE id = 3"),
		ddl("CREATE TABLE t3 LIKE t2"),
		rows("INSERT INTO t3 SELECT * FROM t2 WHERE id < 10", "UPDATE t2 SET bb = 'nine' WHERE id = 9"),
		ddl("TRUNCATE TABLE t3"),
		rows("INSERT INTO t3 VALUES (20, 'c20', 'twenty', 20)"),
		ddl("DROP TABLE t2"),
		rows("INSERT INTO t3 VALUES (21, 'c21', 'twenty-one', 21)", "DELETE FROM t3 WHERE id = 20"),
		ddl("CREATE TABLE t2 (id BIGINT UNSIGNED PRIMARY KEY, z DOUBLE, w ENUM('p','q'))"),
		rows("INSERT INTO t2 VALUES (18446744073709551615, 1.5, 'q')", "UPDATE t3 SET bb = 'x' WHERE id = 21"),
		ddl("CREATE OR REPLACE TABLE t3 (k VARCHAR(5) PRIMARY KEY, v DECIMAL(10,2), g INT AS (LENGTH(k)) VIRTUAL, UNIQUE KEY uv (v))"),
		rows("INSERT INTO t3 (k, v) VALUES ('a', 1.50), ('bb', -2)", "UPDATE t2 SET w = 'p'"),
		ddl("ALTER TABLE t3 DROP INDEX uv, DROP COLUMN g, ADD COLUMN g2 INT AS (LENGTH(k) * 2) STORED"),
		rows("INSERT INTO t3 (k, v) VALUES ('ccc', 1.50)", "DELETE FROM t3 WHERE k = 'a'", "DELETE FROM t2"),
	}
}

const ddlBeforeStop = 2

// TestDDLSequence captures a DDL sequence with rows before and after each
// statement, live into a local and a Kafka store, and into a local store
// by a streamer that was stopped during most of the workload and catches
// up afterwards: its schema history is then seeded from the final schema
// while the binlog it reads is older, as after any restart or reconnect
// with DDL in the backlog. Every row must decode with the column names,
// generated columns, keys and values of its own time, and every DDL to
// the statement the server logged.
func TestDDLSequence(t *testing.T) {
	inst := sandbox.StartInstance(t, nil)
	db := utcDB(t, inst, "")
	var caps []*captured
	for i, k := range bothStores() {
		caps = append(caps, startCapture(t, k, inst, uint32(i)))
	}
	late := startCapture(t, storeKind{name: "local-catch-up", open: openLocal}, inst, 9)
	caps = append(caps, late)

	mustExec(t, db, "CREATE DATABASE ddl DEFAULT CHARACTER SET utf8mb4")
	w := newWriter(t, db, "ddl", "")
	for i, st := range ddlSteps() {
		if i == ddlBeforeStop {
			waitCaptured(t, late.r, inst, 10*time.Second)
			late.r.stop(t)
		}
		w.run(st)
	}
	late.start(t)
	queries := binlogQueries(t, inst.DB(t))
	for _, c := range caps {
		t.Run(c.kind, func(t *testing.T) {
			txns := c.finish(t, inst, 30*time.Second)
			w.check(t, c.kind, txns, queries)
		})
	}
}

// binlogQueries maps each transaction of the master's binlog to the text of
// its first query event other than BEGIN, as SHOW BINLOG EVENTS shows it
// (without the "use `db`; " prefix).
func binlogQueries(t *testing.T, db *sql.DB) map[repl.GTID]string {
	t.Helper()
	out := map[repl.GTID]string{}
	for _, f := range firstColumn(t, db, "SHOW BINARY LOGS") {
		rows, err := db.QueryContext(t.Context(), "SHOW BINLOG EVENTS IN '"+f+"'")
		if err != nil {
			t.Fatalf("SHOW BINLOG EVENTS IN %s: %v", f, err)
		}
		var cur repl.GTID
		for rows.Next() {
			var name, typ, info string
			var pos, end, sid any
			if err := rows.Scan(&name, &pos, &typ, &sid, &end, &info); err != nil {
				t.Fatal(err)
			}
			switch {
			case typ == "Gtid":
				fields := strings.Fields(info)
				if cur, err = repl.ParseGTID(repl.MariaDB, fields[len(fields)-1]); err != nil {
					t.Fatalf("GTID event info %q: %v", info, err)
				}
			case typ == "Query" && info != "BEGIN" && out[cur] == "":
				if strings.HasPrefix(info, "use `") {
					info = info[strings.Index(info, "; ")+2:]
				}
				out[cur] = info
			}
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}
