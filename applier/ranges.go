package applier

import (
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
	// The values as uint64s in their numeric order: a signed value's two's
	// complement bits with the sign bit flipped.
	var flip uint64
	if kind == repl.KindInt {
		flip = 1 << 63
	}
	nums := make([]uint64, len(imgs))
	for i, ki := range imgs {
		if len(ki.img) != 1 || ki.img[0].Kind() != kind {
			return nil, nil, false
		}
		nums[i] = ki.img[0].Uint() ^ flip
	}
	if !slices.IsSorted(nums) { // bulk writes come sorted
		slices.Sort(nums)
	}
	nums = slices.Compact(nums)
	value := func(n uint64) repl.Value {
		if kind == repl.KindInt {
			return repl.IntValue(int64(n ^ flip))
		}
		return repl.UintValue(n)
	}
	for i := 0; i < len(nums); {
		j := i + 1
		for j < len(nums) && nums[j] == nums[j-1]+1 { // distinct and sorted: never wraps
			j++
		}
		if j-i >= minRun {
			runs = append(runs, intRun{lo: value(nums[i]), hi: value(nums[j-1])})
		} else {
			for _, n := range nums[i:j] {
				rest = append(rest, value(n))
			}
		}
		i = j
	}
	return runs, rest, len(runs) > 0
}
