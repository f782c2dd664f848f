package streamer

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/gob"
	"encoding/hex"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// mxBinlogPos reads the server's current binlog file and position.
func mxBinlogPos(t *testing.T, db *sql.DB) mysql.Position {
	t.Helper()
	rows, err := db.Query("SHOW MASTER STATUS")
	if err != nil {
		t.Fatalf("SHOW MASTER STATUS: %v", err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if !rows.Next() {
		t.Fatal("SHOW MASTER STATUS returned no row: is log_bin on?")
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	pos, err := strconv.ParseUint(string(vals[1]), 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	return mysql.Position{Name: string(vals[0]), Pos: uint32(pos)}
}

// mxReadRecords streams the binlog from start to end with a BinlogSyncer and
// cuts it into one capture.Record per GTID group, the way the streamer
// does: raw events, the file's format description, and each table map's
// schema from TableFromMap.
func mxReadRecords(t *testing.T, inst *sandbox.Instance, start, end mysql.Position) []capture.Record {
	t.Helper()
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID: 4242, Flavor: "mariadb", Host: inst.Host, Port: uint16(inst.Port),
		User: inst.User, Password: inst.Password, MaxReconnectAttempts: 1, Logger: slog.New(slog.DiscardHandler),
	})
	defer syncer.Close()
	st, err := syncer.StartSync(start)
	if err != nil {
		t.Fatalf("start binlog sync: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var recs []capture.Record
	var fde []byte
	var cur *capture.Record
	for {
		ev, err := st.GetEvent(ctx)
		if err != nil {
			t.Fatalf("reading binlog: %v", err)
		}
		raw := bytes.Clone(ev.RawData)
		switch e := ev.Event.(type) {
		case *replication.FormatDescriptionEvent:
			fde = raw
			continue
		case *replication.RotateEvent:
			continue
		case *replication.MariadbGTIDEvent:
			recs = append(recs, capture.Record{
				Kind: capture.KindTxn, GTID: repl.MariaDBGTID(e.GTID.DomainID, ev.Header.ServerID, e.GTID.SequenceNumber),
				ServerID: ev.Header.ServerID, CommitTime: time.Unix(int64(ev.Header.Timestamp), 0).UTC(), FormatDesc: fde,
				Start: repl.BinlogPos{File: start.Name, Pos: ev.Header.LogPos - ev.Header.EventSize},
			})
			cur = &recs[len(recs)-1]
		case *replication.TableMapEvent:
			tbl, err := TableFromMap(e, nil)
			if err != nil {
				t.Fatalf("TableFromMap(%s.%s): %v", e.Schema, e.Table, err)
			}
			cur.Tables = append(cur.Tables, capture.TableSchema{TableID: e.TableID, Table: tbl})
		}
		if cur != nil && ev.Header.LogPos > 0 {
			cur.Events = append(cur.Events, raw)
			cur.End = repl.BinlogPos{File: start.Name, Pos: ev.Header.LogPos}
		}
		if ev.Header.LogPos >= end.Pos {
			return recs
		}
	}
}

// column is one column as information_schema describes it.
type mxColumn struct {
	name, dataType, columnType, charset, collation, key, generated string
	nullable                                                       bool
	charLen, precision, scale, fsp                                 sql.NullInt64
}

func columns(t *testing.T, db *sql.DB, schema, table string) []mxColumn {
	t.Helper()
	rows, err := db.Query(`SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IFNULL(CHARACTER_SET_NAME,''),
		IFNULL(COLLATION_NAME,''), COLUMN_KEY, IS_GENERATED, IS_NULLABLE = 'YES', CHARACTER_MAXIMUM_LENGTH,
		NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, schema, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var cols []mxColumn
	for rows.Next() {
		var c mxColumn
		if err := rows.Scan(&c.name, &c.dataType, &c.columnType, &c.charset, &c.collation, &c.key, &c.generated,
			&c.nullable, &c.charLen, &c.precision, &c.scale, &c.fsp); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil || len(cols) == 0 {
		t.Fatalf("columns of %s.%s: %v (%d found)", schema, table, err, len(cols))
	}
	return cols
}

// exprs are the SELECT expressions that give column c's exact value as
// the server renders it, independently of the binlog: integers and
// temporal values through CAST AS CHAR (time_zone is UTC), floats through
// the binary protocol, strings as HEX.
func (c mxColumn) exprs() []string {
	q := "`" + c.name + "`"
	switch c.dataType {
	case "float", "double":
		return []string{q}
	case "bit", "year":
		return []string{"CAST(" + q + " AS UNSIGNED)"}
	case "enum", "set":
		return []string{"CAST(" + q + "+0 AS UNSIGNED)", "HEX(" + q + ")"}
	case "tinyint", "smallint", "mediumint", "int", "bigint", "decimal", "date", "time", "datetime", "timestamp":
		return []string{"CAST(" + q + " AS CHAR)"}
	}
	return []string{"HEX(" + q + ")"}
}

// value builds the expected repl.Value from the server's renderings.
func (c mxColumn) value(v []any) (repl.Value, error) {
	if v[0] == nil {
		return repl.Null(), nil
	}
	text := func(i int) string {
		if b, ok := v[i].([]byte); ok {
			return string(b)
		}
		return fmt.Sprint(v[i])
	}
	unhex := func(i int) []byte {
		b, _ := hex.DecodeString(text(i))
		return b
	}
	switch c.dataType {
	case "float":
		if f, ok := v[0].(float32); ok {
			return repl.Float32Value(f), nil
		}
		return repl.Value{}, fmt.Errorf("float column read as %T", v[0])
	case "double":
		if f, ok := v[0].(float64); ok {
			return repl.Float64Value(f), nil
		}
		return repl.Value{}, fmt.Errorf("double column read as %T", v[0])
	case "tinyint", "smallint", "mediumint", "int", "bigint":
		if strings.Contains(c.columnType, "unsigned") {
			u, err := strconv.ParseUint(text(0), 10, 64)
			return repl.UintValue(u), err
		}
		n, err := strconv.ParseInt(text(0), 10, 64)
		return repl.IntValue(n), err
	case "bit", "year":
		u, err := strconv.ParseUint(text(0), 10, 64)
		if c.dataType == "year" {
			return repl.YearValue(int64(u)), err
		}
		return repl.BitValue(u), err
	case "enum", "set":
		u, err := strconv.ParseUint(text(0), 10, 64)
		if c.dataType == "enum" {
			return repl.EnumValue(u, string(unhex(1))), err
		}
		return repl.SetValue(u, string(unhex(1))), err
	}
	kinds := map[string]repl.Kind{"decimal": repl.KindDecimal, "date": repl.KindDate, "time": repl.KindTime,
		"datetime": repl.KindDateTime, "timestamp": repl.KindTimestamp}
	if k, ok := kinds[c.dataType]; ok {
		return repl.TextValue(k, []byte(text(0))), nil
	}
	switch {
	case strings.Contains("geometry point linestring polygon multipoint multilinestring multipolygon geometrycollection", c.dataType):
		return repl.TextValue(repl.KindGeometry, unhex(0)), nil
	case c.charset == "":
		return repl.BytesValue(unhex(0)), nil
	}
	return repl.StringValue(unhex(0), c.charset), nil
}

// mxSnapshot reads every row of a table as expected values, keyed by the
// first column's text. It uses a prepared statement so floats come back in
// the binary protocol, bit-exact.
func mxSnapshot(t *testing.T, db *sql.DB, schema, table string) map[string]repl.Row {
	t.Helper()
	cols := columns(t, db, schema, table)
	var exprs []string
	for _, c := range cols {
		exprs = append(exprs, "`"+c.name+"` IS NULL")
		exprs = append(exprs, c.exprs()...)
	}
	q := fmt.Sprintf("SELECT %s FROM `%s`.`%s` WHERE ? = 1", strings.Join(exprs, ", "), schema, table)
	rows, err := db.Query(q, 1)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	out := map[string]repl.Row{}
	for rows.Next() {
		vals := make([]any, len(exprs))
		ptrs := make([]any, len(exprs))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row, at := make(repl.Row, len(cols)), 0
		for i, c := range cols {
			n := 1 + len(c.exprs())
			isNull := fmt.Sprint(vals[at]) == "1" || string(mxAsBytes(vals[at])) == "1"
			part := vals[at+1 : at+n]
			if isNull {
				part = []any{nil}
			}
			if row[i], err = c.value(part); err != nil {
				t.Fatalf("%s.%s: expected value: %v", table, c.name, err)
			}
			at += n
		}
		out[row[0].String()] = row
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func mxAsBytes(v any) []byte {
	b, _ := v.([]byte)
	return b
}

// mxSameRow compares a decoded row with the server's, naming each differing
// column.
func mxSameRow(t *testing.T, what string, cols []repl.Column, got, want repl.Row) {
	t.Helper()
	if want == nil {
		t.Errorf("%s: no such row on the server", what)
		return
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d values, server has %d", what, len(got), len(want))
		return
	}
	for i := range got {
		if !got[i].Equal(want[i]) {
			t.Errorf("%s column %s: decoded %s %q (charset %q), server %s %q (charset %q)", what, cols[i].Name,
				got[i].Kind(), mxShortText(got[i]), got[i].Charset(), want[i].Kind(), mxShortText(want[i]), want[i].Charset())
		}
	}
}

func mxShortText(v repl.Value) string {
	s := v.String()
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

var updateTestdata = flag.Bool("update-decode-testdata", false,
	"TestTypeMatrix writes the records it captured (but the 16 MiB ones) to testdata/decode/")

// decTestRecord is a capture.Record in a form gob keeps exactly (JSON would
// not: ENUM members of latin1 columns are not UTF-8).
type decTestRecord struct {
	GTID       string
	ServerID   uint32
	CommitTime int64
	FormatDesc []byte
	Events     [][]byte
	Tables     []capture.TableSchema
}

func (r decTestRecord) record(t testing.TB) capture.Record {
	g, err := repl.ParseGTID(repl.MariaDB, r.GTID)
	if err != nil {
		t.Fatal(err)
	}
	return capture.Record{Kind: capture.KindTxn, GTID: g, ServerID: r.ServerID, CommitTime: time.Unix(r.CommitTime, 0).UTC(),
		FormatDesc: r.FormatDesc, Events: r.Events, Tables: r.Tables}
}

const testdataFile = "testdata/decode/matrix.gob"

func writeTestdata(t *testing.T, recs []capture.Record) {
	var out []decTestRecord
	for _, r := range recs {
		size := 0
		for _, e := range r.Events {
			size += len(e)
		}
		if size > 1<<20 {
			continue
		}
		out = append(out, decTestRecord{GTID: r.GTID.String(), ServerID: r.ServerID, CommitTime: r.CommitTime.Unix(),
			FormatDesc: r.FormatDesc, Events: r.Events, Tables: r.Tables})
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(out); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if err := os.MkdirAll(filepath.Dir(testdataFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(testdataFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d records to %s", len(out), testdataFile)
	small := make([]capture.Record, 0, len(out))
	for _, tr := range out {
		small = append(small, tr.record(t))
	}
	writeFuzzCorpus(t, small)
}

// loadTestdata reads the records TestTypeMatrix captured from MariaDB
// 10.11 (regenerate with -update-decode-testdata). They are shared: a test
// that edits one must clone it (decCloneRecord).
func loadTestdata(t testing.TB) []capture.Record {
	trs, err := readTestdata()
	if err != nil {
		t.Fatalf("%v (regenerate: go test ./streamer -run TestTypeMatrix -update-decode-testdata)", err)
	}
	out := make([]capture.Record, len(trs))
	for i, tr := range trs {
		out[i] = tr.record(t)
	}
	return out
}

var readTestdata = sync.OnceValues(func() ([]decTestRecord, error) {
	b, err := os.ReadFile(testdataFile)
	if err != nil {
		return nil, err
	}
	var trs []decTestRecord
	err = gob.NewDecoder(bytes.NewReader(b)).Decode(&trs)
	return trs, err
})

// mxCheckCollations compares the collation table with every collation the
// server has.
func mxCheckCollations(t *testing.T, db *sql.DB) {
	rows, err := db.Query("SELECT ID, FULL_COLLATION_NAME, CHARACTER_SET_NAME FROM information_schema.COLLATION_CHARACTER_SET_APPLICABILITY")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id uint64
		var name, cs string
		if err := rows.Scan(&id, &name, &cs); err != nil {
			t.Fatal(err)
		}
		n++
		got, ok := knownCollations().lookup(id)
		if !ok || got.name != name || got.charset != cs {
			t.Errorf("collation %d: table has %+v (known %v), server %s of %s", id, got, ok, name, cs)
		}
	}
	if err := rows.Err(); err != nil || n < 500 {
		t.Fatalf("read %d collations: %v", n, err)
	}
}

// mxCheckXA decodes an XA transaction: MariaDB logs its PREPARE as a group
// (GTID event flagged as XA, rows, an "XA END" query, an XA_PREPARE event)
// and its COMMIT as a group of its own ("XA COMMIT" query).
func mxCheckXA(t *testing.T, inst *sandbox.Instance, db *sql.DB) {
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := mxBinlogPos(t, db)
	for _, q := range []string{"XA START 'xa1'", "INSERT INTO nokey VALUES (100, 'xa', 1.5)", "XA END 'xa1'",
		"XA PREPARE 'xa1'", "XA COMMIT 'xa1'"} {
		mxExec(t, conn, q)
	}
	recs := mxReadRecords(t, inst, start, mxBinlogPos(t, db))
	if len(recs) != 2 {
		t.Fatalf("XA transaction logged as %d groups, want 2", len(recs))
	}
	prepare, err := DecodeTxn(recs[0])
	if err != nil {
		t.Fatal(err)
	}
	commit, err := DecodeTxn(recs[1])
	if err != nil {
		t.Fatal(err)
	}
	if len(prepare.Changes) != 1 || prepare.Changes[0].After[1].Text() != "xa" || len(prepare.Statements) != 1 ||
		!strings.HasPrefix(prepare.Statements[0].Query, "XA END") {
		t.Errorf("XA PREPARE group decoded to %d changes, statements %q", len(prepare.Changes), prepare.Statements)
	}
	if len(commit.Changes) != 0 || len(commit.Statements) != 1 || !strings.HasPrefix(commit.Statements[0].Query, "XA COMMIT") {
		t.Errorf("XA COMMIT group decoded to %d changes, statements %q", len(commit.Changes), commit.Statements)
	}
}
