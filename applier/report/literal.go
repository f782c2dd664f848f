package report

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/recoup-dev/recoup/repl"
)

var (
	decimalText  = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)
	temporalText = regexp.MustCompile(`^-?[0-9][0-9:. -]*$`)
	charsetName  = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)
)

// Literal renders v as an exact SQL literal, for the statements a human
// may run by hand (recoup itself only ever binds values as parameters):
//
//	NULL                  NULL
//	integers, YEAR        decimal digits
//	FLOAT, DOUBLE         shortest round-trip decimal with an exponent
//	                      (a DOUBLE literal: 1.5e-01); a FLOAT's exact value
//	                      as a double, which the column rounds back to itself
//	DECIMAL               the exact text, every digit of the scale
//	character strings     _charset X'hex': the stored bytes, no escaping
//	                      and no connection charset conversion
//	binary strings        X'hex'
//	BIT                   b'101'
//	DATE, TIME, DATETIME  quoted canonical text: '2024-01-02 03:04:05.123456'
//	TIMESTAMP             the same text in UTC (run with time_zone '+00:00')
//	ENUM, SET             the member index or bitmask (exact, charset-free)
//	JSON                  _utf8mb4 X'hex'
//	GEOMETRY              ST_GeomFromWKB(X'wkb', srid)
//
// NaN and infinite floats cannot be stored and are an error.
func Literal(v repl.Value) (string, error) {
	switch v.Kind() {
	case repl.KindNull:
		return "NULL", nil
	case repl.KindInt, repl.KindYear:
		return strconv.FormatInt(v.Int(), 10), nil
	case repl.KindUint, repl.KindEnum, repl.KindSet:
		return strconv.FormatUint(v.Uint(), 10), nil
	case repl.KindFloat32:
		return floatLiteral(float64(v.Float32()))
	case repl.KindFloat64:
		return floatLiteral(v.Float64())
	case repl.KindDecimal:
		if !decimalText.Match(v.Bytes()) {
			return "", fmt.Errorf("decimal value %q is not a decimal number", v.Text())
		}
		return v.Text(), nil
	case repl.KindString:
		if cs := v.Charset(); charsetName.MatchString(cs) && cs != "binary" {
			return "_" + cs + " " + hexLiteral(v.Bytes()), nil
		}
		return hexLiteral(v.Bytes()), nil
	case repl.KindBytes:
		return hexLiteral(v.Bytes()), nil
	case repl.KindJSON:
		return "_utf8mb4 " + hexLiteral(v.Bytes()), nil
	case repl.KindBit:
		return "b'" + strconv.FormatUint(v.Uint(), 2) + "'", nil
	case repl.KindDate, repl.KindTime, repl.KindDateTime, repl.KindTimestamp:
		if !temporalText.Match(v.Bytes()) {
			return "", fmt.Errorf("%s value %q is not canonical temporal text", v.Kind(), v.Text())
		}
		return "'" + v.Text() + "'", nil
	case repl.KindGeometry:
		b := v.Bytes()
		if len(b) < 5 {
			return "", fmt.Errorf("geometry value of %d bytes is too short", len(b))
		}
		return fmt.Sprintf("ST_GeomFromWKB(%s, %d)", hexLiteral(b[4:]), binary.LittleEndian.Uint32(b[:4])), nil
	}
	return "", fmt.Errorf("no SQL literal for a %s value", v.Kind())
}

func floatLiteral(f float64) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", fmt.Errorf("float value %v cannot be written to a column", f)
	}
	return strconv.FormatFloat(f, 'e', -1, 64), nil
}

func hexLiteral(b []byte) string { return "X'" + hex.EncodeToString(b) + "'" }

// quoteIdent quotes a schema, table or column name.
func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// comment makes s safe inside a -- comment: no line breaks or other
// control characters, which would end the comment, and backslashes
// doubled, so no command-line client can take one for a command (\!).
func comment(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' || r == '\u0085' {
			return ' '
		}
		return r
	}, s)
}
