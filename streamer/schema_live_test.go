package streamer

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// TestOrReplace: CREATE OR REPLACE TABLE is the CREATE TABLE it ends with,
// replacing the table; forms the regexp does not take go to the
// information_schema path (ddlTargets still names the table).
func TestOrReplace(t *testing.T) {
	const def = " (id INT PRIMARY KEY, n INT)"
	const want = "id:int(11,0)! n:int(11,0) | pk=id"
	tests := []struct {
		q   string
		ok  bool
		key tableKey
		sel bool
	}{
		{"CREATE OR REPLACE TABLE t" + def, true, tableKey{"app", "t"}, false},
		{"create or replace table t" + def, true, tableKey{"app", "t"}, false},
		{"  CREATE\n\tOR   REPLACE\r\n TABLE\tt" + def, true, tableKey{"app", "t"}, false},
		{"Create Or Replace Table `app`.`t`" + def, true, tableKey{"app", "t"}, false},
		{"CREATE OR REPLACE TABLE other.t" + def, true, tableKey{"other", "t"}, false},
		{"CREATE OR REPLACE TABLE IF NOT EXISTS t" + def, true, tableKey{"app", "t"}, false},
		{"CREATE OR REPLACE TABLE t /* c */ (id INT PRIMARY KEY, /* inner */ n INT) -- trailing", true, tableKey{"app", "t"}, false},
		{"CREATE OR REPLACE TABLE t" + def + " # hash comment", true, tableKey{"app", "t"}, false},
		{"CREATE OR REPLACE TABLE t LIKE s", true, tableKey{"app", "t"}, false},
		{"CREATE OR REPLACE TABLE t AS SELECT * FROM s", true, tableKey{"app", "t"}, true},
		{"CREATE OR REPLACE TABLE t (id INT) SELECT 1 AS id", true, tableKey{"app", "t"}, true},
		{"CREATE OR REPLACE /* c */ TABLE t" + def, false, tableKey{}, false},
		{"CREATE OR REPLACE TABLE`t`(id INT PRIMARY KEY, n INT)", false, tableKey{}, false},
		{"CREATE OR REPLACE TEMPORARY TABLE t" + def, false, tableKey{}, false},
		{"CREATE OR REPLACE VIEW v AS SELECT 1", false, tableKey{}, false},
		{"CREATE TABLE t" + def, false, tableKey{}, false},
		{"CREATE OR REPLACE TABLE t (id INT", false, tableKey{}, false},
	}
	ctx := context.Background()
	for _, tc := range tests {
		t.Run(tc.q, func(t *testing.T) {
			h := noServerHistory(t)
			ct, k, ok := h.orReplace(tc.q, "app")
			if ok != tc.ok || k != tc.key {
				t.Fatalf("orReplace = %v %v, want %v %v", k, ok, tc.key, tc.ok)
			}
			if !ok {
				return
			}
			if (ct.Select != nil) != tc.sel {
				t.Fatalf("Select = %v, want select %v", ct.Select, tc.sel)
			}
			if err := h.applyDDL(ctx, "app", "CREATE TABLE s (old INT, o2 INT)"); err != nil {
				t.Fatal(err)
			}
			if err := h.applyDDL(ctx, "app", "CREATE TABLE t (old INT, o2 INT)"); err != nil {
				t.Fatal(err)
			}
			err := h.applyDDL(ctx, "app", tc.q)
			e, found := h.tables[tc.key]
			switch {
			case tc.sel:
				// ... SELECT is read from information_schema: the server
				// here refuses connections, so an error, and the replaced
				// table must not survive.
				if err == nil || !strings.Contains(err.Error(), "information_schema") {
					t.Errorf("applyDDL = %v, want the information_schema path", err)
				}
				if found {
					t.Errorf("replaced table kept: %s", describeTable(e.t))
				}
				if _, ferr := h.createTable(ctx, "app", ct); !errors.Is(ferr, errFallback) {
					t.Errorf("createTable(... SELECT) = %v, want errFallback", ferr)
				}
			case err != nil:
				t.Fatalf("applyDDL: %v", err)
			case tc.key.schema != "app":
				if found {
					t.Errorf("table of an uncaptured schema in the history")
				}
			case strings.Contains(tc.q, "LIKE"):
				if !found || describeTable(e.t) != "old:int(11,0) o2:int(11,0)" {
					t.Errorf("t = %v %s, want a copy of s", found, describeTable(e.t))
				}
			case !found || describeTable(e.t) != want:
				t.Errorf("t = %v %s, want %s", found, describeTable(e.t), want)
			}
		})
	}
}

// uncertainOf lists the history's tables, "?" after the uncertain ones.
func uncertainOf(h *schemaHistory) string {
	var out []string
	for k, e := range h.tables {
		s := k.name
		if k.schema != "app" {
			s = k.String()
		}
		if e.uncertain {
			s += "?"
		}
		out = append(out, s)
	}
	sort.Strings(out)
	for _, ts := range h.snapshot() { // the snapshot must say the same
		if e := h.tables[tableKey{ts.Table.Schema, ts.Table.Name}]; e == nil || e.uncertain != ts.Uncertain {
			out = append(out, "snapshot-mismatch:"+ts.Table.Name)
		}
	}
	return strings.Join(out, " ")
}

// TestUncertainPropagation: a table derived by DDL from an uncertain one
// (ALTER, RENAME, CREATE ... LIKE, CREATE INDEX) stays uncertain; one
// created from its full text is certain.
func TestUncertainPropagation(t *testing.T) {
	ctx := context.Background()
	seed := memHistory()
	for _, q := range []string{"CREATE TABLE t (id INT PRIMARY KEY, a INT)", "CREATE TABLE u (id INT PRIMARY KEY)"} {
		if err := seed.applyDDL(ctx, "app", q); err != nil {
			t.Fatal(err)
		}
	}
	snap := seed.snapshot()
	for i := range snap {
		snap[i].Uncertain = snap[i].Table.Name == "t"
	}
	h := noServerHistory(t)
	h.restore(snap)
	h.dbDflt["app"] = [2]string{"utf8mb4", "utf8mb4_general_ci"} // restore clears schema defaults: no server here
	steps := []struct{ ddl, want string }{
		{"", "t? u"},
		{"ALTER TABLE t ADD c INT", "t? u"},
		{"CREATE UNIQUE INDEX uc ON t (c)", "t? u"},
		{"ALTER TABLE t DROP INDEX uc", "t? u"},
		{"RENAME TABLE t TO t2", "t2? u"},
		{"ALTER TABLE t2 RENAME TO t3, ADD d INT", "t3? u"},
		{"CREATE TABLE l LIKE t3", "l? t3? u"},
		{"CREATE TABLE lu LIKE u", "l? lu t3? u"},
		{"CREATE TABLE IF NOT EXISTS t3 (x INT)", "l? lu t3? u"},
		{"ALTER TABLE u ADD z INT", "l? lu t3? u"},
		{"CREATE OR REPLACE TABLE t3 (id INT PRIMARY KEY)", "l? lu t3 u"},
		{"DROP TABLE l", "lu t3 u"},
		{"CREATE TABLE l (id INT)", "l lu t3 u"},
		{"CREATE TABLE lt LIKE t3", "l lt lu t3 u"},
	}
	for _, st := range steps {
		if st.ddl != "" {
			if err := h.applyDDL(ctx, "app", st.ddl); err != nil {
				t.Fatalf("%s: %v", st.ddl, err)
			}
		}
		if got := uncertainOf(h); got != st.want {
			t.Errorf("after %q: %s, want %s", st.ddl, got, st.want)
		}
	}
}

// TestUncertainMariaDB: a table read from information_schema is certain
// when the master has run nothing after the statement, uncertain when it
// has; CREATE OR REPLACE from text then clears the flag, and its SELECT
// form reads the server. A log without snapshots seeds from the server
// with the same rule.
func TestUncertainMariaDB(t *testing.T) {
	inst := sandbox.StartInstance(t, nil)
	db := inst.DB(t)
	ctx := context.Background()
	execAll(t, db, "CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY, a INT)", "CREATE TABLE app.s (id INT PRIMARY KEY)")
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "USE app"); err != nil {
		t.Fatal(err)
	}
	h := newHistory(db, repl.MariaDB, func(s string) bool { return s == "app" }, testLogger(t), "test")
	if err := h.seed(ctx); err != nil {
		t.Fatal(err)
	}
	pos := func() repl.GTIDSet {
		p, err := masterPosition(ctx, db, repl.MariaDB)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	apply := func(ddl string, at repl.GTIDSet) error {
		return h.applyDDLAt(ctx, "app", ddl, func() repl.GTIDSet { return at })
	}
	steps := []struct {
		ddl       string
		moveOn    bool // the master runs a transaction before the history reads it
		want      string
		serverErr bool
	}{
		{"ALTER TABLE t ADD COLUMN ip INET6", false, "s t", false}, // parser rejects INET6: information_schema
		{"ALTER TABLE t ADD COLUMN u UUID", true, "s t?", false},
		{"ALTER TABLE t ADD COLUMN z INT", false, "s t?", false},
		{"CREATE OR REPLACE TABLE t (id INT PRIMARY KEY, n INT)", false, "s t", false},
		{"CREATE OR REPLACE TABLE t2 AS SELECT * FROM t", true, "s t t2?", false},
		{"CREATE OR REPLACE TABLE t2 (id INT PRIMARY KEY)", false, "s t t2", false},
		{"CREATE OR REPLACE TABLE IF NOT EXISTS t2 (id INT)", false, "", true},
	}
	for _, st := range steps {
		_, err := conn.ExecContext(ctx, st.ddl)
		if st.serverErr {
			if err == nil {
				t.Errorf("server accepted %q", st.ddl)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", st.ddl, err)
		}
		at := pos()
		if st.moveOn {
			execAll(t, db, fmt.Sprintf("INSERT INTO app.s VALUES (%d)", len(at.String())+len(st.ddl)))
		}
		if err := apply(st.ddl, at); err != nil {
			t.Fatalf("applyDDL(%q): %v", st.ddl, err)
		}
		if got := uncertainOf(h); got != st.want {
			t.Errorf("after %q: %s, want %s", st.ddl, got, st.want)
		}
		compareWithServer(t, h, st.ddl)
	}

	t.Run("log without snapshot", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			moveOn bool
			want   string
		}{{"master at the captured position", false, "s t t2"}, {"master moved on", true, "s? t2? t?"}} {
			at := pos()
			if tc.moveOn {
				execAll(t, db, fmt.Sprintf("INSERT INTO app.s VALUES (%d)", 1000+len(tc.name)))
			}
			s := testStreamer(t, dmlTxn(t, 1))
			hh := newHistory(db, repl.MariaDB, func(s string) bool { return s == "app" }, testLogger(t), "test")
			fresh, _, err := s.loadHistory(ctx, hh, resume{ok: true, pos: at, after: at})
			if err != nil || fresh == tc.moveOn { // a seed from a master moved on waits for its check (schema_seed.go)
				t.Fatalf("%s: loadHistory = %v, fresh %v", tc.name, err, fresh)
			}
			if got := uncertainOf(hh); got != tc.want {
				t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
			}
		}
	})
}
