package streamer

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/recoup-dev/recoup/repl"
)

// describeTable renders a table compactly: "name:type(len,dec)u!@cs/coll"
// per column ("!" is NOT NULL, "u" unsigned), then the keys.
func describeTable(t repl.Table) string {
	var b strings.Builder
	for i, c := range t.Columns {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s:%s", c.Name, c.Type)
		if c.Length > 0 || c.Decimals > 0 {
			fmt.Fprintf(&b, "(%d,%d)", c.Length, c.Decimals)
		}
		if c.Unsigned {
			b.WriteByte('u')
		}
		if !c.Nullable {
			b.WriteByte('!')
		}
		if c.Charset != "" || c.Collation != "" {
			fmt.Fprintf(&b, "@%s/%s", c.Charset, c.Collation)
		}
		if len(c.Members) > 0 {
			fmt.Fprintf(&b, "%q", c.Members)
		}
		if c.Generated != "" {
			b.WriteString("=" + c.Generated)
		}
	}
	names := func(idx []int) string {
		var n []string
		for _, i := range idx {
			n = append(n, t.Columns[i].Name)
		}
		return strings.Join(n, ",")
	}
	if len(t.PrimaryKey) > 0 {
		b.WriteString(" | pk=" + names(t.PrimaryKey))
	}
	for _, uk := range t.UniqueKeys {
		b.WriteString(" | " + uk.Name + "=" + names(uk.Columns))
	}
	return b.String()
}

// memHistory is a history with the server facts preloaded, for DDL that
// the parser path applies without asking the server.
func memHistory() *schemaHistory {
	h := newHistory(nil, repl.MariaDB, func(s string) bool { return s == "app" }, slog.New(slog.DiscardHandler), "c")
	h.facts = &serverFacts{
		defaultColl: map[string]string{"utf8mb4": "utf8mb4_general_ci", "latin1": "latin1_swedish_ci", "binary": "binary"},
		collCharset: map[string]string{"utf8mb4_general_ci": "utf8mb4", "utf8mb4_bin": "utf8mb4", "latin1_swedish_ci": "latin1",
			"latin1_bin": "latin1", "binary": "binary"},
	}
	h.dbDflt["app"] = [2]string{"utf8mb4", "utf8mb4_general_ci"}
	return h
}

func TestHistoryApplyDDL(t *testing.T) {
	const u8 = "@utf8mb4/utf8mb4_general_ci"
	steps := []struct {
		ddl   string
		table string // key looked at after the step
		want  string // "" when the table must be absent
	}{
		{"CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(10), b INT UNSIGNED NOT NULL, e ENUM('x','y''z'), UNIQUE KEY ub (b))", "t",
			"id:int(11,0)! a:varchar(10,0)" + u8 + " b:int(10,0)u! e:enum" + u8 + `["x" "y'z"]` + " | pk=id | ub=b"},
		{"ALTER TABLE t ADD COLUMN c TEXT CHARACTER SET latin1 FIRST, ADD UNIQUE (a, b)", "t",
			"c:text@latin1/latin1_swedish_ci id:int(11,0)! a:varchar(10,0)" + u8 + " b:int(10,0)u! e:enum" + u8 + `["x" "y'z"]` + " | pk=id | a=a,b | ub=b"},
		{"ALTER TABLE `app`.`t` CHANGE a a2 VARCHAR(20) COLLATE utf8mb4_bin NOT NULL AFTER b, DROP COLUMN e", "t",
			"c:text@latin1/latin1_swedish_ci id:int(11,0)! b:int(10,0)u! a2:varchar(20,0)!@utf8mb4/utf8mb4_bin | pk=id | a=a2,b | ub=b"},
		{"ALTER TABLE t DROP INDEX ub, RENAME INDEX a TO ua, DROP COLUMN c", "t",
			"id:int(11,0)! b:int(10,0)u! a2:varchar(20,0)!@utf8mb4/utf8mb4_bin | pk=id | ua=a2,b"},
		{"RENAME TABLE t TO t2", "t", ""},
		{"ALTER TABLE t2 DROP PRIMARY KEY, ADD PRIMARY KEY (b)", "t2",
			"id:int(11,0)! b:int(10,0)u! a2:varchar(20,0)!@utf8mb4/utf8mb4_bin | pk=b | ua=a2,b"},
		{"CREATE UNIQUE INDEX ix ON t2 (id)", "t2",
			"id:int(11,0)! b:int(10,0)u! a2:varchar(20,0)!@utf8mb4/utf8mb4_bin | pk=b | ix=id | ua=a2,b"},
		{"ALTER TABLE t2 DEFAULT CHARSET=latin1, ADD COLUMN d CHAR(2), ADD g INT AS (b + 1) STORED, ADD v BIGINT AS (b) VIRTUAL", "t2",
			"id:int(11,0)! b:int(10,0)u! a2:varchar(20,0)!@utf8mb4/utf8mb4_bin d:char(2,0)@latin1/latin1_swedish_ci g:int(11,0)=stored v:bigint(20,0)=virtual | pk=b | ix=id | ua=a2,b"},
		{"ALTER TABLE t2 MODIFY id BIGINT, DROP COLUMN d, DROP COLUMN g, DROP COLUMN v", "t2",
			"id:bigint(20,0) b:int(10,0)u! a2:varchar(20,0)!@utf8mb4/utf8mb4_bin | pk=b | ix=id | ua=a2,b"},
		{"CREATE TABLE IF NOT EXISTS t2 (x INT)", "t2",
			"id:bigint(20,0) b:int(10,0)u! a2:varchar(20,0)!@utf8mb4/utf8mb4_bin | pk=b | ix=id | ua=a2,b"},
		{"CREATE TABLE t3 LIKE t2", "t3",
			"id:bigint(20,0) b:int(10,0)u! a2:varchar(20,0)!@utf8mb4/utf8mb4_bin | pk=b | ix=id | ua=a2,b"},
		{"DROP TABLE IF EXISTS t2, t3", "t2", ""},
		{"CREATE TABLE other.x (id INT PRIMARY KEY)", "other.x", ""},
		{"GRANT SELECT ON *.* TO u", "t2", ""},
		{"CREATE TABLE bin (a BLOB, b VARBINARY(8), c BINARY(4), d DECIMAL(12,3), e DATETIME(6), f YEAR, g BIT, h DOUBLE(8,2), i FLOAT)", "bin",
			"a:blob b:varbinary(8,0) c:binary(4,0) d:decimal(12,3) e:datetime(0,6) f:year(4,0) g:bit(1,0) h:double(8,2) i:float"},
		{"DROP DATABASE app", "bin", ""},
	}
	h := memHistory()
	for i, st := range steps {
		if err := h.applyDDL(context.Background(), "app", st.ddl); err != nil {
			t.Fatalf("step %d %q: %v", i, st.ddl, err)
		}
		schema, name, ok := strings.Cut(st.table, ".")
		if !ok {
			schema, name = "app", st.table
		}
		e, found := h.tables[tableKey{schema, name}]
		switch {
		case st.want == "" && found:
			t.Errorf("step %d %q: %s still in the history: %s", i, st.ddl, st.table, describeTable(e.t))
		case st.want != "" && !found:
			t.Errorf("step %d %q: %s not in the history", i, st.ddl, st.table)
		case found && describeTable(e.t) != st.want:
			t.Errorf("step %d %q:\n got %s\nwant %s", i, st.ddl, describeTable(e.t), st.want)
		case found && (e.t.Name != name || e.t.Schema != schema):
			t.Errorf("step %d: table named %s.%s under key %s", i, e.t.Schema, e.t.Name, st.table)
		}
	}
}

// TestHistoryEntriesImmutable checks that a table handed out before a DDL
// is not changed by it: records keep the schema of their binlog point.
func TestHistoryEntriesImmutable(t *testing.T) {
	h := memHistory()
	ctx := context.Background()
	if err := h.applyDDL(ctx, "app", "CREATE TABLE t (id INT PRIMARY KEY, a INT, UNIQUE KEY ua (a))"); err != nil {
		t.Fatal(err)
	}
	before, err := h.lookup(ctx, "app", "t")
	if err != nil || before == nil {
		t.Fatalf("lookup: %v %v", before, err)
	}
	snapshot := describeTable(*before)
	for _, q := range []string{"ALTER TABLE t CHANGE a b INT", "ALTER TABLE t ADD c INT FIRST", "ALTER TABLE t DROP INDEX ua"} {
		if err := h.applyDDL(ctx, "app", q); err != nil {
			t.Fatal(err)
		}
	}
	if got := describeTable(*before); got != snapshot {
		t.Errorf("table handed out changed from %s to %s", snapshot, got)
	}
}

func TestDDLTargets(t *testing.T) {
	tests := []struct {
		q              string
		keys           []tableKey
		tableDDL, sure bool
	}{
		{"CREATE OR REPLACE TABLE t2 (a INET6)", []tableKey{{"app", "t2"}}, true, true},
		{"create table if not exists `x`.`we``ird` (a int)", []tableKey{{"x", "we`ird"}}, true, true},
		{"ALTER ONLINE IGNORE TABLE IF EXISTS db.t ADD COLUMN c UUID", []tableKey{{"db", "t"}}, true, true},
		{"ALTER TABLE t RENAME TO u, ADD x INET6", nil, true, false},
		{"DROP TEMPORARY TABLE IF EXISTS a, `b`.c , d", []tableKey{{"app", "a"}, {"b", "c"}, {"app", "d"}}, true, true},
		{"DROP INDEX i ON t", nil, true, false},
		{"CREATE DEFINER=`root`@`%` PROCEDURE p() SELECT 1", nil, false, true},
		{"GRANT ALL ON *.* TO x", nil, false, true},
		{"CREATE OR REPLACE VIEW v AS SELECT 1", nil, false, true},
		{"", nil, false, true},
	}
	for _, tc := range tests {
		keys, tableDDL, sure := ddlTargets(tc.q, "app")
		if !slices.Equal(keys, tc.keys) || tableDDL != tc.tableDDL || sure != tc.sure {
			t.Errorf("ddlTargets(%q) = %v %v %v, want %v %v %v", tc.q, keys, tableDDL, sure, tc.keys, tc.tableDDL, tc.sure)
		}
	}
}

func FuzzDDLTargets(f *testing.F) {
	for _, s := range []string{"CREATE TABLE a.b (x INT)", "DROP TABLE `a`, b", "ALTER TABLE `x``y` ADD z INT", "RENAME TABLE a TO b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		keys, tableDDL, sure := ddlTargets(q, "app")
		if !tableDDL && len(keys) > 0 {
			t.Errorf("ddlTargets(%q): keys %v for a statement that changes no table", q, keys)
		}
		if sure && tableDDL && len(keys) == 0 {
			t.Errorf("ddlTargets(%q): sure of no table", q)
		}
	})
}

func TestParseEnumMembers(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		ok   bool
	}{
		{"('a','b''c','')", []string{"a", "b'c", ""}, true},
		{"('x,y')", []string{"x,y"}, true},
		{"('a'", nil, false},
		{"", nil, false},
	}
	for _, tc := range tests {
		got, err := parseEnumMembers(tc.in)
		if (err == nil) != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("parseEnumMembers(%q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func FuzzParseEnumMembers(f *testing.F) {
	for _, s := range []string{"('a','b''c')", "('')", "(", "('a''"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		members, err := parseEnumMembers(s)
		if err != nil {
			return
		}
		// Printing the members back the server's way must give s again.
		var b strings.Builder
		b.WriteByte('(')
		for i, m := range members {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("'" + strings.ReplaceAll(m, "'", "''") + "'")
		}
		b.WriteByte(')')
		if b.String() != strings.TrimSpace(s) {
			t.Errorf("parseEnumMembers(%q) = %q, which prints as %q", s, members, b.String())
		}
	})
}

// TestBenchDDLFromText: the DDL the capture benchmark runs (sysbench
// oltp_write_only prepare, then test/bench's lag table), byte for byte,
// is applied from its text: no server read (the pool cannot connect).
func TestBenchDDLFromText(t *testing.T) {
	const row = "id:int(11,0)! k:int(11,0)! c:char(120,0)!@utf8mb4/utf8mb4_general_ci pad:char(60,0)!@utf8mb4/utf8mb4_general_ci | pk=id"
	steps := []struct{ ddl, table, want string }{
		{"CREATE TABLE sbtest1(\n  id INTEGER NOT NULL AUTO_INCREMENT,\n  k INTEGER DEFAULT '0' NOT NULL,\n" +
			"  c CHAR(120) DEFAULT '' NOT NULL,\n  pad CHAR(60) DEFAULT '' NOT NULL,\n  PRIMARY KEY (id)\n) /*! ENGINE = innodb */ ",
			"sbtest1", row},
		{"CREATE INDEX k_1 ON sbtest1(k)", "sbtest1", row},
		{"CREATE TABLE IF NOT EXISTS sbtest.lag (id BIGINT AUTO_INCREMENT PRIMARY KEY,\n\t\tv INT NOT NULL, c CHAR(120) NOT NULL)",
			"lag", "id:bigint(20,0)! v:int(11,0)! c:char(120,0)!@utf8mb4/utf8mb4_general_ci | pk=id"},
	}
	h := noServerHistory(t)
	h.captures = func(s string) bool { return s == "sbtest" }
	h.dbDflt["sbtest"] = h.dbDflt["app"]
	for _, st := range steps {
		if err := h.applyDDL(context.Background(), "sbtest", st.ddl); err != nil {
			t.Fatalf("%q: %v", st.ddl, err)
		}
		e, ok := h.tables[tableKey{"sbtest", st.table}]
		switch {
		case !ok:
			t.Errorf("%q: %s not in the history", st.ddl, st.table)
		case e.uncertain || describeTable(e.t) != st.want:
			t.Errorf("%q: %s uncertain %v:\n got %s\nwant %s", st.ddl, st.table, e.uncertain, describeTable(e.t), st.want)
		}
	}
}
