package capture_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"strconv"
	"testing"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
)

// sliceReader serves records from a slice that a test may extend; it
// returns io.EOF at its end, like a store reader.
type sliceReader struct {
	recs   []capture.Record
	next   int
	err    error // returned once the records are consumed, instead of io.EOF
	closed bool
}

func (s *sliceReader) Next(context.Context) (capture.Record, error) {
	if s.next == len(s.recs) {
		if s.err != nil {
			return capture.Record{}, s.err
		}
		return capture.Record{}, io.EOF
	}
	s.next++
	return s.recs[s.next-1], nil
}

func (s *sliceReader) Close() error { s.closed = true; return nil }

// dedupeTxn is a transaction record at offset off whose GTID is 0-1-seq and
// whose After is 0-1-1..upTo.
func dedupeTxn(t *testing.T, off int64, seq, upTo uint64) capture.Record {
	return capture.Record{Kind: capture.KindTxn, Offset: off, GTID: repl.MariaDBGTID(0, 1, seq),
		After: mustSet(t, repl.MariaDB, "0-1-"+strconv.FormatUint(upTo, 10))}
}

func drain(t *testing.T, r capture.Reader) []int64 {
	t.Helper()
	var offs []int64
	for {
		rec, err := r.Next(context.Background())
		if err == io.EOF {
			return offs
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		offs = append(offs, rec.Offset)
	}
}

func TestDedupe(t *testing.T) {
	state := func(off int64, upTo uint64) capture.Record {
		r := dedupeTxn(t, off, 1, upTo)
		r.Kind, r.GTID = capture.KindMasterState, repl.MariaDBGTID(0, 1, upTo)
		return r
	}
	tests := []struct {
		name string
		recs []capture.Record
		want []int64 // offsets passed through
	}{
		{"no duplicates", []capture.Record{dedupeTxn(t, 0, 1, 1), dedupeTxn(t, 1, 2, 2), dedupeTxn(t, 2, 3, 3)}, []int64{0, 1, 2}},
		{"retried tail", []capture.Record{dedupeTxn(t, 0, 1, 1), dedupeTxn(t, 1, 2, 2), dedupeTxn(t, 2, 3, 3), dedupeTxn(t, 3, 2, 2), dedupeTxn(t, 4, 3, 3), dedupeTxn(t, 5, 4, 4)},
			[]int64{0, 1, 2, 5}},
		{"immediate repeat", []capture.Record{dedupeTxn(t, 0, 1, 1), dedupeTxn(t, 1, 1, 1), dedupeTxn(t, 2, 2, 2), dedupeTxn(t, 3, 2, 2)}, []int64{0, 2}},
		{"non-txn records always pass", []capture.Record{dedupeTxn(t, 0, 1, 1), state(1, 1), state(2, 1), dedupeTxn(t, 3, 1, 1)}, []int64{0, 1, 2}},
		{"retried state record cannot shrink the set", []capture.Record{dedupeTxn(t, 0, 1, 1), dedupeTxn(t, 1, 2, 2), state(2, 2), dedupeTxn(t, 3, 3, 3),
			state(4, 2), dedupeTxn(t, 5, 3, 3), dedupeTxn(t, 6, 4, 4)}, []int64{0, 1, 2, 3, 4, 6}},
		{"record without After keeps the set", []capture.Record{dedupeTxn(t, 0, 1, 1), {Kind: capture.KindMasterSwitch, Offset: 1}, dedupeTxn(t, 2, 1, 1)},
			[]int64{0, 1}},
		{"first record passes", []capture.Record{dedupeTxn(t, 7, 5, 5), dedupeTxn(t, 8, 6, 6)}, []int64{7, 8}},
		{"other server id, same seq: duplicate", []capture.Record{dedupeTxn(t, 0, 1, 1), {Kind: capture.KindTxn, Offset: 1,
			GTID: repl.MariaDBGTID(0, 9, 1), After: mustSet(t, repl.MariaDB, "0-9-1")}}, []int64{0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := drain(t, capture.Dedupe(&sliceReader{recs: tc.recs})); !slices.Equal(got, tc.want) {
				t.Fatalf("offsets passed = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDedupeMySQLAndFollow(t *testing.T) {
	u := mustUUID(t, "3e11fa47-71ca-11e1-9e33-c80aa9429562")
	rec := func(off int64, gno uint64, after string) capture.Record {
		return capture.Record{Kind: capture.KindTxn, Offset: off, GTID: repl.MySQLGTID(u, "", gno),
			After: mustSet(t, repl.MySQL, "3e11fa47-71ca-11e1-9e33-c80aa9429562:"+after)}
	}
	src := &sliceReader{recs: []capture.Record{rec(0, 1, "1"), rec(1, 2, "1-2")}}
	d := capture.Dedupe(src)
	if got := drain(t, d); !slices.Equal(got, []int64{0, 1}) {
		t.Fatalf("first pass = %v", got)
	}
	// More records arrive after io.EOF, among them a retried one.
	src.recs = append(src.recs, rec(2, 2, "1-2"), rec(3, 3, "1-3"))
	if got := drain(t, d); !slices.Equal(got, []int64{3}) {
		t.Fatalf("after EOF = %v, want [3]", got)
	}
	src.err = errors.New("broker down")
	if _, err := d.Next(context.Background()); err != src.err {
		t.Fatalf("Next = %v, want the wrapped reader's error", err)
	}
	if err := d.Close(); err != nil || !src.closed {
		t.Fatalf("Close = %v, closed %v", err, src.closed)
	}
}

// TestDedupeNewHistory: after a lossy MariaDB failover the new master
// reuses the lost transactions' sequence numbers; a switch record starts a
// new history, so those transactions pass while retried ones do not.
func TestDedupeNewHistory(t *testing.T) {
	set := func(s string) repl.GTIDSet { return mustSet(t, repl.MariaDB, s) }
	txn := func(off int64, g repl.GTID, after, masterPos string) capture.Record {
		r := capture.Record{Kind: capture.KindTxn, Offset: off, GTID: g, After: set(after)}
		if masterPos != "" {
			r.MasterPos = set(masterPos)
		}
		return r
	}
	sw := func(off int64) capture.Record {
		return capture.Record{Kind: capture.KindMasterSwitch, Offset: off, From: "a:1", To: "b:1",
			After: set("0-1-4"), MasterPos: set("0-1-2")}
	}
	old := func(off int64, seq uint64) capture.Record {
		return txn(off, repl.MariaDBGTID(0, 1, seq), "0-1-"+strconv.FormatUint(seq, 10), "")
	}
	recs := []capture.Record{
		old(0, 1), old(1, 2), old(2, 3), old(3, 4), // 3 and 4 are lost in the failover
		sw(4),
		sw(5), // retried append of the switch: no new history
		txn(6, repl.MariaDBGTID(0, 2, 3), "0-1-4", "0-2-3"), // the new master's 3: not a duplicate
		txn(7, repl.MariaDBGTID(0, 2, 3), "0-1-4", "0-2-3"), // retried: duplicate
		txn(8, repl.MariaDBGTID(0, 2, 4), "0-2-4", ""),
		txn(9, repl.MariaDBGTID(0, 2, 4), "0-2-4", ""),
		txn(10, repl.MariaDBGTID(0, 2, 5), "0-2-5", ""),
	}
	want := []int64{0, 1, 2, 3, 4, 5, 6, 8, 10}
	if got := drain(t, capture.Dedupe(&sliceReader{recs: recs})); !slices.Equal(got, want) {
		t.Fatalf("offsets passed = %v, want %v", got, want)
	}
	// A reader that starts after the switch, inside the new history.
	if got := drain(t, capture.Dedupe(&sliceReader{recs: recs[6:]})); !slices.Equal(got, []int64{6, 8, 10}) {
		t.Fatalf("from offset 6: offsets passed = %v, want [6 8 10]", got)
	}
}
