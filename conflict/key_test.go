package conflict

import (
	"encoding/binary"
	"testing"

	"github.com/recoup-dev/recoup/repl"
)

var fuzzCharsets = []string{"utf8mb4", "latin1", "binary"}

// fuzzValues decodes up to 6 values of any kind from b: per value a kind
// byte, a byte count and that many bytes of number, a data length and
// that many bytes of data.
func fuzzValues(b []byte) repl.Row {
	var r repl.Row
	for len(b) > 0 && len(r) < 6 {
		k := repl.Kind(b[0] % 18)
		b = b[1:]
		var num [8]byte
		if len(b) > 0 {
			n := min(int(b[0]%9), len(b)-1)
			copy(num[8-n:], b[1:1+n])
			b = b[1+n:]
		}
		var data []byte
		if len(b) > 0 {
			n := min(int(b[0]%16), len(b)-1)
			data = b[1 : 1+n]
			b = b[1+n:]
		}
		r = append(r, buildValue(k, binary.BigEndian.Uint64(num[:]), data))
	}
	return r
}

func buildValue(k repl.Kind, n uint64, data []byte) repl.Value {
	switch k {
	case repl.KindNull:
		return repl.Null()
	case repl.KindInt:
		return repl.IntValue(int64(n))
	case repl.KindUint:
		return repl.UintValue(n)
	case repl.KindFloat32:
		return repl.Float32Value(float32frombits(uint32(n)))
	case repl.KindFloat64:
		return repl.Float64Value(float64frombits(n))
	case repl.KindString:
		return repl.StringValue(data, fuzzCharsets[n%3])
	case repl.KindBytes:
		return repl.BytesValue(data)
	case repl.KindBit:
		return repl.BitValue(n)
	case repl.KindYear:
		return repl.YearValue(int64(n % 3000))
	case repl.KindEnum:
		return repl.EnumValue(n%4, string(data))
	case repl.KindSet:
		return repl.SetValue(n%16, string(data))
	}
	return repl.TextValue(k, data)
}

// FuzzKeyOf checks that the key encoding is injective and agrees with
// Value.Equal: two rows get the same Key exactly when they are equal, both
// as whole rows and on a table's key columns.
func FuzzKeyOf(f *testing.F) {
	f.Add([]byte("\x06\x00\x02ab\x06\x00\x00"), []byte("\x06\x00\x01a\x06\x00\x01b"))
	f.Add([]byte("\x04\x08\x80\x00\x00\x00\x00\x00\x00\x00"), []byte("\x04\x00"))
	f.Add([]byte("\x06\x01\x01\x01a"), []byte("\x06\x00\x01a"))
	f.Add([]byte("\x00"), []byte("\x07\x00\x00"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		ra, rb := fuzzValues(a), fuzzValues(b)
		if (ValuesKey(ra...) == ValuesKey(rb...)) != (len(ra) == len(rb) && ra.Equal(rb)) {
			t.Fatalf("rows %v and %v: keys equal %v, rows equal %v", ra, rb,
				ValuesKey(ra...) == ValuesKey(rb...), ra.Equal(rb))
		}
		if len(ra) < 2 || len(ra) != len(rb) {
			return
		}
		tbl := &repl.Table{Columns: make([]repl.Column, len(ra)), PrimaryKey: []int{len(ra) - 1, 0}}
		keyEq := KeyOf(tbl, ra) == KeyOf(tbl, rb)
		valEq := project(tbl.PrimaryKey, ra).Equal(project(tbl.PrimaryKey, rb))
		if keyEq != valEq {
			t.Fatalf("key columns of %v and %v: keys equal %v, values equal %v", ra, rb, keyEq, valEq)
		}
	})
}

func TestKeyOfExamples(t *testing.T) {
	cases := []struct {
		name string
		a, b repl.Row
		same bool
	}{
		{"split bytes", repl.Row{sv("ab"), sv("")}, repl.Row{sv("a"), sv("b")}, false},
		{"zero signs", repl.Row{dv(0)}, repl.Row{dv(negZero)}, false},
		{"float near", repl.Row{dv(0.1)}, repl.Row{dv(0.1000000001)}, false},
		{"charset", repl.Row{sv("a")}, repl.Row{repl.StringValue([]byte("a"), "latin1")}, false},
		{"kind", repl.Row{iv(1)}, repl.Row{repl.UintValue(1)}, false},
		{"null vs empty", repl.Row{null()}, repl.Row{repl.BytesValue(nil)}, false},
		{"arity", repl.Row{null()}, repl.Row{null(), null()}, false},
		{"equal", repl.Row{iv(-1), sv("x")}, repl.Row{iv(-1), sv("x")}, true},
	}
	for _, tc := range cases {
		if got := ValuesKey(tc.a...) == ValuesKey(tc.b...); got != tc.same {
			t.Errorf("%s: same key %v, want %v", tc.name, got, tc.same)
		}
	}
	kv := kvTable()
	if KeyOf(kv, kvRow(1, "a", 1)) != KeyOf(kv, kvRow(1, "b", -1)) || KeyOf(kv, kvRow(1, "a", 1)) == KeyOf(kv, kvRow(2, "a", 1)) {
		t.Error("KeyOf of a keyed table must use the primary key only")
	}
	bag := bagTable()
	if KeyOf(bag, repl.Row{iv(1), sv("a")}) == KeyOf(bag, repl.Row{iv(1), sv("b")}) {
		t.Error("KeyOf of a keyless table must use every column")
	}
}
