package streamer

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/recoup-dev/recoup/repl"
)

// TableFromMap builds the schema a table map event describes.
//
// With binlog_row_metadata=FULL the event alone gives column names, types,
// lengths, decimals, signedness, character sets and collations, ENUM and
// SET members, nullability and the primary key. hist, the table's schema
// from history (may be nil), adds what the binlog never carries: unique
// keys, which columns are generated (VIRTUAL and STORED columns are both in
// a FULL row image, with their computed values), integer display widths,
// and type names the binlog cannot tell apart (MariaDB's JSON is LONGTEXT,
// INET6 and UUID are BINARY(16)). Its columns are matched by name, and a
// history column whose type does not fit the binlog's is ignored as stale.
//
// Without column names in the event, hist is required and must have the
// event's column count; its columns are matched by position and must fit
// the binlog types, else the history is wrong for this point of the binlog
// and TableFromMap fails. Signedness, charsets and members then come from
// the event when it has them (binlog_row_metadata=MINIMAL), else from hist.
//
// hist must name the same table as the event.
func TableFromMap(tme *replication.TableMapEvent, hist *repl.Table) (t repl.Table, err error) {
	if err := checkTableMap(tme); err != nil {
		return repl.Table{}, err
	}
	t = repl.Table{Schema: string(tme.Schema), Name: string(tme.Table)}
	if hist != nil && (hist.Schema != t.Schema || hist.Name != t.Name) {
		return repl.Table{}, fmt.Errorf("schema history of %s was given for table %s", hist.QualifiedName(), t.QualifiedName())
	}
	defer func() {
		// go-mysql's metadata accessors index without bounds checks.
		if r := recover(); r != nil {
			t, err = repl.Table{}, fmt.Errorf("table map event for %s has malformed metadata: %v", t.QualifiedName(), r)
		}
	}()
	m := newMapInfo(tme)
	n := int(tme.ColumnCount)
	full := len(m.names) == n
	switch {
	case !full && hist == nil:
		return repl.Table{}, fmt.Errorf("table %s: %w", t.QualifiedName(), ErrNoColumnNames)
	case !full && len(hist.Columns) != n:
		return repl.Table{}, fmt.Errorf("table %s: schema history has %d columns, the binlog %d: history does not match this point of the binlog",
			t.QualifiedName(), len(hist.Columns), n)
	}
	t.Columns = make([]repl.Column, n)
	for i := range n {
		if t.Columns[i], err = m.column(i, full, hist); err != nil {
			return repl.Table{}, fmt.Errorf("table %s column %d: %w", t.QualifiedName(), i+1, err)
		}
	}
	if err := m.keys(&t, full, hist); err != nil {
		return repl.Table{}, err
	}
	return t, t.Validate()
}

// mapInfo is the optional metadata of one table map event, by column.
type mapInfo struct {
	tme        *replication.TableMapEvent
	names      []string
	unsigned   map[int]bool
	collations map[int]uint64
	enumSet    map[int]uint64 // ENUM and SET collations
	enums      map[int][]string
	sets       map[int][]string
	geometry   map[int]uint64
}

func newMapInfo(tme *replication.TableMapEvent) *mapInfo {
	return &mapInfo{
		tme:        tme,
		names:      tme.ColumnNameString(),
		unsigned:   unsignedMap(tme),
		collations: tme.CollationMap(),
		enumSet:    tme.EnumSetCollationMap(),
		enums:      tme.EnumStrValueMap(),
		sets:       tme.SetStrValueMap(),
		geometry:   tme.GeometryTypeMap(),
	}
}

// unsignedMap decodes the signedness bitmap: one bit per numeric column,
// most significant bit first. go-mysql's UnsignedMap counts the integer,
// DECIMAL, FLOAT and DOUBLE columns as MySQL does, but MariaDB also gives
// YEAR columns a bit, so with go-mysql's map every flag after a YEAR
// column belongs to the column before it.
func unsignedMap(tme *replication.TableMapEvent) map[int]bool {
	if len(tme.SignednessBitmap) == 0 {
		return nil
	}
	mariadb := tableMapFlavor(tme) == "mariadb"
	out := make(map[int]bool)
	bit := 0
	for i := range int(tme.ColumnCount) {
		bc := columnOf(tme, i)
		numeric := bc.isInteger() || bc.typ == mysql.MYSQL_TYPE_NEWDECIMAL || bc.typ == mysql.MYSQL_TYPE_FLOAT ||
			bc.typ == mysql.MYSQL_TYPE_DOUBLE || (mariadb && bc.typ == mysql.MYSQL_TYPE_YEAR)
		if !numeric {
			continue
		}
		if bit/8 >= len(tme.SignednessBitmap) {
			break
		}
		out[i] = tme.SignednessBitmap[bit/8]&(0x80>>(bit%8)) != 0
		bit++
	}
	return out
}

// tableMapFlavor is the server flavor the event's parser was given
// (BinlogSyncerConfig.Flavor or BinlogParser.SetFlavor). go-mysql keeps it
// unexported, yet it decides how the metadata counts columns; reading it
// by reflection keeps TableFromMap's signature free of it.
func tableMapFlavor(tme *replication.TableMapEvent) string {
	f := reflect.ValueOf(tme).Elem().FieldByName("flavor")
	if f.Kind() != reflect.String {
		return ""
	}
	return f.String()
}

// column builds column i. With full metadata the history column of the
// same name (if any and if its type fits) refines it; without, history
// column i must fit and gives the name and whatever the event lacks.
func (m *mapInfo) column(i int, full bool, hist *repl.Table) (repl.Column, error) {
	bc := columnOf(m.tme, i)
	col, err := bc.baseColumn()
	if err != nil {
		return col, err
	}
	var h *repl.Column
	if full {
		col.Name = m.names[i]
		if hist != nil {
			if hi := hist.ColumnIndex(col.Name); hi >= 0 && typeFits(bc.typ, hist.Columns[hi].Type) {
				h = &hist.Columns[hi]
			}
		}
	} else {
		h = &hist.Columns[i]
		if !typeFits(bc.typ, h.Type) {
			return col, fmt.Errorf("schema history says %s is %s but the binlog has a %s column: history does not match this point of the binlog",
				h.Name, h.Type, col.Type)
		}
		col.Name = h.Name
	}
	_, col.Nullable = m.tme.Nullable(i)
	if h != nil && h.Decimals > 0 && isOldTemporal(bc.typ) {
		return col, fmt.Errorf("%s is %s(%d) in MariaDB's pre-10.1 temporal format (information_schema shows "+
			"/* mariadb-5.3 */): the binlog does not carry its fractional precision, so its rows cannot be decoded; "+
			"rebuild the table with ALTER TABLE ... FORCE", col.Name, col.Type, h.Decimals)
	}
	if err := m.fill(&col, bc, i, h); err != nil {
		return col, fmt.Errorf("%s: %w", col.Name, err)
	}
	if h != nil {
		col.Generated = h.Generated
		if col.Length == 0 {
			col.Length = h.Length
		}
		if h.Type != "" && !isDerivedType(strings.ToLower(h.Type)) {
			col.Type = strings.ToLower(h.Type)
		}
	}
	return col, nil
}

// isOldTemporal reports whether typ is one of the temporal types of the
// pre-5.6 (MariaDB pre-10.1) storage format. With fractional seconds MariaDB
// still logs them under these types, with no metadata and a longer image.
func isOldTemporal(typ byte) bool {
	return typ == mysql.MYSQL_TYPE_TIME || typ == mysql.MYSQL_TYPE_DATETIME || typ == mysql.MYSQL_TYPE_TIMESTAMP
}

// fill adds signedness, character set and members, from the event or else
// from the history column h (nil when there is none).
func (m *mapInfo) fill(col *repl.Column, bc binlogColumn, i int, h *repl.Column) error {
	switch {
	case bc.isInteger() || bc.typ == mysql.MYSQL_TYPE_NEWDECIMAL || bc.typ == mysql.MYSQL_TYPE_FLOAT || bc.typ == mysql.MYSQL_TYPE_DOUBLE:
		if u, ok := m.unsigned[i]; ok {
			col.Unsigned = u
		} else if h != nil {
			col.Unsigned = h.Unsigned
		} else if bc.isInteger() {
			return fmt.Errorf("signedness is neither in the table map nor in the schema history")
		}
	case bc.isString():
		coll, err := m.collation(m.collations, i, h)
		if err != nil {
			return err
		}
		applyCharset(col, bc, coll)
	case bc.isEnumOrSet():
		members, ok := m.enums[i]
		if bc.typ == mysql.MYSQL_TYPE_SET {
			members, ok = m.sets[i]
		}
		if !ok && h != nil && len(h.Members) > 0 {
			members, ok = h.Members, true
		}
		if !ok {
			return fmt.Errorf("%s members are neither in the table map nor in the schema history", col.Type)
		}
		col.Members = append([]string(nil), members...)
		if coll, err := m.collation(m.enumSet, i, h); err == nil {
			col.Charset, col.Collation = coll.charset, coll.name
		}
	case bc.typ == mysql.MYSQL_TYPE_GEOMETRY:
		if g, ok := m.geometry[i]; ok && g < uint64(len(geometryTypes)) {
			col.Type = geometryTypes[g]
		}
	}
	return nil
}

// collation returns column i's collation from the event's map, else from
// the history column.
func (m *mapInfo) collation(ids map[int]uint64, i int, h *repl.Column) (collation, error) {
	if id, ok := ids[i]; ok {
		if c, ok := knownCollations().lookup(id); ok {
			if c.name == "" && h != nil && h.Collation != "" {
				c.name = h.Collation
			}
			return c, nil
		}
		if h == nil || h.Charset == "" {
			return collation{}, fmt.Errorf("unknown collation id %d and no schema history", id)
		}
	}
	if h != nil && h.Charset != "" {
		return collation{name: h.Collation, charset: h.Charset}, nil
	}
	return collation{}, fmt.Errorf("character set is neither in the table map nor in the schema history")
}

// keys sets the primary key (from the event with full metadata, else from
// history) and the unique keys (from history, matched by column name; a key
// naming a column the table no longer has is dropped).
func (m *mapInfo) keys(t *repl.Table, full bool, hist *repl.Table) error {
	n := len(t.Columns)
	if full {
		for _, pk := range m.tme.PrimaryKey {
			if pk >= uint64(n) {
				return fmt.Errorf("table %s: primary key column %d of %d columns", t.QualifiedName(), pk, n)
			}
			t.PrimaryKey = append(t.PrimaryKey, int(pk))
		}
	} else {
		t.PrimaryKey = append([]int(nil), hist.PrimaryKey...)
	}
	if hist == nil {
		return nil
	}
	for _, uk := range hist.UniqueKeys {
		cols := make([]int, 0, len(uk.Columns))
		for _, hc := range uk.Columns {
			if hc < 0 || hc >= len(hist.Columns) {
				break
			}
			if ci := t.ColumnIndex(hist.Columns[hc].Name); ci >= 0 {
				cols = append(cols, ci)
			}
		}
		if len(cols) == len(uk.Columns) && len(cols) > 0 {
			t.UniqueKeys = append(t.UniqueKeys, repl.UniqueKey{Name: uk.Name, Columns: cols})
		}
	}
	return nil
}

// isDerivedType reports whether name is one that baseColumn, applyCharset
// and the geometry metadata produce: a history type outside this set is a
// refinement the binlog cannot express (json, inet6, uuid, bool...) and
// replaces the derived name.
func isDerivedType(name string) bool {
	switch name {
	case "tinyint", "smallint", "mediumint", "int", "bigint", "decimal", "float", "double", "bit",
		"timestamp", "datetime", "time", "date", "year", "varchar", "varbinary", "char", "binary",
		"enum", "set", "tinytext", "text", "mediumtext", "longtext", "tinyblob", "blob", "mediumblob",
		"longblob", "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring",
		"multipolygon", "geometrycollection", "vector":
		return true
	}
	return false
}

// familyTypes are the binlog types whose name families typeFits checks.
var familyTypes = [...]byte{mysql.MYSQL_TYPE_TINY, mysql.MYSQL_TYPE_SHORT, mysql.MYSQL_TYPE_INT24,
	mysql.MYSQL_TYPE_LONG, mysql.MYSQL_TYPE_LONGLONG, mysql.MYSQL_TYPE_NEWDECIMAL, mysql.MYSQL_TYPE_FLOAT,
	mysql.MYSQL_TYPE_DOUBLE, mysql.MYSQL_TYPE_BIT, mysql.MYSQL_TYPE_TIMESTAMP2, mysql.MYSQL_TYPE_DATETIME2,
	mysql.MYSQL_TYPE_TIME2, mysql.MYSQL_TYPE_NEWDATE, mysql.MYSQL_TYPE_YEAR, mysql.MYSQL_TYPE_VARCHAR,
	mysql.MYSQL_TYPE_STRING, mysql.MYSQL_TYPE_ENUM, mysql.MYSQL_TYPE_SET, mysql.MYSQL_TYPE_BLOB,
	mysql.MYSQL_TYPE_JSON, mysql.MYSQL_TYPE_GEOMETRY, mysql.MYSQL_TYPE_VECTOR}

// typeFits reports whether a history column type can be stored with binlog
// type typ. Type names of no family fit anything (recoup does not know
// every server's aliases); a name of another family does not fit.
func typeFits(typ byte, histType string) bool {
	h := strings.ToLower(strings.TrimSpace(histType))
	if h == "" || inFamily(typ, h) {
		return true
	}
	for _, t := range familyTypes {
		if inFamily(t, h) {
			return false
		}
	}
	return true
}

func inFamily(typ byte, name string) bool {
	for _, f := range strings.Fields(typeFamily(typ)) {
		if f == name {
			return true
		}
	}
	return false
}

// typeFamily lists the SQL type names stored with binlog type typ.
func typeFamily(typ byte) string {
	switch typ {
	case mysql.MYSQL_TYPE_TINY:
		return "tinyint bool boolean int1"
	case mysql.MYSQL_TYPE_SHORT:
		return "smallint int2"
	case mysql.MYSQL_TYPE_INT24:
		return "mediumint int3 middleint"
	case mysql.MYSQL_TYPE_LONG:
		return "int integer int4"
	case mysql.MYSQL_TYPE_LONGLONG:
		return "bigint int8 serial"
	case mysql.MYSQL_TYPE_NEWDECIMAL:
		return "decimal numeric dec fixed number"
	case mysql.MYSQL_TYPE_FLOAT:
		return "float float4"
	case mysql.MYSQL_TYPE_DOUBLE:
		return "double real float8"
	case mysql.MYSQL_TYPE_BIT:
		return "bit"
	case mysql.MYSQL_TYPE_TIMESTAMP, mysql.MYSQL_TYPE_TIMESTAMP2:
		return "timestamp"
	case mysql.MYSQL_TYPE_DATETIME, mysql.MYSQL_TYPE_DATETIME2:
		return "datetime"
	case mysql.MYSQL_TYPE_TIME, mysql.MYSQL_TYPE_TIME2:
		return "time"
	case mysql.MYSQL_TYPE_NEWDATE:
		return "date"
	case mysql.MYSQL_TYPE_YEAR:
		return "year"
	case mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING:
		return "varchar varbinary nvarchar"
	case mysql.MYSQL_TYPE_STRING:
		return "char binary nchar inet6 inet4 uuid"
	case mysql.MYSQL_TYPE_ENUM:
		return "enum"
	case mysql.MYSQL_TYPE_SET:
		return "set"
	case mysql.MYSQL_TYPE_BLOB:
		return "tinytext text mediumtext longtext tinyblob blob mediumblob longblob json long"
	case mysql.MYSQL_TYPE_JSON:
		return "json"
	case mysql.MYSQL_TYPE_GEOMETRY:
		return "geometry point linestring polygon multipoint multilinestring multipolygon geometrycollection"
	case mysql.MYSQL_TYPE_VECTOR:
		return "vector"
	}
	return ""
}
