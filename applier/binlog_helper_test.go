package applier

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/streamer"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// recordBuilder turns a MariaDB binary log into capture records the way the
// streamer does: one KindTxn record per GTID transaction, with the file's
// format description event, the raw events (but Annotate_rows) and the
// table schemas (streamer.TableFromMap, binlog_row_metadata=FULL, without
// the schema history the streamer adds: no unique keys, generated columns
// or integer display widths). The applier tests take their capture logs
// from a real streamer (capture_helper_test.go); recordBuilder remains for
// the new masters' binlogs (binlogGTIDs), the benchmark and the cross-check
// of the two (TestCaptureMatchesBinlogFiles).
type recordBuilder struct {
	t       testing.TB
	cluster string
	master  string
	file    string
	fde     []byte
	cur     *capture.Record
	alone   bool // MariaDB FL_STANDALONE: ends with its first query
	after   repl.GTIDSet
	out     []capture.Record
}

// binlogRecords reads every binary log file of a (stopped or running)
// instance, in index order.
func binlogRecords(t testing.TB, in *sandbox.Instance, cluster string) []capture.Record {
	t.Helper()
	index, err := os.ReadFile(filepath.Join(in.DataDir, "mysql-bin.index"))
	if err != nil {
		t.Fatalf("reading the binlog index of %s: %v", in.Name, err)
	}
	b := &recordBuilder{t: t, cluster: cluster, master: in.Addr(), after: repl.NewGTIDSet(repl.MariaDB)}
	for _, name := range strings.Fields(string(index)) {
		b.file = filepath.Base(name)
		p := replication.NewBinlogParser()
		p.SetFlavor("mariadb")
		if err := p.ParseFile(filepath.Join(in.DataDir, b.file), 0, b.event); err != nil {
			t.Fatalf("parsing %s of %s: %v", b.file, in.Name, err)
		}
	}
	if b.cur != nil {
		t.Fatalf("binlog of %s ends inside transaction %s", in.Name, b.cur.GTID)
	}
	return b.out
}

func (b *recordBuilder) event(ev *replication.BinlogEvent) error {
	raw := bytes.Clone(ev.RawData) // the parser reuses its buffers
	switch e := ev.Event.(type) {
	case *replication.FormatDescriptionEvent:
		b.fde = raw
		return nil
	case *replication.MariadbGTIDEvent:
		g := repl.MariaDBGTID(e.GTID.DomainID, ev.Header.ServerID, e.GTID.SequenceNumber)
		b.cur = &capture.Record{Kind: capture.KindTxn, Cluster: b.cluster, Master: b.master, GTID: g,
			ServerID: ev.Header.ServerID, FormatDesc: b.fde, Events: [][]byte{raw},
			Start: repl.BinlogPos{File: b.file, Pos: ev.Header.LogPos - ev.Header.EventSize}}
		b.alone = e.IsStandalone()
		return nil
	}
	if b.cur == nil {
		return nil // Gtid_list, checkpoint, rotate, stop: outside transactions
	}
	if ev.Header.EventType == replication.MARIADB_ANNOTATE_ROWS_EVENT {
		// A master sends Annotate_rows (the statement's text) only to
		// replicas that ask for it, which the streamer does not.
		return nil
	}
	b.cur.Events = append(b.cur.Events, raw)
	switch e := ev.Event.(type) {
	case *replication.TableMapEvent:
		b.table(e)
	case *replication.XIDEvent:
		b.finish(ev)
	case *replication.QueryEvent:
		if q := strings.ToUpper(strings.TrimSpace(string(e.Query))); b.alone || q == "COMMIT" || q == "ROLLBACK" {
			b.finish(ev)
		}
	}
	return nil
}

func (b *recordBuilder) table(e *replication.TableMapEvent) {
	for _, ts := range b.cur.Tables {
		if ts.TableID == e.TableID {
			return
		}
	}
	tbl, err := streamer.TableFromMap(e, nil)
	if err != nil {
		b.t.Fatalf("table map of %s: %v", b.cur.GTID, err)
	}
	b.cur.Tables = append(b.cur.Tables, capture.TableSchema{TableID: e.TableID, Table: tbl})
}

func (b *recordBuilder) finish(ev *replication.BinlogEvent) {
	var err error
	if b.after, err = b.after.Add(b.cur.GTID); err != nil {
		b.t.Fatal(err)
	}
	b.cur.After = b.after
	b.cur.End = repl.BinlogPos{File: b.file, Pos: ev.Header.LogPos}
	b.cur.CommitTime = time.Unix(int64(ev.Header.Timestamp), 0).UTC()
	b.out = append(b.out, *b.cur)
	b.cur = nil
}

// localStore writes recs into a new local capture store.
func localStore(t testing.TB, recs []capture.Record) *capture.Local {
	t.Helper()
	st, err := capture.OpenLocal(t.TempDir(), capture.LocalOptions{})
	if err != nil {
		t.Fatalf("opening a local capture store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.Append(context.Background(), recs...); err != nil {
		t.Fatalf("appending %d records: %v", len(recs), err)
	}
	return st
}
