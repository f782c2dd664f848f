package repl

import "sort"

// interval is an inclusive range of sequence numbers, lo <= hi, lo >= 1.
type interval struct{ lo, hi uint64 }

// intervals is a sorted list of disjoint, non-adjacent intervals. Functions
// on it never modify their arguments.
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

// normalize sorts and merges overlapping or adjacent intervals, in place.
func normalize(s []interval) intervals {
	if len(s) == 0 {
		return nil
	}
	sort.Slice(s, func(i, j int) bool { return s[i].lo < s[j].lo })
	out := s[:1]
	for _, iv := range s[1:] {
		last := &out[len(out)-1]
		if iv.lo <= last.hi || (last.hi != ^uint64(0) && iv.lo == last.hi+1) {
			if iv.hi > last.hi {
				last.hi = iv.hi
			}
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

func (s intervals) subtract(o intervals) intervals {
	var out []interval
	j := 0
	for _, iv := range s {
		lo, hi := iv.lo, iv.hi
		for j < len(o) && o[j].hi < lo {
			j++
		}
		k := j
		for k < len(o) && o[k].lo <= hi {
			if o[k].lo > lo {
				out = append(out, interval{lo, o[k].lo - 1})
			}
			if o[k].hi >= hi {
				lo = hi + 1
				break
			}
			lo = o[k].hi + 1
			k++
		}
		if lo <= hi && lo != 0 {
			out = append(out, interval{lo, hi})
		}
	}
	return out
}

// subsetOf reports whether every number of s is in o.
func (s intervals) subsetOf(o intervals) bool { return len(s.subtract(o)) == 0 }

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

func (s intervals) count() uint64 {
	var n uint64
	for _, iv := range s {
		n += iv.hi - iv.lo + 1
	}
	return n
}
