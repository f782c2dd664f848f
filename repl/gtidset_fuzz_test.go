package repl

import (
	"errors"
	"slices"
	"testing"
)

func flavorOf(mysql bool) Flavor {
	if mysql {
		return MySQL
	}
	return MariaDB
}

// FuzzParseGTIDSet checks that any text either fails with ErrBadGTID or
// parses to a set whose String parses back to an equal set and is stable.
// The seed corpus is in testdata/fuzz/FuzzParseGTIDSet.
func FuzzParseGTIDSet(f *testing.F) {
	f.Fuzz(func(t *testing.T, mysql bool, text string) {
		fl := flavorOf(mysql)
		s, err := ParseGTIDSet(fl, text)
		if err != nil {
			if !errors.Is(err, ErrBadGTID) {
				t.Fatalf("ParseGTIDSet(%v, %q): error %v does not wrap ErrBadGTID", fl, text, err)
			}
			return
		}
		checkWellFormed(t, s)
		if s.Flavor() != fl {
			t.Fatalf("ParseGTIDSet(%v, %q) has flavor %v", fl, text, s.Flavor())
		}
		pos := mustSet(t, fl, s.Position())
		if !s.Subset(pos) || len(pos.Last()) != len(s.Last()) {
			t.Fatalf("Position %q of %q does not cover it", s.Position(), s)
		}
		for i, g := range s.Last() {
			if !s.Contains(g) || pos.Last()[i] != g {
				t.Fatalf("Last GTID %s of %q: contained %v, position's %s", g, s, s.Contains(g), pos.Last()[i])
			}
		}
	})
}

// checkWellFormed checks the invariants of s and the round trips of its
// text forms.
func checkWellFormed(t *testing.T, s GTIDSet) {
	t.Helper()
	for i, st := range s.streams {
		if len(st.iv) == 0 || (i > 0 && !s.streams[i-1].less(st)) {
			t.Fatalf("%q: stream %d empty or out of order", s, i)
		}
		for k, r := range st.iv {
			if r.lo == 0 || r.hi < r.lo || (k > 0 && r.lo <= st.iv[k-1].hi+1) {
				t.Fatalf("%q: stream %d intervals not canonical: %v", s, i, st.iv)
			}
		}
		if s.flavor == MySQL && st.iv.max() > maxGNO {
			t.Fatalf("%q: gno above 2^63-1", s)
		}
	}
	if !s.Equal(s) {
		t.Fatalf("%q is not equal to itself", s)
	}
	text := s.String()
	back, err := ParseGTIDSet(s.Flavor(), text)
	if err != nil || !back.Equal(s) || back.String() != text {
		t.Fatalf("String %q does not round-trip: %q, %v", text, back, err)
	}
	b, _ := s.MarshalText()
	var u GTIDSet
	if err := u.UnmarshalText(b); err != nil || !u.Equal(s) {
		t.Fatalf("MarshalText %q does not round-trip: %q, %v", b, u, err)
	}
}

// setFromBytes builds a small set from fuzz bytes, four bytes per run of
// GTIDs: key, server, start, length. Starts of 240 and above are near the
// flavor's highest sequence number. Only the first 32 runs count, which
// keeps executions (and the fuzzer's minimization) fast.
func setFromBytes(t *testing.T, fl Flavor, b []byte) GTIDSet {
	b = b[:min(len(b), 4*32)]
	uuids := [2]UUID{mustUUID(t, uuidA), mustUUID(t, uuidB)}
	tags := [3]string{"", "a", "b"}
	top := uint64(maxGNO)
	if fl == MariaDB {
		top = 1<<64 - 1
	}
	s := NewGTIDSet(fl)
	for ; len(b) >= 4; b = b[4:] {
		lo := uint64(b[2]%240) + 1
		if b[2] >= 240 {
			lo = top - uint64(255-b[2])
		}
		for n := uint64(0); n <= uint64(b[3]%8) && lo+n >= lo && lo+n <= top; n++ {
			g := MySQLGTID(uuids[b[0]%2], tags[b[0]/2%3], lo+n)
			if fl == MariaDB {
				g = MariaDBGTID(uint32(b[0]%3), uint32(b[1]%3)+1, lo+n)
			}
			last, err := s.Add(g)
			if err != nil || !last.Contains(g) || !s.Subset(last) {
				t.Fatalf("Add(%s) to %q = %q, %v", g, s, last, err)
			}
			if g.Seq >= s.streamMax(g) && !slices.Contains(last.Last(), g) {
				t.Fatalf("Add(%s) to %q: Last %v does not name it", g, s, last.Last())
			}
			s = last
		}
	}
	return s
}

// streamMax is the highest sequence number of g's domain in s, or 0.
func (s GTIDSet) streamMax(g GTID) uint64 {
	if i := s.find(streamOf(g)); i >= 0 {
		return s.streams[i].iv.max()
	}
	return 0
}

// samples are GTIDs at and around every interval bound of the sets, under
// every key and (MariaDB) several server ids.
func samples(sets ...GTIDSet) []GTID {
	var out []GTID
	for _, s := range sets {
		for _, st := range s.streams {
			for _, r := range st.iv {
				for _, n := range []uint64{r.lo - 1, r.lo, r.lo + 1, r.hi - 1, r.hi, r.hi + 1} {
					for _, o := range sets {
						for _, st2 := range o.streams {
							for _, sv := range []uint32{st2.server, st2.server + 1} {
								g := st2.gtid(s.flavor, n)
								if s.flavor == MariaDB {
									g.Server = sv
								}
								out = append(out, g)
							}
						}
					}
				}
			}
		}
	}
	return out
}

// FuzzSetAlgebra checks the laws of Union, Subtract, Intersect, Subset,
// Equal and Contains on sets built from fuzz bytes. The seed corpus is in
// testdata/fuzz/FuzzSetAlgebra.
func FuzzSetAlgebra(f *testing.F) {
	f.Fuzz(func(t *testing.T, mysql bool, ab, bb []byte) {
		fl := flavorOf(mysql)
		a, b := setFromBytes(t, fl, ab), setFromBytes(t, fl, bb)
		u, d, in := a.Union(b), a.Subtract(b), a.Intersect(b)
		for _, s := range []GTIDSet{a, b, u, d, in} {
			checkWellFormed(t, s)
		}
		for _, g := range samples(a, b) {
			ia, ib := a.Contains(g), b.Contains(g)
			if u.Contains(g) != (ia || ib) || d.Contains(g) != (ia && !ib) || in.Contains(g) != (ia && ib) {
				t.Fatalf("%s in A=%q B=%q: ∪ %v − %v ∩ %v", g, a, b, u.Contains(g), d.Contains(g), in.Contains(g))
			}
		}
		switch {
		case !a.Subset(u) || !b.Subset(u) || !d.Subset(a) || !in.Subset(a) || !in.Subset(b):
			t.Fatalf("Subset laws fail for A=%q B=%q", a, b)
		case !d.Intersect(b).IsEmpty() || !b.Subtract(u).IsEmpty():
			t.Fatalf("(A−B)∩B or B−(A∪B) not empty for A=%q B=%q", a, b)
		case !d.Union(b).Equal(u):
			t.Fatalf("(A−B)∪B = %q, want A∪B = %q", d.Union(b), u)
		case !d.Union(in).Equal(a):
			t.Fatalf("(A−B)∪(A∩B) = %q, want A = %q", d.Union(in), a)
		case !a.Subtract(a).IsEmpty() || !a.Union(a).Equal(a) || !a.Intersect(a).Equal(a):
			t.Fatalf("idempotence fails for A=%q", a)
		case !u.Subset(b.Union(a)) || !b.Union(a).Subset(u) || !in.Subset(b.Intersect(a)) || !b.Intersect(a).Subset(in):
			t.Fatalf("∪ or ∩ not commutative as sets for A=%q B=%q", a, b)
		case a.Subset(b) != d.IsEmpty():
			t.Fatalf("Subset(A, B) = %v but A−B = %q", a.Subset(b), d)
		case u.Count()+in.Count() != a.Count()+b.Count() || d.Count()+in.Count() != a.Count():
			t.Fatalf("counts: |A|=%d |B|=%d |A∪B|=%d |A∩B|=%d |A−B|=%d", a.Count(), b.Count(), u.Count(), in.Count(), d.Count())
		case a.Equal(b) && a.String() != b.String():
			t.Fatalf("equal sets %q and %q print differently", a, b)
		}
	})
}
