package hook

import (
	"strconv"
	"strings"
	"testing"
)

func TestValidHost(t *testing.T) {
	good := []string{"127.0.0.1", "10.1.2.3", "::1", "fe80::1", "::ffff:10.0.0.1", "db1", "vm",
		"db-1.example.com", "a.b.c", "x1.123a", strings.Repeat("a", 63) + ".com"}
	bad := []string{"", " db1", "db1 ", "db 1", "db_1", "-db", "db-", "db..com", "db.com.", ".db",
		"999.1.1.1", "127.0.0.01", "1.2.3", "{failedHost}", "db;id", "db$(id)", "`id`", "db|x", "db&", "db>x",
		"db\n", "db\x00", "fe80::1%eth0", "[::1]", "::g", "db:1", strings.Repeat("a", 64) + ".com",
		strings.Repeat("a.", 127) + "ab", "dé"}
	for _, h := range good {
		if err := ValidHost(h); err != nil {
			t.Errorf("ValidHost(%q) = %v, want ok", h, err)
		}
	}
	for _, h := range bad {
		if err := ValidHost(h); err == nil {
			t.Errorf("ValidHost(%q) accepted it", h)
		}
	}
}

func TestParsePort(t *testing.T) {
	for s, want := range map[string]int{"1": 1, "3306": 3306, "65535": 65535} {
		if got, err := ParsePort(s); err != nil || got != want {
			t.Errorf("ParsePort(%q) = %d, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "0", "00", "65536", "99999999999999999999", "-1", "+1", " 1", "1 ", "01", "1e3", "0x10", "３３０６"} {
		if p, err := ParsePort(s); err == nil {
			t.Errorf("ParsePort(%q) = %d, want an error", s, p)
		}
	}
}

func TestParseAddrList(t *testing.T) {
	got, err := ParseAddrList("127.0.0.1:3306, db2:3307,::1:3308,[fe80::2]:3309,127.0.0.1:3306,")
	if err != nil {
		t.Fatal(err)
	}
	want := []Addr{{"127.0.0.1", 3306}, {"db2", 3307}, {"::1", 3308}, {"fe80::2", 3309}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d = %v, want %v", i, got[i], want[i])
		}
	}
	if s := (Addr{"::1", 3308}).String(); s != "[::1]:3308" {
		t.Errorf("Addr.String() = %q", s)
	}
	for _, s := range []string{"db", "db:", ":3306", "[db]:3306", "db:3306:", "db:3306,db 2:3306", "{replicaHosts}"} {
		if l, err := ParseAddrList(s); err == nil {
			t.Errorf("ParseAddrList(%q) = %v, want an error", s, l)
		}
	}
	if l, err := ParseAddrList(strings.Repeat("a:1,", maxListEntries+1)); err == nil {
		t.Errorf("a list of %d entries was accepted (%d kept)", maxListEntries+1, len(l))
	}
}

func TestValidAliasUIDCoordinates(t *testing.T) {
	checks := []struct {
		name string
		fn   func(string) error
		good []string
		bad  []string
	}{
		{"ValidAlias", ValidAlias,
			[]string{"shop", "127.0.0.1:33306", "café", "a.b", "x{y}", "$(id)"},
			[]string{"", ".", "..", "a/b", "shop eu", "a\u00a0b", `a\b`, " shop", "shop ", "a\tb", "a\x00", "a\u202eb", "\xff", strings.Repeat("é", 33)}},
		{"ValidRecoveryUID", ValidRecoveryUID,
			[]string{fixtureUID, "a", "x-y_z.1"},
			[]string{"", "a b", "a/b", "a;b", "é", strings.Repeat("1", MaxRecoveryUID+1)}},
		{"ValidBinlogCoordinates", ValidBinlogCoordinates,
			[]string{"mariadb-bin.000002:29557", "mysql-bin.000001:4", "b:0"},
			[]string{"", ":4", "bin", "bin:", "bin:04", "bin:x", "a:b:4", "bin;x:4", "bin:99999999999999999999", strings.Repeat("b", 256) + ":4"}},
	}
	for _, c := range checks {
		for _, s := range c.good {
			if err := c.fn(s); err != nil {
				t.Errorf("%s(%q) = %v, want ok", c.name, s, err)
			}
		}
		for _, s := range c.bad {
			if err := c.fn(s); err == nil {
				t.Errorf("%s(%q) accepted it", c.name, s)
			}
		}
	}
}

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{
		"shop": "shop", "shop-eu.1": "shop-eu.1", "127.0.0.1:33306": "127.0.0.1_3a33306",
		"a_b": "a__b", "a b": "a_20b", ".": "_2e", "..": "_2e.", ".x": "_2ex", "": "_", "é": "_c3_a9", "a/b": "a_2fb",
	} {
		got := SafeName(in)
		if got != want {
			t.Errorf("SafeName(%q) = %q, want %q", in, got, want)
		}
		if back, ok := unSafeName(got); !ok || back != in {
			t.Errorf("SafeName(%q) = %q does not decode back (%q)", in, got, back)
		}
	}
	if n := len(SafeName(strings.Repeat("\xff", MaxAliasLen))); n != 3*MaxAliasLen {
		t.Errorf("longest SafeName of an alias is %d bytes", n)
	}
}

// unSafeName inverts SafeName; ok is false for a string SafeName cannot
// produce. That it exists shows distinct aliases get distinct names.
func unSafeName(s string) (string, bool) {
	if s == "_" {
		return "", true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c != '_':
			if !safeByte(c) || (c == '.' && i == 0) {
				return "", false
			}
			b.WriteByte(c)
		case i+1 < len(s) && s[i+1] == '_':
			b.WriteByte('_')
			i++
		case i+2 < len(s):
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil || strings.ToLower(s[i+1:i+3]) != s[i+1:i+3] {
				return "", false
			}
			b.WriteByte(byte(v))
			i += 2
		default:
			return "", false
		}
	}
	return b.String(), true
}

func safeByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_'
}
