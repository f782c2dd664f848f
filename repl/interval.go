package repl

import (
	"math"
	"sort"
)

// interval is an inclusive range of sequence numbers, lo <= hi, lo >= 1.
// Inclusive bounds let hi be math.MaxUint64 without overflow.
type interval struct{ lo, hi uint64 }

// intervals is a sorted list of disjoint, non-adjacent intervals. Functions
// on it never modify their arguments, so sets may share them.
type intervals []interval

func (s intervals) contains(n uint64) bool {
	i := sort.Search(len(s), func(i int) bool { return s[i].hi >= n })
	return i < len(s) && s[i].lo <= n
}

func (s intervals) max() uint64 {
	if len(s) == 0 {
		return 0
	}
	return s[len(s)-1].hi
}

// normalize sorts and merges overlapping or adjacent intervals, in place:
// pass it a slice nobody else holds.
func normalize(s []interval) intervals {
	if len(s) == 0 {
		return nil
	}
	sort.Slice(s, func(i, j int) bool { return s[i].lo < s[j].lo })
	out := s[:1]
	for _, iv := range s[1:] {
		last := &out[len(out)-1]
		if iv.lo <= last.hi || (last.hi != math.MaxUint64 && iv.lo == last.hi+1) {
			last.hi = max(last.hi, iv.hi)
			continue
		}
		out = append(out, iv)
	}
	return out
}

func (s intervals) union(o intervals) intervals {
	merged := make([]interval, 0, len(s)+len(o))
	merged = append(merged, s...)
	merged = append(merged, o...)
	return normalize(merged)
}

// subtract returns the numbers of s that are not in o.
func (s intervals) subtract(o intervals) intervals {
	var out []interval
	j := 0
	for _, iv := range s {
		lo, hi := iv.lo, iv.hi
		for j < len(o) && o[j].hi < lo {
			j++
		}
		done := false
		for k := j; k < len(o) && o[k].lo <= hi; k++ {
			if o[k].lo > lo {
				out = append(out, interval{lo, o[k].lo - 1})
			}
			if o[k].hi >= hi {
				done = true // o covers the rest; hi+1 may not exist
				break
			}
			lo = o[k].hi + 1
		}
		if !done {
			out = append(out, interval{lo, hi})
		}
	}
	return out
}

// intersect returns the numbers in both s and o.
func (s intervals) intersect(o intervals) intervals {
	var out []interval
	i, j := 0, 0
	for i < len(s) && j < len(o) {
		lo, hi := max(s[i].lo, o[j].lo), min(s[i].hi, o[j].hi)
		if lo <= hi {
			out = append(out, interval{lo, hi})
		}
		if s[i].hi < o[j].hi {
			i++
		} else {
			j++
		}
	}
	return out
}

func (s intervals) equal(o intervals) bool {
	if len(s) != len(o) {
		return false
	}
	for i := range s {
		if s[i] != o[i] {
			return false
		}
	}
	return true
}

// count is the number of numbers in s, saturating at math.MaxUint64.
func (s intervals) count() uint64 {
	var n uint64
	for _, iv := range s {
		n = addSat(n, iv.hi-iv.lo+1)
	}
	return n
}

func addSat(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}
