package repl

import (
	"errors"
	"strings"
	"testing"
)

const (
	uuidA = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
	uuidB = "8a94f357-aab4-11df-86ab-c80aa9429562"
	uuidC = "e6b2fb31-0f36-11ef-9b7c-0242ac120002"
)

func mustUUID(t testing.TB, s string) UUID {
	t.Helper()
	u, err := ParseUUID(s)
	if err != nil {
		t.Fatalf("ParseUUID(%q): %v", s, err)
	}
	return u
}

func TestParseFlavor(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Flavor
		ok   bool
	}{
		{"mariadb", MariaDB, true},
		{" MariaDB\n", MariaDB, true},
		{"MYSQL", MySQL, true},
		{"percona", FlavorUnknown, false},
		{"", FlavorUnknown, false},
	} {
		got, err := ParseFlavor(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("ParseFlavor(%q) = %v, %v; want %v, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	for f, want := range map[Flavor]string{MariaDB: "mariadb", MySQL: "mysql", FlavorUnknown: "unknown", Flavor(9): "unknown"} {
		if f.String() != want {
			t.Errorf("Flavor(%d).String() = %q, want %q", f, f.String(), want)
		}
	}
}

func TestParseUUID(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want "" means error
	}{
		{uuidA, uuidA},
		{strings.ToUpper(uuidA), uuidA},
		{"3E11FA4771CA11E19E33C80AA9429562", uuidA},
		{"3e11fa47-71ca-11e1-9e33-c80aa942956", ""},   // 35 chars
		{"3e11fa47-71ca-11e1-9e33-c80aa94295621", ""}, // 37 chars
		{"3e11fa47_71ca-11e1-9e33-c80aa9429562", ""},  // wrong separator
		{"3e11fa47-71ca-11e1-9e33-c80aa942956g", ""},  // not hex
		{"3e11fa4-771ca-11e1-9e33-c80aa9429562", ""},  // dash misplaced
		{"", ""},
	} {
		u, err := ParseUUID(tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("ParseUUID(%q) = %s, want error", tc.in, u)
		case tc.want == "" && !errors.Is(err, ErrBadGTID):
			t.Errorf("ParseUUID(%q) error %v does not wrap ErrBadGTID", tc.in, err)
		case tc.want != "" && (err != nil || u.String() != tc.want):
			t.Errorf("ParseUUID(%q) = %s, %v; want %s", tc.in, u, err, tc.want)
		}
	}
}

func TestParseGTID(t *testing.T) {
	a := mustUUID(t, uuidA)
	for _, tc := range []struct {
		f    Flavor
		in   string
		want GTID
		text string // String(); "" means a parse error is expected
	}{
		{MariaDB, "0-1-42", MariaDBGTID(0, 1, 42), "0-1-42"},
		{MariaDB, " 1-3-120\n", MariaDBGTID(1, 3, 120), "1-3-120"},
		{MariaDB, "4294967295-4294967295-18446744073709551615", MariaDBGTID(1<<32-1, 1<<32-1, 1<<64-1), "4294967295-4294967295-18446744073709551615"},
		{MariaDB, "0-1-007", MariaDBGTID(0, 1, 7), "0-1-7"},
		{MariaDB, "4294967296-1-1", GTID{}, ""},           // domain overflows 32 bits
		{MariaDB, "0-4294967296-1", GTID{}, ""},           // server overflows 32 bits
		{MariaDB, "0-1-18446744073709551616", GTID{}, ""}, // seq overflows 64 bits
		{MariaDB, "0-1-0", GTID{}, ""},
		{MariaDB, "0-1", GTID{}, ""},
		{MariaDB, "0-1-2-3", GTID{}, ""},
		{MariaDB, "0-1--2", GTID{}, ""},
		{MariaDB, "0-+1-2", GTID{}, ""},
		{MariaDB, "0-1-2 ", MariaDBGTID(0, 1, 2), "0-1-2"},
		{MySQL, uuidA + ":1", MySQLGTID(a, "", 1), uuidA + ":1"},
		{MySQL, strings.ToUpper(uuidA) + ":23", MySQLGTID(a, "", 23), uuidA + ":23"},
		{MySQL, uuidA + ":Batch_01:5", MySQLGTID(a, "batch_01", 5), uuidA + ":batch_01:5"},
		{MySQL, uuidA + ":_:5", MySQLGTID(a, "_", 5), uuidA + ":_:5"},
		{MySQL, uuidA + ":9223372036854775807", MySQLGTID(a, "", 1<<63-1), uuidA + ":9223372036854775807"},
		{MySQL, uuidA + ":9223372036854775808", GTID{}, ""}, // gno is signed 64-bit
		{MySQL, uuidA + ":0", GTID{}, ""},
		{MySQL, uuidA + ":1-5", GTID{}, ""}, // an interval, not one GTID
		{MySQL, uuidA + ":1tag:5", GTID{}, ""},
		{MySQL, uuidA + "::5", GTID{}, ""},
		{MySQL, uuidA + ":" + strings.Repeat("t", 33) + ":5", GTID{}, ""},
		{MySQL, uuidA + ":a:b:5", GTID{}, ""},
		{MySQL, uuidA, GTID{}, ""},
		{MySQL, "0-1-5", GTID{}, ""},
		{FlavorUnknown, "0-1-5", GTID{}, ""},
	} {
		g, err := ParseGTID(tc.f, tc.in)
		if tc.text == "" {
			if err == nil || !errors.Is(err, ErrBadGTID) {
				t.Errorf("ParseGTID(%v, %q) = %v, %v; want an ErrBadGTID error", tc.f, tc.in, g, err)
			}
			continue
		}
		if err != nil || g != tc.want || g.String() != tc.text {
			t.Errorf("ParseGTID(%v, %q) = %#v (%s), %v; want %#v (%s)", tc.f, tc.in, g, g, err, tc.want, tc.text)
			continue
		}
		if back, err := ParseGTID(tc.f, g.String()); err != nil || back != g {
			t.Errorf("ParseGTID(String(%s)) = %v, %v", g, back, err)
		}
	}
}

func TestGTIDCheck(t *testing.T) {
	a := mustUUID(t, uuidA)
	for _, tc := range []struct {
		name string
		g    GTID
		ok   bool
	}{
		{"mariadb", MariaDBGTID(0, 1, 1), true},
		{"mariadb max seq", MariaDBGTID(7, 2, 1<<64-1), true},
		{"mariadb seq 0", MariaDBGTID(0, 1, 0), false},
		{"mariadb with uuid", GTID{Flavor: MariaDB, UUID: a, Seq: 1}, false},
		{"mariadb with tag", GTID{Flavor: MariaDB, Tag: "x", Seq: 1}, false},
		{"mysql", MySQLGTID(a, "", 1), true},
		{"mysql tag lowered", MySQLGTID(a, "ABC", 1), true},
		{"mysql max gno", MySQLGTID(a, "", 1<<63-1), true},
		{"mysql gno over 2^63-1", MySQLGTID(a, "", 1<<63), false},
		{"mysql gno 0", MySQLGTID(a, "", 0), false},
		{"mysql bad tag", MySQLGTID(a, "9x", 1), false},
		{"mysql upper tag literal", GTID{Flavor: MySQL, UUID: a, Tag: "ABC", Seq: 1}, false},
		{"mysql with domain", GTID{Flavor: MySQL, UUID: a, Domain: 1, Seq: 1}, false},
		{"mysql with server", GTID{Flavor: MySQL, UUID: a, Server: 1, Seq: 1}, false},
		{"no flavor", GTID{Seq: 1}, false},
	} {
		if err := tc.g.check(); (err == nil) != tc.ok {
			t.Errorf("%s: check(%+v) = %v, want ok=%v", tc.name, tc.g, err, tc.ok)
		}
	}
	if !(GTID{}).IsZero() || MariaDBGTID(0, 0, 1).IsZero() {
		t.Error("IsZero is wrong")
	}
	if s := (GTID{Seq: 3}).String(); s != "" {
		t.Errorf("String of a flavorless GTID = %q, want empty", s)
	}
}
