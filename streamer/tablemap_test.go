package streamer

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/recoup-dev/recoup/repl"
)

// freshTableMap parses, afresh, the table map event of the named table from the
// testdata records, with the parser set up as DecodeTxn sets it up (MariaDB
// flavor). Fresh, because go-mysql caches names and members in unexported
// fields on first use, which a copy made by minimalMap would keep.
func freshTableMap(t *testing.T, name string) *replication.TableMapEvent {
	t.Helper()
	tme := decodedTableMaps(t)[name]
	if tme == nil {
		t.Fatalf("no table map of %s in the testdata", name)
	}
	return tme
}

// decodedTableMaps parses the table map events of the testdata records, by table
// name.
func decodedTableMaps(t *testing.T) map[string]*replication.TableMapEvent {
	t.Helper()
	out := map[string]*replication.TableMapEvent{}
	for _, rec := range loadTestdata(t) {
		d := newTxnDecoder(rec)
		if err := d.formatDescription(rec.FormatDesc); err != nil {
			t.Fatal(err)
		}
		for _, raw := range rec.Events {
			ev, err := d.parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			if tme, ok := ev.Event.(*replication.TableMapEvent); ok {
				out[string(tme.Table)] = tme
			}
		}
	}
	return out
}

// minimalMap copies a fresh event (see freshTableMap) and strips what binlog_row_metadata=FULL adds over MINIMAL: names,
// members, primary key and charsets (signedness and geometry types stay, as
// MINIMAL keeps them).
func minimalMap(tme *replication.TableMapEvent, keepCharsets bool) *replication.TableMapEvent {
	m := *tme
	m.ColumnName, m.SetStrValue, m.EnumStrValue, m.PrimaryKey, m.PrimaryKeyPrefix = nil, nil, nil, nil, nil
	m.EnumSetDefaultCharset, m.EnumSetColumnCharset = nil, nil
	if !keepCharsets {
		m.DefaultCharset, m.ColumnCharset = nil, nil
	}
	return &m
}

// histOf is what schema history would hold for a table: the FULL schema
// plus what the binlog lacks.
func histOf(t *testing.T, tme *replication.TableMapEvent, edit func(h *repl.Table)) *repl.Table {
	t.Helper()
	h, err := TableFromMap(tme, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.Columns = slices.Clone(h.Columns)
	edit(&h)
	return &h
}

func TestTableFromMapMergesHistory(t *testing.T) {
	gen, txt := freshTableMap(t, "gen"), freshTableMap(t, "txt")
	hist := histOf(t, gen, func(h *repl.Table) {
		h.Columns[2].Generated, h.Columns[3].Generated, h.Columns[4].Generated = "virtual", "stored", "virtual"
		h.Columns[1].Length = 11                                                 // int(11): display width
		h.Columns[5].Type = "varchar"                                            // stale: z is an INT now
		h.Columns = append(h.Columns, repl.Column{Name: "dropped", Type: "int"}) // no longer in the binlog
		h.UniqueKeys = []repl.UniqueKey{{Name: "uk_a_z", Columns: []int{1, 5}}, {Name: "uk_gone", Columns: []int{6}}}
	})
	got, err := TableFromMap(gen, hist)
	if err != nil {
		t.Fatal(err)
	}
	if g := []string{got.Columns[2].Generated, got.Columns[3].Generated, got.Columns[4].Generated}; !slices.Equal(g, []string{"virtual", "stored", "virtual"}) {
		t.Errorf("generated %v", g)
	}
	if got.Columns[1].Length != 11 || got.Columns[5].Type != "int" || len(got.Columns) != 6 {
		t.Errorf("columns %+v", got.Columns)
	}
	if len(got.UniqueKeys) != 1 || got.UniqueKeys[0].Name != "uk_a_z" || !slices.Equal(got.UniqueKeys[0].Columns, []int{1, 5}) {
		t.Errorf("unique keys %+v", got.UniqueKeys)
	}
	if !slices.Equal(got.PrimaryKey, []int{0}) {
		t.Errorf("primary key %v", got.PrimaryKey)
	}

	// A type the binlog cannot tell (MariaDB's JSON is LONGTEXT) comes
	// from history; history cannot override what the binlog does tell.
	hist = histOf(t, txt, func(h *repl.Table) {
		h.Columns[h.ColumnIndex("j")].Type = "json"
		h.Columns[h.ColumnIndex("v_lat")].Charset = "utf8mb4"
		h.PrimaryKey = []int{1}
	})
	got, err = TableFromMap(txt, hist)
	if err != nil {
		t.Fatal(err)
	}
	if c := got.Columns[got.ColumnIndex("j")]; c.Type != "json" || c.Charset != "utf8mb4" {
		t.Errorf("j = %+v", c)
	}
	if c := got.Columns[got.ColumnIndex("v_lat")]; c.Charset != "latin1" {
		t.Errorf("v_lat = %+v", c)
	}
	if !slices.Equal(got.PrimaryKey, []int{0}) {
		t.Errorf("primary key %v, want the binlog's", got.PrimaryKey)
	}
}

func TestTableFromMapMinimalMetadata(t *testing.T) {
	for _, name := range []string{"num", "txt", "tm", "gen", "nokey", "bench", "old"} {
		full, err := TableFromMap(freshTableMap(t, name), nil)
		if err != nil {
			t.Fatal(err)
		}
		hist := histOf(t, freshTableMap(t, name), func(h *repl.Table) {})
		for _, keep := range []bool{true, false} {
			got, err := TableFromMap(minimalMap(freshTableMap(t, name), keep), hist)
			if err != nil {
				t.Fatalf("%s (charsets kept: %v): %v", name, keep, err)
			}
			for i := range full.Columns {
				if !mxSameColumn(got.Columns[i], full.Columns[i]) {
					t.Errorf("%s column %d from MINIMAL metadata and history:\n got  %+v\n want %+v", name, i, got.Columns[i], full.Columns[i])
				}
			}
			if !slices.Equal(got.PrimaryKey, full.PrimaryKey) {
				t.Errorf("%s primary key %v, want %v", name, got.PrimaryKey, full.PrimaryKey)
			}
		}
	}
}

func TestTableFromMapErrors(t *testing.T) {
	fresh := func(name string) *replication.TableMapEvent { return freshTableMap(t, name) }
	num := func() *replication.TableMapEvent { return fresh("num") }
	txt := func() *replication.TableMapEvent { return fresh("txt") }
	badCollation := fresh("txt")
	if len(badCollation.DefaultCharset) > 0 {
		badCollation.DefaultCharset = append([]uint64{9999}, badCollation.DefaultCharset[1:]...)
	} else {
		badCollation.ColumnCharset = append([]uint64{9999}, badCollation.ColumnCharset[1:]...)
	}
	badEnums := fresh("txt") // two ENUM columns, one member list
	badEnums.EnumStrValue = badEnums.EnumStrValue[:1]
	tests := []struct {
		name string
		tme  *replication.TableMapEvent
		hist *repl.Table
		want string
	}{
		{"no names, no history", minimalMap(num(), true), nil, ErrNoColumnNames.Error()},
		{"history of another table", num(), histOf(t, txt(), func(*repl.Table) {}), "was given for table mx.num"},
		{"history with other columns", minimalMap(num(), true), histOf(t, num(), func(h *repl.Table) {
			h.Columns = h.Columns[1:]
		}), "history has 24 columns, the binlog 25"},
		{"history with another type", minimalMap(num(), true), histOf(t, num(), func(h *repl.Table) {
			h.Columns[2].Type = "varchar"
		}), "says t_s is varchar"},
		{"history without members", minimalMap(num(), true), histOf(t, num(), func(h *repl.Table) {
			h.Columns[9].Members = nil
		}), "enum members are neither"},
		{"history without charset", minimalMap(txt(), false), histOf(t, txt(), func(h *repl.Table) {
			h.Columns[1].Charset = ""
		}), "character set is neither"},
		{"unknown collation", badCollation, nil, "unknown collation id 9999"},
		{"malformed metadata", badEnums, nil, "malformed"},
		{"old temporal format with fractions", fresh("old"), histOf(t, fresh("old"), func(h *repl.Table) {
			h.Columns[1].Decimals = 3
		}), "pre-10.1 temporal format"},
		{"nil event", nil, nil, "nil table map"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := TableFromMap(tc.tme, tc.hist)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("TableFromMap: %v, want an error containing %q", err, tc.want)
			}
			t.Log(err)
		})
	}
	_, err := TableFromMap(minimalMap(num(), true), nil)
	if !errors.Is(err, ErrNoColumnNames) {
		t.Errorf("error %v does not wrap ErrNoColumnNames", err)
	}
}

// Signedness: MariaDB gives YEAR a bit in the signedness bitmap, which
// go-mysql's UnsignedMap does not count, so with it every flag after a YEAR
// column is the previous numeric column's.
func TestUnsignedMapCountsMariaDBYear(t *testing.T) {
	num := freshTableMap(t, "num")
	got, err := TableFromMap(num, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range got.Columns {
		want := strings.HasSuffix(c.Name, "_u") || c.Name == "d52u" || c.Name == "fu"
		if c.Unsigned != want && c.Type != "year" {
			t.Errorf("%s unsigned = %v", c.Name, c.Unsigned)
		}
	}
	// go-mysql's map (the bug worked around): t_s, after y, reads as unsigned.
	if gm := freshTableMap(t, "num").UnsignedMap(); !gm[2] {
		t.Errorf("go-mysql's UnsignedMap now reads t_s as signed: if it counts MariaDB's YEAR now, unsignedMap can go")
	}
}
