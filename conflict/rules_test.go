package conflict

import (
	"math"
	"slices"
	"testing"

	"github.com/recoup-dev/recoup/repl"
)

type rowRuleCase struct {
	name    string
	tbl     *repl.Table
	current []repl.Row
	change  repl.RowChange
	want    Verdict
	diff    []int
	cur     repl.Row // expected RowDecision.Current
}

func rowRuleCases() []rowRuleCase {
	kv, bag, fl := kvTable(), bagTable(), flTable()
	return []rowRuleCase{
		{"update/before-image", kv, []repl.Row{kvRow(1, "a", -1)}, upd(kv, kvRow(1, "a", -1), kvRow(1, "b", -1)), Apply, nil, nil},
		{"update/after-image", kv, []repl.Row{kvRow(1, "b", -1)}, upd(kv, kvRow(1, "a", -1), kvRow(1, "b", -1)), AlreadyApplied, nil, nil},
		{"update/other", kv, []repl.Row{kvRow(1, "z", 7)}, upd(kv, kvRow(1, "a", -1), kvRow(1, "b", -1)), Conflict, []int{1, 2}, kvRow(1, "z", 7)},
		{"update/absent", kv, nil, upd(kv, kvRow(1, "a", -1), kvRow(1, "b", -1)), Conflict, nil, nil},
		{"delete/before-image", kv, []repl.Row{kvRow(1, "a", 3)}, del(kv, kvRow(1, "a", 3)), Apply, nil, nil},
		{"delete/absent", kv, nil, del(kv, kvRow(1, "a", 3)), AlreadyApplied, nil, nil},
		{"delete/other", kv, []repl.Row{kvRow(1, "a", 4)}, del(kv, kvRow(1, "a", 3)), Conflict, []int{2}, kvRow(1, "a", 4)},
		{"insert/absent", kv, []repl.Row{kvRow(2, "a", 1)}, ins(kv, kvRow(1, "a", 2)), Apply, nil, nil},
		{"insert/after-image", kv, []repl.Row{kvRow(1, "a", 2)}, ins(kv, kvRow(1, "a", 2)), AlreadyApplied, nil, nil},
		{"insert/other-same-key", kv, []repl.Row{kvRow(1, "x", 2)}, ins(kv, kvRow(1, "a", 2)), Conflict, []int{1}, kvRow(1, "x", 2)},
		{"insert/unique-taken", kv, []repl.Row{kvRow(9, "a", 2)}, ins(kv, kvRow(1, "a", 2)), Conflict, []int{0}, kvRow(9, "a", 2)},
		{"insert/unique-null-free", kv, []repl.Row{kvRow(9, "a", -1)}, ins(kv, kvRow(1, "a", -1)), Apply, nil, nil},
		{"update/unique-taken", kv, []repl.Row{kvRow(1, "a", 1), kvRow(2, "b", 2)}, upd(kv, kvRow(1, "a", 1), kvRow(1, "a", 2)), Conflict, []int{0, 1}, kvRow(2, "b", 2)},
		{"pk-change/apply", kv, []repl.Row{kvRow(1, "a", 1)}, upd(kv, kvRow(1, "a", 1), kvRow(2, "a", 1)), Apply, nil, nil},
		{"pk-change/new-key-taken", kv, []repl.Row{kvRow(1, "a", 1), kvRow(2, "b", 5)}, upd(kv, kvRow(1, "a", 1), kvRow(2, "a", 1)), Conflict, []int{1, 2}, kvRow(2, "b", 5)},
		{"pk-change/already-moved", kv, []repl.Row{kvRow(2, "a", 1)}, upd(kv, kvRow(1, "a", 1), kvRow(2, "a", 1)), AlreadyApplied, nil, nil},
		{"pk-change/moved-but-old-back", kv, []repl.Row{kvRow(1, "q", 3), kvRow(2, "a", 1)}, upd(kv, kvRow(1, "a", 1), kvRow(2, "a", 1)), Conflict, []int{1, 2}, kvRow(1, "q", 3)},
		{"pk-change/both-absent", kv, nil, upd(kv, kvRow(1, "a", 1), kvRow(2, "a", 1)), Conflict, nil, nil},
		{"keyless/delete-one-of-two", bag, []repl.Row{{iv(1), sv("x")}, {iv(1), sv("x")}}, del(bag, repl.Row{iv(1), sv("x")}), Apply, nil, nil},
		{"keyless/delete-none", bag, []repl.Row{{iv(1), sv("y")}}, del(bag, repl.Row{iv(1), sv("x")}), AlreadyApplied, nil, nil},
		{"keyless/delete-null", bag, []repl.Row{{iv(1), null()}}, del(bag, repl.Row{iv(1), null()}), Apply, nil, nil},
		{"keyless/insert-duplicate", bag, []repl.Row{{iv(1), sv("x")}}, ins(bag, repl.Row{iv(1), sv("x")}), Apply, nil, nil},
		{"keyless/update-before", bag, []repl.Row{{iv(1), sv("x")}}, upd(bag, repl.Row{iv(1), sv("x")}, repl.Row{iv(2), sv("x")}), Apply, nil, nil},
		{"keyless/update-after", bag, []repl.Row{{iv(2), sv("x")}}, upd(bag, repl.Row{iv(1), sv("x")}, repl.Row{iv(2), sv("x")}), AlreadyApplied, nil, nil},
		{"keyless/update-neither", bag, []repl.Row{{iv(3), sv("x")}}, upd(bag, repl.Row{iv(1), sv("x")}, repl.Row{iv(2), sv("x")}), Conflict, nil, nil},
		{"float/near-miss", fl, []repl.Row{{iv(1), dv(0.1000000001), repl.Float32Value(1)}}, upd(fl, repl.Row{iv(1), dv(0.1), repl.Float32Value(1)}, repl.Row{iv(1), dv(0.2), repl.Float32Value(1)}), Conflict, []int{1}, repl.Row{iv(1), dv(0.1000000001), repl.Float32Value(1)}},
		{"float/exact", fl, []repl.Row{{iv(1), dv(0.1), repl.Float32Value(0.1)}}, upd(fl, repl.Row{iv(1), dv(0.1), repl.Float32Value(0.1)}, repl.Row{iv(1), dv(0.2), repl.Float32Value(0.1)}), Apply, nil, nil},
		{"float/neg-zero", fl, []repl.Row{{iv(1), dv(negZero), repl.Float32Value(0)}}, del(fl, repl.Row{iv(1), dv(0), repl.Float32Value(0)}), Conflict, []int{1}, repl.Row{iv(1), dv(negZero), repl.Float32Value(0)}},
		{"float/float32-neg-zero", fl, []repl.Row{{iv(1), dv(0), repl.Float32Value(float32(negZero))}}, del(fl, repl.Row{iv(1), dv(0), repl.Float32Value(0)}), Conflict, []int{2}, repl.Row{iv(1), dv(0), repl.Float32Value(float32(negZero))}},
		{"float/nan-same-bits", fl, []repl.Row{{iv(1), dv(math.NaN()), repl.Float32Value(0)}}, del(fl, repl.Row{iv(1), dv(math.NaN()), repl.Float32Value(0)}), Apply, nil, nil},
	}
}

func TestRowRules(t *testing.T) {
	for _, tc := range rowRuleCases() {
		t.Run(tc.name, func(t *testing.T) {
			m := seed(t, tc.tbl, tc.current...)
			ds := decideAll(t, m, PolicyReport, txn(1, tc.change))
			d := ds[0]
			if d.Verdict != tc.want || d.Rows[0].Verdict != tc.want {
				t.Fatalf("verdict %s (row %s, %q), want %s", d.Verdict, d.Rows[0].Verdict, d.Reason, tc.want)
			}
			r := d.Rows[0]
			if !slices.Equal(r.DiffColumns, tc.diff) {
				t.Errorf("diff columns %v, want %v", r.DiffColumns, tc.diff)
			}
			if !r.Current.Equal(tc.cur) || (r.Current == nil) != (tc.cur == nil) {
				t.Errorf("current %v, want %v", r.Current, tc.cur)
			}
			if (tc.want == Conflict) != (r.Reason != "" && d.Reason != "") {
				t.Errorf("reasons %q / %q for verdict %s", d.Reason, r.Reason, tc.want)
			}
		})
	}
}

func TestTypedComparison(t *testing.T) {
	tbl := &repl.Table{Schema: "db", Name: "ty", PrimaryKey: []int{0}, Columns: []repl.Column{
		{Name: "id", Type: "int"}, {Name: "x", Type: "any"}}}
	cases := []struct {
		name      string
		cur, want repl.Value
		same      bool
	}{
		{"decimal scale", repl.TextValue(repl.KindDecimal, []byte("1.0")), repl.TextValue(repl.KindDecimal, []byte("1.00")), false},
		{"charset", repl.StringValue([]byte("a"), "latin1"), sv("a"), false},
		{"int vs uint", repl.UintValue(5), iv(5), false},
		{"null vs empty", null(), sv(""), false},
		{"datetime text", repl.TextValue(repl.KindDateTime, []byte("2024-01-01 00:00:00")), repl.TextValue(repl.KindDateTime, []byte("2024-01-01 00:00:00")), true},
		{"timestamp vs datetime", repl.TextValue(repl.KindTimestamp, []byte("2024-01-01 00:00:00")), repl.TextValue(repl.KindDateTime, []byte("2024-01-01 00:00:00")), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := seed(t, tbl, repl.Row{iv(1), tc.cur})
			d := decideAll(t, m, PolicyReport, txn(1, del(tbl, repl.Row{iv(1), tc.want})))[0]
			want := Conflict
			if tc.same {
				want = Apply
			}
			if d.Verdict != want {
				t.Fatalf("verdict %s (%s), want %s", d.Verdict, d.Reason, want)
			}
		})
	}
}
