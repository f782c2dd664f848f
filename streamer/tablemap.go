package streamer

import (
	"errors"
	"fmt"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/recoup-dev/recoup/repl"
)

// ErrNoColumnNames is wrapped by TableFromMap's error when the table map
// event carries no column names (the server's binlog_row_metadata is not
// FULL) and no schema from history was given.
var ErrNoColumnNames = errors.New("table map event has no column names (binlog_row_metadata=FULL is required) and no schema history was given")

// binlogColumn is what a table map event says about one column's storage:
// its real type (ENUM and SET split out of STRING) and its metadata, with
// the byte length of CHAR/BINARY columns decoded.
type binlogColumn struct {
	typ  byte
	meta uint16
	// byteLen is the maximum byte length of CHAR, BINARY, VARCHAR and
	// VARBINARY columns.
	byteLen int
}

// columnOf decodes column i of tme. tme must have been checked by
// checkTableMap.
func columnOf(tme *replication.TableMapEvent, i int) binlogColumn {
	typ, meta := tme.ColumnType[i], tme.ColumnMeta[i]
	c := binlogColumn{typ: typ, meta: meta}
	switch typ {
	case mysql.MYSQL_TYPE_STRING:
		// Same decoding as the server's Field_string: the real type sits in
		// the high byte and the length's bits 8 and 9 are folded into it.
		c.byteLen = int(meta)
		if meta >= 256 {
			b0, b1 := byte(meta>>8), int(meta&0xFF)
			if b0&0x30 != 0x30 {
				c.byteLen = b1 | int((b0&0x30)^0x30)<<4
				c.typ = b0 | 0x30
			} else {
				c.byteLen = b1
				c.typ = b0
			}
		}
	case mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING:
		c.byteLen = int(meta)
	case mysql.MYSQL_TYPE_DATE:
		c.typ = mysql.MYSQL_TYPE_NEWDATE
	}
	return c
}

// isInteger reports whether the column is an integer of any width (not
// YEAR or BIT).
func (c binlogColumn) isInteger() bool {
	switch c.typ {
	case mysql.MYSQL_TYPE_TINY, mysql.MYSQL_TYPE_SHORT, mysql.MYSQL_TYPE_INT24,
		mysql.MYSQL_TYPE_LONG, mysql.MYSQL_TYPE_LONGLONG:
		return true
	}
	return false
}

// isString reports whether the column is a character or binary string
// (CHAR, VARCHAR, TEXT and their binary forms).
func (c binlogColumn) isString() bool {
	switch c.typ {
	case mysql.MYSQL_TYPE_STRING, mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING, mysql.MYSQL_TYPE_BLOB:
		return true
	}
	return false
}

func (c binlogColumn) isEnumOrSet() bool {
	return c.typ == mysql.MYSQL_TYPE_ENUM || c.typ == mysql.MYSQL_TYPE_SET
}

// baseColumn fills the type, length and decimals that the binlog type and
// metadata alone give. Character types are named as text types here;
// applyCharset renames them to their binary forms for the binary charset.
func (c binlogColumn) baseColumn() (repl.Column, error) {
	var col repl.Column
	switch c.typ {
	case mysql.MYSQL_TYPE_TINY:
		col.Type = "tinyint"
	case mysql.MYSQL_TYPE_SHORT:
		col.Type = "smallint"
	case mysql.MYSQL_TYPE_INT24:
		col.Type = "mediumint"
	case mysql.MYSQL_TYPE_LONG:
		col.Type = "int"
	case mysql.MYSQL_TYPE_LONGLONG:
		col.Type = "bigint"
	case mysql.MYSQL_TYPE_NEWDECIMAL:
		col.Type, col.Length, col.Decimals = "decimal", int(c.meta>>8), int(c.meta&0xFF)
	case mysql.MYSQL_TYPE_FLOAT:
		col.Type = "float"
	case mysql.MYSQL_TYPE_DOUBLE:
		col.Type = "double"
	case mysql.MYSQL_TYPE_BIT:
		col.Type, col.Length = "bit", int(c.meta>>8)*8+int(c.meta&0xFF)
	case mysql.MYSQL_TYPE_TIMESTAMP, mysql.MYSQL_TYPE_TIMESTAMP2:
		col.Type, col.Decimals = "timestamp", int(c.meta)
	case mysql.MYSQL_TYPE_DATETIME, mysql.MYSQL_TYPE_DATETIME2:
		col.Type, col.Decimals = "datetime", int(c.meta)
	case mysql.MYSQL_TYPE_TIME, mysql.MYSQL_TYPE_TIME2:
		col.Type, col.Decimals = "time", int(c.meta)
	case mysql.MYSQL_TYPE_NEWDATE:
		col.Type = "date"
	case mysql.MYSQL_TYPE_YEAR:
		col.Type = "year"
	case mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING:
		col.Type, col.Length = "varchar", c.byteLen
	case mysql.MYSQL_TYPE_STRING:
		col.Type, col.Length = "char", c.byteLen
	case mysql.MYSQL_TYPE_ENUM:
		col.Type = "enum"
	case mysql.MYSQL_TYPE_SET:
		col.Type = "set"
	case mysql.MYSQL_TYPE_BLOB:
		names := [...]string{"", "tinytext", "text", "mediumtext", "longtext"}
		if c.meta < 1 || c.meta > 4 {
			return col, fmt.Errorf("blob column with length size %d, want 1 to 4", c.meta)
		}
		col.Type = names[c.meta]
	case mysql.MYSQL_TYPE_JSON:
		col.Type = "json"
	case mysql.MYSQL_TYPE_GEOMETRY:
		col.Type = "geometry"
	case mysql.MYSQL_TYPE_VECTOR:
		col.Type = "vector"
	default:
		return col, fmt.Errorf("binlog column type %d is not supported", c.typ)
	}
	return col, nil
}

// applyCharset sets the column's character set and collation, renames
// character types to their binary forms for the binary character set, and
// turns byte lengths into character lengths.
func applyCharset(col *repl.Column, c binlogColumn, coll collation) {
	col.Charset, col.Collation = coll.charset, coll.name
	if coll.charset == "binary" {
		col.Collation = ""
		switch col.Type {
		case "varchar":
			col.Type = "varbinary"
		case "char":
			col.Type = "binary"
		case "tinytext":
			col.Type = "tinyblob"
		case "text":
			col.Type = "blob"
		case "mediumtext":
			col.Type = "mediumblob"
		case "longtext":
			col.Type = "longblob"
		}
		return
	}
	if c.byteLen > 0 {
		col.Length = charLen(c.byteLen, coll.charset)
	}
}

// geometryTypes names the GEOMETRY subtypes of the table map's geometry
// metadata, by code.
var geometryTypes = [...]string{"geometry", "point", "linestring", "polygon", "multipoint",
	"multilinestring", "multipolygon", "geometrycollection"}

// checkTableMap rejects table map events whose slices do not match their
// column count (go-mysql indexes them without checking).
func checkTableMap(tme *replication.TableMapEvent) error {
	if tme == nil {
		return errors.New("nil table map event")
	}
	n := int(tme.ColumnCount)
	if n <= 0 || len(tme.ColumnType) != n || len(tme.ColumnMeta) != n || len(tme.NullBitmap) != (n+7)/8 {
		return fmt.Errorf("table map event for %s.%s is malformed: %d columns, %d types, %d metas",
			tme.Schema, tme.Table, tme.ColumnCount, len(tme.ColumnType), len(tme.ColumnMeta))
	}
	return nil
}
