package streamer

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/mysql"
	"github.com/pingcap/tidb/pkg/parser/types"

	"github.com/recoup-dev/recoup/repl"
)

// tableDraft is a table being changed by DDL. Keys hold column names, so
// adding, dropping and moving columns needs no index bookkeeping; entry
// turns it back into a repl.Table.
type tableDraft struct {
	schema, name       string
	cols               []repl.Column
	pk                 []string
	uks                []draftKey
	charset, collation string
	uncertain          bool // derived from a table read when the server may have been ahead
}

type draftKey struct {
	name string
	cols []string
}

func draftOf(e *tableEntry) *tableDraft {
	d := &tableDraft{schema: e.t.Schema, name: e.t.Name, cols: slices.Clone(e.t.Columns),
		charset: e.charset, collation: e.collation, uncertain: e.uncertain}
	names := func(idx []int) []string {
		out := make([]string, len(idx))
		for i, c := range idx {
			out[i] = e.t.Columns[c].Name
		}
		return out
	}
	if len(e.t.PrimaryKey) > 0 {
		d.pk = names(e.t.PrimaryKey)
	}
	for _, uk := range e.t.UniqueKeys {
		d.uks = append(d.uks, draftKey{uk.Name, names(uk.Columns)})
	}
	return d
}

// entry builds the stored form. Unique keys are sorted by name, the order
// information_schema gives too.
func (d *tableDraft) entry(k tableKey) (*tableEntry, error) {
	t := repl.Table{Schema: k.schema, Name: k.name, Columns: slices.Clone(d.cols)}
	idx := func(names []string) ([]int, error) {
		out := make([]int, len(names))
		for i, n := range names {
			if out[i] = d.col(n); out[i] < 0 {
				return nil, fmt.Errorf("%w: key on unknown column %q", errFallback, n)
			}
		}
		return out, nil
	}
	var err error
	if len(d.pk) > 0 {
		if t.PrimaryKey, err = idx(d.pk); err != nil {
			return nil, err
		}
	}
	for _, uk := range d.uks {
		cols, err := idx(uk.cols)
		if err != nil {
			return nil, err
		}
		t.UniqueKeys = append(t.UniqueKeys, repl.UniqueKey{Name: uk.name, Columns: cols})
	}
	sort.Slice(t.UniqueKeys, func(i, j int) bool { return t.UniqueKeys[i].Name < t.UniqueKeys[j].Name })
	return &tableEntry{t: t, charset: d.charset, collation: d.collation, uncertain: d.uncertain}, t.Validate()
}

// col finds a column by name; column names are case-insensitive.
func (d *tableDraft) col(name string) int {
	for i, c := range d.cols {
		if strings.EqualFold(c.Name, name) {
			return i
		}
	}
	return -1
}

// insert puts c at pos (FIRST, AFTER x), or at def when pos names none.
func (d *tableDraft) insert(c repl.Column, pos *ast.ColumnPosition, def int) error {
	at := def
	if pos != nil {
		switch pos.Tp {
		case ast.ColumnPositionFirst:
			at = 0
		case ast.ColumnPositionAfter:
			i := d.col(pos.RelativeColumn.Name.O)
			if i < 0 {
				return fmt.Errorf("%w: AFTER unknown column %s", errFallback, pos.RelativeColumn.Name.O)
			}
			at = i + 1
		}
	}
	d.cols = slices.Insert(d.cols, at, c)
	return nil
}

func (d *tableDraft) remove(i int) { d.cols = slices.Delete(d.cols, i, i+1) }

// addUnique adds a unique key; an unnamed one is named after its first
// column as the server does (name, name_2, ...).
func (d *tableDraft) addUnique(name string, cols []string) {
	if name == "" {
		name = cols[0]
		for n := 2; d.uniqueIndex(name) >= 0 || strings.EqualFold(name, "PRIMARY"); n++ {
			name = fmt.Sprintf("%s_%d", cols[0], n)
		}
	}
	d.uks = append(d.uks, draftKey{name, cols})
}

func (d *tableDraft) uniqueIndex(name string) int {
	for i, uk := range d.uks {
		if strings.EqualFold(uk.name, name) {
			return i
		}
	}
	return -1
}

func (d *tableDraft) dropIndex(name string) {
	if strings.EqualFold(name, "PRIMARY") {
		d.pk = nil
		return
	}
	if i := d.uniqueIndex(name); i >= 0 {
		d.uks = slices.Delete(d.uks, i, i+1)
	}
}

func (d *tableDraft) renameInKeys(old, new string) {
	ren := func(cols []string) {
		for i, c := range cols {
			if strings.EqualFold(c, old) {
				cols[i] = new
			}
		}
	}
	d.pk = slices.Clone(d.pk)
	ren(d.pk)
	for i := range d.uks {
		d.uks[i].cols = slices.Clone(d.uks[i].cols)
		ren(d.uks[i].cols)
	}
}

// dropColumnKeys removes the single-column keys on a dropped column. A
// column in a multi-column key makes the server rewrite or refuse the key,
// depending on version: that is left to information_schema.
func (d *tableDraft) dropColumnKeys(name string) error {
	in := func(cols []string) bool {
		return slices.ContainsFunc(cols, func(c string) bool { return strings.EqualFold(c, name) })
	}
	if in(d.pk) && len(d.pk) > 1 {
		return fmt.Errorf("%w: dropping a column of a multi-column primary key", errFallback)
	}
	if in(d.pk) {
		d.pk = nil
	}
	kept := d.uks[:0:0]
	for _, uk := range d.uks {
		switch {
		case !in(uk.cols):
			kept = append(kept, uk)
		case len(uk.cols) > 1:
			return fmt.Errorf("%w: dropping a column of multi-column unique key %s", errFallback, uk.name)
		}
	}
	d.uks = kept
	return nil
}

// keyCols returns the column names of a key, false for a functional key
// (an expression part), which cannot identify rows by columns.
func keyCols(parts []*ast.IndexPartSpecification) ([]string, bool) {
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		if p.Column == nil || p.Expr != nil {
			return nil, false
		}
		out = append(out, p.Column.Name.O)
	}
	return out, true
}

// constraint applies a PRIMARY KEY or UNIQUE constraint; other
// constraints (plain indexes, foreign keys, checks) change no key we keep.
func (d *tableDraft) constraint(c *ast.Constraint) error {
	switch c.Tp {
	case ast.ConstraintPrimaryKey:
		cols, ok := keyCols(c.Keys)
		if !ok || len(d.pk) > 0 {
			return fmt.Errorf("%w: primary key that is functional or replaces another", errFallback)
		}
		d.pk = cols
		for _, n := range cols {
			if i := d.col(n); i >= 0 {
				d.cols[i].Nullable = false
			}
		}
	case ast.ConstraintUniq, ast.ConstraintUniqKey, ast.ConstraintUniqIndex:
		cols, ok := keyCols(c.Keys)
		if !ok || (c.IfNotExists && c.Name != "" && d.uniqueIndex(c.Name) >= 0) {
			return nil
		}
		d.addUnique(c.Name, cols)
	}
	return nil
}

// colEnv is what a column definition inherits: the table's default
// character set and collation, and the server's charset facts.
type colEnv struct {
	charset, collation string
	flavor             repl.Flavor
	facts              *serverFacts
}

// keyOpts are the inline key options of a column definition.
type keyOpts struct{ pk, unique bool }

func (d *tableDraft) applyKeyOpts(name string, ko keyOpts) error {
	if ko.pk {
		if len(d.pk) > 0 {
			return fmt.Errorf("%w: second primary key", errFallback)
		}
		d.pk = []string{name}
	}
	if ko.unique {
		d.addUnique("", []string{name})
	}
	return nil
}

// column translates one column definition. Anything whose outcome
// depends on server settings it cannot see is errFallback.
func (env colEnv) column(def *ast.ColumnDef) (repl.Column, keyOpts, error) {
	ft := def.Tp
	c := repl.Column{Name: def.Name.Name.O, Nullable: true, Unsigned: mysql.HasUnsignedFlag(ft.GetFlag())}
	var ko keyOpts
	explicitNull := false
	coll := ft.GetCollate()
	for _, o := range def.Options {
		switch o.Tp {
		case ast.ColumnOptionNotNull:
			c.Nullable, explicitNull = false, true
		case ast.ColumnOptionNull:
			c.Nullable, explicitNull = true, true
		case ast.ColumnOptionPrimaryKey:
			ko.pk, c.Nullable, explicitNull = true, false, true
		case ast.ColumnOptionUniqKey:
			ko.unique = true
		case ast.ColumnOptionGenerated:
			c.Generated = "virtual"
			if o.Stored {
				c.Generated = "stored"
			}
		case ast.ColumnOptionCollate:
			coll = o.StrValue
		}
	}
	if ft.GetType() == mysql.TypeTimestamp && !explicitNull {
		return c, ko, fmt.Errorf("%w: TIMESTAMP column %s without NULL or NOT NULL (depends on explicit_defaults_for_timestamp)", errFallback, c.Name)
	}
	if err := env.typeOf(&c, ft); err != nil {
		return c, ko, err
	}
	return c, ko, env.charsetOf(&c, ft, coll)
}

// typeOf sets Type, Length, Decimals and Members the way SHOW CREATE TABLE
// prints them; the information_schema path gives the same.
func (env colEnv) typeOf(c *repl.Column, ft *types.FieldType) error {
	tp, flen, dec := ft.GetType(), ft.GetFlen(), ft.GetDecimal()
	c.Type = types.TypeToStr(tp, ft.GetCharset())
	switch tp {
	case mysql.TypeTiny, mysql.TypeShort, mysql.TypeInt24, mysql.TypeLong, mysql.TypeLonglong:
		c.Length = max(flen, 0)
		if c.Length == 0 && env.flavor == repl.MariaDB {
			c.Length = mariadbIntWidth(tp, c.Unsigned)
		}
	case mysql.TypeBit:
		c.Length = max(flen, 1)
	case mysql.TypeYear:
		c.Length = max(flen, 0)
		if c.Length == 0 && env.flavor == repl.MariaDB {
			c.Length = 4
		}
	case mysql.TypeNewDecimal:
		c.Length, c.Decimals = flen, max(dec, 0)
		if flen <= 0 {
			c.Length = 10
		}
	case mysql.TypeFloat, mysql.TypeDouble:
		if flen > 0 && dec >= 0 {
			c.Length, c.Decimals = flen, dec
		}
	case mysql.TypeString, mysql.TypeVarchar:
		c.Length = flen
		if flen < 0 && tp == mysql.TypeString {
			c.Length = 1
		}
		if c.Length < 0 {
			return fmt.Errorf("%w: %s without a length", errFallback, c.Name)
		}
	case mysql.TypeTinyBlob, mysql.TypeBlob, mysql.TypeMediumBlob, mysql.TypeLongBlob:
		if flen > 0 {
			return fmt.Errorf("%w: %s(%d): the server picks the TEXT/BLOB size", errFallback, c.Type, flen)
		}
	case mysql.TypeDatetime, mysql.TypeTimestamp, mysql.TypeDuration:
		c.Decimals = max(dec, 0)
	case mysql.TypeEnum, mysql.TypeSet:
		c.Members = slices.Clone(ft.GetElems())
	case mysql.TypeDate:
	case mysql.TypeJSON:
		if env.flavor == repl.MariaDB {
			return fmt.Errorf("%w: MariaDB stores JSON as LONGTEXT", errFallback)
		}
	default:
		return fmt.Errorf("%w: column %s of type %s", errFallback, c.Name, c.Type)
	}
	return nil
}

func mariadbIntWidth(tp byte, unsigned bool) int {
	w := map[byte][2]int{mysql.TypeTiny: {4, 3}, mysql.TypeShort: {6, 5}, mysql.TypeInt24: {9, 8},
		mysql.TypeLong: {11, 10}, mysql.TypeLonglong: {20, 20}}[tp]
	if unsigned {
		return w[1]
	}
	return w[0]
}

// charsetOf sets Charset and Collation of character columns: the
// column's own, else the table's. Binary types have neither.
func (env colEnv) charsetOf(c *repl.Column, ft *types.FieldType, coll string) error {
	tp := ft.GetType()
	if !types.IsTypeChar(tp) && !types.IsTypeBlob(tp) && tp != mysql.TypeEnum && tp != mysql.TypeSet {
		return nil
	}
	cs := ft.GetCharset()
	switch {
	case cs == "binary" && tp != mysql.TypeEnum && tp != mysql.TypeSet:
		return nil
	case cs == "binary":
		return fmt.Errorf("%w: binary ENUM/SET", errFallback)
	case mysql.HasBinaryFlag(ft.GetFlag()):
		return fmt.Errorf("%w: column %s with the BINARY attribute", errFallback, c.Name)
	}
	if cs == "" && coll == "" {
		cs, coll = env.charset, env.collation
	}
	cs, coll, err := env.facts.resolve(cs, coll)
	if err != nil {
		return err
	}
	if cs == "binary" {
		return fmt.Errorf("%w: character column %s in a binary-charset table", errFallback, c.Name)
	}
	c.Charset, c.Collation = cs, coll
	return nil
}
