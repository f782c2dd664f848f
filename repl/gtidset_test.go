package repl

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func mustSet(t testing.TB, f Flavor, text string) GTIDSet {
	t.Helper()
	s, err := ParseGTIDSet(f, text)
	if err != nil {
		t.Fatalf("ParseGTIDSet(%v, %q): %v", f, text, err)
	}
	return s
}

type setCase struct {
	in       string
	str      string // String(); ignored when err
	pos      string // Position()
	count    uint64
	contains []string
	lacks    []string
	err      bool
}

func runSetCases(t *testing.T, f Flavor, cases []setCase) {
	t.Helper()
	for _, tc := range cases {
		s, err := ParseGTIDSet(f, tc.in)
		if tc.err {
			if err == nil || !errors.Is(err, ErrBadGTID) {
				t.Errorf("ParseGTIDSet(%v, %q) = %s, %v; want an ErrBadGTID error", f, tc.in, s, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseGTIDSet(%v, %q): %v", f, tc.in, err)
			continue
		}
		if s.String() != tc.str || s.Position() != tc.pos || s.Count() != tc.count {
			t.Errorf("ParseGTIDSet(%v, %q): String %q Position %q Count %d; want %q %q %d",
				f, tc.in, s.String(), s.Position(), s.Count(), tc.str, tc.pos, tc.count)
		}
		if s.Flavor() != f || s.IsEmpty() != (tc.count == 0) {
			t.Errorf("ParseGTIDSet(%v, %q): flavor %v, IsEmpty %v", f, tc.in, s.Flavor(), s.IsEmpty())
		}
		for _, g := range tc.contains {
			if !s.Contains(mustGTID(t, f, g)) {
				t.Errorf("%q should contain %s", tc.in, g)
			}
		}
		for _, g := range tc.lacks {
			if s.Contains(mustGTID(t, f, g)) {
				t.Errorf("%q should not contain %s", tc.in, g)
			}
		}
	}
}

func mustGTID(t testing.TB, f Flavor, s string) GTID {
	t.Helper()
	g, err := ParseGTID(f, s)
	if err != nil {
		t.Fatalf("ParseGTID(%v, %q): %v", f, s, err)
	}
	return g
}

func TestParseGTIDSetMariaDB(t *testing.T) {
	runSetCases(t, MariaDB, []setCase{
		{in: "", str: "", pos: "", count: 0, lacks: []string{"0-1-1"}},
		{in: " \n", str: "", pos: "", count: 0},
		{in: "0-1-1", str: "0-1-1", pos: "0-1-1", count: 1},
		// gtid_slave_pos after a failover: domain 0 moved to server 3.
		{in: "0-3-120,1-1-5", str: "0-3-120,1-1-5", pos: "0-3-120,1-1-5", count: 125,
			contains: []string{"0-3-120", "0-1-1", "0-1-119", "1-1-5", "1-7-3"},
			lacks:    []string{"0-3-121", "1-1-6", "2-1-1"}},
		{in: "1-1-5,\n 0-3-120", str: "0-3-120,1-1-5", pos: "0-3-120,1-1-5", count: 125},
		{in: "0-1-[1-5,7,9-10]", str: "0-1-[1-5,7,9-10]", pos: "0-1-10", count: 8,
			contains: []string{"0-2-7", "0-1-9"}, lacks: []string{"0-1-6", "0-1-8", "0-1-11"}},
		{in: "0-1-[ 9-10 , 1-5,3 ]", str: "0-1-[1-5,9-10]", pos: "0-1-10", count: 7},
		{in: "0-1-[1-5]", str: "0-1-5", pos: "0-1-5", count: 5},
		{in: "0-1-[4-5,1-3]", str: "0-1-5", pos: "0-1-5", count: 5},
		{in: "0-1-[9-10],5-2-3", str: "0-1-[9-10],5-2-3", pos: "0-1-10,5-2-3", count: 5},
		{in: "0-1-[18446744073709551615]", str: "0-1-[18446744073709551615]", pos: "0-1-18446744073709551615", count: 1},
		{in: "4294967295-4294967295-18446744073709551615", str: "4294967295-4294967295-18446744073709551615",
			pos: "4294967295-4294967295-18446744073709551615", count: math.MaxUint64},
		{in: "0-1-5,0-2-7", err: true}, // one GTID per domain
		{in: "0-1-[1-3],0-1-[5]", err: true},
		{in: "0-1-0", err: true},
		{in: "0-1-5,", err: true},
		{in: ",0-1-5", err: true},
		{in: "0-1-[]", err: true},
		{in: "0-1-[5", err: true},
		{in: "0-1-5]", err: true},
		{in: "0-1-[3-1]", err: true},
		{in: "0-1-[0-3]", err: true},
		{in: "0-1-[1-18446744073709551616]", err: true},
		{in: "0-1-[[1]]", err: true},
		{in: "0-1[1]", err: true},
		{in: "0-1-2-[1]", err: true},
		{in: "0-1-x[1]", err: true},
		{in: "a-b-c", err: true},
		{in: uuidA + ":1-5", err: true},
	})
}

func TestParseGTIDSetMySQL(t *testing.T) {
	runSetCases(t, MySQL, []setCase{
		{in: "", str: "", pos: "", count: 0},
		// SELECT @@gtid_executed on a server that had three masters.
		{in: strings.ToUpper(uuidC) + ":1-3,\n" + uuidA + ":1-5,\n" + uuidB + ":1-100:102-200",
			str:      uuidA + ":1-5," + uuidB + ":1-100:102-200," + uuidC + ":1-3",
			pos:      uuidA + ":1-5," + uuidB + ":1-100:102-200," + uuidC + ":1-3",
			count:    5 + 199 + 3,
			contains: []string{uuidA + ":5", uuidB + ":102", strings.ToUpper(uuidC) + ":2"},
			lacks:    []string{uuidA + ":6", uuidB + ":101", uuidA + ":t:1"}},
		// 8.4 tagged GTIDs: untagged first, then tags in order, lower case.
		{in: uuidA + ":1-5:Tag_B:1-3:tag_a:7", str: uuidA + ":1-5:tag_a:7:tag_b:1-3",
			pos: uuidA + ":1-5:tag_a:7:tag_b:1-3", count: 9,
			contains: []string{uuidA + ":tag_b:2", uuidA + ":TAG_A:7", uuidA + ":4"},
			lacks:    []string{uuidA + ":7", uuidA + ":tag_a:1", uuidA + ":tag_c:1"}},
		{in: uuidA + ":tag:1-3", str: uuidA + ":tag:1-3", pos: uuidA + ":tag:1-3", count: 3},
		{in: uuidA + ":x:1:x:3,", str: uuidA + ":x:1:3", pos: uuidA + ":x:1:3", count: 2},
		{in: uuidA + ":1-3, ," + uuidA + ":4-6,", str: uuidA + ":1-6", pos: uuidA + ":1-6", count: 6},
		{in: uuidA + ":7:1-3:2-5", str: uuidA + ":1-5:7", pos: uuidA + ":1-5:7", count: 6},
		{in: " " + uuidA + " : 1 - 5 : t : 2 ", str: uuidA + ":1-5:t:2", pos: uuidA + ":1-5:t:2", count: 6},
		{in: "3E11FA4771CA11E19E33C80AA9429562:1", str: uuidA + ":1", pos: uuidA + ":1", count: 1},
		{in: uuidA + ":9223372036854775807", str: uuidA + ":9223372036854775807", pos: uuidA + ":9223372036854775807", count: 1},
		{in: uuidA + ":1-9223372036854775807", str: uuidA + ":1-9223372036854775807", pos: uuidA + ":1-9223372036854775807", count: 1<<63 - 1},
		{in: uuidA + ":tag", err: true}, // a tag must be followed by an interval
		{in: uuidA + ":1-5:tag", err: true},
		{in: uuidA + ":tag:", err: true},
		{in: uuidA + ":t1:t2:1", err: true},
		{in: uuidA + ":1-5:9tag:1", err: true},
		{in: uuidA + ":1-5:ta-g:1", err: true},
		{in: uuidA + ":" + strings.Repeat("t", 33) + ":1", err: true},
		{in: uuidA, err: true},
		{in: uuidA + ":", err: true},
		{in: uuidA + ":1::2", err: true},
		{in: uuidA + ":0", err: true},
		{in: uuidA + ":0-3", err: true},
		{in: uuidA + ":5-3", err: true},
		{in: uuidA + ":1-", err: true},
		{in: uuidA + ":-1", err: true},
		{in: uuidA + ":9223372036854775808", err: true},
		{in: uuidA + ":1-9223372036854775808", err: true},
		{in: "3e11fa47-71ca-11e1-9e33:1", err: true},
		{in: "0-1-5", err: true},
	})
}

func TestParseGTIDSetUnknownFlavor(t *testing.T) {
	if _, err := ParseGTIDSet(FlavorUnknown, "0-1-5"); !errors.Is(err, ErrBadGTID) {
		t.Fatalf("unknown flavor: err %v, want ErrBadGTID", err)
	}
}

// roundTripInputs are valid sets of each flavor, some of them not canonical.
var roundTripInputs = map[Flavor][]string{
	MariaDB: {"", "0-1-5", "0-3-120,1-1-5", "1-1-5,0-3-120", "0-1-[9-10]", "0-1-[1-5,7],2-9-[4]",
		"0-1-[18446744073709551614-18446744073709551615]"},
	MySQL: {"", uuidA + ":1", strings.ToUpper(uuidA) + ":1-5,\n" + uuidB + ":3:1", uuidA + ":T:1-3:1-2",
		uuidA + ":a:1:b:2," + uuidB + ":_x9:5-9,", uuidA + ":1-9223372036854775807",
		uuidA + ":" + strings.Repeat("t", 32) + ":1"},
}

func TestGTIDSetRoundTrip(t *testing.T) {
	for f, inputs := range roundTripInputs {
		for _, in := range inputs {
			s := mustSet(t, f, in)
			text := s.String()
			back := mustSet(t, f, text)
			if !back.Equal(s) || back.String() != text {
				t.Errorf("%v %q: String %q parses to %q", f, in, text, back.String())
			}
			b, err := s.MarshalText()
			if err != nil {
				t.Fatalf("MarshalText(%q): %v", text, err)
			}
			var u GTIDSet
			if err := u.UnmarshalText(b); err != nil || !u.Equal(s) || u.Flavor() != f {
				t.Errorf("UnmarshalText(%q) = %q (%v), %v", b, u, u.Flavor(), err)
			}
			type rec struct{ After GTIDSet }
			j, err := json.Marshal(rec{After: s})
			if err != nil {
				t.Fatalf("json.Marshal: %v", err)
			}
			var r rec
			if err := json.Unmarshal(j, &r); err != nil || !r.After.Equal(s) || r.After.String() != text {
				t.Errorf("JSON %s gives %q, %v", j, r.After, err)
			}
		}
	}
}

func TestGTIDSetMarshalText(t *testing.T) {
	b, _ := mustSet(t, MariaDB, "0-1-5").MarshalText()
	if string(b) != "mariadb/0-1-5" {
		t.Errorf("MarshalText = %q", b)
	}
	var zero GTIDSet
	if b, err := zero.MarshalText(); err != nil || len(b) != 0 {
		t.Errorf("MarshalText of the zero set = %q, %v; want empty", b, err)
	}
	u := mustSet(t, MySQL, uuidA+":1")
	if err := u.UnmarshalText(nil); err != nil || !u.IsEmpty() || u.Flavor() != FlavorUnknown {
		t.Errorf("UnmarshalText(empty) = %q %v, %v", u, u.Flavor(), err)
	}
	if err := u.UnmarshalText([]byte("mysql/")); err != nil || !u.IsEmpty() || u.Flavor() != MySQL {
		t.Errorf("UnmarshalText(mysql/) = %q %v, %v", u, u.Flavor(), err)
	}
	for _, bad := range []string{"0-1-5", "unknown/", "postgres/1", "mariadb/0-1-0", "mysql/0-1-5"} {
		if err := u.UnmarshalText([]byte(bad)); !errors.Is(err, ErrBadGTID) {
			t.Errorf("UnmarshalText(%q) = %v, want ErrBadGTID", bad, err)
		}
	}
}
