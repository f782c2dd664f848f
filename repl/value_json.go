package repl

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// jsonValue is the JSON form of a Value, for `recoup log`, plans and
// reports. Numbers travel as strings so no JSON reader rounds them; bytes
// that are not valid UTF-8 text travel as hex. It round-trips exactly.
type jsonValue struct {
	Kind    string `json:"kind"`
	Text    string `json:"text,omitempty"`
	Hex     string `json:"hex,omitempty"`
	Charset string `json:"charset,omitempty"`
	Num     string `json:"num,omitempty"` // ENUM index, SET mask
}

// MarshalJSON encodes v; NULL is JSON null.
func (v Value) MarshalJSON() ([]byte, error) {
	if v.kind == KindNull {
		return []byte("null"), nil
	}
	j := jsonValue{Kind: v.kind.String(), Charset: v.charset}
	switch v.kind {
	case KindInt, KindYear:
		j.Text = strconv.FormatInt(int64(v.num), 10)
	case KindUint, KindBit:
		j.Text = strconv.FormatUint(v.num, 10)
	case KindFloat32:
		j.Text = strconv.FormatFloat(float64(v.Float32()), 'g', -1, 32)
	case KindFloat64:
		j.Text = strconv.FormatFloat(v.Float64(), 'g', -1, 64)
	case KindEnum, KindSet:
		j.Num = strconv.FormatUint(v.num, 10)
		j.Text = string(v.data)
	case KindBytes, KindGeometry:
		j.Hex = hex.EncodeToString(v.data)
	default:
		if utf8.Valid(v.data) && (v.kind != KindString || isUTF8Charset(v.charset)) {
			j.Text = string(v.data)
		} else {
			j.Hex = hex.EncodeToString(v.data)
		}
	}
	return json.Marshal(j)
}

func isUTF8Charset(cs string) bool {
	return cs == "utf8mb4" || cs == "utf8mb3" || cs == "utf8" || cs == "ascii"
}

// UnmarshalJSON decodes the MarshalJSON form.
func (v *Value) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*v = Value{}
		return nil
	}
	var j jsonValue
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("value: %w", err)
	}
	k, ok := kindByName(j.Kind)
	if !ok {
		return fmt.Errorf("value: unknown kind %q", j.Kind)
	}
	data := []byte(j.Text)
	if j.Hex != "" {
		var err error
		if data, err = hex.DecodeString(j.Hex); err != nil {
			return fmt.Errorf("value: hex: %w", err)
		}
	}
	out := Value{kind: k, data: data, charset: j.Charset}
	var err error
	switch k {
	case KindInt, KindYear:
		var n int64
		n, err = strconv.ParseInt(j.Text, 10, 64)
		out.num, out.data = uint64(n), nil
	case KindUint, KindBit:
		out.num, err = strconv.ParseUint(j.Text, 10, 64)
		out.data = nil
	case KindFloat32:
		var f float64
		f, err = strconv.ParseFloat(j.Text, 32)
		out.num, out.data = uint64(math.Float32bits(float32(f))), nil
	case KindFloat64:
		var f float64
		f, err = strconv.ParseFloat(j.Text, 64)
		out.num, out.data = math.Float64bits(f), nil
	case KindEnum, KindSet:
		out.num, err = strconv.ParseUint(j.Num, 10, 64)
	}
	if err != nil {
		return fmt.Errorf("value: %s %q: %w", j.Kind, j.Text, err)
	}
	if out.kind != KindString {
		out.charset = ""
	}
	if out.data == nil && (k != KindInt && k != KindYear && k != KindUint && k != KindBit && k != KindFloat32 && k != KindFloat64) {
		out.data = []byte{}
	}
	*v = out
	return nil
}

func kindByName(s string) (Kind, bool) {
	for i, n := range kindNames {
		if n == s {
			return Kind(i), true
		}
	}
	return 0, false
}
