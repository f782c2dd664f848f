package repl

import (
	"encoding/json"
	"math"
	"testing"
)

func TestValueJSONRoundTrip(t *testing.T) {
	values := []Value{
		Null(),
		IntValue(math.MinInt64), IntValue(-1), UintValue(math.MaxUint64),
		Float32Value(0.1), Float32Value(float32(math.Copysign(0, -1))), Float64Value(math.SmallestNonzeroFloat64),
		Float64Value(-1.7976931348623157e308), BitValue(0xFFFFFFFFFFFFFFFF), YearValue(2155),
		TextValue(KindDecimal, []byte("-99999999999999999999999999999999999.000000000000000000000000000001")),
		TextValue(KindTime, []byte("-838:59:59.000000")), TextValue(KindDate, []byte("0000-00-00")),
		StringValue([]byte("héllo 😀"), "utf8mb4"), StringValue([]byte{0xE9}, "latin1"), StringValue([]byte{0xff, 0}, "binary"),
		StringValue([]byte{}, "utf8mb4"), BytesValue([]byte{0, 1, 2, 0xFF}), BytesValue(nil),
		EnumValue(2, "b"), EnumValue(0, ""), SetValue(5, "a,c"), TextValue(KindJSON, []byte(`{"a": [1, 2]}`)),
		TextValue(KindGeometry, []byte{0, 0, 0, 0, 1, 1, 0, 0, 0}),
	}
	for _, v := range values {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("marshal %s: %v", v, err)
		}
		var got Value
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("unmarshal %s: %v", b, err)
		}
		if !got.Equal(v) {
			t.Errorf("round trip of %s via %s gave %s (kind %s)", v, b, got, got.Kind())
		}
	}
}

func TestValueJSONText(t *testing.T) {
	cases := []struct {
		v    Value
		want string
	}{
		{Null(), `null`},
		{UintValue(math.MaxUint64), `{"kind":"uint","text":"18446744073709551615"}`},
		{StringValue([]byte("é"), "utf8mb4"), `{"kind":"string","text":"é","charset":"utf8mb4"}`},
		{StringValue([]byte{0xE9}, "latin1"), `{"kind":"string","hex":"e9","charset":"latin1"}`},
		{EnumValue(2, "b"), `{"kind":"enum","text":"b","num":"2"}`},
	}
	for _, c := range cases {
		b, err := json.Marshal(c.v)
		if err != nil || string(b) != c.want {
			t.Errorf("json of %s = %s, %v; want %s", c.v, b, err, c.want)
		}
	}
}

func TestValueJSONRejects(t *testing.T) {
	for _, in := range []string{`{"kind":"nope"}`, `{"kind":"int","text":"x"}`, `{"kind":"bytes","hex":"zz"}`, `[1]`} {
		var v Value
		if err := json.Unmarshal([]byte(in), &v); err == nil {
			t.Errorf("%s: no error", in)
		}
	}
}
