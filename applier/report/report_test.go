package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/recoup-dev/recoup/applier"
	"github.com/recoup-dev/recoup/conflict"
	"github.com/recoup-dev/recoup/repl"
)

func TestImageJSONRoundTrip(t *testing.T) {
	def := ordersTable()
	in := img(def, orderRow(1, "é \x00 "+xss, "-0.0001", -0.0))
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte(`{"id":{"kind":"int","text":"1"},"qty":`)) {
		t.Errorf("image JSON does not keep column order: %.80s", b)
	}
	var out Image
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !slicesEqual(out.Columns, in.Columns) || !out.Values.Equal(in.Values) {
		t.Fatalf("round trip changed the image:\n in %v\nout %v", in.Values, out.Values)
	}
	for _, bad := range []string{`[]`, `{"a":1}`, `{"a":null,"a":null}`, `{"a":{"kind":"nope"}}`, `{"a":null`} {
		if err := json.Unmarshal([]byte(bad), &out); err == nil {
			t.Errorf("Unmarshal(%s) accepted a malformed image", bad)
		}
	}
}

func slicesEqual(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00") && len(a) == len(b)
}

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{
		"shop": "shop", "shop/eu west": "shop_eu_west", "../etc": "_._etc", "": "cluster", "a.b-c_D9": "a.b-c_D9",
		"é": "__", ".hidden": "_hidden",
	} {
		if got := SafeName(in); got != want {
			t.Errorf("SafeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLiteral(t *testing.T) {
	for _, tc := range []struct {
		v    repl.Value
		want string
	}{
		{repl.Null(), "NULL"},
		{repl.IntValue(-9223372036854775808), "-9223372036854775808"},
		{repl.UintValue(18446744073709551615), "18446744073709551615"},
		{repl.Float32Value(0.1), "1.0000000149011612e-01"},
		{repl.Float64Value(math.Nextafter(0.3, 1)), "3.0000000000000004e-01"},
		{repl.Float64Value(1), "1e+00"},
		{repl.TextValue(repl.KindDecimal, []byte("-0.0100")), "-0.0100"},
		{repl.StringValue([]byte("é'"), "utf8mb4"), "_utf8mb4 X'c3a927'"},
		{repl.StringValue([]byte{0xE9}, "latin1"), "_latin1 X'e9'"},
		{repl.StringValue(nil, "utf8mb4"), "_utf8mb4 X''"},
		{repl.StringValue([]byte("x"), "bad cs"), "X'78'"},
		{repl.BytesValue([]byte{0, 0xff}), "X'00ff'"},
		{repl.BitValue(5), "b'101'"},
		{repl.BitValue(0), "b'0'"},
		{repl.YearValue(2024), "2024"},
		{repl.TextValue(repl.KindTime, []byte("-838:59:59.000")), "'-838:59:59.000'"},
		{repl.TextValue(repl.KindTimestamp, []byte("2024-03-31 01:30:00.000001")), "'2024-03-31 01:30:00.000001'"},
		{repl.EnumValue(2, "paid"), "2"},
		{repl.SetValue(5, "a,c"), "5"},
		{repl.TextValue(repl.KindJSON, []byte(`{}`)), "_utf8mb4 X'7b7d'"},
		{point(1, 2), "ST_GeomFromWKB(X'0101000000000000000000f03f0000000000000040', 0)"},
	} {
		got, err := Literal(tc.v)
		if err != nil || got != tc.want {
			t.Errorf("Literal(%s %v) = %q, %v; want %q", tc.v.Kind(), tc.v, got, err, tc.want)
		}
	}
	for _, bad := range []repl.Value{
		repl.TextValue(repl.KindDecimal, []byte("1; DROP")), repl.TextValue(repl.KindDate, []byte("2024'--")),
		repl.Float64Value(posInf()), repl.TextValue(repl.KindGeometry, []byte{1}),
	} {
		if got, err := Literal(bad); err == nil {
			t.Errorf("Literal(%s %q) = %q, want an error", bad.Kind(), bad.Bytes(), got)
		}
	}
}

func posInf() float64 { var z float64; return 1 / z }

func TestScriptText(t *testing.T) {
	r := fixtureReport()
	s := r.ScriptFor(&r.Conflicts[1])
	if !s.Complete {
		t.Fatalf("script incomplete:\n%s", s.Text)
	}
	want := []string{"SET SESSION time_zone = '+00:00'", "START TRANSACTION", "UPDATE `shop`.`orders` SET\n  `id` = 1,\n",
		"INSERT INTO `shop`.`orders` SET\n  `id` = 7,\n", "DELETE FROM `shop`.`orders` WHERE `id` = 8 LIMIT 1", "COMMIT"}
	if len(s.Statements) != len(want) {
		t.Fatalf("statements:\n%s", strings.Join(s.Statements, "\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(s.Statements[i], w) {
			t.Errorf("statement %d = %.80q, want prefix %q", i, s.Statements[i], w)
		}
	}
	if strings.Contains(s.Statements[2], "name_len") || !strings.HasSuffix(s.Statements[2], "\nWHERE `id` = 1 LIMIT 1") {
		t.Errorf("update writes the generated column or lacks the key: %s", s.Statements[2])
	}
	// The key text holds a newline: it must not end the comment.
	for _, line := range strings.Split(s.Text, "\n") {
		if strings.HasPrefix(line, "DROP") {
			t.Errorf("a value escaped its comment: %q", line)
		}
	}
	r.Conflicts[0].Rows[0].TableDef = -1
	if s := r.ScriptFor(&r.Conflicts[0]); s.Complete || !strings.Contains(s.Text, "NOT GENERATED") {
		t.Errorf("a row without a table definition gave a complete script:\n%s", s.Text)
	}
}

func TestSaveReadDecisions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "reports")
	r := fixtureReport()
	jsonPath, htmlPath, err := Save(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	if base := filepath.Base(jsonPath); base != "shop_eu__script_alert_1___script_-20260301T100000Z-0a1b2c3d.json" {
		t.Errorf("json file name = %s", base)
	}
	if HTMLPath(jsonPath) != htmlPath {
		t.Errorf("html path %s, want %s", htmlPath, HTMLPath(jsonPath))
	}
	for _, p := range []string{jsonPath, htmlPath} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != fileMode || fi.Size() == 0 {
			t.Errorf("%s: %v, %v", p, fi, err)
		}
	}
	if _, _, err := Save(dir, r); err == nil {
		t.Error("Save replaced an existing report")
	}
	got, err := Read(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Conflicts) != 2 || len(got.Tables) != 1 || got.Tables[0].Columns[14].Members[1] != "paid" {
		t.Fatalf("read back %d conflicts, %d tables", len(got.Conflicts), len(got.Tables))
	}
	for i, c := range r.Conflicts {
		for j, row := range c.Rows {
			g := got.Conflicts[i].Rows[j]
			for _, pair := range [][2]*Image{{row.Before, g.Before}, {row.After, g.After}, {row.Current, g.Current}} {
				if (pair[0] == nil) != (pair[1] == nil) || pair[0] != nil && !pair[0].Values.Equal(pair[1].Values) {
					t.Errorf("conflict %d row %d: an image changed through JSON", c.N, row.Index)
				}
			}
		}
	}
	txn, err := got.Txn(&got.Conflicts[1])
	if err != nil || len(txn.Changes) != 3 || txn.Changes[0].Table != txn.Changes[2].Table || txn.Changes[2].Type() != repl.Delete {
		t.Fatalf("Txn = %+v, %v", txn, err)
	}
	checkDecisions(t, jsonPath)
	bad := strings.Replace(mustRead(t, jsonPath), SchemaVersion, "recoup.report/v0", 1)
	if err := os.WriteFile(jsonPath, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(jsonPath); err == nil || !strings.Contains(err.Error(), "recoup.report/v0") {
		t.Errorf("Read of another schema version: %v", err)
	}
}

func checkDecisions(t *testing.T, jsonPath string) {
	t.Helper()
	if d, err := ReadDecisions(jsonPath); err != nil || len(d) != 0 {
		t.Fatalf("decisions before any: %v, %v", d, err)
	}
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, d := range []Decision{{Conflict: 2, GTID: "0-1-104", Action: ActionDiscard, By: "ann", At: at},
		{Conflict: 1, GTID: "0-1-103", Action: ActionApply, By: "bob", At: at, NewMaster: "10.0.0.2:3306", Forced: true}} {
		if err := AppendDecision(jsonPath, d); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ReadDecisions(jsonPath)
	if err != nil || len(got) != 2 || got[1].By != "bob" || !got[1].Forced || got[2].Action != ActionDiscard {
		t.Fatalf("decisions = %+v, %v", got, err)
	}
	if lines := strings.Count(mustRead(t, DecisionsPath(jsonPath)), "\n"); lines != 2 {
		t.Errorf("decisions file has %d lines, want 2 (append-only)", lines)
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHTMLEscapesValues(t *testing.T) {
	var b bytes.Buffer
	if err := RenderHTML(&b, fixtureReport(), map[int]Decision{1: {Conflict: 1, Action: ActionDiscard, By: xss}}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if strings.Contains(strings.ToLower(page), "<script") {
		t.Errorf("the page holds a <script> element: a value was not escaped")
	}
	if n := strings.Count(page, "&lt;script&gt;alert(1)&lt;/script&gt;"); n < 4 {
		t.Errorf("escaped value appears %d times, want it in the cluster, the cells, the reviewer and the SQL comment", n)
	}
	for _, want := range []string{`id="c1"`, `id="c2"`, `href="#c1"`, "REVIEW BEFORE RUNNING", "Content-Security-Policy",
		`class="v str changed"`, `class="v  differs"`, "0-1-102", "0-2-108", "0-1-101-104", "not read by the run"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if regexp.MustCompile(`(?i)(src|href)="(https?:)?//`).MatchString(page) {
		t.Error("the page refers to an external resource")
	}
}

// TestBuild maps a Result into a report: which transactions become
// conflicts, and what the run knew of each row.
func TestBuild(t *testing.T) {
	def := ordersTable()
	row := orderRow(1, "x", "1.0000", 1)
	ai := &applier.Image{Columns: columnNames(def), Values: row}
	res := &applier.Result{Cluster: "c1", Flavor: "mariadb", Policy: "report", Missing: "0-1-1-4",
		Capture:    applier.CaptureStatus{State: "unknown-after", LastGTID: "0-1-4"},
		Collisions: []applier.Collision{{NewMaster: "0-2-3", Captured: "0-1-3"}},
		Counts:     applier.Counts{Missing: 4, Applied: 1, Conflicts: 2, Failed: 1},
		Txns: []applier.TxnResult{
			{GTID: "0-1-1", Verdict: conflict.Apply, Applied: true, NewGTID: "0-2-9", Rows: []applier.RowResult{{Verdict: conflict.Apply}}},
			{GTID: "0-1-2", Verdict: conflict.Conflict, Rows: []applier.RowResult{
				{Table: "shop.orders", Change: "update", Verdict: conflict.Conflict, Reason: "the row is absent", Before: ai, After: ai},
				{Table: "shop.orders", Change: "update", Verdict: conflict.Apply, Before: ai, After: ai},
				{Table: "shop.orders", Change: "insert", Verdict: conflict.AlreadyApplied, After: ai},
				{Table: "shop.orders", Change: "delete", Verdict: conflict.Conflict, Reason: "depends on GTID 0-1-1", Before: ai},
				{Table: "shop.orders", Change: "update", Verdict: conflict.Conflict, Reason: "differs", Before: ai, After: ai, Current: ai}}},
			{GTID: "0-1-3", Verdict: conflict.Apply, Error: "boom"},
			{GTID: "0-1-4", Verdict: conflict.AlreadyApplied},
		}}
	r := Build(res, Meta{RecoveryUID: "u1", Steps: []Step{{Step: "s", OK: true}}}, time.Unix(0, 0))
	if len(r.Conflicts) != 2 || r.Conflicts[0].GTID != "0-1-2" || r.Conflicts[1].GTID != "0-1-3" || !r.Conflicts[1].Resolvable {
		t.Fatalf("conflicts = %+v", r.Conflicts)
	}
	if len(r.NewGTIDs) != 1 || r.Transactions[1].Conflict != 1 || r.Transactions[0].Conflict != 0 || r.Counts.Failed != 1 {
		t.Errorf("new gtids %v, transactions %+v", r.NewGTIDs, r.Transactions)
	}
	var states []string
	for _, row := range r.Conflicts[0].Rows {
		states = append(states, row.CurrentState)
		if row.TableDef != -1 && (row.TableDef >= len(r.Tables)) {
			t.Errorf("row %d: table_def %d of %d tables", row.Index, row.TableDef, len(r.Tables))
		}
	}
	want := []string{CurrentAbsent, CurrentBefore, CurrentAfter, CurrentNotChecked, CurrentFound}
	if strings.Join(states, ",") != strings.Join(want, ",") {
		t.Errorf("current states = %v, want %v", states, want)
	}
	if !strings.HasPrefix(r.Conflicts[1].Decision, "failed") || r.Capture.State != "unknown-after" || r.Recovery.UID != "u1" {
		t.Errorf("decision %q, capture %+v", r.Conflicts[1].Decision, r.Capture)
	}
}

// TestHTMLCapsConflicts: under policy abort every transaction is a
// conflict; the page details the first maxPageConflicts and says so.
func TestHTMLCapsConflicts(t *testing.T) {
	r := fixtureReport()
	c := r.Conflicts[0]
	r.Conflicts = nil
	for n := 1; n <= maxPageConflicts+1; n++ {
		c.N = n
		r.Conflicts = append(r.Conflicts, c)
	}
	var b bytes.Buffer
	if err := RenderHTML(&b, r, nil); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if n := strings.Count(page, `<section class="card`); n != maxPageConflicts {
		t.Errorf("page details %d conflicts, want %d", n, maxPageConflicts)
	}
	if !strings.Contains(page, "1 more are in the JSON report") || !strings.Contains(page, "501 conflict(s) to review") {
		t.Error("the page does not say it left conflicts out, or miscounts the open ones")
	}
}

// TestTxnRefuses: review cannot rebuild a transaction it could not write
// exactly.
func TestTxnRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		edit       func(r *Report)
	}{
		{"no table definition", "no definition of table shop.orders", func(r *Report) { r.Conflicts[0].Rows[0].TableDef = -1 }},
		{"DDL", "statements that are not row changes", func(r *Report) {
			r.Conflicts[0].Reason = "the transaction has 1 statement(s) that are not row changes (DDL or statement-format) and cannot be checked"
		}},
		{"columns changed", "do not match table", func(r *Report) { r.Conflicts[0].Rows[0].After.Columns[1] = "other" }},
		{"image kind", "does not match its images", func(r *Report) { r.Conflicts[0].Rows[0].Change = "insert" }},
		{"no rows", "no row changes", func(r *Report) { r.Conflicts[0].Rows = nil }},
		{"bad gtid", "invalid GTID", func(r *Report) { r.Conflicts[0].GTID = "x" }},
	} {
		r := fixtureReport()
		r.Conflicts[0].Rows[0].After = img(ordersTable(), r.Conflicts[0].Rows[0].After.Values) // own columns slice
		tc.edit(r)
		if _, err := r.Txn(&r.Conflicts[0]); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Txn error %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestLockDecisions(t *testing.T) {
	jsonPath := filepath.Join(t.TempDir(), "r.json")
	unlock, err := LockDecisions(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LockDecisions(jsonPath); !errors.Is(err, ErrReviewBusy) {
		t.Fatalf("a second lock while the first is held: %v, want ErrReviewBusy", err)
	}
	unlock()
	unlock2, err := LockDecisions(jsonPath)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	unlock2()
}
