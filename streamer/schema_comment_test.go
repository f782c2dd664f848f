package streamer

import (
	"context"
	"strings"
	"testing"
)

func TestStripLeadingComments(t *testing.T) {
	cases := map[string]string{
		"CREATE TABLE t (a INT)":                   "CREATE TABLE t (a INT)",
		"  /* gh-ost */ ALTER TABLE t ADD b INT":   "ALTER TABLE t ADD b INT",
		"/* a */ /* b */\n-- c\n# d\nDROP TABLE t": "DROP TABLE t",
		"/*!40101 SET NAMES utf8 */":               "/*!40101 SET NAMES utf8 */",
		"/*M!100100 CREATE TABLE t (a INT) */":     "/*M!100100 CREATE TABLE t (a INT) */",
		"/* unterminated CREATE TABLE t (a INT)":   "/* unterminated CREATE TABLE t (a INT)",
		"--not-a-comment":                          "--not-a-comment",
		"# only a comment":                         "",
	}
	for in, want := range cases {
		if got := stripLeadingComments(in); got != want {
			t.Errorf("stripLeadingComments(%q) = %q, want %q", in, got, want)
		}
	}
}

// A CREATE OR REPLACE TABLE tagged by a leading comment replaces the table
// from its own text (it used to be taken for "not table DDL" and ignored).
func TestOrReplaceAfterLeadingComment(t *testing.T) {
	ctx := context.Background()
	h := noServerHistory(t)
	if err := h.applyDDL(ctx, "app", "CREATE TABLE t (old INT)"); err != nil {
		t.Fatal(err)
	}
	if err := h.applyDDL(ctx, "app", "/* lead */ CREATE OR REPLACE TABLE t (id INT PRIMARY KEY, n INT)"); err != nil {
		t.Fatal(err)
	}
	e, ok := h.tables[tableKey{"app", "t"}]
	if !ok {
		t.Fatal("table t is gone")
	}
	if got := describeTable(e.t); !strings.HasPrefix(got, "id:int") || strings.Contains(got, "old") {
		t.Errorf("t = %s, want the replaced table (id, n)", got)
	}
	keys, tableDDL, ok := ddlTargets("/* tool */ ALTER TABLE t ADD ip INET6", "app")
	if !ok || !tableDDL || len(keys) != 1 || keys[0] != (tableKey{"app", "t"}) {
		t.Errorf("ddlTargets behind a comment = %v %v %v, want app.t", keys, tableDDL, ok)
	}
}
