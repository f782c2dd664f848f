package applier

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/recoup-dev/recoup/repl"
)

// errTextProtocol is returned when a FLOAT or DOUBLE column arrives as text:
// the result came in the text protocol, whose float text does not give
// back the stored bits. queryRows prepares every statement, so this is a
// safety net.
var errTextProtocol = errors.New("float column read in the text protocol: the applier needs binary-protocol results")

// valueOf converts one column value, as go-sql-driver/mysql returns it in
// the binary protocol with a binary session character set (session
// time_zone '+00:00'), into the repl.Value streamer.DecodeTxn gives for
// the same stored value:
//
//   - integers: IntValue, or UintValue for UNSIGNED columns;
//   - DECIMAL: the server's text with every digit of the scale (the binary
//     protocol sends DECIMAL as that text);
//   - FLOAT, DOUBLE: the binary protocol's 4 or 8 IEEE bytes, bit-exact;
//   - BIT: the big-endian bytes as a number; YEAR: the number (0 for 0000);
//   - DATE, TIME(n), DATETIME(n), TIMESTAMP(n): the driver's text with
//     exactly n fractional digits (from the result's decimals), TIMESTAMP
//     in UTC because of the session time zone; zero dates kept;
//   - ENUM, SET: the member text, mapped back to index or bitmask with the
//     table's members;
//   - character strings: the raw stored bytes (character_set_results is
//     binary) with the column's charset; binary strings: BytesValue
//     (BINARY(n) comes padded with 0x00, as the streamer pads it);
//   - MariaDB JSON (LONGTEXT): a string; MySQL JSON: KindJSON text
//     (unverified: no MySQL server here);
//   - GEOMETRY: the server's internal bytes (SRID + WKB).
func valueOf(c *repl.Column, flavor repl.Flavor, raw any) (repl.Value, error) {
	if raw == nil {
		return repl.Null(), nil
	}
	switch family(c) {
	case famInt:
		return intValue(c, raw)
	case famDecimal:
		return textKind(repl.KindDecimal, raw)
	case famFloat:
		return floatValue(c, raw)
	case famBit:
		b, ok := raw.([]byte)
		if !ok || len(b) > 8 {
			return repl.Value{}, fmt.Errorf("BIT value %T of %d bytes", raw, len(b))
		}
		var n uint64
		for _, x := range b {
			n = n<<8 | uint64(x)
		}
		return repl.BitValue(n), nil
	case famYear:
		n, err := asInt(raw)
		return repl.YearValue(n), err
	case famTemporal:
		return temporalValue(c, raw)
	case famEnum:
		return enumValue(c, raw)
	case famSet:
		return setValue(c, raw)
	case famString:
		b, ok := raw.([]byte)
		if !ok {
			return repl.Value{}, fmt.Errorf("string value arrived as %T", raw)
		}
		if c.Charset == "binary" || c.Charset == "" {
			return repl.BytesValue(b), nil
		}
		return repl.StringValue(b, c.Charset), nil
	case famBytes:
		b, ok := raw.([]byte)
		if !ok {
			return repl.Value{}, fmt.Errorf("binary value arrived as %T", raw)
		}
		return repl.BytesValue(b), nil
	case famJSON:
		if flavor == repl.MariaDB {
			b, _ := raw.([]byte)
			return repl.StringValue(b, c.Charset), nil
		}
		return textKind(repl.KindJSON, raw)
	case famGeometry:
		return textKind(repl.KindGeometry, raw)
	}
	return repl.Value{}, fmt.Errorf("column type %q is not supported by the applier", c.Type)
}

type typeFamily uint8

const (
	famUnknown typeFamily = iota
	famInt
	famDecimal
	famFloat
	famBit
	famYear
	famTemporal
	famEnum
	famSet
	famString
	famBytes
	famJSON
	famGeometry
)

var families = map[string]typeFamily{
	"tinyint": famInt, "smallint": famInt, "mediumint": famInt, "int": famInt, "integer": famInt, "bigint": famInt,
	"decimal": famDecimal, "numeric": famDecimal, "float": famFloat, "double": famFloat, "real": famFloat,
	"bit": famBit, "year": famYear,
	"date": famTemporal, "time": famTemporal, "datetime": famTemporal, "timestamp": famTemporal,
	"enum": famEnum, "set": famSet,
	"char": famString, "varchar": famString, "tinytext": famString, "text": famString,
	"mediumtext": famString, "longtext": famString,
	"binary": famBytes, "varbinary": famBytes, "tinyblob": famBytes, "blob": famBytes,
	"mediumblob": famBytes, "longblob": famBytes, "vector": famBytes,
	"json":     famJSON,
	"geometry": famGeometry, "point": famGeometry, "linestring": famGeometry, "polygon": famGeometry,
	"multipoint": famGeometry, "multilinestring": famGeometry, "multipolygon": famGeometry,
	"geometrycollection": famGeometry,
}

func family(c *repl.Column) typeFamily { return families[strings.ToLower(c.Type)] }

func asInt(raw any) (int64, error) {
	switch n := raw.(type) {
	case int64:
		return n, nil
	case []byte: // text protocol
		return strconv.ParseInt(string(n), 10, 64)
	}
	return 0, fmt.Errorf("integer value arrived as %T", raw)
}

func intValue(c *repl.Column, raw any) (repl.Value, error) {
	switch n := raw.(type) {
	case int64:
		if c.Unsigned {
			return repl.UintValue(uint64(n)), nil
		}
		return repl.IntValue(n), nil
	case uint64:
		return repl.UintValue(n), nil
	case []byte:
		if c.Unsigned {
			u, err := strconv.ParseUint(string(n), 10, 64)
			return repl.UintValue(u), err
		}
		i, err := strconv.ParseInt(string(n), 10, 64)
		return repl.IntValue(i), err
	}
	return repl.Value{}, fmt.Errorf("integer value arrived as %T", raw)
}

func floatValue(c *repl.Column, raw any) (repl.Value, error) {
	switch f := raw.(type) {
	case float32:
		return repl.Float32Value(f), nil
	case float64:
		if strings.EqualFold(c.Type, "float") {
			return repl.Value{}, fmt.Errorf("FLOAT value arrived as a float64")
		}
		return repl.Float64Value(f), nil
	case []byte:
		return repl.Value{}, errTextProtocol
	}
	return repl.Value{}, fmt.Errorf("float value arrived as %T", raw)
}

func textKind(k repl.Kind, raw any) (repl.Value, error) {
	b, ok := raw.([]byte)
	if !ok {
		return repl.Value{}, fmt.Errorf("%s value arrived as %T", k, raw)
	}
	return repl.TextValue(k, b), nil
}

// temporalValue takes the driver's text (parseTime=false) or a time.Time
// (parseTime=true), written with the column's fractional digits.
func temporalValue(c *repl.Column, raw any) (repl.Value, error) {
	kind := map[string]repl.Kind{"date": repl.KindDate, "time": repl.KindTime,
		"datetime": repl.KindDateTime, "timestamp": repl.KindTimestamp}[strings.ToLower(c.Type)]
	switch t := raw.(type) {
	case []byte:
		return repl.TextValue(kind, t), nil
	case time.Time:
		if kind == repl.KindDate {
			return repl.TextValue(kind, []byte(t.Format("2006-01-02"))), nil
		}
		layout := "2006-01-02 15:04:05"
		if c.Decimals > 0 && c.Decimals <= 6 {
			layout += ".000000"[:c.Decimals+1]
		}
		return repl.TextValue(kind, []byte(t.UTC().Format(layout))), nil
	}
	return repl.Value{}, fmt.Errorf("temporal value arrived as %T", raw)
}

func enumValue(c *repl.Column, raw any) (repl.Value, error) {
	b, ok := raw.([]byte)
	if !ok {
		return repl.Value{}, fmt.Errorf("ENUM value arrived as %T", raw)
	}
	if len(b) == 0 {
		return repl.EnumValue(0, ""), nil
	}
	for i, m := range c.Members {
		if m == string(b) {
			return repl.EnumValue(uint64(i+1), m), nil
		}
	}
	return repl.Value{}, fmt.Errorf("ENUM value %q is not a member of the captured schema", b)
}

func setValue(c *repl.Column, raw any) (repl.Value, error) {
	b, ok := raw.([]byte)
	if !ok {
		return repl.Value{}, fmt.Errorf("SET value arrived as %T", raw)
	}
	var mask uint64
	if len(b) > 0 {
		for _, part := range bytes.Split(b, []byte(",")) {
			i := indexOf(c.Members, string(part))
			if i < 0 || i >= 64 {
				return repl.Value{}, fmt.Errorf("SET value %q has %q, not a member of the captured schema", b, part)
			}
			mask |= 1 << i
		}
	}
	return repl.SetValue(mask, string(b)), nil
}

func indexOf(list []string, s string) int {
	for i, m := range list {
		if m == s {
			return i
		}
	}
	return -1
}
