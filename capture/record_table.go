package capture

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/recoup-dev/recoup/repl"
)

// The tables field holds a count, then each TableSchema as a length-prefixed
// list of tagged fields, with the same rules as a record's fields (tags
// increase, unknown tags are skipped, zero values omitted). Binary rather
// than JSON: for a 4-column table it is 183 bytes instead of 434 and about
// 3.5 times less CPU to encode and decode (BenchmarkTables), and it keeps
// names that are not valid UTF-8 byte for byte.
const (
	tagTableID     = 1 // uvarint
	tagTableSchema = 2 // string
	tagTableName   = 3 // string
	tagTableCols   = 4 // count, then each column length-prefixed
	tagTablePK     = 5 // count, then zigzag varints
	tagTableUKs    = 6 // count, then each unique key length-prefixed
	tagTableCS     = 7 // string: default charset
	tagTableColl   = 8 // string: default collation
	tagTableFlags  = 9 // uvarint: tableUncertain
)

const (
	tableUncertain  = 1 << iota
	tableFlagsKnown = tableUncertain
)

const (
	tagColName      = 1 // string
	tagColType      = 2 // string
	tagColLength    = 3 // zigzag varint
	tagColDecimals  = 4 // zigzag varint
	tagColFlags     = 5 // uvarint: colUnsigned, colNullable
	tagColCharset   = 6 // string
	tagColCollation = 7 // string
	tagColMembers   = 8 // count, then each uvarint length + bytes
	tagColGenerated = 9 // string
)

const (
	tagKeyName = 1 // string
	tagKeyCols = 2 // count, then zigzag varints
)

const (
	colUnsigned = 1 << iota
	colNullable
	colFlagsKnown = colUnsigned | colNullable
)

func appendTables(b []byte, tables []TableSchema) []byte {
	b = binary.AppendUvarint(b, uint64(len(tables)))
	for i := range tables {
		start := len(b)
		b = appendTable(b, &tables[i])
		b = endNested(b, start)
	}
	return b
}

func appendTable(b []byte, ts *TableSchema) []byte {
	t := &ts.Table
	b = appendUintField(b, tagTableID, ts.TableID)
	b = appendStringField(b, tagTableSchema, t.Schema)
	b = appendStringField(b, tagTableName, t.Name)
	if len(t.Columns) > 0 {
		b = binary.AppendUvarint(b, tagTableCols)
		cols := len(b)
		b = binary.AppendUvarint(b, uint64(len(t.Columns)))
		for i := range t.Columns {
			start := len(b)
			b = appendColumn(b, &t.Columns[i])
			b = endNested(b, start)
		}
		b = endNested(b, cols)
	}
	b = appendIntsField(b, tagTablePK, t.PrimaryKey)
	if len(t.UniqueKeys) > 0 {
		b = binary.AppendUvarint(b, tagTableUKs)
		uks := len(b)
		b = binary.AppendUvarint(b, uint64(len(t.UniqueKeys)))
		for _, uk := range t.UniqueKeys {
			start := len(b)
			b = appendIntsField(appendStringField(b, tagKeyName, uk.Name), tagKeyCols, uk.Columns)
			b = endNested(b, start)
		}
		b = endNested(b, uks)
	}
	b = appendStringField(b, tagTableCS, ts.Charset)
	b = appendStringField(b, tagTableColl, ts.Collation)
	if ts.Uncertain {
		b = appendUintField(b, tagTableFlags, tableUncertain)
	}
	return b
}

func appendColumn(b []byte, c *repl.Column) []byte {
	b = appendStringField(b, tagColName, c.Name)
	b = appendStringField(b, tagColType, c.Type)
	b = appendIntField(b, tagColLength, int64(c.Length))
	b = appendIntField(b, tagColDecimals, int64(c.Decimals))
	var flags uint64
	if c.Unsigned {
		flags |= colUnsigned
	}
	if c.Nullable {
		flags |= colNullable
	}
	b = appendUintField(b, tagColFlags, flags)
	b = appendStringField(b, tagColCharset, c.Charset)
	b = appendStringField(b, tagColCollation, c.Collation)
	if len(c.Members) > 0 {
		b = binary.AppendUvarint(b, tagColMembers)
		start := len(b)
		b = binary.AppendUvarint(b, uint64(len(c.Members)))
		for _, m := range c.Members {
			b = binary.AppendUvarint(b, uint64(len(m)))
			b = append(b, m...)
		}
		b = endNested(b, start)
	}
	return appendStringField(b, tagColGenerated, c.Generated)
}

func decodeTables(p []byte) ([]TableSchema, error) {
	d := fieldReader{b: p}
	n, err := d.count("table", 1)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, d.done("tables")
	}
	tables := make([]TableSchema, n)
	for i := range tables {
		tp, err := d.lenBytes("table")
		if err != nil {
			return nil, err
		}
		if err := walkFields(tp, 0, tables[i].decodeField); err != nil {
			return nil, fmt.Errorf("table %d: %w", i, err)
		}
	}
	return tables, d.done("tables")
}

func (ts *TableSchema) decodeField(tag uint64, p []byte) error {
	t := &ts.Table
	var err error
	switch tag {
	case tagTableID:
		ts.TableID, err = uintPayload(p, math.MaxUint64)
	case tagTableSchema:
		t.Schema = string(p)
	case tagTableName:
		t.Name = string(p)
	case tagTableCols:
		err = decodeList(p, "column", func(i int, cp []byte) error {
			t.Columns = append(t.Columns, repl.Column{})
			return walkFields(cp, 0, columnDecoder(&t.Columns[i]))
		})
	case tagTablePK:
		t.PrimaryKey, err = decodeInts(p)
	case tagTableUKs:
		err = decodeList(p, "unique key", func(i int, kp []byte) error {
			t.UniqueKeys = append(t.UniqueKeys, repl.UniqueKey{})
			uk := &t.UniqueKeys[i]
			return walkFields(kp, 0, func(tag uint64, p []byte) (err error) {
				switch tag {
				case tagKeyName:
					uk.Name = string(p)
				case tagKeyCols:
					uk.Columns, err = decodeInts(p)
				}
				return err
			})
		})
	case tagTableCS:
		ts.Charset = string(p)
	case tagTableColl:
		ts.Collation = string(p)
	case tagTableFlags:
		var f uint64
		f, err = uintPayload(p, tableFlagsKnown)
		ts.Uncertain = f&tableUncertain != 0
	}
	return err
}

func columnDecoder(c *repl.Column) func(uint64, []byte) error {
	return func(tag uint64, p []byte) error {
		var err error
		switch tag {
		case tagColName:
			c.Name = string(p)
		case tagColType:
			c.Type = string(p)
		case tagColLength:
			c.Length, err = intPayload(p)
		case tagColDecimals:
			c.Decimals, err = intPayload(p)
		case tagColFlags:
			var f uint64
			f, err = uintPayload(p, colFlagsKnown)
			c.Unsigned, c.Nullable = f&colUnsigned != 0, f&colNullable != 0
		case tagColCharset:
			c.Charset = string(p)
		case tagColCollation:
			c.Collation = string(p)
		case tagColMembers:
			err = decodeList(p, "member", func(_ int, m []byte) error {
				c.Members = append(c.Members, string(m))
				return nil
			})
		case tagColGenerated:
			c.Generated = string(p)
		}
		return err
	}
}
