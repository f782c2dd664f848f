package applier

import (
	"errors"
	"testing"
	"time"

	"github.com/recoup-dev/recoup/repl"
)

// TestValueOfShapes covers driver value shapes the server test does not
// produce: parseTime=true, text-protocol numbers, and what must be refused.
// TestFetchExact covers the binary protocol against the binlog.
func TestValueOfShapes(t *testing.T) {
	ts := time.Date(2024, 2, 29, 1, 2, 3, 450000000, time.UTC)
	tests := []struct {
		name string
		col  repl.Column
		raw  any
		want repl.Value
	}{
		{"datetime(2) from time.Time", repl.Column{Type: "datetime", Decimals: 2}, ts, repl.TextValue(repl.KindDateTime, []byte("2024-02-29 01:02:03.45"))},
		{"timestamp from time.Time", repl.Column{Type: "timestamp"}, ts, repl.TextValue(repl.KindTimestamp, []byte("2024-02-29 01:02:03"))},
		{"date from time.Time", repl.Column{Type: "date"}, ts, repl.TextValue(repl.KindDate, []byte("2024-02-29"))},
		{"unsigned bigint", repl.Column{Type: "bigint", Unsigned: true}, uint64(1 << 63), repl.UintValue(1 << 63)},
		{"unsigned int as int64", repl.Column{Type: "int", Unsigned: true}, int64(4294967295), repl.UintValue(4294967295)},
		{"text-protocol int", repl.Column{Type: "int"}, []byte("-5"), repl.IntValue(-5)},
		{"bit", repl.Column{Type: "bit", Length: 12}, []byte{0x0a, 0xaa}, repl.BitValue(0xaaa)},
		{"enum", repl.Column{Type: "enum", Members: []string{"a", "bb"}}, []byte("bb"), repl.EnumValue(2, "bb")},
		{"enum invalid value", repl.Column{Type: "enum", Members: []string{"a"}}, []byte(""), repl.EnumValue(0, "")},
		{"set", repl.Column{Type: "set", Members: []string{"x", "y", "z"}}, []byte("x,z"), repl.SetValue(5, "x,z")},
		{"empty set", repl.Column{Type: "set", Members: []string{"x"}}, []byte(""), repl.SetValue(0, "")},
		{"binary charset char", repl.Column{Type: "char", Charset: "binary"}, []byte{0, 1}, repl.BytesValue([]byte{0, 1})},
		{"latin1 varchar", repl.Column{Type: "varchar", Charset: "latin1"}, []byte{0xe9}, repl.StringValue([]byte{0xe9}, "latin1")},
		{"mariadb json", repl.Column{Type: "json", Charset: "utf8mb4"}, []byte("{}"), repl.StringValue([]byte("{}"), "utf8mb4")},
		{"null", repl.Column{Type: "int"}, nil, repl.Null()},
	}
	for _, tt := range tests {
		got, err := valueOf(&tt.col, repl.MariaDB, tt.raw)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("%s: valueOf = %v (%s), %v; want %v (%s)", tt.name, got, got.Kind(), err, tt.want, tt.want.Kind())
		}
	}
	refused := []struct {
		name string
		col  repl.Column
		raw  any
	}{
		{"float as text", repl.Column{Type: "float"}, []byte("0.1")},
		{"float as float64", repl.Column{Type: "float"}, float64(0.1)},
		{"enum member not in schema", repl.Column{Type: "enum", Members: []string{"a"}}, []byte("b")},
		{"set member not in schema", repl.Column{Type: "set", Members: []string{"a"}}, []byte("a,b")},
		{"bit wider than 64", repl.Column{Type: "bit"}, make([]byte, 9)},
		{"unknown type", repl.Column{Type: "inet6"}, []byte{1}},
	}
	for _, tt := range refused {
		if got, err := valueOf(&tt.col, repl.MariaDB, tt.raw); err == nil {
			t.Errorf("%s: valueOf = %v, want an error", tt.name, got)
		}
	}
	if _, err := valueOf(&repl.Column{Type: "double"}, repl.MariaDB, []byte("0.1")); !errors.Is(err, errTextProtocol) {
		t.Errorf("double as text: err = %v, want errTextProtocol", err)
	}
}
