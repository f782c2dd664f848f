package repl

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestValueEqual(t *testing.T) {
	nan1 := math.Float64frombits(0x7ff8000000000001)
	nan2 := math.Float64frombits(0x7ff8000000000002)
	f32nan := math.Float32frombits(0x7fc00001)
	tenth, fifth := 0.1, 0.2 // variables: constant arithmetic would be exact
	for _, tc := range []struct {
		name string
		a, b Value
		want bool
	}{
		{"nulls", Null(), Null(), true},
		{"null vs int 0", Null(), IntValue(0), false},
		{"null vs empty string", Null(), StringValue(nil, "utf8mb4"), false},
		{"int", IntValue(-5), IntValue(-5), true},
		{"int vs uint same bits", IntValue(-1), UintValue(math.MaxUint64), false},
		{"int vs year", IntValue(1999), YearValue(1999), false},
		{"uint vs bit", UintValue(5), BitValue(5), false},
		{"float64 NaN same bits", Float64Value(nan1), Float64Value(nan1), true},
		{"float64 NaN other payload", Float64Value(nan1), Float64Value(nan2), false},
		{"float64 -0 vs +0", Float64Value(math.Copysign(0, -1)), Float64Value(0), false},
		{"float64 exact", Float64Value(0.1), Float64Value(0.1), true},
		{"float64 drift", Float64Value(tenth + fifth), Float64Value(0.3), false},
		{"float32 NaN", Float32Value(f32nan), Float32Value(f32nan), true},
		{"float32 -0 vs +0", Float32Value(float32(math.Copysign(0, -1))), Float32Value(0), false},
		{"float32 vs float64", Float32Value(1.5), Float64Value(1.5), false},
		{"string same charset", StringValue([]byte("é"), "utf8mb4"), StringValue([]byte("é"), "utf8mb4"), true},
		{"string charset differs", StringValue([]byte("abc"), "utf8mb4"), StringValue([]byte("abc"), "latin1"), false},
		{"string case differs", StringValue([]byte("abc"), "utf8mb4"), StringValue([]byte("ABC"), "utf8mb4"), false},
		{"string trailing space", StringValue([]byte("a"), "utf8mb4"), StringValue([]byte("a "), "utf8mb4"), false},
		{"string vs bytes", StringValue([]byte("a"), "binary"), BytesValue([]byte("a")), false},
		{"bytes nil vs empty", BytesValue(nil), BytesValue([]byte{}), true},
		{"bytes", BytesValue([]byte{0, 1}), BytesValue([]byte{0, 1}), true},
		{"decimal text exact", TextValue(KindDecimal, []byte("1.50")), TextValue(KindDecimal, []byte("1.5")), false},
		{"decimal vs date", TextValue(KindDecimal, []byte("1")), TextValue(KindDate, []byte("1")), false},
		{"zero date", TextValue(KindDate, []byte("0000-00-00")), TextValue(KindDate, []byte("0000-00-00")), true},
		{"enum", EnumValue(2, "b"), EnumValue(2, "b"), true},
		{"enum index differs", EnumValue(2, "b"), EnumValue(3, "b"), false},
		{"set member text differs", SetValue(3, "a,b"), SetValue(3, "a,c"), false},
		{"enum vs set", EnumValue(1, "a"), SetValue(1, "a"), false},
	} {
		if got := tc.a.Equal(tc.b); got != tc.want {
			t.Errorf("%s: %v.Equal(%v) = %v, want %v", tc.name, tc.a, tc.b, got, tc.want)
		}
		if got := tc.b.Equal(tc.a); got != tc.want {
			t.Errorf("%s: not symmetric", tc.name)
		}
	}
}

func TestValueSQLArg(t *testing.T) {
	for _, tc := range []struct {
		v    Value
		want any
	}{
		{Null(), nil},
		{IntValue(math.MinInt64), int64(math.MinInt64)},
		{YearValue(2024), int64(2024)},
		{UintValue(math.MaxUint64), uint64(math.MaxUint64)},
		{BitValue(0b101), uint64(5)},
		{Float32Value(1.25), float32(1.25)},
		{Float64Value(-2.5), float64(-2.5)},
		{StringValue([]byte("héllo"), "utf8mb4"), []byte("héllo")},
		{StringValue(nil, "utf8mb4"), []byte{}},
		{BytesValue([]byte{0xff, 0}), []byte{0xff, 0}},
		{TextValue(KindDecimal, []byte("-12.3400")), []byte("-12.3400")},
		{TextValue(KindTimestamp, []byte("2024-02-29 23:59:59.000001")), []byte("2024-02-29 23:59:59.000001")},
		{EnumValue(2, "medium"), []byte("medium")},
		{EnumValue(0, ""), []byte{}},
		{SetValue(5, "a,c"), []byte("a,c")},
		{SetValue(0, ""), []byte{}},
	} {
		got := tc.v.SQLArg()
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s %v: SQLArg = %#v, want %#v", tc.v.Kind(), tc.v, got, tc.want)
		}
		// A nil []byte is bound as NULL: only NULL may produce it.
		if b, ok := got.([]byte); ok && b == nil {
			t.Errorf("%s %v: SQLArg is a nil []byte", tc.v.Kind(), tc.v)
		}
	}
	if f := Float64Value(math.Copysign(0, -1)).SQLArg().(float64); !math.Signbit(f) {
		t.Error("SQLArg lost the sign of -0")
	}
}

func TestValueAccessors(t *testing.T) {
	src := []byte("abc")
	v := StringValue(src, "latin1")
	src[0] = 'X'
	if v.Text() != "abc" || v.Charset() != "latin1" || v.Kind() != KindString || v.IsNull() {
		t.Errorf("StringValue did not copy its input or lost fields: %q %q", v.Text(), v.Charset())
	}
	if IntValue(-7).Int() != -7 || UintValue(7).Uint() != 7 || YearValue(0).Int() != 0 {
		t.Error("integer accessors")
	}
	if Float32Value(1.5).Float32() != 1.5 || Float64Value(math.Inf(-1)).Float64() != math.Inf(-1) {
		t.Error("float accessors")
	}
	if e := EnumValue(3, "large"); e.Uint() != 3 || e.Text() != "large" {
		t.Error("enum accessors")
	}
	if !Null().IsNull() || Null().Kind() != KindNull {
		t.Error("Null")
	}
	for _, tc := range []struct {
		v    Value
		want string
	}{
		{Null(), "NULL"}, {IntValue(-3), "-3"}, {UintValue(3), "3"}, {BitValue(5), "b'101'"},
		{Float32Value(0.1), "0.1"}, {Float64Value(0.1), "0.1"}, {BytesValue([]byte{1, 0xab}), "0x01AB"},
		{StringValue([]byte("x"), "utf8mb4"), "x"}, {TextValue(KindJSON, []byte(`{"a":1}`)), `{"a":1}`},
	} {
		if tc.v.String() != tc.want {
			t.Errorf("String() = %q, want %q", tc.v.String(), tc.want)
		}
	}
}

func TestTextValueKinds(t *testing.T) {
	for k := KindNull; k < kindEnd; k++ {
		text := k == KindDecimal || k == KindDate || k == KindTime || k == KindDateTime ||
			k == KindTimestamp || k == KindJSON || k == KindGeometry
		didPanic := panics(func() { TextValue(k, []byte("x")) })
		if didPanic == text {
			t.Errorf("TextValue(%s): panicked %v", k, didPanic)
		}
		if !text {
			continue
		}
		if v := TextValue(k, []byte("x")); v.Kind() != k || v.Text() != "x" {
			t.Errorf("TextValue(%s) = %v", k, v)
		}
	}
}

func TestKind(t *testing.T) {
	// The numbering is part of the capture record format.
	if KindNull != 0 || KindString != 6 || KindGeometry != 17 || kindEnd != 18 || len(kindNames) != int(kindEnd) {
		t.Fatal("Kind numbering changed")
	}
	if KindGeometry.String() != "geometry" || Kind(200).String() != "kind(200)" || !KindJSON.Valid() || kindEnd.Valid() {
		t.Error("Kind String/Valid")
	}
	seen := map[string]bool{}
	for _, n := range kindNames {
		if seen[n] || n != strings.ToLower(n) {
			t.Errorf("kind name %q duplicated or not lower case", n)
		}
		seen[n] = true
	}
}
