package capture_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/capture/storetest"
	"github.com/recoup-dev/recoup/repl"
)

func mustSet(t testing.TB, f repl.Flavor, s string) repl.GTIDSet {
	t.Helper()
	set, err := repl.ParseGTIDSet(f, s)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func mustUUID(t testing.TB, s string) repl.UUID {
	t.Helper()
	u, err := repl.ParseUUID(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// sampleRecords covers every Kind, both flavors and every field.
func sampleRecords(t testing.TB) map[string]capture.Record {
	u := mustUUID(t, "3e11fa47-71ca-11e1-9e33-c80aa9429562")
	mysqlTxn := storetest.Record(0)
	mysqlTxn.GTID = repl.MySQLGTID(u, "blue", 9)
	mysqlTxn.After = mustSet(t, repl.MySQL, "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7:blue:1-9")
	mysqlTxn.ServerID = 4_000_000_000
	mysqlTxn.CommitTime = time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.FixedZone("x", 3600))
	mysqlTxn.Tables = append(mysqlTxn.Tables, capture.TableSchema{TableID: 1 << 40, Table: repl.Table{
		Schema: "s\xff", Name: "t", Columns: []repl.Column{{Name: "a", Type: "int", Length: -1, Decimals: 6, Generated: "stored"}},
	}})
	forked := storetest.Record(49)
	forked.MasterPos = mustSet(t, repl.MariaDB, "0-1-96,1-2-7")
	emptyEvents := storetest.Record(1)
	emptyEvents.Events = [][]byte{{}, {1}, {}}
	return map[string]capture.Record{
		"txn mariadb":        storetest.Record(0),
		"txn mysql tagged":   mysqlTxn,
		"txn empty events":   emptyEvents,
		"txn big":            storetest.LargeRecord(3, 200<<10),
		"master switch":      storetest.Record(49),
		"switch master pos":  forked,
		"master state":       storetest.Record(39),
		"kind only":          {Kind: capture.KindMasterState},
		"empty after set":    {Kind: capture.KindTxn, After: repl.NewGTIDSet(repl.MySQL)},
		"future kind":        {Kind: 200, Cluster: "c"},
		"binlog pos no file": {Kind: capture.KindTxn, Start: repl.BinlogPos{Pos: 4}, End: repl.BinlogPos{File: "f"}},
	}
}

func TestRecordRoundTrip(t *testing.T) {
	for name, want := range sampleRecords(t) {
		t.Run(name, func(t *testing.T) {
			b, err := capture.EncodeRecord(want)
			if err != nil {
				t.Fatalf("EncodeRecord: %v", err)
			}
			got, err := capture.DecodeRecord(b)
			if err != nil {
				t.Fatalf("DecodeRecord: %v", err)
			}
			if d := storetest.Diff(want, got); d != "" {
				t.Fatalf("round trip differs: %s", d)
			}
			b2, err := capture.EncodeRecord(got)
			if err != nil || !bytes.Equal(b, b2) {
				t.Fatalf("re-encoding the decoded record gives other bytes (err %v)", err)
			}
			if !got.CommitTime.IsZero() && got.CommitTime.Location() != time.UTC {
				t.Fatalf("CommitTime decoded in %s, want UTC", got.CommitTime.Location())
			}
		})
	}
}

func TestEncodeRecordRejects(t *testing.T) {
	u := mustUUID(t, "3e11fa47-71ca-11e1-9e33-c80aa9429562")
	tests := map[string]capture.Record{
		"no kind":             {Cluster: "c"},
		"gtid without flavor": {Kind: capture.KindTxn, GTID: repl.GTID{Seq: 3}},
		"mariadb with uuid":   {Kind: capture.KindTxn, GTID: repl.GTID{Flavor: repl.MariaDB, UUID: u, Seq: 3}},
		"mysql with domain":   {Kind: capture.KindTxn, GTID: repl.GTID{Flavor: repl.MySQL, UUID: u, Domain: 1, Seq: 3}},
		"seq 0":               {Kind: capture.KindTxn, GTID: repl.MariaDBGTID(0, 1, 0)},
		"bad tag":             {Kind: capture.KindTxn, GTID: repl.GTID{Flavor: repl.MySQL, UUID: u, Tag: "9x", Seq: 1}},
		"year 10000":          {Kind: capture.KindTxn, CommitTime: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for name, r := range tests {
		if _, err := capture.EncodeRecord(r); err == nil {
			t.Errorf("%s: EncodeRecord succeeded, want an error", name)
		}
	}
}

// fixup rewrites the length and checksum of a record-shaped b, so that
// tests and the fuzzer reach the field parser with arbitrary fields.
func fixup(b []byte) []byte {
	if len(b) < 13 {
		return b
	}
	b = bytes.Clone(b)
	binary.LittleEndian.PutUint32(b[5:], uint32(len(b)-13))
	end := len(b) - 4
	binary.LittleEndian.PutUint32(b[end:], crc32.Checksum(b[:end], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// rawRecord builds a record from raw fields (tag, payload) with a valid
// header and checksum.
func rawRecord(fields ...any) []byte {
	b := []byte("RCPR\x01\x00\x00\x00\x00")
	for i := 0; i < len(fields); i += 2 {
		p := []byte(fields[i+1].(string))
		b = binary.AppendUvarint(b, uint64(fields[i].(int)))
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	return fixup(append(b, 0, 0, 0, 0))
}

func TestDecodeRecordErrors(t *testing.T) {
	valid, err := capture.EncodeRecord(storetest.Record(0))
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(valid)
	flipped[40] ^= 1
	v2 := bytes.Clone(valid)
	v2[4] = 2
	tests := []struct {
		name, b, want string
	}{
		{"empty", "", "shorter than"},
		{"magic", "XXXX" + string(valid[4:]), "magic"},
		{"version", string(v2), "version 2 is not supported"},
		{"bit flip", string(flipped), "checksum mismatch"},
		{"trailing byte", string(valid) + "x", "header says"},
		{"no kind", string(rawRecord(2, "cluster")), "no kind"},
		{"kind 0", string(rawRecord(1, "\x00")), "kind 0"},
		{"kind 256", string(rawRecord(1, "\x80\x02")), "exceeds 255"},
		{"kind trailing", string(rawRecord(1, "\x01\x01")), "trailing"},
		{"tags decrease", string(rawRecord(2, "a", 1, "\x01")), "tags must increase"},
		{"tag repeated", string(rawRecord(1, "\x01", 1, "\x01")), "tags must increase"},
		{"field past end", string(fixup([]byte("RCPR\x01\x00\x00\x00\x00\x01\x05\x01\x00\x00\x00\x00"))), "claims 5 bytes"},
		{"bad gtid set", string(rawRecord(1, "\x01", 4, "mariadb/x")), "GTID set"},
		{"gtid flavor", string(rawRecord(1, "\x01", 5, "\x07\x01\x01\x01")), "GTID flavor 7"},
		{"gtid seq 0", string(rawRecord(1, "\x01", 5, "\x01\x00\x01\x00")), "sequence number 0"},
		{"gtid short uuid", string(rawRecord(1, "\x01", 5, "\x02abc")), "GTID uuid"},
		{"events count", string(rawRecord(1, "\x01", 11, "\x05\x00")), "event count"},
		{"event length", string(rawRecord(1, "\x01", 11, "\x01\x09ab")), "event 0: corrupt capture data: event of 9 bytes"},
		{"time nanos", string(rawRecord(1, "\x01", 7, "\x02\x80\x94\xeb\xdc\x03")), "nanoseconds"},
		{"time year", string(rawRecord(1, "\x01", 7, "\xff\xff\xff\xff\xff\xff\xff\x01\x00")), "outside years"},
		{"flags", string(rawRecord(1, "\x01", 15, "\x04")), "exceeds 3"},
		{"table column", string(rawRecord(1, "\x01", 12, "\x01\x03\x04\x01\x05")), "column"},
		{"server id", string(rawRecord(1, "\x01", 6, "\x80\x80\x80\x80\x10")), "exceeds 4294967295"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := capture.DecodeRecord([]byte(tc.b))
			if !errors.Is(err, capture.ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("DecodeRecord = %v; want ErrCorrupt mentioning %q", err, tc.want)
			}
		})
	}
}

// TestDecodeRecordTruncated: every proper prefix of a record, and every
// single-bit flip, is an ErrCorrupt error.
func TestDecodeRecordTruncated(t *testing.T) {
	b, err := capture.EncodeRecord(storetest.Record(0))
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(b) {
		if _, err := capture.DecodeRecord(b[:n]); !errors.Is(err, capture.ErrCorrupt) {
			t.Fatalf("prefix of %d of %d bytes: err %v, want ErrCorrupt", n, len(b), err)
		}
	}
	for i := range len(b) * 8 {
		c := bytes.Clone(b)
		c[i/8] ^= 1 << (i % 8)
		if _, err := capture.DecodeRecord(c); !errors.Is(err, capture.ErrCorrupt) {
			t.Fatalf("bit %d flipped: err %v, want ErrCorrupt", i, err)
		}
	}
}

// TestDecodeRecordSkipsUnknownTags: a field added by a later writer is
// skipped, at any position, in records and in nested tables.
func TestDecodeRecordSkipsUnknownTags(t *testing.T) {
	// Column 1 has name "a" and an unknown tag 40; the table an unknown tag 30.
	col := "\x01\x01a\x28\x02zz"
	table := "\x03\x01t\x04" + string(rune(len(col)+2)) + "\x01" + string(rune(len(col))) + col + "\x1e\x00"
	tables := "\x01" + string(rune(len(table))) + table
	b := rawRecord(1, "\x01", 2, "c", 12, tables, 17, "future", 99, "")
	r, err := capture.DecodeRecord(b)
	if err != nil {
		t.Fatalf("DecodeRecord: %v", err)
	}
	want := capture.Record{Kind: capture.KindTxn, Cluster: "c", Tables: []capture.TableSchema{{
		Table: repl.Table{Name: "t", Columns: []repl.Column{{Name: "a"}}}}}}
	if d := storetest.Diff(want, r); d != "" {
		t.Fatalf("decoded record differs: %s", d)
	}
}

// TestDecodedBytesAreCapped: appending to a decoded event must not write
// over the next one.
func TestDecodedBytesAreCapped(t *testing.T) {
	want := storetest.Record(0)
	b, _ := capture.EncodeRecord(want)
	r, err := capture.DecodeRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	_ = append(r.Events[0], 0xee, 0xee, 0xee)
	_ = append(r.FormatDesc, 0xee, 0xee)
	if d := storetest.Diff(want, r); d != "" {
		t.Fatalf("append to a decoded slice changed the record: %s", d)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	for _, r := range sampleRecords(f) {
		b, err := capture.EncodeRecord(r)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) <= 4096 { // big seeds slow the fuzzer down
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecode(t, b)
		checkDecode(t, fixup(b)) // reach the field parser past the checksum
	})
}

// checkDecode: decoding either fails with ErrCorrupt or gives a record
// that encodes to a canonical form which decodes to the same record.
func checkDecode(t *testing.T, b []byte) {
	r, err := capture.DecodeRecord(b)
	if err != nil {
		if !errors.Is(err, capture.ErrCorrupt) {
			t.Fatalf("error does not wrap ErrCorrupt: %v", err)
		}
		return
	}
	b1, err := capture.EncodeRecord(r)
	if err != nil {
		t.Fatalf("a decoded record does not encode: %v", err)
	}
	r1, err := capture.DecodeRecord(b1)
	if err != nil {
		t.Fatalf("a re-encoded record does not decode: %v", err)
	}
	if d := storetest.Diff(r, r1); d != "" {
		t.Fatalf("re-encoded record differs: %s", d)
	}
	if b2, _ := capture.EncodeRecord(r1); !bytes.Equal(b1, b2) {
		t.Fatal("encoding is not canonical")
	}
}

// benchRecords: a 1-row transaction (5 events, about 300 bytes of events
// and one table) and a 100-row one (its rows event about 6 KB).
func benchRecords() map[string]capture.Record {
	one := storetest.Record(0)
	hundred := storetest.Record(0)
	hundred.Events = slices.Clone(hundred.Events)
	hundred.Events[3] = storetest.LargeRecord(1, 6000).Events[0]
	return map[string]capture.Record{"1row": one, "100rows": hundred}
}

func BenchmarkEncodeRecord(b *testing.B) {
	for _, name := range []string{"1row", "100rows"} {
		r := benchRecords()[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var enc []byte
			for b.Loop() {
				var err error
				if enc, err = capture.EncodeRecord(r); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(enc)), "bytes/record") // after the loop: Loop resets metrics
		})
	}
}

func BenchmarkDecodeRecord(b *testing.B) {
	for _, name := range []string{"1row", "100rows"} {
		enc, err := capture.EncodeRecord(benchRecords()[name])
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := capture.DecodeRecord(enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTables compares the binary tables field with JSON of the same
// []TableSchema: encode plus decode, and size.
func BenchmarkTables(b *testing.B) {
	tables := storetest.Record(0).Tables
	b.Run("binary", func(b *testing.B) {
		r := capture.Record{Kind: capture.KindTxn, Tables: tables}
		b.ReportAllocs()
		var enc []byte
		for b.Loop() {
			enc, _ = capture.EncodeRecord(r)
			if _, err := capture.DecodeRecord(enc); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(enc)-16), "bytes") // minus header, trailer, kind and tables tag and length
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		var enc []byte
		for b.Loop() {
			enc, _ = json.Marshal(tables)
			var out []capture.TableSchema
			if err := json.Unmarshal(enc, &out); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(enc)), "bytes")
	})
}
