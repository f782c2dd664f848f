package applier

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/streamer"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// TestCaptureMatchesBinlogFiles cross-checks the two sources of capture
// records the applier tests have used: the real streamer and recordBuilder
// (the binlog files parsed directly). On one instance, both schemas of the
// scenarios (triggers, FK cascades, a keyless table, and the type matrix
// with its 100,000-row transaction) are created and their lost
// transactions committed; every transaction must be in both, with the same
// GTID, positions and commit time, and decode (streamer.DecodeTxn) to the
// same changes, value for value.
func TestCaptureMatchesBinlogFiles(t *testing.T) {
	in := sandbox.StartInstance(t, nil)
	capt := startCapture(t, in, "cross")
	start, err := in.GTIDBinlogPos(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, in.DB(t), appSchema...)
	mustExec(t, in.DB(t), matrixSchema...)
	for _, txn := range append(append([][]string{}, lostTxns...), matrixLost...) {
		mustTxn(t, in.DB(t), txn...)
	}
	got := txnsAfter(capt.wait(t), start)
	want := txnsAfter(binlogRecords(t, in, "cross"), start)
	n := len(appSchema) + len(matrixSchema) + len(lostTxns) + len(matrixLost) // every statement of the schemas autocommits
	if len(got) != n || len(want) != n {
		t.Fatalf("the streamer captured %d transactions, the binlog files hold %d: want %d", len(got), len(want), n)
	}
	changes := 0
	for i := range want {
		changes += sameRecord(t, got[i], want[i])
	}
	if changes < bigRows {
		t.Errorf("compared %d row changes, want at least the %d of the large transaction", changes, bigRows)
	}
}

// sameRecord compares a streamer record (got) with the one recordBuilder
// built from the same transaction of the binlog files (want), and returns
// how many row changes it compared.
func sameRecord(t *testing.T, got, want capture.Record) int {
	t.Helper()
	if got.GTID != want.GTID || got.ServerID != want.ServerID || got.Start != want.Start || got.End != want.End ||
		!got.CommitTime.Equal(want.CommitTime) || !got.After.Equal(want.After) {
		t.Errorf("record %s/%s: streamer has server %d, %v-%v, commit %v, after %s; files have server %d, %v-%v, commit %v, after %s",
			got.GTID, want.GTID, got.ServerID, got.Start, got.End, got.CommitTime, got.After,
			want.ServerID, want.Start, want.End, want.CommitTime, want.After)
		return 0
	}
	// A binlog file open for writing has LOG_EVENT_BINLOG_IN_USE_F (0x1,
	// header byte 17) set in its format description event; the master
	// clears it when it sends the event to a replica.
	fde := bytes.Clone(want.FormatDesc)
	if len(fde) > 17 {
		fde[17] &^= 1
	}
	if !bytes.Equal(got.FormatDesc, fde) {
		t.Errorf("%s: format description events differ:\n  streamer %x\n  files    %x", got.GTID, got.FormatDesc, want.FormatDesc)
	}
	if len(got.Events) != len(want.Events) {
		t.Errorf("%s: streamer has %d events, files %d", got.GTID, len(got.Events), len(want.Events))
	}
	for i := range min(len(got.Events), len(want.Events)) {
		if !bytes.Equal(got.Events[i], want.Events[i]) {
			t.Errorf("%s: event %d differs (type %d, %d bytes from the streamer; type %d, %d bytes from the files)",
				got.GTID, i, got.Events[i][4], len(got.Events[i]), want.Events[i][4], len(want.Events[i]))
		}
	}
	gt, err := streamer.DecodeTxn(got)
	if err != nil {
		t.Errorf("decoding the streamer's record: %v", err)
		return 0
	}
	wt, err := streamer.DecodeTxn(want)
	if err != nil {
		t.Errorf("decoding the files' record: %v", err)
		return 0
	}
	sameTxn(t, gt, wt)
	return len(wt.Changes)
}

// sameTxn compares two decodings of one transaction change by change.
func sameTxn(t *testing.T, got, want repl.Txn) {
	t.Helper()
	if got.GTID != want.GTID || got.ServerID != want.ServerID || got.Start != want.Start || got.End != want.End ||
		!got.CommitTime.Equal(want.CommitTime) {
		t.Errorf("%s: decoded headers differ: %+v vs %+v", want.GTID, got, want)
	}
	if !reflect.DeepEqual(got.Statements, want.Statements) {
		t.Errorf("%s: statements %q, files %q", want.GTID, got.Statements, want.Statements)
	}
	if len(got.Changes) != len(want.Changes) {
		t.Errorf("%s: %d changes, files %d", want.GTID, len(got.Changes), len(want.Changes))
		return
	}
	bad := 0
	seenTable := map[string]bool{}
	for i := range want.Changes {
		g, w := got.Changes[i], want.Changes[i]
		where := fmt.Sprintf("%s change %d (%s %s)", want.GTID, i, w.Type(), w.Table.QualifiedName())
		if d := tableDiff(g.Table, w.Table); d != "" && !seenTable[d] {
			seenTable[d] = true
			t.Errorf("%s: table %s", where, d)
		}
		if g.Type() != w.Type() {
			t.Errorf("%s: streamer has a %s", where, g.Type())
			continue
		}
		for _, img := range []struct {
			name      string
			got, want repl.Row
		}{{"before", g.Before, w.Before}, {"after", g.After, w.After}} {
			if d := rowDiff(w.Table, img.got, img.want); d != "" && bad < 20 {
				bad++
				t.Errorf("%s %s image: %s", where, img.name, d)
			}
		}
	}
}

// rowDiff describes how two row images differ, or is "".
func rowDiff(tbl *repl.Table, got, want repl.Row) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d columns, files %d", len(got), len(want))
	}
	var out string
	for i := range want {
		if !got[i].Equal(want[i]) {
			out += fmt.Sprintf(" %s: streamer %s %q (charset %q), files %s %q (charset %q);", tbl.Columns[i].Name,
				got[i].Kind(), got[i].String(), got[i].Charset(), want[i].Kind(), want[i].String(), want[i].Charset())
		}
	}
	return out
}

// historyOnly are the integer types whose display width (Column.Length)
// only the streamer's schema history knows: the binlog does not carry it.
var historyOnly = map[string]bool{"tinyint": true, "smallint": true, "mediumint": true, "int": true, "bigint": true, "year": true}

// tableDiff describes how two table schemas differ, or is "". The
// streamer's schema may add what only its history knows (integer display
// widths, generated columns, unique keys); everything the binlog carries
// must be equal.
func tableDiff(got, want *repl.Table) string {
	if got.QualifiedName() != want.QualifiedName() || len(got.Columns) != len(want.Columns) {
		return fmt.Sprintf("streamer %s with %d columns, files %s with %d", got.QualifiedName(), len(got.Columns),
			want.QualifiedName(), len(want.Columns))
	}
	var out string
	for i, w := range want.Columns {
		g := got.Columns[i]
		if historyOnly[w.Type] && w.Length == 0 {
			g.Length = 0
		}
		if w.Generated == "" {
			g.Generated = ""
		}
		if !reflect.DeepEqual(g, w) {
			out += fmt.Sprintf("\n  streamer %+v\n  files    %+v", got.Columns[i], w)
		}
	}
	if !reflect.DeepEqual(got.PrimaryKey, want.PrimaryKey) || len(want.UniqueKeys) > 0 && !reflect.DeepEqual(got.UniqueKeys, want.UniqueKeys) {
		out += fmt.Sprintf("\n  keys: streamer %v %v, files %v %v", got.PrimaryKey, got.UniqueKeys, want.PrimaryKey, want.UniqueKeys)
	}
	if out != "" {
		out = want.QualifiedName() + out
	}
	return out
}
