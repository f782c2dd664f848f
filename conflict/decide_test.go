package conflict

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/recoup-dev/recoup/repl"
)

func verdicts(ds []TxnDecision) []Verdict {
	v := make([]Verdict, len(ds))
	for i, d := range ds {
		v[i] = d.Verdict
	}
	return v
}

func sameVerdicts(t *testing.T, got []TxnDecision, want ...Verdict) {
	t.Helper()
	g := verdicts(got)
	if len(g) != len(want) {
		t.Fatalf("verdicts %v, want %v", g, want)
	}
	for i := range g {
		if g[i] != want[i] {
			t.Fatalf("verdicts %v, want %v (txn %d: %s)", g, want, i, got[i].Reason)
		}
	}
}

func TestDependencyChain(t *testing.T) {
	kv := kvTable()
	m := seed(t, kv, kvRow(1, "diverged", -1), kvRow(2, "a", -1), kvRow(3, "a", -1))
	a := txn(1, upd(kv, kvRow(1, "a", -1), kvRow(1, "b", -1)))        // conflicts
	b := txn(2, upd(kv, kvRow(1, "diverged", -1), kvRow(1, "c", -1)), // A's row
		upd(kv, kvRow(2, "a", -1), kvRow(2, "b", -1))) // and another
	c := txn(3, del(kv, kvRow(2, "a", -1)))                    // B's other row
	d := txn(4, ins(kv, kvRow(1, "new", -1)))                  // A's row, via its after-image key
	e := txn(5, upd(kv, kvRow(3, "a", -1), kvRow(3, "b", -1))) // unrelated
	ds := decideAll(t, m, PolicyReport, a, b, c, d, e)
	sameVerdicts(t, ds, Conflict, Conflict, Conflict, Conflict, Apply)
	for i, want := range []*repl.GTID{nil, &a.GTID, &b.GTID, &b.GTID, nil} {
		got := ds[i].DependsOn
		if (got == nil) != (want == nil) || (got != nil && *got != *want) {
			t.Errorf("txn %d depends on %v, want %v", i, got, want)
		}
	}
	if !strings.Contains(ds[2].Reason, "depends on GTID 0-1-2") || ds[1].Rows[1].Verdict != Apply {
		t.Errorf("txn C reason %q, B row 1 %s", ds[2].Reason, ds[1].Rows[1].Verdict)
	}
}

func TestOverlayAcrossTransactions(t *testing.T) {
	kv := kvTable()
	history := []repl.Txn{
		txn(1, ins(kv, kvRow(5, "a", 1))),
		txn(2, upd(kv, kvRow(5, "a", 1), kvRow(5, "b", 1))),
		txn(3, upd(kv, kvRow(5, "b", 1), kvRow(6, "b", 2))), // moves the row, changes u
		txn(4, ins(kv, kvRow(7, "c", 1))),                   // takes the u 0-1-3 freed
		txn(5, del(kv, kvRow(6, "b", 2))),
	}
	for _, between := range []bool{true, false} {
		for _, sizes := range [][]int{nil, {1}, {2, 1}, {1, 1, 1, 1, 1}} {
			m := seed(t, kv)
			st, _ := NewState(PolicyReport)
			ds, err := m.run(st, history, sizes, between)
			if err != nil {
				t.Fatalf("between=%v sizes=%v: %v", between, sizes, err)
			}
			sameVerdicts(t, ds, Apply, Apply, Apply, Apply, Apply)
			if mt := m.tables["db.kv"]; len(mt.rows) != 1 || !mt.rows[0].Equal(kvRow(7, "c", 1)) {
				t.Fatalf("between=%v sizes=%v: master %v", between, sizes, mt.rows)
			}
		}
	}
}

func TestPolicies(t *testing.T) {
	kv := kvTable()
	rows := []repl.Row{kvRow(1, "a", -1), kvRow(2, "diverged", -1), kvRow(3, "b", -1)}
	txns := []repl.Txn{
		txn(1, upd(kv, kvRow(1, "a", -1), kvRow(1, "b", -1))),             // clean
		txn(2, upd(kv, kvRow(2, "a", -1), kvRow(2, "b", -1))),             // conflict
		txn(3, upd(kv, kvRow(3, "a", -1), kvRow(3, "b", -1))),             // already applied
		txn(4, upd(kv, kvRow(2, "b", -1), kvRow(2, "c", -1))),             // follows 0-1-2
		txn(5, del(kv, kvRow(4, "gone", -1)), ins(kv, kvRow(5, "n", -1))), // partial? no: absent delete + insert
	}
	cases := []struct {
		policy Policy
		want   []Verdict
		master []repl.Row
	}{
		{PolicyReport, []Verdict{Apply, Conflict, AlreadyApplied, Conflict, Conflict},
			[]repl.Row{kvRow(1, "b", -1), kvRow(2, "diverged", -1), kvRow(3, "b", -1)}},
		{PolicySourceWins, []Verdict{Apply, ApplyOverwrite, AlreadyApplied, Apply, ApplyOverwrite},
			[]repl.Row{kvRow(1, "b", -1), kvRow(2, "c", -1), kvRow(3, "b", -1), kvRow(5, "n", -1)}},
		{PolicyAbort, []Verdict{Aborted, Aborted, AlreadyApplied, Aborted, Aborted}, rows},
	}
	for _, tc := range cases {
		t.Run(string(tc.policy), func(t *testing.T) {
			m := seed(t, kv, rows...)
			ds := decideAll(t, m, tc.policy, txns...)
			sameVerdicts(t, ds, tc.want...)
			mt := m.tables["db.kv"]
			if len(mt.rows) != len(tc.master) {
				t.Fatalf("master %v, want %v", mt.rows, tc.master)
			}
			for _, r := range tc.master {
				if mt.find(r) < 0 {
					t.Fatalf("master %v lacks %v", mt.rows, r)
				}
			}
		})
	}
}

func TestPartialIsConflict(t *testing.T) {
	kv := kvTable()
	m := seed(t, kv, kvRow(1, "b", -1), kvRow(2, "a", -1))
	d := decideAll(t, m, PolicyReport, txn(1,
		upd(kv, kvRow(1, "a", -1), kvRow(1, "b", -1)),
		upd(kv, kvRow(2, "a", -1), kvRow(2, "b", -1))))[0]
	if d.Verdict != Conflict || !strings.HasPrefix(d.Reason, "partially applied: rows 0 are already applied and rows 1 are not") {
		t.Fatalf("%s %q", d.Verdict, d.Reason)
	}
	if d.Rows[0].Verdict != AlreadyApplied || d.Rows[1].Verdict != Apply {
		t.Fatalf("rows %s %s", d.Rows[0].Verdict, d.Rows[1].Verdict)
	}
}

func TestStatementsAndEmpty(t *testing.T) {
	ddl := repl.Txn{GTID: gtid(1), Statements: []repl.Statement{{Schema: "db", Query: "ALTER TABLE kv ADD c INT"}}}
	empty := repl.Txn{GTID: gtid(2)}
	for _, tc := range []struct {
		p    Policy
		want Verdict
	}{{PolicyReport, Conflict}, {PolicySourceWins, ApplyOverwrite}, {PolicyAbort, Aborted}} {
		m := newMaster()
		ds := decideAll(t, m, tc.p, ddl, empty)
		wantEmpty := Apply
		if tc.p == PolicyAbort {
			wantEmpty = Aborted
		}
		sameVerdicts(t, ds, tc.want, wantEmpty)
		if !strings.Contains(ds[0].Reason, "1 statement(s)") {
			t.Errorf("%s: reason %q", tc.p, ds[0].Reason)
		}
	}
}

func TestSchemaChangeIsConflict(t *testing.T) {
	kv := kvTable()
	wide := kvTable()
	wide.Columns = append(append([]repl.Column{}, kv.Columns...), repl.Column{Name: "w", Type: "int"})
	m := seed(t, kv, kvRow(1, "a", -1))
	st, _ := NewState(PolicySourceWins)
	first := []repl.Txn{txn(1, upd(kv, kvRow(1, "a", -1), kvRow(1, "b", -1)))}
	second := []repl.Txn{
		txn(2, upd(wide, append(kvRow(1, "b", -1), iv(0)), append(kvRow(1, "c", -1), iv(0)))),
		txn(3, upd(kv, kvRow(1, "b", -1), kvRow(1, "d", -1))),
	}
	ds, err := m.run(st, append(first, second...), []int{1}, true)
	if err != nil {
		t.Fatal(err)
	}
	sameVerdicts(t, ds, Apply, Conflict, Conflict)
	if !strings.Contains(ds[1].Reason, "schema differs") || *ds[2].DependsOn != gtid(2) {
		t.Fatalf("reasons %q / %q", ds[1].Reason, ds[2].Reason)
	}
	if need := st.NeededKeys(second[:1]); len(need) != 0 {
		t.Fatalf("changes of a changed schema need no rows, got %+v", need)
	}
}

func TestAbortAcrossBatches(t *testing.T) {
	kv := kvTable()
	m := seed(t, kv, kvRow(1, "a", -1), kvRow(2, "z", -1))
	st, _ := NewState(PolicyAbort)
	txns := []repl.Txn{
		txn(1, upd(kv, kvRow(1, "a", -1), kvRow(1, "b", -1))),
		txn(2, upd(kv, kvRow(2, "a", -1), kvRow(2, "b", -1))),
		txn(3, ins(kv, kvRow(3, "c", -1))),
	}
	ds, err := m.run(st, txns, []int{1, 1}, false)
	if err != nil {
		t.Fatal(err)
	}
	sameVerdicts(t, ds, Aborted, Aborted, Aborted)
	if ds[0].Reason != "aborted: conflict in transaction 0-1-2" || !strings.HasPrefix(ds[1].Reason, "aborted: row 0") {
		t.Fatalf("reasons %q / %q", ds[0].Reason, ds[1].Reason)
	}
	if mt := m.tables["db.kv"]; mt.find(kvRow(1, "a", -1)) < 0 || len(mt.rows) != 2 {
		t.Fatalf("master changed: %v", mt.rows)
	}
}

func TestNeededKeys(t *testing.T) {
	kv, bag := kvTable(), bagTable()
	st, _ := NewState("")
	need := st.NeededKeys([]repl.Txn{
		txn(1, upd(kv, kvRow(1, "a", 5), kvRow(2, "a", 6)), ins(bag, repl.Row{iv(1), null()})),
		txn(2, del(kv, kvRow(1, "a", 7)), ins(kv, kvRow(3, "c", -1)), upd(kv, kvRow(2, "a", 6), kvRow(2, "b", 6))),
	})
	if len(need) != 2 || need[0].Table != kv || need[1].Table != bag {
		t.Fatalf("fetches %+v", need)
	}
	pk, uk := need[0].Sets[0], need[0].Sets[1]
	if pk.Index != "PRIMARY" || uk.Index != "uk_u" || uk.Columns[0] != 2 || pk.WholeRow {
		t.Fatalf("sets %+v", need[0].Sets)
	}
	// ids 1, 2, 3 once each; unique values of after-images only (6), no NULL.
	if got := renderImages(pk.Images); got != "1|2|3" {
		t.Errorf("primary key images %s", got)
	}
	if got := renderImages(uk.Images); got != "6" {
		t.Errorf("unique key images %s", got)
	}
	whole := need[1].Sets
	if len(whole) != 1 || !whole[0].WholeRow || whole[0].Index != "" || renderImages(whole[0].Images) != "1,NULL" {
		t.Errorf("keyless sets %+v", whole)
	}
}

func renderImages(rows []repl.Row) string {
	var s []string
	for _, r := range rows {
		var v []string
		for _, x := range r {
			v = append(v, x.String())
		}
		s = append(s, strings.Join(v, ","))
	}
	return strings.Join(s, "|")
}

func TestDecideErrors(t *testing.T) {
	kv := kvTable()
	bad := kvTable()
	bad.PrimaryKey = []int{9}
	cases := []struct {
		name string
		txns []repl.Txn
		cur  Current
		want string
	}{
		{"no table", []repl.Txn{txn(1, repl.RowChange{After: kvRow(1, "a", -1)})}, Current{}, "no table"},
		{"no image", []repl.Txn{txn(1, repl.RowChange{Table: kv})}, Current{}, "neither"},
		{"short image", []repl.Txn{txn(1, ins(kv, repl.Row{iv(1)}))}, Current{}, "1 values for 3 columns"},
		{"bad key", []repl.Txn{txn(1, ins(bad, kvRow(1, "a", -1)))}, Current{}, "primary key refers to column 9"},
		{"missing fetch", []repl.Txn{txn(1, ins(kv, kvRow(1, "a", -1)))}, Current{}, "no rows were fetched for table db.kv"},
		{"short fetched row", []repl.Txn{txn(1, ins(kv, kvRow(1, "a", -1)))}, Current{"db.kv": {{iv(1)}}}, "fetched row 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, _ := NewState(PolicyReport)
			if _, err := st.Decide(tc.txns, tc.cur); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			// The State is untouched: a valid batch still decides.
			p, err := st.Decide([]repl.Txn{txn(2, ins(kv, kvRow(1, "a", -1)))}, Current{"db.kv": nil})
			if err != nil || p.Txns[0].Verdict != Apply {
				t.Fatalf("after error: %v %+v", err, p)
			}
		})
	}
	if _, err := NewState("yolo"); err == nil {
		t.Fatal("NewState accepted an unknown policy")
	}
}

func TestParsePolicy(t *testing.T) {
	for in, want := range map[string]Policy{"": PolicyReport, "Report": PolicyReport,
		" source-wins ": PolicySourceWins, "ABORT": PolicyAbort} {
		if got, err := ParsePolicy(in); err != nil || got != want {
			t.Errorf("ParsePolicy(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParsePolicy("source_wins"); err == nil {
		t.Error("ParsePolicy accepted source_wins")
	}
}

func TestPlanJSON(t *testing.T) {
	kv := kvTable()
	m := seed(t, kv, kvRow(1, "z", -1), kvRow(2, "a", -1))
	st, _ := NewState(PolicyReport)
	txns := []repl.Txn{
		txn(1, upd(kv, kvRow(1, "a", -1), kvRow(1, "b", -1))),
		txn(2, del(kv, kvRow(1, "b", -1))),
		{GTID: repl.MySQLGTID(repl.UUID{0xab, 15: 1}, "", 7), Changes: []repl.RowChange{del(kv, kvRow(2, "a", -1))}},
	}
	p, err := st.Decide(txns, m.fetch(st.NeededKeys(txns)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"policy":"report","txns":[` +
		`{"gtid":"0-1-1","verdict":"conflict","reason":"row 0 (update db.kv id=1): the row differs from the before-image","rows":[` +
		`{"index":0,"table":"db.kv","change":"update","key":"id=1","verdict":"conflict","reason":"the row differs from the before-image","current":{"id":"1","v":"z","u":null},"diff_columns":["v"]}]},` +
		`{"gtid":"0-1-2","verdict":"conflict","reason":"row 0 (delete db.kv id=1): depends on GTID 0-1-1, which was skipped","depends_on":"0-1-1","rows":[` +
		`{"index":0,"table":"db.kv","change":"delete","key":"id=1","verdict":"conflict","reason":"depends on GTID 0-1-1, which was skipped"}]},` +
		`{"gtid":"ab000000-0000-0000-0000-000000000001:7","verdict":"apply","rows":[` +
		`{"index":0,"table":"db.kv","change":"delete","key":"id=2","verdict":"apply"}]}]}`
	if string(got) != want {
		t.Fatalf("JSON\n got %s\nwant %s", got, want)
	}
	if p.Count(Conflict) != 2 || p.Count(Apply) != 1 {
		t.Fatalf("counts %d %d", p.Count(Conflict), p.Count(Apply))
	}
}
