package capturetest

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	_ "github.com/go-sql-driver/mysql"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// writer runs a workload's steps on one session in one schema, noting
// each step's GTID and the schema's state on the server after it.
type writer struct {
	t      *testing.T
	db     *sql.DB // UTC pool for snapshots
	conn   *sql.Conn
	schema string
	steps  []step
	gtids  []repl.GTID
	snaps  []map[string]tableState // snaps[i] before step i, snaps[i+1] after it
}

// newWriter opens the workload's session (USE schema, then setup); schema
// must exist.
func newWriter(t *testing.T, db *sql.DB, schema, setup string) *writer {
	t.Helper()
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	mustExec(t, conn, "USE `"+schema+"`")
	if setup != "" {
		mustExec(t, conn, setup)
	}
	w := &writer{t: t, db: db, conn: conn, schema: schema}
	w.snaps = append(w.snaps, snapshotSchema(t, db, schema))
	return w
}

// run commits one step (a DDL statement alone, else its statements
// between BEGIN and COMMIT) and notes its GTID and the state after it.
func (w *writer) run(st step) {
	w.t.Helper()
	if !st.ddl {
		mustExec(w.t, w.conn, "BEGIN")
	}
	for _, s := range st.stmts {
		mustExec(w.t, w.conn, s.q, s.args...)
	}
	if !st.ddl {
		mustExec(w.t, w.conn, "COMMIT")
	}
	w.steps = append(w.steps, st)
	w.gtids = append(w.gtids, lastGTID(w.t, w.conn))
	w.snaps = append(w.snaps, snapshotSchema(w.t, w.db, w.schema))
}

// check compares every step with what was captured: a row step's changes
// with the server's snapshots before and after it, a DDL step's statement
// with the text the server logged (queries, from binlogQueries).
func (w *writer) check(t *testing.T, name string, txns map[repl.GTID]repl.Txn, queries map[repl.GTID]string) {
	t.Helper()
	for i, st := range w.steps {
		g := w.gtids[i]
		txn, ok := txns[g]
		what := fmt.Sprintf("%s: step %d (%s) %.60q", name, i, g, st.stmts[0].q)
		switch {
		case !ok:
			t.Errorf("%s: not captured", what)
		case st.ddl:
			want := loggedQuery(st.stmts[0].q, queries[g])
			if len(txn.Changes) != 0 || len(txn.Statements) != 1 || txn.Statements[0].Query != want ||
				txn.Statements[0].Schema != w.schema {
				t.Errorf("%s: decoded to %d changes and statements %q, the binlog has %q in %s", what,
					len(txn.Changes), txn.Statements, want, w.schema)
			}
		default:
			if len(txn.Statements) != 0 || len(txn.Changes) == 0 {
				t.Errorf("%s: decoded to %d changes and statements %q", what, len(txn.Changes), txn.Statements)
			}
			checkChanges(t, what, txn, w.snaps[i], w.snaps[i+1])
		}
	}
}

// loggedQuery is the statement text the binlog holds for a DDL step run as
// q, given SHOW BINLOG EVENTS' rendering of it, which is exact but for
// characters outside utf8mb3 (shown as one '?' per byte): the server logs
// most statements as they were sent, but rewrites some (DROP TABLE).
func loggedQuery(q, shown string) string {
	var mb3 strings.Builder
	for _, r := range q {
		if r > 0xFFFF {
			mb3.WriteString(strings.Repeat("?", utf8.RuneLen(r)))
		} else {
			mb3.WriteRune(r)
		}
	}
	if mb3.String() == shown {
		return q
	}
	return shown
}

// captured is one streamer capturing into one store.
type captured struct {
	kind    string
	store   capture.Store
	inst    *sandbox.Instance
	id      uint32 // distinguishes the streamer's replica server_id
	r       *running
	initial repl.GTIDSet
}

// startCapture opens a fresh store of kind k and starts a streamer on it;
// it returns once capture has begun (at the master's current position).
func startCapture(t *testing.T, k storeKind, inst *sandbox.Instance, id uint32) *captured {
	t.Helper()
	c := &captured{kind: k.name, store: k.open(t), inst: inst, id: id}
	c.start(t)
	c.initial = waitCaptured(t, c.r, inst, 30*time.Second)
	return c
}

func (c *captured) start(t *testing.T) {
	t.Helper()
	c.r = startStreamer(t, streamerConfig(c.inst, c.id), c.store)
}

// finish waits until everything the master logged is captured, stops the
// streamer, reads the log back through Dedupe and checks it holds every
// master transaction since capture began exactly once, in order; it
// returns the decoded transactions.
func (c *captured) finish(t *testing.T, inst *sandbox.Instance, limit time.Duration) map[repl.GTID]repl.Txn {
	t.Helper()
	waitCaptured(t, c.r, inst, limit)
	c.r.stop(t)
	recs := readLog(t, c.store)
	if len(recs) == 0 || recs[0].Kind != capture.KindMasterState || !recs[0].Connected || !recs[0].After.Equal(c.initial) {
		t.Fatalf("%s: the log does not start with a connected master-state record at %s: %+v", c.kind, c.initial, recs[0])
	}
	txns := txnRecords(recs)
	checkExactlyOnce(t, c.kind, txns, masterGTIDs(t, inst.DB(t), c.initial), c.initial)
	return decodeAll(t, c.kind, txns)
}
