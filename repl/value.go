package repl

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
)

// Kind is the type of a Value. Its numbering is part of the capture record
// format: append only.
type Kind uint8

const (
	KindNull      Kind = iota
	KindInt            // signed integers of every width: Int()
	KindUint           // unsigned integers of every width: Uint()
	KindFloat32        // FLOAT, bit-exact: Float32()
	KindFloat64        // DOUBLE, bit-exact: Float64()
	KindDecimal        // DECIMAL, exact text such as "-12.3400": Text()
	KindString         // CHAR/VARCHAR/TEXT: raw bytes plus Charset
	KindBytes          // BINARY/VARBINARY/BLOB: raw bytes
	KindBit            // BIT(1..64): Uint()
	KindYear           // YEAR: Int() (0 for the zero year)
	KindDate           // DATE as text "YYYY-MM-DD" (zero dates kept): Text()
	KindTime           // TIME as text "[-]HHH:MM:SS[.ffffff]": Text()
	KindDateTime       // DATETIME as text "YYYY-MM-DD HH:MM:SS[.ffffff]": Text()
	KindTimestamp      // TIMESTAMP in UTC as text "YYYY-MM-DD HH:MM:SS[.ffffff]": Text()
	KindEnum           // ENUM: Uint() is the 1-based index, Text() the member
	KindSet            // SET: Uint() is the bitmask, Text() the members joined by ','
	KindJSON           // JSON document text (MariaDB stores JSON as LONGTEXT)
	KindGeometry       // GEOMETRY in the server's internal format (SRID + WKB)
	kindEnd
)

var kindNames = [...]string{"null", "int", "uint", "float32", "float64", "decimal", "string", "bytes",
	"bit", "year", "date", "time", "datetime", "timestamp", "enum", "set", "json", "geometry"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k < kindEnd }

// Value is one typed column value. The zero Value is SQL NULL. Values are
// immutable: constructors copy the byte slices they are given.
type Value struct {
	kind    Kind
	num     uint64 // Int (as two's complement), Uint, Bit, Year, Enum index, Set mask, float bits
	data    []byte // text or raw bytes
	charset string // KindString only: the column's character set, e.g. "utf8mb4", "latin1", "binary"
}

func Null() Value              { return Value{} }
func IntValue(v int64) Value   { return Value{kind: KindInt, num: uint64(v)} }
func UintValue(v uint64) Value { return Value{kind: KindUint, num: v} }
func Float32Value(v float32) Value {
	return Value{kind: KindFloat32, num: uint64(math.Float32bits(v))}
}
func Float64Value(v float64) Value { return Value{kind: KindFloat64, num: math.Float64bits(v)} }
func BitValue(v uint64) Value      { return Value{kind: KindBit, num: v} }
func YearValue(v int64) Value      { return Value{kind: KindYear, num: uint64(v)} }

// StringValue is a character-string value: its raw bytes in charset.
func StringValue(b []byte, charset string) Value {
	return Value{kind: KindString, data: clone(b), charset: charset}
}

// BytesValue is a binary-string value (BINARY, VARBINARY, BLOB).
func BytesValue(b []byte) Value { return Value{kind: KindBytes, data: clone(b)} }

// TextValue builds the kinds whose canonical form is text: Decimal, Date,
// Time, DateTime, Timestamp, JSON, Geometry.
func TextValue(k Kind, b []byte) Value {
	switch k {
	case KindDecimal, KindDate, KindTime, KindDateTime, KindTimestamp, KindJSON, KindGeometry:
		return Value{kind: k, data: clone(b)}
	}
	panic(fmt.Sprintf("repl.TextValue: kind %s is not a text kind", k))
}

// EnumValue is an ENUM value: its 1-based index and member name (index 0 is
// the empty string an invalid value gets).
func EnumValue(index uint64, member string) Value {
	return Value{kind: KindEnum, num: index, data: append([]byte{}, member...)}
}

// SetValue is a SET value: its bitmask and its members joined by ','.
func SetValue(mask uint64, members string) Value {
	return Value{kind: KindSet, num: mask, data: append([]byte{}, members...)}
}

// clone copies b, never returning nil: a nil []byte is bound as SQL NULL,
// and an empty string is not NULL.
func clone(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return bytes.Clone(b)
}

func (v Value) Kind() Kind       { return v.kind }
func (v Value) IsNull() bool     { return v.kind == KindNull }
func (v Value) Int() int64       { return int64(v.num) }
func (v Value) Uint() uint64     { return v.num }
func (v Value) Float32() float32 { return math.Float32frombits(uint32(v.num)) }
func (v Value) Float64() float64 { return math.Float64frombits(v.num) }

// Bytes returns the raw bytes of string, binary and text kinds. The caller
// must not modify them.
func (v Value) Bytes() []byte { return v.data }

// Text is Bytes as a string.
func (v Value) Text() string { return string(v.data) }

// Charset is the character set of a KindString value.
func (v Value) Charset() string { return v.charset }

// Equal is exact, typed equality: same kind and the same bits or bytes. Two
// NULLs are equal (this is row-image comparison, not SQL's three-valued logic).
// Floats compare by bit pattern, so there is no drift and NaN equals itself.
func (v Value) Equal(o Value) bool {
	if v.kind != o.kind || v.num != o.num {
		return false
	}
	if v.kind == KindString && v.charset != o.charset {
		return false
	}
	return bytes.Equal(v.data, o.data)
}

// SQLArg is the value as a typed bound parameter for go-sql-driver/mysql:
// integers as int64/uint64, floats as float32/float64, everything else as
// raw bytes ([]byte is sent as-is, with no charset conversion, when the
// session uses the binary character set). ENUM and SET travel as their
// member text.
func (v Value) SQLArg() any {
	switch v.kind {
	case KindNull:
		return nil
	case KindInt, KindYear:
		return int64(v.num)
	case KindUint, KindBit:
		return v.num
	case KindFloat32:
		return v.Float32()
	case KindFloat64:
		return v.Float64()
	default:
		return v.data
	}
}

// String is a human-readable rendering for logs and reports; it is never
// used to build SQL.
func (v Value) String() string {
	switch v.kind {
	case KindNull:
		return "NULL"
	case KindInt, KindYear:
		return strconv.FormatInt(int64(v.num), 10)
	case KindUint:
		return strconv.FormatUint(v.num, 10)
	case KindBit:
		return "b'" + strconv.FormatUint(v.num, 2) + "'"
	case KindFloat32:
		return strconv.FormatFloat(float64(v.Float32()), 'g', -1, 32)
	case KindFloat64:
		return strconv.FormatFloat(v.Float64(), 'g', -1, 64)
	case KindBytes, KindGeometry:
		return fmt.Sprintf("0x%X", v.data)
	default:
		return string(v.data)
	}
}
