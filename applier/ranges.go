package applier

import (
	"cmp"
	"slices"

	"github.com/recoup-dev/recoup/repl"
)

// minRun is the shortest run of consecutive integer key values that a
// conflict read matches with one BETWEEN instead of listing each value:
// bulk inserts and batch updates touch such runs, and a 10,000-value IN
// list costs the server far more to parse and probe than a range.
const minRun = 4

// intRun is the values lo..hi of an integer column, every one of them an
// image: a BETWEEN over it returns exactly the rows the IN list would.
type intRun struct{ lo, hi repl.Value }

// integerRuns splits the single-column images of an integer key into runs
// of at least minRun consecutive values and the remaining values. It
// returns ok false (use the plain IN list) unless every image is a non-NULL
// value of one integer kind.
func integerRuns(imgs []keyImage) (runs []intRun, rest []repl.Value, ok bool) {
	if len(imgs) < minRun {
		return nil, nil, false
	}
	kind := imgs[0].img[0].Kind()
	if kind != repl.KindInt && kind != repl.KindUint {
		return nil, nil, false
	}
	vals := make([]repl.Value, len(imgs))
	for i, ki := range imgs {
		if len(ki.img) != 1 || ki.img[0].Kind() != kind {
			return nil, nil, false
		}
		vals[i] = ki.img[0]
	}
	less := func(a, b repl.Value) int { return cmp.Compare(a.Uint(), b.Uint()) }
	next := func(a, b repl.Value) bool { return b.Uint() == a.Uint()+1 && b.Uint() != 0 }
	if kind == repl.KindInt {
		less = func(a, b repl.Value) int { return cmp.Compare(a.Int(), b.Int()) }
		next = func(a, b repl.Value) bool { return b.Int() == a.Int()+1 && b.Int() != -1<<63 }
	}
	slices.SortFunc(vals, less)
	vals = slices.CompactFunc(vals, func(a, b repl.Value) bool { return a.Equal(b) })
	for i := 0; i < len(vals); {
		j := i + 1
		for j < len(vals) && next(vals[j-1], vals[j]) {
			j++
		}
		if j-i >= minRun {
			runs = append(runs, intRun{lo: vals[i], hi: vals[j-1]})
		} else {
			rest = append(rest, vals[i:j]...)
		}
		i = j
	}
	return runs, rest, len(runs) > 0
}
