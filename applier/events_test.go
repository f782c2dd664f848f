package applier

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
)

// rawEvent builds an event: 19-byte header, body, 4-byte (fake) checksum.
func rawEvent(typ byte, body []byte) []byte {
	ev := make([]byte, eventHeaderBytes, eventHeaderBytes+len(body)+4)
	ev[4] = typ
	ev = append(ev, body...)
	ev = append(ev, 0xde, 0xad, 0xbe, 0xef)
	binary.LittleEndian.PutUint32(ev[9:13], uint32(len(ev)))
	return ev
}

// queryEvent is a query event body: post-header, no status vars, schema.
func queryEvent(schema, query string) []byte {
	body := make([]byte, 13)
	body[8] = byte(len(schema))
	body = append(body, schema...)
	body = append(body, 0)
	return rawEvent(evQuery, append(body, query...))
}

// idFlagsEvent is a table map or rows event with a table id and flags.
func idFlagsEvent(typ byte, id uint64, flags uint16, rest string) []byte {
	body := make([]byte, 8)
	binary.LittleEndian.PutUint32(body[0:4], uint32(id))
	binary.LittleEndian.PutUint16(body[6:8], flags)
	return rawEvent(typ, append(body, rest...))
}

func TestReplayStatements(t *testing.T) {
	tm1 := idFlagsEvent(evTableMap, 1, 0, "map t1")
	tm2 := idFlagsEvent(evTableMap, 2, tableMapHasTriggers, "map t2")
	w1 := idFlagsEvent(23, 1, 0, "rows a")
	w2 := idFlagsEvent(23, 2, rowsStmtEndFlag, "rows b")
	u1 := idFlagsEvent(31, 1, rowsStmtEndFlag, "rows c")
	rec := capture.Record{Kind: capture.KindTxn, GTID: repl.MariaDBGTID(0, 1, 5), Events: [][]byte{
		rawEvent(evMariaDBGTID, []byte("gtid")), queryEvent("", "BEGIN"), rawEvent(evAnnotateRows, []byte("insert ...")),
		tm1, tm2, w1, w2, tm1, u1, rawEvent(evXID, []byte("xid12345")),
	}}
	got, err := replayStatements(rec)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{bytes.Join([][]byte{tm1, tm2, w1, w2}, nil), bytes.Join([][]byte{tm1, u1}, nil)}
	if len(got) != len(want) {
		t.Fatalf("got %d statements, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("statement %d holds the wrong events", i)
		}
		sql := got[i].SQL()
		dec, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(strings.TrimPrefix(sql, "BINLOG '"), "'"))
		if err != nil || !bytes.Equal(dec, want[i]) {
			t.Errorf("statement %d SQL does not carry its events in base64: %v", i, err)
		}
	}
	if !hasTriggerFlag(rec) {
		t.Error("hasTriggerFlag: the second table map has TM_BIT_HAS_TRIGGERS_F")
	}
}

func TestReplayStatementsRejects(t *testing.T) {
	tests := map[string][]byte{
		"DDL":                  queryEvent("app", "CREATE TABLE x (id int)"),
		"query ending COMMIT":  queryEvent("app", "DROP TABLE x_COMMIT"),
		"statement-format DML": rawEvent(evIntvar, []byte("123456789")),
		"unknown event":        rawEvent(99, nil),
		"truncated event":      {1, 2, 3},
	}
	for name, ev := range tests {
		rec := capture.Record{Kind: capture.KindTxn, GTID: repl.MariaDBGTID(0, 1, 5), Events: [][]byte{queryEvent("", "BEGIN"), ev}}
		if _, err := replayStatements(rec); err == nil {
			t.Errorf("%s: replayStatements accepted it", name)
		}
	}
}

func TestIsTxnControl(t *testing.T) {
	for q, want := range map[string]bool{"BEGIN": true, "COMMIT": true, "ROLLBACK": true, "BEGIN WORK": false, "XA START 'x'": false} {
		if got := isTxnControl(queryEvent("db", q)); got != want {
			t.Errorf("isTxnControl(%q) = %v, want %v", q, got, want)
		}
	}
}

func TestFDEStatement(t *testing.T) {
	if _, err := fdeStatement(rawEvent(evQuery, nil)); err == nil {
		t.Error("fdeStatement accepted a query event")
	}
	if _, err := fdeStatement(nil); err == nil {
		t.Error("fdeStatement accepted no event")
	}
	if _, err := fdeStatement(rawEvent(evFormatDesc, []byte("fde"))); err != nil {
		t.Error(err)
	}
}

// FuzzReplayStatements feeds arbitrary events (captured records are not
// trusted): grouping must never panic, and what it accepts must be whole
// table map or rows events, in order.
func FuzzReplayStatements(f *testing.F) {
	f.Add(idFlagsEvent(evTableMap, 1, 0, "m"), idFlagsEvent(23, 1, rowsStmtEndFlag, "r"))
	f.Add(queryEvent("db", "BEGIN"), queryEvent("db", "DROP TABLE t"))
	f.Add([]byte{0, 0, 0, 0, 2, 0}, []byte{})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		rec := capture.Record{Kind: capture.KindTxn, GTID: repl.MariaDBGTID(0, 1, 1), Events: [][]byte{a, b}}
		stmts, err := replayStatements(rec)
		_ = hasTriggerFlag(rec)
		if err != nil {
			return
		}
		var kept []byte
		for _, ev := range [][]byte{a, b} {
			if t := ev[4]; t == evTableMap || isRowsEvent(t) {
				kept = append(kept, ev...)
			}
		}
		var got []byte
		for _, s := range stmts {
			got = append(got, s...)
		}
		if !bytes.Equal(got, kept) {
			t.Fatalf("statements hold %x, want the replayable events %x", got, kept)
		}
	})
}

// FuzzGTIDOfInfo parses the Info column of SHOW BINLOG EVENTS.
func FuzzGTIDOfInfo(f *testing.F) {
	for _, s := range []string{"BEGIN GTID 0-1-5", "GTID 0-2-8 cid=3", "GTID", "GTID x-y-z", "BEGIN GTID 4294967296-1-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, info string) {
		g, err := gtidOfInfo(info)
		if err == nil && (g.Flavor != repl.MariaDB || g.Seq == 0) {
			t.Fatalf("gtidOfInfo(%q) = %+v", info, g)
		}
	})
}

// TestBinlogStatementText checks the chunked base64 writer against the
// standard encoding around its 768-byte chunks, with and without the SET
// STATEMENT prefix.
func TestBinlogStatementText(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 767, 768, 769, 1535, 1536, 1537, 5000} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*31 + n)
		}
		want := "BINLOG '" + base64.StdEncoding.EncodeToString(b) + "'"
		if got := binlogStatement(b).SQL(); got != want {
			t.Errorf("%d bytes: SQL() = %.60q..., want %.60q...", n, got, want)
		}
		prefix := mariadbSeqPrefix(uint64(n))
		if got := binlogStatement(b).sqlAfter(prefix); got != mariadbSeqFor(uint64(n), want) {
			t.Errorf("%d bytes: sqlAfter differs from mariadbSeqFor", n)
		}
	}
}
