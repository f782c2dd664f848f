package applier

import (
	"reflect"
	"testing"

	"github.com/recoup-dev/recoup/conflict"
	"github.com/recoup-dev/recoup/repl"
)

func TestBuildSelectsIntegerRuns(t *testing.T) {
	tbl := &repl.Table{Schema: "s", Name: "t", Columns: []repl.Column{{Name: "id", Type: "int"}, {Name: "u", Type: "bigint", Unsigned: true}},
		PrimaryKey: []int{0}}
	ints := func(vs ...int64) []repl.Row {
		var out []repl.Row
		for _, v := range vs {
			out = append(out, row(repl.IntValue(v)))
		}
		return out
	}
	uints := func(vs ...uint64) []repl.Row {
		var out []repl.Row
		for _, v := range vs {
			out = append(out, row(repl.UintValue(v)))
		}
		return out
	}
	const sel = "SELECT `id`, `u` FROM `s`.`t` WHERE "
	for _, tc := range []struct {
		name   string
		col    int
		images []repl.Row
		where  string
		args   []any
	}{
		{"short list stays IN", 0, ints(3, 1, 2), "`id` IN (?, ?, ?)", []any{int64(3), int64(1), int64(2)}},
		{"one run, unsorted, duplicates", 0, ints(5, 3, 4, 6, 3, 7), "(`id` BETWEEN ? AND ?)", []any{int64(3), int64(7)}},
		{"runs and stragglers", 0, ints(-2, -1, 0, 1, 10, 20, 21, 22, 23, 30),
			"(`id` BETWEEN ? AND ? OR `id` BETWEEN ? AND ? OR `id` IN (?, ?))",
			[]any{int64(-2), int64(1), int64(20), int64(23), int64(10), int64(30)}},
		{"no run of minRun", 0, ints(1, 2, 3, 5, 6, 7), "`id` IN (?, ?, ?, ?, ?, ?)",
			[]any{int64(1), int64(2), int64(3), int64(5), int64(6), int64(7)}},
		{"int64 edge does not wrap", 0, ints(1<<63-1, -1<<63, -1<<63+1, -1<<63+2, -1<<63+3),
			"(`id` BETWEEN ? AND ? OR `id` IN (?))", []any{int64(-1 << 63), int64(-1<<63 + 3), int64(1<<63 - 1)}},
		{"unsigned beyond int64", 1, uints(1<<63, 1<<63+1, 1<<63+2, 1<<63+3, 1<<64-1),
			"(`u` BETWEEN ? AND ? OR `u` IN (?))", []any{uint64(1 << 63), uint64(1<<63 + 3), uint64(1<<64 - 1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := conflict.Fetch{Table: tbl, Sets: []conflict.KeySet{{Index: "k", Columns: []int{tc.col}, Images: tc.images}}}
			got := buildSelects(f, true)
			if want := sel + tc.where + " FOR UPDATE"; len(got) != 1 || got[0].query != want {
				t.Fatalf("buildSelects = %+v\nwant %s", got, want)
			}
			if !reflect.DeepEqual(got[0].args, tc.args) {
				t.Errorf("args = %#v, want %#v", got[0].args, tc.args)
			}
		})
	}
}

func TestIntegerRunsRefusesMixedOrNull(t *testing.T) {
	for name, imgs := range map[string][]repl.Row{
		"null":    {row(repl.IntValue(1)), row(repl.IntValue(2)), row(repl.IntValue(3)), row(repl.Null())},
		"mixed":   {row(repl.IntValue(1)), row(repl.IntValue(2)), row(repl.IntValue(3)), row(repl.UintValue(4))},
		"strings": {row(repl.BytesValue([]byte("1"))), row(repl.BytesValue([]byte("2"))), row(repl.BytesValue([]byte("3"))), row(repl.BytesValue([]byte("4")))},
	} {
		ki := make([]keyImage, len(imgs))
		for i := range imgs {
			ki[i] = keyImage{img: imgs[i]}
		}
		if _, _, ok := integerRuns(ki); ok {
			t.Errorf("%s: integerRuns accepted images it cannot range over", name)
		}
	}
}
