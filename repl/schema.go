package repl

import "fmt"

// ColumnType is the SQL type family of a column.
type ColumnType string

// Table is the schema of one table at one point of the binlog: what a row
// image of that time needs to be decoded and compared.
type Table struct {
	Schema  string   `json:"schema"`
	Name    string   `json:"name"`
	Columns []Column `json:"columns"`
	// PrimaryKey holds column indexes into Columns; empty when the table has
	// no primary key.
	PrimaryKey []int `json:"primary_key,omitempty"`
	// UniqueKeys holds the other unique keys, each as column indexes.
	UniqueKeys []UniqueKey `json:"unique_keys,omitempty"`
}

// UniqueKey is a named unique index.
type UniqueKey struct {
	Name    string `json:"name"`
	Columns []int  `json:"columns"`
}

// Column describes one column.
type Column struct {
	Name string `json:"name"`
	// Type is the lower-case base type as SHOW CREATE TABLE names it:
	// "int", "bigint", "decimal", "varchar", "datetime", "enum"...
	Type      string `json:"type"`
	Length    int    `json:"length,omitempty"`   // display or character length
	Decimals  int    `json:"decimals,omitempty"` // DECIMAL scale or fractional seconds precision
	Unsigned  bool   `json:"unsigned,omitempty"`
	Nullable  bool   `json:"nullable,omitempty"`
	Charset   string `json:"charset,omitempty"`
	Collation string `json:"collation,omitempty"`
	// Members are the ENUM or SET members, in definition order.
	Members []string `json:"members,omitempty"`
	// Generated is "", "virtual" or "stored".
	Generated string `json:"generated,omitempty"`
}

// QualifiedName is `schema`.`table` for logs and reports (never for SQL:
// use QuoteIdent).
func (t *Table) QualifiedName() string { return t.Schema + "." + t.Name }

// ColumnIndex returns the index of the named column, or -1.
func (t *Table) ColumnIndex(name string) int {
	for i, c := range t.Columns {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// KeyColumns returns the columns that identify a row: the primary key, else
// the first unique key whose columns are all NOT NULL, else nil (the whole
// row identifies it). Keys with no columns or out-of-range columns (which
// Validate rejects) are skipped.
func (t *Table) KeyColumns() []int {
	if len(t.PrimaryKey) > 0 {
		return t.PrimaryKey
	}
	for _, uk := range t.UniqueKeys {
		ok := len(uk.Columns) > 0
		for _, c := range uk.Columns {
			if c < 0 || c >= len(t.Columns) || t.Columns[c].Nullable {
				ok = false
				break
			}
		}
		if ok {
			return uk.Columns
		}
	}
	return nil
}

// Validate checks that key indexes point at columns, once each, and that
// every unique key has columns.
func (t *Table) Validate() error {
	check := func(what string, cols []int) error {
		seen := make(map[int]bool, len(cols))
		for _, c := range cols {
			if c < 0 || c >= len(t.Columns) {
				return fmt.Errorf("table %s: %s refers to column %d of %d", t.QualifiedName(), what, c, len(t.Columns))
			}
			if seen[c] {
				return fmt.Errorf("table %s: %s lists column %d twice", t.QualifiedName(), what, c)
			}
			seen[c] = true
		}
		return nil
	}
	if err := check("primary key", t.PrimaryKey); err != nil {
		return err
	}
	for _, uk := range t.UniqueKeys {
		if len(uk.Columns) == 0 {
			return fmt.Errorf("table %s: unique key %s has no columns", t.QualifiedName(), uk.Name)
		}
		if err := check("unique key "+uk.Name, uk.Columns); err != nil {
			return err
		}
	}
	return nil
}
