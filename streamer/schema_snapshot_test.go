package streamer

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"log/slog"
	"sort"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/go-sql-driver/mysql"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
)

// rawEvent is a binlog event as a MariaDB 10.11 server writes it: 19-byte
// header, body, CRC32 checksum.
func rawEvent(typ replication.EventType, body []byte) []byte {
	ev := make([]byte, 19, 19+len(body)+4)
	binary.LittleEndian.PutUint32(ev[0:], 1_700_000_000)
	ev[4] = byte(typ)
	binary.LittleEndian.PutUint32(ev[5:], 1)
	binary.LittleEndian.PutUint32(ev[9:], uint32(19+len(body)+4))
	ev = append(ev, body...)
	return binary.LittleEndian.AppendUint32(ev, crc32.ChecksumIEEE(ev))
}

func rawFDE() []byte {
	b := binary.LittleEndian.AppendUint16(nil, 4)
	sv := make([]byte, 50)
	copy(sv, "10.11.6-MariaDB-log")
	b = append(append(b, sv...), 0, 0, 0, 0, 19)
	b = append(b, make([]byte, 40)...) // post-header lengths: not used for query events
	return rawEvent(replication.FORMAT_DESCRIPTION_EVENT, append(b, replication.BINLOG_CHECKSUM_ALG_CRC32))
}

func rawQuery(schema, q string) []byte {
	b := make([]byte, 13)
	b[8] = byte(len(schema))
	b = append(append(b, schema...), 0)
	return rawEvent(replication.QUERY_EVENT, append(b, q...))
}

func rawGTID(seq uint64, standalone bool) []byte {
	b := binary.LittleEndian.AppendUint64(nil, seq)
	b = binary.LittleEndian.AppendUint32(b, 0)
	if standalone {
		return rawEvent(replication.MARIADB_GTID_EVENT, append(b, 1))
	}
	return rawEvent(replication.MARIADB_GTID_EVENT, append(b, 0))
}

func posAt(t testing.TB, seq uint64) repl.GTIDSet {
	t.Helper()
	s, err := repl.ParseGTIDSet(repl.MariaDB, fmt.Sprintf("0-1-%d", seq))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// ddlTxn is a captured DDL transaction (GTID event, query), dmlTxn one
// with rows (GTID, BEGIN, XID; the rows events do not matter here).
func ddlTxn(t testing.TB, seq uint64, schema, q string) capture.Record {
	return capture.Record{Kind: capture.KindTxn, Cluster: "c", Master: "m:3306", GTID: repl.MariaDBGTID(0, 1, seq),
		After: posAt(t, seq), FormatDesc: rawFDE(), Events: [][]byte{rawGTID(seq, true), rawQuery(schema, q)}}
}

func dmlTxn(t testing.TB, seq uint64) capture.Record {
	r := ddlTxn(t, seq, "app", "BEGIN")
	r.Events = append(r.Events, rawEvent(replication.XID_EVENT, make([]byte, 8)))
	return r
}

// noServerHistory is memHistory with a pool that cannot connect
// (127.0.0.1:1 refuses): any read from the server fails with an error,
// so a test passing with it shows the parser path did all the work.
func noServerHistory(t testing.TB) *schemaHistory {
	t.Helper()
	c := mysql.NewConfig()
	c.Net, c.Addr, c.User = "tcp", "127.0.0.1:1", "nobody"
	conn, err := mysql.NewConnector(c)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	t.Cleanup(func() { db.Close() })
	h := memHistory()
	h.db = db
	return h
}

// describeHistory renders every table: key, columns and keys, table
// charset/collation, and "?" when uncertain.
func describeHistory(h *schemaHistory) string {
	var out []string
	for k, e := range h.tables {
		u := ""
		if e.uncertain {
			u = " ?"
		}
		out = append(out, fmt.Sprintf("%s[%s/%s%s] %s", k, e.charset, e.collation, u, describeTable(e.t)))
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func testStreamer(t *testing.T, recs ...capture.Record) *Streamer {
	t.Helper()
	st := openStore(t, t.TempDir())
	t.Cleanup(func() { st.Close() })
	if err := st.Append(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
	return &Streamer{cfg: Config{Cluster: "c", Flavor: repl.MariaDB}, store: st, log: slog.New(slog.DiscardHandler)}
}

// TestLoadHistoryFromLog: a session's history is the log's latest
// snapshot plus the DDL of the transactions after it, and equals the
// history that applied the same DDL live.
func TestLoadHistoryFromLog(t *testing.T) {
	ctx := context.Background()
	const create = "CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(10)) DEFAULT CHARSET=latin1"
	// snap returns the snapshot record after applying ddl, in order, to a
	// fresh history, and that history.
	snap := func(seq uint64, ddl ...string) (capture.Record, *schemaHistory) {
		h := memHistory()
		for _, q := range ddl {
			if err := h.applyDDL(ctx, "app", q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		return h.snapshotRecord(ddlTxn(t, seq, "app", ddl[len(ddl)-1])), h
	}
	s1, _ := snap(1, create)
	s3, _ := snap(3, create, "ALTER TABLE t ADD b INT")
	alter := "ALTER TABLE t ADD c TEXT, ADD UNIQUE KEY uc (c(10))"
	tests := []struct {
		name  string
		log   []capture.Record
		live  []string // the DDL a live history applied, in order
		fresh bool
		since int
	}{
		{"snapshot is last", []capture.Record{ddlTxn(t, 1, "app", create), s1}, []string{create}, false, 0},
		{"only DML after the snapshot", []capture.Record{ddlTxn(t, 1, "app", create), s1, dmlTxn(t, 2), dmlTxn(t, 3)},
			[]string{create}, false, 2},
		{"DDL whose snapshot is not durable", []capture.Record{ddlTxn(t, 1, "app", create), s1, dmlTxn(t, 2), ddlTxn(t, 3, "app", alter)},
			[]string{create, alter}, true, 2},
		{"latest snapshot wins", []capture.Record{ddlTxn(t, 1, "app", create), s1, ddlTxn(t, 3, "app", "ALTER TABLE t ADD b INT"), s3,
			ddlTxn(t, 4, "app", alter)}, []string{create, "ALTER TABLE t ADD b INT", alter}, true, 1},
		{"several DDL in order, other schemas ignored", []capture.Record{ddlTxn(t, 1, "app", create), s1,
			ddlTxn(t, 2, "app", "RENAME TABLE t TO t2"), ddlTxn(t, 3, "other", "CREATE TABLE x (a INT)"),
			ddlTxn(t, 4, "app", "CREATE TABLE u LIKE t2"), ddlTxn(t, 5, "app", "ALTER TABLE app.t2 ADD z INT FIRST"),
			ddlTxn(t, 6, "app", "DROP TABLE u"), dmlTxn(t, 7)},
			[]string{create, "RENAME TABLE t TO t2", "CREATE TABLE u LIKE t2", "ALTER TABLE app.t2 ADD z INT FIRST", "DROP TABLE u"}, true, 6},
		// An at-least-once store may hold a transaction twice: ADD COLUMN
		// applied twice would fail (and fall back to the server).
		{"duplicate DDL transaction replayed once", []capture.Record{ddlTxn(t, 1, "app", create), s1,
			ddlTxn(t, 2, "app", alter), ddlTxn(t, 2, "app", alter)}, []string{create, alter}, true, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := testStreamer(t, tc.log...)
			h := noServerHistory(t)
			fresh, since, err := s.loadHistory(ctx, h, resume{ok: true, last: tc.log[len(tc.log)-1]})
			if err != nil {
				t.Fatalf("loadHistory: %v", err)
			}
			live := memHistory()
			for _, q := range tc.live {
				if err := live.applyDDL(ctx, "app", q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			if got, want := describeHistory(h), describeHistory(live); got != want {
				t.Errorf("history from the log:\n%s\nwant (applied live):\n%s", got, want)
			}
			if fresh != tc.fresh || since != tc.since {
				t.Errorf("fresh, since = %v, %d; want %v, %d", fresh, since, tc.fresh, tc.since)
			}
			if h.changed {
				t.Error("loadHistory left changed set: the pump would write a snapshot for that reason instead of fresh")
			}
		})
	}
}

// TestLoadHistorySnapshotFarBack: a snapshot more than snapshotEvery
// records back is found by the second, wider read.
func TestLoadHistorySnapshotFarBack(t *testing.T) {
	ctx := context.Background()
	h0 := memHistory()
	if err := h0.applyDDL(ctx, "app", "CREATE TABLE t (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	first := ddlTxn(t, 1, "app", "CREATE TABLE t (id INT PRIMARY KEY)")
	log := []capture.Record{first, h0.snapshotRecord(first)}
	const n = snapshotEvery + 100
	for i := range uint64(n) {
		log = append(log, capture.Record{Kind: capture.KindTxn, GTID: repl.MariaDBGTID(0, 1, i+2), After: posAt(t, i+2)})
	}
	log = append(log, ddlTxn(t, n+2, "app", "ALTER TABLE t ADD a INT"))
	s := testStreamer(t, log...)
	h := noServerHistory(t)
	fresh, since, err := s.loadHistory(ctx, h, resume{ok: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := describeTable(h.tables[tableKey{"app", "t"}].t); got != "id:int(11,0)! a:int(11,0) | pk=id" || !fresh || since != n+1 {
		t.Errorf("t = %s, fresh %v, since %d; want the ALTER applied, fresh, since %d", got, fresh, since, n+1)
	}
}

// TestLoadHistoryWithoutSnapshot: a log without a snapshot is seeded from
// the live server (here unreachable, so the attempt is the error).
func TestLoadHistoryWithoutSnapshot(t *testing.T) {
	s := testStreamer(t, dmlTxn(t, 1), ddlTxn(t, 2, "app", "CREATE TABLE t (id INT)"))
	_, _, err := s.loadHistory(context.Background(), noServerHistory(t), resume{ok: true, pos: posAt(t, 2), after: posAt(t, 2)})
	if err == nil || !strings.Contains(err.Error(), "seeding the schema history") {
		t.Fatalf("loadHistory = %v, want an error seeding from the server", err)
	}
}

// TestLoadHistoryBadEvent: a transaction after the snapshot whose query
// event cannot be parsed is an error naming it, not a silent skip.
func TestLoadHistoryBadEvent(t *testing.T) {
	h0 := memHistory()
	first := dmlTxn(t, 1)
	bad := ddlTxn(t, 2, "app", "ALTER TABLE t ADD a INT")
	bad.FormatDesc = []byte("not an event")
	s := testStreamer(t, first, h0.snapshotRecord(first), bad)
	_, _, err := s.loadHistory(context.Background(), noServerHistory(t), resume{ok: true})
	if err == nil || !strings.Contains(err.Error(), "reading the DDL of captured transaction 0-1-2") {
		t.Fatalf("loadHistory = %v, want an error naming transaction 0-1-2", err)
	}
}

// TestSnapshotRestoreThroughCodec: a history written as a KindSchema
// record and restored from its decoded form is the same history, table
// defaults and uncertain flags included, and later DDL gives the same
// result on both (an added column inherits the restored default charset).
func TestSnapshotRestoreThroughCodec(t *testing.T) {
	ctx := context.Background()
	h := memHistory()
	for _, q := range []string{
		"CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(10), e ENUM('x','y'), g INT AS (id+1) STORED, UNIQUE KEY ua (a))",
		"CREATE TABLE l (id BIGINT UNSIGNED NOT NULL, n CHAR(3)) DEFAULT CHARSET=latin1 COLLATE=latin1_bin",
		"CREATE TABLE b (x BLOB)",
	} {
		if err := h.applyDDL(ctx, "app", q); err != nil {
			t.Fatal(err)
		}
	}
	b := *h.tables[tableKey{"app", "b"}]
	b.uncertain = true
	h.tables[tableKey{"app", "b"}] = &b
	at := ddlTxn(t, 9, "app", "CREATE TABLE b (x BLOB)")
	at.MasterPos = posAt(t, 8)
	rec := h.snapshotRecord(at)
	if rec.Kind != capture.KindSchema || rec.Cluster != at.Cluster || rec.Master != at.Master ||
		!rec.After.Equal(at.After) || !rec.MasterPos.Equal(at.MasterPos) || len(rec.Events) != 0 {
		t.Fatalf("snapshot record %+v does not repeat its transaction's position", rec)
	}
	var names []string
	for _, ts := range rec.Tables {
		names = append(names, ts.Table.Name)
		if ts.TableID != 0 {
			t.Errorf("table %s has TableID %d in a snapshot", ts.Table.Name, ts.TableID)
		}
	}
	if strings.Join(names, ",") != "b,l,t" {
		t.Errorf("snapshot tables in order %v, want sorted b,l,t", names)
	}
	enc, err := capture.EncodeRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := capture.DecodeRecord(enc)
	if err != nil {
		t.Fatal(err)
	}
	r := memHistory()
	r.restore(dec.Tables)
	if got, want := describeHistory(r), describeHistory(h); got != want {
		t.Fatalf("restored history:\n%s\nwant:\n%s", got, want)
	}
	for _, q := range []string{"ALTER TABLE l ADD m VARCHAR(4)", "ALTER TABLE b ADD y INT"} {
		for _, x := range []*schemaHistory{h, r} {
			if err := x.applyDDL(ctx, "app", q); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got, want := describeHistory(r), describeHistory(h); got != want {
		t.Errorf("after DDL, restored history:\n%s\nwant:\n%s", got, want)
	}
	if !strings.Contains(describeHistory(r), "m:varchar(4,0)@latin1/latin1_bin") {
		t.Errorf("column added after restore did not inherit the table default: %s", describeHistory(r))
	}
}
