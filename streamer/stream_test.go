package streamer

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// TestCaptureMariaDB captures a mix of transactions from a real MariaDB
// and checks the log against the master's binlog: every transaction once,
// in order, with its GTID, positions, raw events and table schemas.
func TestCaptureMariaDB(t *testing.T) {
	inst := sandbox.StartInstance(t, nil)
	db := inst.DB(t)
	execAll(t, db,
		"CREATE DATABASE app", "CREATE DATABASE other",
		"CREATE TABLE app.t1 (id INT PRIMARY KEY, v VARCHAR(20), UNIQUE KEY uv (v))",
		"CREATE TABLE app.my (id INT PRIMARY KEY, a INT) ENGINE=MyISAM",
		"CREATE TABLE other.o (id INT PRIMARY KEY)")
	store := openStore(t, t.TempDir())
	defer store.Close()
	cfg := capConfig(inst)
	cfg.Schemas = []string{"app"}
	r := startStreamer(t, cfg, store)
	initial := waitCaptured(t, r, inst)

	ctx := context.Background()
	execAll(t, db, "INSERT INTO app.t1 VALUES (1, 'a')")
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"INSERT INTO app.t1 VALUES (2, 'b')", "UPDATE app.t1 SET v = 'c' WHERE id = 1"} {
		if _, err := tx.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	execAll(t, db, "ALTER TABLE app.t1 ADD COLUMN w INT AFTER id",
		"INSERT INTO app.t1 VALUES (3, 30, 'd')",
		"INSERT INTO app.my VALUES (1, 10)",
		"INSERT INTO other.o VALUES (1)",
		"DELETE FROM app.t1 WHERE id = 2")
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"XA START 'x1'", "INSERT INTO app.t1 VALUES (4, 40, 'e')", "XA END 'x1'", "XA PREPARE 'x1'", "XA COMMIT 'x1'"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	conn.Close()
	waitCaptured(t, r, inst)
	waitCaughtUp(t, r)
	if err := r.stop(t); err != nil {
		t.Fatalf("Run returned %v after cancel, want nil", err)
	}

	recs := readLog(t, store)
	if len(recs) == 0 || recs[0].Kind != capture.KindMasterState || !recs[0].After.Equal(initial) || !recs[0].Connected {
		t.Fatalf("first record = %+v, want a connected master-state record at %s", recs[0], initial)
	}
	txns := txnRecords(recs)
	want := afterInitial(binlogGTIDs(t, db), initial)
	checkAgainstBinlog(t, txns, want, initial)
	checkDecoded(t, txns)
	checkMetrics(t, r.s, txns)
}

// waitCaughtUp waits for the lag to drop to 0: a heartbeat came with
// everything durable.
func waitCaughtUp(t *testing.T, r *running) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); r.s.Status().Lag != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("lag still %v on an idle master", r.s.Status().Lag)
		}
	}
}

// checkMetrics compares the counters with the log.
func checkMetrics(t *testing.T, s *Streamer, txns []capture.Record) {
	t.Helper()
	var bytes int
	for _, r := range txns {
		for _, e := range r.Events {
			bytes += len(e)
		}
	}
	st := s.Status()
	if got := testutil.ToFloat64(s.m.txns); got != float64(len(txns)) {
		t.Errorf("transactions_total = %v, want %d", got, len(txns))
	}
	if got := testutil.ToFloat64(s.m.bytes); got != float64(bytes) {
		t.Errorf("event_bytes_total = %v, want %d", got, bytes)
	}
	if got := testutil.ToFloat64(s.m.rowsEvents); got != 7 { // other.o left out
		t.Errorf("row_events_total = %v, want 7", got)
	}
	if got := testutil.ToFloat64(s.m.position.WithLabelValues(st.Position.String())); got != 1 || testutil.CollectAndCount(s.m.position) != 1 {
		t.Errorf("position_info{gtid=%q} = %v among %d series", st.Position, got, testutil.CollectAndCount(s.m.position))
	}
	if testutil.CollectAndCount(s.m.appendLat) != 1 || st.LastGTID != txns[len(txns)-1].GTID || st.Connected {
		t.Errorf("status after stop = %+v", st)
	}
}

// checkAgainstBinlog compares captured transactions with the binlog's:
// same GTIDs in the same order, start positions, and After growing by one
// GTID per record.
func checkAgainstBinlog(t *testing.T, txns []capture.Record, want []binlogTxn, initial repl.GTIDSet) {
	t.Helper()
	if len(txns) != len(want) {
		t.Fatalf("captured %d transactions, binlog has %d after %s", len(txns), len(want), initial)
	}
	after := initial
	for i, rec := range txns {
		if rec.GTID != want[i].gtid || rec.Start != want[i].pos {
			t.Errorf("txn %d: GTID %s at %v, binlog has %s at %v", i, rec.GTID, rec.Start, want[i].gtid, want[i].pos)
		}
		var err error
		if after, err = after.Add(rec.GTID); err != nil {
			t.Fatal(err)
		}
		if !rec.After.Equal(after) {
			t.Errorf("txn %d (%s): After = %s, want %s", i, rec.GTID, rec.After, after)
		}
		checkRawEvents(t, rec)
		if i+1 < len(want) && want[i+1].pos.File == rec.End.File && rec.End.Pos > want[i+1].pos.Pos {
			t.Errorf("txn %d (%s) ends at %v, after the next one starts (%v)", i, rec.GTID, rec.End, want[i+1].pos)
		}
		if rec.End.File != rec.Start.File || rec.End.Pos <= rec.Start.Pos || len(rec.FormatDesc) == 0 ||
			rec.CommitTime.IsZero() || rec.ServerID != 1 || rec.Cluster != "test" {
			t.Errorf("txn %d (%s): bad metadata: end %v start %v fde %d bytes commit %v server %d cluster %q",
				i, rec.GTID, rec.End, rec.Start, len(rec.FormatDesc), rec.CommitTime, rec.ServerID, rec.Cluster)
		}
	}
}

// checkDecoded decodes each record and checks what the workload wrote.
func checkDecoded(t *testing.T, txns []capture.Record) {
	t.Helper()
	type expect struct {
		ddl     bool
		changes []string // "insert t1", ...
	}
	want := []expect{
		{changes: []string{"insert t1"}},
		{changes: []string{"insert t1", "update t1"}},
		{ddl: true},
		{changes: []string{"insert t1"}},
		{changes: []string{"insert my"}},
		{},                               // other.o: not a captured schema, rows left out
		{changes: []string{"delete t1"}}, //
		{changes: []string{"insert t1"}}, // XA PREPARE
		{ddl: true},                      // XA COMMIT: a statement, no rows
	}
	if len(txns) != len(want) {
		t.Fatalf("got %d transactions, want %d", len(txns), len(want))
	}
	for i, rec := range txns {
		txn, err := DecodeTxn(rec)
		if err != nil {
			t.Fatalf("txn %d (%s): DecodeTxn: %v", i, rec.GTID, err)
		}
		var got []string
		for _, c := range txn.Changes {
			got = append(got, c.Type().String()+" "+c.Table.Name)
		}
		if txn.IsDDL() != want[i].ddl || len(got) != len(want[i].changes) {
			t.Errorf("txn %d (%s): ddl=%v changes=%v, want ddl=%v changes=%v (statements %v)", i, rec.GTID, txn.IsDDL(), got, want[i].ddl, want[i].changes, txn.Statements)
			continue
		}
		for j := range got {
			if got[j] != want[i].changes[j] {
				t.Errorf("txn %d change %d = %s, want %s", i, j, got[j], want[i].changes[j])
			}
		}
	}
	// The insert after ALTER TABLE carries the new schema, with the unique
	// key the binlog does not know.
	tables := txns[3].Tables
	if len(tables) != 1 || tables[0].Table.ColumnIndex("w") != 1 || len(tables[0].Table.UniqueKeys) != 1 ||
		tables[0].Table.UniqueKeys[0].Name != "uv" {
		t.Errorf("schema of the insert after ALTER = %+v, want columns id, w, v and unique key uv", tables)
	}
}

// checkRawEvents: every raw event is whole (its header's event size is its
// length, checksum included) and the first is the GTID event.
func checkRawEvents(t *testing.T, rec capture.Record) {
	t.Helper()
	for j, e := range rec.Events {
		if len(e) < 19 || binary.LittleEndian.Uint32(e[9:13]) != uint32(len(e)) {
			t.Errorf("txn %s event %d: %d bytes, header says %d", rec.GTID, j, len(e), binary.LittleEndian.Uint32(e[9:13]))
		}
	}
	if len(rec.Events) == 0 || rec.Events[0][4] != byte(replication.MARIADB_GTID_EVENT) {
		t.Errorf("txn %s does not start with its GTID event", rec.GTID)
	}
}
