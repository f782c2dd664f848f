package repl

import "time"

// BinlogPos is a binlog file and byte offset on one server.
type BinlogPos struct {
	File string `json:"file"`
	Pos  uint32 `json:"pos"`
}

// Row is one row image: one Value per column of its Table, in order.
type Row []Value

// Equal compares two row images column by column with Value.Equal.
func (r Row) Equal(o Row) bool {
	if len(r) != len(o) {
		return false
	}
	for i := range r {
		if !r[i].Equal(o[i]) {
			return false
		}
	}
	return true
}

// ChangeType tells an insert, update or delete apart.
type ChangeType uint8

const (
	Insert ChangeType = iota + 1
	Update
	Delete
)

func (c ChangeType) String() string {
	switch c {
	case Insert:
		return "insert"
	case Update:
		return "update"
	case Delete:
		return "delete"
	}
	return "unknown"
}

// RowChange is one changed row. Before is nil for an insert, After is nil
// for a delete.
type RowChange struct {
	Table  *Table
	Before Row
	After  Row
}

// Type derives the change type from which images are present.
func (c RowChange) Type() ChangeType {
	switch {
	case c.Before == nil:
		return Insert
	case c.After == nil:
		return Delete
	}
	return Update
}

// Statement is a statement in the transaction that is not a row change:
// DDL, or a statement-format query.
type Statement struct {
	Schema string `json:"schema"`
	Query  string `json:"query"`
}

// Txn is one committed transaction, as its origin master wrote it.
type Txn struct {
	GTID       GTID
	ServerID   uint32    // the origin server id from the event header
	CommitTime time.Time // the commit event's timestamp (second precision), UTC
	Start, End BinlogPos // where the transaction starts and ends in the origin's binlog
	Changes    []RowChange
	Statements []Statement // DDL and other statements, in order
}

// IsDDL reports whether the transaction is a DDL statement with no rows.
func (t *Txn) IsDDL() bool { return len(t.Changes) == 0 && len(t.Statements) > 0 }
