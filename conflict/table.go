package conflict

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/recoup-dev/recoup/repl"
)

// tableInfo is what the planner derives once from a table schema.
type tableInfo struct {
	t       *repl.Table
	name    string   // QualifiedName
	sig     string   // signature: two schemas with the same one compare alike
	cols    []string // column names, shared by every RowDecision of the table
	key     []int    // identity columns; every column when keyless
	keyless bool
	// uniques are the unique indexes checked besides the identity: every
	// unique key except the one used as identity.
	uniques []uniqueIndex
}

type uniqueIndex struct {
	name   string
	cols   []int
	prefix []byte // uvarint(position+1): tells the indexes apart in one map
}

func newTableInfo(t *repl.Table) *tableInfo {
	ti := &tableInfo{t: t, name: t.QualifiedName(), sig: signature(t), cols: columnNames(t), key: t.KeyColumns()}
	if ti.key == nil {
		ti.keyless = true
		ti.key = make([]int, len(t.Columns))
		for i := range ti.key {
			ti.key[i] = i
		}
	}
	for _, uk := range t.UniqueKeys {
		if !ti.keyless && len(t.PrimaryKey) == 0 && slices.Equal(uk.Columns, ti.key) {
			continue // the identity already
		}
		p := binary.AppendUvarint(nil, uint64(len(ti.uniques)+1))
		ti.uniques = append(ti.uniques, uniqueIndex{name: uk.Name, cols: uk.Columns, prefix: p})
	}
	return ti
}

// signature covers what row comparison depends on: columns, their types
// and the keys.
func signature(t *repl.Table) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%q.%q", t.Schema, t.Name)
	for _, c := range t.Columns {
		fmt.Fprintf(&b, "|%q %q %t", c.Name, c.Type, c.Unsigned)
	}
	fmt.Fprintf(&b, "|pk%v", t.PrimaryKey)
	for _, uk := range t.UniqueKeys {
		fmt.Fprintf(&b, "|uk%q%v", uk.Name, uk.Columns)
	}
	return b.String()
}

// identity is the Key of row r (see KeyOf).
func (ti *tableInfo) identity(r repl.Row) Key {
	if ti.keyless {
		return ValuesKey(r...)
	}
	return colsKey(nil, ti.key, r)
}

// uniqueSlots returns the slots of r's non-NULL unique key values, with the
// index each belongs to (NULLs never collide in a unique index).
func (ti *tableInfo) uniqueSlots(r repl.Row) ([]string, []*uniqueIndex) {
	var slots []string
	var idx []*uniqueIndex
	for i := range ti.uniques {
		u := &ti.uniques[i]
		if anyNull(u.cols, r) {
			continue
		}
		slots = append(slots, string(colsKey(u.prefix, u.cols, r)))
		idx = append(idx, u)
	}
	return slots, idx
}

// render shows the identity columns of r for humans: "id=5, k=x".
func (ti *tableInfo) render(r repl.Row) string {
	if len(ti.key) == 1 { // the common case, one allocation fewer
		c := ti.key[0]
		return ti.cols[c] + "=" + r[c].String()
	}
	var b strings.Builder
	for i, c := range ti.key {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(ti.cols[c])
		b.WriteByte('=')
		b.WriteString(r[c].String())
	}
	return b.String()
}

// checkRow validates a row image against the table.
func (ti *tableInfo) checkRow(r repl.Row) error {
	if len(r) != len(ti.t.Columns) {
		return fmt.Errorf("row has %d values, table %s has %d columns", len(r), ti.name, len(ti.t.Columns))
	}
	return nil
}

// columnNames lists the column names of t.
func columnNames(t *repl.Table) []string {
	n := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		n[i] = c.Name
	}
	return n
}

// sameSchema reports whether t compares alike with the table ti was made
// from.
func (ti *tableInfo) sameSchema(t *repl.Table) bool { return t == ti.t || signature(t) == ti.sig }
