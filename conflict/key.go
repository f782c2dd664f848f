package conflict

import (
	"encoding/binary"

	"github.com/recoup-dev/recoup/repl"
)

// Key is the canonical binary encoding of a list of typed values. Two Keys
// of the same table are equal exactly when the values they encode are
// pairwise repl.Value.Equal: the encoding writes, per value, its kind, its
// 64-bit number, and its charset and bytes each with a length prefix, after
// a count of the values. It is never formatted text, so no two different
// rows share a Key (FuzzKeyOf checks this).
type Key string

// KeyOf is the identity of row r of table t: the encoding of its
// t.KeyColumns() (the primary key, else the first unique key whose columns
// are all NOT NULL), or of every column when the table has no such key.
// r must be a full row image of t.
func KeyOf(t *repl.Table, r repl.Row) Key {
	cols := t.KeyColumns()
	if cols == nil {
		return ValuesKey(r...)
	}
	return colsKey(nil, cols, r)
}

// keyBuf is the stack buffer a Key is encoded in before it becomes a
// string: most keys (a few numbers or short strings) fit, so encoding one
// costs a single allocation, the Key itself.
const keyBuf = 128

// ValuesKey encodes the given values in order.
func ValuesKey(vals ...repl.Value) Key {
	var buf [keyBuf]byte
	b := binary.AppendUvarint(buf[:0], uint64(len(vals)))
	for _, v := range vals {
		b = appendValue(b, v)
	}
	return Key(b)
}

// colsKey is the encoding of r's values at cols after prefix.
func colsKey(prefix []byte, cols []int, r repl.Row) Key {
	var buf [keyBuf]byte
	return Key(appendCols(append(buf[:0], prefix...), cols, r))
}

// appendCols appends the encoding of r's values at cols to b.
func appendCols(b []byte, cols []int, r repl.Row) []byte {
	b = binary.AppendUvarint(b, uint64(len(cols)))
	for _, c := range cols {
		b = appendValue(b, r[c])
	}
	return b
}

func appendValue(b []byte, v repl.Value) []byte {
	b = append(b, byte(v.Kind()))
	b = binary.BigEndian.AppendUint64(b, v.Uint()) // the raw number of every kind
	cs := v.Charset()
	b = binary.AppendUvarint(b, uint64(len(cs)))
	b = append(b, cs...)
	d := v.Bytes()
	b = binary.AppendUvarint(b, uint64(len(d)))
	return append(b, d...)
}

// project returns r's values at cols.
func project(cols []int, r repl.Row) repl.Row {
	out := make(repl.Row, len(cols))
	for i, c := range cols {
		out[i] = r[c]
	}
	return out
}

// anyNull reports whether r has a NULL at one of cols.
func anyNull(cols []int, r repl.Row) bool {
	for _, c := range cols {
		if r[c].IsNull() {
			return true
		}
	}
	return false
}
