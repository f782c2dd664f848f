package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
)

// Record returns the deterministic record the contract test writes at
// offset i of a log that holds Records(0, i+1): mostly transactions of
// about 300 bytes (5 raw events, one table), with a master-state record at
// every offset ending in 9 and a master switch at every offset ending in
// 49. Its After is exactly the transactions of offsets 0..i, so a test can
// check a log's content from offsets alone.
func Record(i int64) capture.Record {
	r := capture.Record{Cluster: "cl1", Master: "db1:3306", After: afterSet(i)}
	switch {
	case i%50 == 49:
		r.Kind, r.From, r.To, r.Master = capture.KindMasterSwitch, "db1:3306", "db2:3306", "db2:3306"
	case i%10 == 9:
		r.Kind, r.Connected, r.Failed = capture.KindMasterState, i%20 == 9, i%40 == 39
		r.GTID = txnGTID(i - 1)
	default:
		r.Kind = capture.KindTxn
		r.GTID = txnGTID(i)
		r.ServerID = 1
		r.CommitTime = time.Unix(1_700_000_000+i, 0).UTC()
		r.Start = repl.BinlogPos{File: "mysql-bin.000007", Pos: uint32(4 + 400*i)}
		r.End = repl.BinlogPos{File: "mysql-bin.000007", Pos: uint32(4 + 400*(i+1))}
		r.FormatDesc = pattern(uint64(i), 120)
		sizes := []int{42, 44, 58 + int(i%7), 90 + int(i%31), 31}
		for j, n := range sizes {
			r.Events = append(r.Events, pattern(uint64(i)<<8|uint64(j), n))
		}
		r.Tables = []capture.TableSchema{{TableID: 100 + uint64(i%3), Table: sampleTable()}}
	}
	return r
}

// Records returns Record(first) .. Record(first+n-1).
func Records(first, n int64) []capture.Record {
	out := make([]capture.Record, n)
	for i := range out {
		out[i] = Record(first + int64(i))
	}
	return out
}

// txnCount is how many transactions Records(0, i+1) holds.
func txnCount(i int64) uint64 { return uint64(i + 1 - (i+1)/10) }

func txnGTID(i int64) repl.GTID { return repl.MariaDBGTID(0, 1, txnCount(i)) }

func afterSet(i int64) repl.GTIDSet {
	s, err := repl.ParseGTIDSet(repl.MariaDB, fmt.Sprintf("0-1-%d", txnCount(i)))
	if err != nil {
		panic(err) // cannot happen: the text is built above
	}
	return s
}

func sampleTable() repl.Table {
	return repl.Table{Schema: "shop", Name: "orders", PrimaryKey: []int{0},
		Columns: []repl.Column{
			{Name: "id", Type: "bigint", Unsigned: true},
			{Name: "customer", Type: "varchar", Length: 64, Charset: "utf8mb4", Collation: "utf8mb4_general_ci"},
			{Name: "amount", Type: "decimal", Length: 12, Decimals: 2, Nullable: true},
			{Name: "state", Type: "enum", Members: []string{"new", "paid", "shipped"}},
		},
		UniqueKeys: []repl.UniqueKey{{Name: "customer_uk", Columns: []int{1, 3}}},
	}
}

// pattern returns n pseudo-random bytes determined by seed.
func pattern(seed uint64, n int) []byte {
	b := make([]byte, n)
	var key [32]byte
	key[0], key[1], key[2], key[3] = byte(seed), byte(seed>>8), byte(seed>>16), byte(seed>>24)
	key[4], key[5], key[6], key[7] = byte(seed>>32), byte(seed>>40), byte(seed>>48), byte(seed>>56)
	_, _ = rand.NewChaCha8(key).Read(b) // never fails
	return b
}

// LargeRecord returns a transaction record whose events total size bytes,
// in 8 KiB events as a server writes a big transaction.
func LargeRecord(seed uint64, size int) capture.Record {
	r := Record(0)
	r.Events = nil
	const event = 8 << 10
	for n := 0; n < size; n += event {
		r.Events = append(r.Events, pattern(seed+uint64(n), min(event, size-n)))
	}
	return r
}

// Diff describes how got differs from want, field by field, ignoring
// Offset; it returns "" when they hold the same content. Byte slices are
// compared by content (nil equals empty), times with Equal, GTID sets with
// Equal and their flavor.
func Diff(want, got capture.Record) string {
	var d []string
	check := func(field string, equal bool, w, g any) {
		if !equal {
			d = append(d, fmt.Sprintf("%s: want %v, got %v", field, w, g))
		}
	}
	check("Kind", want.Kind == got.Kind, want.Kind, got.Kind)
	check("Cluster", want.Cluster == got.Cluster, want.Cluster, got.Cluster)
	check("Master", want.Master == got.Master, want.Master, got.Master)
	check("After", want.After.Flavor() == got.After.Flavor() && want.After.Equal(got.After),
		want.After.Flavor().String()+"/"+want.After.String(), got.After.Flavor().String()+"/"+got.After.String())
	check("MasterPos", want.MasterPos.Flavor() == got.MasterPos.Flavor() && want.MasterPos.Equal(got.MasterPos),
		want.MasterPos.String(), got.MasterPos.String())
	check("GTID", want.GTID == got.GTID, want.GTID, got.GTID)
	check("ServerID", want.ServerID == got.ServerID, want.ServerID, got.ServerID)
	check("CommitTime", want.CommitTime.Equal(got.CommitTime), want.CommitTime, got.CommitTime)
	check("Start", want.Start == got.Start, want.Start, got.Start)
	check("End", want.End == got.End, want.End, got.End)
	check("FormatDesc", bytes.Equal(want.FormatDesc, got.FormatDesc), len(want.FormatDesc), len(got.FormatDesc))
	check("len(Events)", len(want.Events) == len(got.Events), len(want.Events), len(got.Events))
	for i := range min(len(want.Events), len(got.Events)) {
		check(fmt.Sprintf("Events[%d]", i), bytes.Equal(want.Events[i], got.Events[i]),
			fmt.Sprintf("%d bytes %.8x", len(want.Events[i]), want.Events[i]), fmt.Sprintf("%d bytes %.8x", len(got.Events[i]), got.Events[i]))
	}
	check("Tables", tablesEqual(want.Tables, got.Tables), want.Tables, got.Tables)
	check("From", want.From == got.From, want.From, got.From)
	check("To", want.To == got.To, want.To, got.To)
	check("Connected", want.Connected == got.Connected, want.Connected, got.Connected)
	check("Failed", want.Failed == got.Failed, want.Failed, got.Failed)
	return strings.Join(d, "; ")
}

// tablesEqual compares schemas with nil slices equal to empty ones.
func tablesEqual(a, b []capture.TableSchema) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.TableID != y.TableID || x.Charset != y.Charset || x.Collation != y.Collation || x.Uncertain != y.Uncertain ||
			!reflect.DeepEqual(normalTable(x.Table), normalTable(y.Table)) {
			return false
		}
	}
	return true
}

// normalTable returns t with every empty slice set to nil.
func normalTable(t repl.Table) repl.Table {
	cols := make([]repl.Column, len(t.Columns))
	for i, c := range t.Columns {
		c.Members = nilIfEmpty(c.Members)
		cols[i] = c
	}
	t.Columns = nilIfEmpty(cols)
	t.PrimaryKey = nilIfEmpty(t.PrimaryKey)
	uks := make([]repl.UniqueKey, len(t.UniqueKeys))
	for i, k := range t.UniqueKeys {
		k.Columns = nilIfEmpty(k.Columns)
		uks[i] = k
	}
	t.UniqueKeys = nilIfEmpty(uks)
	return t
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// ReadLog reads a whole capture log from its first record, through
// capture.Dedupe when dedupe is set (as every consumer reads it), and fails
// tb on a read error.
func ReadLog(tb testing.TB, store capture.Store, dedupe bool) []capture.Record {
	tb.Helper()
	ctx := context.Background()
	rd, err := store.ReadFrom(ctx, 0)
	if err != nil {
		tb.Fatalf("reading the capture log: %v", err)
	}
	defer rd.Close()
	if dedupe {
		rd = capture.Dedupe(rd)
	}
	var out []capture.Record
	for {
		rec, err := rd.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			tb.Fatalf("reading the capture log: %v", err)
		}
		out = append(out, rec)
	}
}
