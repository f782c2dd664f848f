package repl

import (
	"math"
	"reflect"
	"testing"
)

// fromMask is the intervals of the numbers 1..bits set in mask (bit i is i+1).
func fromMask(mask uint) intervals {
	var iv []interval
	for i := 0; mask>>i != 0; i++ {
		if mask>>i&1 == 1 {
			iv = append(iv, interval{uint64(i + 1), uint64(i + 1)})
		}
	}
	return normalize(iv)
}

func toMask(t *testing.T, s intervals) uint {
	t.Helper()
	var m uint
	for k, iv := range s {
		if iv.lo == 0 || iv.hi < iv.lo || (k > 0 && iv.lo <= s[k-1].hi+1) {
			t.Fatalf("intervals %v not canonical at %d", s, k)
		}
		for n := iv.lo; n <= iv.hi; n++ {
			m |= 1 << (n - 1)
		}
	}
	return m
}

// TestIntervalsExhaustive checks every operation against bit masks for all
// pairs of subsets of 1..8.
func TestIntervalsExhaustive(t *testing.T) {
	const n = 1 << 8
	for a := uint(0); a < n; a++ {
		A := fromMask(a)
		if toMask(t, A) != a {
			t.Fatalf("fromMask(%b) = %v", a, A)
		}
		for b := uint(0); b < n; b++ {
			B := fromMask(b)
			if got := toMask(t, A.union(B)); got != a|b {
				t.Fatalf("%v ∪ %v = %b, want %b", A, B, got, a|b)
			}
			if got := toMask(t, A.subtract(B)); got != a&^b {
				t.Fatalf("%v − %v = %b, want %b", A, B, got, a&^b)
			}
			if got := toMask(t, A.intersect(B)); got != a&b {
				t.Fatalf("%v ∩ %v = %b, want %b", A, B, got, a&b)
			}
			if A.equal(B) != (a == b) {
				t.Fatalf("equal(%v, %v) wrong", A, B)
			}
		}
		for k := uint64(0); k <= 9; k++ {
			want := k >= 1 && a>>(k-1)&1 == 1
			if A.contains(k) != want {
				t.Fatalf("%v contains %d = %v", A, k, !want)
			}
		}
	}
}

func TestIntervalsExtremes(t *testing.T) {
	const m = math.MaxUint64
	all := intervals{{1, m}}
	for _, tc := range []struct {
		name string
		got  intervals
		want intervals
	}{
		{"normalize adjacent at max", normalize([]interval{{m, m}, {5, m - 1}}), intervals{{5, m}}},
		{"normalize no wrap", normalize([]interval{{m, m}, {1, 1}}), intervals{{1, 1}, {m, m}}},
		{"normalize contained", normalize([]interval{{1, 10}, {3, 4}, {11, 11}}), intervals{{1, 11}}},
		{"subtract max", all.subtract(intervals{{m, m}}), intervals{{1, m - 1}}},
		{"subtract to max", all.subtract(intervals{{2, m}}), intervals{{1, 1}}},
		{"subtract middle", all.subtract(intervals{{3, 4}}), intervals{{1, 2}, {5, m}}},
		{"subtract all", all.subtract(all), nil},
		{"subtract from top", intervals{{m - 2, m}}.subtract(intervals{{m - 1, m - 1}}), intervals{{m - 2, m - 2}, {m, m}}},
		{"union at max", intervals{{m, m}}.union(intervals{{1, m - 1}}), all},
		{"intersect at max", all.intersect(intervals{{m - 1, m}}), intervals{{m - 1, m}}},
		{"intersect disjoint", intervals{{1, 5}}.intersect(intervals{{6, 9}}), nil},
	} {
		if !tc.got.equal(tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if all.count() != m {
		t.Errorf("count of 1..max = %d", all.count())
	}
	if c := (intervals{{1, m}, {1, 1}}).count(); c != m {
		t.Errorf("count does not saturate: %d", c)
	}
	if !all.contains(m) || all.contains(0) {
		t.Error("contains at the bounds is wrong")
	}
}

func TestIntervalsDoNotModifyArguments(t *testing.T) {
	a := intervals{{1, 3}, {7, 9}}
	b := intervals{{2, 8}}
	ca, cb := append(intervals{}, a...), append(intervals{}, b...)
	_ = a.union(b)
	_ = a.subtract(b)
	_ = a.intersect(b)
	_ = b.union(a)
	if !reflect.DeepEqual(a, ca) || !reflect.DeepEqual(b, cb) {
		t.Fatalf("arguments modified: %v %v", a, b)
	}
}
