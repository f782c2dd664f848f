package capture_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/capture/storetest"
	"github.com/recoup-dev/recoup/repl"
)

// storetest.Diff compares a TableSchema's TableID and Table only, so the
// tests of this file check Charset, Collation and Uncertain themselves.
func checkTableExtras(t *testing.T, want, got []capture.TableSchema) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("%d tables, want %d", len(got), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		if w.Charset != g.Charset || w.Collation != g.Collation || w.Uncertain != g.Uncertain {
			t.Errorf("table %d (%s): charset/collation/uncertain = %q/%q/%v, want %q/%q/%v", i, w.Table.Name,
				g.Charset, g.Collation, g.Uncertain, w.Charset, w.Collation, w.Uncertain)
		}
	}
}

func roundTrip(t *testing.T, r capture.Record) (capture.Record, []byte) {
	t.Helper()
	b, err := capture.EncodeRecord(r)
	if err != nil {
		t.Fatalf("EncodeRecord: %v", err)
	}
	got, err := capture.DecodeRecord(b)
	if err != nil {
		t.Fatalf("DecodeRecord: %v", err)
	}
	if d := storetest.Diff(r, got); d != "" {
		t.Fatalf("round trip differs: %s", d)
	}
	checkTableExtras(t, r.Tables, got.Tables)
	if b2, err := capture.EncodeRecord(got); err != nil || !bytes.Equal(b, b2) {
		t.Fatalf("re-encoding the decoded record gives other bytes (err %v)", err)
	}
	return got, b
}

func schemaTable(name string) repl.Table {
	return repl.Table{Schema: "app", Name: name, PrimaryKey: []int{0},
		Columns: []repl.Column{
			{Name: "id", Type: "int", Length: 11},
			{Name: "s", Type: "varchar", Length: 20, Nullable: true, Charset: "latin1", Collation: "latin1_bin"},
			{Name: "e", Type: "enum", Members: []string{"a", "b"}, Charset: "utf8mb4", Collation: "utf8mb4_general_ci"},
			{Name: "g", Type: "int", Length: 11, Nullable: true, Generated: "virtual"},
		},
		UniqueKeys: []repl.UniqueKey{{Name: "us", Columns: []int{1, 2}}},
	}
}

func TestTableSchemaExtrasRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		ts   capture.TableSchema
	}{
		{"none", capture.TableSchema{TableID: 7, Table: schemaTable("t")}},
		{"charset only", capture.TableSchema{Table: schemaTable("t"), Charset: "utf8mb4"}},
		{"collation only", capture.TableSchema{Table: schemaTable("t"), Collation: "latin1_bin"}},
		{"uncertain only", capture.TableSchema{Table: schemaTable("t"), Uncertain: true}},
		{"all", capture.TableSchema{TableID: 1 << 40, Table: schemaTable("t"), Charset: "utf8mb4", Collation: "utf8mb4_0900_ai_ci", Uncertain: true}},
		{"bytes kept", capture.TableSchema{Table: repl.Table{Name: "x"}, Charset: "cs\xff", Collation: "\x00co"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			roundTrip(t, capture.Record{Kind: capture.KindTxn, GTID: repl.MariaDBGTID(0, 1, 5),
				Tables: []capture.TableSchema{tc.ts, {Table: repl.Table{Name: "second"}}}})
		})
	}
}

// TestKindSchemaRoundTrip: a snapshot record with several tables, both
// flavors, through the codec and through a local store, and past Dedupe
// right after the transaction whose position it repeats.
func TestKindSchemaRoundTrip(t *testing.T) {
	mariaAfter := mustSet(t, repl.MariaDB, "0-1-41,1-2-7")
	snap := capture.Record{Kind: capture.KindSchema, Cluster: "cl1", Master: "db1:3306", After: mariaAfter,
		MasterPos: mustSet(t, repl.MariaDB, "0-1-41"),
		Tables: []capture.TableSchema{
			{Table: schemaTable("a"), Charset: "utf8mb4", Collation: "utf8mb4_general_ci"},
			{Table: schemaTable("b"), Charset: "latin1", Collation: "latin1_swedish_ci", Uncertain: true},
			{Table: repl.Table{Schema: "other", Name: "c", Columns: []repl.Column{{Name: "x", Type: "blob", Nullable: true}}}, Uncertain: true},
		}}
	mysqlSnap := capture.Record{Kind: capture.KindSchema, Cluster: "cl1", Master: "db1:3306",
		After:  mustSet(t, repl.MySQL, "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-9"),
		Tables: []capture.TableSchema{{Table: schemaTable("m"), Charset: "utf8mb4", Collation: "utf8mb4_0900_ai_ci"}}}
	if got := capture.KindSchema.String(); got != "schema" {
		t.Errorf("KindSchema.String() = %q", got)
	}
	for name, r := range map[string]capture.Record{"mariadb": snap, "mysql": mysqlSnap} {
		t.Run(name, func(t *testing.T) { roundTrip(t, r) })
	}

	txn := storetest.Record(0)
	txn.GTID, txn.After, txn.MasterPos = repl.MariaDBGTID(0, 1, 41), mariaAfter, snap.MasterPos
	st, err := capture.OpenLocal(t.TempDir(), capture.LocalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if err := st.Append(ctx, txn, snap, txn, snap); err != nil { // the repeat: a retried append
		t.Fatal(err)
	}
	rd, err := st.ReadFrom(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	r := capture.Dedupe(rd)
	var kinds []string
	for {
		rec, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, rec.Kind.String())
		if rec.Kind == capture.KindSchema {
			if d := storetest.Diff(snap, rec); d != "" {
				t.Errorf("snapshot read back differs: %s", d)
			}
			checkTableExtras(t, snap.Tables, rec.Tables)
		}
	}
	// The duplicate transaction is dropped; both snapshots pass (they are
	// not transactions).
	if got := strings.Join(kinds, ","); got != "txn,schema,schema" {
		t.Errorf("Dedupe gave %s, want txn,schema,schema", got)
	}
}

// rawTable builds a table's fields by hand: tag, payload pairs.
func rawTable(fields ...any) string {
	var b []byte
	for i := 0; i < len(fields); i += 2 {
		p := fields[i+1].(string)
		b = binary.AppendUvarint(b, uint64(fields[i].(int)))
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	return string(b)
}

// rawTables is a tables field payload holding the given tables.
func rawTables(tables ...string) string {
	b := binary.AppendUvarint(nil, uint64(len(tables)))
	for _, tb := range tables {
		b = binary.AppendUvarint(b, uint64(len(tb)))
		b = append(b, tb...)
	}
	return string(b)
}

// TestTableExtrasWire pins tags 7-9 of a table and their compatibility:
// a table written before they existed decodes with zero values and
// re-encodes byte for byte (zero values add nothing), and tags after 9
// are skipped.
func TestTableExtrasWire(t *testing.T) {
	old := rawRecord(1, "\x04", 12, rawTables(rawTable(2, "app", 3, "t")))
	r, err := capture.DecodeRecord(old)
	if err != nil {
		t.Fatalf("record without tags 7-9: %v", err)
	}
	if ts := r.Tables[0]; ts.Charset != "" || ts.Collation != "" || ts.Uncertain || ts.Table.Name != "t" {
		t.Errorf("record without tags 7-9 decoded as %+v", ts)
	}
	if b, err := capture.EncodeRecord(r); err != nil || !bytes.Equal(b, old) {
		t.Errorf("record without tags 7-9 re-encodes to other bytes (err %v)", err)
	}

	tests := []struct {
		name  string
		table string
		want  capture.TableSchema
		err   string
	}{
		{"all three", rawTable(3, "t", 7, "utf8mb4", 8, "utf8mb4_bin", 9, "\x01"),
			capture.TableSchema{Table: repl.Table{Name: "t"}, Charset: "utf8mb4", Collation: "utf8mb4_bin", Uncertain: true}, ""},
		{"later tags skipped", rawTable(3, "t", 7, "latin1", 9, "\x01", 10, "future", 300, "\xff\xff"),
			capture.TableSchema{Table: repl.Table{Name: "t"}, Charset: "latin1", Uncertain: true}, ""},
		{"flags zero", rawTable(3, "t", 9, "\x00"), capture.TableSchema{Table: repl.Table{Name: "t"}}, ""},
		// Unknown bits of a flags field are refused, as the record's own
		// flags are: a new flag comes under a new tag.
		{"unknown flag bit", rawTable(3, "t", 9, "\x02"), capture.TableSchema{}, "exceeds 1"},
		{"flags trailing", rawTable(9, "\x01\x00"), capture.TableSchema{}, "trailing"},
		{"tags decrease", rawTable(8, "x", 7, "y"), capture.TableSchema{}, "tags must increase"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := capture.DecodeRecord(rawRecord(1, "\x04", 12, rawTables(tc.table)))
			if tc.err != "" {
				if !errors.Is(err, capture.ErrCorrupt) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("DecodeRecord = %v; want ErrCorrupt mentioning %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := capture.Record{Kind: capture.KindSchema, Tables: []capture.TableSchema{tc.want}}
			if d := storetest.Diff(want, r); d != "" {
				t.Fatal(d)
			}
			checkTableExtras(t, want.Tables, r.Tables)
		})
	}
}

// TestFuzzSeedKindSchema checks that the committed FuzzDecodeRecord corpus
// holds a snapshot record with every table extra set, so the fuzzer starts
// from one.
func TestFuzzSeedKindSchema(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzDecodeRecord", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b, ok := corpusBytes(string(text))
		if !ok {
			continue
		}
		r, err := capture.DecodeRecord(b)
		if err != nil || r.Kind != capture.KindSchema || len(r.Tables) < 2 {
			continue
		}
		var cs, unc bool
		for _, ts := range r.Tables {
			cs = cs || ts.Charset != "" && ts.Collation != ""
			unc = unc || ts.Uncertain
		}
		if cs && unc {
			return
		}
	}
	t.Fatal("no FuzzDecodeRecord corpus file holds a KindSchema record with several tables, a charset and collation, and an uncertain table")
}

// corpusBytes reads a one-value "go test fuzz v1" file holding []byte("...").
func corpusBytes(text string) ([]byte, bool) {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) != 2 || lines[0] != "go test fuzz v1" {
		return nil, false
	}
	q, ok := strings.CutPrefix(lines[1], "[]byte(")
	if !ok || !strings.HasSuffix(q, ")") {
		return nil, false
	}
	s, err := strconv.Unquote(strings.TrimSuffix(q, ")"))
	return []byte(s), err == nil
}
