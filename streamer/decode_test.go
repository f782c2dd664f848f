package streamer

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
)

// The records in testdata/decode/matrix.gob were captured by
// TestTypeMatrix from MariaDB 10.11, whose SQL (typematrix_test.go) the
// expectations below are read from. TestTypeMatrix checks every value
// against the server; these tests run without one.

// recordWhere returns the first testdata record whose decoded transaction
// satisfies ok.
func recordWhere(t testing.TB, recs []capture.Record, what string, ok func(txn repl.Txn) bool) capture.Record {
	t.Helper()
	for _, r := range recs {
		txn, err := DecodeTxn(r)
		if err != nil {
			t.Fatalf("%s: %v", r.GTID, err)
		}
		if ok(txn) {
			return r
		}
	}
	t.Fatalf("no testdata record with %s", what)
	return capture.Record{}
}

// recordWith returns the first testdata record of n changes whose first
// change has type typ on table.
func recordWith(t testing.TB, recs []capture.Record, table string, typ repl.ChangeType, n int) capture.Record {
	t.Helper()
	return recordWhere(t, recs, fmt.Sprintf("%d changes, the first a %s of %s", n, typ, table), func(txn repl.Txn) bool {
		return len(txn.Changes) > 0 && txn.Changes[0].Table.Name == table && txn.Changes[0].Type() == typ &&
			(n == 0 || len(txn.Changes) == n)
	})
}

// decRowByID finds the change image of the row whose first column is id.
func decRowByID(t *testing.T, txn repl.Txn, table, id string) (repl.Row, *repl.Table) {
	t.Helper()
	for _, ch := range txn.Changes {
		img := ch.After
		if img == nil {
			img = ch.Before
		}
		if ch.Table.Name == table && img[0].String() == id {
			return img, ch.Table
		}
	}
	t.Fatalf("no change of %s row %s", table, id)
	return nil, nil
}

func TestDecodeTxnValues(t *testing.T) {
	recs := loadTestdata(t)
	first, err := DecodeTxn(recordWith(t, recs, "num", repl.Insert, 9))
	if err != nil {
		t.Fatal(err)
	}
	second, err := DecodeTxn(recordWith(t, recs, "tm", repl.Insert, 16))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		txn       repl.Txn
		table, id string
		col       string
		want      repl.Value
	}{
		{first, "num", "1", "t_s", repl.IntValue(-128)},
		{first, "num", "2", "t_u", repl.UintValue(255)},
		{first, "num", "2", "m_u", repl.UintValue(16777215)},
		{first, "num", "1", "m_s", repl.IntValue(-8388608)},
		{first, "num", "2", "i_u", repl.UintValue(4294967295)},
		{first, "num", "2", "g_u", repl.UintValue(18446744073709551615)},
		{first, "num", "1", "g_s", repl.IntValue(-9223372036854775808)},
		{first, "num", "2", "b64", repl.BitValue(^uint64(0))},
		{first, "num", "4", "b9", repl.BitValue(256)},
		{first, "num", "1", "y", repl.YearValue(0)},
		{first, "num", "2", "y", repl.YearValue(2155)},
		{first, "num", "4", "d52", repl.TextValue(repl.KindDecimal, []byte("1.50"))},
		{first, "num", "1", "d65", repl.TextValue(repl.KindDecimal, []byte("-99999999999999999999999999999999999.999999999999999999999999999999"))},
		{first, "num", "4", "d65", repl.TextValue(repl.KindDecimal, []byte("0.000000000000000000000000000001"))},
		{first, "num", "1", "d1", repl.TextValue(repl.KindDecimal, []byte("-0.9"))},
		{first, "num", "3", "d10", repl.TextValue(repl.KindDecimal, []byte("0"))},
		{first, "num", "2", "dbl", repl.Float64Value(1.7976931348623157e308)},
		{first, "num", "4", "dbl", repl.Float64Value(5e-324)},
		{first, "num", "4", "f", repl.Float32Value(1.401298464324817e-45)},
		{first, "num", "2", "e", repl.EnumValue(3, "z")},
		{first, "num", "3", "e", repl.EnumValue(0, "")},
		{first, "num", "5", "i_s", repl.Null()},
		{first, "txt", "1", "c_utf", repl.StringValue([]byte("😀ab"), "utf8mb4")},
		{first, "txt", "1", "c_lat", repl.StringValue([]byte{0xe9}, "latin1")},
		{first, "txt", "1", "v_lat", repl.StringValue([]byte{0xe9, ' ', ' '}, "latin1")},
		{first, "txt", "3", "c_utf", repl.StringValue([]byte("ab"), "utf8mb4")},
		{first, "txt", "1", "bin", repl.BytesValue([]byte{'a', 0, 0, 0})},
		{first, "txt", "2", "bin", repl.BytesValue([]byte{0, 0, 0, 0})},
		{first, "txt", "1", "vbin", repl.BytesValue([]byte{0, 0xff, 0})},
		{first, "txt", "1", "e", repl.EnumValue(3, "🎉")},
		{first, "txt", "1", "e_lat", repl.EnumValue(1, "\xe9")},
		{first, "txt", "1", "s", repl.SetValue(9, "a,d")},
		{first, "txt", "3", "s", repl.SetValue(7, "a,b,c")},
		{first, "txt", "3", "e", repl.EnumValue(0, "")},
		{first, "txt", "1", "j", repl.StringValue([]byte(`{"a": [1, 2.50, "é"]}`), "utf8mb4")},
		{first, "txt", "1", "v_ucs", repl.StringValue([]byte{0, 0xfc}, "ucs2")},
		{first, "txt", "1", "v_u8", repl.StringValue([]byte("ñ"), "utf8mb3")},
		{second, "tm", "1", "d", repl.TextValue(repl.KindDate, []byte("0000-00-00"))},
		{second, "tm", "5", "d", repl.TextValue(repl.KindDate, []byte("2020-00-15"))},
		{second, "tm", "1", "t6", repl.TextValue(repl.KindTime, []byte("-838:59:59.000000"))},
		{second, "tm", "1", "t0", repl.TextValue(repl.KindTime, []byte("-838:59:59"))},
		{second, "tm", "2", "t1", repl.TextValue(repl.KindTime, []byte("-00:00:00.5"))},
		{second, "tm", "2", "t6", repl.TextValue(repl.KindTime, []byte("-00:00:00.500000"))},
		{second, "tm", "3", "t0", repl.TextValue(repl.KindTime, []byte("100:00:00"))},
		{second, "tm", "4", "t3", repl.TextValue(repl.KindTime, []byte("10:00:00.000"))},
		{second, "tm", "5", "t2", repl.TextValue(repl.KindTime, []byte("-12:00:00.25"))},
		{second, "tm", "5", "t6", repl.TextValue(repl.KindTime, []byte("-01:02:03.000001"))},
		{second, "tm", "3", "dt6", repl.TextValue(repl.KindDateTime, []byte("9999-12-31 23:59:59.999999"))},
		{second, "tm", "4", "dt3", repl.TextValue(repl.KindDateTime, []byte("2020-01-01 00:00:00.000"))},
		{second, "tm", "1", "dt3", repl.TextValue(repl.KindDateTime, []byte("0000-00-00 00:00:00.000"))},
		// The session's time zone was +05:30: the binlog holds UTC.
		{second, "tm", "2", "ts3", repl.TextValue(repl.KindTimestamp, []byte("1970-01-01 00:00:01.001"))},
		{second, "tm", "3", "ts6", repl.TextValue(repl.KindTimestamp, []byte("2038-01-19 03:14:07.999999"))},
		{second, "tm", "1", "ts0", repl.TextValue(repl.KindTimestamp, []byte("0000-00-00 00:00:00"))},
		{second, "gen", "1", "v", repl.IntValue(10)},
		{second, "gen", "1", "s", repl.StringValue([]byte("x5"), "utf8mb4")},
		{second, "gen", "1", "vb", repl.BytesValue([]byte("bbbbb"))},
		{second, "old", "1", "t0", repl.TextValue(repl.KindTime, []byte("-838:59:59"))},
		{second, "old", "4", "t0", repl.TextValue(repl.KindTime, []byte("-123:45:06"))},
		{second, "old", "2", "ts0", repl.TextValue(repl.KindTimestamp, []byte("2038-01-19 03:14:07"))},
	}
	for _, tc := range tests {
		row, tbl := decRowByID(t, tc.txn, tc.table, tc.id)
		i := tbl.ColumnIndex(tc.col)
		if i < 0 {
			t.Fatalf("%s has no column %s", tc.table, tc.col)
		}
		if got := row[i]; !got.Equal(tc.want) {
			t.Errorf("%s row %s %s = %s %q (%s), want %s %q (%s)", tc.table, tc.id, tc.col, got.Kind(), got, got.Charset(),
				tc.want.Kind(), tc.want, tc.want.Charset())
		}
	}
}

func TestDecodeTxnShapes(t *testing.T) {
	recs := loadTestdata(t)
	ddl, err := DecodeTxn(recordWhere(t, recs, "a statement", func(txn repl.Txn) bool { return len(txn.Statements) > 0 }))
	if err != nil {
		t.Fatal(err)
	}
	if !ddl.IsDDL() || ddl.Statements[0].Schema != "mx" || !strings.HasPrefix(ddl.Statements[0].Query, "CREATE TABLE num") {
		t.Errorf("DDL record decoded to %+v", ddl.Statements)
	}
	upd, err := DecodeTxn(recordWith(t, recs, "num", repl.Update, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(upd.Changes) < 6 {
		t.Errorf("update transaction has %d changes, want at least 6", len(upd.Changes))
	}
	for _, ch := range upd.Changes {
		if ch.Type() != repl.Update || len(ch.Before) != len(ch.Table.Columns) || len(ch.After) != len(ch.Before) {
			t.Errorf("update change %s with images of %d and %d values", ch.Type(), len(ch.Before), len(ch.After))
		}
	}
	bench, err := DecodeTxn(recordWith(t, recs, "bench", repl.Insert, 100))
	if err != nil {
		t.Fatal(err)
	}
	for i, ch := range bench.Changes {
		if ch.Type() != repl.Insert || ch.Table != bench.Changes[0].Table || ch.After[0].Int() != int64(i+2) {
			t.Fatalf("bench change %d: %s of row %s", i, ch.Type(), ch.After[0])
		}
	}
	if slices.Compare(bench.Changes[0].Table.PrimaryKey, []int{0}) != 0 {
		t.Errorf("bench primary key %v", bench.Changes[0].Table.PrimaryKey)
	}
}

// decFixChecksum recomputes a raw event's size field and CRC32 after an edit.
func decFixChecksum(raw []byte) []byte {
	binary.LittleEndian.PutUint32(raw[9:13], uint32(len(raw)))
	binary.LittleEndian.PutUint32(raw[len(raw)-4:], crc32.ChecksumIEEE(raw[:len(raw)-4]))
	return raw
}

// decCloneRecord deep-copies a record's events so a test may edit them.
func decCloneRecord(r capture.Record) capture.Record {
	r.Events = slices.Clone(r.Events)
	for i := range r.Events {
		r.Events[i] = bytes.Clone(r.Events[i])
	}
	r.FormatDesc = bytes.Clone(r.FormatDesc)
	r.Tables = slices.Clone(r.Tables)
	return r
}

func decEventIndex(r capture.Record, typ replication.EventType) int {
	for i, e := range r.Events {
		if replication.EventType(e[4]) == typ {
			return i
		}
	}
	return -1
}

func TestDecodeTxnRejects(t *testing.T) {
	recs := loadTestdata(t)
	base := recordWith(t, recs, "bench", repl.Insert, 1)
	rows := decEventIndex(base, replication.WRITE_ROWS_EVENTv1)
	tmap := decEventIndex(base, replication.TABLE_MAP_EVENT)
	if rows < 0 || tmap < 0 {
		t.Fatal("bench record lacks a table map or write rows event")
	}
	tests := []struct {
		name string
		edit func(r *capture.Record)
		want string
	}{
		{"not a txn", func(r *capture.Record) { r.Kind = capture.KindMasterState }, "master-state record"},
		{"no events", func(r *capture.Record) { r.Events = nil }, "no events"},
		{"no format description", func(r *capture.Record) { r.FormatDesc = nil }, "shorter than its header"},
		{"format description of another type", func(r *capture.Record) { r.FormatDesc = r.Events[0] }, "is a"},
		{"truncated event", func(r *capture.Record) { r.Events[rows] = r.Events[rows][:40] }, "header says"},
		{"corrupted event", func(r *capture.Record) { r.Events[rows][30] ^= 0xff }, "checksum mismatch"},
		{"short header", func(r *capture.Record) { r.Events[rows] = r.Events[rows][:10] }, "shorter than its header"},
		{"GTID differs", func(r *capture.Record) { r.GTID.Seq++ }, "GTID event says"},
		{"rows without table map", func(r *capture.Record) { r.Events = slices.Delete(r.Events, tmap, tmap+1) }, "table map"},
		{"schema of another table", func(r *capture.Record) {
			r.Tables[0].Table.Name = "other"
		}, "record's schema is for mx.other"},
		{"schema with fewer columns", func(r *capture.Record) {
			r.Tables[0].Table.Columns = r.Tables[0].Table.Columns[:2]
		}, "schema has 2 columns, the binlog 6"},
		{"schema without charset", func(r *capture.Record) {
			r.Tables[0].Table.Columns = slices.Clone(r.Tables[0].Table.Columns)
			r.Tables[0].Table.Columns[1].Charset = ""
		}, "no character set"},
		{"minimal row image", func(r *capture.Record) {
			// columns bitmap: header 19 + table id 6 + flags 2, then the
			// column count (1 byte) and the bitmap.
			r.Events[rows][19+6+2+1] &^= 0x02
			decFixChecksum(r.Events[rows])
		}, "binlog_row_image=FULL"},
		{"rows event column count", func(r *capture.Record) {
			r.Events[rows][19+6+2] = 5
			decFixChecksum(r.Events[rows])
		}, "rows event has 5 columns"},
		{"table map column count", func(r *capture.Record) {
			r.Events[tmap][19+6+2+1+2+1+1+5+1] = 200
			decFixChecksum(r.Events[tmap])
		}, "declares 200 columns"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := decCloneRecord(base)
			tc.edit(&r)
			_, err := DecodeTxn(r)
			if !errors.Is(err, ErrDecode) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("DecodeTxn: %v, want an ErrDecode containing %q", err, tc.want)
			}
			t.Log(err)
		})
	}
}

// Without schemas in the record, DecodeTxn builds them from the table maps
// (FULL metadata) and decodes the same values.
func TestDecodeTxnWithoutRecordTables(t *testing.T) {
	for _, rec := range loadTestdata(t) {
		want, err := DecodeTxn(rec)
		if err != nil {
			t.Fatal(err)
		}
		rec.Tables = nil
		got, err := DecodeTxn(rec)
		if err != nil {
			t.Fatalf("%s without tables: %v", rec.GTID, err)
		}
		if len(got.Changes) != len(want.Changes) {
			t.Fatalf("%s: %d changes, with tables %d", rec.GTID, len(got.Changes), len(want.Changes))
		}
		for i := range got.Changes {
			g, w := got.Changes[i], want.Changes[i]
			if !g.Before.Equal(w.Before) || !g.After.Equal(w.After) || g.Table.QualifiedName() != w.Table.QualifiedName() {
				t.Errorf("%s change %d differs without record tables:\n%v\n%v\n%v\n%v", rec.GTID, i, g.After, w.After, g.Table.Columns, w.Table.Columns)
			}
		}
	}
}

func TestFixOldTime(t *testing.T) {
	tests := []struct{ in, want string }{
		{"00:00:00", "00:00:00"},
		{"838:59:59", "838:59:59"},
		{"839:12:57", "-838:59:59"},  // 0x1000000 - 8385959 read unsigned
		{"1677:72:15", "-00:00:01"},  // 0xFFFFFF
		{"1554:27:10", "-123:45:06"}, // 16777216 - 1234506
		{"1:2", ""},
		{"a:b:c", ""},
	}
	for _, tc := range tests {
		got, err := fixOldTime(tc.in)
		if (err != nil) != (tc.want == "") || got != tc.want {
			t.Errorf("fixOldTime(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestCollationLookup(t *testing.T) {
	tests := []struct {
		id            uint64
		name, charset string
		ok            bool
	}{
		{63, "binary", "binary", true},
		{45, "utf8mb4_general_ci", "utf8mb4", true},
		{8, "latin1_swedish_ci", "latin1", true},
		{2304, "utf8mb4_uca1400_ai_ci", "utf8mb4", true},
		{2048 + 256 + 24*8 + 7, "utf8mb4_uca1400_croatian_nopad_as_cs", "utf8mb4", true},
		{255, "", "utf8mb4", true}, // MySQL 8's utf8mb4_0900_ai_ci
		{2048 + 21*8, "", "", false},
		{2048 + 5*256, "", "", false},
		{1000, "", "", false},
	}
	for _, tc := range tests {
		c, ok := knownCollations().lookup(tc.id)
		if ok != tc.ok || c.name != tc.name || c.charset != tc.charset {
			t.Errorf("lookup(%d) = %+v, %v; want %s of %s, %v", tc.id, c, ok, tc.name, tc.charset, tc.ok)
		}
	}
}
