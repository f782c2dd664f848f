package streamer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/recoup-dev/recoup/repl"
)

// evSpec is one synthetic binlog event for the builder tests.
type evSpec struct {
	typ   replication.EventType
	ev    replication.Event
	flags uint16
}

func fde() evSpec {
	return evSpec{typ: replication.FORMAT_DESCRIPTION_EVENT, ev: &replication.FormatDescriptionEvent{}}
}
func rotate(file string) evSpec {
	return evSpec{typ: replication.ROTATE_EVENT, ev: &replication.RotateEvent{NextLogName: []byte(file)}, flags: replication.LOG_EVENT_ARTIFICIAL_F}
}
func mgtid(seq uint64, flags byte) evSpec {
	return evSpec{typ: replication.MARIADB_GTID_EVENT, ev: &replication.MariadbGTIDEvent{GTID: mysql.MariadbGTID{SequenceNumber: seq}, Flags: flags}}
}
func ygtid(gno int64) evSpec {
	return evSpec{typ: replication.GTID_EVENT, ev: &replication.GTIDEvent{SID: make([]byte, 16), GNO: gno}}
}
func query(schema, q string) evSpec {
	return evSpec{typ: replication.QUERY_EVENT, ev: &replication.QueryEvent{Schema: []byte(schema), Query: []byte(q)}}
}
func xid() evSpec { return evSpec{typ: replication.XID_EVENT, ev: &replication.XIDEvent{}} }
func tmap(id uint64, schema string) evSpec {
	return evSpec{typ: replication.TABLE_MAP_EVENT, ev: &replication.TableMapEvent{TableID: id, Schema: []byte(schema), Table: []byte("t")}}
}
func rows(id uint64) evSpec {
	return evSpec{typ: replication.WRITE_ROWS_EVENTv1, ev: &replication.RowsEvent{TableID: id}}
}
func generic(typ replication.EventType, flags uint16) evSpec {
	return evSpec{typ: typ, ev: &replication.GenericEvent{}, flags: flags}
}

const standalone = replication.BINLOG_MARIADB_FL_STANDALONE

// wantTxn is one expected record: its GTID sequence number, how many raw
// events it keeps, and the table ids it describes.
type wantTxn struct {
	seq    uint64
	events int
	tables []uint64
}

type builderCase struct {
	name    string
	flavor  repl.Flavor
	events  []evSpec
	want    []wantTxn
	ddl     []string
	wantErr string
}

// builderCases are event sequences and the records they must give.
func builderCases() []builderCase {
	return []builderCase{
		{name: "mariadb dml and ddl", flavor: repl.MariaDB, events: []evSpec{
			mgtid(5, 0), tmap(70, "app"), rows(70), rows(70), xid(),
			generic(replication.HEARTBEAT_EVENT, replication.LOG_EVENT_ARTIFICIAL_F),
			mgtid(6, standalone), query("app", "ALTER TABLE t ADD c INT"),
			mgtid(7, 0), tmap(71, "app"), tmap(72, "app"), rows(71), rows(72), xid(),
		}, want: []wantTxn{{5, 5, []uint64{70}}, {6, 2, nil}, {7, 6, []uint64{71, 72}}},
			ddl: []string{"app: ALTER TABLE t ADD c INT"}},
		{name: "mariadb myisam ends with COMMIT query", flavor: repl.MariaDB, events: []evSpec{
			mgtid(8, 0), generic(replication.MARIADB_ANNOTATE_ROWS_EVENT, 0), tmap(9, "app"), rows(9), query("app", "COMMIT"),
		}, want: []wantTxn{{8, 5, []uint64{9}}}},
		{name: "mariadb xa prepare then commit", flavor: repl.MariaDB, events: []evSpec{
			mgtid(9, 0), tmap(9, "app"), rows(9), query("app", "XA END X'31',X'',1"), generic(replication.XA_PREPARE_LOG_EVENT, 0),
			mgtid(10, standalone), query("app", "XA COMMIT X'31',X'',1"),
		}, want: []wantTxn{{9, 5, []uint64{9}}, {10, 2, nil}}},
		{name: "schema filter leaves out other schemas' rows", flavor: repl.MariaDB, events: []evSpec{
			mgtid(11, 0), tmap(1, "other"), rows(1), tmap(2, "app"), rows(2), xid(),
			mgtid(12, 0), tmap(1, "other"), rows(1), xid(),
		}, want: []wantTxn{{11, 4, []uint64{2}}, {12, 2, nil}}},
		{name: "mysql begin..xid, ddl, xa", flavor: repl.MySQL, events: []evSpec{
			ygtid(3), query("app", "BEGIN"), tmap(5, "app"), rows(5), xid(),
			ygtid(4), query("app", "CREATE TABLE x (a INT)"),
			ygtid(5), query("app", "XA START X'31',X'',1"), tmap(5, "app"), rows(5), query("app", "XA END X'31',X'',1"),
			generic(replication.XA_PREPARE_LOG_EVENT, 0),
			ygtid(6), query("app", "XA COMMIT X'31',X'',1"),
			ygtid(7), query("app", "CREATE TABLE y (a INT) START TRANSACTION"), tmap(6, "app"), rows(6), xid(),
		}, want: []wantTxn{{3, 5, []uint64{5}}, {4, 2, nil}, {5, 6, []uint64{5}}, {6, 2, nil}, {7, 5, []uint64{6}}},
			ddl: []string{"app: CREATE TABLE x (a INT)", "app: CREATE TABLE y (a INT) START TRANSACTION"}},
		{name: "duplicate GTID is skipped", flavor: repl.MariaDB, events: []evSpec{
			mgtid(3, 0), tmap(1, "app"), rows(1), xid(), mgtid(13, 0), tmap(1, "app"), rows(1), xid(),
		}, want: []wantTxn{{13, 4, []uint64{1}}}},
		{name: "rows outside a transaction", flavor: repl.MariaDB, events: []evSpec{rows(1)},
			wantErr: "event outside of a GTID transaction"},
		{name: "transaction without end", flavor: repl.MariaDB, events: []evSpec{mgtid(20, 0), tmap(1, "app"), mgtid(21, 0)},
			wantErr: "has no end event"},
		{name: "rotate inside a transaction", flavor: repl.MariaDB, events: []evSpec{mgtid(20, 0), rotate("x")},
			wantErr: "rotate event inside a transaction"},
		{name: "flavor mismatch", flavor: repl.MySQL, events: []evSpec{mgtid(20, 0)},
			wantErr: "MariaDB GTID event from a server configured as mysql"},
		{name: "anonymous transaction", flavor: repl.MySQL, events: []evSpec{generic(replication.ANONYMOUS_GTID_EVENT, 0)},
			wantErr: "anonymous transaction"},
	}
}

func TestTxnBuilder(t *testing.T) {
	head := []evSpec{rotate("mysql-bin.000007"), fde(), generic(replication.MARIADB_GTID_LIST_EVENT, 0),
		generic(replication.MARIADB_BINLOG_CHECKPOINT_EVENT, 0)}
	for _, tc := range builderCases() {
		t.Run(tc.name, func(t *testing.T) {
			b, ddl := testBuilder(tc.flavor)
			got, err := feed(b, append(slices.Clone(head), tc.events...))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrUndecodable) {
					t.Fatalf("err = %v, want ErrUndecodable with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkBuilt(t, tc.flavor, got, tc.want)
			if !slices.Equal(*ddl, tc.ddl) {
				t.Errorf("DDL applied = %q, want %q", *ddl, tc.ddl)
			}
		})
	}
}

func testBuilder(f repl.Flavor) (*txnBuilder, *[]string) {
	var ddl []string
	pos, _ := repl.ParseGTIDSet(f, map[repl.Flavor]string{repl.MariaDB: "0-1-4", repl.MySQL: "00000000-0000-0000-0000-000000000000:1-2"}[f])
	b := &txnBuilder{flavor: f, cluster: "c", master: "m:1", pos: pos, log: slog.New(slog.DiscardHandler),
		captures: func(s string) bool { return s == "app" },
		resolve: func(_ context.Context, tme *replication.TableMapEvent, _ []byte) (repl.Table, error) {
			return repl.Table{Schema: string(tme.Schema), Name: fmt.Sprint(tme.TableID)}, nil
		},
		applyDDL: func(_ context.Context, schema, q string) error {
			ddl = append(ddl, schema+": "+q)
			return nil
		},
	}
	return b, &ddl
}

// feed gives the events to b, with consecutive positions and distinct raw
// bytes, and returns what it built.
func feed(b *txnBuilder, specs []evSpec) ([]*built, error) {
	var out []*built
	pos := uint32(4)
	for i, s := range specs {
		raw := []byte(fmt.Sprintf("event-%03d", i))
		pos += uint32(len(raw))
		ev := &replication.BinlogEvent{RawData: raw, Event: s.ev, Header: &replication.EventHeader{
			EventType: s.typ, ServerID: 1, EventSize: uint32(len(raw)), LogPos: pos, Flags: s.flags, Timestamp: uint32(1000 + i)}}
		bt, err := b.add(context.Background(), ev)
		if err != nil {
			return out, err
		}
		if bt != nil {
			out = append(out, bt)
		}
	}
	if b.pending() {
		return out, fmt.Errorf("a transaction is still pending")
	}
	return out, nil
}

func checkBuilt(t *testing.T, f repl.Flavor, got []*built, want []wantTxn) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("built %d transactions, want %d", len(got), len(want))
	}
	for i, bt := range got {
		r := bt.rec
		var tables []uint64
		for _, ts := range r.Tables {
			tables = append(tables, ts.TableID)
		}
		if r.GTID.Seq != want[i].seq || len(r.Events) != want[i].events || !slices.Equal(tables, want[i].tables) {
			t.Errorf("txn %d: %s with %d events, tables %v; want seq %d, %d events, tables %v",
				i, r.GTID, len(r.Events), tables, want[i].seq, want[i].events, want[i].tables)
		}
		if r.Start.File != "mysql-bin.000007" || r.End.Pos <= r.Start.Pos || string(r.FormatDesc) != "event-001" ||
			!r.After.Contains(r.GTID) || r.CommitTime.IsZero() || string(r.Events[0][:6]) != "event-" {
			t.Errorf("txn %d: bad metadata %+v", i, r)
		}
		if f == repl.MariaDB && (r.GTID.Server != 1 || r.After.Position() != fmt.Sprintf("0-1-%d", r.GTID.Seq)) {
			t.Errorf("txn %d: GTID %s, After %s", i, r.GTID, r.After.Position())
		}
	}
}

// TestHandlerCopiesMariaDBGTID: go-mysql overwrites the GTID struct of the
// first event of a new (domain, server) pair after delivering it; the
// event the pump reads must keep its own GTID.
func TestHandlerCopiesMariaDBGTID(t *testing.T) {
	events := make(chan *replication.BinlogEvent, 1)
	h := &eventHandler{events: events, done: make(chan struct{})}
	orig := &replication.MariadbGTIDEvent{GTID: mysql.MariadbGTID{DomainID: 0, ServerID: 2, SequenceNumber: 7}}
	set := &mysql.MariadbGTIDSet{Sets: map[uint32]map[uint32]*mysql.MariadbGTID{}}
	if err := set.AddSet(&orig.GTID); err != nil { // what go-mysql does before delivering
		t.Fatal(err)
	}
	if err := h.HandleEvent(&replication.BinlogEvent{Header: &replication.EventHeader{}, Event: orig}); err != nil {
		t.Fatal(err)
	}
	if err := set.AddSet(&mysql.MariadbGTID{DomainID: 0, ServerID: 2, SequenceNumber: 8}); err != nil {
		t.Fatal(err)
	}
	if orig.GTID.SequenceNumber != 8 {
		t.Fatalf("go-mysql no longer aliases the GTID (seq %d): this copy may be unneeded", orig.GTID.SequenceNumber)
	}
	got := (<-events).Event.(*replication.MariadbGTIDEvent)
	if got.GTID.SequenceNumber != 7 {
		t.Errorf("delivered GTID changed to seq %d, want 7", got.GTID.SequenceNumber)
	}
}
