package streamer

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/recoup-dev/recoup/repl"
)

// tableDecoder converts go-mysql's decoded rows of one table map into
// repl.Rows.
type tableDecoder struct {
	table *repl.Table
	types []byte   // the table map's column types, to detect a re-map
	metas []uint16 // and metadata
	cols  []columnDecoder
}

// columnDecoder converts one column's values.
type columnDecoder struct {
	bc       binlogColumn
	name     string
	unsigned bool
	binary   bool   // binary character set: bytes, not a string
	charset  string // for strings
	members  []string
}

func newTableDecoder(tme *replication.TableMapEvent, t *repl.Table) (*tableDecoder, error) {
	if err := checkTableMap(tme); err != nil {
		return nil, err
	}
	if t.Schema != string(tme.Schema) || t.Name != string(tme.Table) {
		return nil, fmt.Errorf("table id %d maps %s.%s but the record's schema is for %s", tme.TableID, tme.Schema, tme.Table, t.QualifiedName())
	}
	n := int(tme.ColumnCount)
	if len(t.Columns) != n {
		return nil, fmt.Errorf("table %s: schema has %d columns, the binlog %d", t.QualifiedName(), len(t.Columns), n)
	}
	td := &tableDecoder{
		table: t,
		types: slices.Clone(tme.ColumnType),
		metas: slices.Clone(tme.ColumnMeta),
		cols:  make([]columnDecoder, n),
	}
	for i := range n {
		c := &t.Columns[i]
		bc := columnOf(tme, i)
		cd := columnDecoder{bc: bc, name: c.Name, unsigned: c.Unsigned, charset: c.Charset, members: c.Members}
		if bc.isString() {
			if c.Charset == "" {
				return nil, fmt.Errorf("table %s column %s: no character set in the schema", t.QualifiedName(), c.Name)
			}
			cd.binary = c.Charset == "binary"
		}
		if bc.isEnumOrSet() && len(c.Members) == 0 {
			return nil, fmt.Errorf("table %s column %s: no %s members in the schema", t.QualifiedName(), c.Name, c.Type)
		}
		td.cols[i] = cd
	}
	return td, nil
}

// sameLayout reports whether tme has the column types this decoder was
// built for.
func (td *tableDecoder) sameLayout(tme *replication.TableMapEvent) bool {
	return td.table.Schema == string(tme.Schema) && td.table.Name == string(tme.Table) &&
		bytes.Equal(td.types, tme.ColumnType) && slices.Equal(td.metas, tme.ColumnMeta)
}

// row converts one image into dst, which has a value per column.
func (td *tableDecoder) row(vals []any, dst repl.Row) (repl.Row, error) {
	if len(vals) != len(td.cols) {
		return nil, fmt.Errorf("row has %d values, the table %d columns", len(vals), len(td.cols))
	}
	row := dst
	for i, v := range vals {
		var err error
		if row[i], err = td.cols[i].value(v); err != nil {
			return nil, fmt.Errorf("column %s: %w", td.cols[i].name, err)
		}
	}
	return row, nil
}

// value converts one go-mysql value (decoded with UseDecimal and ParseTime
// off, TIMESTAMPs in UTC):
//
//   - integers: IntValue, or UintValue for UNSIGNED columns (go-mysql gives
//     their values as negative signed numbers of the column's width);
//   - DECIMAL: TextValue(KindDecimal) with every digit of the scale;
//   - FLOAT, DOUBLE: Float32Value, Float64Value (bit-exact);
//   - BIT: BitValue; YEAR: YearValue (0 for the zero year);
//   - DATE, TIME, DATETIME, TIMESTAMP: text as the server prints it, with
//     exactly the column's fractional digits, TIMESTAMP in UTC, zero dates
//     kept;
//   - CHAR, VARCHAR, TEXT: StringValue with the column's charset; the
//     binary charset (BINARY, VARBINARY, BLOB) gives BytesValue, BINARY
//     padded with 0x00 to its length as the server stores it;
//   - ENUM: EnumValue(index, member); SET: SetValue(mask, members);
//   - JSON: MariaDB's JSON is LONGTEXT and arrives as a StringValue; MySQL's
//     binary JSON becomes TextValue(KindJSON) with go-mysql's text form;
//   - GEOMETRY: TextValue(KindGeometry) with the server's bytes (SRID +
//     WKB); VECTOR: BytesValue;
//   - NULL: Null.
func (c *columnDecoder) value(v any) (repl.Value, error) {
	if v == nil {
		return repl.Null(), nil
	}
	switch c.bc.typ {
	case mysql.MYSQL_TYPE_TINY, mysql.MYSQL_TYPE_SHORT, mysql.MYSQL_TYPE_INT24, mysql.MYSQL_TYPE_LONG, mysql.MYSQL_TYPE_LONGLONG:
		return c.integer(v)
	case mysql.MYSQL_TYPE_NEWDECIMAL:
		return textOf(v, repl.KindDecimal)
	case mysql.MYSQL_TYPE_FLOAT:
		if f, ok := v.(float32); ok {
			return repl.Float32Value(f), nil
		}
	case mysql.MYSQL_TYPE_DOUBLE:
		if f, ok := v.(float64); ok {
			return repl.Float64Value(f), nil
		}
	case mysql.MYSQL_TYPE_BIT:
		if b, ok := v.(int64); ok {
			return repl.BitValue(uint64(b)), nil
		}
	case mysql.MYSQL_TYPE_YEAR:
		if y, ok := v.(int); ok {
			return repl.YearValue(int64(y)), nil
		}
	case mysql.MYSQL_TYPE_NEWDATE:
		return textOf(v, repl.KindDate)
	case mysql.MYSQL_TYPE_TIME, mysql.MYSQL_TYPE_TIME2, mysql.MYSQL_TYPE_DATETIME, mysql.MYSQL_TYPE_DATETIME2,
		mysql.MYSQL_TYPE_TIMESTAMP, mysql.MYSQL_TYPE_TIMESTAMP2:
		return c.temporal(v)
	case mysql.MYSQL_TYPE_ENUM, mysql.MYSQL_TYPE_SET:
		return c.enumOrSet(v)
	case mysql.MYSQL_TYPE_STRING, mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING, mysql.MYSQL_TYPE_BLOB:
		return c.str(v)
	case mysql.MYSQL_TYPE_JSON:
		return textOf(v, repl.KindJSON)
	case mysql.MYSQL_TYPE_GEOMETRY:
		if b, ok := v.([]byte); ok {
			return repl.TextValue(repl.KindGeometry, b), nil
		}
	case mysql.MYSQL_TYPE_VECTOR:
		if b, ok := v.([]byte); ok {
			return repl.BytesValue(b), nil
		}
	case mysql.MYSQL_TYPE_NULL:
		return repl.Null(), nil
	}
	return repl.Value{}, c.unexpected(v)
}

func (c *columnDecoder) unexpected(v any) error {
	return fmt.Errorf("go-mysql gave a %T for binlog type %d", v, c.bc.typ)
}

// integer undoes go-mysql's signed reading of unsigned columns.
func (c *columnDecoder) integer(v any) (repl.Value, error) {
	var x int64
	var bits uint
	switch n := v.(type) {
	case int8:
		x, bits = int64(n), 8
	case int16:
		x, bits = int64(n), 16
	case int32:
		x, bits = int64(n), 32
		if c.bc.typ == mysql.MYSQL_TYPE_INT24 {
			bits = 24
		}
	case int64:
		x, bits = n, 64
	default:
		return repl.Value{}, c.unexpected(v)
	}
	if !c.unsigned {
		return repl.IntValue(x), nil
	}
	u := uint64(x)
	if bits < 64 {
		u &= 1<<bits - 1
	}
	return repl.UintValue(u), nil
}

func textOf(v any, k repl.Kind) (repl.Value, error) {
	switch s := v.(type) {
	case string:
		return repl.TextValue(k, []byte(s)), nil
	case []byte:
		return repl.TextValue(k, s), nil
	}
	return repl.Value{}, fmt.Errorf("go-mysql gave a %T for a %s value", v, k)
}

// str converts CHAR, VARCHAR and TEXT values and their binary forms. The
// server strips BINARY's trailing 0x00 bytes in the binlog (and CHAR's
// trailing spaces, which SELECT strips too); they are put back for BINARY.
func (c *columnDecoder) str(v any) (repl.Value, error) {
	var b []byte
	switch s := v.(type) {
	case string:
		b = []byte(s)
	case []byte:
		b = s
	default:
		return repl.Value{}, c.unexpected(v)
	}
	if !c.binary {
		return repl.StringValue(b, c.charset), nil
	}
	if c.bc.typ == mysql.MYSQL_TYPE_STRING && len(b) < c.bc.byteLen {
		padded := make([]byte, c.bc.byteLen)
		copy(padded, b)
		b = padded
	}
	return repl.BytesValue(b), nil
}

func (c *columnDecoder) enumOrSet(v any) (repl.Value, error) {
	n, ok := v.(int64)
	if !ok {
		return repl.Value{}, c.unexpected(v)
	}
	u := uint64(n)
	if c.bc.typ == mysql.MYSQL_TYPE_ENUM {
		if u == 0 {
			return repl.EnumValue(0, ""), nil
		}
		if u > uint64(len(c.members)) {
			return repl.Value{}, fmt.Errorf("enum index %d of %d members", u, len(c.members))
		}
		return repl.EnumValue(u, c.members[u-1]), nil
	}
	var b strings.Builder
	for i := 0; i < 64; i++ {
		if u&(1<<i) == 0 {
			continue
		}
		if i >= len(c.members) {
			return repl.Value{}, fmt.Errorf("set bitmask %#x has bit %d of %d members", u, i, len(c.members))
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(c.members[i])
	}
	return repl.SetValue(u, b.String()), nil
}

// temporal checks go-mysql's text of TIME, DATETIME and TIMESTAMP values
// and fixes what it gets wrong:
//   - TIME(1..6) values with a zero fraction lose it ("10:00:00" for
//     "10:00:00.000");
//   - the pre-5.6 TIME type (3 bytes, signed) is read unsigned, so negative
//     values come out as huge hours.
func (c *columnDecoder) temporal(v any) (repl.Value, error) {
	s, ok := v.(string)
	if !ok {
		return repl.Value{}, c.unexpected(v)
	}
	fsp := 0
	switch c.bc.typ {
	case mysql.MYSQL_TYPE_TIME2, mysql.MYSQL_TYPE_DATETIME2, mysql.MYSQL_TYPE_TIMESTAMP2:
		fsp = int(c.bc.meta)
	}
	if fsp > 6 {
		return repl.Value{}, fmt.Errorf("fractional seconds precision %d", fsp)
	}
	kind := repl.KindDateTime
	switch c.bc.typ {
	case mysql.MYSQL_TYPE_TIME:
		var err error
		if s, err = fixOldTime(s); err != nil {
			return repl.Value{}, err
		}
		return repl.TextValue(repl.KindTime, []byte(s)), nil
	case mysql.MYSQL_TYPE_TIME2:
		if fsp > 0 && !strings.Contains(s, ".") {
			s += ".000000"[:fsp+1]
		}
		return repl.TextValue(repl.KindTime, []byte(s)), nil
	case mysql.MYSQL_TYPE_TIMESTAMP, mysql.MYSQL_TYPE_TIMESTAMP2:
		kind = repl.KindTimestamp
	}
	want := len("2006-01-02 15:04:05")
	if fsp > 0 {
		want += 1 + fsp
	}
	if len(s) != want {
		return repl.Value{}, fmt.Errorf("go-mysql gave %q for a %s with %d fractional digits", s, kind, fsp)
	}
	return repl.TextValue(kind, []byte(s)), nil
}

// fixOldTime re-signs a pre-5.6 TIME value: go-mysql prints the 3-byte
// two's complement hhmmss number as if unsigned.
func fixOldTime(s string) (string, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return "", fmt.Errorf("go-mysql gave %q for a TIME", s)
	}
	var n [3]int64
	for i, p := range parts {
		x, err := strconv.ParseInt(p, 10, 64)
		if err != nil || x < 0 {
			return "", fmt.Errorf("go-mysql gave %q for a TIME", s)
		}
		n[i] = x
	}
	packed := n[0]*10000 + n[1]*100 + n[2]
	if packed < 1<<23 {
		return s, nil
	}
	packed = 1<<24 - packed
	return fmt.Sprintf("-%02d:%02d:%02d", packed/10000, packed/100%100, packed%100), nil
}
